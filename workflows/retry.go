package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/contract"
)

// retryChange versions retries of failed steps. A run from before it refuses every
// retry (its history has no marker, so replay never reaches the retry path); from it
// on, an incident that ended failed takes a retry for as long as it holds, and the
// retried step runs again behind the same policy gate.
const retryChange = "retry-step"

// UpdateRetry runs a failed step again (RetryInput → RetryResult).
const UpdateRetry = "retry"

// ErrRetryRefused is the stable error type of a refused retry: the step did not
// fail, is unknown, or the incident is closed or still running its runbook; or the
// retry is stale, made for another lifetime of the incident or another attempt.
const ErrRetryRefused = "RetryRefused"

// RetryInput asks for one failed step to run again. By names who asked (the API
// token's name), for the record.
type RetryInput struct {
	StepID string `json:"step_id"`
	Reason string `json:"reason,omitempty"`
	By     string `json:"by"`
	// OpenedAt and Attempt bind the retry to the incident's lifetime (its
	// opened_at) and to the attempt that failed (Step.Attempt as the state query
	// reports it). An accepted retry stays readable in the history, so without
	// them it could run the step again after a later failure, or in a later
	// incident with the same ID.
	OpenedAt time.Time `json:"opened_at,omitzero"`
	Attempt  int       `json:"attempt,omitempty"`
	// Signature is the engine's HMAC over the retry (package decisionsig): a retry
	// runs a mutating step again and names who asked in the ledger, so a client
	// with raw access to the Temporal frontend must not be able to send one.
	Signature string `json:"signature,omitempty"`
}

// RetryResult says which attempt the step is on and what runs again with it.
type RetryResult struct {
	StepID  string `json:"step_id"`
	Attempt int    `json:"attempt"`
	// Steps lists every step set back to pending: the retried one and those the
	// failure had skipped.
	Steps []string `json:"steps"`
}

// FactStepRetry is the ledger fact of an accepted retry.
const FactStepRetry = "step_retry"

// attempt is the attempt the step is on: 1 until it is retried.
func (r *run) attempt(stepID string) int {
	return max(r.attempts[stepID], 1)
}

// attemptKey names a step's attempt in ledger keys and nonces. The first attempt
// keeps the bare step ID, so runs from before retries record the same keys.
func (r *run) attemptKey(stepID string) string {
	if n := r.attempt(stepID); n > 1 {
		return stepID + "/attempt/" + strconv.Itoa(n)
	}
	return stepID
}

// idempotencyKey is what a step's action dedupes its change on: the incident's
// lifetime and the step, and on undoAndRetry runs the attempt. A retry is asked
// for because the first attempt's change is not in place (it failed, or was
// undone since); an action that took the first attempt's key would answer the
// retry with the first request's outcome and change nothing.
func (r *run) idempotencyKey(stepID string) string {
	key := stepID
	if r.undoAndRetry {
		key = r.attemptKey(stepID)
	}
	return fmt.Sprintf("%s/%d/%s", r.inc.ID, r.inc.OpenedAt.UnixNano(), key)
}

func retryRefused(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrRetryRefused, nil)
}

// validateRetry refuses a retry before it touches history: only a failed step of
// an incident whose runbook has ended and which is not closed runs again, and only
// on a retry made for this incident's lifetime and the attempt that failed.
//
// A retry that names no lifetime or attempt is not refused here: the worker's
// signature check (package decisionsig) refuses it before it gets here, and a
// worker without a decision key authenticates no retry at all.
func (r *run) validateRetry(ctx workflow.Context, in RetryInput) error {
	i, ok := r.steps[in.StepID]
	switch {
	case !r.retryOn:
		return retryRefused("retry: incident %s runs workflow code from before retries; open a new incident instead", r.inc.ID)
	case !in.OpenedAt.IsZero() && !in.OpenedAt.Equal(r.inc.OpenedAt):
		return retryRefused("retry: incident %s: stale retry: it was made for the incident opened at %s, this one opened at %s",
			r.inc.ID, formatOpened(in.OpenedAt), formatOpened(r.inc.OpenedAt))
	case r.phase == phaseClosed || r.closeReq != nil:
		return retryRefused("retry: incident %s is closed", r.inc.ID)
	case !ok:
		return retryRefused("retry: incident %s has no step %q (steps: %s)", r.inc.ID, in.StepID, strings.Join(r.stepIDs(), ", "))
	case strings.TrimSpace(in.By) == "":
		return retryRefused("retry: step %s: who asks for the retry is required", in.StepID)
	case in.Attempt != 0 && in.Attempt != r.attempt(in.StepID):
		return retryRefused("retry: step %s: stale retry: it was made for attempt %d, the step is on attempt %d; read the incident again",
			in.StepID, in.Attempt, r.attempt(in.StepID))
	}
	st := r.inc.Steps[i]
	switch {
	case st.Status != sever.StepFailed:
		return retryRefused("retry: step %s is %s, not failed; only a failed step can be retried", in.StepID, st.Status)
	case r.phase != phaseHolding:
		return retryRefused("retry: incident %s is still running its runbook; retry step %s once the runbook has ended", r.inc.ID, in.StepID)
	}
	return nil
}

// formatOpened writes an incident's opening time to the nanosecond, the precision
// a close or retry is bound to.
func formatOpened(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// state is what the state query answers: the incident with the attempt each step
// is on, which a retry is bound to. The attempts are added to a copy, so what the
// workflow records (its result, the state carried across continue-as-new) stays
// as it was.
func (r *run) state() sever.Incident {
	inc := r.inc
	inc.Steps = slices.Clone(r.inc.Steps)
	for i := range inc.Steps {
		inc.Steps[i].Attempt = r.attempt(inc.Steps[i].ID)
	}
	return inc
}

func (r *run) stepIDs() []string {
	out := make([]string, len(r.in.Runbook.Steps))
	for i, s := range r.in.Runbook.Steps {
		out[i] = s.ID
	}
	return out
}

// retry sets the failed step, and every step its failure skipped, back to pending
// and puts the incident back to running: the main loop runs the runbook again from
// there, through the policy gate and any approval, as a new attempt.
func (r *run) retry(ctx workflow.Context, in RetryInput) (RetryResult, error) {
	i, ok := r.steps[in.StepID]
	if !ok { // the validator runs first; this guards replays of a changed runbook
		return RetryResult{}, errors.New("retry: unknown step " + in.StepID)
	}
	r.retries++
	res := RetryResult{StepID: in.StepID}
	for j := range r.inc.Steps {
		st := &r.inc.Steps[j]
		if j != i && !skippedByFailure(*st) {
			continue
		}
		if j == i {
			r.keepPriorAttempt(*st)
		}
		r.attempts[st.ID] = r.attempt(st.ID) + 1
		delete(r.gates, st.ID)
		*st = sever.Step{ID: st.ID, Action: st.Action, Status: sever.StepPending, Containment: st.Containment,
			ArgsSHA256: st.ArgsSHA256}
		res.Steps = append(res.Steps, st.ID)
	}
	res.Attempt = r.attempt(in.StepID)
	st := &r.inc.Steps[i]
	r.fact(ctx, contract.LedgerFact{
		Kind: FactStepRetry, Actor: in.By, Step: st.ID, Action: st.Action, ArgsSHA256: st.ArgsSHA256,
		Result: strings.TrimSpace("retry requested: " + in.Reason),
		Detail: map[string]string{"attempt": strconv.Itoa(res.Attempt), "steps": strings.Join(res.Steps, ","),
			"previous_status": string(r.inc.Status)},
		Key: "retry/" + strconv.Itoa(r.retries),
	})
	// Another failure may still abort the runbook: the steps it skips are skipped again.
	r.aborted = ""
	for j, st := range r.inc.Steps {
		if (st.Status == sever.StepFailed || st.Status == sever.StepRefused) && r.in.Runbook.Steps[j].OnFailure != sever.FailContinue {
			r.aborted = fmt.Sprintf("step %s %s", st.ID, st.Status)
			break
		}
	}
	r.inc.Status, r.inc.Reason, r.inc.HoldUntil = sever.IncidentOpen, "", nil
	r.phase, r.draining = phaseRunning, false
	r.statusFact(ctx)
	r.changed = true
	r.logger.Info("step retry accepted", "incident", r.inc.ID, "step", in.StepID, "attempt", res.Attempt, "by", in.By)
	return res, nil
}

// maxPriorAttempts bounds the earlier attempts an incident keeps (each retry is a
// person's request, so this is far more than any incident sees); past it the
// oldest goes, and the ledger still holds every attempt's outcome.
const maxPriorAttempts = 32

// keepPriorAttempt records the failed attempt a retry replaces. It adds no command:
// the incident's state is what queries, reports and the next run read.
func (r *run) keepPriorAttempt(st sever.Step) {
	st.Attempt = r.attempt(st.ID)
	r.inc.PriorAttempts = append(r.inc.PriorAttempts, st)
	if n := len(r.inc.PriorAttempts); n > maxPriorAttempts {
		r.inc.PriorAttempts = slices.Delete(r.inc.PriorAttempts, 0, n-maxPriorAttempts)
	}
}

// skippedByFailure reports whether a step was skipped because another one failed:
// the runbook was aborted, or a step it needs did not succeed.
func skippedByFailure(st sever.Step) bool {
	return st.Status == sever.StepSkipped && st.Enforcement == "" &&
		(strings.HasPrefix(st.Error, "runbook aborted: ") || strings.HasPrefix(st.Error, "needs "))
}
