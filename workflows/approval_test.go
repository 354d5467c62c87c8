package workflows

import (
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/contract"
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

// withNonce binds d to the approval request its step is waiting on, as the CLI does
// with the nonce GET /v1/incidents/{id} shows.
func withNonce(t *testing.T, env *testsuite.TestWorkflowEnvironment, d DecisionInput) DecisionInput {
	t.Helper()
	v, err := env.QueryWorkflow(QueryState)
	if err != nil {
		t.Fatalf("query state: %v", err)
	}
	var inc sever.Incident
	if err := v.Get(&inc); err != nil {
		t.Fatal(err)
	}
	for _, st := range inc.Steps {
		if st.ID == d.StepID {
			d.Nonce = st.ApprovalNonce
		}
	}
	if d.Nonce == "" {
		t.Fatalf("step %s shows no approval nonce", d.StepID)
	}
	return d
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
		env.UpdateWorkflow(UpdateDecide, "ok1", &updateCB{t: t}, withNonce(t, env, decision("U1", true)))
		env.UpdateWorkflow(UpdateDecide, "again", &updateCB{t: t, reject: func(err error) { got["Twice"] = err }}, withNonce(t, env, decision("U1", true)))
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateDecide, "ok2", &updateCB{t: t}, withNonce(t, env, decision("U3", true)))
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
	for _, f := range noticesOf(env).facts {
		if f.Kind == contract.FactApprovalDecision {
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
	n := noticesOf(env)
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
		env.UpdateWorkflow(UpdateDecide, "a", &updateCB{t: t}, withNonce(t, env, decision("U1", true)))
		d := withNonce(t, env, decision("U2", false))
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
			if n := noticesOf(env); len(n.requests) != 2 || !n.requests[1].Escalation {
				t.Errorf("notices: %+v; want the request and one escalation", n.requests)
			} else if tc.wantCalls == 0 && (len(n.outcomes) != 2 || n.outcomes[0].Outcome != contract.OutcomeSuperseded || n.outcomes[0].TS != "1.1" ||
				n.outcomes[1].Outcome != sever.ApprovalExpired || n.outcomes[1].TS != "1.2") {
				t.Errorf("outcomes: %+v; want the first request superseded, the escalation replaced with approval_expired", n.outcomes)
			}
			after := stepByID(t, inc, "after")
			if aborted := after.Status == sever.StepSkipped; aborted != tc.wantAborted {
				t.Errorf("independent step after = %s, aborted=%v want %v", after.Status, aborted, tc.wantAborted)
			}
		})
	}
}

// Once a step's outcome is settled, by quorum or by a denial, a later decision in the
// same moment is refused with the reason, instead of flipping the outcome.
func TestLateDecisionRefused(t *testing.T) {
	for _, tc := range []struct {
		name       string
		quorum     int
		first      DecisionInput
		late       DecisionInput
		wantReason string
		wantStatus sever.StepStatus
		wantEnf    sever.Enforcement
	}{
		{"DenyAfterQuorum", 1, decision("U1", true), decision("U2", false),
			"step disable already approved: quorum 1 of 1 met", sever.StepSucceeded, ""},
		{"ApproveAfterDeny", 2, decision("U1", false), decision("U2", true),
			"step disable already denied by U1", sever.StepSkipped, sever.HumanDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			rc := &recorder{}
			rc.register(env, "test.disable")
			var first DecisionResult
			var late error
			env.RegisterDelayedCallback(func() {
				env.UpdateWorkflow(UpdateDecide, "first", &updateCB{t: t, complete: func(res any, err error) {
					if err == nil {
						first = res.(DecisionResult)
					}
				}}, withNonce(t, env, tc.first))
				env.UpdateWorkflow(UpdateDecide, "late", &updateCB{t: t, reject: func(err error) { late = err }}, withNonce(t, env, tc.late))
			}, time.Minute)
			inc := runIncident(t, env, approvalInput(tc.quorum, sever.OnTimeoutDeny), signal("s1", "e1"))
			if late == nil || !strings.Contains(late.Error(), tc.wantReason) {
				t.Errorf("late decision: %v; want refused with %q", late, tc.wantReason)
			}
			if first.Remaining != 0 {
				t.Errorf("first decision left %d remaining; it settles the step", first.Remaining)
			}
			s := stepByID(t, inc, "disable")
			if s.Status != tc.wantStatus || (tc.wantEnf != "" && s.Enforcement != tc.wantEnf) || len(s.Approvals) != 1 {
				t.Fatalf("step %s/%s with %d decisions; want %s/%s with the first decision only", s.Status, s.Enforcement, len(s.Approvals), tc.wantStatus, tc.wantEnf)
			}
			if s.ApprovalNonce != "" {
				t.Errorf("nonce %q still shown after the step left waiting_approval", s.ApprovalNonce)
			}
		})
	}
}

// A decision answers one approval request: without its nonce, with the nonce of the
// request an escalation replaced, or with a nonce of an earlier run of the same
// incident ID, it is refused. The replaced request's message stops taking clicks.
func TestDecisionBoundToRequest(t *testing.T) {
	// A run of the same incident ID a day earlier, to take its nonce.
	earlier := newEnv(t)
	earlier.SetStartTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	rc0 := &recorder{}
	rc0.register(earlier, "test.disable")
	runIncident(t, earlier, approvalInput(1, sever.OnTimeoutDeny), signal("s1", "e1"))
	oldRun := noticesOf(earlier).requests[0].Nonce
	if oldRun == "" {
		t.Fatal("the approval request carries no nonce")
	}

	env := newEnv(t)
	env.SetStartTime(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))
	rc := &recorder{}
	rc.register(env, "test.disable")
	var first string
	got := map[string]error{}
	env.RegisterDelayedCallback(func() {
		first = withNonce(t, env, decision("U1", true)).Nonce
		for name, n := range map[string]string{"NoNonce": "", "EarlierRun": oldRun} {
			d := decision("U1", true)
			d.Nonce = n
			env.UpdateWorkflow(UpdateDecide, name, &updateCB{t: t, reject: func(err error) { got[name] = err }}, d)
		}
	}, time.Minute)
	env.RegisterDelayedCallback(func() { // escalated at 10m
		d := decision("U1", true)
		d.Nonce = first
		env.UpdateWorkflow(UpdateDecide, "BeforeEscalation", &updateCB{t: t, reject: func(err error) { got["BeforeEscalation"] = err }}, d)
		env.UpdateWorkflow(UpdateDecide, "current", &updateCB{t: t}, withNonce(t, env, decision("U2", true)))
	}, 12*time.Minute)
	inc := runIncident(t, env, approvalInput(1, sever.OnTimeoutDeny), signal("s1", "e1"))

	for name, want := range map[string]string{"NoNonce": "names no approval request", "EarlierRun": "earlier or other approval request",
		"BeforeEscalation": "earlier or other approval request"} {
		if err := got[name]; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want refused with %q", name, err, want)
		}
	}
	s := stepByID(t, inc, "disable")
	if s.Status != sever.StepSucceeded || len(s.Approvals) != 1 || s.Approvals[0].Approver != "U2" {
		t.Fatalf("step %s approvals %+v; want succeeded on U2's decision alone", s.Status, s.Approvals)
	}
	n := noticesOf(env)
	if len(n.requests) != 2 || n.requests[0].Nonce != first || n.requests[1].Nonce == first || n.requests[1].Nonce == "" {
		t.Fatalf("requests %+v; want the first and an escalation with a new nonce", n.requests)
	}
	var outcomes []string
	for _, o := range n.outcomes {
		outcomes = append(outcomes, o.TS+"="+string(o.Outcome))
	}
	if strings.Join(outcomes, " ") != "1.1=superseded 1.2=human_approved" {
		t.Errorf("outcomes %v; want the first request marked superseded, the escalation decided", outcomes)
	}
}

// Closing the incident while a request is posted updates its message: it no longer
// takes clicks.
func TestCloseCancelsPostedRequest(t *testing.T) {
	env := newEnv(t)
	rc := &recorder{}
	rc.register(env, "test.disable")
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateClose, "close", &updateCB{t: t}, CloseInput{Reason: "test key", By: "ops"})
	}, time.Minute)
	inc := runIncident(t, env, approvalInput(1, sever.OnTimeoutDeny), signal("s1", "e1"))
	if s := stepByID(t, inc, "disable"); s.Status != sever.StepSkipped || len(rc.calls) != 0 {
		t.Fatalf("step %s, calls %v; want skipped", s.Status, rc.calls)
	}
	if o := noticesOf(env).outcomes; len(o) != 1 || o[0].TS != "1.1" || o[0].Outcome != contract.OutcomeCanceled {
		t.Errorf("outcomes %+v; want the posted request marked canceled", o)
	}
}

// A false-positive close decides gated compensations as the closing token's approver
// identity, never as its name: a token named like an approver cannot re-activate a
// key, and an operator whose token maps to a Slack user can.
func TestCloseDecidesAsApproverIdentity(t *testing.T) {
	rule := sever.PolicyRule{ID: "leads-undo", Actions: []string{"test.enable"}, Mode: sever.ModeApproval, Approvers: []string{"U9"}}
	for _, tc := range []struct {
		name     string
		close    CloseInput
		want     sever.StepStatus
		wantCall bool
	}{
		{"TokenNamedLikeApprover", CloseInput{By: "U9", Approver: "siem-U9"}, sever.StepRefused, false},
		{"OperatorWithSlackUser", CloseInput{By: "alice", Approver: "U9"}, sever.StepSucceeded, true},
		// Closes recorded before Approver existed still decide as By.
		{"OldCloseWithoutApprover", CloseInput{By: "U9"}, sever.StepSucceeded, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			rc := &recorder{}
			rc.register(env, "test.lookup", "test.disable", "test.enable")
			c := tc.close
			c.Reason, c.FalsePositive = "test key", true
			env.RegisterDelayedCallback(func() {
				env.UpdateWorkflow(UpdateClose, "fp", &updateCB{t: t}, c)
			}, 5*time.Minute)
			inc := runIncident(t, env, falsePositiveInput(rule), signal("s1", "e1"))
			if len(inc.Compensations) != 1 || inc.Compensations[0].Status != tc.want {
				t.Fatalf("compensations %+v; want one %s", inc.Compensations, tc.want)
			}
			if called := slices.Contains(rc.calls, "disable.compensate:test.enable"); called != tc.wantCall {
				t.Errorf("compensation ran = %v, want %v (calls %v)", called, tc.wantCall, rc.calls)
			}
			if tc.wantCall && inc.Compensations[0].Approvals[0].Approver != "U9" {
				t.Errorf("compensation approved by %q, want U9", inc.Compensations[0].Approvals[0].Approver)
			}
		})
	}
}
