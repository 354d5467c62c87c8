package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever"
)

// intakeChange versions synchronous intake: the engine starts an incident with its
// first signal in the input (IncidentInput.First) and delivers every submission as
// the UpdateSignal update, whose result is the answer, so a POST costs one round
// trip and no query. Runs of this version also take a second delivery of the same
// submission (same signal ID and receipt) as a no-op: the engine resends a
// submission as a plain signal when it cannot tell whether its update landed.
const intakeChange = "update-intake"

// Errors of the UpdateSignal validator: a rejected update leaves no trace in the
// history, and these say which check refused it.
var (
	ErrSignalMalformed       = errors.New("submit signal: malformed signal")
	ErrSignalOtherCredential = errors.New("submit signal: the signal is about another credential")
)

// registerIntake records the signal the incident was started with, where the first
// drain of the signal channel would have recorded it, and registers the intake
// update handler. The handler is registered only now: the SDK runs an update
// waiting for its handler as soon as the handler is set, and the signal it carries
// must find the ledger versioned and the first signal recorded.
func (r *run) registerIntake(ctx workflow.Context) error {
	if r.intake && r.in.First != nil && r.in.Carry == nil {
		r.addSignal(ctx, *r.in.First)
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateSignal, r.submitSignal,
		workflow.UpdateHandlerOptions{Validator: r.validateSignal})
}

// validateSignal refuses, before anything is written to the history, a
// submission the engine would never make: no ID or receipt (the answer could not
// tell duplicates apart), a drill flag or credential other than the incident's.
// The API has validated the signal's fields already; this guards the workflow
// against any other client of the Temporal frontend.
func (r *run) validateSignal(ctx workflow.Context, s sever.Signal) error {
	switch {
	case s.ID == "" || s.Receipt == "":
		return fmt.Errorf("%w: signal %q has no ID or no receipt", ErrSignalMalformed, s.ID)
	case s.Drill != r.in.Drill:
		return fmt.Errorf("%w: signal %s has drill=%v, the incident drill=%v", ErrSignalMalformed, s.ID, s.Drill, r.in.Drill)
	case len(s.ID) > maxSignalField || len(s.Receipt) > maxSignalField || len(s.Source) > 128 ||
		len(s.SourceEventID) > maxSignalField || len(s.Summary) > 2048:
		// The API's own bounds (sever.Signal.Validate): nothing larger enters the state.
		return fmt.Errorf("%w: signal %.64q has a field past its bound", ErrSignalMalformed, s.ID)
	case s.Credential.Fingerprint() != r.in.Credential.Fingerprint():
		return fmt.Errorf("%w: signal %s", ErrSignalOtherCredential, s.ID)
	}
	return nil
}

// maxSignalField bounds the identifiers of a submitted signal.
const maxSignalField = 256

// submitSignal records one submission and answers whether it was recorded or a
// duplicate. Signals delivered on the channel before this update are recorded
// first, so the order of submissions about the credential holds whichever way
// each came. The handler never blocks: its answer is part of the workflow task
// that records the signal, durable before the caller hears it.
func (r *run) submitSignal(ctx workflow.Context, s sever.Signal) (SignalResult, error) {
	r.drainSignals(ctx)
	if rec, ok := r.recent.get(s.ID); !ok || rec != s.Receipt {
		// Not this very submission recorded already (the start's First, or the
		// engine's resend): record it, or count it as a duplicate unless it was
		// one already (sameSubmission).
		r.addSignal(ctx, s)
	}
	opened := r.in.First != nil && r.in.First.ID == s.ID && r.in.First.Receipt == s.Receipt
	rec, _ := r.recent.get(s.ID)
	if rec != s.Receipt {
		return SignalResult{Status: SignalDuplicate, Duplicate: true, Opened: opened}, nil
	}
	return SignalResult{Status: SignalRecorded, Opened: opened}, nil
}

// sameSubmission reports whether s is a submission this run has taken already
// (same signal ID and receipt): on intake-versioned runs a recorded one is not
// counted again, and on dupReceipts runs a duplicate one neither.
func (r *run) sameSubmission(s sever.Signal) bool {
	if !r.intake || s.Receipt == "" {
		return false
	}
	if rec, ok := r.recent.get(s.ID); ok && rec == s.Receipt {
		return true
	}
	return r.dupReceipts && r.dupSubs.has(s.ID, s.Receipt)
}
