package workflows

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/contract"
	"github.com/sever-ir/sever/runbooks/cond"
)

// Phases of an incident run.
const (
	phaseRunning = "running" // the runbook is being interpreted
	phaseHolding = "holding" // runbook done; waiting for late signals or a close
	phaseClosed  = "closed"
)

// ServiceActor is the actor recorded for actions sever takes with the enterprise's
// own credentials.
const ServiceActor = "sever"

// Incident interprets the pinned runbook for one credential, records every signal
// that arrives about it, and stays open for late signals until its hold window ends
// or someone closes it.
func Incident(ctx workflow.Context, in IncidentInput) (IncidentResult, error) {
	r, err := newRun(ctx, in)
	if err != nil {
		return IncidentResult{}, err
	}
	if err := r.register(ctx); err != nil {
		return IncidentResult{}, err
	}
	r.startVersions(ctx)
	v := r.version(ctx, ledgerChange)
	r.ledgerOn, r.ledgerLazy = v >= 1, v >= 2
	r.ledgerLocal = r.localLedgerOK && r.in.LocalLedger
	// Runs from before bounded-state continue as new only when quiet, on Temporal's
	// suggestion, and write parked signals one batch each; they replay that way.
	r.bounded = r.version(ctx, boundedChange) >= 1
	r.retryOn = r.version(ctx, retryChange) >= 1
	r.intake = r.version(ctx, intakeChange) >= 1
	if r.intake && r.in.Carry == nil {
		// The engine starts every incident with this memo: writing it again would
		// cost a command and an event per incident on the intake's hot path.
		r.lastMemo = string(sever.IncidentOpen)
	}
	if r.in.Carry == nil {
		r.statusFact(ctx)
	}
	if err := r.registerIntake(ctx); err != nil {
		return IncidentResult{}, err
	}
	r.startLedger(ctx)
	r.startNotifier(ctx)
	// A retry accepted while the incident holds puts it back to running: the
	// runbook runs again from the retried step, then the incident holds again.
	for {
		if r.phase == phaseRunning {
			if err := r.interpret(ctx); err != nil {
				return IncidentResult{}, err
			}
			if r.phase == phaseRunning {
				r.finishRunbook(ctx)
			}
		}
		if r.phase == phaseHolding {
			if err := r.hold(ctx); err != nil {
				return IncidentResult{}, err
			}
		}
		if r.phase != phaseRunning {
			break
		}
	}
	// Signals that raced with the end are still recorded before the run completes,
	// including any that arrive while the last ledger facts are written, on the
	// channel or by the intake update (which records them itself: deliveries).
	for {
		r.drainSignals(ctx)
		seen := r.deliveries
		r.publish(ctx)
		if err := r.flushNotices(ctx); err != nil {
			return IncidentResult{}, err
		}
		if err := r.flushLedger(ctx); err != nil {
			return IncidentResult{}, err
		}
		if r.sigCh.Len() == 0 && r.deliveries == seen {
			return IncidentResult{Incident: r.inc}, nil
		}
	}
}

// boundedChange versions continue-as-new at any point (while steps wait for a
// person), its drain loop, its own triggers and the batching of ledger facts while
// parked. The bounded signal state needs no version: it issues no other commands.
const boundedChange = "bounded-state"

type run struct {
	in    IncidentInput
	inc   sever.Incident
	phase string
	// dedup holds the dedup keys of the signals seen (compact and capped).
	dedup *dedupSet
	// recent maps the latest signal IDs to the receipt of the submission recorded;
	// dupSubs holds the latest submissions that were duplicates (dupReceipts runs).
	recent  *receiptWindow
	dupSubs *submissionSet
	gates   map[string]*Gate
	steps   map[string]int // step id → index
	sigCh   workflow.ReceiveChannel

	changed  bool
	inflight int
	aborted  string
	closeReq *CloseInput
	lastMemo string
	// ledgerOn is false when replaying histories from before the ledger existed;
	// ledgerLazy is false for histories that wrote every fact at once.
	ledgerOn    bool
	ledgerLazy  bool
	ledgerLocal bool
	forceLedger bool
	facts       []contract.LedgerFact
	flushing    bool
	// parked counts steps waiting for a person.
	parked int
	// notices wait to be posted; thread is the parent message once posted.
	notices  []contract.NoticeInput
	thread   *NoticeThread
	noticing bool
	logger   interface{ Info(string, ...any) }

	// current is set on runs of any bundle: every bundled change applies without a
	// marker of its own. localLedgerOK is set on runs of localLedgerBundle or a later
	// bundle, localSteps on runs of localStepsBundle or a later one, dupReceipts on
	// runs of dupReceiptsBundle or CurrentChange, undoAndRetry on runs of
	// CurrentChange only.
	current       bool
	localLedgerOK bool
	localSteps    bool
	dupReceipts   bool
	undoAndRetry  bool

	// bounded is set on runs of the bounded-state version. draining stops new steps
	// so the run can continue as new once every step left waits for a person;
	// canning holds the ledger and notice writers in the task that continues.
	bounded  bool
	draining bool
	canning  bool
	// deliveries counts signal deliveries in this run, duplicates included.
	deliveries int

	// retryOn is set on runs of the retry-step version; retries counts the retries
	// accepted and attempts the attempt each retried step is on (absent: 1).
	retryOn  bool
	retries  int
	attempts map[string]int

	// intake is set on runs of the update-intake version (intake.go).
	intake bool
}

func newRun(ctx workflow.Context, in IncidentInput) (*run, error) {
	if in.IncidentID == "" || len(in.Runbook.Steps) == 0 {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("incident input: incident_id %q with %d runbook steps", in.IncidentID, len(in.Runbook.Steps)),
			"InvalidArgument", nil)
	}
	r := &run{
		in:      in,
		dedup:   newDedupSet(),
		recent:  newReceiptWindow(nil),
		dupSubs: newSubmissionSet(nil),
		gates:   map[string]*Gate{},
		steps:   map[string]int{},
		sigCh:   workflow.GetSignalChannel(ctx, SignalChannel),
		logger:  workflow.GetLogger(ctx),

		attempts: map[string]int{},
	}
	for i, s := range in.Runbook.Steps {
		r.steps[s.ID] = i
	}
	if c := in.Carry; c != nil {
		r.inc, r.phase = c.Incident, c.Phase
		r.loadCarriedSignals(c)
		if c.Approvals != nil {
			r.gates = c.Approvals
		}
		r.facts = c.Facts
		r.notices, r.thread = c.Notices, c.Thread
		if c.Attempts != nil {
			r.attempts = c.Attempts
		}
		r.retries = c.Retries
		r.inc.Runs++
		return r, nil
	}
	now := workflow.Now(ctx).UTC()
	r.phase = phaseRunning
	r.inc = sever.Incident{
		ID: in.IncidentID, Status: sever.IncidentOpen, Credential: in.Credential,
		Runbook: in.Runbook.Ref(), Policy: in.Policy.Ref(), OpenedAt: now,
		Signals: []sever.RecordedSignal{}, Drill: in.Drill, Runs: 1,
	}
	for _, s := range in.Runbook.Steps {
		r.inc.Steps = append(r.inc.Steps, sever.Step{
			ID: s.ID, Action: s.Action, Status: sever.StepPending, Containment: s.Containment,
			ArgsSHA256: sever.ArgsSHA256(s.Action, in.Credential, s.Args),
		})
	}
	return r, nil
}

func (r *run) register(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (sever.Incident, error) {
		return r.state(), nil
	}); err != nil {
		return err
	}
	if err := workflow.SetQueryHandler(ctx, QuerySignalStatus, func(q SignalStatusInput) (SignalStatus, error) {
		rec, ok := r.recent.get(q.SignalID)
		if !ok {
			return SignalStatus{}, nil
		}
		return SignalStatus{Known: true, Duplicate: rec != q.Receipt}, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateDecide, r.decide,
		workflow.UpdateHandlerOptions{Validator: r.validateDecision}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateRetry, r.retry,
		workflow.UpdateHandlerOptions{Validator: r.validateRetry}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateClose,
		func(ctx workflow.Context, c CloseInput) (CloseResult, error) {
			r.closeReq = &c
			r.changed = true
			return CloseResult{Status: sever.IncidentClosed}, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(c CloseInput) error {
			// An unbound close gets here only from a worker without a decision key,
			// which authenticates no close: with the key, decisionsig refuses it.
			switch {
			case !c.OpenedAt.IsZero() && !c.OpenedAt.Equal(r.inc.OpenedAt):
				return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
					"close: incident %s: stale close: it was made for the incident opened at %s, this one opened at %s",
					r.inc.ID, formatOpened(c.OpenedAt), formatOpened(r.inc.OpenedAt)), ErrStaleClose, nil)
			case strings.TrimSpace(c.Reason) == "":
				return errors.New("close: a reason is required")
			case r.phase == phaseClosed || r.closeReq != nil:
				return fmt.Errorf("close: incident %s is already closed", r.inc.ID)
			}
			return nil
		}})
}

// interpret runs the runbook: steps whose needs are met start (independent ones in
// parallel), each behind the policy gate, until nothing more can run.
func (r *run) interpret(ctx workflow.Context) error {
	ctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	if r.in.Carry != nil && r.bounded {
		r.resumeParked(ctx)
	}
	for {
		r.drainSignals(ctx)
		if r.closeReq != nil {
			// Closing mid-runbook stops the steps in flight; what they did is recorded.
			// The wait runs on a disconnected context: the canceled one would return
			// at once, before the steps have written their final state.
			cancel()
			r.skipPending(ctx, "incident closed: "+r.closeReq.Reason)
			dctx, _ := workflow.NewDisconnectedContext(ctx)
			_ = workflow.Await(dctx, func() bool { return r.inflight == 0 })
			return nil
		}
		if r.bounded && !r.draining && r.shouldContinueAsNew(ctx) {
			// Continue as new at any point: start no new step, let running ones
			// finish, and carry those that wait for a person with their gates.
			r.draining = true
		}
		r.schedule(ctx)
		if r.inflight == 0 && r.noneRunnable() {
			return nil
		}
		switch {
		case r.draining && r.parked == r.inflight:
			if err := r.continueAsNew(ctx); err != nil {
				return err
			}
			continue // a close arrived while draining; the loop ends the run
		case !r.bounded && r.shouldContinueAsNew(ctx) && r.quiescent():
			return r.continueAsNew(ctx)
		}
		r.publish(ctx)
		r.changed = false
		if err := workflow.Await(ctx, func() bool {
			return r.changed || r.sigCh.Len() > 0 || (r.draining && r.parked == r.inflight)
		}); err != nil {
			return err
		}
	}
}

// resumeParked restarts the steps a previous run carried while they waited for a
// person: their gates (decisions, deadline, escalation, posted request) came with
// the state, so the wait goes on where it was.
func (r *run) resumeParked(ctx workflow.Context) {
	for i := range r.in.Runbook.Steps {
		spec, st := &r.in.Runbook.Steps[i], &r.inc.Steps[i]
		g, ok := r.gates[spec.ID]
		if st.Status != sever.StepWaitingApproval || !ok {
			continue
		}
		r.inflight++
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer func() { r.inflight--; r.changed = true }()
			r.runStep(ctx, spec, st, g)
		})
	}
}

// schedule starts every pending step whose dependencies are final.
func (r *run) schedule(ctx workflow.Context) {
	if r.draining {
		return // the next run schedules them
	}
	for i := range r.in.Runbook.Steps {
		spec, st := &r.in.Runbook.Steps[i], &r.inc.Steps[i]
		if st.Status != sever.StepPending {
			continue
		}
		if r.aborted != "" {
			r.skip(ctx, st, "runbook aborted: "+r.aborted)
			continue
		}
		ready, blocked := r.needsState(spec)
		if !ready {
			continue
		}
		if blocked != "" {
			r.skip(ctx, st, blocked)
			continue
		}
		if spec.When != "" {
			ok, err := r.evalWhen(spec.When)
			if err != nil {
				r.fail(ctx, spec, st, fmt.Sprintf("when %q: %v", spec.When, err))
				continue
			}
			if !ok {
				r.skip(ctx, st, "condition false: "+spec.When)
				continue
			}
		}
		d := r.in.Policy.Decide(spec.Action, r.in.Credential.Type, r.in.Drill)
		st.PolicyRule = d.Rule
		r.policyFact(ctx, st, d)
		if d.Mode == sever.ModeForbidden {
			st.Status = sever.StepRefused
			st.Error = fmt.Sprintf("policy %s@%s forbids %s (rule %s)", r.in.Policy.Name, r.in.Policy.Version, spec.Action, d.Rule)
			r.end(ctx, st)
			r.onFailure(spec, st)
			r.notice(ctx, contract.NoticeStepFailed, contract.NoticeInput{StepID: st.ID, Action: st.Action, Text: st.Error})
			continue
		}
		gate := r.gateFor(ctx, spec, st, d)
		r.inflight++
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer func() { r.inflight--; r.changed = true }()
			r.runStep(ctx, spec, st, gate)
		})
	}
}

// needsState reports whether every need is final, and if one did not succeed, why
// this step cannot run.
func (r *run) needsState(spec *sever.RunbookStep) (ready bool, blocked string) {
	for _, n := range spec.Needs {
		dep := r.inc.Steps[r.steps[n]]
		if !dep.Status.Done() {
			return false, ""
		}
		if dep.Status != sever.StepSucceeded && blocked == "" {
			blocked = fmt.Sprintf("needs %s, which is %s", n, dep.Status)
		}
	}
	return true, blocked
}

func (r *run) noneRunnable() bool {
	for i := range r.in.Runbook.Steps {
		if st := r.inc.Steps[i]; !st.Status.Done() {
			return false
		}
	}
	return true
}

func (r *run) quiescent() bool {
	if r.inflight > 0 {
		return false
	}
	for _, st := range r.inc.Steps {
		if st.Status == sever.StepRunning || st.Status == sever.StepWaitingApproval {
			return false
		}
	}
	return true
}

func (r *run) runStep(ctx workflow.Context, spec *sever.RunbookStep, st *sever.Step, gate *Gate) {
	if gate != nil {
		if !r.awaitApproval(ctx, spec, st, gate) {
			return
		}
	}
	now := workflow.Now(ctx).UTC()
	st.Status, st.StartedAt = sever.StepRunning, &now
	r.changed = true
	r.publish(ctx)

	in := sever.ActionInput{
		IncidentID: r.inc.ID, StepID: spec.ID, Action: spec.Action, Credential: r.in.Credential,
		Args: spec.Args, Drill: r.in.Drill, Signals: r.signalList(), SignalSummary: r.signalSummary(),
		IdempotencyKey: r.idempotencyKey(spec.ID),
	}
	// A mutating step heartbeats and, when the incident is closed under it, is waited
	// for: what it did must be known before the step is recorded (see cancel.go).
	truth := spec.Mutating && r.cancelTruth(ctx)
	var res sever.ActionResult
	if err := r.execute(ctx, spec, r.attemptKey(spec.ID), truth, !spec.Mutating, spec.Action, in).Get(ctx, &res); err != nil {
		if truth && ctx.Err() != nil {
			r.readBackCanceled(ctx, spec, st, in, err)
			return
		}
		r.fail(ctx, spec, st, errorText(err))
		return
	}
	r.record(st, spec, res)
	vctx := ctx
	if truth {
		// The change is made: its read-back runs to the end even when the incident is
		// closed meanwhile, or the step would be recorded failed with the key disabled.
		vctx, _ = workflow.NewDisconnectedContext(ctx)
		if ctx.Err() != nil {
			st.Output = withOutcome(st.Output, outcomeApplied)
			st.Summary = strings.TrimSpace("canceled by close while running; the action still answered: " + st.Summary)
		}
	}
	if spec.Verify != nil {
		vin := in
		vin.Action, vin.Args = spec.Verify.Action, spec.Verify.Args
		var vres sever.ActionResult
		// A read-back action is read-only: the runbook parser refuses any other.
		if err := r.execute(vctx, spec, r.attemptKey(spec.ID)+".verify", false, true, spec.Verify.Action, vin).Get(vctx, &vres); err != nil {
			st.Verified = false
			if truth {
				// The action answered that it made its change; a false-positive close
				// must undo it even though it could not be read back.
				st.Output = withOutcome(st.Output, outcomeApplied)
			}
			r.fail(ctx, spec, st, "verify "+spec.Verify.Action+": "+errorText(err))
			return
		}
		st.Verified = vres.Verified
		st.Evidence = append(st.Evidence, vres.Evidence...)
		if vres.Summary != "" {
			st.Summary = strings.TrimSpace(st.Summary + "; verify: " + vres.Summary)
		}
	}
	st.Status = sever.StepSucceeded
	if spec.Containment && !st.Verified {
		st.Error = "read-back did not show the control in place"
	}
	r.end(ctx, st)
}

func (r *run) record(st *sever.Step, spec *sever.RunbookStep, res sever.ActionResult) {
	st.Enforcement = res.Enforcement
	if st.Enforcement == "" && spec.Mutating {
		st.Enforcement = spec.Enforcement
	}
	st.Actor = res.Actor
	if st.Actor == "" {
		st.Actor = ServiceActor
	}
	st.Verified = res.Verified
	st.Summary = res.Summary
	st.Output = res.Output
	st.Evidence = res.Evidence
}

// localStepMaxTimeout bounds the read-only steps that run as local activities. A
// read that may take longer (a CloudTrail lookup paging under throttling) keeps an
// activity task of its own rather than hold the workflow task while it runs.
const localStepMaxTimeout = 30 * time.Second

// execute starts one of a step's actions. On runs of localStepsBundle or later, a
// read-only one (readOnly: the step's action does not change state, or it is the
// step's read-back) whose attempts are bounded by localStepMaxTimeout runs as a
// local activity, inside the workflow task: no activity task to dispatch and no
// workflow task to take its result, three fewer server transactions per step. It is retried
// under the same policy. A mutating action always gets an activity task: it
// heartbeats and a close waits for it when heartbeat is set (activityCtx).
func (r *run) execute(ctx workflow.Context, spec *sever.RunbookStep, id string, heartbeat, readOnly bool, action string, in sever.ActionInput) workflow.Future {
	if r.localSteps && LocalAction(spec, readOnly) {
		timeout, attempts, retry := stepRetry(spec)
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			StartToCloseTimeout:    timeout,
			ScheduleToCloseTimeout: stepDeadline(timeout, attempts),
			RetryPolicy:            retry,
		})
		return workflow.ExecuteLocalActivity(lctx, action, in)
	}
	return workflow.ExecuteActivity(r.activityCtx(ctx, spec, id, heartbeat), action, in)
}

// LocalAction reports whether a new incident runs an action of step spec as a local
// activity; readOnly says the action changes nothing (the step's action is not
// mutating, or it is the step's read-back).
func LocalAction(spec *sever.RunbookStep, readOnly bool) bool {
	return readOnly && stepTimeout(spec) <= localStepMaxTimeout
}

// stepTimeout is the start-to-close timeout of one attempt of a step's action.
func stepTimeout(spec *sever.RunbookStep) time.Duration {
	if t := spec.Timeout.D(); t > 0 {
		return t
	}
	return 30 * time.Second
}

// stepRetry is a step's timeout per attempt, its attempts and its retry policy.
func stepRetry(spec *sever.RunbookStep) (time.Duration, int, *temporal.RetryPolicy) {
	timeout := stepTimeout(spec)
	attempts := spec.MaxAttempts
	if attempts <= 0 {
		attempts = 3
	}
	return timeout, attempts, &temporal.RetryPolicy{
		InitialInterval:        500 * time.Millisecond,
		BackoffCoefficient:     2,
		MaximumInterval:        30 * time.Second,
		MaximumAttempts:        int32(attempts),
		NonRetryableErrorTypes: contract.NonRetryableErrorTypes,
	}
}

// stepDeadline bounds the whole step, retries included, so a dead dependency cannot
// park an incident forever.
func stepDeadline(timeout time.Duration, attempts int) time.Duration {
	return time.Duration(attempts)*timeout + time.Duration(attempts)*30*time.Second
}

// activityCtx sets the options of one of a step's activities. A mutating one
// (heartbeat true) must heartbeat, so a lost worker is noticed within
// mutatingHeartbeat and a close reaches the action, and is waited for when canceled.
func (r *run) activityCtx(ctx workflow.Context, spec *sever.RunbookStep, id string, heartbeat bool) workflow.Context {
	timeout, attempts, retry := stepRetry(spec)
	var hb time.Duration
	if heartbeat {
		hb = min(timeout, mutatingHeartbeat)
	}
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		HeartbeatTimeout:       hb,
		WaitForCancellation:    heartbeat,
		ActivityID:             id,
		StartToCloseTimeout:    timeout,
		ScheduleToCloseTimeout: stepDeadline(timeout, attempts),
		RetryPolicy:            retry,
	})
}

func (r *run) fail(ctx workflow.Context, spec *sever.RunbookStep, st *sever.Step, msg string) {
	st.Status, st.Error = sever.StepFailed, msg
	r.end(ctx, st)
	r.onFailure(spec, st)
	r.notice(ctx, contract.NoticeStepFailed, contract.NoticeInput{StepID: st.ID, Action: st.Action, Text: msg})
}

func (r *run) onFailure(spec *sever.RunbookStep, st *sever.Step) {
	if spec.OnFailure != sever.FailContinue && r.aborted == "" {
		r.aborted = fmt.Sprintf("step %s %s", st.ID, st.Status)
	}
}

func (r *run) skip(ctx workflow.Context, st *sever.Step, why string) {
	st.Status, st.Error = sever.StepSkipped, why
	r.end(ctx, st)
}

func (r *run) skipPending(ctx workflow.Context, why string) {
	for i := range r.inc.Steps {
		if st := &r.inc.Steps[i]; st.Status == sever.StepPending {
			r.skip(ctx, st, why)
		}
	}
}

func (r *run) end(ctx workflow.Context, st *sever.Step) {
	now := workflow.Now(ctx).UTC()
	st.EndedAt = &now
	if st.StartedAt == nil {
		st.StartedAt = &now
	}
	r.changed = true
	r.outcomeFact(ctx, st)
}

// finishRunbook decides the incident's status: contained only when at least one
// containment step ran and every containment step that ran was verified.
func (r *run) finishRunbook(ctx workflow.Context) {
	now := workflow.Now(ctx).UTC()
	ran, ok, why := 0, true, ""
	for i, st := range r.inc.Steps {
		spec := r.in.Runbook.Steps[i]
		switch {
		case st.Status == sever.StepFailed || st.Status == sever.StepRefused:
			if spec.Containment || spec.OnFailure != sever.FailContinue {
				ok = false
				why = cmp.Or(why, fmt.Sprintf("step %s %s: %s", st.ID, st.Status, st.Error))
			}
		case spec.Containment && st.Status == sever.StepSucceeded && st.Enforcement == sever.VendorEnforced:
			// What a vendor did is evidence, never the enterprise's control of record.
			why = cmp.Or(why, fmt.Sprintf("step %s was enforced by the vendor, not the enterprise", st.ID))
		case spec.Containment && st.Status == sever.StepSucceeded:
			ran++
			if !st.Verified {
				ok = false
				why = cmp.Or(why, fmt.Sprintf("step %s not verified", st.ID))
			}
		case spec.Containment && (st.Enforcement == sever.HumanDenied || st.Enforcement == sever.ApprovalExpired):
			ok = false
			why = cmp.Or(why, fmt.Sprintf("step %s not run: %s", st.ID, st.Enforcement))
		}
	}
	if ran == 0 && ok {
		ok, why = false, cmp.Or(why, "no containment step ran")
	}
	if r.closeReq != nil {
		r.closeIncident(ctx)
		return
	}
	if ok {
		r.inc.Status, r.inc.ContainedAt = sever.IncidentContained, &now
		r.notice(ctx, contract.NoticeContained, contract.NoticeInput{Text: "contained and verified " + now.Sub(r.inc.OpenedAt).Round(time.Millisecond).String() + " after the first signal"})
	} else {
		r.inc.Status, r.inc.Reason = sever.IncidentFailed, why
		r.notice(ctx, contract.NoticeFailed, contract.NoticeInput{Text: why})
	}
	r.statusFact(ctx)
	hold := r.in.Hold.D()
	if hold <= 0 {
		hold = DefaultHold
	}
	until := now.Add(hold)
	r.inc.HoldUntil = &until
	r.phase = phaseHolding
}

// hold keeps the incident open so late signals join it, until the window ends or
// someone closes the incident.
func (r *run) hold(ctx workflow.Context) error {
	for {
		r.drainSignals(ctx)
		if r.closeReq != nil {
			r.closeIncident(ctx)
			return nil
		}
		if r.phase == phaseRunning {
			return nil // a retry was accepted: the runbook runs again
		}
		if r.shouldContinueAsNew(ctx) {
			if err := r.continueAsNew(ctx); err != nil {
				return err
			}
			continue // a close arrived while draining
		}
		r.publish(ctx)
		left := r.inc.HoldUntil.Sub(workflow.Now(ctx))
		if left <= 0 {
			r.closeReq = &CloseInput{Reason: "hold window ended", By: ServiceActor}
			continue
		}
		r.changed = false
		if _, err := workflow.AwaitWithTimeout(ctx, left, func() bool { return r.changed || r.sigCh.Len() > 0 }); err != nil {
			return err
		}
	}
}

func (r *run) closeIncident(ctx workflow.Context) {
	now := workflow.Now(ctx).UTC()
	r.inc.ClosedAt = &now
	if r.inc.Status == sever.IncidentOpen {
		r.inc.Reason = cmp.Or(r.inc.Reason, "closed before the runbook finished")
	}
	if r.closeReq.FalsePositive {
		r.inc.Reason = "false positive: " + r.closeReq.Reason
		r.compensate(ctx)
	}
	// The status before closing (contained or failed) stays in Reason when it matters.
	if r.inc.Status == sever.IncidentFailed && r.inc.Reason != "" {
		r.inc.Reason = "failed: " + r.inc.Reason
	}
	r.inc.Status = sever.IncidentClosed
	r.phase = phaseClosed
	r.statusFact(ctx)
	r.notice(ctx, contract.NoticeClosed, contract.NoticeInput{Text: r.inc.Reason})
}

// openedText says what opened the incident, for the parent notice.
func (r *run) openedText() string {
	if len(r.inc.Signals) == 0 {
		return "runbook " + r.inc.Runbook.Name
	}
	s := r.inc.Signals[0]
	t := fmt.Sprintf("%s %s from %s", s.Origin, s.Kind, s.Source)
	if s.Summary != "" {
		t += ": " + s.Summary
	}
	return t + "; runbook " + r.inc.Runbook.Name
}

// drainSignals records every signal already delivered, without blocking.
func (r *run) drainSignals(ctx workflow.Context) {
	for {
		var s sever.Signal
		if !r.sigCh.ReceiveAsync(&s) {
			return
		}
		r.addSignal(ctx, s)
	}
}

func (r *run) addSignal(ctx workflow.Context, s sever.Signal) {
	if r.sameSubmission(s) {
		return // a resend of a submission recorded already (intake.go)
	}
	r.changed = true
	r.deliveries++
	r.inc.SignalSummary.Shed += max(0, s.ShedBefore)
	key := s.DedupKey()
	// A kept signal is found even after its key left the capped dedup set.
	if i := keptIndex(&r.inc, key); i >= 0 || r.dedup.has(key) {
		r.inc.Duplicates++
		rec := evictedReceipt
		if i >= 0 {
			r.inc.Signals[i].Duplicates++
			rec = r.inc.Signals[i].Receipt
		}
		r.recent.put(s.ID, rec)
		if r.dupReceipts {
			r.dupSubs.add(s.ID, s.Receipt)
		}
		r.duplicateFact(ctx, s)
		return
	}
	delay := s.ReceivedAt.Sub(r.inc.OpenedAt).Seconds()
	if s.ReceivedAt.IsZero() || delay < 0 {
		delay = 0
	}
	r.dedup.add(key)
	r.recent.put(s.ID, s.Receipt)
	summarize(&r.inc.SignalSummary, s)
	keepSignal(&r.inc, sever.RecordedSignal{Signal: s, DelaySeconds: delay})
	r.signalFact(ctx, s, delay)
	if r.inc.SignalSummary.Total == 1 {
		r.notice(ctx, contract.NoticeOpened, contract.NoticeInput{Text: r.openedText()})
	}
	if r.phase == phaseHolding {
		r.logger.Info("late signal joined incident", "incident", r.inc.ID, "signal", s.ID,
			"source", s.Source, "origin", s.Origin, "delay_s", delay)
	}
}

// signalList is the bounded sample of signals an action gets: the first and the
// latest, never the whole list (signalSummary accounts for all).
func (r *run) signalList() []sever.Signal {
	out := make([]sever.Signal, len(r.inc.Signals))
	for i, s := range r.inc.Signals {
		out[i] = s.Signal
	}
	return out
}

// signalSummary is a copy of the summary for an action's input.
func (r *run) signalSummary() *sever.SignalSummary {
	sum := r.inc.SignalSummary
	return &sum
}

// shouldContinueAsNew says when this run has taken enough: Temporal suggests it,
// or (bounded-state runs) it took ContinueAsNewAfter signal deliveries or its
// history reached DefaultMaxHistoryEvents events.
func (r *run) shouldContinueAsNew(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	if info.GetContinueAsNewSuggested() {
		return true
	}
	if !r.bounded {
		return false
	}
	return r.deliveries >= cmp.Or(r.in.ContinueAsNewAfter, DefaultContinueAsNewAfter) ||
		info.GetCurrentHistoryLength() >= DefaultMaxHistoryEvents
}

// continueAsNew hands the incident to a new run. Following Temporal's guidance it
// lets update handlers finish, waits for the ledger and notice batches in flight,
// and drains the signal channel; because every wait can span workflow tasks in
// which more signals arrive, it loops, and the last drain happens in the same
// workflow task that continues, with nothing in between that could yield. It
// returns nil without continuing when a close arrives meanwhile: the caller ends
// the run instead.
func (r *run) continueAsNew(ctx workflow.Context) error {
	if !r.bounded {
		return r.continueAsNewV0(ctx)
	}
	// Hold the ledger and notice writers: a writer that starts its next batch the
	// moment one ends would never let the loop below see both idle in a flood.
	// Facts past the carry bound are still written (forceLedger).
	r.canning = true
	for {
		if err := workflow.Await(ctx, func() bool {
			return workflow.AllHandlersFinished(ctx) && !r.flushing && !r.noticing
		}); err != nil {
			return err
		}
		r.drainSignals(ctx)
		if r.closeReq != nil {
			r.canning = false
			return nil
		}
		if len(r.facts) > maxCarriedFacts {
			// Write the backlog rather than carry it; signals that arrive meanwhile
			// are drained on the next pass.
			r.forceLedger = true
			err := workflow.Await(ctx, func() bool { return len(r.facts) <= maxCarriedFacts && !r.flushing })
			r.forceLedger = false
			if err != nil {
				return err
			}
			continue
		}
		if workflow.AllHandlersFinished(ctx) && !r.flushing && !r.noticing {
			break
		}
	}
	// Nothing from the last drain to here yields, so no signal can arrive unseen.
	return r.continueWith(ctx)
}

// continueAsNewV0 is continue-as-new as runs from before bounded-state did it.
func (r *run) continueAsNewV0(ctx workflow.Context) error {
	// Every update handler must finish before the run ends, or its caller gets an error.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	r.drainSignals(ctx)
	// Facts still queued travel with the state; the batch in flight finishes first.
	if err := workflow.Await(ctx, func() bool { return !r.flushing && !r.noticing }); err != nil {
		return err
	}
	return r.continueWith(ctx)
}

// continueWith ends the run with a continue-as-new that carries the incident's state.
func (r *run) continueWith(ctx workflow.Context) error {
	next := r.in
	next.First = nil // recorded in this run; the carried state has it
	next.Carry = &Carry{Incident: r.inc, Dedup: r.dedup, Recent: r.recent.list(), Duplicates: r.dupSubs.list(),
		Approvals: r.gates, Phase: r.phase,
		Facts: r.facts, Notices: r.notices, Thread: r.thread, Attempts: r.attempts, Retries: r.retries}
	return workflow.NewContinueAsNewError(ctx, IncidentWorkflow, next)
}

// publish mirrors the status into the memo (for listings) and the current details
// (for the Temporal UI).
func (r *run) publish(ctx workflow.Context) {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("**%s** %s `%s` runbook %s@%s\n\n", r.inc.Status, r.inc.Credential.Type, r.inc.Credential.ID, r.inc.Runbook.Name, r.inc.Runbook.Version))
	for _, st := range r.inc.Steps {
		v := ""
		if st.Verified {
			v = " ✓ verified"
		}
		b.WriteString(fmt.Sprintf("- %s `%s` %s%s %s\n", st.ID, st.Action, st.Status, v, st.Enforcement))
	}
	b.WriteString(fmt.Sprintf("\n%d signal(s), %d duplicate(s)", r.inc.SignalCount(), r.inc.Duplicates))
	workflow.SetCurrentDetails(ctx, b.String())
	status := string(r.inc.Status)
	if status != r.lastMemo {
		r.lastMemo = status
		_ = workflow.UpsertMemo(ctx, map[string]any{
			MemoStatus: status, MemoCredential: r.inc.Credential,
			MemoRunbook: r.inc.Runbook.Name, MemoOpenedAt: r.inc.OpenedAt,
		})
	}
}

func (r *run) evalWhen(expr string) (bool, error) {
	return cond.Eval(expr, cond.NewVars(&r.inc))
}

func errorText(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		if app.Type() != "" {
			return app.Type() + ": " + app.Message()
		}
		return app.Message()
	}
	var to *temporal.TimeoutError
	if errors.As(err, &to) {
		return "timed out (" + to.TimeoutType().String() + ")"
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return "canceled"
	}
	return err.Error()
}
