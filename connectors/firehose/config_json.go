package firehose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"sync"
)

// A configuration file is JSON, so its errors must speak JSON: the keys the
// user wrote (buffering.size_in_mbs), not the Go fields Validate names
// (Buffering.SizeInMBs), and a line and column for malformed text. The
// validation messages stay in Go terms for Go callers; ParseConfig
// translates them here.

// jsonDecodeError turns an error of encoding/json on data into one that
// names the JSON key, what was expected and where.
func jsonDecodeError(data []byte, dec *json.Decoder, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the bytes read, the offending one included.
		return cfgErr("%s: %s", position(data, syn.Offset-1), syn.Error())
	case errors.As(err, &typ):
		key := typ.Field
		if key == "" {
			key = "the configuration"
		}
		// Offset is just past the value: point at its last byte.
		return cfgErr("%s: %s: expected %s, found a JSON %s", position(data, typ.Offset-1), key, jsonKind(typ.Type), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		if len(bytes.TrimSpace(data)) == 0 {
			return cfgErr("the file is empty; expected a JSON object")
		}
		return cfgErr("%s: the JSON ends early (an object or string is not closed)", position(data, int64(len(data))))
	}
	// DisallowUnknownFields: `json: unknown field "x"`. The decoder has
	// read up to the offending key.
	if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return cfgErr("%s: unknown key %s", position(data, dec.InputOffset()), msg)
	}
	return fmt.Errorf("%w: %w", ErrConfig, err)
}

// position renders a byte offset of data as "line L, column C" (1-based,
// columns in bytes).
func position(data []byte, off int64) string {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return fmt.Sprintf("line %d, column %d", line, col)
}

// jsonKind names what a Go type expects in JSON.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

// goPath matches what may be a Go field path in a validation message:
// capitalised words joined by dots, each optionally indexed.
var goPath = regexp.MustCompile(`\b[A-Z][A-Za-z0-9]*(?:\[[^\]]*\])?(?:\.[A-Z][A-Za-z0-9]*(?:\[[^\]]*\])?)*`)

var jsonPaths = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	var walk func(t reflect.Type, goPrefix, jsonPrefix string, depth int)
	walk = func(t reflect.Type, goPrefix, jsonPrefix string, depth int) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || depth > 6 {
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			g, j := goPrefix+f.Name, jsonPrefix+name
			m[g] = j
			walk(f.Type, g+".", j+".", depth+1)
		}
	}
	walk(reflect.TypeFor[Config](), "", "", 0)
	return m
})

// jsonTerms rewrites the Go field paths in a validation error's message as
// the JSON keys of a configuration file. Words that are not paths of Config
// (UNCOMPRESSED, Parquet on its own) are left alone.
func jsonTerms(err error) error {
	if err == nil || !errors.Is(err, ErrConfig) {
		return err
	}
	paths := jsonPaths()
	msg := strings.TrimPrefix(err.Error(), ErrConfig.Error()+": ")
	msg = goPath.ReplaceAllStringFunc(msg, func(p string) string {
		var out []string
		goSoFar := ""
		for _, seg := range strings.Split(p, ".") {
			name, index, _ := strings.Cut(seg, "[")
			if goSoFar != "" {
				goSoFar += "."
			}
			goSoFar += name
			j, ok := paths[goSoFar]
			if !ok {
				return p
			}
			j = j[strings.LastIndexByte(j, '.')+1:]
			if index != "" {
				j += "[" + index
			}
			out = append(out, j)
		}
		return strings.Join(out, ".")
	})
	return cfgErr("%s", msg)
}
