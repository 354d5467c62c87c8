// Package workflows holds sever's deterministic workflow code: the Incident workflow,
// which interprets a pinned runbook under a pinned runtime policy. It imports only the
// Temporal SDK's workflow packages and the domain types; actions are called by name,
// so no activity package or client is ever imported here.
package workflows

import (
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/contract"
)

// Names on the wire between the engine, the API and the workflow. They are stable: a
// rename would break incidents in flight.
const (
	IncidentWorkflow = "Incident"
	// SignalChannel carries sever.Signal values into an incident.
	SignalChannel = "signal"
	// QueryState returns sever.Incident.
	QueryState = "state"
	// QuerySignalStatus returns SignalStatus for SignalStatusInput.
	QuerySignalStatus = "signal_status"
	// UpdateDecide takes an approval decision (DecisionInput → DecisionResult).
	UpdateDecide = "decide"
	// UpdateClose ends the incident (CloseInput → CloseResult).
	UpdateClose = "close"
	// UpdateSignal records one submission of a signal (sever.Signal → SignalResult):
	// the synchronous intake's single round trip, sent with Update-With-Start.
	UpdateSignal = "submit_signal"
)

// Answers of UpdateSignal (SignalResult.Status), as the API reports them.
const (
	SignalRecorded  = "recorded"
	SignalDuplicate = "duplicate"
)

// SignalResult answers UpdateSignal once the submission is recorded.
type SignalResult struct {
	Status    string `json:"status"`
	Duplicate bool   `json:"duplicate"`
	// Opened is true when this submission is the one the run was started with:
	// the caller's Update-With-Start opened the incident (the quota is charged).
	Opened bool `json:"opened,omitempty"`
}

// DefaultHold is how long an incident stays open after its runbook ends, so that late
// signals (a provider's above all) join it and are recorded with their delay.
const DefaultHold = 7 * 24 * time.Hour

// IncidentInput is the whole input of an incident. The runbook and the policy are
// pinned here, content and hash, so editing either file later never changes an
// incident in flight.
type IncidentInput struct {
	IncidentID string           `json:"incident_id"`
	Credential sever.Credential `json:"credential"`
	Runbook    sever.Runbook    `json:"runbook"`
	Policy     sever.Policy     `json:"policy"`
	// ApproverGroups resolves "group:NAME" approver entries; it is resolved when the
	// incident starts so the set of people who may approve is fixed with the runbook.
	ApproverGroups map[string][]string `json:"approver_groups,omitempty"`
	Hold           sever.Duration      `json:"hold,omitempty"`
	Drill          bool                `json:"drill,omitempty"`
	// Notify posts a notice when the incident opens, when a step fails and when it
	// ends, threaded under one parent message (set when Slack is configured).
	Notify bool `json:"notify,omitempty"`
	// LocalLedger writes the ledger facts with a local activity, inside the
	// workflow task (set when the ledger has no S3 copy; see startLedger).
	LocalLedger bool `json:"local_ledger,omitempty"`
	// ContinueAsNewAfter is how many signal deliveries one run takes before it
	// continues as new (0: DefaultContinueAsNewAfter). Temporal's own suggestion and
	// a history-length bound also trigger it; tests set a small value to force it.
	ContinueAsNewAfter int `json:"continue_as_new_after,omitempty"`
	// First is the signal the engine started the incident with on the synchronous
	// path (Update-With-Start): the run records it before anything else, as it would
	// the first signal of a SignalWithStart. Continue-as-new never carries it.
	First *sever.Signal `json:"first,omitempty"`
	// Carry is set only by continue-as-new and holds the state of the previous run.
	Carry *Carry `json:"carry,omitempty"`
}

// Defaults of the continue-as-new triggers: signal deliveries per run and history
// events per run. Each run's history stays far below Temporal's limits, so a flood
// costs more runs, never a wedged incident.
const (
	DefaultContinueAsNewAfter = 1000
	DefaultMaxHistoryEvents   = 8000
)

// Carry is the state handed from one run of an incident to the next. Every
// collection in it is bounded (see the limits in signalstate.go).
type Carry struct {
	Incident sever.Incident `json:"incident"`
	// Seen and Receipts are the unbounded dedup state of runs from before the
	// bounded-state change; a run reads them and carries Dedup and Recent instead.
	Seen     map[string]int    `json:"seen,omitempty"`
	Receipts map[string]string `json:"receipts,omitempty"`
	// Dedup is the set of dedup keys seen; Recent the receipts of the latest signals.
	Dedup  *dedupSet `json:"dedup,omitempty"`
	Recent []Receipt `json:"recent,omitempty"`
	// Duplicates are the latest submissions that were duplicates of a recorded
	// signal, so that a resend of one is not counted again.
	Duplicates []Receipt        `json:"duplicates,omitempty"`
	Approvals  map[string]*Gate `json:"approvals,omitempty"`
	Phase      string           `json:"phase"`
	// Facts are ledger facts not yet written.
	Facts []contract.LedgerFact `json:"facts,omitempty"`
	// Notices not yet posted, and the parent message later ones thread under.
	Notices []contract.NoticeInput `json:"notices,omitempty"`
	Thread  *NoticeThread          `json:"thread,omitempty"`
	// Attempts is the attempt of every retried step; Retries counts the retries
	// accepted (both absent before the retry-step change).
	Attempts map[string]int `json:"attempts,omitempty"`
	Retries  int            `json:"retries,omitempty"`
}

// IncidentResult is what a finished incident returns.
type IncidentResult struct {
	Incident sever.Incident `json:"incident"`
}

// SignalStatusInput asks whether one submission of a signal was recorded.
type SignalStatusInput struct {
	SignalID string `json:"signal_id"`
	Receipt  string `json:"receipt"`
}

// SignalStatus answers SignalStatusInput.
type SignalStatus struct {
	// Known is false when the signal has not reached the workflow yet.
	Known     bool `json:"known"`
	Duplicate bool `json:"duplicate"`
}

// DecisionInput is one person's decision on a step waiting for approval. The caller
// (Slack endpoint, CLI, API) has already verified who the person is; the workflow
// checks that this person may decide this step, for these exact arguments, now.
type DecisionInput struct {
	StepID     string `json:"step_id"`
	Approve    bool   `json:"approve"`
	Approver   string `json:"approver"`
	Channel    string `json:"channel"`
	ArgsSHA256 string `json:"args_sha256"`
	Reason     string `json:"reason,omitempty"`
	// Nonce names the approval request the decision answers (Gate.Nonce). Each
	// request and each escalation gets its own, so a button or API call made for an
	// earlier request, or an earlier run of the same incident ID, is refused.
	Nonce string `json:"nonce,omitempty"`
	// Signature is the engine's HMAC over the decision (see package decisionsig). A
	// worker interceptor checks it before the workflow sees the decision, so a
	// client with raw access to the Temporal frontend cannot forge an approval.
	Signature string `json:"signature,omitempty"`
}

// DecisionResult says what the decision did.
type DecisionResult struct {
	StepID string           `json:"step_id"`
	Status sever.StepStatus `json:"status"`
	// Remaining is how many more approvals the step needs.
	Remaining int `json:"remaining"`
}

// CloseInput ends an incident before its hold window runs out.
type CloseInput struct {
	Reason string `json:"reason"`
	// By names who closed it (the API token's name), for the record.
	By string `json:"by"`
	// Approver is the approver identity of the same token (httpapi.Approver): a
	// false-positive close decides the compensations that need approval as this
	// identity. Closes from before it existed decide as By.
	Approver      string `json:"approver,omitempty"`
	FalsePositive bool   `json:"false_positive,omitempty"`
	// OpenedAt is the opening time of the incident the close was made for (its
	// state's opened_at, kept across continue-as-new). An incident ID comes back when
	// its credential leaks again, and an accepted close stays readable in the old
	// run's history: the validator refuses a close bound to another lifetime.
	OpenedAt time.Time `json:"opened_at,omitzero"`
	// Signature is the engine's HMAC over the close (package decisionsig): a
	// false-positive close approves compensations, so it is checked like a decision.
	Signature string `json:"signature,omitempty"`
}

// ErrStaleClose is the error type of a close made for another lifetime of the
// incident ID: an earlier incident about the same credential.
const ErrStaleClose = "StaleClose"

// CloseResult reports the incident's final status.
type CloseResult struct {
	Status sever.IncidentStatus `json:"status"`
}

// Gate is the approval state of one step.
type Gate struct {
	Approvers  []string         `json:"approvers"`
	Quorum     int              `json:"quorum"`
	Deadline   time.Time        `json:"deadline"`
	Extension  sever.Duration   `json:"extension"`
	Escalated  bool             `json:"escalated"`
	OnTimeout  string           `json:"on_timeout"`
	Decisions  []sever.Decision `json:"decisions,omitempty"`
	ArgsSHA256 string           `json:"args_sha256"`
	Rule       string           `json:"rule"`
	// Channel and TS locate the posted approval request, so its outcome replaces it.
	Channel string `json:"channel,omitempty"`
	TS      string `json:"ts,omitempty"`
	// Nonce identifies the current approval request; a decision must carry it.
	// Empty on gates of runs from before nonces existed, which accept decisions
	// without one.
	Nonce string `json:"nonce,omitempty"`
}

// Memo keys the workflow keeps up to date so listings need no query per incident.
const (
	MemoStatus     = "status"
	MemoCredential = "credential"
	MemoRunbook    = "runbook"
	MemoOpenedAt   = "opened_at"
)
