package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// Definition is a small canonical description of a job, stored when the
// job first starts, so that a worker started with another job (another
// build, another SQL script, another parallelism) is refused with the
// difference named instead of joining and corrupting the running one.
type Definition struct {
	Job            string     `json:"job"`
	Parallelism    int        `json:"parallelism"`
	MaxParallelism int        `json:"max_parallelism"`
	Operators      []Operator `json:"operators"`
	// SQLHash is HashSQL of the job's SQL text, if it is a SQL job.
	SQLHash string `json:"sql_sha256,omitempty"`
}

// Operator is one operator of the job graph, in the graph's order.
type Operator struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"` // e.g. "source", "map", "window", "sink"
	Parallelism int    `json:"parallelism"`
}

func (o Operator) String() string {
	return fmt.Sprintf("%s %q (parallelism %d)", o.Kind, o.Name, o.Parallelism)
}

// HashSQL returns the hex SHA-256 of a SQL job's text.
func HashSQL(text string) string {
	h := sha256.Sum256([]byte(text))
	return hex.EncodeToString(h[:])
}

// Canonical returns the definition's stored form: JSON with the fields in
// a fixed order.
func (d Definition) Canonical() []byte {
	b, err := json.Marshal(d)
	if err != nil { // strings and ints only: cannot fail
		panic(fmt.Sprintf("cluster: encode definition: %v", err))
	}
	return b
}

// Hash returns the hex SHA-256 of the canonical form.
func (d Definition) Hash() string {
	h := sha256.Sum256(d.Canonical())
	return hex.EncodeToString(h[:])
}

// ParseDefinition reads a stored definition.
func ParseDefinition(b []byte) (Definition, error) {
	var d Definition
	if err := json.Unmarshal(b, &d); err != nil {
		return Definition{}, fmt.Errorf("cluster: stored job definition is not valid: %w", err)
	}
	return d, nil
}

// Diff names each difference between running, the job's stored
// definition, and d, this worker's: empty when they are the same.
func (running Definition) Diff(d Definition) []string {
	var out []string
	if running.Job != d.Job {
		out = append(out, fmt.Sprintf("job: running %q, this worker %q", running.Job, d.Job))
	}
	if running.Parallelism != d.Parallelism {
		out = append(out, fmt.Sprintf("parallelism: running %d, this worker %d", running.Parallelism, d.Parallelism))
	}
	if running.MaxParallelism != d.MaxParallelism {
		out = append(out, fmt.Sprintf("max parallelism: running %d, this worker %d", running.MaxParallelism, d.MaxParallelism))
	}
	if running.SQLHash != d.SQLHash {
		out = append(out, fmt.Sprintf("SQL text: running sha256 %s, this worker %s", shortHash(running.SQLHash), shortHash(d.SQLHash)))
	}
	n := min(len(running.Operators), len(d.Operators))
	for i := range n {
		r, o := running.Operators[i], d.Operators[i]
		if r != o {
			out = append(out, fmt.Sprintf("operator %d: running %s, this worker %s", i, r, o))
		}
	}
	for i := n; i < len(running.Operators); i++ {
		out = append(out, fmt.Sprintf("operator %d: running %s, missing in this worker", i, running.Operators[i]))
	}
	for i := n; i < len(d.Operators); i++ {
		out = append(out, fmt.Sprintf("operator %d: not in the running job, this worker %s", i, d.Operators[i]))
	}
	return out
}

func shortHash(h string) string {
	if h == "" {
		return "(none)"
	}
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

// DefinitionMismatchError refuses a worker whose job definition differs
// from the running job's; Differences names each field that differs.
type DefinitionMismatchError struct {
	Job         string
	Differences []string
}

func (e *DefinitionMismatchError) Error() string {
	return fmt.Sprintf("cluster: job %q: this worker's definition differs from the running job's: %s", e.Job, strings.Join(e.Differences, "; "))
}

// Is makes errors.Is(err, ErrDefinitionMismatch) true.
func (e *DefinitionMismatchError) Is(target error) bool { return target == ErrDefinitionMismatch }
