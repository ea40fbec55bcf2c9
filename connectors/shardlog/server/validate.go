package server

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// validator collects Kinesis-style field validation errors ("1 validation
// error detected: Value 'x' at 'streamName' failed to satisfy constraint:
// ...") and reports them together as one ValidationException.
type validator struct {
	msgs []string
}

func quoteVal(v string) string {
	if len(v) > 256 {
		v = v[:256] + "..."
	}
	return "'" + v + "'"
}

func (v *validator) add(val, field, constraint string) {
	v.msgs = append(v.msgs, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", val, field, constraint))
}

func (v *validator) required(present bool, field string) bool {
	if !present {
		v.msgs = append(v.msgs, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", field))
	}
	return present
}

func (v *validator) length(s *string, field string, lo, hi int) {
	if s == nil {
		return
	}
	if len(*s) < lo {
		v.add(quoteVal(*s), field, fmt.Sprintf("Member must have length greater than or equal to %d", lo))
	} else if len(*s) > hi {
		v.add(quoteVal(*s), field, fmt.Sprintf("Member must have length less than or equal to %d", hi))
	}
}

func (v *validator) pattern(s *string, field string, re *regexp.Regexp, reText string) {
	if s == nil || *s == "" {
		return
	}
	if !re.MatchString(*s) {
		v.add(quoteVal(*s), field, "Member must satisfy regular expression pattern: "+reText)
	}
}

func (v *validator) intRange(n *int64, field string, lo, hi int64) {
	if n == nil {
		return
	}
	if *n < lo {
		v.add(quoteVal(fmt.Sprint(*n)), field, fmt.Sprintf("Member must have value greater than or equal to %d", lo))
	} else if *n > hi {
		v.add(quoteVal(fmt.Sprint(*n)), field, fmt.Sprintf("Member must have value less than or equal to %d", hi))
	}
}

func (v *validator) enum(s *string, field string, allowed ...string) {
	if s == nil {
		return
	}
	for _, a := range allowed {
		if *s == a {
			return
		}
	}
	v.add(quoteVal(*s), field, "Member must satisfy enum value set: ["+strings.Join(allowed, ", ")+"]")
}

// streamName validates the usual StreamName/StreamARN pair.
func (v *validator) stream(name, arn *string) {
	v.length(name, "streamName", 1, 128)
	v.pattern(name, "streamName", streamNameRE, "[a-zA-Z0-9_.-]+")
	v.length(arn, "streamARN", 1, 2048)
	v.pattern(arn, "streamARN", streamARNRE, streamARNPattern)
}

func (v *validator) err() error {
	if len(v.msgs) == 0 {
		return nil
	}
	noun := "error"
	if len(v.msgs) > 1 {
		noun = "errors"
	}
	return &shardlog.Error{Code: shardlog.CodeValidation, Message: fmt.Sprintf("%d validation %s detected: %s", len(v.msgs), noun, strings.Join(v.msgs, "; "))}
}

const (
	streamARNPattern   = "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+"
	consumerARNPattern = "^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/[a-zA-Z0-9_.-]+:[0-9]+"
	hashKeyPattern     = "0|([1-9]\\d{0,38})"
	seqPattern         = "0|([1-9]\\d{0,128})"
	shardIDPattern     = "[a-zA-Z0-9_.-]+"
)

var (
	streamNameRE  = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
	streamARNRE   = regexp.MustCompile(`^arn:aws.*:kinesis:.*:\d{12}:stream/\S+$`)
	consumerARNRE = regexp.MustCompile(`^(arn):aws.*:kinesis:.*:\d{12}:.*stream/[a-zA-Z0-9_.-]+/consumer/[a-zA-Z0-9_.-]+:[0-9]+$`)
	hashKeyRE     = regexp.MustCompile(`^(0|([1-9]\d{0,38}))$`)
	seqRE         = regexp.MustCompile(`^(0|([1-9]\d{0,128}))$`)
	shardIDRE     = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
)
