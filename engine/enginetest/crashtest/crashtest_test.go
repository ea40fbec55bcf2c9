package crashtest

import (
	"strings"
	"testing"
)

func TestParsePoint(t *testing.T) {
	if p, err := ParsePoint(""); p != nil || err != nil {
		t.Fatalf(`ParsePoint("") = %v, %v; want no point`, p, err)
	}
	p, err := ParsePoint("mid-commit:3")
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != "mid-commit" || p.N != 3 || p.String() != "mid-commit:3" {
		t.Fatalf("ParsePoint(mid-commit:3) = %+v (%s)", p, p)
	}
	for _, bad := range []string{"mid-commit", ":3", "x:0", "x:-1", "x:y"} {
		if _, err := ParsePoint(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParsePoint(%q) = %v; want an error naming it", bad, err)
		}
	}
}

func TestPointDue(t *testing.T) {
	p := &Point{Kind: "a", N: 3}
	var due []int
	for i, kind := range []string{"a", "b", "a", "b", "a", "a"} {
		if p.Due(kind) {
			due = append(due, i)
		}
	}
	if len(due) != 1 || due[0] != 4 {
		t.Fatalf("due at calls %v; want only call 4 (the third of kind a)", due)
	}
	var none *Point
	if none.Due("a") {
		t.Fatal("a nil point fired")
	}
}
