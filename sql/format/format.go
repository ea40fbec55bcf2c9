// Package format holds the byte-record codecs of SQL tables: Flink's
// 'json', 'csv' and 'raw' formats with their option names. A Codec turns
// one record (a log record, a line of a file) into a row and back.
//
// A table selects a format with 'format' = 'json' (or, for the value part
// of a keyed record, 'value.format'); the format's own options follow the
// format name: 'json.ignore-parse-errors', or 'value.json.ignore-parse-errors'
// under 'value.format'. New takes the table's whole option map and the key
// prefix ("" or "value.") and reads only the keys under
// prefix+name+"."; an option of another format under the same prefix is
// refused by name, as Flink refuses it.
//
// Bad records: Decode returns a *DecodeError that names the field and the
// reason. With '<format>.ignore-parse-errors' = 'true' it follows Flink:
// a field that does not convert becomes NULL, and a record that cannot be
// read at all is skipped — Decode returns a nil row and a nil error — so
// the caller must not count it or send it to an error output.
//
// Encode appends one record without a terminator; the caller adds line
// or record framing. Codecs are immutable and safe for concurrent use.
//
// A connector factory checks a table's format at CREATE TABLE with
// catalog's Validator.CheckFormat, which puts the caret on the option an
// OptionError names.
package format

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/sql/diag"
	"github.com/sluicehq/sluice/sql/row"
)

// Codec converts records of one format to rows of one layout and back.
type Codec interface {
	// Decode reads one record as a row of kind Insert. A nil row with a
	// nil error is a record skipped under ignore-parse-errors (or a
	// comment line under csv.allow-comments).
	Decode(data []byte) (*row.Row, error)
	// Encode appends r (a row of the codec's layout) to dst.
	Encode(dst []byte, r *row.Row) ([]byte, error)
}

// DecodeError is a record that does not decode.
type DecodeError struct {
	Format string
	// Field names the field ("" when the record as a whole is bad); a
	// nested field is a.b[2].c.
	Field  string
	Reason string
}

func (e *DecodeError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.Format, e.Reason)
	}
	return fmt.Sprintf("%s: field '%s': %s", e.Format, e.Field, e.Reason)
}

// OptionError is a bad format option: Key is the full option key as the
// table writes it (so the catalog can point its caret at the option), Msg
// the message and Hint a suggestion ("did you mean ...?") or "".
type OptionError struct {
	Key  string
	Msg  string
	Hint string
}

func (e *OptionError) Error() string {
	if e.Hint != "" {
		return e.Msg + " (" + e.Hint + ")"
	}
	return e.Msg
}

// spec is one format: its option names (without the name prefix) and its
// constructor.
type spec struct {
	options []string
	build   func(o *opts, l *row.Layout) (Codec, error)
}

var formats = map[string]spec{
	"json": {options: jsonOptions, build: newJSON},
	"csv":  {options: csvOptions, build: newCSV},
	"raw":  {options: rawOptions, build: newRaw},
}

// Names are the supported format names, sorted.
func Names() []string {
	ns := make([]string, 0, len(formats))
	for n := range formats {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns
}

// Keys are the option keys of every format under prefix ("" or
// "value."): json.ignore-parse-errors, csv.field-delimiter, ... sorted. A
// connector adds them to its own option names; New then refuses those of
// a format the table did not choose.
func Keys(prefix string) []string {
	var ks []string
	for n, s := range formats {
		for _, o := range s.options {
			ks = append(ks, prefix+n+"."+o)
		}
	}
	slices.Sort(ks)
	return ks
}

// New is the codec of format name for rows of layout l (which must have
// field names: the physical columns the format reads and writes). options
// is the table's option map; only keys under prefix are looked at. Errors
// about options are *OptionError.
func New(name string, options map[string]string, prefix string, l *row.Layout) (Codec, error) {
	s, ok := formats[name]
	if !ok {
		e := &OptionError{Key: prefix + "format",
			Msg: fmt.Sprintf("Could not find any format factory for identifier '%s'; supported: %s", name, strings.Join(Names(), ", "))}
		if best, ok := diag.Closest(name, Names()); ok {
			e.Hint = fmt.Sprintf("did you mean '%s'?", best)
		}
		return nil, e
	}
	for i := 0; i < l.Len(); i++ {
		if l.Name(i) == "" {
			return nil, fmt.Errorf("format %s: field %d has no name", name, i)
		}
	}
	o := &opts{name: name, prefix: prefix, m: options}
	if err := o.checkKeys(s.options); err != nil {
		return nil, err
	}
	return s.build(o, l)
}

// opts reads one format's options.
type opts struct {
	name, prefix string
	m            map[string]string
}

func (o *opts) key(k string) string { return o.prefix + o.name + "." + k }

// checkKeys refuses any key under prefix that names a format option that
// is not one of known (for this format) or belongs to another format.
func (o *opts) checkKeys(known []string) error {
	keys := make([]string, 0, len(o.m))
	for k := range o.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	full := make([]string, len(known))
	for i, k := range known {
		full[i] = o.key(k)
	}
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, o.prefix)
		if !ok {
			continue
		}
		f, _, ok := strings.Cut(rest, ".")
		if !ok {
			continue
		}
		if _, isFormat := formats[f]; !isFormat || slices.Contains(full, k) {
			continue
		}
		e := &OptionError{Key: k, Msg: fmt.Sprintf("Unsupported option '%s' for format '%s'", k, o.name)}
		if f == o.name {
			if best, ok := diag.Closest(k, full); ok {
				e.Hint = fmt.Sprintf("did you mean '%s'?", best)
			}
		} else {
			e.Hint = fmt.Sprintf("'%s' options apply to 'format' = '%s'", f, f)
		}
		return e
	}
	return nil
}

func (o *opts) str(k string) (string, bool) {
	v, ok := o.m[o.key(k)]
	return v, ok
}

// bool reads a boolean option as Flink's configuration does (true or
// false in any case).
func (o *opts) bool(k string, def bool) (bool, error) {
	v, ok := o.str(k)
	if !ok {
		return def, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, &OptionError{Key: o.key(k), Msg: fmt.Sprintf("Could not parse value '%s' for key '%s'.", v, o.key(k))}
}

// oneOf reads an option taking one of the allowed values (compared
// case-insensitively; the allowed spelling is returned).
func (o *opts) oneOf(k, def string, allowed ...string) (string, error) {
	v, ok := o.str(k)
	if !ok {
		return def, nil
	}
	for _, a := range allowed {
		if strings.EqualFold(strings.TrimSpace(v), a) {
			return a, nil
		}
	}
	e := &OptionError{Key: o.key(k), Msg: fmt.Sprintf("option '%s': unsupported value '%s'; supported: %s", o.key(k), v, strings.Join(allowed, ", "))}
	if best, ok := diag.Closest(v, allowed); ok {
		e.Hint = fmt.Sprintf("did you mean '%s'?", best)
	}
	return "", e
}

// char reads an option that must be one character, after Java
// unescaping when unescape is set (Flink unescapes '\t' and '\u0009' in
// csv.field-delimiter, and only there).
func (o *opts) char(k string, def rune, unescape bool) (rune, bool, error) {
	v, ok := o.str(k)
	if !ok {
		return def, false, nil
	}
	u := v
	if unescape {
		var err error
		if u, err = unescapeJava(v); err != nil {
			return 0, false, &OptionError{Key: o.key(k), Msg: fmt.Sprintf("option '%s': %v", o.key(k), err)}
		}
	}
	rs := []rune(u)
	if len(rs) != 1 {
		return 0, false, &OptionError{Key: o.key(k), Msg: fmt.Sprintf("Option '%s' must be a string with single character, but was: %s", o.key(k), v)}
	}
	return rs[0], true, nil
}

// unescapeJava undoes Java string escapes: \t \n \r \b \f \\ \' \" \uXXXX.
func unescapeJava(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("'%s' ends in a lone backslash", s)
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case '\\', '\'', '"':
			b.WriteByte(s[i])
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf("'%s' has a short \\u escape", s)
			}
			var r rune
			for _, h := range s[i+1 : i+5] {
				var d rune
				switch {
				case h >= '0' && h <= '9':
					d = h - '0'
				case h >= 'a' && h <= 'f':
					d = h - 'a' + 10
				case h >= 'A' && h <= 'F':
					d = h - 'A' + 10
				default:
					return "", fmt.Errorf("'%s' has a bad \\u escape", s)
				}
				r = r<<4 | d
			}
			b.WriteRune(r)
			i += 4
		default:
			return "", fmt.Errorf("'%s' has an unknown escape \\%c", s, s[i])
		}
	}
	return b.String(), nil
}
