package nab

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Series is one labelled data file of the corpus.
type Series struct {
	// Name is the file's path under data/, e.g. "realKnownCause/nyc_taxi.csv",
	// which is also its key in the label files.
	Name       string
	Timestamps []time.Time
	Values     []float64
	// Windows are the labelled anomaly windows, in the label file's order.
	Windows []Window
}

// Window is one anomaly window, inclusive at both ends.
type Window struct {
	Start, End time.Time
}

// Corpus is the NAB data set: every series with its windows.
type Corpus struct {
	Series []Series
	// LabelledWindows is the number of windows in the label file, which NAB
	// uses as the number of true positives a perfect detector earns.
	LabelledWindows int
}

// ErrCorpus marks a data set that does not have NAB's layout or content.
var ErrCorpus = errors.New("nab: bad corpus")

// timeLayout is how NAB writes timestamps in data files; label files add
// fractional seconds, which time.Parse accepts with this layout too.
const timeLayout = "2006-01-02 15:04:05"

// LoadCorpus reads dir/data/*/*.csv and dir/labels/combined_windows.json.
// Series are sorted by name. Every window must start and end at timestamps
// present in its series, as in NAB (its scorer matches them exactly).
func LoadCorpus(dir string) (*Corpus, error) {
	windows, err := loadWindows(filepath.Join(dir, "labels", "combined_windows.json"))
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "data", "*", "*.csv"))
	if err != nil {
		return nil, fmt.Errorf("nab: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: no data files under %s", ErrCorpus, filepath.Join(dir, "data"))
	}
	c := &Corpus{}
	for _, w := range windows {
		c.LabelledWindows += len(w)
	}
	for _, path := range files {
		rel, err := filepath.Rel(filepath.Join(dir, "data"), path)
		if err != nil {
			return nil, fmt.Errorf("nab: %w", err)
		}
		name := filepath.ToSlash(rel)
		ws, ok := windows[name]
		if !ok {
			return nil, fmt.Errorf("%w: %s has no entry in the label file", ErrCorpus, name)
		}
		s, err := loadSeries(path, name)
		if err != nil {
			return nil, err
		}
		s.Windows = ws
		for _, w := range ws {
			if !slices.ContainsFunc(s.Timestamps, w.Start.Equal) || !slices.ContainsFunc(s.Timestamps, w.End.Equal) {
				return nil, fmt.Errorf("%w: %s: window %v..%v does not start and end on data timestamps", ErrCorpus, name, w.Start, w.End)
			}
		}
		c.Series = append(c.Series, s)
	}
	slices.SortFunc(c.Series, func(a, b Series) int { return strings.Compare(a.Name, b.Name) })
	return c, nil
}

func loadWindows(path string) (map[string][]Window, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nab: %w", err)
	}
	var raw map[string][][2]string
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorpus, path, err)
	}
	out := make(map[string][]Window, len(raw))
	for name, ws := range raw {
		for _, w := range ws {
			start, err1 := parseTime(w[0])
			end, err2 := parseTime(w[1])
			if err := errors.Join(err1, err2); err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrCorpus, name, err)
			}
			out[name] = append(out[name], Window{Start: start, End: end})
		}
		if _, ok := out[name]; !ok {
			out[name] = nil
		}
	}
	return out, nil
}

func parseTime(s string) (time.Time, error) {
	return time.Parse(timeLayout, strings.TrimSpace(s))
}

func loadSeries(path, name string) (Series, error) {
	f, err := os.Open(path)
	if err != nil {
		return Series{}, fmt.Errorf("nab: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		return Series{}, fmt.Errorf("%w: %s: %v", ErrCorpus, name, err)
	}
	if len(head) < 2 || head[0] != "timestamp" || head[1] != "value" {
		return Series{}, fmt.Errorf("%w: %s: header %q, want timestamp,value", ErrCorpus, name, head)
	}
	s := Series{Name: name}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Series{}, fmt.Errorf("%w: %s: %v", ErrCorpus, name, err)
		}
		ts, err := parseTime(rec[0])
		if err != nil {
			return Series{}, fmt.Errorf("%w: %s line %d: %v", ErrCorpus, name, line, err)
		}
		v, err := strconv.ParseFloat(rec[1], 64)
		if err != nil {
			return Series{}, fmt.Errorf("%w: %s line %d: %v", ErrCorpus, name, line, err)
		}
		s.Timestamps = append(s.Timestamps, ts)
		s.Values = append(s.Values, v)
	}
	if len(s.Values) == 0 {
		return Series{}, fmt.Errorf("%w: %s is empty", ErrCorpus, name)
	}
	return s, nil
}

// Points is the number of records in the corpus.
func (c *Corpus) Points() int {
	n := 0
	for _, s := range c.Series {
		n += len(s.Values)
	}
	return n
}
