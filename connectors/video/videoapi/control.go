package videoapi

import (
	"encoding/base64"
	"net/http"
	"sort"

	"github.com/sluicehq/sluice/connectors/internal/awsjson"
	"github.com/sluicehq/sluice/connectors/video"
)

// An operation of the control plane: its name (for policies and errors)
// and its work, which reads the request itself.
type controlOp struct {
	name string
	run  func(s *Server, r *http.Request) (any, *apiError)
}

// controlOps are the control plane's operations by path, as the
// kinesisvideo model's requestUri.
var controlOps = map[string]controlOp{
	"/createStream":        {"CreateStream", (*Server).createStream},
	"/describeStream":      {"DescribeStream", (*Server).describeStream},
	"/listStreams":         {"ListStreams", (*Server).listStreams},
	"/deleteStream":        {"DeleteStream", (*Server).deleteStream},
	"/updateDataRetention": {"UpdateDataRetention", (*Server).updateDataRetention},
	"/updateStream":        {"UpdateStream", (*Server).updateStream},
	"/getDataEndpoint":     {"GetDataEndpoint", (*Server).getDataEndpoint},
	"/tagStream":           {"TagStream", (*Server).tagStream},
	"/untagStream":         {"UntagStream", (*Server).untagStream},
	"/listTagsForStream":   {"ListTagsForStream", (*Server).listTagsForStream},
	"/TagResource":         {"TagResource", (*Server).tagResource},
	"/UntagResource":       {"UntagResource", (*Server).untagResource},
	"/ListTagsForResource": {"ListTagsForResource", (*Server).listTagsForResource},
}

func (s *Server) control(op controlOp) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeError(w, &apiError{"UnknownOperationException", ""})
			return
		}
		out, e := op.run(s, r)
		if e != nil {
			writeError(w, e)
			return
		}
		if out == nil {
			out = struct{}{}
		}
		writeJSON(w, out)
	})
}

// check answers the violations as one InvalidArgumentException.
func check(vs *awsjson.Violations) *apiError {
	if len(vs.Msgs) == 0 {
		return nil
	}
	return invalid(awsjson.Message(vs.Msgs))
}

// target reads a request that names a stream by name or ARN, checks those
// members, authenticates and authorizes it.
type target struct {
	StreamName *string `json:"StreamName"`
	StreamARN  *string `json:"StreamARN"`
}

func (t *target) check(vs *awsjson.Violations) {
	vs.Check("streamName", awsjson.Str(t.StreamName), ruleStreamName)
	vs.Check("streamARN", awsjson.Str(t.StreamARN), ruleARN)
}

func (s *Server) createStream(r *http.Request) (any, *apiError) {
	var in struct {
		DeviceName           *string           `json:"DeviceName"`
		StreamName           *string           `json:"StreamName"`
		MediaType            *string           `json:"MediaType"`
		KmsKeyID             *string           `json:"KmsKeyId"`
		DataRetentionInHours *int              `json:"DataRetentionInHours"`
		Tags                 map[string]string `json:"Tags"`
	}
	p, e := s.readBody(r, &in)
	if e != nil {
		return nil, e
	}
	var vs awsjson.Violations
	vs.Check("deviceName", awsjson.Str(in.DeviceName), ruleDevice)
	vs.Check("streamName", awsjson.Str(in.StreamName), ruleStreamName.Need())
	vs.Check("mediaType", awsjson.Str(in.MediaType), ruleMediaType)
	vs.Check("kmsKeyId", awsjson.Str(in.KmsKeyID), ruleKms)
	vs.Check("dataRetentionInHours", num(in.DataRetentionInHours), awsjson.Rule{Min: 0, Max: 1<<31 - 1, HasRange: true})
	checkTags(&vs, "tags", in.Tags, false)
	if e := check(&vs); e != nil {
		return nil, e
	}
	if e := s.authorize(p, "CreateStream", "*"); e != nil {
		return nil, e
	}
	hours := 0
	if in.DataRetentionInHours != nil {
		hours = *in.DataRetentionInHours
	}
	info, err := s.store.CreateStream(r.Context(), video.CreateInput{
		Name: *in.StreamName, DeviceName: deref(in.DeviceName), MediaType: deref(in.MediaType),
		KmsKeyID: deref(in.KmsKeyID), DataRetentionInHours: hours, Tags: in.Tags,
	})
	if err != nil {
		return nil, s.asAPIError(err)
	}
	return struct {
		StreamARN string `json:"StreamARN"`
	}{info.ARN}, nil
}

// named reads a request naming one stream by name or ARN, the rest of its
// members into in (which embeds target), checks them with more, and
// authorizes op on the stream.
func (s *Server) named(r *http.Request, op string, in interface{ tgt() *target }, more func(vs *awsjson.Violations)) (video.StreamInfo, *apiError) {
	p, e := s.readBody(r, in)
	if e != nil {
		return video.StreamInfo{}, e
	}
	t := in.tgt()
	var vs awsjson.Violations
	t.check(&vs)
	if more != nil {
		more(&vs)
	}
	if e := check(&vs); e != nil {
		return video.StreamInfo{}, e
	}
	if e := nameOrARNErr(t); e != nil {
		return video.StreamInfo{}, e
	}
	if e := s.authorize(p, op, s.resourceOf(r.Context(), t.StreamName, t.StreamARN)); e != nil {
		return video.StreamInfo{}, e
	}
	info, err := s.store.Stream(r.Context(), deref(t.StreamName), deref(t.StreamARN))
	if err != nil {
		return video.StreamInfo{}, s.asAPIError(err)
	}
	return info, nil
}

func nameOrARNErr(t *target) *apiError {
	if err := nameOrARN(t.StreamName, t.StreamARN); err != nil {
		return err.(*apiError)
	}
	return nil
}

func (t *target) tgt() *target { return t }

func (s *Server) describeStream(r *http.Request) (any, *apiError) {
	var in target
	info, e := s.named(r, "DescribeStream", &in, nil)
	if e != nil {
		return nil, e
	}
	return struct {
		StreamInfo streamInfo `json:"StreamInfo"`
	}{wireInfo(info)}, nil
}

func (s *Server) listStreams(r *http.Request) (any, *apiError) {
	var in struct {
		MaxResults          *int    `json:"MaxResults"`
		NextToken           *string `json:"NextToken"`
		StreamNameCondition *struct {
			ComparisonOperator *string `json:"ComparisonOperator"`
			ComparisonValue    *string `json:"ComparisonValue"`
		} `json:"StreamNameCondition"`
	}
	p, e := s.readBody(r, &in)
	if e != nil {
		return nil, e
	}
	var vs awsjson.Violations
	vs.Check("maxResults", num(in.MaxResults), awsjson.Rule{Min: 1, Max: 10000, HasRange: true})
	vs.Check("nextToken", awsjson.Str(in.NextToken), ruleToken)
	prefix := ""
	if c := in.StreamNameCondition; c != nil {
		vs.Check("streamNameCondition.comparisonOperator", awsjson.Str(c.ComparisonOperator), awsjson.EnumRule("BEGINS_WITH"))
		vs.Check("streamNameCondition.comparisonValue", awsjson.Str(c.ComparisonValue), ruleStreamName)
		prefix = deref(c.ComparisonValue)
	}
	if e := check(&vs); e != nil {
		return nil, e
	}
	if e := s.authorize(p, "ListStreams", "*"); e != nil {
		return nil, e
	}
	max := 10000
	if in.MaxResults != nil {
		max = *in.MaxResults
	}
	after := ""
	if in.NextToken != nil && *in.NextToken != "" {
		b, err := base64.StdEncoding.DecodeString(*in.NextToken)
		if err != nil || len(b) == 0 {
			return nil, invalid("The NextToken is not valid.")
		}
		after = string(b)
	}
	all := s.store.ListStreams(prefix)
	i := sort.Search(len(all), func(i int) bool { return all[i].Name > after })
	out := struct {
		StreamInfoList []streamInfo `json:"StreamInfoList"`
		NextToken      *string      `json:"NextToken,omitempty"`
	}{StreamInfoList: []streamInfo{}}
	for ; i < len(all) && len(out.StreamInfoList) < max; i++ {
		out.StreamInfoList = append(out.StreamInfoList, wireInfo(all[i]))
	}
	if i < len(all) {
		tok := base64.StdEncoding.EncodeToString([]byte(out.StreamInfoList[len(out.StreamInfoList)-1].StreamName))
		out.NextToken = &tok
	}
	return out, nil
}

func (s *Server) deleteStream(r *http.Request) (any, *apiError) {
	var in struct {
		StreamARN      *string `json:"StreamARN"`
		CurrentVersion *string `json:"CurrentVersion"`
	}
	p, e := s.readBody(r, &in)
	if e != nil {
		return nil, e
	}
	var vs awsjson.Violations
	vs.Check("streamARN", awsjson.Str(in.StreamARN), ruleARN.Need())
	vs.Check("currentVersion", awsjson.Str(in.CurrentVersion), ruleVersion)
	if e := check(&vs); e != nil {
		return nil, e
	}
	if e := s.authorize(p, "DeleteStream", *in.StreamARN); e != nil {
		return nil, e
	}
	if err := s.store.DeleteStream(r.Context(), *in.StreamARN, deref(in.CurrentVersion)); err != nil {
		return nil, s.asAPIError(err)
	}
	return nil, nil
}

func (s *Server) updateDataRetention(r *http.Request) (any, *apiError) {
	var in struct {
		target
		CurrentVersion             *string `json:"CurrentVersion"`
		Operation                  *string `json:"Operation"`
		DataRetentionChangeInHours *int    `json:"DataRetentionChangeInHours"`
	}
	info, e := s.named(r, "UpdateDataRetention", &in, func(vs *awsjson.Violations) {
		vs.Check("currentVersion", awsjson.Str(in.CurrentVersion), ruleVersion.Need())
		vs.Check("operation", awsjson.Str(in.Operation), awsjson.EnumRule("INCREASE_DATA_RETENTION", "DECREASE_DATA_RETENTION").Need())
		vs.Check("dataRetentionChangeInHours", num(in.DataRetentionChangeInHours), awsjson.Rule{Required: true, Min: 1, Max: 1<<31 - 1, HasRange: true})
	})
	if e != nil {
		return nil, e
	}
	err := s.store.UpdateDataRetention(r.Context(), info.Name, "", *in.CurrentVersion,
		*in.Operation == "INCREASE_DATA_RETENTION", *in.DataRetentionChangeInHours)
	if err != nil {
		return nil, s.asAPIError(err)
	}
	return nil, nil
}

func (s *Server) updateStream(r *http.Request) (any, *apiError) {
	var in struct {
		target
		CurrentVersion *string `json:"CurrentVersion"`
		DeviceName     *string `json:"DeviceName"`
		MediaType      *string `json:"MediaType"`
	}
	info, e := s.named(r, "UpdateStream", &in, func(vs *awsjson.Violations) {
		vs.Check("currentVersion", awsjson.Str(in.CurrentVersion), ruleVersion.Need())
		vs.Check("deviceName", awsjson.Str(in.DeviceName), ruleDevice)
		vs.Check("mediaType", awsjson.Str(in.MediaType), ruleMediaType)
	})
	if e != nil {
		return nil, e
	}
	if err := s.store.UpdateStream(r.Context(), info.Name, "", *in.CurrentVersion, in.DeviceName, in.MediaType); err != nil {
		return nil, s.asAPIError(err)
	}
	return nil, nil
}

var apiNames = []string{"PUT_MEDIA", "GET_MEDIA", "LIST_FRAGMENTS", "GET_MEDIA_FOR_FRAGMENT_LIST",
	"GET_HLS_STREAMING_SESSION_URL", "GET_DASH_STREAMING_SESSION_URL", "GET_CLIP", "GET_IMAGES"}

func (s *Server) getDataEndpoint(r *http.Request) (any, *apiError) {
	var in struct {
		target
		APIName *string `json:"APIName"`
	}
	if _, e := s.named(r, "GetDataEndpoint", &in, func(vs *awsjson.Violations) {
		vs.Check("aPIName", awsjson.Str(in.APIName), awsjson.EnumRule(apiNames...).Need())
	}); e != nil {
		return nil, e
	}
	// Every API is served at this one address.
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return struct {
		DataEndpoint string `json:"DataEndpoint"`
	}{scheme + "://" + r.Host}, nil
}

func (s *Server) tagStream(r *http.Request) (any, *apiError) {
	var in struct {
		target
		Tags map[string]string `json:"Tags"`
	}
	info, e := s.named(r, "TagStream", &in, func(vs *awsjson.Violations) { checkTags(vs, "tags", in.Tags, true) })
	if e != nil {
		return nil, e
	}
	if err := s.store.TagStream(r.Context(), info.Name, "", in.Tags); err != nil {
		return nil, s.asAPIError(err)
	}
	return nil, nil
}

func checkKeys(vs *awsjson.Violations, keys []string) {
	if vs.Check("tagKeyList", awsjson.Strs(keys), awsjson.LengthRule(1, 50).Need()) {
		vs.CheckElements("tagKeyList", awsjson.Strs(keys), keys, "Member", 1, 128)
	}
}

func (s *Server) untagStream(r *http.Request) (any, *apiError) {
	var in struct {
		target
		TagKeyList []string `json:"TagKeyList"`
	}
	info, e := s.named(r, "UntagStream", &in, func(vs *awsjson.Violations) { checkKeys(vs, in.TagKeyList) })
	if e != nil {
		return nil, e
	}
	if err := s.store.UntagStream(r.Context(), info.Name, "", in.TagKeyList); err != nil {
		return nil, s.asAPIError(err)
	}
	return nil, nil
}

func (s *Server) listTagsForStream(r *http.Request) (any, *apiError) {
	var in struct {
		target
		NextToken *string `json:"NextToken"`
	}
	info, e := s.named(r, "ListTagsForStream", &in, func(vs *awsjson.Violations) {
		vs.Check("nextToken", awsjson.Str(in.NextToken), ruleToken)
	})
	if e != nil {
		return nil, e
	}
	tags, err := s.store.StreamTags(r.Context(), info.Name, "")
	if err != nil {
		return nil, s.asAPIError(err)
	}
	return struct {
		Tags map[string]string `json:"Tags"`
	}{tags}, nil
}

// resource reads a request naming a stream by ResourceARN.
func (s *Server) resource(r *http.Request, op string, in any, arn **string, more func(vs *awsjson.Violations)) (video.StreamInfo, *apiError) {
	p, e := s.readBody(r, in)
	if e != nil {
		return video.StreamInfo{}, e
	}
	var vs awsjson.Violations
	vs.Check("resourceARN", awsjson.Str(*arn), ruleARN.Need())
	more(&vs)
	if e := check(&vs); e != nil {
		return video.StreamInfo{}, e
	}
	if e := s.authorize(p, op, **arn); e != nil {
		return video.StreamInfo{}, e
	}
	info, err := s.store.Stream(r.Context(), "", **arn)
	if err != nil {
		return video.StreamInfo{}, s.asAPIError(err)
	}
	return info, nil
}

type wireTag struct {
	Key   *string `json:"Key"`
	Value *string `json:"Value"`
}

func (s *Server) tagResource(r *http.Request) (any, *apiError) {
	var in struct {
		ResourceARN *string   `json:"ResourceARN"`
		Tags        []wireTag `json:"Tags"`
	}
	tags := map[string]string{}
	info, e := s.resource(r, "TagResource", &in, &in.ResourceARN, func(vs *awsjson.Violations) {
		if !vs.Check("tags", awsjson.List(in.Tags), awsjson.LengthRule(1, 50).Need()) {
			return
		}
		for i, t := range in.Tags {
			path := "tags." + itoa(i+1) + ".member."
			vs.Check(path+"key", awsjson.Str(t.Key), awsjson.PatternRule(tagKeyPat, 1, 128).Need())
			vs.Check(path+"value", awsjson.Str(t.Value), awsjson.PatternRule(tagValuePat, 0, 256).Need())
			if t.Key != nil && t.Value != nil {
				tags[*t.Key] = *t.Value
			}
		}
	})
	if e != nil {
		return nil, e
	}
	if err := s.store.TagStream(r.Context(), info.Name, "", tags); err != nil {
		return nil, s.asAPIError(err)
	}
	return nil, nil
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

func (s *Server) untagResource(r *http.Request) (any, *apiError) {
	var in struct {
		ResourceARN *string  `json:"ResourceARN"`
		TagKeyList  []string `json:"TagKeyList"`
	}
	info, e := s.resource(r, "UntagResource", &in, &in.ResourceARN, func(vs *awsjson.Violations) { checkKeys(vs, in.TagKeyList) })
	if e != nil {
		return nil, e
	}
	if err := s.store.UntagStream(r.Context(), info.Name, "", in.TagKeyList); err != nil {
		return nil, s.asAPIError(err)
	}
	return nil, nil
}

func (s *Server) listTagsForResource(r *http.Request) (any, *apiError) {
	var in struct {
		ResourceARN *string `json:"ResourceARN"`
		NextToken   *string `json:"NextToken"`
	}
	info, e := s.resource(r, "ListTagsForResource", &in, &in.ResourceARN, func(vs *awsjson.Violations) {
		vs.Check("nextToken", awsjson.Str(in.NextToken), ruleToken)
	})
	if e != nil {
		return nil, e
	}
	tags, err := s.store.StreamTags(r.Context(), info.Name, "")
	if err != nil {
		return nil, s.asAPIError(err)
	}
	return struct {
		Tags map[string]string `json:"Tags"`
	}{tags}, nil
}
