// Package engine turns API calls into Temporal operations: a signal becomes an
// Update-With-Start on the incident of its credential (a SignalWithStart when the
// caller does not wait), an incident read becomes a query
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
	"go.temporal.io/sdk/temporal"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/decisionsig"
	"github.com/sever-ir/sever/service"
	"github.com/sever-ir/sever/workflows"
)

// RunbookSelector chooses the runbook for a new incident.
type RunbookSelector interface {
	Select(t sever.CredentialType, k sever.SignalKind) (*sever.Runbook, error)
}

// Engine implements service.Service on a Temporal client.
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
	// LocalLedger asks new incidents to write their ledger facts inside the workflow
	// task (set when the ledger has no S3 copy: workflows.IncidentInput).
	LocalLedger bool
	Logger      *slog.Logger
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

var _ service.Service = (*Engine)(nil)

// SubmitSignal records a signal in the incident of its credential, starting the
// incident if none is open. The runbook and policy are pinned at that start. Opening
// a new incident is charged to the caller's quota (r.ReserveOpen); joining an open
// one is not.
func (e *Engine) SubmitSignal(ctx context.Context, r service.SubmitRequest) (service.SubmitResult, error) {
	s := r.Signal
	return e.submit(ctx, r, func() (*sever.Runbook, error) { return e.Runbooks.Select(s.Credential.Type, s.Kind) })
}

// submit is SubmitSignal with the runbook a new incident pins chosen by pick.
//
// A caller that waits for the answer gets it without a query: the signal is
// delivered as the incident's intake update (workflows.UpdateSignal), whose result
// says recorded or duplicate. One Update-With-Start either joins the open incident
// or opens one with the signal (only a new incident is charged to the quota). Its
// answer is part of the workflow task that records the signal, so it is durable
// before the caller hears it. r.RespondAsync keeps
// SignalWithStart, which answers "queued" as soon as the signal is durable.
func (e *Engine) submit(ctx context.Context, req service.SubmitRequest, pick func() (*sever.Runbook, error)) (service.SubmitResult, error) {
	s := req.Signal
	id := sever.IncidentID(s.Credential)
	if s.Drill {
		if !e.Drills {
			// The API refuses these first; this guards every other caller.
			return service.SubmitResult{}, sever.Errorf(service.EFORBIDDEN, "drill",
				"drill incidents are off on this stack: they run only where every action goes to the drill cloud")
		}
		id = "drill-" + id
	}
	if s.Receipt == "" {
		// The receipt tells this submission from a resend of the same event.
		s.Receipt = uuid.NewString()
	}
	if req.RespondAsync {
		return e.submitAsync(ctx, id, s, req.ReserveIncidentOpen, pick)
	}
	rb, err := pick()
	if err != nil {
		// No runbook would start an incident for this kind of signal, but one already
		// open for the credential still records it (a vendor's follow-up, say).
		res, uerr := e.deliver(ctx, id, s, nil)
		if uerr == nil {
			return res.SubmitResult, nil
		}
		if !isNotFound(uerr) {
			r, rerr := e.resend(ctx, id, s, nil, uerr)
			if !isNotFound(rerr) {
				return r, rerr
			}
		}
		return service.SubmitResult{}, err
	}
	// One call whether the incident is open or not: Update-With-Start joins an open
	// incident or opens one. The quota is reserved first and given back when the
	// signal joined an open incident, so only a new incident is charged, as on the
	// asynchronous path. A caller past its quota can still add to an incident that
	// is open: the update without a start takes it, or answers not found.
	release, qerr := req.ReserveIncidentOpen()
	if qerr != nil {
		res, err := e.deliver(ctx, id, s, nil)
		if err == nil {
			return res.SubmitResult, nil
		}
		if !isNotFound(err) {
			if r, rerr := e.resend(ctx, id, s, nil, err); !isNotFound(rerr) {
				return r, rerr
			}
		}
		return service.SubmitResult{}, qerr
	}
	res, err := e.deliver(ctx, id, s, rb)
	if err != nil {
		if isRejected(err) && !isUnknownUpdate(err) {
			release()
		}
		return e.resend(ctx, id, s, rb, err)
	}
	if !res.opened {
		// The incident was open already (or another submission opened it
		// meanwhile): this one joined it.
		release()
	}
	return res.SubmitResult, nil
}

// delivered is the answer of the intake update and whether it opened the incident.
type delivered struct {
	service.SubmitResult
	opened bool
}

// deliver sends s as the intake update and waits, at most StatusWait, for its
// answer. With rb it opens the incident if none is open (Update-With-Start);
// without, a credential with no open incident answers not found.
func (e *Engine) deliver(ctx context.Context, id string, s sever.Signal, rb *sever.Runbook) (delivered, error) {
	ctx, cancel := context.WithTimeout(ctx, e.statusWait())
	defer cancel()
	upd := client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: workflows.UpdateSignal, Args: []any{s},
		// One ID per submission: a retried call gets the first outcome again.
		UpdateID:     "signal/" + s.Receipt,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	}
	var (
		h   client.WorkflowUpdateHandle
		err error
	)
	if rb == nil {
		h, err = e.Client.UpdateWorkflow(ctx, upd)
	} else {
		in := e.input(id, s, rb)
		in.First = &s
		opts := e.startOptions(id, s, rb)
		opts.WorkflowIDConflictPolicy = enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
		op := e.Client.NewWithStartWorkflowOperation(opts, workflows.IncidentWorkflow, in)
		h, err = e.Client.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
			StartWorkflowOperation: op, UpdateOptions: upd,
		})
	}
	var res workflows.SignalResult
	if err == nil {
		err = h.Get(ctx, &res)
	}
	if err != nil {
		return delivered{}, err
	}
	out := service.SubmitResult{IncidentID: id, SignalID: s.ID, Status: res.Status, Duplicate: res.Duplicate}
	return delivered{SubmitResult: out, opened: res.Opened}, nil
}

// resend makes a submission whose update did not answer durable the way the
// asynchronous path does, so a 202 is never lost: a signal (with rb, a
// SignalWithStart). Runs of the intake version take a second delivery of the same
// submission as a no-op, so an update that landed after all is not counted twice.
// A worker from before the intake update rejects it; its incidents get the signal
// and the status query. The validator's refusal is final.
func (e *Engine) resend(ctx context.Context, id string, s sever.Signal, rb *sever.Runbook, cause error) (service.SubmitResult, error) {
	if isRejected(cause) && !isUnknownUpdate(cause) {
		return service.SubmitResult{}, sever.Errorf(sever.EINVALID, "", "submit signal %s to %s: %s", s.ID, id, rejection(cause))
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return service.SubmitResult{}, fmt.Errorf("submit signal %s to %s: %w", s.ID, id, ctx.Err())
	}
	e.logger().Debug("intake update did not answer; resending as a signal", "incident", id, "signal", s.ID, "err", cause)
	var err error
	if rb == nil {
		err = e.Client.SignalWorkflow(ctx, id, "", workflows.SignalChannel, s)
	} else {
		_, err = e.Client.SignalWithStartWorkflow(ctx, id, workflows.SignalChannel, s, e.startOptions(id, s, rb),
			workflows.IncidentWorkflow, e.input(id, s, rb))
	}
	if err != nil {
		if isNotFound(err) {
			// No open incident (any more): the caller decides (isNotFound).
			return service.SubmitResult{}, fmt.Errorf("submit signal %s to %s: %w", s.ID, id, err)
		}
		return service.SubmitResult{}, fmt.Errorf("submit signal %s to %s: %w", s.ID, id, unavailable(err))
	}
	if isUnknownUpdate(cause) {
		return e.status(ctx, id, s), nil
	}
	return service.SubmitResult{IncidentID: id, SignalID: s.ID, Status: service.SubmitQueued}, nil
}

// submitAsync is the RespondAsync path: the signal is made durable by
// SignalWorkflow or SignalWithStart and the answer is "queued". reserve charges a
// new incident to the caller's quota.
func (e *Engine) submitAsync(ctx context.Context, id string, s sever.Signal, reserve func() (func(), error), pick func() (*sever.Runbook, error)) (service.SubmitResult, error) {
	queued := service.SubmitResult{IncidentID: id, SignalID: s.ID, Status: service.SubmitQueued}
	rb, err := pick()
	if err != nil {
		if serr := e.Client.SignalWorkflow(ctx, id, "", workflows.SignalChannel, s); serr == nil {
			return queued, nil
		}
		return service.SubmitResult{}, err
	}
	// An open incident takes the signal without a start, so only a new incident is
	// charged to the quota.
	if err := e.Client.SignalWorkflow(ctx, id, "", workflows.SignalChannel, s); err == nil {
		return queued, nil
	} else if !isNotFound(err) {
		return service.SubmitResult{}, fmt.Errorf("submit signal %s to %s: %w", s.ID, id, unavailable(err))
	}
	release, err := reserve()
	if err != nil {
		return service.SubmitResult{}, err
	}
	if _, err := e.Client.SignalWithStartWorkflow(ctx, id, workflows.SignalChannel, s, e.startOptions(id, s, rb),
		workflows.IncidentWorkflow, e.input(id, s, rb)); err != nil {
		release()
		return service.SubmitResult{}, fmt.Errorf("submit signal %s to %s: %w", s.ID, id, unavailable(err))
	}
	return queued, nil
}

// input is the input of a new incident for s under rb.
func (e *Engine) input(id string, s sever.Signal, rb *sever.Runbook) workflows.IncidentInput {
	return workflows.IncidentInput{
		IncidentID: id, Credential: s.Credential, Runbook: *rb, Policy: *e.Policy,
		ApproverGroups: e.ApproverGroups, Hold: sever.Duration(e.Hold), Drill: s.Drill, Notify: e.Notify,
		LocalLedger: e.LocalLedger,
	}
}

// startOptions are the options of a new incident's workflow.
func (e *Engine) startOptions(id string, s sever.Signal, rb *sever.Runbook) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: e.TaskQueue,
		// A closed incident does not swallow new signals: a new run opens.
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		Memo: map[string]any{
			workflows.MemoStatus: sever.IncidentOpen, workflows.MemoCredential: s.Credential,
			workflows.MemoRunbook: rb.Name, workflows.MemoOpenedAt: s.ReceivedAt,
		},
	}
}

// statusWait bounds the wait for an answer; the signal is durable either way.
func (e *Engine) statusWait() time.Duration {
	if e.StatusWait > 0 {
		return e.StatusWait
	}
	// Long enough for a worker to take the signal's workflow task on a loaded
	// machine; a slower answer is "queued".
	return 5 * time.Second
}

// isRejected says whether an update was refused by the workflow (its validator,
// or a worker without the handler): nothing was recorded.
func isRejected(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app)
}

// isUnknownUpdate says whether the incident's worker predates the intake update.
func isUnknownUpdate(err error) bool {
	return isRejected(err) && strings.Contains(rejection(err), "unknown update")
}

func rejection(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	return err.Error()
}

// status answers a submission: recorded or duplicate once the incident says which,
// queued when the caller asked not to wait (SubmitRequest.RespondAsync) or the answer is
// slow; the signal is durable in every case.
func (e *Engine) status(ctx context.Context, id string, s sever.Signal) service.SubmitResult {
	res := service.SubmitResult{IncidentID: id, SignalID: s.ID, Status: service.SubmitQueued}
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
	ctx, cancel := context.WithTimeout(ctx, e.statusWait())
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
	status, err := e.incidentStatus(ctx, id)
	if err != nil {
		return nil, err
	}
	if status == enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return e.queryIncident(ctx, id)
	}
	var res workflows.IncidentResult
	if err := e.Client.GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
		return nil, fmt.Errorf("get incident %s: result of ended run (%s): %w", id, status, err)
	}
	return &res.Incident, nil
}

// incidentStatus is the execution status of incident id's latest run; ENOTFOUND when
// there is none, or the workflow ID is not an incident's.
func (e *Engine) incidentStatus(ctx context.Context, id string) (enums.WorkflowExecutionStatus, error) {
	desc, err := e.Client.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return 0, notFound(id, err)
	}
	if desc.GetWorkflowExecutionInfo().GetType().GetName() != workflows.IncidentWorkflow {
		return 0, sever.Errorf(sever.ENOTFOUND, "", "incident %s not found", id)
	}
	return desc.GetWorkflowExecutionInfo().GetStatus(), nil
}

func (e *Engine) queryIncident(ctx context.Context, id string) (*sever.Incident, error) {
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

// ListIncidents lists incidents newest first from Temporal's visibility store, using
// the memo the workflow keeps current, so a listing costs no query per incident.
func (e *Engine) ListIncidents(ctx context.Context, f service.ListFilter) ([]sever.IncidentSummary, error) {
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
//
// The close is bound to the incident as it runs now (its opening time): the signed
// close stays in the run's history, and must not close a later incident that a new
// leak of the credential opens under the same ID.
func (e *Engine) CloseIncident(ctx context.Context, id string, r service.CloseRequest) error {
	status, err := e.incidentStatus(ctx, id)
	if err != nil {
		return err
	}
	if status != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return sever.Errorf(sever.ENOTFOUND, "", "incident %s not found or no longer open", id)
	}
	inc, err := e.queryIncident(ctx, id)
	if err != nil {
		return fmt.Errorf("close incident %s: %w", id, err)
	}
	in := workflows.CloseInput{Reason: r.Reason, By: r.By, Approver: r.Approver, FalsePositive: r.FalsePositive,
		OpenedAt: inc.OpenedAt}
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
func (e *Engine) Decide(ctx context.Context, id string, r service.DecideRequest) (service.DecideResult, error) {
	// Only a Slack click can be stale by construction (an old message's button);
	// every other caller without a nonce means the request the step waits on now.
	fillNonce := r.Nonce == "" && !strings.HasPrefix(r.Channel, "slack-")
	if r.ArgsSHA256 == "" || fillNonce {
		inc, err := e.GetIncident(ctx, id)
		if err != nil {
			return service.DecideResult{}, err
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
			return service.DecideResult{}, sever.Errorf(sever.ENOTFOUND, "step", "incident %s has no step %q", id, r.Step)
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
		return service.DecideResult{}, updateErr("decide "+id+"/"+r.Step, id, err)
	}
	var res workflows.DecisionResult
	if err := h.Get(ctx, &res); err != nil {
		e.refusedDecision(ctx, id, r, err)
		return service.DecideResult{}, updateErr("decide "+id+"/"+r.Step, id, err)
	}
	return service.DecideResult{IncidentID: id, Step: res.StepID, Status: string(res.Status), Remaining: res.Remaining}, nil
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
