package prefix

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2018, 8, 27, 10, 30, 5, 123456789, time.UTC) // a Monday

func TestTimeFormatJavaWidths(t *testing.T) {
	early := time.Date(2018, 1, 5, 3, 4, 5, 7000000, time.UTC)
	midnight := time.Date(2018, 1, 5, 0, 4, 5, 0, time.UTC)
	ist := time.FixedZone("IST", 5*3600+30*60)
	odd := time.FixedZone("ODD", -(3*3600 + 30*60 + 15))
	cases := []struct {
		pat  string
		at   time.Time
		want string
	}{
		{"yyyy", t0, "2018"}, {"yy", t0, "18"}, {"y", t0, "2018"}, {"yyy", t0, "2018"},
		{"yyyyy", t0, "02018"}, {"uuuu", t0, "2018"}, {"yy", time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC), "05"},
		{"y", time.Date(7, 1, 1, 0, 0, 0, 0, time.UTC), "7"}, {"yyyy", time.Date(7, 1, 1, 0, 0, 0, 0, time.UTC), "0007"},
		{"yyyy", time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC), "+12345"},
		{"M", early, "1"}, {"MM", early, "01"}, {"MMM", t0, "Aug"}, {"MMMM", t0, "August"}, {"MMMMM", t0, "A"}, {"LL", t0, "08"},
		{"d", early, "5"}, {"dd", early, "05"}, {"dd", t0, "27"},
		{"D", t0, "239"}, {"D", early, "5"}, {"DD", early, "05"}, {"DDD", early, "005"},
		{"H", early, "3"}, {"HH", early, "03"}, {"HH", t0, "10"}, {"k", midnight, "24"}, {"kk", early, "03"},
		{"h", midnight, "12"}, {"hh", early, "03"}, {"h", time.Date(2018, 1, 1, 15, 0, 0, 0, time.UTC), "3"},
		{"K", midnight, "0"}, {"KK", time.Date(2018, 1, 1, 23, 0, 0, 0, time.UTC), "11"},
		{"m", early, "4"}, {"mm", early, "04"}, {"s", early, "5"}, {"ss", early, "05"},
		{"S", t0, "1"}, {"SSS", t0, "123"}, {"SSSSSSSSS", t0, "123456789"}, {"SSS", early, "007"},
		{"a", early, "AM"}, {"a", t0.Add(3 * time.Hour), "PM"}, {"hh a", midnight, "12 AM"},
		{"E", t0, "Mon"}, {"EEE", t0, "Mon"}, {"EEEE", t0, "Monday"}, {"EEEEE", t0, "M"},
		{"w", t0, "35"}, {"ww", early, "01"}, {"w", time.Date(2018, 12, 30, 0, 0, 0, 0, time.UTC), "1"},
		{"w", time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC), "1"}, {"w", time.Date(2017, 1, 8, 0, 0, 0, 0, time.UTC), "2"},
		{"Z", t0, "+0000"}, {"ZZZ", t0, "+0000"}, {"ZZZZ", t0, "GMT"}, {"ZZZZZ", t0, "Z"},
		{"X", t0, "Z"}, {"XXX", t0, "Z"}, {"x", t0, "+00"}, {"xx", t0, "+0000"}, {"xxx", t0, "+00:00"},
		{"X", t0.In(ist), "+0530"}, {"XX", t0.In(ist), "+0530"}, {"XXX", t0.In(ist), "+05:30"},
		{"Z", t0.In(ist), "+0530"}, {"ZZZZ", t0.In(ist), "GMT+05:30"}, {"ZZZZZ", t0.In(ist), "+05:30"},
		{"X", t0.In(time.FixedZone("", 9*3600)), "+09"}, {"XXXX", t0.In(odd), "-033015"}, {"XXXXX", t0.In(odd), "-03:30:15"},
		{"xxxx", t0, "+0000"},
		{"yyyy/MM/dd/HH/", t0, "2018/08/27/10/"}, {"yyyy'-'MM'-'dd", t0, "2018-08-27"},
		{"'year='yyyy", t0, "year=2018"}, {"''", t0, "'"}, {"'it''s' yyyy", t0, "it's 2018"},
		{"yyyy-MM-dd'T'HH:mm:ss.SSSXXX", t0, "2018-08-27T10:30:05.123Z"},
		{"'y=yyyy'", t0, "y=yyyy"},
	}
	for _, c := range cases {
		f, err := CompileTimeFormat(c.pat)
		if err != nil {
			t.Errorf("%q: %v", c.pat, err)
			continue
		}
		if got := f.Format(c.at); got != c.want {
			t.Errorf("%q at %v = %q, want %q", c.pat, c.at, got, c.want)
		}
	}
}

func TestTimeFormatRejects(t *testing.T) {
	for _, pat := range []string{
		"yyyy'", "ddd", "HHH", "mmm", "sss", "MMMMMM", "EEEEEE", "aa", "SSSSSSSSSS", "DDDD", "www",
		"G", "Q", "q", "z", "V", "O", "n", "N", "A", "W", "e", "c", "F", "B", "p",
		"[yyyy]", "yyyy#", "{", "yyyyyyyyyyyyyyyyyyyy",
	} {
		if _, err := CompileTimeFormat(pat); !errors.Is(err, ErrTimeFormat) {
			t.Errorf("%q: err = %v, want ErrTimeFormat", pat, err)
		}
	}
}

func eval(t *testing.T, e *Expr, env Env) string {
	t.Helper()
	s, err := e.Eval(env)
	if err != nil {
		t.Fatalf("eval %q: %v", e.Source(), err)
	}
	return s
}

func TestCompileDefaults(t *testing.T) {
	env := Env{Time: t0, ErrorOutputType: ProcessingFailed}
	cases := []struct {
		prefix, errPrefix string
		want, wantErr     string
	}{
		{"", "", "2018/08/27/10/", "processing-failed/2018/08/27/10/"},
		{"myPrefix/", "", "myPrefix/2018/08/27/10/", "myPrefix/processing-failed/2018/08/27/10/"},
		{"myPrefix/", "errors/", "myPrefix/2018/08/27/10/", "errors/"},
		{"myPrefix/", "myFailures/!{firehose:error-output-type}/", "myPrefix/2018/08/27/10/", "myFailures/processing-failed/"},
		{"!{timestamp:yyyy/MM/dd}", "myFailures/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}",
			"2018/08/27", "myFailures/processing-failed/2018/08/27"},
		{"data/year=!{timestamp:yyyy}/hour=!{timestamp:HH}/", "err/!{firehose:error-output-type}/!{timestamp:yyyy}/",
			"data/year=2018/hour=10/", "err/processing-failed/2018/"},
		{"a!b/", "", "a!b/2018/08/27/10/", "a!b/processing-failed/2018/08/27/10/"},
	}
	for _, c := range cases {
		p, err := Compile(c.prefix, c.errPrefix, nil)
		if err != nil {
			t.Errorf("Compile(%q, %q): %v", c.prefix, c.errPrefix, err)
			continue
		}
		if got := eval(t, p.Prefix, env); got != c.want {
			t.Errorf("Prefix %q = %q, want %q", c.prefix, got, c.want)
		}
		if got := eval(t, p.ErrorPrefix, env); got != c.wantErr {
			t.Errorf("ErrorOutputPrefix %q (Prefix %q) = %q, want %q", c.errPrefix, c.prefix, got, c.wantErr)
		}
	}
}

func TestCompileRules(t *testing.T) {
	known := func(k string) bool { return k == "customer" || k == "year" }
	cases := []struct {
		prefix, errPrefix string
		want              error
	}{
		{"!{timestamp:yyyy}/", "", ErrNeedErrorPrefix},
		{"!{firehose:random-string}/", "", ErrNeedErrorPrefix},
		{"x/", "err/!{timestamp:yyyy}/", ErrNeedErrorType},
		{"x/", "err/!{firehose:random-string}/", ErrNeedErrorType},
		{"x/!{firehose:error-output-type}/", "err/!{firehose:error-output-type}", ErrErrorTypeInPrefix},
		{"!{partitionKeyFromQuery:customer}/", "err/!{firehose:error-output-type}/!{partitionKeyFromQuery:customer}", ErrKeyInErrorPrefix},
		{"!{partitionKeyFromLambda:customer}/", "err/!{partitionKeyFromLambda:x}/!{firehose:error-output-type}", ErrKeyInErrorPrefix},
		{"!{partitionKeyFromQuery:nope}/", "err/!{firehose:error-output-type}", ErrUnknownKey},
		{"!{unknown:x}/", "", ErrUnknownNamespace},
		{"!{firehose:other}/", "", ErrUnknownValue},
		{"!{partitionKeyFromQuery:a b}/", "", ErrUnknownValue},
		{"!{partitionKeyFromQuery:}/", "", ErrUnknownValue},
		{"x/!{timestamp:yyyy", "", ErrSyntax},
		{"x/!{timestamp}", "", ErrSyntax},
		{"x/!{}", "", ErrSyntax},
		{"x/", "err/!{firehose:error-output-type", ErrSyntax},
		{"!{timestamp:yyyyQ}/", "e/!{firehose:error-output-type}", ErrTimeFormat},
		{"!{timestamp:}/", "e/!{firehose:error-output-type}", ErrSyntax},
	}
	for _, c := range cases {
		_, err := Compile(c.prefix, c.errPrefix, known)
		if !errors.Is(err, c.want) {
			t.Errorf("Compile(%q, %q) = %v, want %v", c.prefix, c.errPrefix, err, c.want)
		}
	}
}

func TestSameInstantAndRandom(t *testing.T) {
	p, err := Compile("!{firehose:random-string}/!{timestamp:yyyy}/!{timestamp:HH:mm:ss.SSS}/!{firehose:random-string}/",
		"e/!{firehose:error-output-type}/!{firehose:random-string}", nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	env := Env{Time: t0, Random: func() string { n++; return strings.Repeat(string(rune('a'+n)), RandomStringLen) }}
	got := eval(t, p.Prefix, env)
	if want := "bbbbbbbbbbb/2018/10:30:05.123/ccccccccccc/"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := p.ErrorPrefix.Eval(Env{Time: t0}); err == nil {
		t.Error("random-string without a random source: want an error")
	}
}

func TestPartitionKeys(t *testing.T) {
	known := func(k string) bool { return k == "customer" || k == "device" }
	p, err := Compile("customer=!{partitionKeyFromQuery:customer}/device=!{partitionKeyFromLambda:device}/",
		"errors/!{firehose:error-output-type}/", known)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Prefix.HasPartitionKeys() || p.Prefix.HasTimestamp() {
		t.Fatalf("a partitioned prefix gets no default timestamp: %q", p.Prefix.Source())
	}
	got := eval(t, p.Prefix, Env{Time: t0, QueryKeys: map[string]string{"customer": "42"}, LambdaKeys: map[string]string{"device": "ios"}})
	if want := "customer=42/device=ios/"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := p.Prefix.Eval(Env{Time: t0, QueryKeys: map[string]string{"customer": "42"}}); !errors.Is(err, ErrMissingKey) {
		t.Errorf("missing lambda key: err = %v", err)
	}
	if got := p.Prefix.QueryKeys(); len(got) != 1 || got[0] != "customer" {
		t.Errorf("QueryKeys = %v", got)
	}
}

func TestMaxLength(t *testing.T) {
	p, err := Compile("k=!{partitionKeyFromQuery:k}/", "e/!{firehose:error-output-type}/", nil)
	if err != nil {
		t.Fatal(err)
	}
	ok := strings.Repeat("é", MaxEvaluatedLen-3) // counts characters, not bytes
	if _, err := p.Prefix.Eval(Env{QueryKeys: map[string]string{"k": ok}}); err != nil {
		t.Errorf("512 characters: %v", err)
	}
	if _, err := p.Prefix.Eval(Env{QueryKeys: map[string]string{"k": ok + "x"}}); !errors.Is(err, ErrTooLong) {
		t.Errorf("513 characters: err = %v", err)
	}
}

func TestCustomTimeZone(t *testing.T) {
	p, err := Compile("", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	tokyo := time.FixedZone("JST", 9*3600)
	if got := eval(t, p.Prefix, Env{Time: t0.In(tokyo)}); got != "2018/08/27/19/" {
		t.Errorf("got %q", got)
	}
}
