package workflows

import (
	"maps"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever"
)

// cancelTruthChange versions how a close treats a mutating step that is running:
// before it, the step's activity was abandoned at once and the step recorded
// "failed: canceled" even when the action went on to disable the key; from it on,
// mutating activities heartbeat, the close waits for them, and a step whose outcome
// the cancellation hid is read back.
const cancelTruthChange = "cancel-truth"

// mutatingHeartbeat is the heartbeat timeout of mutating activities: how soon a lost
// worker is noticed, and roughly how soon a close reaches the running action (the SDK
// sends heartbeats at most every 0.8 of it).
const mutatingHeartbeat = 10 * time.Second

// Outcomes of a mutating step that a close canceled while it ran, recorded in the
// step's output under outcomeKey.
const (
	outcomeKey        = "outcome"
	outcomeApplied    = "applied"     // the change is in place (the action answered, or the read-back shows it)
	outcomeNotApplied = "not_applied" // the read-back shows the change not in place
	outcomeUnknown    = "unknown"     // nothing could be read back
)

// cancelTruth reports whether this run follows cancelTruthChange. Every call site
// asks, so histories from before it replay unchanged; the first call records it.
func (r *run) cancelTruth(ctx workflow.Context) bool {
	return r.version(ctx, cancelTruthChange) >= 1
}

// readBackCanceled records a mutating step whose activity ended without an answer
// (cause) because the incident was closed while it ran: the action may or may not
// have made its change before the cancellation reached it. The step's verify action,
// run on a disconnected context so the close cannot cut it short, says which.
func (r *run) readBackCanceled(ctx workflow.Context, spec *sever.RunbookStep, st *sever.Step, in sever.ActionInput, cause error) {
	why := "canceled by close while running (" + errorText(cause) + "); outcome unknown — read back"
	if spec.Verify == nil {
		st.Output = withOutcome(nil, outcomeUnknown)
		r.fail(ctx, spec, st, why+" impossible: the step declares no verify action")
		return
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	vin := in
	vin.Action, vin.Args = spec.Verify.Action, spec.Verify.Args
	var vres sever.ActionResult
	if err := workflow.ExecuteActivity(r.activityCtx(dctx, spec, spec.ID+".verify", false), spec.Verify.Action, vin).Get(dctx, &vres); err != nil {
		st.Output = withOutcome(nil, outcomeUnknown)
		r.fail(ctx, spec, st, why+" failed: "+spec.Verify.Action+": "+errorText(err))
		return
	}
	st.Evidence = vres.Evidence
	if !vres.Verified {
		st.Output = withOutcome(nil, outcomeNotApplied)
		st.Summary = "verify: " + vres.Summary
		r.fail(ctx, spec, st, why+": the change is not in place")
		return
	}
	// The change went out before the cancellation reached the action: the step is
	// recorded as applied, so its compensation runs on a false-positive close.
	r.record(st, spec, sever.ActionResult{Verified: true})
	st.Evidence = vres.Evidence
	st.Output = withOutcome(nil, outcomeApplied)
	st.Summary = why + ": the change is in place; verify: " + vres.Summary
	st.Status = sever.StepSucceeded
	r.end(ctx, st)
}

// withOutcome returns a copy of out with the step's outcome set.
func withOutcome(out sever.Values, outcome string) sever.Values {
	out = maps.Clone(out)
	if out == nil {
		out = sever.Values{}
	}
	out[outcomeKey] = outcome
	return out
}

// mayHaveApplied reports whether a step's change may be in place: it succeeded, its
// action answered that it made the change though the step failed after (its
// read-back did not answer), or a close canceled it and nothing could be read back.
// A compensation of a change that never happened is harmless (compensating actions
// read before they write), a key left disabled with no record of it is not.
func mayHaveApplied(st sever.Step) bool {
	o := st.Output[outcomeKey]
	return st.Status == sever.StepSucceeded || o == outcomeApplied || o == outcomeUnknown
}
