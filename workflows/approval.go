package workflows

import (
	"crypto/sha256"
	"encoding/hex"
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

// Approval channels: where a decision came from. Recorded with the decision.
var ApprovalChannels = []string{"slack-http", "slack-socket", "cli", "api", "drill"}

// RefusedTypePrefix starts the error type of a refused decision; the rest is the
// reason, in the vocabulary of the ledger's refused_decision facts (outsider,
// self_approval, wrong_arguments, after_deadline, after_quorum, stale_request,
// already_decided, not_waiting, unknown_step, invalid). The caller that gets the
// rejection records it: the validator itself leaves no trace.
const RefusedTypePrefix = "DecisionRefused:"

func refuse(reason, format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), RefusedTypePrefix+reason, nil)
}

// validateDecision rejects a decision before it touches history: a rejected update
// leaves no trace, so forged, stale or misdirected clicks cannot pollute the record.
func (r *run) validateDecision(ctx workflow.Context, d DecisionInput) error {
	i, ok := r.steps[d.StepID]
	if !ok {
		return refuse("unknown_step", "decide: incident %s has no step %q", r.inc.ID, d.StepID)
	}
	st, g := r.inc.Steps[i], r.gates[d.StepID]
	switch {
	case g != nil && st.Enforcement == sever.ApprovalExpired:
		return refuse("after_deadline", "decide: step %s: the approval deadline %s has passed (on_timeout %s applied)", d.StepID, g.Deadline.Format("2006-01-02T15:04:05Z07:00"), g.OnTimeout)
	case g == nil || st.Status != sever.StepWaitingApproval:
		return refuse("not_waiting", "decide: step %s is %s, not waiting for approval", d.StepID, st.Status)
	// Between the decision that settles a step and the step leaving
	// waiting_approval, a late decision must not reopen the outcome.
	case g.denied() != nil:
		return refuse("after_quorum", "decide: step %s already denied by %s", d.StepID, g.denied().Approver)
	case g.approvals() >= max(g.Quorum, 1):
		return refuse("after_quorum", "decide: step %s already approved: quorum %d of %d met", d.StepID, g.approvals(), max(g.Quorum, 1))
	case strings.TrimSpace(d.Approver) == "":
		return refuse("invalid", "decide: step %s: approver identity is required", d.StepID)
	case !slices.Contains(ApprovalChannels, d.Channel):
		return refuse("invalid", "decide: step %s: unknown channel %q (one of %s)", d.StepID, d.Channel, strings.Join(ApprovalChannels, ", "))
	case d.ArgsSHA256 != g.ArgsSHA256:
		return refuse("wrong_arguments", "decide: step %s: the decision is for different arguments (args hash %.12s, step has %.12s)", d.StepID, d.ArgsSHA256, g.ArgsSHA256)
	case !workflow.Now(ctx).Before(g.Deadline):
		return refuse("after_deadline", "decide: step %s: the approval deadline %s has passed", d.StepID, g.Deadline.Format("2006-01-02T15:04:05Z07:00"))
	case len(g.Approvers) == 0:
		return refuse("invalid", "decide: step %s has no approvers configured (rule %s); set approvers in the runbook or policy", d.StepID, g.Rule)
	case !slices.Contains(g.Approvers, d.Approver):
		return refuse("outsider", "decide: %s may not decide step %s (approvers: %s)", d.Approver, d.StepID, strings.Join(g.Approvers, ", "))
	case r.reportedBy(d.Approver):
		return refuse("self_approval", "decide: %s raised this incident and may not approve its actions", d.Approver)
	case g.Nonce != "" && d.Nonce == "":
		return refuse("stale_request", "decide: step %s: the decision names no approval request (nonce); send the approval_nonce of the waiting step", d.StepID)
	case g.Nonce != "" && d.Nonce != g.Nonce:
		return refuse("stale_request", "decide: step %s: the decision answers an earlier or other approval request (nonce %.8s, current %.8s); decide on the current request", d.StepID, d.Nonce, g.Nonce)
	}
	for _, prev := range g.Decisions {
		if prev.Approver == d.Approver {
			return refuse("already_decided", "decide: %s already decided step %s", d.Approver, d.StepID)
		}
	}
	return nil
}

func (r *run) reportedBy(who string) bool {
	// The summary lists every reporter; the kept signals are only a sample.
	if r.inc.SignalSummary.Reported(who) {
		return true
	}
	for _, s := range r.inc.Signals {
		if s.Reporter == who {
			return true
		}
	}
	return false
}

func (r *run) decide(ctx workflow.Context, d DecisionInput) (DecisionResult, error) {
	g := r.gates[d.StepID]
	dec := sever.Decision{
		StepID: d.StepID, Approve: d.Approve, Approver: d.Approver, Channel: d.Channel,
		ArgsSHA256: d.ArgsSHA256, At: workflow.Now(ctx).UTC(), Reason: d.Reason,
	}
	g.Decisions = append(g.Decisions, dec)
	r.approvalFact(ctx, &r.inc.Steps[r.steps[d.StepID]], dec, g)
	r.changed = true
	res := DecisionResult{StepID: d.StepID, Status: sever.StepWaitingApproval, Remaining: g.remaining()}
	switch {
	case !d.Approve:
		res.Status, res.Remaining = sever.StepSkipped, 0
	case res.Remaining == 0:
		res.Status = sever.StepRunning
	}
	return res, nil
}

func (g *Gate) approvals() int {
	n := 0
	for _, d := range g.Decisions {
		if d.Approve {
			n++
		}
	}
	return n
}

func (g *Gate) denied() *sever.Decision {
	for i := range g.Decisions {
		if !g.Decisions[i].Approve {
			return &g.Decisions[i]
		}
	}
	return nil
}

func (g *Gate) remaining() int {
	if g.denied() != nil {
		return 0
	}
	return max(0, g.Quorum-g.approvals())
}

// awaitApproval parks the step until quorum, a denial, or the deadline. At the first
// deadline the request is escalated and extended once; at the second the step's
// explicit on_timeout applies and approval_expired is recorded as its own outcome.
// It reports whether the step may run.
func (r *run) awaitApproval(ctx workflow.Context, spec *sever.RunbookStep, st *sever.Step, g *Gate) bool {
	st.Status = sever.StepWaitingApproval
	r.changed = true
	r.publish(ctx)
	// Histories recorded before approval notices existed replay without them.
	notify := r.version(ctx, approvalNoticeChange) == 1
	// A gate carried over continue-as-new keeps its nonce; a new one gets one unless
	// the history predates nonces (its decisions carry none).
	if g.Nonce == "" && !g.Escalated && g.TS == "" && len(g.Decisions) == 0 &&
		r.version(ctx, approvalNonceChange) == 1 {
		g.Nonce = r.approvalNonce(spec.ID, 0)
	}
	st.ApprovalNonce = g.Nonce
	defer func() { st.ApprovalNonce = ""; r.changed = true }()
	if notify && g.TS == "" {
		r.requestApproval(ctx, spec, st, g, false)
	}
	for {
		left := g.Deadline.Sub(workflow.Now(ctx))
		decided := g.remaining() == 0
		if !decided && left > 0 {
			var err error
			r.parked++
			decided, err = workflow.AwaitWithTimeout(ctx, left, func() bool { return g.remaining() == 0 })
			r.parked--
			if err != nil { // canceled: the incident was closed
				st.Approvals = g.Decisions
				r.skip(ctx, st, "approval canceled: incident closed")
				if notify && g.Nonce != "" {
					// The request must stop taking clicks; ctx is canceled, so post
					// on a context the close does not cancel.
					dctx, _ := workflow.NewDisconnectedContext(ctx)
					r.approvalOutcome(dctx, spec, st, g, contract.OutcomeCanceled)
				}
				return false
			}
		}
		if decided {
			break
		}
		if !g.Escalated {
			if notify && g.Nonce != "" {
				// The first request's buttons stop working with the new nonce; say so
				// on the message before the escalation replaces it.
				r.approvalOutcome(ctx, spec, st, g, contract.OutcomeSuperseded)
			}
			g.Escalated = true
			g.Deadline = workflow.Now(ctx).UTC().Add(g.Extension.D())
			if g.Nonce != "" {
				g.Nonce = r.approvalNonce(spec.ID, 1)
				st.ApprovalNonce = g.Nonce
				g.Channel, g.TS = "", ""
			}
			r.logger.Info("approval escalated", "incident", r.inc.ID, "step", spec.ID, "deadline", g.Deadline)
			r.changed = true
			if notify {
				r.requestApproval(ctx, spec, st, g, true)
			}
			continue
		}
		ok := r.expire(ctx, spec, st, g)
		if notify {
			r.approvalOutcome(ctx, spec, st, g, sever.ApprovalExpired)
		}
		return ok
	}
	st.Approvals = g.Decisions
	if notify {
		outcome := sever.HumanApproved
		if g.denied() != nil {
			outcome = sever.HumanDenied
		}
		r.approvalOutcome(ctx, spec, st, g, outcome)
	}
	if d := g.denied(); d != nil {
		st.Status, st.Enforcement, st.Actor = sever.StepSkipped, sever.HumanDenied, d.Approver
		st.Error = "denied by " + d.Approver
		if d.Reason != "" {
			st.Error += ": " + d.Reason
		}
		r.end(ctx, st)
		return false
	}
	return true
}

func (r *run) expire(ctx workflow.Context, spec *sever.RunbookStep, st *sever.Step, g *Gate) bool {
	st.Approvals = g.Decisions
	r.expiryFact(ctx, st, g)
	switch g.OnTimeout {
	case sever.OnTimeoutProceed:
		st.Approvals = append(st.Approvals, sever.Decision{
			StepID: spec.ID, Approve: true, Approver: "policy:" + g.Rule, Channel: "timeout",
			ArgsSHA256: g.ArgsSHA256, At: workflow.Now(ctx).UTC(),
			Reason: "approval expired; pre-approved fallback allowed by policy",
		})
		return true
	case sever.OnTimeoutAbort:
		st.Status, st.Enforcement, st.Error = sever.StepFailed, sever.ApprovalExpired, "approval expired; runbook aborted"
		r.end(ctx, st)
		r.aborted = "approval for " + spec.ID + " expired"
	default:
		st.Status, st.Enforcement, st.Error = sever.StepSkipped, sever.ApprovalExpired, "approval expired; step not run"
		r.end(ctx, st)
	}
	st.Actor = "nobody"
	return false
}

// approvalNoticeChange versions the approval notices (request, escalation, outcome).
const approvalNoticeChange = "approval-notice"

// approvalNonceChange versions per-request nonces and the update of superseded or
// canceled requests. Its behaviour keys off Gate.Nonce, which is set only on this
// version, so carried gates decide the same way in every later run.
const approvalNonceChange = "approval-nonce"

// approvalNonce names one approval request: the incident, the run that opened it
// (so an incident ID reused after a close gets new nonces), the step and how many
// times the request was escalated. It is derived, not random, so replay needs no
// side effect; it need not be secret, because only authenticated approvers with a
// signed decision can use it.
func (r *run) approvalNonce(stepID string, escalations int) string {
	// A retried step asks again: its attempt is part of the request's name.
	sum := sha256.Sum256([]byte(strings.Join([]string{"sever-approval-nonce", r.inc.ID,
		strconv.FormatInt(r.inc.OpenedAt.UnixNano(), 10), r.attemptKey(stepID), strconv.Itoa(escalations)}, "\x00")))
	return hex.EncodeToString(sum[:16])
}

func (r *run) noticeCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumAttempts: 3, NonRetryableErrorTypes: contract.NonRetryableErrorTypes},
	})
}

func (r *run) approvalRequest(spec *sever.RunbookStep, g *Gate, escalation bool) contract.ApprovalRequestInput {
	requester := ""
	if len(r.inc.Signals) > 0 {
		requester = r.inc.Signals[0].Reporter
	}
	return contract.ApprovalRequestInput{
		IncidentID: r.inc.ID, StepID: spec.ID, StepName: spec.Name, Action: spec.Action, Args: spec.Args,
		ArgsSHA256: g.ArgsSHA256, Credential: r.in.Credential, Approvers: g.Approvers, Quorum: g.Quorum,
		Deadline: g.Deadline, Destructive: spec.Mutating, Requester: requester, Escalation: escalation, Drill: r.in.Drill,
		Nonce: g.Nonce,
	}
}

// requestApproval posts the request where people will see it. A failure to post is
// recorded but does not fail the step: the CLI and API paths still work.
func (r *run) requestApproval(ctx workflow.Context, spec *sever.RunbookStep, st *sever.Step, g *Gate, escalation bool) {
	var res contract.ApprovalRequestResult
	err := workflow.ExecuteActivity(r.noticeCtx(ctx), contract.ActivityRequestApproval, r.approvalRequest(spec, g, escalation)).Get(ctx, &res)
	switch {
	case err != nil:
		st.Summary = "approval request not posted: " + errorText(err)
	case res.Posted:
		g.Channel, g.TS = res.Channel, res.TS
		st.Summary = res.Summary
		if len(res.Approvers) > 0 {
			g.Approvers = res.Approvers
		}
	default:
		st.Summary = res.Summary
	}
	r.changed = true
}

// approvalOutcome replaces the posted request with its outcome, buttons removed.
func (r *run) approvalOutcome(ctx workflow.Context, spec *sever.RunbookStep, st *sever.Step, g *Gate, outcome sever.Enforcement) {
	if g.TS == "" {
		return
	}
	in := contract.ApprovalOutcomeInput{Request: r.approvalRequest(spec, g, g.Escalated), Channel: g.Channel, TS: g.TS,
		Outcome: outcome, OnTimeout: g.OnTimeout, Decisions: g.Decisions, At: workflow.Now(ctx).UTC()}
	var res contract.ApprovalOutcomeResult
	if err := workflow.ExecuteActivity(r.noticeCtx(ctx), contract.ActivityApprovalOutcome, in).Get(ctx, &res); err != nil {
		r.logger.Info("approval outcome not posted", "incident", r.inc.ID, "step", spec.ID, "err", errorText(err))
	}
}
