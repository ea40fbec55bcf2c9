// Package bench is the home of the headline benchmarks printed by
// `sluice bench ...`: each area has its own package below it
// (pipelinebench, windowbench, statebench, logbench, shardconnbench,
// firehosebench, rcfbench, nabbench, sqlbench, kafkabench) exposing Run(ctx, Config, Emit), and
// this package holds what they share: measuring runs, summarising them and
// printing the results. cmd/sluice only parses flags into a Config, calls
// Run and prints.
//
// Every case prints one JSON object with the same core fields, so that figures
// from different subsystems can be compared and recorded in BENCHMARKS.md:
//
//	name                 the case
//	records              records processed in the median run
//	seconds              wall-clock seconds of the median run
//	records_per_sec      records / wall-clock second (median over runs)
//	records_per_cpu_sec  records / second of process CPU time (user+system)
//	bytes_per_sec        payload bytes / wall-clock second, where it applies
//	baseline_ratio       this case's records_per_sec ÷ its baseline's, where a
//	                     baseline (a hand-written Go loop or a peer system)
//	                     ran side by side in the same process run
//	runs                 how many runs the medians are over
//
// plus case-specific fields (latency percentiles, pause_ms, ...) in Extra.
//
// Speeds are never asserted in tests: the machines are shared and noisy. A
// baseline is run interleaved with its case (case, baseline, case, baseline,
// ...) so that both see the same machine conditions, and ratios are taken of
// the medians.
package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"syscall"
	"time"
)

// ErrConfig marks an error caused by an invalid Config (a bad flag value);
// `sluice bench` exits with status 2 for it.
var ErrConfig = errors.New("invalid configuration")

// ConfigError wraps ErrConfig with a message that says what is wrong.
func ConfigError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// Emit receives each result as soon as its case has finished (the heavy
// cases take minutes, so results are not held back until the end). An
// error stops the benchmark and is returned by Run. Run calls Emit from the
// goroutine that called Run.
type Emit func(Result) error

// Printer returns an Emit that prints each result to w with Print.
func Printer(w io.Writer, asJSON bool) Emit {
	return func(r Result) error { return Print(w, r, asJSON) }
}

// Collect returns an Emit that appends each result to *rs.
func Collect(rs *[]Result) Emit {
	return func(r Result) error { *rs = append(*rs, r); return nil }
}

// Sample is the measurement of one run.
type Sample struct {
	Records int64
	Bytes   int64
	Wall    time.Duration
	CPU     time.Duration
}

// RecordsPerSec is the wall-clock rate of the sample.
func (s Sample) RecordsPerSec() float64 { return rate(s.Records, s.Wall) }

// RecordsPerCPUSec is the rate per second of process CPU time.
func (s Sample) RecordsPerCPUSec() float64 { return rate(s.Records, s.CPU) }

// BytesPerSec is the wall-clock byte rate of the sample.
func (s Sample) BytesPerSec() float64 { return rate(s.Bytes, s.Wall) }

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// CPUTime returns the CPU time (user + system) the process has used so far.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Measure runs fn once and measures its wall-clock and CPU time. fn returns
// how many records and payload bytes it processed.
func Measure(fn func() (records, bytes int64, err error)) (Sample, error) {
	cpu0, t0 := CPUTime(), time.Now()
	n, b, err := fn()
	wall, cpu := time.Since(t0), CPUTime()-cpu0
	return Sample{Records: n, Bytes: b, Wall: wall, CPU: cpu}, err
}

// Result is one printed benchmark case.
type Result struct {
	Name             string
	Records          int64
	Seconds          float64
	RecordsPerSec    float64
	RecordsPerCPUSec float64
	BytesPerSec      float64
	BaselineRatio    float64 // 0: no baseline ran
	Runs             int
	// Extra holds case-specific fields; they are printed beside the core
	// fields. Keys must not collide with the core field names.
	Extra map[string]any
}

// FromSamples summarises runs of one case by their medians.
func FromSamples(name string, samples []Sample) Result {
	r := Result{Name: name, Runs: len(samples)}
	if len(samples) == 0 {
		return r
	}
	med := MedianSample(samples)
	r.Records = med.Records
	r.Seconds = med.Wall.Seconds()
	r.RecordsPerSec = Median(samples, Sample.RecordsPerSec)
	r.RecordsPerCPUSec = Median(samples, Sample.RecordsPerCPUSec)
	r.BytesPerSec = Median(samples, Sample.BytesPerSec)
	return r
}

// WithBaseline sets BaselineRatio to the ratio of the medians of the case's
// and the baseline's records/s.
func (r Result) WithBaseline(baseline []Sample) Result {
	if b := Median(baseline, Sample.RecordsPerSec); b > 0 {
		r.BaselineRatio = r.RecordsPerSec / b
	}
	return r
}

// Set adds a case-specific field and returns r for chaining.
func (r Result) Set(key string, v any) Result {
	if r.Extra == nil {
		r.Extra = map[string]any{}
	}
	r.Extra[key] = v
	return r
}

// MarshalJSON prints the core fields in a fixed order, then Extra sorted by key.
func (r Result) MarshalJSON() ([]byte, error) {
	type kv struct {
		k string
		v any
	}
	fields := []kv{
		{"name", r.Name},
		{"records", r.Records},
		{"seconds", round(r.Seconds)},
		{"records_per_sec", round(r.RecordsPerSec)},
		{"records_per_cpu_sec", round(r.RecordsPerCPUSec)},
	}
	if r.BytesPerSec > 0 {
		fields = append(fields, kv{"bytes_per_sec", round(r.BytesPerSec)})
	}
	if r.BaselineRatio > 0 {
		fields = append(fields, kv{"baseline_ratio", round(r.BaselineRatio)})
	}
	fields = append(fields, kv{"runs", r.Runs})
	keys := make([]string, 0, len(r.Extra))
	for k := range r.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := r.Extra[k]
		if f, ok := v.(float64); ok {
			v = round(f)
		}
		fields = append(fields, kv{k, v})
	}
	buf := []byte{'{'}
	for i, f := range fields {
		if i > 0 {
			buf = append(buf, ',')
		}
		kb, _ := json.Marshal(f.k)
		vb, err := json.Marshal(f.v)
		if err != nil {
			return nil, fmt.Errorf("bench: field %q: %w", f.k, err)
		}
		buf = append(append(append(buf, kb...), ':'), vb...)
	}
	return append(buf, '}'), nil
}

// round keeps 4 significant decimals for readability.
func round(f float64) float64 {
	if f == 0 {
		return 0
	}
	s := fmt.Sprintf("%.4g", f)
	var out float64
	fmt.Sscan(s, &out)
	return out
}

// Print writes r as one line of JSON when asJSON is set, else as a short
// human-readable line.
func Print(w io.Writer, r Result, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	line := fmt.Sprintf("%-40s %12.0f rec/s %12.0f rec/cpu-s", r.Name, r.RecordsPerSec, r.RecordsPerCPUSec)
	if r.BytesPerSec > 0 {
		line += fmt.Sprintf(" %8.1f MB/s", r.BytesPerSec/1e6)
	}
	if r.BaselineRatio > 0 {
		line += fmt.Sprintf("  ratio %.2f", r.BaselineRatio)
	}
	keys := make([]string, 0, len(r.Extra))
	for k := range r.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		line += fmt.Sprintf("  %s=%v", k, r.Extra[k])
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

// Median returns the median of f over the samples (the mean of the middle
// two for an even count).
func Median(samples []Sample, f func(Sample) float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	vs := make([]float64, len(samples))
	for i, s := range samples {
		vs[i] = f(s)
	}
	return MedianOf(vs)
}

// MedianOf returns the median of vs.
func MedianOf(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	vs = slices.Clone(vs)
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}

// MedianSample returns the sample whose wall-clock rate is the median one
// (the lower middle for an even count).
func MedianSample(samples []Sample) Sample {
	s := slices.Clone(samples)
	slices.SortFunc(s, func(a, b Sample) int {
		switch ra, rb := a.RecordsPerSec(), b.RecordsPerSec(); {
		case ra < rb:
			return -1
		case ra > rb:
			return 1
		}
		return 0
	})
	return s[(len(s)-1)/2]
}

// Percentile returns the p-th percentile (0..100) of ds by nearest rank.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	i = max(0, min(i, len(s)-1))
	return s[i]
}
