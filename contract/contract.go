// Package contract is the contract between the Incident workflow and the internal
// activities it calls on its own (approval requests, notices, the ledger append):
// their names on the wire, their inputs and results, and the error types that are
// never retried.
//
// It is a leaf so that activity packages can share these types with the workflow
// without importing it: it imports the domain package and nothing of Temporal's or
// CEL's, so an activity package neither links the workflow's interpreter nor can
// reach deterministic code. The names and JSON fields here are stable: workflow
// histories carry them, and a rename would break incidents in flight.
package contract

import (
	"time"

	"github.com/sever-ir/sever"
)

// NonRetryableErrorTypes are the stable error types activities use for permanent
// failures; retrying them can only repeat the same refusal.
var NonRetryableErrorTypes = []string{"InvalidArgument", "AccessDenied", "NotFound", "Forbidden", "Unsupported"}

// Internal activities the workflow calls on its own, not runbook actions: runbooks
// cannot name them (they are not in sever.Catalog) and the policy does not gate them,
// because they only tell people about the incident.
const (
	ActivityRequestApproval = "sever.internal.request_approval"
	ActivityApprovalOutcome = "sever.internal.approval_outcome"
)

// ApprovalRequestInput asks the people in a step's approver set to decide it.
type ApprovalRequestInput struct {
	IncidentID  string           `json:"incident_id"`
	StepID      string           `json:"step_id"`
	StepName    string           `json:"step_name,omitempty"`
	Action      string           `json:"action"`
	Args        sever.Values     `json:"args,omitempty"`
	ArgsSHA256  string           `json:"args_sha256"`
	Credential  sever.Credential `json:"credential"`
	Approvers   []string         `json:"approvers"`
	Quorum      int              `json:"quorum"`
	Deadline    time.Time        `json:"deadline"`
	Destructive bool             `json:"destructive"`
	Requester   string           `json:"requester,omitempty"`
	Escalation  bool             `json:"escalation,omitempty"`
	Drill       bool             `json:"drill,omitempty"`
	// Nonce is the request's nonce, carried in its buttons (the gate's nonce, workflows.Gate.Nonce).
	Nonce string `json:"nonce,omitempty"`
}

// ApprovalRequestResult says where the request was posted, so its outcome can
// replace it in place.
type ApprovalRequestResult struct {
	Posted  bool   `json:"posted"`
	Channel string `json:"channel,omitempty"`
	TS      string `json:"ts,omitempty"`
	Summary string `json:"summary,omitempty"`
	// Approvers is set when the request resolved Slack user groups: the people who
	// were in them when the request was posted, who replace the step's approver set.
	Approvers []string `json:"approvers,omitempty"`
}

// ApprovalOutcomeInput replaces a posted request with its outcome.
type ApprovalOutcomeInput struct {
	Request   ApprovalRequestInput `json:"request"`
	Channel   string               `json:"channel"`
	TS        string               `json:"ts"`
	Outcome   sever.Enforcement    `json:"outcome"` // human_approved, human_denied, approval_expired, superseded or canceled
	OnTimeout string               `json:"on_timeout,omitempty"`
	Decisions []sever.Decision     `json:"decisions,omitempty"`
	At        time.Time            `json:"at"`
}

// Outcomes of a posted request that are not a step's enforcement: the request was
// replaced by a newer one (an escalation), or the incident closed before anyone
// decided. Either way its message stops taking clicks.
const (
	OutcomeSuperseded sever.Enforcement = "superseded"
	OutcomeCanceled   sever.Enforcement = "canceled"
)

// ApprovalOutcomeResult is empty: the outcome is recorded by the workflow itself.
type ApprovalOutcomeResult struct {
	Updated bool `json:"updated"`
}

// ActivityLedgerAppend appends facts to the tamper-evident ledger. The workflow
// records each fact as it happens and an activity writes them in batches, so the
// ledger survives crashes (a retried batch appends nothing twice: each fact has a
// stable key) without an activity per fact on the hot path.
const ActivityLedgerAppend = "sever.internal.ledger_append"

// Ledger fact kinds (the ledger's wire vocabulary).
const (
	FactSignal           = "signal"
	FactDuplicateSignal  = "duplicate_signal"
	FactPolicyDecision   = "policy_decision"
	FactApprovalDecision = "approval_decision"
	FactStepOutcome      = "step_outcome"
	FactIncidentStatus   = "incident_status"
)

// LedgerFact is one fact for the ledger; the store assigns its sequence and hashes.
type LedgerFact struct {
	At          time.Time         `json:"at"`
	Kind        string            `json:"kind"`
	Actor       string            `json:"actor,omitempty"`
	Enforcement sever.Enforcement `json:"enforcement,omitempty"`
	PolicyRule  string            `json:"policy_rule,omitempty"`
	Step        string            `json:"step,omitempty"`
	Action      string            `json:"action,omitempty"`
	ArgsSHA256  string            `json:"args_sha256,omitempty"`
	Evidence    []sever.Artifact  `json:"evidence,omitempty"`
	Result      string            `json:"result,omitempty"`
	Detail      map[string]string `json:"detail,omitempty"`
	// Key identifies the fact within the incident, stable across retries and replays.
	Key string `json:"key"`
}

// LedgerAppendInput is one batch of facts of one incident, in order.
type LedgerAppendInput struct {
	IncidentID string       `json:"incident_id"`
	Drill      bool         `json:"drill,omitempty"`
	Facts      []LedgerFact `json:"facts"`
}

// LedgerAppendResult counts what the batch wrote.
type LedgerAppendResult struct {
	Appended int `json:"appended"`
	Existing int `json:"existing"`
}

// Notice kinds: what the people watching an incident's channel are told.
const (
	NoticeOpened     = "opened"
	NoticeContained  = "contained"
	NoticeFailed     = "failed"
	NoticeStepFailed = "step_failed"
	NoticeClosed     = "closed"
)

// ActivityNotice posts a short notice about an incident. The first notice of an
// incident becomes the parent message; every later one is threaded under it, so a
// channel shows one line per incident however much happens to it.
const ActivityNotice = "sever.internal.notice"

// NoticeInput is one notice.
type NoticeInput struct {
	IncidentID string               `json:"incident_id"`
	Kind       string               `json:"kind"`
	Credential sever.Credential     `json:"credential"`
	Status     sever.IncidentStatus `json:"status"`
	Runbook    string               `json:"runbook,omitempty"`
	StepID     string               `json:"step_id,omitempty"`
	Action     string               `json:"action,omitempty"`
	// Text is the detail line: why a step failed, how long containment took.
	Text string    `json:"text,omitempty"`
	At   time.Time `json:"at"`
	// Channel and ThreadTS locate the parent message; empty for the first notice.
	Channel  string `json:"channel,omitempty"`
	ThreadTS string `json:"thread_ts,omitempty"`
	Drill    bool   `json:"drill,omitempty"`
}

// NoticeResult says where the notice went.
type NoticeResult struct {
	Posted  bool   `json:"posted"`
	Channel string `json:"channel,omitempty"`
	TS      string `json:"ts,omitempty"`
}
