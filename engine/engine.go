// Package engine turns API calls into Temporal operations: a signal becomes a
// SignalWithStart on the incident of its credential, an incident read becomes a query
// (or the result of a finished run), a close or a decision becomes an Update.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/internal/decisionsig"
	"github.com/sever-ir/sever/workflows"
)

// RunbookSelector chooses the runbook for a new incident.
type RunbookSelector interface {
	Select(t sever.CredentialType, k sever.SignalKind) (*sever.Runbook, error)
}

// Engine implements httpapi.Service on a Temporal client.
type Engine struct {
	Client         client.Client
	Namespace      string
	TaskQueue      string
	Runbooks       RunbookSelector
	Policy         *sever.Policy
	ApproverGroups map[string][]string
	Hold           time.Duration
	// Notify asks new incidents to post threaded notices (set when Slack is configured).
	Notify bool
	Logger *slog.Logger
	// StatusWait bounds how long SubmitSignal waits to learn whether a submission was
	// a duplicate. The signal is durable before the wait starts; a slow answer only
	// turns the status into "queued".
	StatusWait time.Duration
	// Drills allows drill incidents. Set it only where every action runs against
	// the drill cloud: drill incidents run under the policy's drill rules.
	Drills bool
	// DecisionKey signs every decision the engine sends; workers with the same key
	// refuse unsigned ones (worker.DecisionInterceptor). Nil sends them unsigned,
	// which only a worker without the interceptor accepts.
	DecisionKey *decisionsig.Key
	// Refusals records the decisions the workflow refuses (nil: not recorded).
	Refusals RefusalRecorder
	// Ledger returns the production or the drill ledger for reading (nil, or a nil
	// reader: none open), for the refused attempts in reports.
	Ledger func(drill bool) LedgerReader
}

var _ httpapi.Service = (*Engine)(nil)

// SubmitSignal records a signal in the incident of its credential, starting the
// incident if none is open. The runbook and policy are pinned at that start. Opening
// a new incident is charged to the caller's quota (httpapi.ReserveIncidentOpen);
// joining an open one is not.
func (e *Engine) SubmitSignal(ctx context.Context, s sever.Signal) (httpapi.SubmitResult, error) {
	return e.submit(ctx, s, func() (*sever.Runbook, error) { return e.Runbooks.Select(s.Credential.Type, s.Kind) })
}

// submit is SubmitSignal with the runbook a new incident pins chosen by pick.
func (e *Engine) submit(ctx context.Context, s sever.Signal, pick func() (*sever.Runbook, error)) (httpapi.SubmitResult, error) {
	id := sever.IncidentID(s.Credential)
	if s.Drill {
		if !e.Drills {
			// The API refuses these first; this guards every other caller.
			return httpapi.SubmitResult{}, sever.Errorf(httpapi.EFORBIDDEN, "drill",
				"drill incidents are off on this stack: they run only where every action goes to the drill cloud")
		}
		id = "drill-" + id
	}
	rb, err := pick()
	if err != nil {
		// No runbook would start an incident for this kind of signal, but one already
		// open for the credential still records it (a vendor's follow-up, say).
		if serr := e.Client.SignalWorkflow(ctx, id, "", workflows.SignalChannel, s); serr == nil {
			return e.status(ctx, id, s), nil
		}
		return httpapi.SubmitResult{}, err
	}
	// An open incident takes the signal without a start, so only a new incident is
	// charged to the quota. Two first signals racing may both be charged; the quota
	// errs on the side of the limit.
	if err := e.Client.SignalWorkflow(ctx, id, "", workflows.SignalChannel, s); err == nil {
		return e.status(ctx, id, s), nil
	} else if !isNotFound(err) {
		return httpapi.SubmitResult{}, fmt.Errorf("submit signal %s to %s: %w", s.ID, id, unavailable(err))
	}
	release, err := httpapi.ReserveIncidentOpen(ctx)
	if err != nil {
		return httpapi.SubmitResult{}, err
	}
	in := workflows.IncidentInput{
		IncidentID: id, Credential: s.Credential, Runbook: *rb, Policy: *e.Policy,
		ApproverGroups: e.ApproverGroups, Hold: sever.Duration(e.Hold), Drill: s.Drill, Notify: e.Notify,
	}
	opts := client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: e.TaskQueue,
		// A closed incident does not swallow new signals: a new run opens.
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		Memo: map[string]any{
			workflows.MemoStatus: sever.IncidentOpen, workflows.MemoCredential: s.Credential,
			workflows.MemoRunbook: rb.Name, workflows.MemoOpenedAt: s.ReceivedAt,
		},
	}
	if _, err := e.Client.SignalWithStartWorkflow(ctx, id, workflows.SignalChannel, s, opts, workflows.IncidentWorkflow, in); err != nil {
		release()
		return httpapi.SubmitResult{}, fmt.Errorf("submit signal %s to %s: %w", s.ID, id, unavailable(err))
	}
	return e.status(ctx, id, s), nil
}

// status answers a submission: recorded or duplicate once the incident says which,
// queued when the caller asked not to wait (Prefer: respond-async) or the answer is
// slow; the signal is durable in every case.
func (e *Engine) status(ctx context.Context, id string, s sever.Signal) httpapi.SubmitResult {
	res := httpapi.SubmitResult{IncidentID: id, SignalID: s.ID, Status: "queued"}
	if httpapi.RespondAsync(ctx) {
		return res
	}
	st, err := e.signalStatus(ctx, id, s)
	if err != nil {
		e.logger().Debug("signal status unknown; answering queued", "incident", id, "signal", s.ID, "err", err)
		return res
	}
	if st.Known {
		res.Duplicate, res.Status = st.Duplicate, "recorded"
		if st.Duplicate {
			res.Status = "duplicate"
		}
	}
	return res
}

func (e *Engine) signalStatus(ctx context.Context, id string, s sever.Signal) (workflows.SignalStatus, error) {
	wait := e.StatusWait
	if wait == 0 {
		// Long enough for a worker to take the signal's workflow task on a loaded
		// machine; the signal is durable either way, so a slower answer is "queued".
		wait = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	// Queries are strongly consistent: the answer reflects every signal accepted
	// before it, this one included.
	v, err := e.Client.QueryWorkflow(ctx, id, "", workflows.QuerySignalStatus,
		workflows.SignalStatusInput{SignalID: s.ID, Receipt: s.Receipt})
	if err != nil {
		return workflows.SignalStatus{}, err
	}
	var st workflows.SignalStatus
	return st, v.Get(&st)
}

// GetIncident returns the incident's state: live from a query while it runs, from
// the run's result once it has ended.
func (e *Engine) GetIncident(ctx context.Context, id string) (*sever.Incident, error) {
	desc, err := e.Client.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return nil, notFound(id, err)
	}
	if desc.GetWorkflowExecutionInfo().GetType().GetName() != workflows.IncidentWorkflow {
		return nil, sever.Errorf(sever.ENOTFOUND, "", "incident %s not found", id)
	}
	if desc.GetWorkflowExecutionInfo().GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		v, err := e.Client.QueryWorkflow(ctx, id, "", workflows.QueryState)
		if err != nil {
			return nil, fmt.Errorf("get incident %s: query: %w", id, unavailable(err))
		}
		var inc sever.Incident
		if err := v.Get(&inc); err != nil {
			return nil, fmt.Errorf("get incident %s: decode: %w", id, err)
		}
		return &inc, nil
	}
	var res workflows.IncidentResult
	if err := e.Client.GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
		return nil, fmt.Errorf("get incident %s: result of ended run (%s): %w", id,
			desc.GetWorkflowExecutionInfo().GetStatus(), err)
	}
	return &res.Incident, nil
}

// ListIncidents lists incidents newest first from Temporal's visibility store, using
// the memo the workflow keeps current, so a listing costs no query per incident.
func (e *Engine) ListIncidents(ctx context.Context, f httpapi.ListFilter) ([]sever.IncidentSummary, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	out := []sever.IncidentSummary{}
	var token []byte
	for len(out) < limit {
		resp, err := e.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: e.Namespace, PageSize: int32(min(limit, 1000)), NextPageToken: token,
			Query: fmt.Sprintf("WorkflowType = '%s'", workflows.IncidentWorkflow),
		})
		if err != nil {
			return nil, fmt.Errorf("list incidents: %w", unavailable(err))
		}
		for _, ex := range resp.GetExecutions() {
			if ex.GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW {
				continue // its successor is listed
			}
			s := sever.IncidentSummary{ID: ex.GetExecution().GetWorkflowId(),
				Running: ex.GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_RUNNING}
			fields := ex.GetMemo().GetFields()
			dc := converter.GetDefaultDataConverter()
			_ = dc.FromPayload(fields[workflows.MemoStatus], &s.Status)
			_ = dc.FromPayload(fields[workflows.MemoCredential], &s.Credential)
			_ = dc.FromPayload(fields[workflows.MemoRunbook], &s.Runbook)
			_ = dc.FromPayload(fields[workflows.MemoOpenedAt], &s.OpenedAt)
			if !s.Running && s.Status != sever.IncidentClosed {
				// A run that ended without closing (terminated, failed, timed out).
				s.Status = sever.IncidentStatus(strings.ToLower(ex.GetStatus().String()))
			}
			if f.Status != "" && string(s.Status) != f.Status {
				continue
			}
			out = append(out, s)
			if len(out) == limit {
				break
			}
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			break
		}
	}
	return out, nil
}

// CloseIncident ends an incident through the close Update; the workflow's validator
// refuses a close without a reason or of an incident already closed. By names the
// token for the record; Approver is the identity its close decides compensations as.
func (e *Engine) CloseIncident(ctx context.Context, id string, r httpapi.CloseRequest) error {
	in := workflows.CloseInput{Reason: r.Reason, By: r.By, Approver: r.Approver, FalsePositive: r.FalsePositive}
	if e.DecisionKey != nil {
		in.Signature = e.DecisionKey.SignClose(id, in)
	}
	h, err := e.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: workflows.UpdateClose, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{in},
	})
	if err != nil {
		return updateErr("close incident "+id, id, err)
	}
	var res workflows.CloseResult
	if err := h.Get(ctx, &res); err != nil {
		return updateErr("close incident "+id, id, err)
	}
	return nil
}

// Decide passes a verified person's decision to the workflow, signed with the
// decision key. The update ID dedupes a double click or a retried request: Temporal
// returns the first outcome again.
//
// An API, CLI or drill decision without an argument hash or a nonce is bound to the
// step as the incident has it now: the approval request it is waiting on. A Slack
// click always carries its button's nonce, so a stale button is refused.
func (e *Engine) Decide(ctx context.Context, id string, r httpapi.DecideRequest) (httpapi.DecideResult, error) {
	// Only a Slack click can be stale by construction (an old message's button);
	// every other caller without a nonce means the request the step waits on now.
	fillNonce := r.Nonce == "" && !strings.HasPrefix(r.Channel, "slack-")
	if r.ArgsSHA256 == "" || fillNonce {
		inc, err := e.GetIncident(ctx, id)
		if err != nil {
			return httpapi.DecideResult{}, err
		}
		found := false
		for _, st := range inc.Steps {
			if st.ID != r.Step {
				continue
			}
			found = true
			if r.ArgsSHA256 == "" {
				r.ArgsSHA256 = st.ArgsSHA256
			}
			if fillNonce {
				r.Nonce = st.ApprovalNonce
			}
		}
		if !found || r.ArgsSHA256 == "" {
			return httpapi.DecideResult{}, sever.Errorf(sever.ENOTFOUND, "step", "incident %s has no step %q", id, r.Step)
		}
	}
	updateID := r.IdempotencyKey
	if updateID == "" {
		updateID = uuid.NewString()
	}
	d := workflows.DecisionInput{StepID: r.Step, Approve: r.Approve, Approver: r.Approver, Channel: r.Channel,
		ArgsSHA256: r.ArgsSHA256, Reason: r.Reason, Nonce: r.Nonce}
	if e.DecisionKey != nil {
		d.Signature = e.DecisionKey.Sign(id, d)
	}
	h, err := e.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateID: updateID, UpdateName: workflows.UpdateDecide,
		WaitForStage: client.WorkflowUpdateStageCompleted, Args: []any{d},
	})
	if err != nil {
		e.refusedDecision(ctx, id, r, err)
		return httpapi.DecideResult{}, updateErr("decide "+id+"/"+r.Step, id, err)
	}
	var res workflows.DecisionResult
	if err := h.Get(ctx, &res); err != nil {
		e.refusedDecision(ctx, id, r, err)
		return httpapi.DecideResult{}, updateErr("decide "+id+"/"+r.Step, id, err)
	}
	return httpapi.DecideResult{IncidentID: id, Step: res.StepID, Status: string(res.Status), Remaining: res.Remaining}, nil
}

func (e *Engine) logger() *slog.Logger {
	if e.Logger == nil {
		return slog.Default()
	}
	return e.Logger
}

// isNotFound says whether err means no running workflow has the ID (never started,
// or its last run ended).
func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

func notFound(id string, err error) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return sever.Errorf(sever.ENOTFOUND, "", "incident %s not found", id)
	}
	return fmt.Errorf("incident %s: %w", id, unavailable(err))
}

// updateErr turns a validator's rejection into a conflict the caller can show, and
// an unknown or finished workflow into not-found.
func updateErr(op, id string, err error) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return sever.Errorf(sever.ENOTFOUND, "", "incident %s not found or no longer open", id)
	}
	var app interface{ Message() string }
	if errors.As(err, &app) {
		return sever.Errorf(sever.ECONFLICT, "", "%s", app.Message())
	}
	return fmt.Errorf("%s: %w", op, unavailable(err))
}

// unavailable marks errors that mean Temporal could not be reached, so the API
// answers 503 rather than 500.
func unavailable(err error) error {
	var u *serviceerror.Unavailable
	if errors.As(err, &u) || errors.Is(err, context.DeadlineExceeded) {
		return &sever.Error{Code: sever.EUNAVAILABLE, Message: "the workflow service is unavailable; retry"}
	}
	return err
}
