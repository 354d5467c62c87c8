package adapters

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sever-ir/sever"
)

// eventBridgeEvent is the envelope EventBridge wraps every AWS event in. Detail is
// decoded separately so its errors can be named under "detail".
type eventBridgeEvent struct {
	ID      string          `json:"id"`
	Source  string          `json:"source"`
	Account string          `json:"account"`
	Time    string          `json:"time"`
	Detail  json.RawMessage `json:"detail"`
}

// readEventBridge decodes the envelope and checks what every EventBridge event has.
// wantSource is the "source" the endpoint takes; an event from another source is
// an error rather than ignored, because it means a rule targets the wrong endpoint.
func readEventBridge(body []byte, wantSource string) (eventBridgeEvent, time.Time, error) {
	var ev eventBridgeEvent
	if err := decodeJSON(body, &ev); err != nil {
		return ev, time.Time{}, err
	}
	switch {
	case ev.Source == "":
		return ev, time.Time{}, invalid("source", "source is required (an EventBridge event with source %s)", wantSource)
	case ev.Source != wantSource:
		return ev, time.Time{}, invalid("source", "this endpoint takes EventBridge events with source %s, not %q%s",
			wantSource, clip(ev.Source, 64), elsewhere(ev.Source))
	}
	if err := checkID("id", ev.ID); err != nil {
		return ev, time.Time{}, err
	}
	if err := required("time", ev.Time); err != nil {
		return ev, time.Time{}, err
	}
	at, err := parseTime("time", ev.Time)
	if err != nil {
		return ev, time.Time{}, err
	}
	if len(ev.Detail) == 0 || string(ev.Detail) == "null" {
		return ev, time.Time{}, invalid("detail", "detail is required")
	}
	if ev.Detail[0] != '{' {
		return ev, time.Time{}, invalid("detail", "detail: want an object")
	}
	return ev, at, nil
}

// elsewhere points a misrouted EventBridge event at its endpoint.
func elsewhere(source string) string {
	switch source {
	case "aws.health":
		return "; send AWS Health events to /v1/signals/aws-health"
	case "aws.guardduty":
		return "; send GuardDuty findings to /v1/signals/guardduty"
	}
	return ""
}

// awsHealthDetail is the part of an AWS Health event's detail sever reads.
type awsHealthDetail struct {
	EventTypeCode    string             `json:"eventTypeCode"`
	StartTime        string             `json:"startTime"`
	AffectedAccount  string             `json:"affectedAccount"`
	EventMetadata    *awsHealthMetadata `json:"eventMetadata"`
	AffectedEntities []awsHealthEntity  `json:"affectedEntities"`
}

type awsHealthMetadata struct {
	PublicKey  string `json:"publicKey"`
	UserName   string `json:"userName"`
	AccountID  string `json:"accountId"`
	ExposedURL string `json:"exposedUrl"`
}

type awsHealthEntity struct {
	EntityValue string `json:"entityValue"`
}

// AWS Health event types about an IAM access key. AWS's own automation
// (aws/aws-health-tools' risk_credentials_exposed rule) acts on all five.
const (
	// EventCredentialsExposed: AWS found one of the account's access keys in public.
	EventCredentialsExposed = "AWS_RISK_CREDENTIALS_EXPOSED"
	// EventCredentialsExposureSuspected: AWS believes a key may be in public.
	EventCredentialsExposureSuspected = "AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED"
	// EventCredentialsCompromised: AWS saw the key used by someone else.
	EventCredentialsCompromised = "AWS_RISK_CREDENTIALS_COMPROMISED"
	// EventCredentialsCompromiseSuspected: AWS believes the key may be in use by someone else.
	EventCredentialsCompromiseSuspected = "AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED"
	// EventIAMQuarantine: AWS attached a quarantine policy to the key's user.
	EventIAMQuarantine = "AWS_RISK_IAM_QUARANTINE"
)

// healthRisk is what one AWS risk event type means: the kind and severity of the
// signal for each key it names, and whether AWS also quarantines the key's user
// (a second, vendor_action signal).
type healthRisk struct {
	kind       sever.SignalKind
	severity   string
	claim      string // what AWS says, for the summary
	quarantine bool
}

var healthRisks = map[string]healthRisk{
	EventCredentialsExposed:             {sever.KindCredentialExposed, "critical", "AWS found access key %s%s of account %s exposed in public%s", true},
	EventCredentialsExposureSuspected:   {sever.KindCredentialExposed, "high", "AWS suspects access key %s%s of account %s is exposed in public%s", false},
	EventCredentialsCompromised:         {sever.KindAbuseReport, "critical", "AWS found access key %s%s of account %s used by an unauthorized party%s", false},
	EventCredentialsCompromiseSuspected: {sever.KindAbuseReport, "high", "AWS suspects access key %s%s of account %s is used by an unauthorized party%s", false},
	EventIAMQuarantine:                  {sever.KindVendorAction, "info", "AWS quarantined the user of access key %s%s of account %s (AWSCompromisedKeyQuarantine policy)%s", false},
}

// healthTimeLayouts are the ways AWS writes an AWS Health time: RFC 1123 with a
// one- or two-digit day (its own mock events write "Tue, 7 Feb 2017 …"; Go's "2"
// reads both), with a zone name or a numeric zone, and RFC 3339.
var healthTimeLayouts = []string{
	"Mon, 2 Jan 2006 15:04:05 MST",
	"Mon, 2 Jan 2006 15:04:05 -0700",
	time.RFC3339Nano,
}

func parseHealthTime(field, v string) (time.Time, error) {
	for _, l := range healthTimeLayouts {
		if t, err := time.Parse(l, strings.TrimSpace(v)); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, invalid(field, "%s: want an RFC 1123 time such as \"Sun, 5 Jun 2016 15:10:09 GMT\" or an RFC 3339 time", field)
}

// QuarantineSuffix follows the event ID in the source event ID of the
// vendor_action signal an AWS_RISK_CREDENTIALS_EXPOSED event also yields
// ("<id>#quarantine@<time>#<digest>"), so that it never dedupes against the
// exposure signal from the same event.
const QuarantineSuffix = "#quarantine"

// ParseAWSHealth reads an AWS Health event as EventBridge delivers it (source
// aws.health). The five AWS risk event types about access keys yield, for each key
// the event names, one vendor signal (healthRisks): exposure and suspected
// exposure are credential_exposed, compromise and suspected compromise
// abuse_report, AWS_RISK_IAM_QUARANTINE vendor_action. AWS_RISK_CREDENTIALS_EXPOSED
// also yields a vendor_action signal: AWS attaches its AWSCompromisedKeyQuarantine
// policy to the key's user when it raises this event, while the key itself stays
// active. Every other Health event is ignored.
//
// The source event ID is the EventBridge event id, which a redelivery of the same
// event keeps, at the event's time, with a digest of the body (see sourceEventID).
// The credential is detail.eventMetadata.publicKey; AWS's own samples carry the key
// only in detail.affectedEntities[].entityValue, so those are used when
// eventMetadata has none.
func ParseAWSHealth(body []byte) (Result, error) {
	ev, sent, err := readEventBridge(body, "aws.health")
	if err != nil {
		return Result{}, err
	}
	var d awsHealthDetail
	if err := unmarshal(ev.Detail, "detail", &d); err != nil {
		return Result{}, err
	}
	if err := required("detail.eventTypeCode", d.EventTypeCode); err != nil {
		return Result{}, err
	}
	event := clip(d.EventTypeCode, 128)
	risk, ok := healthRisks[d.EventTypeCode]
	if !ok {
		return ignored(event, "AWS Health event %s is not a credential exposure, compromise or quarantine (only the AWS_RISK_CREDENTIALS_* and %s events open an incident); no incident",
			event, EventIAMQuarantine), nil
	}

	observed := sent
	if d.StartTime != "" {
		if observed, err = parseHealthTime("detail.startTime", d.StartTime); err != nil {
			return Result{}, err
		}
	}
	var md awsHealthMetadata
	if d.EventMetadata != nil {
		md = *d.EventMetadata
	}
	keys, err := exposedKeys(d.EventTypeCode, md, d.AffectedEntities)
	if err != nil {
		return Result{}, err
	}
	account := or(md.AccountID, d.AffectedAccount, ev.Account)
	for _, f := range []struct{ field, v string }{
		{"detail.eventMetadata.accountId", md.AccountID},
		{"detail.affectedAccount", d.AffectedAccount},
		{"account", ev.Account},
	} {
		if err := checkAccount(f.field, f.v); err != nil {
			return Result{}, err
		}
	}
	if len(md.UserName) > 128 {
		return Result{}, invalid("detail.eventMetadata.userName", "detail.eventMetadata.userName is longer than 128 characters")
	}

	res := Result{Event: event}
	for _, key := range keys {
		id := ev.ID
		if len(keys) > 1 {
			// One event naming several keys: each key's signals need their own event id.
			id += "#" + key
		}
		cred := sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: key, Principal: md.UserName, Account: account}
		where := ""
		if u := safeURL(md.ExposedURL); u != "" {
			where = " at " + u
		}
		res.Signals = append(res.Signals, sever.Signal{
			Source: SourceAWSHealth, SourceEventID: id, Origin: sever.OriginVendor, Kind: risk.kind,
			ObservedAt: observed, Credential: cred, Severity: risk.severity,
			Summary: fmt.Sprintf("AWS Health %s: "+risk.claim,
				event, key, ofUser(md.UserName), or(account, "(unknown)"), where),
			Labels: labels(event),
			Extra:  meta(md.ExposedURL),
		})
		if risk.quarantine {
			res.Signals = append(res.Signals, sever.Signal{
				Source: SourceAWSHealth, SourceEventID: id + QuarantineSuffix, Origin: sever.OriginVendor, Kind: sever.KindVendorAction,
				ObservedAt: observed, Credential: cred, Severity: "info",
				// The claim is AWS's; whether the policy is attached is for a step to observe.
				Summary: fmt.Sprintf("AWS attaches an AWSCompromisedKeyQuarantine policy to the user of access key %s with %s; "+
					"the key itself stays active", key, event),
				Labels: labels(event, "aws-quarantine-policy"),
			})
		}
	}
	return finish(res, body, eventKey{version: sent})
}

func ofUser(name string) string {
	if name == "" {
		return ""
	}
	return " of IAM user " + name
}

// exposedKeys returns the access key IDs a risk event names, without
// duplicates: eventMetadata.publicKey, or else every affected entity that is one.
func exposedKeys(code string, md awsHealthMetadata, entities []awsHealthEntity) ([]string, error) {
	if md.PublicKey != "" {
		if err := checkAccessKeyID("detail.eventMetadata.publicKey", md.PublicKey); err != nil {
			return nil, err
		}
		return []string{md.PublicKey}, nil
	}
	var keys []string
	for _, e := range entities {
		v := strings.TrimSpace(e.EntityValue)
		if accessKeyID.MatchString(v) && !slices.Contains(keys, v) {
			keys = append(keys, v)
		}
	}
	if len(keys) == 0 {
		return nil, invalid("detail.eventMetadata.publicKey",
			"%s names no access key: want detail.eventMetadata.publicKey or an access key ID in detail.affectedEntities[].entityValue",
			clip(code, 128))
	}
	if len(keys) > 16 {
		return nil, invalid("detail.affectedEntities", "detail.affectedEntities names %d access keys; at most 16 are taken from one event", len(keys))
	}
	return keys, nil
}
