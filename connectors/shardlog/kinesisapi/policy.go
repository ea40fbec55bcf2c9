package kinesisapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Per-stream permissions: an IAM-like identity policy per principal,
// evaluated as IAM evaluates one — an explicit Deny wins, then an Allow,
// and what no statement allows is denied. The action of an operation is
// "kinesis:" and its name; its resource is the stream's (or consumer's)
// ARN, from the one table below.

// A Policy is an identity-based policy document.
type Policy struct {
	Version   string      `json:"Version,omitempty"`
	Statement []Statement `json:"Statement"`
}

// A Statement allows or denies actions on resources. Action and Resource
// are a string or a list of strings; both match with the wildcards * (any
// run of characters) and ? (one character), actions without regard to
// case, as IAM matches them. NotAction, NotResource, Principal and
// Condition are not supported and refused, so that a policy never means
// less than it says.
type Statement struct {
	Sid      string    `json:"Sid,omitempty"`
	Effect   string    `json:"Effect"`
	Action   stringSet `json:"Action"`
	Resource stringSet `json:"Resource"`

	NotAction   json.RawMessage `json:"NotAction,omitempty"`
	NotResource json.RawMessage `json:"NotResource,omitempty"`
	Principal   json.RawMessage `json:"Principal,omitempty"`
	Condition   json.RawMessage `json:"Condition,omitempty"`
}

// stringSet is a policy member that is one string or a list of them.
type stringSet []string

func (ss *stringSet) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*ss = stringSet{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("must be a string or a list of strings")
	}
	*ss = many
	return nil
}

func (ss stringSet) MarshalJSON() ([]byte, error) {
	if len(ss) == 1 {
		return json.Marshal(ss[0])
	}
	return json.Marshal([]string(ss))
}

// compile checks the policy.
func (p *Policy) compile() error {
	if p.Version != "" && p.Version != "2012-10-17" && p.Version != "2008-10-17" {
		return fmt.Errorf("Version %q is not a policy language version (2012-10-17)", p.Version)
	}
	if len(p.Statement) == 0 {
		return errors.New("the policy has no Statement")
	}
	for i, st := range p.Statement {
		name := fmt.Sprintf("statement %d", i+1)
		if st.Sid != "" {
			name += " (" + st.Sid + ")"
		}
		switch {
		case st.Effect != "Allow" && st.Effect != "Deny":
			return fmt.Errorf("%s: Effect must be Allow or Deny, not %q", name, st.Effect)
		case st.NotAction != nil, st.NotResource != nil, st.Principal != nil, st.Condition != nil:
			return fmt.Errorf("%s: NotAction, NotResource, Principal and Condition are not supported", name)
		case len(st.Action) == 0:
			return fmt.Errorf("%s: no Action", name)
		case len(st.Resource) == 0:
			return fmt.Errorf("%s: no Resource", name)
		}
		for _, a := range st.Action {
			// firehose: actions are those of the Firehose API served
			// beside this one (sluice serve), checked through Authorize.
			if la := strings.ToLower(a); a != "*" && !strings.HasPrefix(la, "kinesis:") && !strings.HasPrefix(la, "firehose:") {
				return fmt.Errorf("%s: action %q is not a kinesis or firehose action (kinesis:Name, firehose:Name, kinesis:*, *)", name, a)
			}
		}
	}
	return nil
}

// decision is the outcome of evaluating a policy for one request.
type decision int

const (
	implicitDeny decision = iota
	allowed
	explicitDeny
)

// evaluate decides action on resource: an explicit deny wins over any
// allow; without a matching allow the request is denied.
func (p *Policy) evaluate(action, resource string) decision {
	d := implicitDeny
	for _, st := range p.Statement {
		if !st.matches(action, resource) {
			continue
		}
		if st.Effect == "Deny" {
			return explicitDeny
		}
		d = allowed
	}
	return d
}

func (st *Statement) matches(action, resource string) bool {
	hit := false
	for _, a := range st.Action {
		if wildcardMatch(strings.ToLower(a), strings.ToLower(action)) {
			hit = true
			break
		}
	}
	if !hit {
		return false
	}
	for _, r := range st.Resource {
		if wildcardMatch(r, resource) {
			return true
		}
	}
	return false
}

// wildcardMatch reports whether s matches pattern, where * matches any run
// of characters (none included) and ? exactly one; there is no escape, as
// in IAM. It runs in O(len(pattern)·len(s)) at worst.
func wildcardMatch(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// A resourceFunc names the resources an operation's decoded input acts
// on; an error is the refusal the operation itself would answer (an
// invalid iterator or NextToken), so that nothing is done without a
// decision.
type resourceFunc func(s *Server, in any) ([]string, error)

// permissions is the table of operation → resources; the action is
// always "kinesis:" + the operation's name. Every operation of the
// operations table has an entry (a test checks it).
var permissions = map[string]resourceFunc{
	"CreateStream": func(s *Server, in any) ([]string, error) {
		return one(s.streamARN(strOf(in.(*createStreamIn).StreamName)))
	},
	"DeleteStream":                  streamRefOf(func(in any) *streamRefIn { return &in.(*deleteStreamIn).streamRefIn }),
	"DescribeStream":                streamRefOf(func(in any) *streamRefIn { return &in.(*describeStreamIn).streamRefIn }),
	"DescribeStreamSummary":         streamRefOf(func(in any) *streamRefIn { return in.(*streamRefIn) }),
	"ListStreams":                   anyResource,
	"DescribeLimits":                anyResource,
	"ListShards":                    listShardsResources,
	"PutRecord":                     streamRefOf(func(in any) *streamRefIn { return &in.(*putRecordIn).streamRefIn }),
	"PutRecords":                    streamRefOf(func(in any) *streamRefIn { return &in.(*putRecordsIn).streamRefIn }),
	"GetShardIterator":              streamRefOf(func(in any) *streamRefIn { return &in.(*getShardIteratorIn).streamRefIn }),
	"GetRecords":                    getRecordsResources,
	"SplitShard":                    streamRefOf(func(in any) *streamRefIn { return &in.(*splitShardIn).streamRefIn }),
	"MergeShards":                   streamRefOf(func(in any) *streamRefIn { return &in.(*mergeShardsIn).streamRefIn }),
	"UpdateShardCount":              streamRefOf(func(in any) *streamRefIn { return &in.(*updateShardCountIn).streamRefIn }),
	"IncreaseStreamRetentionPeriod": streamRefOf(func(in any) *streamRefIn { return &in.(*retentionIn).streamRefIn }),
	"DecreaseStreamRetentionPeriod": streamRefOf(func(in any) *streamRefIn { return &in.(*retentionIn).streamRefIn }),
	"AddTagsToStream":               streamRefOf(func(in any) *streamRefIn { return &in.(*addTagsIn).streamRefIn }),
	"RemoveTagsFromStream":          streamRefOf(func(in any) *streamRefIn { return &in.(*removeTagsIn).streamRefIn }),
	"ListTagsForStream":             streamRefOf(func(in any) *streamRefIn { return &in.(*listTagsIn).streamRefIn }),
	"TagResource":                   func(_ *Server, in any) ([]string, error) { return one(strOf(in.(*tagResourceIn).ResourceARN)) },
	"UntagResource":                 func(_ *Server, in any) ([]string, error) { return one(strOf(in.(*untagResourceIn).ResourceARN)) },
	"ListTagsForResource":           func(_ *Server, in any) ([]string, error) { return one(strOf(in.(*resourceIn).ResourceARN)) },
	"UpdateStreamMode":              func(_ *Server, in any) ([]string, error) { return one(strOf(in.(*updateModeIn).StreamARN)) },
	"StartStreamEncryption":         streamRefOf(func(in any) *streamRefIn { return &in.(*encryptionIn).streamRefIn }),
	"StopStreamEncryption":          streamRefOf(func(in any) *streamRefIn { return &in.(*encryptionIn).streamRefIn }),
	"EnableEnhancedMonitoring":      streamRefOf(func(in any) *streamRefIn { return &in.(*monitoringIn).streamRefIn }),
	"DisableEnhancedMonitoring":     streamRefOf(func(in any) *streamRefIn { return &in.(*monitoringIn).streamRefIn }),
	"ListStreamConsumers":           func(_ *Server, in any) ([]string, error) { return one(strOf(in.(*listConsumersIn).StreamARN)) },
	// Registering acts on the stream and creates the consumer: both must
	// be allowed (the consumer's ARN is the stream's + /consumer/NAME,
	// without the creation time the service appends).
	"RegisterStreamConsumer": func(_ *Server, in any) ([]string, error) {
		c := in.(*registerConsumerIn)
		return []string{strOf(c.StreamARN), strOf(c.StreamARN) + "/consumer/" + strOf(c.ConsumerName)}, nil
	},
	"DescribeStreamConsumer":   consumerResources,
	"DeregisterStreamConsumer": consumerResources,
	"SubscribeToShard":         func(_ *Server, in any) ([]string, error) { return one(strOf(in.(*subscribeIn).ConsumerARN)) },
}

func one(r string) ([]string, error) { return []string{r}, nil }

func anyResource(*Server, any) ([]string, error) { return one("*") }

// streamRefOf is the resource of an input with a StreamName/StreamARN:
// the ARN given, else the ARN of the named stream in this server's
// account and region.
func streamRefOf(ref func(in any) *streamRefIn) resourceFunc {
	return func(s *Server, in any) ([]string, error) {
		r := ref(in)
		if r.StreamARN != nil {
			return one(*r.StreamARN)
		}
		return one(s.streamARN(strOf(r.StreamName)))
	}
}

func (s *Server) streamARN(name string) string {
	return "arn:aws:kinesis:" + s.region + ":" + s.account + ":stream/" + name
}

// listShardsResources: the stream, from its NextToken when it has one.
func listShardsResources(s *Server, in any) ([]string, error) {
	ls := in.(*listShardsIn)
	if ls.NextToken != nil && ls.StreamName == nil && ls.StreamARN == nil {
		t, err := s.decodeToken(*ls.NextToken)
		if err != nil {
			return nil, err
		}
		return one(s.streamARN(t.Stream))
	}
	return streamRefOf(func(in any) *streamRefIn { return &in.(*listShardsIn).streamRefIn })(s, in)
}

// getRecordsResources: the stream the iterator reads.
func getRecordsResources(s *Server, in any) ([]string, error) {
	gr := in.(*getRecordsIn)
	it, err := s.decodeIterator(strOf(gr.ShardIterator))
	if err != nil {
		return nil, err
	}
	return one(s.streamARN(it.Stream))
}

// consumerResources: the consumer's ARN, given or looked up by stream and
// name (if there is no such consumer, the ARN it would have without its
// creation time, and the operation then reports it missing).
func consumerResources(s *Server, in any) ([]string, error) {
	c := in.(*consumerIn)
	if c.ConsumerARN != nil {
		return one(*c.ConsumerARN)
	}
	if con, err := s.log.DescribeStreamConsumer(strOf(c.StreamARN), strOf(c.ConsumerName), ""); err == nil {
		return one(con.ARN)
	}
	return one(strOf(c.StreamARN) + "/consumer/" + strOf(c.ConsumerName))
}

// authorize decides whether p may run op with input in: nil when allowed
// or when there is nothing to check (no principal, no policy), else the
// service's AccessDeniedException.
func (s *Server) authorize(p *Principal, op string, in any) error {
	if p == nil || p.Policy == nil {
		return nil
	}
	res, ok := permissions[op]
	if !ok {
		return fmt.Errorf("kinesisapi: operation %s has no entry in the permissions table", op)
	}
	resources, err := res(s, in)
	if err != nil {
		return err
	}
	action := "kinesis:" + op
	for _, r := range resources {
		if err := denial(p, action, r); err != nil {
			return err
		}
	}
	return nil
}

// denial is the AccessDeniedException for p's action on resource r, or
// nil when p's policy allows it.
func denial(p *Principal, action, r string) error {
	d := p.Policy.evaluate(action, r)
	if d == allowed {
		return nil
	}
	// An action without resource-level permissions (resource "*") is
	// refused without naming a resource, as IAM words it.
	msg := "User: " + p.ARN + " is not authorized to perform: " + action
	if r != "*" {
		msg += " on resource: " + r
	}
	if d == explicitDeny {
		msg += " with an explicit deny in an identity-based policy"
	} else {
		msg += " because no identity-based policy allows the " + action + " action"
	}
	return &apiError{codeAccessDenied, msg}
}
