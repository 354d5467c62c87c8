package drillcloud

import (
	"encoding/json"
	"strings"
	"time"
)

// Event is one request to the drill cloud, recorded whether it succeeded or
// was refused. It is also what CloudTrail LookupEvents returns.
type Event struct {
	Seq         int64
	ID          string // CloudTrail eventID
	RequestID   string
	Time        time.Time
	Service     string // signing name: iam, sts, s3, …
	Operation   string // API operation, CloudTrail eventName
	EventSource string // e.g. iam.amazonaws.com
	Action      string // IAM action evaluated, e.g. s3:ListAllMyBuckets
	AccessKeyID string
	Account     string // owning account of the key; empty if the key is unknown
	Principal   string // caller ARN
	UserName    string // IAM user name, or role session name
	Region      string
	SourceIP    string
	UserAgent   string
	HTTPStatus  int
	ErrorCode   string
	ErrorMsg    string
	ReadOnly    bool
	// RequestParameters are the non-secret inputs (never secret values or
	// key material).
	RequestParameters map[string]string
	Resources         []EventResource
	// Applied is true when the call changed state.
	Applied bool
	// Fault names an injected fault that shaped this call, if any.
	Fault FaultKind
}

// EventResource is a resource a call referred to, as in CloudTrail.
type EventResource struct {
	Type string // e.g. AWS::IAM::AccessKey
	Name string
}

// Calls returns a copy of the call log in arrival order.
func (c *Cloud) Calls() []Event {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	out := make([]Event, len(c.events))
	copy(out, c.events)
	return out
}

// Applied counts calls of op that changed state. op is an operation name
// ("UpdateAccessKey") or service-qualified ("iam:UpdateAccessKey").
func (c *Cloud) Applied(op string) int {
	svc, name, qualified := strings.Cut(op, ":")
	if !qualified {
		name = svc
	}
	c.logMu.Lock()
	defer c.logMu.Unlock()
	n := 0
	for _, e := range c.events {
		if e.Applied && e.Operation == name && (!qualified || e.Service == svc) {
			n++
		}
	}
	return n
}

// CallsBy returns the calls made with one access key id, in order.
func (c *Cloud) CallsBy(keyID string) []Event {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	var out []Event
	for _, e := range c.events {
		if e.AccessKeyID == keyID {
			out = append(out, e)
		}
	}
	return out
}

func (c *Cloud) record(e Event) {
	c.logMu.Lock()
	c.seq++
	e.Seq = c.seq
	c.events = append(c.events, e)
	c.logMu.Unlock()
}

// cloudTrailJSON renders the CloudTrailEvent string for an event.
func (e Event) cloudTrailJSON() string {
	identity := map[string]any{
		"accountId":   e.Account,
		"accessKeyId": e.AccessKeyID,
		"arn":         e.Principal,
	}
	switch {
	case strings.Contains(e.Principal, ":assumed-role/"):
		identity["type"] = "AssumedRole"
		// As in CloudTrail, the session names the role that issued it, which is
		// how a responder finds the role behind a stolen ASIA key.
		_, rest, _ := strings.Cut(e.Principal, ":assumed-role/")
		if role, _, ok := strings.Cut(rest, "/"); ok {
			identity["sessionContext"] = map[string]any{
				"sessionIssuer": map[string]string{
					"type": "Role", "accountId": e.Account, "userName": role,
					"arn": "arn:aws:iam::" + e.Account + ":role/" + role,
				},
				"attributes": map[string]string{"mfaAuthenticated": "false"},
			}
		}
	case strings.HasPrefix(e.AccessKeyID, "ASIA"):
		identity["type"] = "IAMUser"
		identity["userName"] = e.UserName
		identity["sessionContext"] = map[string]any{"attributes": map[string]string{"mfaAuthenticated": "false"}}
	default:
		identity["type"] = "IAMUser"
		identity["userName"] = e.UserName
	}
	params := map[string]string{}
	for k, v := range e.RequestParameters {
		params[k] = v
	}
	m := map[string]any{
		"eventVersion":       "1.09",
		"userIdentity":       identity,
		"eventTime":          e.Time.UTC().Format("2006-01-02T15:04:05Z"),
		"eventSource":        e.EventSource,
		"eventName":          e.Operation,
		"awsRegion":          e.Region,
		"sourceIPAddress":    e.SourceIP,
		"userAgent":          e.UserAgent,
		"requestParameters":  params,
		"responseElements":   nil,
		"requestID":          e.RequestID,
		"eventID":            e.ID,
		"readOnly":           e.ReadOnly,
		"eventType":          "AwsApiCall",
		"managementEvent":    true,
		"recipientAccountId": e.Account,
		"eventCategory":      "Management",
	}
	if e.ErrorCode != "" {
		m["errorCode"] = e.ErrorCode
		m["errorMessage"] = e.ErrorMsg
	}
	b, _ := json.Marshal(m)
	return string(b)
}
