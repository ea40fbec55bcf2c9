package anomaly

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

var sensorSchema = Schema{
	{"device", TypeVarchar},
	{"temp", TypeDouble},
	{"load", TypeInteger},
	{"at", TypeTimestamp},
}

func sensorRow(device string, temp float64, load int64) Row {
	return Row{device, temp, load, "2024-01-01T00:00:00Z"}
}

func TestRCFPlanningErrors(t *testing.T) {
	many := Schema{}
	for i := 0; i < 31; i++ {
		many = append(many, Column{Name: "c" + string(rune('a'+i%26)) + strings.Repeat("x", i/26), Type: TypeDouble})
	}
	cases := []struct {
		name   string
		schema Schema
		p      RCFParams
		want   string
	}{
		{"no numeric column", Schema{{"s", TypeVarchar}}, RCFParams{}, "no numeric column"},
		{"too many columns", many, RCFParams{}, "at most 30"},
		{"decimal", Schema{{"x", TypeDecimal}}, RCFParams{}, "DECIMAL"},
		{"duplicate", Schema{{"x", TypeDouble}, {"X", TypeDouble}}, RCFParams{}, "duplicate"},
		{"clash", Schema{{"x", TypeDouble}, {"ANOMALY_SCORE", TypeDouble}}, RCFParams{}, "clashes"},
		{"trees", Schema{{"x", TypeDouble}}, RCFParams{NumberOfTrees: 1001}, "numberOfTrees"},
		{"sample", Schema{{"x", TypeDouble}}, RCFParams{SubSampleSize: 5}, "subSampleSize"},
		{"decay below sample", Schema{{"x", TypeDouble}}, RCFParams{SubSampleSize: 500, TimeDecay: 400}, "timeDecay"},
		{"shingle", Schema{{"x", TypeDouble}}, RCFParams{ShingleSize: 31}, "shingleSize"},
		{"negative", Schema{{"x", TypeDouble}}, RCFParams{NumberOfTrees: -3}, "negative"},
		{"directionality without explanation", Schema{{"x", TypeDouble}}, RCFParams{WithDirectionality: true}, "withDirectionality"},
	}
	for _, c := range cases {
		_, err := NewRandomCutForest(c.schema, c.p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
	}
}

func TestRCFParamsFromArgs(t *testing.T) {
	p, err := RCFParamsFromArgs([]any{int64(50), 128, nil, 4}, false)
	if err != nil || p.NumberOfTrees != 50 || p.SubSampleSize != 128 || p.TimeDecay != 0 || p.ShingleSize != 4 {
		t.Fatalf("got %+v, %v", p, err)
	}
	p, err = RCFParamsFromArgs([]any{100, 256, 100000, 1, true}, true)
	if err != nil || !p.WithDirectionality {
		t.Fatalf("got %+v, %v", p, err)
	}
	for _, args := range [][]any{
		{0}, {"100"}, {1.5}, {100, 256, 100000, 1, true}, {100, 9}, {100, 256, 100000, 1, "yes", 1},
	} {
		if _, err := RCFParamsFromArgs(args, len(args) == 6); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestRCFOutputs(t *testing.T) {
	r, err := NewRandomCutForestWithExplanation(sensorSchema, RCFParams{WithDirectionality: true, Probability: true, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	out := r.OutputSchema()
	wantCols := []string{"device", "temp", "load", "at", ColAnomalyScore, ColAnomalyExplanation, ColAnomalyProbability}
	if len(out) != len(wantCols) {
		t.Fatalf("output schema %v", out)
	}
	for i, c := range wantCols {
		if out[i].Name != c {
			t.Fatalf("output column %d is %q, want %q", i, out[i].Name, c)
		}
	}
	data := gaussian(1000, 2, 5)
	var row Row
	for i, d := range data {
		row, err = r.Process(sensorRow("a", 20+d[0], int64(50+10*d[1])))
		if err != nil {
			t.Fatal(err)
		}
		if row[0] != "a" || row[3] != "2024-01-01T00:00:00Z" {
			t.Fatalf("pass-through columns changed: %v", row)
		}
		score := row[4].(float64)
		if i < 64 && score != 0 {
			t.Fatalf("record %d scored %v during warm-up", i, score)
		}
		if p := row[6].(float64); p < 0 || p >= 1 {
			t.Fatalf("probability %v out of [0,1)", p)
		}
		checkExplanation(t, row[5].(string), score, true)
	}
	// A hot, lightly loaded device: temp HIGH, load LOW.
	row, err = r.Process(sensorRow("a", 35, 10))
	if err != nil {
		t.Fatal(err)
	}
	score := row[4].(float64)
	var ex map[string]struct {
		A float64 `json:"ATTRIBUTION_SCORE"`
		S float64 `json:"STRENGTH"`
		D string  `json:"DIRECTION"`
	}
	if err := json.Unmarshal([]byte(row[5].(string)), &ex); err != nil {
		t.Fatal(err)
	}
	if ex["temp"].D != "HIGH" || ex["load"].D != "LOW" {
		t.Errorf("directions %+v", ex)
	}
	if ex["temp"].A < 0.3*score || ex["load"].A < 0.3*score {
		t.Errorf("both columns are far off; attributions %+v of score %v", ex, score)
	}
	if p := row[6].(float64); p < 0.99 {
		t.Errorf("probability of a clear anomaly onset %v", p)
	}
}

// checkExplanation parses ANOMALY_EXPLANATION and checks that the
// attributions sum to the score.
func checkExplanation(t *testing.T, js string, score float64, directions bool) {
	t.Helper()
	var ex map[string]map[string]any
	if err := json.Unmarshal([]byte(js), &ex); err != nil {
		t.Fatalf("explanation %q: %v", js, err)
	}
	sum := 0.0
	for col, v := range ex {
		a, _ := v["ATTRIBUTION_SCORE"].(float64)
		s, _ := v["STRENGTH"].(float64)
		if a < 0 || s < 0 || s > a*(1+1e-12) {
			t.Fatalf("column %s: attribution %v strength %v", col, a, s)
		}
		d, has := v["DIRECTION"]
		if has != directions || has && d != "HIGH" && d != "LOW" {
			t.Fatalf("column %s: direction %v", col, d)
		}
		sum += a
	}
	if math.Abs(sum-score) > 1e-9*max(1, score) {
		t.Fatalf("attributions sum to %v, score is %v (%s)", sum, score, js)
	}
}

func TestRCFBadRecordsGoToErrorOutput(t *testing.T) {
	r, err := NewRandomCutForest(sensorSchema, RCFParams{Probability: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range gaussian(200, 2, 1) {
		if _, err := r.Process(sensorRow("a", d[0], int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := r.MarshalBinary()
	for _, row := range []Row{
		{"a", math.NaN(), int64(1), nil},
		{"a", 1.0, "12", nil},
		{"a", nil, int64(1), nil},
		{"a", math.Inf(1), int64(1), nil},
		{"a", 1.0},
	} {
		if _, err := r.Process(row); !errors.Is(err, ErrBadRecord) {
			t.Errorf("row %v: %v, want ErrBadRecord", row, err)
		}
	}
	after, _ := r.MarshalBinary()
	if !bytes.Equal(before, after) {
		t.Fatal("a refused record changed the model")
	}
}

func TestRCFSnapshotRestore(t *testing.T) {
	params := RCFParams{NumberOfTrees: 30, ShingleSize: 2, WithDirectionality: true, Probability: true, Seed: 4}
	data := mixture(800, 2, 6)
	ref, _ := NewRandomCutForestWithExplanation(sensorSchema, params)
	var want []Row
	for i, d := range data {
		row, err := ref.Process(sensorRow("x", d[0], int64(d[1]*10)))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, row)
		_ = i
	}
	a, _ := NewRandomCutForestWithExplanation(sensorSchema, params)
	for _, d := range data[:400] {
		a.Process(sensorRow("x", d[0], int64(d[1]*10)))
	}
	snap, _ := a.MarshalBinary()
	// Into a zero operator: plan and model come from the snapshot.
	var b RCF
	if err := b.UnmarshalBinary(snap); err != nil {
		t.Fatal(err)
	}
	for i := 400; i < len(data); i++ {
		d := data[i]
		row, err := b.Process(sensorRow("x", d[0], int64(d[1]*10)))
		if err != nil {
			t.Fatal(err)
		}
		for k := range row {
			if row[k] != want[i][k] {
				t.Fatalf("record %d column %d: restored %v, uninterrupted %v", i, k, row[k], want[i][k])
			}
		}
	}
	// Into an operator planned differently: refused.
	other, _ := NewRandomCutForestWithExplanation(sensorSchema, RCFParams{NumberOfTrees: 31, Probability: true})
	if err := other.UnmarshalBinary(snap); err == nil {
		t.Error("snapshot restored into a different plan")
	}
	plain, _ := NewRandomCutForest(sensorSchema, params2(params))
	if err := plain.UnmarshalBinary(snap); err == nil {
		t.Error("explanation snapshot restored into a plain RANDOM_CUT_FOREST")
	}
	if err := b.UnmarshalBinary(snap[:len(snap)-3]); !errors.Is(err, ErrCorruptSnapshot) {
		t.Errorf("truncated snapshot: %v", err)
	}
}

func params2(p RCFParams) RCFParams {
	p.WithDirectionality = false
	return p
}
