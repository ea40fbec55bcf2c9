package format

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/sql/row"
	"github.com/sluicehq/sluice/sql/types"
)

func layout(t *testing.T, cols ...any) *row.Layout {
	t.Helper()
	var ts []types.Type
	var ns []string
	for i := 0; i < len(cols); i += 2 {
		ns = append(ns, cols[i].(string))
		ts = append(ts, cols[i+1].(types.Type))
	}
	return row.NewLayout(ts, ns)
}

func ts3() types.Type  { return types.Type{Kind: types.Timestamp, Precision: 3} }
func ltz3() types.Type { return types.Type{Kind: types.TimestampLTZ, Precision: 3} }
func dec(p, s int) types.Type {
	return types.Type{Kind: types.Decimal, Precision: p, Scale: s}
}

func mustNew(t *testing.T, name string, opts map[string]string, l *row.Layout) Codec {
	t.Helper()
	c, err := New(name, opts, "", l)
	if err != nil {
		t.Fatalf("New(%s, %v): %v", name, opts, err)
	}
	return c
}

type decodeCase struct {
	name string
	in   string
	want string // row print form; "" with err == "" means skipped (nil row)
	err  string // substring of the error
}

func runDecode(t *testing.T, c Codec, cases []decodeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := c.Decode([]byte(tc.in))
			if tc.err != "" {
				if err == nil {
					t.Fatalf("Decode(%q) = %v, want error %q", tc.in, r, tc.err)
				}
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("error %v is %T, not *DecodeError", err, err)
				}
				if !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Decode(%q) error %q, want it to contain %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%q): %v", tc.in, err)
			}
			got := ""
			if r != nil {
				got = r.String()
			}
			if got != tc.want {
				t.Fatalf("Decode(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestJSONDecode(t *testing.T) {
	l := layout(t, "id", types.IntType(), "name", types.StringType(), "ts", ts3(), "amt", dec(5, 2),
		"tags", types.ArrayType(types.StringType()))
	c := mustNew(t, "json", nil, l)
	runDecode(t, c, []decodeCase{
		{name: "full", in: `{"id":1,"name":"a","ts":"2024-01-02 03:04:05.678","amt":"12.5","tags":["x","y"]}`,
			want: "+I[1, a, 2024-01-02T03:04:05.678, 12.50, [x, y]]"},
		{name: "missing is null", in: `{"id":2}`, want: "+I[2, null, null, null, null]"},
		{name: "unknown ignored", in: `{"id":3,"zzz":true}`, want: "+I[3, null, null, null, null]"},
		{name: "number as string", in: `{"id":"4"}`, want: "+I[4, null, null, null, null]"},
		{name: "syntax", in: `{"id":1`, err: "json: malformed JSON"},
		{name: "not object", in: `[1,2]`, err: "expected a JSON object, got an array"},
		{name: "empty", in: ``, err: "json: empty record"},
		{name: "trailing", in: `{"id":1} {}`, err: "data after the top-level value"},
		{name: "bad int", in: `{"id":"x"}`, err: `field 'id': cannot parse "x" as INT`},
		{name: "int overflow", in: `{"id":3000000000}`, err: `field 'id'`},
		{name: "object for int", in: `{"id":{}}`, err: "field 'id': expected a number, got an object"},
		{name: "iso under SQL", in: `{"ts":"2024-01-02T03:04:05"}`, err: "json.timestamp-format.standard 'SQL'"},
		{name: "date only timestamp", in: `{"ts":"2024-01-02"}`, err: "field 'ts'"},
		{name: "decimal too wide", in: `{"amt":12345.6}`, err: "field 'amt'"},
		{name: "nested path", in: `{"tags":["a",{"b":1},3]}`, want: `+I[null, null, null, null, [a, {"b":1}, 3]]`},
	})
}

func TestJSONOptions(t *testing.T) {
	l := layout(t, "id", types.IntType(), "ts", ltz3())
	t.Run("ignore-parse-errors", func(t *testing.T) {
		c := mustNew(t, "json", map[string]string{"json.ignore-parse-errors": "true"}, l)
		runDecode(t, c, []decodeCase{
			{name: "bad field is null", in: `{"id":"x","ts":"2024-01-01 00:00:00Z"}`, want: "+I[null, 2024-01-01T00:00:00Z]"},
			{name: "bad record skipped", in: `{"id":`, want: ""},
			{name: "good", in: `{"id":7}`, want: "+I[7, null]"},
		})
	})
	t.Run("fail-on-missing-field", func(t *testing.T) {
		c := mustNew(t, "json", map[string]string{"json.fail-on-missing-field": "TRUE"}, l)
		runDecode(t, c, []decodeCase{
			{name: "missing", in: `{"id":1}`, err: "field 'ts': Could not find field with name 'ts'."},
			{name: "explicit null is present", in: `{"id":1,"ts":null}`, want: "+I[1, null]"},
		})
	})
	t.Run("iso", func(t *testing.T) {
		c := mustNew(t, "json", map[string]string{"json.timestamp-format.standard": "ISO-8601"}, l)
		runDecode(t, c, []decodeCase{
			{name: "iso ltz", in: `{"ts":"2024-01-01T10:00:00.5Z"}`, want: "+I[null, 2024-01-01T10:00:00.500Z]"},
			{name: "sql form refused", in: `{"ts":"2024-01-01 10:00:00Z"}`, err: "'ISO-8601'"},
			{name: "ltz needs Z", in: `{"ts":"2024-01-01T10:00:00"}`, err: "ending in 'Z'"},
		})
	})
}

func TestJSONEncode(t *testing.T) {
	l := layout(t, "id", types.IntType(), "s", types.StringType(), "ts", ts3(), "b", types.BytesType())
	r, err := l.Of(row.Insert, int64(1), `q"uote`, row.Timestamp{Millis: 1704067200500}, "\x01\x02")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opts map[string]string
		want string
	}{
		{nil, `{"id":1,"s":"q\"uote","ts":"2024-01-01 00:00:00.5","b":"AQI="}`},
		{map[string]string{"json.timestamp-format.standard": "ISO-8601"}, `{"id":1,"s":"q\"uote","ts":"2024-01-01T00:00:00.5","b":"AQI="}`},
	} {
		c := mustNew(t, "json", tc.opts, l)
		got, err := c.Encode(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("Encode(%v) = %s, want %s", tc.opts, got, tc.want)
		}
		back, err := c.Decode(got)
		if err != nil {
			t.Fatalf("Decode(Encode) %s: %v", got, err)
		}
		if back.String() != r.String() {
			t.Errorf("round trip %s: got %s, want %s", got, back, r)
		}
	}
	nulls := l.New()
	nulls.SetInt(0, 9)
	c := mustNew(t, "json", map[string]string{"json.encode.ignore-null-fields": "true"}, l)
	got, err := c.Encode([]byte("x"), nulls)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `x{"id":9}` {
		t.Errorf("ignore-null-fields: %s", got)
	}
	c = mustNew(t, "json", nil, l)
	if got, _ = c.Encode(nil, nulls); string(got) != `{"id":9,"s":null,"ts":null,"b":null}` {
		t.Errorf("nulls: %s", got)
	}
}

func TestOptionErrors(t *testing.T) {
	one := layout(t, "s", types.StringType())
	two := layout(t, "a", types.IntType(), "b", types.StringType())
	for _, tc := range []struct {
		format string
		prefix string
		opts   map[string]string
		l      *row.Layout
		key    string // OptionError.Key; "" for a non-option error
		msg    string
		hint   string
	}{
		{format: "jsn", key: "format", msg: "Could not find any format factory for identifier 'jsn'", hint: "did you mean 'json'?"},
		{format: "avro", prefix: "value.", key: "value.format", msg: "identifier 'avro'; supported: csv, json, raw"},
		{format: "json", opts: map[string]string{"json.ignore-parse-error": "true"}, key: "json.ignore-parse-error",
			msg: "Unsupported option 'json.ignore-parse-error' for format 'json'", hint: "did you mean 'json.ignore-parse-errors'?"},
		{format: "json", opts: map[string]string{"csv.field-delimiter": ";"}, key: "csv.field-delimiter",
			msg: "Unsupported option 'csv.field-delimiter' for format 'json'", hint: "'csv' options apply to 'format' = 'csv'"},
		{format: "json", prefix: "value.", opts: map[string]string{"value.json.nope": "1", "json.nope": "ignored: other prefix"},
			key: "value.json.nope", msg: "Unsupported option 'value.json.nope'"},
		{format: "json", opts: map[string]string{"json.ignore-parse-errors": "yes"}, key: "json.ignore-parse-errors",
			msg: "Could not parse value 'yes' for key 'json.ignore-parse-errors'."},
		{format: "json", opts: map[string]string{"json.ignore-parse-errors": "true", "json.fail-on-missing-field": "true"},
			key: "json.ignore-parse-errors", msg: "json.fail-on-missing-field and json.ignore-parse-errors shouldn't both be true."},
		{format: "json", opts: map[string]string{"json.timestamp-format.standard": "ISO8601"}, key: "json.timestamp-format.standard",
			msg: "unsupported value 'ISO8601'; supported: SQL, ISO-8601", hint: "did you mean 'ISO-8601'?"},
		{format: "csv", opts: map[string]string{"csv.field-delimiter": ";;"}, key: "csv.field-delimiter",
			msg: "Option 'csv.field-delimiter' must be a string with single character, but was: ;;"},
		{format: "csv", opts: map[string]string{"csv.field-delimiter": `\x`}, key: "csv.field-delimiter", msg: `unknown escape \x`},
		{format: "csv", opts: map[string]string{"csv.quote-character": "'", "csv.disable-quote-character": "true"},
			key: "csv.quote-character", msg: "Format cannot define a quote character and disabled quote character at the same time."},
		{format: "csv", opts: map[string]string{"csv.field-delimiter": `"`}, key: "csv.field-delimiter", msg: "must differ"},
		{format: "csv", opts: map[string]string{"csv.array-element-delimiter": ""}, key: "csv.array-element-delimiter", msg: "must not be empty"},
		{format: "csv", l: layout(t, "m", types.MapType(types.StringType(), types.IntType())), msg: "csv: column 'm' of type MAP<STRING, INT>"},
		{format: "raw", l: two, msg: "The 'raw' format only supports single physical column. However the table has 2 physical columns"},
		{format: "raw", l: layout(t, "d", types.DateType()), msg: "The 'raw' format doesn't supports 'DATE' as column type."},
		{format: "raw", opts: map[string]string{"raw.charset": "EBCDIC"}, key: "raw.charset", msg: "unsupported value 'EBCDIC'"},
		{format: "raw", opts: map[string]string{"raw.endianness": "litle-endian"}, key: "raw.endianness", msg: "unsupported value 'litle-endian'", hint: "did you mean 'little-endian'?"},
	} {
		l := tc.l
		if l == nil {
			l = one
		}
		_, err := New(tc.format, tc.opts, tc.prefix, l)
		if err == nil {
			t.Errorf("New(%s, %v): no error, want %q", tc.format, tc.opts, tc.msg)
			continue
		}
		var oe *OptionError
		isOpt := errors.As(err, &oe)
		switch {
		case tc.key == "" && isOpt:
			t.Errorf("New(%s, %v): %v is an OptionError (key %s)", tc.format, tc.opts, err, oe.Key)
		case tc.key != "" && !isOpt:
			t.Errorf("New(%s, %v): %v (%T) is not an OptionError", tc.format, tc.opts, err, err)
		case tc.key != "" && oe.Key != tc.key:
			t.Errorf("New(%s, %v): key %q, want %q", tc.format, tc.opts, oe.Key, tc.key)
		case tc.key != "" && oe.Hint != tc.hint:
			t.Errorf("New(%s, %v): hint %q, want %q", tc.format, tc.opts, oe.Hint, tc.hint)
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("New(%s, %v): %q, want it to contain %q", tc.format, tc.opts, err, tc.msg)
		}
	}
}

func TestKeys(t *testing.T) {
	ks := Keys("value.")
	for _, want := range []string{"value.json.ignore-parse-errors", "value.csv.null-literal", "value.raw.endianness"} {
		found := false
		for _, k := range ks {
			found = found || k == want
		}
		if !found {
			t.Errorf("Keys(value.) lacks %s: %v", want, ks)
		}
	}
	// Every key New accepts, and only those.
	l := layout(t, "s", types.StringType())
	for _, k := range Keys("") {
		name, _, _ := strings.Cut(k, ".")
		_, err := New(name, map[string]string{k: "bogus-value"}, "", l)
		var oe *OptionError
		if errors.As(err, &oe) && strings.Contains(oe.Msg, "Unsupported option") {
			t.Errorf("Keys lists %s but New refuses it: %v", k, err)
		}
	}
}

func TestCSVDecode(t *testing.T) {
	l := layout(t, "id", types.BigIntType(), "name", types.StringType(), "ok", types.BooleanType(),
		"d", types.DateType(), "xs", types.ArrayType(types.IntType()))
	c := mustNew(t, "csv", nil, l)
	runDecode(t, c, []decodeCase{
		{name: "plain", in: "1,abc,true,2024-02-29,1;2;3", want: "+I[1, abc, true, 2024-02-29, [1, 2, 3]]"},
		{name: "newline stripped", in: "1,abc,false,2024-01-01,4\r\n", want: "+I[1, abc, false, 2024-01-01, [4]]"},
		{name: "quoted delimiter", in: `2,"a,b ""c""",true,2024-01-01,`, want: `+I[2, a,b "c", true, 2024-01-01, null]`},
		{name: "empty fields", in: ",,,,", want: "+I[null, , null, null, null]"},
		{name: "quoted empty array", in: `1,x,true,2024-01-01,""`, want: "+I[1, x, true, 2024-01-01, []]"},
		{name: "too few", in: "1,abc", err: "csv: expected 5 fields, got 2"},
		{name: "too many", in: "1,a,true,2024-01-01,1,extra", err: "expected 5 fields, got 6"},
		{name: "bad number", in: "x,abc,true,2024-01-01,1", err: `field 'id': cannot parse "x" as BIGINT`},
		{name: "bad date", in: "1,abc,true,2024-02-30,1", err: "field 'd'"},
		{name: "bad element", in: "1,abc,true,2024-01-01,1;z", err: "field 'xs[1]'"},
		{name: "unterminated", in: `1,"abc,true,2024-01-01,1`, err: "unterminated quoted field (field 2)"},
		{name: "junk after quote", in: `1,"a"b,true,2024-01-01,1`, err: "unexpected character 'b' after the closing quote of field 2"},
		{name: "comment not allowed", in: "# hi", err: "expected 5 fields, got 1"},
	})
}

func TestCSVOptions(t *testing.T) {
	l := layout(t, "a", types.IntType(), "b", types.StringType())
	t.Run("delimiter quote escape null", func(t *testing.T) {
		c := mustNew(t, "csv", map[string]string{"csv.field-delimiter": `\t`, "csv.quote-character": "'",
			"csv.escape-character": `\`, "csv.null-literal": "NULL"}, l)
		runDecode(t, c, []decodeCase{
			{name: "tab", in: "1\tx y", want: "+I[1, x y]"},
			{name: "quote", in: "1\t'a\tb'", want: "+I[1, a\tb]"},
			{name: "escape", in: `1` + "\t" + `a\'b\\c`, want: `+I[1, a'b\c]`},
			{name: "escape in quotes", in: "1\t'it\\'s'", want: "+I[1, it's]"},
			{name: "null literal", in: "NULL\tNULL", want: "+I[null, null]"},
			{name: "lone escape", in: "1\tab\\", err: "escape character at the end of the line"},
		})
	})
	t.Run("comments and ignore", func(t *testing.T) {
		c := mustNew(t, "csv", map[string]string{"csv.allow-comments": "true", "csv.ignore-parse-errors": "true"}, l)
		runDecode(t, c, []decodeCase{
			{name: "comment", in: "# a comment", want: ""},
			{name: "bad field null", in: "x,y", want: "+I[null, y]"},
			{name: "bad record skipped", in: "1,2,3", want: ""},
		})
	})
	t.Run("no quoting", func(t *testing.T) {
		c := mustNew(t, "csv", map[string]string{"csv.disable-quote-character": "true"}, l)
		runDecode(t, c, []decodeCase{{name: "quote is text", in: `1,"x"`, want: `+I[1, "x"]`}})
		r, _ := l.Of(row.Insert, int64(1), "a,b")
		if _, err := c.Encode(nil, r); err == nil || !strings.Contains(err.Error(), "field 'b'") {
			t.Errorf("Encode of a delimiter without quoting: %v", err)
		}
	})
}

func TestCSVRoundTrip(t *testing.T) {
	l := layout(t, "i", types.IntType(), "s", types.StringType(), "f", types.DoubleType(), "t", ltz3(),
		"by", types.BytesType(), "xs", types.ArrayType(types.StringType()), "dd", dec(20, 3))
	vals := [][]any{
		{int64(-5), `he said "hi", then left`, 1.5, row.Timestamp{Millis: 1704067200123}, "\xff\x00", []any{"a", "b"}, row.MustDecimal("12345678901234567.125")},
		{nil, "", nil, nil, nil, []any{}, nil},
		{int64(0), "#not a comment\nline two", 1e300, row.Timestamp{Millis: 0}, "", []any{"x"}, row.MustDecimal("-0.001")},
	}
	for _, opts := range []map[string]string{
		nil,
		{"csv.null-literal": "\\N", "csv.allow-comments": "true"},
		{"csv.field-delimiter": "|", "csv.escape-character": "\\", "csv.quote-character": "'"},
	} {
		c := mustNew(t, "csv", opts, l)
		for _, vs := range vals {
			r, err := l.Of(row.Insert, vs...)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := c.Encode(nil, r)
			if err != nil {
				t.Fatalf("%v: Encode %v: %v", opts, r, err)
			}
			back, err := c.Decode(enc)
			if err != nil {
				t.Fatalf("%v: Decode %q: %v", opts, enc, err)
			}
			want := r.String()
			if _, ok := opts["csv.null-literal"]; !ok && vs[1] == nil {
				want = strings.Replace(want, "null", "", 1) // a NULL string reads back as ''
			}
			if back == nil || back.String() != want {
				t.Errorf("%v: %q decodes to %v, want %s", opts, enc, back, want)
			}
		}
	}
	// The array element holding the element delimiter does not survive:
	// Flink's csv has no escape for it either. Checked so it stays known.
	c := mustNew(t, "csv", nil, l)
	r, _ := l.Of(row.Insert, nil, nil, nil, nil, nil, []any{"x;y", nil}, nil)
	enc, _ := c.Encode(nil, r)
	if string(enc) != ",,,,,x;y;," {
		t.Errorf("array encoding %q", enc)
	}
}

func TestCSVEncode(t *testing.T) {
	l := layout(t, "a", types.IntType(), "b", types.StringType(), "c", types.DateType())
	c := mustNew(t, "csv", nil, l)
	for _, tc := range []struct {
		vs   []any
		want string
	}{
		{[]any{int64(1), "x", int64(19723)}, "1,x,2024-01-01"},
		{[]any{nil, nil, nil}, ",,"},
		{[]any{int64(2), "", nil}, `2,"",`},
		{[]any{int64(3), `a"b`, nil}, `3,"a""b",`},
		{[]any{int64(4), "a,b", nil}, `4,"a,b",`},
	} {
		r, err := l.Of(row.Insert, tc.vs...)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Encode(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("Encode(%v) = %s, want %s", tc.vs, got, tc.want)
		}
	}
}

func TestRaw(t *testing.T) {
	for _, tc := range []struct {
		typ  types.Type
		opts map[string]string
		val  any
		enc  string
	}{
		{types.StringType(), nil, "héllo", "h\xc3\xa9llo"},
		{types.StringType(), map[string]string{"raw.charset": "iso-8859-1"}, "héllo", "h\xe9llo"},
		{types.StringType(), map[string]string{"raw.charset": "UTF-16BE"}, "hé", "\x00h\x00\xe9"},
		{types.StringType(), map[string]string{"raw.charset": "UTF-16LE"}, "h😀", "h\x00\x3d\xd8\x00\xde"},
		{types.BytesType(), nil, "\x00\xff", "\x00\xff"},
		{types.BooleanType(), nil, true, "\x01"},
		{types.TinyIntType(), nil, int64(-1), "\xff"},
		{types.SmallIntType(), nil, int64(258), "\x01\x02"},
		{types.IntType(), nil, int64(1), "\x00\x00\x00\x01"},
		{types.IntType(), map[string]string{"raw.endianness": "little-endian"}, int64(1), "\x01\x00\x00\x00"},
		{types.BigIntType(), nil, int64(-2), "\xff\xff\xff\xff\xff\xff\xff\xfe"},
		{types.DoubleType(), nil, 1.0, "\x3f\xf0\x00\x00\x00\x00\x00\x00"},
		{types.FloatType(), map[string]string{"raw.endianness": "little-endian"}, 1.0, "\x00\x00\x80\x3f"},
	} {
		l := layout(t, "v", tc.typ)
		c := mustNew(t, "raw", tc.opts, l)
		r, err := l.Of(row.Insert, tc.val)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Encode(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.enc {
			t.Errorf("%s %v: Encode = %q, want %q", tc.typ, tc.opts, got, tc.enc)
		}
		back, err := c.Decode(got)
		if err != nil {
			t.Fatalf("%s: Decode(%q): %v", tc.typ, got, err)
		}
		if back.String() != r.String() {
			t.Errorf("%s: round trip %s, want %s", tc.typ, back, r)
		}
	}
	l := layout(t, "v", types.IntType())
	c := mustNew(t, "raw", nil, l)
	runDecode(t, c, []decodeCase{
		{name: "short", in: "\x00\x01", err: "raw: field 'v': a INT needs 4 bytes, the record has 2"},
	})
	if r, err := c.Decode(nil); err != nil || !r.IsNull(0) {
		t.Errorf("Decode(nil) = %v, %v; want NULL", r, err)
	}
	if b, err := c.Encode(nil, l.New()); err != nil || len(b) != 0 {
		t.Errorf("Encode(NULL) = %q, %v", b, err)
	}
	s := mustNew(t, "raw", map[string]string{"raw.charset": "US-ASCII"}, layout(t, "s", types.StringType()))
	runDecode(t, s, []decodeCase{{name: "non-ascii", in: "a\xe9", want: "+I[a\uFFFD]"}})
	u := mustNew(t, "raw", nil, layout(t, "s", types.StringType()))
	runDecode(t, u, []decodeCase{{name: "bad utf8", in: "a\xff", want: "+I[a\uFFFD]"}})
}

func TestUnescapeJava(t *testing.T) {
	for in, want := range map[string]string{`a`: "a", `\t`: "\t", `\u0009`: "\t", `\\`: `\`, `\'`: "'"} {
		if got, err := unescapeJava(in); err != nil || got != want {
			t.Errorf("unescapeJava(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{`\`, `\u12`, `\uzzzz`, `\q`} {
		if _, err := unescapeJava(in); err == nil {
			t.Errorf("unescapeJava(%q): no error", in)
		}
	}
}

// FuzzDecode checks that no input makes a codec panic, and that a decoded
// row encodes again.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":"x"}`, `1,"x"`, `"`, `{"a":[`, "\x00\x00\x00\x01", `1,"a""b`, `\`} {
		f.Add(s)
	}
	l := row.NewLayout([]types.Type{types.IntType(), types.StringType()}, []string{"a", "b"})
	one := row.NewLayout([]types.Type{types.IntType()}, []string{"a"})
	var cs []Codec
	for _, mk := range []struct {
		name string
		opts map[string]string
		l    *row.Layout
	}{
		{"json", nil, l}, {"csv", nil, l}, {"csv", map[string]string{"csv.escape-character": `\`}, l}, {"raw", nil, one},
	} {
		c, err := New(mk.name, mk.opts, "", mk.l)
		if err != nil {
			f.Fatal(err)
		}
		cs = append(cs, c)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range cs {
			r, err := c.Decode([]byte(s))
			if err != nil || r == nil {
				continue
			}
			if _, err := c.Encode(nil, r); err != nil {
				t.Errorf("%T: Encode of decoded %q: %v", c, s, err)
			}
		}
	})
}

func benchLayout() *row.Layout {
	return row.NewLayout([]types.Type{types.BigIntType(), types.StringType(), types.DoubleType(),
		{Kind: types.Timestamp, Precision: 3}}, []string{"id", "name", "amount", "ts"})
}

func benchCodec(b *testing.B, name string) (Codec, []byte, *row.Row) {
	l := benchLayout()
	c, err := New(name, nil, "", l)
	if err != nil {
		b.Fatal(err)
	}
	r, err := l.Of(row.Insert, int64(123456), "some user name", 42.5, row.Timestamp{Millis: 1704164645678})
	if err != nil {
		b.Fatal(err)
	}
	rec, err := c.Encode(nil, r)
	if err != nil {
		b.Fatal(err)
	}
	return c, rec, r
}

func benchDecode(b *testing.B, name string) {
	c, rec, _ := benchCodec(b, name)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Decode(rec); err != nil {
			b.Fatal(err)
		}
	}
}

func benchEncode(b *testing.B, name string) {
	c, rec, r := benchCodec(b, name)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	buf := make([]byte, 0, 256)
	for b.Loop() {
		var err error
		if buf, err = c.Encode(buf[:0], r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONDecode(b *testing.B) { benchDecode(b, "json") }
func BenchmarkJSONEncode(b *testing.B) { benchEncode(b, "json") }
func BenchmarkCSVDecode(b *testing.B)  { benchDecode(b, "csv") }
func BenchmarkCSVEncode(b *testing.B)  { benchEncode(b, "csv") }

// FuzzJSONFastPath checks that the scanning decoder and the encoding/json
// one give the same row, or the same error, for any input.
func FuzzJSONFastPath(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"name":"a","ts":"2024-01-02 03:04:05","tags":["x"],"m":{"k":1},"r":{"a":true}}`,
		`{"id":"2","id":3,"name":{"x":[1,2]},"zzz":[{"a":"}"}]}`,
		`{"name":"a\"b\\c\u00e9","n\u0061me":"esc"}`,
		` {"id" : -1.5e3 , "name" : null } `, `{"id":1}{}`, `[1]`, `null`, `{}`, `{"ts":"2024-01-02T03:04:05"}`,
		"{\"name\":\"\xff\"}", `{"m":{"1":"x"},"r":null}`, `{"id":9223372036854775808}`,
	} {
		f.Add(s)
	}
	l := row.NewLayout([]types.Type{types.BigIntType(), types.StringType(), {Kind: types.Timestamp, Precision: 3},
		types.ArrayType(types.StringType()), types.MapType(types.StringType(), types.IntType()),
		types.RowType(types.NewField("a", types.BooleanType()))},
		[]string{"id", "name", "ts", "tags", "m", "r"})
	var cs []*jsonCodec
	for _, opts := range []map[string]string{nil, {"json.ignore-parse-errors": "true"}, {"json.fail-on-missing-field": "true"},
		{"json.timestamp-format.standard": "ISO-8601"}} {
		c, err := New("json", opts, "", l)
		if err != nil {
			f.Fatal(err)
		}
		cs = append(cs, c.(*jsonCodec))
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range cs {
			fast, ferr := c.Decode([]byte(s))
			slow, serr := c.decodeSlow([]byte(s))
			if (ferr == nil) != (serr == nil) || (ferr != nil && ferr.Error() != serr.Error()) {
				t.Fatalf("%q: fast error %v, slow error %v", s, ferr, serr)
			}
			if (fast == nil) != (slow == nil) || (fast != nil && fast.String() != slow.String()) {
				t.Fatalf("%q: fast %v, slow %v", s, fast, slow)
			}
		}
	})
}

// BenchmarkJSONDecodeMap is the general (encoding/json into a map) path,
// for comparison with the scanner BenchmarkJSONDecode measures.
func BenchmarkJSONDecodeMap(b *testing.B) {
	c, rec, _ := benchCodec(b, "json")
	jc := c.(*jsonCodec)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jc.decodeSlow(rec); err != nil {
			b.Fatal(err)
		}
	}
}
