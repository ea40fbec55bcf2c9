package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/connectors/shardlog"
	"github.com/sluicehq/sluice/internal/backoff"
	"github.com/sluicehq/sluice/internal/clock"
	"github.com/sluicehq/sluice/internal/durable"
)

// StoreDir is the directory of a data directory's triggers: NAME.json is a
// definition, NAME.state/ its positions.
const StoreDir = "triggers"

// ErrExists and ErrNotFound are a Store's refusals (Lambda's
// ResourceConflictException and ResourceNotFoundException).
var (
	ErrExists   = errors.New("ResourceConflictException")
	ErrNotFound = errors.New("ResourceNotFoundException")
)

// Store keeps trigger definitions under a data directory.
type Store struct{ dir string }

// OpenStore returns the store of the data directory dataDir.
func OpenStore(dataDir string) (*Store, error) {
	dir := filepath.Join(dataDir, StoreDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("trigger store: %w", err)
	}
	return &Store{dir: dir}, nil
}

func (s *Store) defPath(name string) string  { return filepath.Join(s.dir, name+".json") }
func (s *Store) stateDir(name string) string { return filepath.Join(s.dir, name+".state") }

// Create checks cfg and stores it; a trigger of that name must not exist.
func (s *Store) Create(cfg Config) (Config, error) {
	if err := cfg.Normalize(); err != nil {
		return Config{}, err
	}
	if _, err := os.Stat(s.defPath(cfg.Name)); err == nil {
		return Config{}, fmt.Errorf("%w: a trigger named %s already exists", ErrExists, cfg.Name)
	}
	data, err := json.MarshalIndent(&cfg, "", "  ")
	if err != nil {
		return Config{}, fmt.Errorf("trigger store: %w", err)
	}
	// Positions of an earlier trigger of that name are not resumed.
	if err := os.RemoveAll(s.stateDir(cfg.Name)); err != nil {
		return Config{}, fmt.Errorf("trigger store: %w", err)
	}
	if err := durable.WriteFile(s.defPath(cfg.Name), append(data, '\n'), 0o644); err != nil {
		return Config{}, fmt.Errorf("trigger store: %w", err)
	}
	return cfg, nil
}

// Get returns the definition named name.
func (s *Store) Get(name string) (Config, error) {
	if !nameRe.MatchString(name) {
		return Config{}, fmt.Errorf("%w: %q is not a trigger name", ErrNotFound, name)
	}
	data, err := os.ReadFile(s.defPath(name))
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, fmt.Errorf("%w: no trigger named %s", ErrNotFound, name)
	}
	if err != nil {
		return Config{}, fmt.Errorf("trigger store: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("trigger %s: %w", name, err)
	}
	return cfg, nil
}

// List returns every definition, by name.
func (s *Store) List() ([]Config, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("trigger store: %w", err)
	}
	var out []Config
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() || durable.IsTemp(e.Name()) {
			continue
		}
		cfg, err := s.Get(name)
		if err != nil {
			return nil, err
		}
		out = append(out, cfg)
	}
	slices.SortFunc(out, func(a, b Config) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Delete removes a definition and its positions. A host running it
// should stop it first.
func (s *Store) Delete(name string) error {
	if _, err := s.Get(name); err != nil {
		return err
	}
	if err := os.Remove(s.defPath(name)); err != nil {
		return fmt.Errorf("trigger store: %w", err)
	}
	if err := durable.SyncDir(s.dir); err != nil {
		return fmt.Errorf("trigger store: %w", err)
	}
	if err := os.RemoveAll(s.stateDir(name)); err != nil {
		return fmt.Errorf("trigger store: %w", err)
	}
	return nil
}

// Positions returns the stored shard positions of a trigger (none before
// its first run).
func (s *Store) Positions(name string) (map[string]ShardPosition, error) {
	data, err := os.ReadFile(filepath.Join(s.stateDir(name), positionsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("trigger store: %w", err)
	}
	var doc positionsDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("trigger state of %s: %w", name, err)
	}
	return doc.Shards, nil
}

// HostOptions are what a Host runs its triggers with.
type HostOptions struct {
	Clock clock.Clock
	Retry backoff.Policy
	// Restart is the wait before a trigger that stopped on an error runs
	// again; zero: DefaultRetry's waits.
	Restart backoff.Policy
	Logf    func(format string, args ...any)
	// NewSource returns the source of a trigger with an Endpoint (a
	// KinesisSource with a client for it); nil: such triggers do not run.
	NewSource func(Config) (Source, error)
}

// Host runs stored triggers against a log, each on its own goroutine, and
// starts and stops them one by one: what `sluice trigger run` runs, and
// what a server holds to start a trigger when it is created and stop it
// when it is deleted. A trigger that stops on an error is logged and run
// again after a wait.
type Host struct {
	log   *shardlog.Log
	store *Store
	opts  HostOptions

	mu      sync.Mutex
	running map[string]*hosted
}

type hosted struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	t      *Trigger
}

// NewHost returns a host of store's triggers over l.
func NewHost(l *shardlog.Log, store *Store, opts HostOptions) *Host {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.Restart == (backoff.Policy{}) {
		opts.Restart = DefaultRetry
	}
	return &Host{log: l, store: store, opts: opts, running: map[string]*hosted{}}
}

// StartAll starts every stored trigger not running yet.
func (h *Host) StartAll(ctx context.Context) error {
	cfgs, err := h.store.List()
	if err != nil {
		return err
	}
	for _, c := range cfgs {
		if err := h.Start(ctx, c.Name); err != nil {
			return err
		}
	}
	return nil
}

// Start starts the stored trigger name (a no-op if it runs). It fails
// only for a trigger that is not stored or not valid; one that cannot run
// yet (its stream or on-failure stream missing) is logged and tried again
// after a wait, as is one that stops on an error.
func (h *Host) Start(ctx context.Context, name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.running[name]; ok {
		return nil
	}
	cfg, err := h.store.Get(name)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	hs := &hosted{cancel: cancel, done: make(chan struct{})}
	h.running[name] = hs
	go func() {
		defer close(hs.done)
		c := clock.Or(h.opts.Clock)
		for n := 1; ; n++ {
			opts := Options{Log: h.log, StateDir: h.store.stateDir(name), Clock: h.opts.Clock, Retry: h.opts.Retry, Logf: h.opts.Logf}
			var err error
			switch {
			case cfg.Endpoint != "" && h.opts.NewSource == nil:
				err = fmt.Errorf("trigger %s reads %s, and this host reads only its log", name, cfg.Endpoint)
			case cfg.Endpoint != "":
				opts.Source, err = h.opts.NewSource(cfg)
			case h.log == nil:
				err = fmt.Errorf("trigger %s reads the embedded log, which this host has not opened", name)
			}
			var t *Trigger
			if err == nil {
				t, err = New(cfg, opts)
			}
			if err == nil {
				hs.mu.Lock()
				hs.t = t
				hs.mu.Unlock()
				err = t.Run(cctx)
			}
			if cctx.Err() != nil {
				return
			}
			h.opts.Logf("%v (trigger %s restarts)", err, name)
			if clock.Sleep(cctx, c, h.opts.Restart.Wait(min(n, 30))) != nil {
				return
			}
		}
	}()
	return nil
}

// Stop stops the trigger name and waits for it (a no-op if it does not
// run).
func (h *Host) Stop(name string) {
	h.mu.Lock()
	hs, ok := h.running[name]
	delete(h.running, name)
	h.mu.Unlock()
	if ok {
		hs.cancel()
		<-hs.done
	}
}

// StopAll stops every trigger and waits for them.
func (h *Host) StopAll() {
	h.mu.Lock()
	names := make([]string, 0, len(h.running))
	for n := range h.running {
		names = append(names, n)
	}
	h.mu.Unlock()
	for _, n := range names {
		h.Stop(n)
	}
}

// Trigger returns the running trigger name, if it runs (false also while
// it waits to be tried again).
func (h *Host) Trigger(name string) (*Trigger, bool) {
	h.mu.Lock()
	hs, ok := h.running[name]
	h.mu.Unlock()
	if !ok {
		return nil, false
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.t, hs.t != nil
}

// Running lists the running triggers' names.
func (h *Host) Running() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.running))
	for n := range h.running {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
