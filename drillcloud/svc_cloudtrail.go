package drillcloud

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

var cloudTrailOps = map[string]*opDef{
	"LookupEvents": {readOnly: true, handle: ctLookupEvents},
}

// epochSeconds accepts awsJson timestamps (fractional epoch seconds).
type epochSeconds struct {
	t   time.Time
	set bool
}

func (e *epochSeconds) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return &json.UnsupportedValueError{Str: string(b)}
	}
	sec, frac := math.Modf(f)
	e.t, e.set = time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
	return nil
}

var lookupKeys = map[string]func(Event, string) bool{
	"EventId":     func(e Event, v string) bool { return e.ID == v },
	"EventName":   func(e Event, v string) bool { return e.Operation == v },
	"ReadOnly":    func(e Event, v string) bool { return strconv.FormatBool(e.ReadOnly) == v },
	"Username":    func(e Event, v string) bool { return e.UserName == v },
	"EventSource": func(e Event, v string) bool { return e.EventSource == v },
	"AccessKeyId": func(e Event, v string) bool { return e.AccessKeyID == v },
	"ResourceType": func(e Event, v string) bool {
		for _, r := range e.Resources {
			if r.Type == v {
				return true
			}
		}
		return false
	},
	"ResourceName": func(e Event, v string) bool {
		for _, r := range e.Resources {
			if r.Name == v {
				return true
			}
		}
		return false
	},
}

// ctLookupEvents answers from the drill cloud's own call log: the caller's
// account and region, newest first, one lookup attribute, rate-limited per
// account-region like CloudTrail.
func ctLookupEvents(cl *call) (*response, error) {
	var in struct {
		LookupAttributes []struct{ AttributeKey, AttributeValue string }
		StartTime        epochSeconds
		EndTime          epochSeconds
		EventCategory    string
		jsonPage
	}
	if e := cl.decodeJSON(&in); e != nil {
		return nil, e
	}
	if !cl.c.allowLookup(cl.id.account, cl.region, time.Now()) {
		return nil, errf(400, "ThrottlingException", "Rate exceeded")
	}
	if len(in.LookupAttributes) > 1 {
		return nil, errf(400, "InvalidLookupAttributesException", "You can only specify one lookup attribute.")
	}
	var match func(Event) bool
	for _, la := range in.LookupAttributes {
		f := lookupKeys[la.AttributeKey]
		if f == nil {
			return nil, errf(400, "InvalidLookupAttributesException", "Invalid lookup attribute key %q.", la.AttributeKey)
		}
		if la.AttributeValue == "" {
			return nil, errf(400, "InvalidLookupAttributesException", "The lookup attribute value must not be empty.")
		}
		v := la.AttributeValue
		match = func(e Event) bool { return f(e, v) }
		cl.param("lookupAttribute", la.AttributeKey+"="+v)
	}
	max, e := maxResults(in.MaxResults, 50, func(int) *apiError {
		return errf(400, "InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
	})
	if e != nil {
		return nil, e
	}
	end := cl.now
	if in.EndTime.set {
		end = in.EndTime.t
	}
	start := end.Add(-90 * 24 * time.Hour)
	if in.StartTime.set {
		start = in.StartTime.t
	}
	if start.After(end) {
		return nil, errf(400, "InvalidTimeRangeException", "Start time must be before end time.")
	}
	before := int64(math.MaxInt64)
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		n, err2 := strconv.ParseInt(strings.TrimPrefix(string(b), "seq:"), 10, 64)
		if err != nil || err2 != nil || !strings.HasPrefix(string(b), "seq:") || n <= 0 {
			return nil, errf(400, "InvalidNextTokenException", "Invalid NextToken.")
		}
		before = n
	}
	type resource struct{ ResourceType, ResourceName string }
	type event struct {
		EventId         string
		EventName       string
		ReadOnly        string
		AccessKeyId     string `json:",omitempty"`
		EventTime       epochTime
		EventSource     string
		Username        string `json:",omitempty"`
		Resources       []resource
		CloudTrailEvent string
	}
	var out struct {
		Events    []event
		NextToken string `json:",omitempty"`
	}
	out.Events = []event{}
	if in.EventCategory == "insight" {
		return jsonResponse(smJSON, cl.reqID, out)
	}
	c := cl.c
	var lastSeq int64
	c.logMu.Lock()
	for i := len(c.events) - 1; i >= 0; i-- {
		e := c.events[i]
		if e.Seq >= before || e.Account != cl.id.account || e.Region != cl.region ||
			e.Time.Before(start) || e.Time.After(end) || (match != nil && !match(e)) {
			continue
		}
		if len(out.Events) == max {
			out.NextToken = base64.RawURLEncoding.EncodeToString([]byte("seq:" + strconv.FormatInt(lastSeq, 10)))
			break
		}
		res := []resource{}
		for _, r := range e.Resources {
			res = append(res, resource{r.Type, r.Name})
		}
		out.Events = append(out.Events, event{
			EventId: e.ID, EventName: e.Operation, ReadOnly: strconv.FormatBool(e.ReadOnly), AccessKeyId: e.AccessKeyID,
			EventTime: epochTime(e.Time), EventSource: e.EventSource, Username: e.UserName, Resources: res,
			CloudTrailEvent: e.cloudTrailJSON(),
		})
		lastSeq = e.Seq
	}
	c.logMu.Unlock()
	return jsonResponse(smJSON, cl.reqID, out)
}
