// Package sever holds the domain types shared by every layer: signals, credentials,
// incidents, steps, enforcement classes, runbooks and policies. It imports nothing
// from the rest of the module, so every other package can depend on it.
package sever

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// CredentialType names a kind of non-human identity. The values are wire vocabulary.
type CredentialType string

const (
	CredAWSAccessKey CredentialType = "aws_access_key"
	// CredAWSTemporaryCredentials is an STS session (ASIA… key id): it cannot be
	// deactivated, only denied through the role or user that issued it.
	CredAWSTemporaryCredentials CredentialType = "aws_temporary_credentials"
	CredAWSBedrockAPIKey        CredentialType = "aws_bedrock_api_key"
	CredAnthropicAPIKey         CredentialType = "anthropic_api_key"
	CredOpenAIAPIKey            CredentialType = "openai_api_key"
	CredGitHubToken             CredentialType = "github_token"
	CredGenericToken            CredentialType = "generic_token"
	// CredGCPServiceAccountKey is a Google Cloud service-account key; its id is the
	// key's resource name, "projects/<project>/serviceAccounts/<email>/keys/<key id>".
	CredGCPServiceAccountKey CredentialType = "gcp_service_account_key"
	// CredGoogleAPIKey is a Google API key (which also calls Gemini); its id is the
	// key's resource name, "projects/<project>/locations/global/keys/<key id>",
	// never the key string.
	CredGoogleAPIKey CredentialType = "google_api_key"
	// CredAzureAppSecret is a client secret of a Microsoft Entra application, named
	// "<application (client) id>/<secret key id>": the key id names the secret among
	// the application's passwordCredentials without holding it.
	CredAzureAppSecret CredentialType = "azure_app_secret"
	// CredAzureOpenAIKey is an access key of an Azure OpenAI (Cognitive Services)
	// account, named by the account's ARM resource id, never by the key.
	CredAzureOpenAIKey CredentialType = "azure_openai_key"
	// CredVaultToken is a HashiCorp Vault token, named by its accessor (never the
	// token itself): the accessor looks the token up and revokes it without holding it.
	CredVaultToken CredentialType = "vault_token"
)

// CredentialTypes lists every known credential type in a stable order.
var CredentialTypes = []CredentialType{
	CredAWSAccessKey, CredAWSBedrockAPIKey, CredAnthropicAPIKey,
	CredOpenAIAPIKey, CredGitHubToken, CredGenericToken, CredAWSTemporaryCredentials,
	CredGCPServiceAccountKey, CredGoogleAPIKey,
	CredVaultToken,
	CredAzureAppSecret, CredAzureOpenAIKey,
}

// Valid reports whether t is a known credential type.
func (t CredentialType) Valid() bool { return slices.Contains(CredentialTypes, t) }

// Origin says whether a signal came from the enterprise's own detection or from a vendor.
type Origin string

const (
	OriginEnterprise Origin = "enterprise"
	OriginVendor     Origin = "vendor"
)

// Origins lists the valid origins.
var Origins = []Origin{OriginEnterprise, OriginVendor}

// SignalKind says what a signal claims about a credential.
type SignalKind string

const (
	KindCredentialExposed SignalKind = "credential_exposed"
	KindAnomalousUsage    SignalKind = "anomalous_usage"
	KindAbuseReport       SignalKind = "abuse_report"
	KindVendorAction      SignalKind = "vendor_action"
)

// SignalKinds lists the valid signal kinds.
var SignalKinds = []SignalKind{KindCredentialExposed, KindAnomalousUsage, KindAbuseReport, KindVendorAction}

// Severity levels accepted on signals.
var Severities = []string{"info", "low", "medium", "high", "critical"}

// Enforcement records who enforced a control point.
type Enforcement string

const (
	EnforcementNone    Enforcement = ""
	VendorNotified     Enforcement = "vendor_notified"
	VendorEnforced     Enforcement = "vendor_enforced"
	EnterpriseEnforced Enforcement = "enterprise_enforced"
	HumanApproved      Enforcement = "human_approved"
	HumanDenied        Enforcement = "human_denied"
	ApprovalExpired    Enforcement = "approval_expired"
)

// Enforcements lists the classes a runbook step may declare.
var Enforcements = []Enforcement{VendorNotified, VendorEnforced, EnterpriseEnforced, HumanApproved}

// StepStatus is the lifecycle state of one runbook step.
type StepStatus string

const (
	StepPending         StepStatus = "pending"
	StepWaitingApproval StepStatus = "waiting_approval"
	StepRunning         StepStatus = "running"
	StepSucceeded       StepStatus = "succeeded"
	StepFailed          StepStatus = "failed"
	StepSkipped         StepStatus = "skipped"
	StepRefused         StepStatus = "refused"
)

// Done reports whether the step has reached a final state.
func (s StepStatus) Done() bool {
	switch s {
	case StepSucceeded, StepFailed, StepSkipped, StepRefused:
		return true
	}
	return false
}

// IncidentStatus is the state of an incident as a whole.
type IncidentStatus string

const (
	IncidentOpen      IncidentStatus = "open"
	IncidentContained IncidentStatus = "contained"
	IncidentFailed    IncidentStatus = "failed"
	IncidentClosed    IncidentStatus = "closed"
)

// Credential identifies a non-human identity. It never holds secret material.
type Credential struct {
	Provider  string         `json:"provider"`
	Type      CredentialType `json:"type"`
	ID        string         `json:"id"`
	Principal string         `json:"principal,omitempty"`
	Account   string         `json:"account,omitempty"`
}

// Fingerprint is a stable hash of (provider, id): the unit of dedup for incidents.
func (c Credential) Fingerprint() string {
	sum := sha256.Sum256([]byte(strings.ToLower(c.Provider) + "\x00" + c.ID))
	return hex.EncodeToString(sum[:])
}

// IncidentID derives the incident (and Temporal workflow) ID for a credential, so that
// every signal about the same credential lands in one incident while it is open.
//
// The credential's type is part of its identity: a signal that calls an AWS access
// key a generic_token opens (or joins) an incident of its own with the generic
// runbook, and can never squat on the ID under which the aws_access_key signal
// opens its AWS containment. IDs made before the type was part of them stay
// addressable: they are only workflow IDs.
func IncidentID(c Credential) string {
	sum := sha256.Sum256([]byte(strings.ToLower(c.Provider) + "\x00" + string(c.Type) + "\x00" + c.ID))
	return "inc-" + safeIDPart(strings.ToLower(c.Provider)) + "-" + hex.EncodeToString(sum[:])[:20]
}

func safeIDPart(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		default:
			b.WriteRune('_')
		}
		if b.Len() >= 24 {
			break
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}

// Signal is the normalized form of anything that says a credential is exposed or abused.
type Signal struct {
	// ID is assigned at intake; it is derived from (source, source_event_id) when the
	// source names its event, so a resent event gets the same ID.
	ID            string     `json:"id"`
	Source        string     `json:"source"`
	SourceEventID string     `json:"source_event_id,omitempty"`
	Origin        Origin     `json:"origin"`
	Kind          SignalKind `json:"kind"`
	ObservedAt    time.Time  `json:"observed_at"`
	ReceivedAt    time.Time  `json:"received_at"`
	Credential    Credential `json:"credential"`
	Severity      string     `json:"severity,omitempty"`
	Summary       string     `json:"summary,omitempty"`
	PayloadSHA256 string     `json:"payload_sha256,omitempty"`
	Receipt       string     `json:"receipt,omitempty"` // one per submission; tells duplicates apart
	// Reporter is the authenticated principal that submitted the signal (token or
	// operator name). A reporter may not approve actions in the incident it raised.
	Reporter string `json:"reporter,omitempty"`
	// ShedBefore counts the signals about the same credential that intake refused
	// with 429 (rate or quota) since the last one it accepted, so the incident can
	// record how much of a flood it never saw. Intake sets it; clients cannot.
	ShedBefore int         `json:"shed_before,omitempty"`
	Drill      bool        `json:"drill,omitempty"`
	Labels     []string    `json:"labels,omitempty"`
	Extra      *SignalMeta `json:"meta,omitempty"`
}

// SignalMeta carries optional adapter detail that is safe to keep (never secrets).
type SignalMeta struct {
	URL string `json:"url,omitempty"`
}

// DedupKey is the key under which duplicate deliveries of one source event collapse.
func (s Signal) DedupKey() string {
	if s.SourceEventID == "" {
		return "id:" + s.ID
	}
	return s.Source + "\x00" + s.SourceEventID
}

// SignalID derives a signal ID. With a source event ID it is deterministic.
func SignalID(source, sourceEventID, fallback string) string {
	if sourceEventID == "" {
		return "sig-" + fallback
	}
	sum := sha256.Sum256([]byte(source + "\x00" + sourceEventID))
	return "sig-" + hex.EncodeToString(sum[:10])
}

// Validate checks a signal as it arrives from outside. The error names the field.
func (s *Signal) Validate() error {
	switch {
	case strings.TrimSpace(s.Source) == "":
		return Errorf(EINVALID, "source", "source is required")
	case len(s.Source) > 128:
		return Errorf(EINVALID, "source", "source is longer than 128 characters")
	case len(s.SourceEventID) > 256:
		return Errorf(EINVALID, "source_event_id", "source_event_id is longer than 256 characters")
	case s.Origin == "":
		return Errorf(EINVALID, "origin", "origin is required (one of %s)", join(Origins))
	case !slices.Contains(Origins, s.Origin):
		return Errorf(EINVALID, "origin", "unknown origin %q (one of %s)", Clip(string(s.Origin), maxEchoed), join(Origins))
	case s.Kind == "":
		return Errorf(EINVALID, "kind", "kind is required (one of %s)", join(SignalKinds))
	case !slices.Contains(SignalKinds, s.Kind):
		return Errorf(EINVALID, "kind", "unknown kind %q (one of %s)", Clip(string(s.Kind), maxEchoed), join(SignalKinds))
	case s.Severity != "" && !slices.Contains(Severities, s.Severity):
		return Errorf(EINVALID, "severity", "unknown severity %q (one of %s)", Clip(s.Severity, maxEchoed), strings.Join(Severities, ", "))
	case len(s.Summary) > 2048:
		return Errorf(EINVALID, "summary", "summary is longer than 2048 characters")
	case strings.TrimSpace(s.Credential.Provider) == "":
		return Errorf(EINVALID, "credential.provider", "credential.provider is required")
	case len(s.Credential.Provider) > 64:
		return Errorf(EINVALID, "credential.provider", "credential.provider is longer than 64 characters")
	case s.Credential.Type == "":
		return Errorf(EINVALID, "credential.type", "credential.type is required (one of %s)", join(CredentialTypes))
	case !s.Credential.Type.Valid():
		return Errorf(EUNPROCESSABLE, "credential.type", "unknown credential type %q; known types: %s", Clip(string(s.Credential.Type), maxEchoed), join(CredentialTypes))
	case strings.TrimSpace(s.Credential.ID) == "":
		return Errorf(EINVALID, "credential.id", "credential.id is required")
	case len(s.Credential.ID) > 256:
		return Errorf(EINVALID, "credential.id", "credential.id is longer than 256 characters")
	case len(s.Credential.Principal) > 512:
		return Errorf(EINVALID, "credential.principal", "credential.principal is longer than 512 characters")
	case len(s.Credential.Account) > 128:
		return Errorf(EINVALID, "credential.account", "credential.account is longer than 128 characters")
	case s.ObservedAt.IsZero():
		return Errorf(EINVALID, "observed_at", "observed_at is required (RFC 3339 time)")
	}
	return nil
}

// maxEchoed bounds a caller's value quoted in an error: enough to recognise it,
// never enough to turn a large invalid value into a larger answer.
const maxEchoed = 64

// Clip bounds text that came from outside before it goes into a message, so a
// megabyte of input never comes back as a megabyte (or, quoted, several) of error:
// at most n bytes of s, cut at a character boundary, and "…" when anything was cut.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func join[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// Artifact is a piece of evidence referenced by its hash.
type Artifact struct {
	Name   string `json:"name"`
	URI    string `json:"uri,omitempty"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size,omitempty"`
}

// Step is the recorded state of one runbook step in an incident.
type Step struct {
	ID          string      `json:"id"`
	Action      string      `json:"action"`
	Status      StepStatus  `json:"status"`
	Enforcement Enforcement `json:"enforcement"`
	Verified    bool        `json:"verified"`
	Actor       string      `json:"actor"`
	PolicyRule  string      `json:"policy_rule"`
	StartedAt   *time.Time  `json:"started_at"`
	EndedAt     *time.Time  `json:"ended_at"`
	Error       string      `json:"error"`
	ArgsSHA256  string      `json:"args_sha256,omitempty"`
	Summary     string      `json:"summary,omitempty"`
	Output      Values      `json:"output,omitempty"`
	Evidence    []Artifact  `json:"evidence,omitempty"`
	Approvals   []Decision  `json:"approvals,omitempty"`
	Containment bool        `json:"containment,omitempty"`
	// ApprovalNonce names the approval request the step is waiting on; a decision
	// must carry it (Slack buttons do). Set only while the step waits.
	ApprovalNonce string `json:"approval_nonce,omitempty"`
	// Attempt is the attempt the step is on (1 until it is retried). The state query
	// of a running incident reports it for Steps (a retry is bound to the attempt that
	// failed, so one captured earlier cannot run the step again after a later
	// failure), and every entry of Incident.PriorAttempts carries it.
	Attempt int `json:"attempt,omitempty"`
}

// Decision is one person's answer to an approval request.
type Decision struct {
	StepID     string    `json:"step_id"`
	Approve    bool      `json:"approve"`
	Approver   string    `json:"approver"`
	Channel    string    `json:"channel"`
	ArgsSHA256 string    `json:"args_sha256"`
	At         time.Time `json:"at"`
	Reason     string    `json:"reason,omitempty"`
}

// RecordedSignal is a signal as the incident recorded it.
type RecordedSignal struct {
	Signal
	// Delay is how long after the incident opened this signal arrived.
	DelaySeconds float64 `json:"delay_seconds"`
	Duplicates   int     `json:"duplicates,omitempty"`
}

// SignalSummary accounts for every signal an incident recorded, in constant space:
// an incident keeps only its first and latest signals whole (a flood of distinct
// signals would otherwise outgrow Temporal's payload limit), and the ledger holds
// each signal whole by its own fact. The counts and the digest cover all of them.
type SignalSummary struct {
	// Total counts distinct signals; Incident.Duplicates counts repeat deliveries.
	Total int `json:"total"`
	// Omitted counts distinct signals not kept whole in Incident.Signals.
	Omitted  int            `json:"omitted,omitempty"`
	BySource map[string]int `json:"by_source,omitempty"`
	ByKind   map[string]int `json:"by_kind,omitempty"`
	ByOrigin map[string]int `json:"by_origin,omitempty"`
	// FirstObservedAt is the earliest observed_at of any signal; ExposedSince the
	// earliest observed or received time, what containment reads back against.
	FirstObservedAt *time.Time `json:"first_observed_at,omitempty"`
	ExposedSince    *time.Time `json:"exposed_since,omitempty"`
	LastReceivedAt  *time.Time `json:"last_received_at,omitempty"`
	// Reporters lists who submitted signals (authenticated principals), first seen first.
	Reporters []string `json:"reporters,omitempty"`
	// ReportersOmitted is true once Reporters reached its cap; from then on any
	// principal may have reported (see Reported).
	ReportersOmitted bool `json:"reporters_omitted,omitempty"`
	// Shed counts the signals intake refused (429) about this credential before
	// the ones it accepted (the sum of their Signal.ShedBefore).
	Shed int `json:"shed,omitempty"`
	// Digest chains the SHA-256 of every distinct signal in arrival order:
	// digest = sha256(previous digest || canonical JSON of the signal), hex.
	Digest string `json:"digest,omitempty"`
}

// OtherKey is the count key under which values past a summary map's cap are counted.
const OtherKey = "(other)"

// Reported reports whether who submitted a signal to the incident. Once the
// reporter list is full it answers true for anyone not listed: a reporter may not
// approve, and an unknown answer must not let one through.
func (s *SignalSummary) Reported(who string) bool {
	return slices.Contains(s.Reporters, who) || s.ReportersOmitted
}

// SignalCount is the number of distinct signals the incident recorded, kept whole or not.
func (inc *Incident) SignalCount() int {
	return max(inc.SignalSummary.Total, len(inc.Signals))
}

// RunbookRef identifies the pinned runbook of an incident.
type RunbookRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
}

// Incident is the state of an incident as exposed by the workflow query and the API.
type Incident struct {
	ID          string         `json:"id"`
	Status      IncidentStatus `json:"status"`
	Credential  Credential     `json:"credential"`
	Runbook     RunbookRef     `json:"runbook"`
	Policy      RunbookRef     `json:"policy"`
	OpenedAt    time.Time      `json:"opened_at"`
	ContainedAt *time.Time     `json:"contained_at,omitempty"`
	ClosedAt    *time.Time     `json:"closed_at,omitempty"`
	HoldUntil   *time.Time     `json:"hold_until,omitempty"`
	// Signals holds the first and the latest signals whole (all of them while there
	// are few); SignalSummary accounts for every one.
	Signals       []RecordedSignal `json:"signals"`
	SignalSummary SignalSummary    `json:"signal_summary"`
	Duplicates    int              `json:"duplicate_signals"`
	Steps         []Step           `json:"steps"`
	// Compensations undo runbook steps when the incident is closed as a false positive.
	Compensations []Step `json:"compensations,omitempty"`
	// PriorAttempts are the earlier attempts of retried steps as each ended, Attempt
	// set (Steps holds the latest): a retry must not erase from the record that a
	// step, containment included, failed before a person asked for it again.
	PriorAttempts []Step `json:"prior_attempts,omitempty"`
	Drill         bool   `json:"drill,omitempty"`
	Reason        string `json:"reason,omitempty"`
	Runs          int    `json:"runs,omitempty"`
}

// IncidentSummary is one line of an incident listing.
type IncidentSummary struct {
	ID         string         `json:"id"`
	Status     IncidentStatus `json:"status"`
	Credential Credential     `json:"credential"`
	Runbook    string         `json:"runbook"`
	OpenedAt   time.Time      `json:"opened_at"`
	Running    bool           `json:"running"`
}

// Values is a JSON object of step arguments or outputs.
type Values = map[string]any

// ActionInput is what every action activity receives. The interpreter calls actions by
// name, so they share one input contract; each action decodes Args into its own struct.
type ActionInput struct {
	IncidentID string     `json:"incident_id"`
	StepID     string     `json:"step_id"`
	Action     string     `json:"action"`
	Credential Credential `json:"credential"`
	Args       Values     `json:"args"`
	// IdempotencyKey is stable across retries and replays of the same step.
	IdempotencyKey string `json:"idempotency_key"`
	Drill          bool   `json:"drill,omitempty"`
	// Signals is a bounded sample of the signals known when the step started (the
	// first and the latest, never the whole list); SignalSummary accounts for all.
	Signals       []Signal       `json:"signals,omitempty"`
	SignalSummary *SignalSummary `json:"signal_summary,omitempty"`
}

// ActionResult is what every action activity returns.
type ActionResult struct {
	// Enforcement is who enforced what the action observed or did.
	Enforcement Enforcement `json:"enforcement,omitempty"`
	// Verified is true when a read-back showed the control in place.
	Verified bool       `json:"verified"`
	Actor    string     `json:"actor,omitempty"`
	Summary  string     `json:"summary,omitempty"`
	Output   Values     `json:"output,omitempty"`
	Evidence []Artifact `json:"evidence,omitempty"`
	// Changed is false when the action found the state already in place (idempotent no-op).
	Changed bool `json:"changed"`
}

// ActionSpec describes an action that runbooks may name.
type ActionSpec struct {
	Name        string      `json:"name"`
	Mutating    bool        `json:"mutating"`
	Enforcement Enforcement `json:"enforcement"`
	Description string      `json:"description"`
	// Args lists the argument names the action accepts; Required those it needs.
	Args     []string `json:"args,omitempty"`
	Required []string `json:"required,omitempty"`
}

// Error codes, safe to show a user (after the style of benbjohnson/wtf).
const (
	EINVALID       = "invalid"
	EUNPROCESSABLE = "unprocessable"
	EUNAUTHORIZED  = "unauthorized"
	ENOTFOUND      = "not_found"
	ETOOLARGE      = "too_large"
	ECONFLICT      = "conflict"
	EINTERNAL      = "internal"
	EUNAVAILABLE   = "unavailable"
)

// Error is an error whose message is safe to show a user.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (field %s)", e.Code, e.Message, e.Field)
	}
	return e.Code + ": " + e.Message
}

// Errorf returns an *Error with a formatted message.
func Errorf(code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ArgsSHA256 binds an approval to one exact action: the hash of the action name, the
// credential and the step's arguments. encoding/json writes map keys in sorted order,
// so the hash is stable across processes and replays.
func ArgsSHA256(action string, c Credential, args Values) string {
	b, err := json.Marshal(struct {
		Action     string     `json:"action"`
		Credential Credential `json:"credential"`
		Args       Values     `json:"args"`
	}{action, c, args})
	if err != nil {
		// Args come from YAML or JSON and always marshal; keep the hash total anyway.
		b = []byte(action + "\x00" + c.ID + "\x00" + err.Error())
	}
	return SHA256Hex(b)
}

// SHA256Hex returns the hex SHA-256 of b.
func SHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
