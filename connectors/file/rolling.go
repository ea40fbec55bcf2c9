package file

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/sluicehq/sluice/engine"
)

// PartWriter encodes records into one part file.
type PartWriter[T any] interface {
	// Write encodes one record.
	Write(v T) error
	// Close finishes the file (a footer, for Parquet) without closing the
	// io.Writer it was opened on.
	Close() error
}

// RollingOptions configure Rolling: the format of part files, the
// partition (bucket) of each record and Flink's rolling policy.
type RollingOptions[T any] struct {
	// NewPart starts a part file on w. Required.
	NewPart func(w io.Writer) (PartWriter[T], error)
	// Bucket is the directory of a record relative to the sink's
	// directory ("" for the directory itself; "k=v/k2=w" for partitions,
	// slash-separated, no "..").
	Bucket func(v T) (string, error)
	// FileSize rolls a part file once this many bytes have reached it
	// (default 128 MiB, Flink's sink.rolling-policy.file-size). A format
	// that buffers (Parquet's row groups) reaches the file in steps.
	FileSize int64
	// RolloverInterval rolls a part file that has been open this long
	// (default 30 min, sink.rolling-policy.rollover-interval), checked
	// every CheckInterval (default 1 min, sink.rolling-policy.check-interval)
	// of the job's clock when records arrive.
	RolloverInterval, CheckInterval time.Duration
	// Suffix is appended to part file names (e.g. ".parquet"); Flink's
	// part files have none.
	Suffix string
	// SuccessFile, when set, is written (empty, durably) into every
	// bucket directory that a commit made files visible in, after them:
	// Flink's success-file partition commit policy with the process-time
	// trigger and no delay ("_SUCCESS"). Readers skip names starting with
	// '_'.
	SuccessFile string
}

// Default rolling policy, as Flink's filesystem sink.
const (
	DefaultFileSize         = 128 << 20
	DefaultRolloverInterval = 30 * time.Minute
	DefaultCheckInterval    = time.Minute
)

// Rolling returns an exactly-once sink that writes records into part
// files under dir, as Flink's filesystem table sink does: one open part
// file per subtask and bucket (partition directory), rolled by size and
// age, and at every checkpoint. A part file is named
// part-<uuid>-<subtask>-<n><suffix>, where uuid is fresh for every sink
// and job attempt (shared by its subtasks) and n counts the subtask's
// files, so the names of two attempts never collide. Part files are
// written staged (in a directory: hidden, localdir's staged names beside
// their final name; see PartStore) and made visible by the sink's global
// committer when the checkpoint after them completes, or at the end of a bounded input without checkpoints; what a
// failed attempt wrote after its last completed checkpoint is removed
// before the next attempt writes. Readers must skip hidden files (names
// starting with '.'), as Flink's filesystem source does.
func Rolling[T any](dir string, o RollingOptions[T]) (engine.Sink[T], error) {
	if dir == "" {
		return nil, errors.New("file: Rolling needs a directory")
	}
	store, err := NewDirParts(dir)
	if err != nil {
		return nil, err
	}
	return RollingTo(store, o)
}

// RollingTo is Rolling into any PartStore: the same part files, names and
// commits, in a local directory or an object store.
func RollingTo[T any](store PartStore, o RollingOptions[T]) (engine.Sink[T], error) {
	if store == nil {
		return nil, errors.New("file: RollingTo needs a PartStore")
	}
	if o.NewPart == nil {
		return nil, errors.New("file: Rolling needs RollingOptions.NewPart")
	}
	if o.FileSize < 0 || o.RolloverInterval < 0 || o.CheckInterval < 0 {
		return nil, errors.New("file: negative rolling policy")
	}
	if o.FileSize == 0 {
		o.FileSize = DefaultFileSize
	}
	if o.RolloverInterval == 0 {
		o.RolloverInterval = DefaultRolloverInterval
	}
	if o.CheckInterval == 0 {
		o.CheckInterval = DefaultCheckInterval
	}
	if strings.ContainsAny(o.Suffix, "/\\") {
		return nil, fmt.Errorf("file: suffix %q holds a path separator", o.Suffix)
	}
	if f := o.SuccessFile; f != "" && (strings.ContainsAny(f, "/\\") || f == "." || f == ".." || strings.HasPrefix(f, "part-")) {
		return nil, fmt.Errorf("file: success file name %q is not a plain file name (or looks like a part file)", f)
	}
	return &rolling[T]{store: store, o: o, uuids: map[int]string{}}, nil
}

type rolling[T any] struct {
	store PartStore
	o     RollingOptions[T]

	mu    sync.Mutex
	uuids map[int]string // by attempt
}

var _ engine.GlobalCommitSink[int] = (*rolling[int])(nil)

func (s *rolling[T]) uuidOf(attempt int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.uuids[attempt]
	if !ok {
		u = uuid.NewString()
		s.uuids[attempt] = u
	}
	return u
}

func (s *rolling[T]) Open(ctx context.Context, info engine.SinkInfo) (engine.SinkWriter[T], error) {
	w := &rollingWriter[T]{s: s, ctx: ctx, sub: info.Subtask, uuid: s.uuidOf(info.Attempt), clk: info.Clock, open: map[string]*part[T]{}}
	if w.clk != nil {
		w.lastCheck = w.clk.Now()
	}
	return w, nil
}

// NewGlobalCommitter implements engine.GlobalCommitSink.
func (s *rolling[T]) NewGlobalCommitter(context.Context, engine.CommitterInfo) (engine.GlobalCommitter, error) {
	return &rollingCommitter{store: s.store, success: s.o.SuccessFile}, nil
}

type rollingCommitter struct {
	store   PartStore
	success string
}

// Commit renames each staged part file (one renamed before is left
// alone), then writes the success file of each bucket it touched.
func (c *rollingCommitter) Commit(ctx context.Context, _ int64, cs []engine.Committable) error {
	var dirs []string // bucket directories with files made visible
	seen := map[string]bool{}
	for _, e := range cs {
		var parts []committable
		if err := json.Unmarshal(e.Data, &parts); err != nil {
			return fmt.Errorf("file: corrupt committable: %w", err)
		}
		for _, p := range parts {
			if err := c.store.Commit(ctx, p.Final, p.Tmp); err != nil {
				return err
			}
			dir := ""
			if i := strings.LastIndex(p.Final, "/"); i >= 0 {
				dir = p.Final[:i+1]
			}
			if !seen[dir] {
				seen[dir] = true
				dirs = append(dirs, dir)
			}
		}
	}
	if c.success == "" {
		return nil
	}
	// After every file of the commit, in every subtask's committables.
	for _, dir := range dirs {
		if err := c.store.Mark(ctx, dir+c.success); err != nil {
			return err
		}
	}
	return nil
}

// Cleanup discards every staged part (and success) file of the store.
func (c *rollingCommitter) Cleanup(ctx context.Context) error {
	return c.store.Cleanup(ctx, func(key string) bool {
		base := baseName(key)
		return strings.HasPrefix(base, "part-") || (c.success != "" && base == c.success)
	})
}

func (c *rollingCommitter) Close() error { return nil }

// part is one open part file.
type part[T any] struct {
	f      PartFile
	cw     *countingWriter
	pw     PartWriter[T]
	final  string
	opened time.Time
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

type rollingWriter[T any] struct {
	s         *rolling[T]
	ctx       context.Context
	sub       int
	uuid      string
	clk       engine.Clock
	n         int // part files started by this writer
	open      map[string]*part[T]
	done      []committable // rolled since the last Prepare
	lastCheck time.Time
}

func (w *rollingWriter[T]) now() time.Time {
	if w.clk == nil {
		return time.Time{}
	}
	return w.clk.Now()
}

func (w *rollingWriter[T]) Write(batch []engine.Record[T]) error {
	for i := range batch {
		v := batch[i].Value
		bucket := ""
		if w.s.o.Bucket != nil {
			b, err := w.s.o.Bucket(v)
			if err != nil {
				return err
			}
			bucket = strings.Trim(b, "/")
		}
		p := w.open[bucket]
		if p == nil {
			var err error
			if p, err = w.start(bucket); err != nil {
				return err
			}
		}
		if err := p.pw.Write(v); err != nil {
			return fmt.Errorf("file: %s: %w", p.final, err)
		}
		if p.cw.n >= w.s.o.FileSize {
			if err := w.roll(bucket); err != nil {
				return err
			}
		}
	}
	if now := w.now(); now.Sub(w.lastCheck) >= w.s.o.CheckInterval {
		w.lastCheck = now
		for b, p := range w.open {
			if now.Sub(p.opened) >= w.s.o.RolloverInterval {
				if err := w.roll(b); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (w *rollingWriter[T]) start(bucket string) (*part[T], error) {
	name := fmt.Sprintf("part-%s-%d-%d%s", w.uuid, w.sub, w.n, w.s.o.Suffix)
	w.n++
	final := name
	if bucket != "" {
		final = bucket + "/" + name
	}
	f, err := w.s.store.Create(w.ctx, final)
	if err != nil {
		return nil, err
	}
	cw := &countingWriter{w: f}
	pw, err := w.s.o.NewPart(cw)
	if err != nil {
		f.Abort()
		return nil, fmt.Errorf("file: start %s: %w", final, err)
	}
	p := &part[T]{f: f, cw: cw, pw: pw, final: final, opened: w.now()}
	w.open[bucket] = p
	return p, nil
}

// roll finishes the bucket's open part file: it is committed with the
// next checkpoint.
func (w *rollingWriter[T]) roll(bucket string) error {
	p := w.open[bucket]
	delete(w.open, bucket)
	if err := p.pw.Close(); err != nil {
		p.f.Abort()
		return fmt.Errorf("file: finish %s: %w", p.final, err)
	}
	handle, err := p.f.Finish()
	if err != nil {
		return fmt.Errorf("file: finish %s: %w", p.final, err)
	}
	w.done = append(w.done, committable{Tmp: handle, Final: p.final})
	return nil
}

// Prepare implements engine.StagingWriter: roll every open part file and
// name them all in the checkpoint.
func (w *rollingWriter[T]) Prepare(int64) ([]byte, error) {
	for b := range w.open {
		if err := w.roll(b); err != nil {
			return nil, err
		}
	}
	if len(w.done) == 0 {
		return nil, nil
	}
	c, err := json.Marshal(w.done)
	w.done = nil
	return c, err
}

// Close removes the open part files, which no checkpoint names; rolled
// ones may be in a checkpoint being completed and stay for its commit
// (or the next attempt's cleanup).
func (w *rollingWriter[T]) Close() error {
	for b, p := range w.open {
		p.f.Abort()
		delete(w.open, b)
	}
	return nil
}
