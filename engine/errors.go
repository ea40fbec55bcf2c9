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
// operator and the subtask.
type OperatorError struct {
	Operator    string
	Subtask     int // 0-based
	Parallelism int
	Err         error
	// Panic holds the panic's stack when the operator panicked.
	Panic string
}

func (e *OperatorError) Error() string {
	what := "failed"
	if e.Panic != "" {
		what = "panicked"
	}
	return fmt.Sprintf("operator %q (subtask %d/%d) %s: %v", e.Operator, e.Subtask+1, e.Parallelism, what, e.Err)
}

func (e *OperatorError) Unwrap() error { return e.Err }

// validationError is one problem found by Validate; it names the operator.
func validationError(op string, format string, args ...any) error {
	if op == "" {
		return fmt.Errorf("%w: %s", ErrInvalidJob, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("%w: operator %q: %s", ErrInvalidJob, op, fmt.Sprintf(format, args...))
}
