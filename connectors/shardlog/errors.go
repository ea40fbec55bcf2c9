package shardlog

import (
	"errors"
	"fmt"
)

// ErrorCode is a Kinesis error name, as sent in the "__type" of an error
// response.
type ErrorCode string

// The Kinesis error names this package returns.
const (
	CodeResourceNotFound       ErrorCode = "ResourceNotFoundException"
	CodeResourceInUse          ErrorCode = "ResourceInUseException"
	CodeInvalidArgument        ErrorCode = "InvalidArgumentException"
	CodeLimitExceeded          ErrorCode = "LimitExceededException"
	CodeProvisionedThroughput  ErrorCode = "ProvisionedThroughputExceededException"
	CodeExpiredIterator        ErrorCode = "ExpiredIteratorException"
	CodeExpiredNextToken       ErrorCode = "ExpiredNextTokenException"
	CodeValidation             ErrorCode = "ValidationException"
	CodeInternalFailure        ErrorCode = "InternalFailure"
	CodeSerialization          ErrorCode = "SerializationException"
	CodeUnknownOperation       ErrorCode = "UnknownOperationException"
	CodeAccessDenied           ErrorCode = "AccessDeniedException"
	CodeServiceUnavailable     ErrorCode = "ServiceUnavailable"
	CodeMissingAuthToken       ErrorCode = "MissingAuthenticationTokenException"
	CodeIncompleteSignature    ErrorCode = "IncompleteSignatureException"
	CodeInvalidSignatureToken  ErrorCode = "InvalidSignatureException"
	CodeKMSNotFound            ErrorCode = "KMSNotFoundException"
	CodeUnsupportedOperation   ErrorCode = "UnsupportedOperationException"
	CodeInternalFailureService ErrorCode = "InternalFailureException"
)

// HTTPStatus is the status code Kinesis answers the error with.
func (c ErrorCode) HTTPStatus() int {
	switch c {
	case CodeInternalFailure, CodeInternalFailureService:
		return 500
	case CodeServiceUnavailable:
		return 503
	case CodeMissingAuthToken, CodeInvalidSignatureToken:
		// As in the Common Errors of the AWS API references;
		// AccessDeniedException and IncompleteSignature are 400.
		return 403
	}
	return 400
}

// Error is a refusal in the Kinesis model: a Kinesis error name and a
// message that says what is wrong. Compare with errors.Is against the
// sentinels below (they match on Code).
type Error struct {
	Code    ErrorCode
	Message string
}

func (e *Error) Error() string { return "shardlog: " + string(e.Code) + ": " + e.Message }

// Is matches any *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

func errorf(code ErrorCode, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinels for errors.Is.
var (
	ErrResourceNotFound      = &Error{Code: CodeResourceNotFound}
	ErrResourceInUse         = &Error{Code: CodeResourceInUse}
	ErrInvalidArgument       = &Error{Code: CodeInvalidArgument}
	ErrLimitExceeded         = &Error{Code: CodeLimitExceeded}
	ErrThroughputExceeded    = &Error{Code: CodeProvisionedThroughput}
	ErrExpiredIterator       = &Error{Code: CodeExpiredIterator}
	ErrExpiredNextToken      = &Error{Code: CodeExpiredNextToken}
	ErrValidation            = &Error{Code: CodeValidation}
	ErrClosed                = errors.New("shardlog: log closed")
	ErrSubscriptionCompleted = errors.New("shardlog: subscription completed")
)

// CodeOf returns the Kinesis error name of err: its *Error's code, or
// InternalFailure for any other error.
func CodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternalFailure
}
