package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever"
)

func approvalInput(quorum int, onTimeout string) IncidentInput {
	s := step("disable", "test.disable")
	s.Mutating, s.Containment = true, true
	s.Args = sever.Values{"reason": "leaked"}
	s.Approval = &sever.ApprovalSpec{Approvers: []string{"group:leads", "U3"}, Quorum: quorum,
		Deadline: sever.Duration(10 * time.Minute), OnTimeout: onTimeout}
	in := input(s)
	in.ApproverGroups = map[string][]string{"leads": {"U1", "U2", "REPORTER"}}
	return in
}

func decision(approver string, approve bool) DecisionInput {
	return DecisionInput{StepID: "disable", Approve: approve, Approver: approver, Channel: "cli",
		ArgsSHA256: sever.ArgsSHA256("test.disable", cred, sever.Values{"reason": "leaked"})}
}

func TestApprovalValidatorRejections(t *testing.T) {
	env := newEnv(t)
	rc := &recorder{}
	rc.register(env, "test.disable")
	first := signal("s1", "e1")
	first.Reporter = "REPORTER"
	cases := []struct {
		name string
		d    DecisionInput
		want string
	}{
		{"UnknownApprover", decision("U9", true), "may not decide"},
		{"SelfApproval", decision("REPORTER", true), "raised this incident"},
		{"OtherArguments", func() DecisionInput { d := decision("U1", true); d.ArgsSHA256 = "deadbeef"; return d }(), "different arguments"},
		{"OtherStep", func() DecisionInput { d := decision("U1", true); d.StepID = "nope"; return d }(), "no step"},
		{"UnknownChannel", func() DecisionInput { d := decision("U1", true); d.Channel = "email"; return d }(), "unknown channel"},
		{"NoIdentity", decision("", true), "identity is required"},
	}
	got := map[string]error{}
	env.RegisterDelayedCallback(func() {
		for _, c := range cases {
			env.UpdateWorkflow(UpdateDecide, c.name, &updateCB{t: t, reject: func(err error) { got[c.name] = err }}, c.d)
		}
		env.UpdateWorkflow(UpdateDecide, "ok1", &updateCB{t: t}, decision("U1", true))
		env.UpdateWorkflow(UpdateDecide, "again", &updateCB{t: t, reject: func(err error) { got["Twice"] = err }}, decision("U1", true))
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateDecide, "ok2", &updateCB{t: t}, decision("U3", true))
	}, 2*time.Minute)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateDecide, "late", &updateCB{t: t, reject: func(err error) { got["AfterDecision"] = err }}, decision("U2", true))
	}, 3*time.Minute)
	inc := runIncident(t, env, approvalInput(2, sever.OnTimeoutDeny), first)

	for _, c := range cases {
		if err := got[c.name]; err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: rejection = %v, want it to mention %q", c.name, err, c.want)
		}
	}
	if err := got["Twice"]; err == nil || !strings.Contains(err.Error(), "already decided") {
		t.Errorf("second decision by the same person: %v", err)
	}
	if err := got["AfterDecision"]; err == nil || !strings.Contains(err.Error(), "not waiting for approval") {
		t.Errorf("decision after quorum: %v", err)
	}
	// Refused decisions leave no fact; accepted ones each leave one.
	var approvals []string
	for _, f := range lastNotices.facts {
		if f.Kind == FactApprovalDecision {
			approvals = append(approvals, f.Actor+"="+string(f.Enforcement)+"@"+f.Detail["channel"])
		}
	}
	if strings.Join(approvals, " ") != "U1=human_approved@cli U3=human_approved@cli" {
		t.Errorf("approval facts = %v", approvals)
	}
	s := stepByID(t, inc, "disable")
	if s.Status != sever.StepSucceeded || len(s.Approvals) != 2 || len(rc.calls) != 1 {
		t.Fatalf("step %s with %d approvals, %d calls; want succeeded after quorum 2", s.Status, len(s.Approvals), len(rc.calls))
	}
	if s.StartedAt.Sub(inc.OpenedAt) < 2*time.Minute {
		t.Errorf("step ran %v after open, before quorum was reached", s.StartedAt.Sub(inc.OpenedAt))
	}
	n := lastNotices
	if len(n.requests) != 1 || len(n.outcomes) != 1 {
		t.Fatalf("notices: %d requests, %d outcomes; want one of each", len(n.requests), len(n.outcomes))
	}
	req, out := n.requests[0], n.outcomes[0]
	if req.ArgsSHA256 != decision("U1", true).ArgsSHA256 || req.Quorum != 2 || !req.Destructive || req.Requester != "REPORTER" ||
		strings.Join(req.Approvers, ",") != "U1,U2,REPORTER,U3" {
		t.Errorf("approval request = %+v", req)
	}
	if out.TS != "1.1" || out.Outcome != sever.HumanApproved || len(out.Decisions) != 2 {
		t.Errorf("approval outcome = %+v; want the posted message replaced with the approval", out)
	}
}

func TestOneDenyEndsTheStep(t *testing.T) {
	env := newEnv(t)
	rc := &recorder{}
	rc.register(env, "test.disable")
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateDecide, "a", &updateCB{t: t}, decision("U1", true))
		d := decision("U2", false)
		d.Reason = "owner confirms test key"
		env.UpdateWorkflow(UpdateDecide, "b", &updateCB{t: t}, d)
	}, time.Minute)
	inc := runIncident(t, env, approvalInput(2, sever.OnTimeoutDeny), signal("s1", "e1"))
	s := stepByID(t, inc, "disable")
	if s.Status != sever.StepSkipped || s.Enforcement != sever.HumanDenied || s.Actor != "U2" || len(rc.calls) != 0 {
		t.Fatalf("step = %s/%s by %s, calls %v; want skipped, human_denied by U2, no call", s.Status, s.Enforcement, s.Actor, rc.calls)
	}
	if !strings.Contains(s.Error, "owner confirms") {
		t.Errorf("error %q should carry the reason", s.Error)
	}
}

func TestApprovalExpiresAfterOneEscalation(t *testing.T) {
	for _, tc := range []struct {
		onTimeout   string
		allow       bool
		wantStatus  sever.StepStatus
		wantEnf     sever.Enforcement
		wantCalls   int
		wantAborted bool
	}{
		{sever.OnTimeoutDeny, false, sever.StepSkipped, sever.ApprovalExpired, 0, false},
		{sever.OnTimeoutAbort, false, sever.StepFailed, sever.ApprovalExpired, 0, true},
		// proceed without a policy that allows it is treated as deny
		{sever.OnTimeoutProceed, false, sever.StepSkipped, sever.ApprovalExpired, 0, false},
		{sever.OnTimeoutProceed, true, sever.StepSucceeded, "", 1, false},
	} {
		t.Run(tc.onTimeout, func(t *testing.T) {
			env := newEnv(t)
			rc := &recorder{}
			rc.register(env, "test.disable", "test.slow", "test.after")
			// slow outlasts the approval; after needs it, so an abort stops after.
			env.OnActivity("test.slow", mockAny, mockAny).After(30*time.Minute).Return(sever.ActionResult{}, nil)
			in := approvalInput(1, tc.onTimeout)
			in.Policy.Rules[1].AllowProceedOnTimeout = tc.allow
			slow := step("slow", "test.slow")
			slow.Timeout = sever.Duration(time.Hour)
			in.Runbook.Steps = append(in.Runbook.Steps, slow, step("after", "test.after", "slow"))
			inc := runIncident(t, env, in, signal("s1", "e1"))
			s := stepByID(t, inc, "disable")
			if s.Status != tc.wantStatus || s.Enforcement != tc.wantEnf || len(rc.calls) > tc.wantCalls+2 {
				t.Fatalf("step = %s/%s calls %v; want %s/%s", s.Status, s.Enforcement, rc.calls, tc.wantStatus, tc.wantEnf)
			}
			// deadline 10m, escalated once and extended by 10m: 20m in all
			if waited := s.EndedAt.Sub(inc.OpenedAt); tc.wantCalls == 0 && (waited < 20*time.Minute || waited > 21*time.Minute) {
				t.Errorf("expired after %v, want 20m (deadline plus one extension)", waited)
			}
			if n := lastNotices; len(n.requests) != 2 || !n.requests[1].Escalation {
				t.Errorf("notices: %+v; want the request and one escalation", n.requests)
			} else if tc.wantCalls == 0 && (len(n.outcomes) != 1 || n.outcomes[0].Outcome != sever.ApprovalExpired || n.outcomes[0].TS != "1.2") {
				t.Errorf("outcomes: %+v; want the escalation replaced with approval_expired", n.outcomes)
			}
			after := stepByID(t, inc, "after")
			if aborted := after.Status == sever.StepSkipped; aborted != tc.wantAborted {
				t.Errorf("independent step after = %s, aborted=%v want %v", after.Status, aborted, tc.wantAborted)
			}
		})
	}
}
