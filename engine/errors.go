package engine

import (
	"errors"
	"fmt"
)

// ErrInvalidJob wraps every error found when a job is validated.
var ErrInvalidJob = errors.New("engine: invalid job")

// ErrJobCancelled is returned by Execute when its context was cancelled
// before the job finished.
var ErrJobCancelled = errors.New("engine: job cancelled")

// OperatorError is the error of a job whose operator failed: it names the
// operator and the subtask, or the operator's split coordinator or global
// committer (Role).
type OperatorError struct {
	Operator    string
	Subtask     int // 0-based; 0 when Role is set
	Parallelism int
	// Role is empty for a subtask, else RoleSplitCoordinator or
	// RoleGlobalCommitter: the part of the operator that runs once per
	// attempt rather than once per subtask.
	Role string
	Err  error
	// Panic holds the panic's stack when the operator panicked.
	Panic string
}

// The roles of an OperatorError that is not a subtask's.
const (
	RoleSplitCoordinator = "split coordinator"
	RoleGlobalCommitter  = "global committer"
)

func (e *OperatorError) Error() string {
	what := "failed"
	if e.Panic != "" {
		what = "panicked"
	}
	where := fmt.Sprintf("subtask %d/%d", e.Subtask+1, e.Parallelism)
	if e.Role != "" {
		where = e.Role
	}
	return fmt.Sprintf("operator %q (%s) %s: %v", e.Operator, where, what, e.Err)
}

func (e *OperatorError) Unwrap() error { return e.Err }

// validationError is one problem found by Validate; it names the operator.
func validationError(op string, format string, args ...any) error {
	if op == "" {
		return fmt.Errorf("%w: %s", ErrInvalidJob, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("%w: operator %q: %s", ErrInvalidJob, op, fmt.Sprintf(format, args...))
}
