package worker

import (
	"fmt"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever/internal/decisionsig"
	"github.com/sever-ir/sever/workflows"
)

// DecisionInterceptor refuses every "decide", "close" and "retry" update to an
// incident that the engine did not sign with key. The check runs in the worker,
// where the key is, before the workflow's own validator: the workflow code never
// sees the key, and a client with raw access to the Temporal frontend cannot
// approve a step, close an incident or run a step again.
//
// Like any update validator it does not run on replay, so histories with unsigned
// decisions, closes or retries (from before signing) still replay.
func DecisionInterceptor(key *decisionsig.Key) interceptor.WorkerInterceptor {
	return &decisionWorker{key: key}
}

type decisionWorker struct {
	interceptor.WorkerInterceptorBase
	key *decisionsig.Key
}

func (w *decisionWorker) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	if workflow.GetInfo(ctx).WorkflowType.Name != workflows.IncidentWorkflow {
		return next
	}
	i := &decisionInbound{key: w.key}
	i.Next = next
	return i
}

type decisionInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	key *decisionsig.Key
}

// ValidateUpdate checks the signature of a decision, a close or a retry. The
// refusal is an application error of a stable type, so callers can tell a forged
// request from a stale one.
func (i *decisionInbound) ValidateUpdate(ctx workflow.Context, in *interceptor.UpdateInput) error {
	switch in.Name {
	case workflows.UpdateDecide:
		return i.validateDecide(ctx, in)
	case workflows.UpdateClose:
		return i.validateClose(ctx, in)
	case workflows.UpdateRetry:
		return i.validateRetry(ctx, in)
	}
	return i.Next.ValidateUpdate(ctx, in)
}

func (i *decisionInbound) validateDecide(ctx workflow.Context, in *interceptor.UpdateInput) error {
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	if len(in.Args) != 1 {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("decide: incident %s: want one decision, got %d arguments", id, len(in.Args)), "Forbidden", nil)
	}
	d, ok := in.Args[0].(workflows.DecisionInput)
	if !ok {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("decide: incident %s: argument is %T, not a decision", id, in.Args[0]), "Forbidden", nil)
	}
	if err := i.key.Verify(id, d); err != nil {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("decide: incident %s step %s: %v; decisions are accepted only through sever's API, CLI or Slack", id, d.StepID, err),
			"Forbidden", err)
	}
	return i.Next.ValidateUpdate(ctx, in)
}

// validateClose checks the signature of a close: a false-positive close decides the
// compensations that need approval as its approver identity, which a raw client must
// not be able to claim.
func (i *decisionInbound) validateClose(ctx workflow.Context, in *interceptor.UpdateInput) error {
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	var c workflows.CloseInput
	ok := len(in.Args) == 1
	if ok {
		c, ok = in.Args[0].(workflows.CloseInput)
	}
	if !ok {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("close: incident %s: want one close request", id), "Forbidden", nil)
	}
	if err := i.key.VerifyClose(id, c); err != nil {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("close: incident %s: %v; closes are accepted only through sever's API", id, err), "Forbidden", err)
	}
	return i.Next.ValidateUpdate(ctx, in)
}

// validateRetry checks the signature of a retry: it runs a mutating step again and
// the ledger names who asked for it, neither of which a raw client may do or claim.
func (i *decisionInbound) validateRetry(ctx workflow.Context, in *interceptor.UpdateInput) error {
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	var r workflows.RetryInput
	ok := len(in.Args) == 1
	if ok {
		r, ok = in.Args[0].(workflows.RetryInput)
	}
	if !ok {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("retry: incident %s: want one retry request", id), "Forbidden", nil)
	}
	if err := i.key.VerifyRetry(id, r); err != nil {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("retry: incident %s step %s: %v; retries are accepted only through sever's API", id, r.StepID, err),
			"Forbidden", err)
	}
	return i.Next.ValidateUpdate(ctx, in)
}
