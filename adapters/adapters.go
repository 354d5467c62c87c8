// Package adapters turns what vendors and SIEMs send into sever's native signals:
// AWS Health and GuardDuty events delivered by EventBridge, GitHub's
// secret_scanning_alert webhook, OCSF Detection Findings, and model-provider notices
// in sever's own provider schema (provider-schema.json).
//
// Each parser takes the raw body and returns a Result: the normalized signals, or
// the reason the payload was recognised but opens no incident. It never guesses: a
// payload it cannot read is an error (a *sever.Error whose Field names the offending
// field of the vendor's payload), and a payload it reads but that says nothing about
// a credential is ignored with a reason, never turned into an incident.
//
// Parsers are pure: authentication, intake stamps (ID, ReceivedAt, Receipt,
// Reporter) and submission belong to the caller (package httpapi).
package adapters

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sever-ir/sever"
)

// Sources, as they appear in sever.Signal.Source. Each names the adapter, not the
// vendor, so that dedup by (source, source event id) stays within one event format.
const (
	SourceAWSHealth = "aws-health"
	SourceGuardDuty = "guardduty"
	SourceGitHub    = "github"
	SourceOCSF      = "ocsf"
	SourceProvider  = "provider"
)

// Result is what an adapter made of one delivery. Exactly one of Signals and
// Ignored is set.
type Result struct {
	// Event names what the payload was (an event type code, a finding type, a
	// webhook event and action), for the response and the log.
	Event string
	// Signals are the normalized signals, in the order they should be submitted.
	// The first one is the one the incident's runbook should be chosen by.
	Signals []sever.Signal
	// Ignored says why a payload that was understood opens no incident.
	Ignored string
}

func ignored(event, format string, args ...any) Result {
	return Result{Event: event, Ignored: fmt.Sprintf(format, args...)}
}

// maxSummary is below sever.Signal's 2048-byte limit, with room for the clip mark.
const maxSummary = 2000

// clip shortens s to at most n bytes on a rune boundary.
func clip(s string, n int) string { return sever.Clip(s, n) }

// eventKey is what, besides the vendor's event ID each parser puts in
// SourceEventID, names one delivery for dedup: the vendor's time for this version
// of the event, and the payload the digest is taken over.
type eventKey struct {
	// version is the vendor's time of this version of the event (updated_at,
	// updatedAt, the EventBridge time…), so an update of a finding or an alert is a
	// new signal while a resend is not.
	version time.Time
	// payload is the JSON the digest covers; nil means the whole body. (GitHub's
	// form-encoded body carries it in a field.)
	payload []byte
}

// dedupDigestLen is how many hex digits of the payload's SHA-256 go into a source
// event ID: 64 bits, enough that two different payloads with the same event ID
// and version never collapse by accident.
const dedupDigestLen = 16

// sourceEventID makes the dedup key of a signal from the vendor's event ID:
// "<event id>@<version>#<digest>", where the digest is over the payload's
// canonical JSON (keys sorted, no insignificant space), so a relay that reformats
// the JSON does not make a resend new.
//
// Everything in it comes from inside the body, which is what the sender's
// authentication covers (GitHub's HMAC, the bearer token). Nothing comes from a
// header outside the signature, such as X-GitHub-Delivery: the same signed body
// under new delivery IDs is the same event, recorded once. And a body that
// differs from an earlier one under the same event ID is never taken for a
// duplicate of it, so a sender cannot pre-empt a real event by sending its ID
// first with other content.
func sourceEventID(eventID string, k eventKey, body []byte) string {
	payload := k.payload
	if payload == nil {
		payload = body
	}
	digest := sever.SHA256Hex(canonicalJSON(payload))[:dedupDigestLen]
	suffix := "@" + k.version.UTC().Format(time.RFC3339Nano) + "#" + digest
	if len(eventID)+len(suffix) > maxSourceEventID {
		// Only reachable with a long event ID and a long key name (an AWS Health
		// event naming several keys); the digest keeps it unique.
		eventID = "sha256:" + sever.SHA256Hex([]byte(eventID))[:32]
	}
	return eventID + suffix
}

// maxSourceEventID is sever.Signal's limit on SourceEventID.
const maxSourceEventID = 256

// canonicalJSON re-encodes a JSON document with sorted keys and no insignificant
// space; numbers keep their text. A payload that is not one JSON value is
// returned as it is.
func canonicalJSON(b []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return b
	}
	if _, err := dec.Token(); err != io.EOF {
		return b
	}
	out, err := json.Marshal(v)
	if err != nil {
		return b
	}
	return out
}

// finish fills what every adapter's signals share and checks each one, so a
// parser bug surfaces as an error here rather than as a bad signal in the engine.
// Each signal's SourceEventID, set by the parser to the vendor's event ID, becomes
// its dedup key (see sourceEventID).
func finish(res Result, body []byte, k eventKey) (Result, error) {
	sum := sever.SHA256Hex(body)
	for i := range res.Signals {
		s := &res.Signals[i]
		s.SourceEventID = sourceEventID(s.SourceEventID, k, body)
		s.PayloadSHA256 = sum
		s.Summary = clip(s.Summary, maxSummary)
		if err := s.Validate(); err != nil {
			return Result{}, err
		}
	}
	return res, nil
}

func invalid(field, format string, args ...any) *sever.Error {
	return sever.Errorf(sever.EINVALID, field, format, args...)
}

// decodeJSON decodes body, which must be exactly one JSON object, into v. Vendor
// payloads grow fields over time, so unknown fields are allowed; a known field of
// the wrong type is an error naming its path.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return invalid("", "request body is empty; want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return malformed(err)
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		return invalid("", "unexpected data after the JSON object at byte %d; send exactly one object", end)
	}
	if raw[0] != '{' {
		return invalid("", "request body must be a JSON object")
	}
	return unmarshal(raw, "", v)
}

// unmarshal decodes raw into v and turns a type error into one naming the field
// (prefixed with path, for values decoded from inside a larger document).
func unmarshal(raw []byte, path string, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		field := joinPath(path, te.Field)
		return invalid(field, "%s: want %s, got a JSON %s", orBody(field), wantOf(te.Type.String()), te.Value)
	}
	return malformed(err)
}

// number is a JSON number kept as its text. Unlike json.Number it refuses a quoted
// number, and a value of another type fails with an error that names its field.
type number string

func (n *number) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9'):
		*n = number(b)
		return nil
	}
	kind := map[byte]string{'"': "string", '{': "object", '[': "array", 't': "bool", 'f': "bool"}[b[0]]
	return &json.UnmarshalTypeError{Value: kind, Type: reflect.TypeFor[number]()}
}

func wantOf(goType string) string {
	switch {
	case goType == "adapters.number":
		return "a number"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case goType == "json.Number", strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "float"):
		return "a number"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return "an object"
}

func malformed(err error) *sever.Error {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return invalid("", "malformed JSON at byte %d: %v", se.Offset, se)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return invalid("", "malformed JSON: the body ends before the object does")
	}
	return invalid("", "malformed JSON: %v", err)
}

func joinPath(parent, key string) string {
	switch {
	case parent == "":
		return key
	case key == "":
		return parent
	}
	return parent + "." + key
}

func orBody(field string) string {
	if field == "" {
		return "the body"
	}
	return field
}

// required returns an error naming field when v is blank.
func required(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return invalid(field, "%s is required", field)
	}
	return nil
}

// maxID bounds identifiers copied from payloads; sever.Signal allows 256 for a
// source event id and a credential id, and some adapters add a prefix.
const maxID = 200

func checkID(field, v string) error {
	if err := required(field, v); err != nil {
		return err
	}
	if len(v) > maxID {
		return invalid(field, "%s is longer than %d characters", field, maxID)
	}
	return nil
}

// accessKeyID is the shape of an AWS access key ID: a four-letter prefix (AKIA for
// long-term keys, ASIA for temporary ones) and upper-case letters and digits. It is
// not secret. A secret access key (40 characters of base64) never matches, so one
// pasted into the wrong field is refused rather than stored.
var accessKeyID = regexp.MustCompile(`^A(?:KIA|SIA)[A-Z0-9]{12,124}$`)

// awsKeyType is the credential type an AWS access key ID names: ASIA… keys belong to
// temporary STS credentials, which cannot be deactivated, only denied through the
// role or user that issued them, so they get a runbook of their own.
func awsKeyType(id string) sever.CredentialType {
	if strings.HasPrefix(id, "ASIA") {
		return sever.CredAWSTemporaryCredentials
	}
	return sever.CredAWSAccessKey
}

// isAWSKeyType reports whether t is named by an AWS access key ID.
func isAWSKeyType(t sever.CredentialType) bool {
	return t == sever.CredAWSAccessKey || t == sever.CredAWSTemporaryCredentials
}

func checkAccessKeyID(field, v string) error {
	if err := required(field, v); err != nil {
		return err
	}
	if !accessKeyID.MatchString(v) {
		return invalid(field, "%s is not an AWS access key ID (AKIA… or ASIA…, upper-case letters and digits)", field)
	}
	return nil
}

var awsAccountID = regexp.MustCompile(`^[0-9]{12}$`)

func checkAccount(field, v string) error {
	if v != "" && !awsAccountID.MatchString(v) {
		return invalid(field, "%s is not a 12-digit AWS account ID", field)
	}
	return nil
}

// parseTime reads an RFC 3339 time, or one of the extra layouts given.
func parseTime(field, v string, layouts ...string) (time.Time, error) {
	for _, l := range append([]string{time.RFC3339}, layouts...) {
		if t, err := time.Parse(l, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, invalid(field, "%s: want an RFC 3339 time such as 2025-06-01T12:00:00Z", field)
}

// safeURL returns u when it is an http(s) URL, without userinfo, query or fragment:
// those are where a URL can carry a token, and sever keeps no secrets. AWS console
// links keep their query and fragment (see isAWSConsole). Anything
// else returns "" because a link is a convenience, not worth refusing a signal for.
func safeURL(u string) string {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return ""
	}
	p.User = nil
	if !isAWSConsole(p.Hostname()) && !isAzurePortal(p.Hostname()) {
		p.RawQuery, p.ForceQuery, p.Fragment, p.RawFragment = "", false, "", ""
	}
	s := p.String()
	if len(s) > 1024 {
		return ""
	}
	return s
}

// isAWSConsole says whether host is the AWS console, whose links name the finding
// in the query and fragment (…/guardduty/home?region=…#/findings?…&fId=…). A
// console link grants nothing without a signed-in session, so keeping them
// keeps the link without keeping a token. Sign-in and federation links live on
// other hosts (signin.aws.amazon.com) and are still cut.
func isAWSConsole(host string) bool {
	host = strings.ToLower(host)
	return host == "console.aws.amazon.com" || strings.HasSuffix(host, ".console.aws.amazon.com")
}

// isAzurePortal says whether host is the Azure portal, whose links name the
// alert in the fragment (#blade/…/alertId/…); like an AWS console link, it grants
// nothing without a signed-in session.
func isAzurePortal(host string) bool {
	return strings.EqualFold(host, "portal.azure.com")
}

func meta(u string) *sever.SignalMeta {
	if u = safeURL(u); u != "" {
		return &sever.SignalMeta{URL: u}
	}
	return nil
}

// labels keeps the values that fit sever's label rules (at most 32 labels of at most
// 64 characters), so a long vendor type name is dropped rather than failing the signal.
func labels(vs ...string) []string {
	var out []string
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" && utf8.RuneCountInString(v) <= 64 && len(out) < 32 {
			out = append(out, v)
		}
	}
	return out
}

func or(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
