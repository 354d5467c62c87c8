package workflows

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/sever-ir/sever"
)

func TestNoticesThreadUnderOneParent(t *testing.T) {
	t.Parallel() // each environment has its own notices (noticesOf)
	env := newEnv(t)
	rc := &recorder{errs: map[string]error{
		"test.flaky": temporal.NewNonRetryableApplicationError("upstream said no", "AccessDenied", errors.New("no")),
	}}
	rc.register(env, "test.disable", "test.flaky")
	dis := step("disable", "test.disable")
	dis.Mutating, dis.Containment = true, true
	flaky := step("notify-owner", "test.flaky")
	flaky.OnFailure = sever.FailContinue
	in := input(dis, flaky)
	in.Notify = true
	first := signal("s1", "e1")
	first.Summary = "key pushed to a public repo"
	runIncident(t, env, in, first, signal("s2", "e2"))

	got := noticesOf(env).notices
	var kinds []string
	for _, n := range got {
		kinds = append(kinds, n.Kind)
	}
	// The close that ends the test is noticed too.
	if strings.Join(kinds, " ") != "opened step_failed contained closed" {
		t.Fatalf("notice kinds = %v", kinds)
	}
	if got[0].ThreadTS != "" || !strings.Contains(got[0].Text, "key pushed to a public repo") || got[0].Credential != cred {
		t.Errorf("parent notice = %+v", got[0])
	}
	for _, n := range got[1:] {
		if n.Channel != "C0SOC" || n.ThreadTS != "9.1" {
			t.Errorf("%s notice not threaded under the parent: %+v", n.Kind, n)
		}
	}
	if f := got[1]; f.StepID != "notify-owner" || !strings.Contains(f.Text, "upstream said no") {
		t.Errorf("step_failed notice = %+v", f)
	}
	if c := got[2]; c.Status != sever.IncidentContained || !strings.Contains(c.Text, "verified") {
		t.Errorf("contained notice = %+v", c)
	}
}

func TestNoNoticesUnlessConfigured(t *testing.T) {
	t.Parallel() // each environment has its own notices (noticesOf)
	env := newEnv(t)
	rc := &recorder{}
	rc.register(env, "test.disable")
	runIncident(t, env, input(step("disable", "test.disable")), signal("s1", "e1"))
	if n := len(noticesOf(env).notices); n != 0 {
		t.Fatalf("%d notices without Notify", n)
	}
}

func TestSlackGroupResolvedWhenRequested(t *testing.T) {
	t.Parallel() // each environment has its own notices (noticesOf)
	env := newEnv(t)
	noticesOf(env).members = map[string][]string{"S0ONCALL": {"U7", "U8"}}
	rc := &recorder{}
	rc.register(env, "test.disable")
	in := approvalInput(1, sever.OnTimeoutDeny)
	in.Runbook.Steps[0].Approval.Approvers = []string{"slack-group:S0ONCALL"}
	var rejected error
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateDecide, "outsider", &updateCB{t: t, reject: func(err error) { rejected = err }}, decision("U1", true))
		env.UpdateWorkflow(UpdateDecide, "member", &updateCB{t: t}, withNonce(t, env, decision("U8", true)))
	}, time.Minute)
	inc := runIncident(t, env, in, signal("s1", "e1"))
	if rejected == nil || !strings.Contains(rejected.Error(), "U7, U8") {
		t.Errorf("decision from outside the group: %v; want a refusal naming the group's members", rejected)
	}
	if s := stepByID(t, inc, "disable"); s.Status != sever.StepSucceeded || s.Approvals[0].Approver != "U8" {
		t.Fatalf("step %s approvals %+v", s.Status, s.Approvals)
	}
	if req := noticesOf(env).requests[0]; strings.Join(req.Approvers, ",") != "slack-group:S0ONCALL" {
		t.Errorf("request approvers = %v; the group is resolved by the request itself", req.Approvers)
	}
}

// A decision after the deadline (extended once by the escalation) is refused with the
// deadline as the reason, and leaves nothing behind.
func TestDecisionAtDeadlineRefused(t *testing.T) {
	env := newEnv(t)
	rc := &recorder{}
	rc.register(env, "test.disable")
	var late error
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateDecide, "late", &updateCB{t: t, reject: func(err error) { late = err }}, decision("U1", true))
	}, 25*time.Minute)
	in := approvalInput(1, sever.OnTimeoutDeny)
	in.Hold = sever.Duration(2 * time.Hour)
	inc := runIncident(t, env, in, signal("s1", "e1"))
	if late == nil || !strings.Contains(late.Error(), "deadline") {
		t.Fatalf("decision at the deadline: %v; want a refusal naming the deadline", late)
	}
	s := stepByID(t, inc, "disable")
	if s.Enforcement != sever.ApprovalExpired || len(s.Approvals) != 0 || len(rc.calls) != 0 {
		t.Fatalf("step %s/%s approvals %d calls %v; want expired with none", s.Status, s.Enforcement, len(s.Approvals), rc.calls)
	}
}
