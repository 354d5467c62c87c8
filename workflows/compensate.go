package workflows

import (
	"cmp"
	"fmt"
	"slices"

	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/contract"
)

// compensateChange versions false-positive compensation: incidents closed as false
// positives before it replay without running compensations.
const compensateChange = "compensate"

// compensate undoes what the runbook changed when the incident is closed as a false
// positive: each step that declares a compensation and whose change may be in place
// (it succeeded, or a close hid its outcome; see mayHaveApplied), newest first, through
// the same policy gate as any step. A compensation the policy puts behind approval
// runs only when the person closing the incident is one of its approvers and the
// policy would take that one person's decision (closeCannotApprove); their close is
// the decision, recorded as such.
func (r *run) compensate(ctx workflow.Context) {
	var todo []int
	for i := len(r.in.Runbook.Steps) - 1; i >= 0; i-- {
		spec, st := r.in.Runbook.Steps[i], r.inc.Steps[i]
		if spec.Compensate != nil && mayHaveApplied(st) {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 || r.version(ctx, compensateChange) < 1 {
		return
	}
	for _, i := range todo {
		r.compensateStep(ctx, &r.in.Runbook.Steps[i])
	}
}

func (r *run) compensateStep(ctx workflow.Context, spec *sever.RunbookStep) {
	c := spec.Compensate
	now := workflow.Now(ctx).UTC()
	st := sever.Step{
		ID: spec.ID + ".compensate", Action: c.Action, Status: sever.StepRunning, StartedAt: &now,
		ArgsSHA256: sever.ArgsSHA256(c.Action, r.in.Credential, c.Args),
	}
	r.inc.Compensations = append(r.inc.Compensations, st)
	cur := &r.inc.Compensations[len(r.inc.Compensations)-1]
	d := r.in.Policy.Decide(c.Action, r.in.Credential.Type, r.in.Drill)
	cur.PolicyRule = d.Rule
	r.policyFact(ctx, cur, d)
	// The closing token's approver identity decides, never its name: a token named
	// like an approver must not approve, and an operator's Slack identity must.
	by := cmp.Or(r.closeReq.Approver, r.closeReq.By)
	switch d.Mode {
	case sever.ModeForbidden:
		cur.Status = sever.StepRefused
		cur.Error = fmt.Sprintf("policy %s@%s forbids %s (rule %s); undo it by hand", r.in.Policy.Name, r.in.Policy.Version, c.Action, d.Rule)
		r.end(ctx, cur)
		return
	case sever.ModeApproval:
		if refusal := r.closeCannotApprove(d, by); refusal != "" {
			cur.Status = sever.StepRefused
			cur.Error = refusal
			r.end(ctx, cur)
			return
		}
		dec := sever.Decision{StepID: cur.ID, Approve: true, Approver: by, Channel: "close",
			ArgsSHA256: cur.ArgsSHA256, At: now, Reason: "closed as false positive: " + r.closeReq.Reason}
		cur.Approvals = []sever.Decision{dec}
		r.approvalFact(ctx, cur, dec, &Gate{Rule: d.Rule})
	}
	in := sever.ActionInput{
		IncidentID: r.inc.ID, StepID: cur.ID, Action: c.Action, Credential: r.in.Credential, Args: c.Args,
		Drill: r.in.Drill, IdempotencyKey: fmt.Sprintf("%s/%d/%s", r.inc.ID, r.inc.OpenedAt.UnixNano(), cur.ID),
	}
	var res sever.ActionResult
	if err := workflow.ExecuteActivity(r.activityCtx(ctx, spec, cur.ID, r.cancelTruth(ctx)), c.Action, in).Get(ctx, &res); err != nil {
		cur.Status, cur.Error = sever.StepFailed, errorText(err)
		r.end(ctx, cur)
		r.notice(ctx, contract.NoticeStepFailed, contract.NoticeInput{StepID: cur.ID, Action: cur.Action, Text: cur.Error})
		return
	}
	cur.Enforcement, cur.Verified, cur.Summary, cur.Output, cur.Evidence = res.Enforcement, res.Verified, res.Summary, res.Output, res.Evidence
	if cur.Enforcement == "" {
		cur.Enforcement = sever.EnterpriseEnforced
	}
	cur.Actor = cmp.Or(res.Actor, ServiceActor)
	cur.Status = sever.StepSucceeded
	r.end(ctx, cur)
}

// closeCannotApprove says why the person closing the incident cannot approve a
// compensation under decision d ("" when they can). A close is one person's
// decision: where the policy asks for more (a quorum above one) or forbids that
// person (they raised the incident), the compensation is refused, and the undo is
// left to be done by hand, as for a step nobody approved. Runs from before
// undoAndRetry checked only the approver set.
func (r *run) closeCannotApprove(d sever.PolicyDecision, by string) string {
	switch {
	case !slices.Contains(r.expand(d.Approvers), by):
		return fmt.Sprintf("rule %s needs approval by %v; %q closed the incident and is not one of them", d.Rule, d.Approvers, by)
	case !r.undoAndRetry:
		return ""
	case max(d.Quorum, 1) > 1:
		return fmt.Sprintf("rule %s needs %d approvals; closing the incident is one person's (%s), so undo it by hand", d.Rule, d.Quorum, by)
	case r.reportedBy(by):
		return fmt.Sprintf("rule %s needs approval by someone other than the person who raised the incident; %s raised it and closed it, so undo it by hand", d.Rule, by)
	}
	return ""
}
