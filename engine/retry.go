package engine

import (
	"context"
	"strings"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/service"
	"github.com/sever-ir/sever/workflows"
)

var _ service.Retrier = (*Engine)(nil)

// RetryStep runs a failed step of an incident again through the retry Update. The
// step passes the pinned policy gate again (a new approval where the policy or the
// runbook asks for one) and its outcome is a new attempt in the ledger; the
// incident is open again until the runbook ends, then contained or failed.
//
// The incident is read first so the common refusals name the problem plainly; the
// workflow's validator decides races (a close or another retry in between).
func (e *Engine) RetryStep(ctx context.Context, id string, r service.RetryRequest) (service.RetryResult, error) {
	inc, err := e.GetIncident(ctx, id)
	if err != nil {
		return service.RetryResult{}, err
	}
	if inc.Status == sever.IncidentClosed {
		return service.RetryResult{}, sever.Errorf(sever.ECONFLICT, "", "retry: incident %s is closed; a new signal about the credential opens a new incident", id)
	}
	var st *sever.Step
	ids := make([]string, 0, len(inc.Steps))
	for i := range inc.Steps {
		ids = append(ids, inc.Steps[i].ID)
		if inc.Steps[i].ID == r.Step {
			st = &inc.Steps[i]
		}
	}
	if st == nil {
		return service.RetryResult{}, sever.Errorf(sever.ENOTFOUND, "step", "retry: incident %s has no step %q (steps: %s)", id, r.Step, strings.Join(ids, ", "))
	}
	if st.Status != sever.StepFailed {
		return service.RetryResult{}, sever.Errorf(sever.ECONFLICT, "step", "retry: step %s of incident %s is %s, not failed; only a failed step can be retried", r.Step, id, st.Status)
	}
	// Bound to this incident's lifetime and to the attempt that failed, so the signed
	// retry, readable in the history once accepted, cannot run the step again when it
	// fails later or in a later incident with the same ID.
	in := workflows.RetryInput{StepID: r.Step, Reason: r.Reason, By: r.By, OpenedAt: inc.OpenedAt, Attempt: st.Attempt}
	if e.DecisionKey != nil {
		in.Signature = e.DecisionKey.SignRetry(id, in)
	}
	h, err := e.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateID: uuid.NewString(), UpdateName: workflows.UpdateRetry,
		WaitForStage: client.WorkflowUpdateStageCompleted, Args: []any{in},
	})
	if err != nil {
		return service.RetryResult{}, updateErr("retry "+id+"/"+r.Step, id, err)
	}
	var res workflows.RetryResult
	if err := h.Get(ctx, &res); err != nil {
		return service.RetryResult{}, updateErr("retry "+id+"/"+r.Step, id, err)
	}
	return service.RetryResult{IncidentID: id, Step: res.StepID, Attempt: res.Attempt, Steps: res.Steps,
		Status: string(sever.IncidentOpen)}, nil
}
