package planner_test

import (
	"encoding/json"
	"math"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/sql/row"
)

// The examples of Kinesis Data Analytics' documentation for the anomaly
// functions, their SQL as documented but for the source and destination
// streams, declared here as tables (a datagen source producing the data
// each example describes, and the destination a table the test reads).

// kdaRows runs a KDA application and returns the rows of its
// DESTINATION_SQL_STREAM, checking its columns are the documented ones.
func kdaRows(t *testing.T, script string, cols ...string) []*row.Row {
	t.Helper()
	rows := runWithFailures(t, script, "DESTINATION_SQL_STREAM", nil)
	if len(rows) == 0 {
		t.Fatal("no rows")
	}
	l := rows[0].L
	var got []string
	for i := range l.Len() {
		got = append(got, l.Name(i))
	}
	if !slices.Equal(got, cols) {
		t.Fatalf("columns %v, documented %v", got, cols)
	}
	return rows
}

// TestKDAExampleHeartRate is "Example: Detecting Data Anomalies on a
// Stream": heart rates, 99% NORMAL in 60..100 and 1% HIGH in 150..200;
// the HIGH records get the highest anomaly scores.
func TestKDAExampleHeartRate(t *testing.T) {
	rows := kdaRows(t, `
CREATE TABLE "SOURCE_SQL_STREAM_001" (
  id BIGINT,
  "heartRate" AS CAST(CASE WHEN MOD(id * 7919, 100) = 0 THEN 150 + MOD(id * 31, 51) ELSE 60 + MOD(id * 13, 41) END AS INT),
  "rateType" AS CASE WHEN MOD(id * 7919, 100) = 0 THEN 'HIGH' ELSE 'NORMAL' END
) WITH ('connector' = 'datagen', 'rows-per-second' = '0',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '2999');
CREATE TABLE "DESTINATION_SQL_STREAM" (
	        "heartRate"        INTEGER,
	        "rateType"         varchar(20),
	        "ANOMALY_SCORE"    DOUBLE) WITH ('connector' = 'blackhole');

-- As documented from here on, but for ORDER BY FLOOR(ROWTIME TO SECOND)
-- in the output pump, which Sluice does not support.
CREATE OR REPLACE STREAM "TEMP_STREAM" (
	        "heartRate"        INTEGER,
	        "rateType"         varchar(20),
	        "ANOMALY_SCORE"    DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS
   INSERT INTO "TEMP_STREAM"
      SELECT STREAM "heartRate", "rateType", ANOMALY_SCORE
      FROM TABLE(RANDOM_CUT_FOREST(
              CURSOR(SELECT STREAM "heartRate", "rateType" FROM "SOURCE_SQL_STREAM_001")));
CREATE OR REPLACE PUMP "OUTPUT_PUMP" AS
   INSERT INTO "DESTINATION_SQL_STREAM"
      SELECT STREAM * FROM "TEMP_STREAM";
`, "heartRate", "rateType", "ANOMALY_SCORE")
	if len(rows) != 3000 {
		t.Fatalf("%d rows, want 3000", len(rows))
	}
	// After the warm-up (256/4 records), every HIGH record scores above
	// every NORMAL one.
	minHigh, maxNormal := math.Inf(1), math.Inf(-1)
	for i, r := range rows[64:] {
		s := r.Float(2)
		switch r.Str(1) {
		case "HIGH":
			if hr := r.Int(0); hr < 150 || hr > 200 {
				t.Fatalf("row %d: HIGH heart rate %d", i+64, hr)
			}
			minHigh = min(minHigh, s)
		case "NORMAL":
			maxNormal = max(maxNormal, s)
		default:
			t.Fatalf("row %d: rateType %q", i+64, r.Str(1))
		}
	}
	if !(minHigh > maxNormal) {
		t.Fatalf("lowest HIGH score %v is not above the highest NORMAL one %v", minHigh, maxNormal)
	}
	t.Logf("lowest HIGH score %.3f, highest NORMAL %.3f", minHigh, maxNormal)
}

// TestKDAExampleExplanation is RANDOM_CUT_FOREST_WITH_EXPLANATION's
// example over the demo stock stream (TICKER_SYMBOL, SECTOR, CHANGE,
// PRICE), with directionality: the explanation is a JSON object per
// numeric column whose attribution scores sum to the anomaly score, and a
// price spike is explained by PRICE, HIGH.
func TestKDAExampleExplanation(t *testing.T) {
	rows := kdaRows(t, `
CREATE TABLE ticks (
  id BIGINT,
  "TICKER_SYMBOL" AS CASE MOD(id, 3) WHEN 0 THEN 'AMZN' WHEN 1 THEN 'ASD' ELSE 'QXZ' END,
  "SECTOR" AS CASE MOD(id, 3) WHEN 0 THEN 'TECHNOLOGY' ELSE 'RETAIL' END,
  "CHANGE" AS CAST(MOD(id * 7919, 21) - 10 AS REAL) / 10,
  "PRICE" AS CAST(CASE WHEN id = 1500 THEN 900 ELSE 50 + MOD(id * 104729, 11) END AS REAL)
) WITH ('connector' = 'datagen', 'rows-per-second' = '0',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '1799');
-- The demo stream's columns, without the generator's id.
CREATE VIEW "SOURCE_SQL_STREAM_001" AS SELECT "TICKER_SYMBOL", "SECTOR", "CHANGE", "PRICE" FROM ticks;
CREATE TABLE "DESTINATION_SQL_STREAM" (
  "TICKER_SYMBOL" VARCHAR(4), "SECTOR" VARCHAR(16), "CHANGE" REAL, "PRICE" REAL,
  "ANOMALY_SCORE" DOUBLE, "ANOMALY_EXPLANATION" VARCHAR(20480)) WITH ('connector' = 'blackhole');
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT "TICKER_SYMBOL", "SECTOR", "CHANGE", "PRICE", "ANOMALY_SCORE", "ANOMALY_EXPLANATION"
FROM TABLE(RANDOM_CUT_FOREST_WITH_EXPLANATION(
  CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001"), 100, 256, 100000, 1, true))
WHERE "SECTOR" = 'TECHNOLOGY';
`, "TICKER_SYMBOL", "SECTOR", "CHANGE", "PRICE", "ANOMALY_SCORE", "ANOMALY_EXPLANATION")
	if len(rows) != 600 {
		t.Fatalf("%d rows, want 600 (TECHNOLOGY only)", len(rows))
	}
	type part struct {
		Attribution float64 `json:"ATTRIBUTION_SCORE"`
		Strength    float64 `json:"STRENGTH"`
		Direction   string  `json:"DIRECTION"`
	}
	best := -1
	for i, r := range rows {
		if r.Str(0) != "AMZN" {
			t.Fatalf("row %d: %s passed WHERE SECTOR = 'TECHNOLOGY'", i, r.Str(0))
		}
		var e map[string]part
		if err := json.Unmarshal([]byte(r.Str(5)), &e); err != nil {
			t.Fatalf("row %d: ANOMALY_EXPLANATION %q: %v", i, r.Str(5), err)
		}
		if len(e) != 2 || e["CHANGE"].Direction == "" || e["PRICE"].Direction == "" {
			t.Fatalf("row %d: ANOMALY_EXPLANATION %s: want CHANGE and PRICE with directions", i, r.Str(5))
		}
		if sum, s := e["CHANGE"].Attribution+e["PRICE"].Attribution, r.Float(4); math.Abs(sum-s) > 1e-9*max(1, s) {
			t.Fatalf("row %d: attributions sum to %v, ANOMALY_SCORE %v", i, sum, s)
		}
		if best < 0 || r.Float(4) > rows[best].Float(4) {
			best = i
		}
	}
	var e map[string]part
	if err := json.Unmarshal([]byte(rows[best].Str(5)), &e); err != nil {
		t.Fatal(err)
	}
	if rows[best].Float(3) != 900 || e["PRICE"].Direction != "HIGH" || e["PRICE"].Attribution < 0.9*rows[best].Float(4) {
		t.Fatalf("the highest score is the row with PRICE %v, explained %s; want the 900 spike, PRICE HIGH", rows[best].Float(3), rows[best].Str(5))
	}
}

// TestKDAExampleHotspots is HOTSPOTS' example: points spread over a
// 10 × 10 square, some of them ("is_hot" = 'Y') in a small square; with
// a window of 1000, a radius of 0.2 and 17 points, the densest hotspot
// is that square.
func TestKDAExampleHotspots(t *testing.T) {
	rows := kdaRows(t, `
CREATE TABLE "SOURCE_SQL_STREAM_001" (
  id BIGINT,
  hot AS MOD(id, 10) = 0,
  "x" AS CASE WHEN MOD(id, 10) = 0 THEN 1 + CAST(MOD(id * 7919, 101) AS DOUBLE) / 500 ELSE CAST(MOD(id * 7919, 1009) AS DOUBLE) / 100.9 END,
  "y" AS CASE WHEN MOD(id, 10) = 0 THEN 1 + CAST(MOD(id * 104729, 103) AS DOUBLE) / 500 ELSE CAST(MOD(id * 104729, 1013) AS DOUBLE) / 101.3 END,
  "is_hot" AS CASE WHEN MOD(id, 10) = 0 THEN 'Y' ELSE 'N' END
) WITH ('connector' = 'datagen', 'rows-per-second' = '0',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '1999');
CREATE TABLE "DESTINATION_SQL_STREAM" (
  "x" DOUBLE, "y" DOUBLE, "is_hot" VARCHAR(4), HOTSPOTS_RESULT VARCHAR(10000)) WITH ('connector' = 'blackhole');
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT "x", "y", "is_hot", "HOTSPOTS_RESULT"
FROM TABLE(HOTSPOTS(CURSOR(SELECT STREAM "x", "y", "is_hot" FROM "SOURCE_SQL_STREAM_001"), 1000, 0.2, 17));
`, "x", "y", "is_hot", "HOTSPOTS_RESULT")
	if len(rows) != 2000 {
		t.Fatalf("%d rows, want 2000", len(rows))
	}
	var res struct {
		Hotspots []struct {
			Density   float64   `json:"density"`
			MinValues []float64 `json:"minValues"`
			MaxValues []float64 `json:"maxValues"`
		} `json:"hotspots"`
	}
	last := rows[len(rows)-1].Str(3)
	if err := json.Unmarshal([]byte(last), &res); err != nil {
		t.Fatalf("HOTSPOTS_RESULT %q: %v", last, err)
	}
	if len(res.Hotspots) == 0 {
		t.Fatalf("no hotspot in %s", last)
	}
	h := res.Hotspots[0]
	// Background points next to the square may join it (they are within
	// the radius of its points), but the hotspot is the square: it holds
	// the square's centre and spans at most a tenth of the space.
	for d := range 2 {
		if h.MinValues[d] > 1.1 || h.MaxValues[d] < 1.1 || h.MaxValues[d]-h.MinValues[d] > 1 {
			t.Fatalf("the densest hotspot %v..%v is not the hot square [1, 1.21]²: %s", h.MinValues, h.MaxValues, last)
		}
	}
	if h.Density <= 1 {
		t.Fatalf("density %v", h.Density)
	}
}
