// Package service is the contract between sever's front ends (the HTTP API, the
// Slack app, the web UI, telemetry) and the engine: the Service interface and the
// requests and results it takes and gives.
//
// It is a leaf of its own rather than part of the root package sever because one
// optional part (RefusalSource) speaks in report types, and the root package imports
// nothing of sever's. It imports no transport, no Temporal package and no CEL, so
// the engine can implement it without importing the HTTP API it serves.
package service

import (
	"context"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/report"
)

// EFORBIDDEN is the error code for an authenticated caller who may not do what it
// asked (a drill signal without the drill scope, a containment without an
// operator). It travels in the same *sever.Error as the codes of package sever.
const EFORBIDDEN = "forbidden"

// Service is what the front ends need from the engine.
type Service interface {
	// SubmitSignal hands a validated, normalized signal to the engine.
	SubmitSignal(ctx context.Context, r SubmitRequest) (SubmitResult, error)
	ListIncidents(ctx context.Context, f ListFilter) ([]sever.IncidentSummary, error)
	// GetIncident returns *sever.Error{Code: sever.ENOTFOUND} when id is unknown.
	GetIncident(ctx context.Context, id string) (*sever.Incident, error)
	CloseIncident(ctx context.Context, id string, r CloseRequest) error
	// Decide passes a person's approval decision on a step waiting for one. The
	// workflow refuses approvers outside the step's set, self-approval, stale and
	// repeated decisions; those refusals come back as ECONFLICT.
	Decide(ctx context.Context, id string, r DecideRequest) (DecideResult, error)
	// Contain is SubmitSignal for an operator's on-demand containment (POST
	// /v1/incidents). A non-empty runbook pins a new incident to that runbook; one that
	// does not exist or does not match the credential's type is EUNPROCESSABLE, and
	// the message lists the runbooks that do.
	Contain(ctx context.Context, r SubmitRequest, runbook string) (SubmitResult, error)
}

// SubmitRequest is one signal handed to the engine, with what the front end that
// received it asks of the submission.
type SubmitRequest struct {
	Signal sever.Signal
	// RespondAsync asks not to wait for the incident's answer (HTTP "Prefer:
	// respond-async", RFC 7240, or a front end with a deadline of its own such as
	// Slack's three seconds): the answer is SubmitQueued once the signal is durable,
	// so a sender flooding signals need not pay a round trip through the workflow
	// for each to learn whether it was a duplicate.
	RespondAsync bool
	// ReserveOpen, when set, charges the opening of a new incident to the caller's
	// quota; the engine calls it (through ReserveIncidentOpen) before it opens a new
	// incident for the signal, not when the signal joins an open one. Its error is
	// the caller's own (the HTTP API's is a rate-limit error) and is returned as is;
	// release gives the opening back if the incident was not opened after all.
	ReserveOpen func() (release func(), err error)
}

// ReserveIncidentOpen calls r.ReserveOpen, and allows everything when the caller
// set none (tests, in-process callers without quotas).
func (r SubmitRequest) ReserveIncidentOpen() (release func(), err error) {
	if r.ReserveOpen == nil {
		return func() {}, nil
	}
	return r.ReserveOpen()
}

// Values of SubmitResult.Status.
const (
	SubmitRecorded  = "recorded"  // the incident recorded the signal
	SubmitDuplicate = "duplicate" // the incident already had this source event
	SubmitQueued    = "queued"    // accepted; the incident will record it
)

// SubmitResult is the answer to a submitted signal (POST /v1/signals).
type SubmitResult struct {
	IncidentID string `json:"incident_id"`
	SignalID   string `json:"signal_id"`
	Duplicate  bool   `json:"duplicate"`
	Status     string `json:"status"`
}

// ListFilter narrows a listing of incidents. An empty Status means every status.
type ListFilter struct {
	Status string
	Limit  int
}

// CloseRequest asks for an incident to be closed (the body of POST
// /v1/incidents/{id}/close).
type CloseRequest struct {
	Reason string `json:"reason"`
	// By is the name of the token that asked; it never comes from the body.
	By string `json:"-"`
	// Approver is that token's approver identity, the one mapping from token to
	// approver used for decisions and closes alike.
	Approver      string `json:"-"`
	FalsePositive bool   `json:"false_positive"`
}

// DecideRequest is one decision on a step. Approver and Channel are set by the
// front end from the authenticated caller, never from a request body.
type DecideRequest struct {
	Step    string `json:"step"`
	Approve bool   `json:"-"`
	// ArgsSHA256 binds the decision to the exact arguments the person saw; empty
	// means the step's arguments as they stand (runbooks are pinned, so they cannot
	// change under the decision).
	ArgsSHA256 string `json:"args_sha256"`
	Reason     string `json:"reason"`
	Approver   string `json:"-"`
	Channel    string `json:"-"`
	// Nonce names the approval request the decision answers (the step's
	// approval_nonce, or a Slack button's). Empty from the API or CLI means the
	// request the step waits on now.
	Nonce string `json:"nonce"`
	// IdempotencyKey dedupes a retried request (the Idempotency-Key header).
	IdempotencyKey string `json:"-"`
}

// DecideResult says where the step stands after the decision.
type DecideResult struct {
	IncidentID string `json:"incident_id"`
	Step       string `json:"step"`
	Status     string `json:"status"`
	Remaining  int    `json:"remaining"`
}

// RetryRequest asks for a failed step of an incident to run again.
type RetryRequest struct {
	Step   string `json:"step"`
	Reason string `json:"reason,omitempty"`
	// By is the name of the token that asked; it never comes from the body.
	By string `json:"-"`
}

// RetryResult is the answer to a retry: the step's new attempt and every step set
// back to pending with it.
type RetryResult struct {
	IncidentID string   `json:"incident_id"`
	Step       string   `json:"step"`
	Attempt    int      `json:"attempt"`
	Steps      []string `json:"steps"`
	Status     string   `json:"status"`
}

// Retrier is the part of a Service that retries failed steps. It is separate from
// Service so that services without retries (test fakes, read-only front ends) need
// not implement it; the HTTP route answers 501 for them.
type Retrier interface {
	RetryStep(ctx context.Context, id string, r RetryRequest) (RetryResult, error)
}

// RefusalSource is the part of a Service that reads an incident's refused attempts
// from the ledger for its report. It is separate from Service so services without
// a ledger need not implement it.
type RefusalSource interface {
	RefusedAttempts(ctx context.Context, id string) ([]report.RefusedAttempt, error)
}
