package telemetry

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/contract"
	"github.com/sever-ir/sever/workflows"
)

// WorkerInterceptor returns the interceptor to put in worker.Options.Interceptors.
// It records, without any change to workflow or activity code:
//   - activity failures, per activity type, from every activity attempt;
//   - time to verified containment, from the Incident workflow's memo updates
//     (the memo is the workflow's published status);
//   - approval requests and outcomes, from the activities the Incident workflow
//     schedules (the approval request and the ledger facts of each decision).
//
// The workflow side only counts work done for the first time: nothing is counted
// while a workflow replays its history after a worker restart or cache eviction.
func (m *Metrics) WorkerInterceptor() interceptor.WorkerInterceptor {
	return &workerInterceptor{m: m}
}

type workerInterceptor struct {
	interceptor.WorkerInterceptorBase
	m *Metrics
}

func (w *workerInterceptor) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	a := &activityInbound{m: w.m}
	a.Next = next
	return a
}

func (w *workerInterceptor) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	if workflow.GetInfo(ctx).WorkflowType.Name != workflows.IncidentWorkflow {
		return next
	}
	i := &incidentInbound{m: w.m, seen: map[string]bool{}}
	i.Next = next
	return i
}

type activityInbound struct {
	interceptor.ActivityInboundInterceptorBase
	m *Metrics
}

func (a *activityInbound) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (res any, err error) {
	name := activity.GetInfo(ctx).ActivityType.Name
	defer func() {
		// A panic is an attempt that failed too; the SDK turns it into an error
		// above this interceptor, where it would not be counted.
		if v := recover(); v != nil {
			a.m.ActivityFailed(name, false)
			panic(v)
		}
	}()
	res, err = a.Next.ExecuteActivity(ctx, in)
	switch {
	case err == nil, errors.Is(err, activity.ErrResultPending):
	case temporal.IsCanceledError(err) || errors.Is(err, context.Canceled):
		// Canceled because the incident was closed mid-step: not a failure of the action.
	default:
		var app *temporal.ApplicationError
		a.m.ActivityFailed(name, errors.As(err, &app) && app.NonRetryable())
	}
	return res, err
}

// incidentInbound follows one run of an Incident workflow. The SDK makes one per
// run and keeps it with the cached workflow, so its fields follow that run's state.
type incidentInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	m *Metrics

	drill    bool
	openedAt time.Time
	// status is the last status the run published; a run continued-as-new starts
	// from the status it carries, so publishing it again is not a transition.
	status sever.IncidentStatus
	// seen holds the ledger fact keys already looked at, so a batch sent again
	// after a failed attempt is not counted twice. It lives as long as the run: a
	// batch that failed all its retries and is carried across continue-as-new
	// counts again, which takes a ledger that has been failing for minutes.
	seen map[string]bool
}

func (i *incidentInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	o := &incidentOutbound{in: i}
	o.Next = outbound
	return i.Next.Init(o)
}

func (i *incidentInbound) ExecuteWorkflow(ctx workflow.Context, in *interceptor.ExecuteWorkflowInput) (any, error) {
	i.status = sever.IncidentOpen
	var inc *workflows.IncidentInput
	if len(in.Args) == 1 {
		switch v := in.Args[0].(type) {
		case workflows.IncidentInput:
			inc = &v
		case *workflows.IncidentInput:
			inc = v
		}
	}
	if inc != nil {
		i.drill = inc.Drill
		if inc.Carry != nil {
			i.status, i.openedAt = inc.Carry.Incident.Status, inc.Carry.Incident.OpenedAt
		}
	}
	return i.Next.ExecuteWorkflow(ctx, in)
}

type incidentOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	in *incidentInbound
}

func (o *incidentOutbound) UpsertMemo(ctx workflow.Context, memo map[string]any) error {
	err := o.Next.UpsertMemo(ctx, memo)
	if err != nil {
		return err
	}
	i := o.in
	if t, ok := memo[workflows.MemoOpenedAt].(time.Time); ok && i.openedAt.IsZero() {
		i.openedAt = t
	}
	st, ok := memoStatus(memo[workflows.MemoStatus])
	if !ok {
		return nil
	}
	prev := i.status
	i.status = st
	if st != sever.IncidentContained || prev == sever.IncidentContained || workflow.IsReplaying(ctx) || i.openedAt.IsZero() {
		return nil
	}
	// The workflow publishes in the same task that marks the incident contained, so
	// workflow time now is its ContainedAt.
	secs := workflow.Now(ctx).Sub(i.openedAt).Seconds()
	if i.drill {
		i.m.DrillContained(secs)
	} else {
		i.m.Contained(secs)
	}
	return nil
}

func memoStatus(v any) (sever.IncidentStatus, bool) {
	switch s := v.(type) {
	case string:
		return sever.IncidentStatus(s), true
	case sever.IncidentStatus:
		return s, true
	}
	return "", false
}

func (o *incidentOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	count := !workflow.IsReplaying(ctx)
	switch activityType {
	case contract.ActivityRequestApproval:
		if r, ok := firstArg[contract.ApprovalRequestInput](args); ok && !r.Escalation && count {
			o.in.m.ApprovalRequested()
		}
	case contract.ActivityLedgerAppend:
		if b, ok := firstArg[contract.LedgerAppendInput](args); ok {
			for _, f := range b.Facts {
				if f.Kind != contract.FactApprovalDecision || o.in.seen[f.Key] {
					continue
				}
				// Keys are remembered during replay too, so a batch replayed and then
				// sent again is still counted once.
				o.in.seen[f.Key] = true
				if count {
					o.in.m.ApprovalOutcome(f.Enforcement)
				}
			}
		}
	}
	return o.Next.ExecuteActivity(ctx, activityType, args...)
}

func firstArg[T any](args []any) (T, bool) {
	var zero T
	if len(args) == 0 {
		return zero, false
	}
	switch v := args[0].(type) {
	case T:
		return v, true
	case *T:
		if v != nil {
			return *v, true
		}
	}
	return zero, false
}
