package workflows

import (
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/contract"
)

// Every refused decision carries its reason in a stable error type, so the caller
// that gets the rejection can put it on the record; the refusal itself leaves no
// trace in the workflow (no fact, no state change).
func TestRefusedDecisionsNameTheirReason(t *testing.T) {
	env := newEnv(t)
	rc := &recorder{}
	rc.register(env, "test.disable")
	first := signal("s1", "e1")
	first.Reporter = "REPORTER"
	stale := func() DecisionInput { d := decision("U2", true); d.Nonce = "0123456789abcdef"; return d }
	cases := []struct {
		name   string
		at     time.Duration
		d      func() DecisionInput
		reason string
	}{
		{"Outsider", time.Minute, func() DecisionInput { return withNonce(t, env, decision("U9", true)) }, "outsider"},
		{"SelfApproval", time.Minute, func() DecisionInput { return withNonce(t, env, decision("REPORTER", true)) }, "self_approval"},
		{"WrongArguments", time.Minute, func() DecisionInput {
			d := withNonce(t, env, decision("U1", true))
			d.ArgsSHA256 = "deadbeef"
			return d
		}, "wrong_arguments"},
		{"StaleRequest", time.Minute, stale, "stale_request"},
		{"UnknownStep", time.Minute, func() DecisionInput { d := decision("U1", true); d.StepID = "nope"; return d }, "unknown_step"},
		{"NoIdentity", time.Minute, func() DecisionInput { return withNonce(t, env, decision("", true)) }, "invalid"},
		{"AlreadyDecided", 3 * time.Minute, func() DecisionInput { return withNonce(t, env, decision("U1", true)) }, "already_decided"},
	}
	got := map[string]error{}
	for _, c := range cases {
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(UpdateDecide, c.name, &updateCB{t: t, reject: func(err error) { got[c.name] = err }}, c.d())
		}, c.at)
	}
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateDecide, "ok1", &updateCB{t: t}, withNonce(t, env, decision("U1", true)))
	}, 2*time.Minute)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateDecide, "ok2", &updateCB{t: t}, withNonce(t, env, decision("U3", true)))
		// Quorum met in this workflow task; the step has not left waiting_approval yet.
		env.UpdateWorkflow(UpdateDecide, "AfterQuorum", &updateCB{t: t, reject: func(err error) { got["AfterQuorum"] = err }}, withNonce(t, env, decision("U2", true)))
	}, 4*time.Minute)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateDecide, "NotWaiting", &updateCB{t: t, reject: func(err error) { got["NotWaiting"] = err }}, decision("U2", true))
	}, 5*time.Minute)
	runIncident(t, env, approvalInput(2, sever.OnTimeoutDeny), first)

	want := map[string]string{"AfterQuorum": "after_quorum", "NotWaiting": "not_waiting"}
	for _, c := range cases {
		want[c.name] = c.reason
	}
	for name, reason := range want {
		var app *temporal.ApplicationError
		err := got[name]
		if !errors.As(err, &app) || app.Type() != RefusedTypePrefix+reason {
			t.Errorf("%s: rejection %v, want type %s%s", name, err, RefusedTypePrefix, reason)
		}
	}
	for _, f := range noticesOf(env).facts {
		if f.Kind == contract.FactApprovalDecision && f.Actor != "U1" && f.Actor != "U3" {
			t.Errorf("a refused decision left a fact: %+v", f)
		}
	}
}

// A decision after the approval expired is refused as after_deadline.
func TestRefusedAfterDeadline(t *testing.T) {
	env := newEnv(t)
	rc := &recorder{}
	rc.register(env, "test.disable")
	var late error
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateDecide, "late", &updateCB{t: t, reject: func(err error) { late = err }}, decision("U1", true))
		env.UpdateWorkflow(UpdateClose, "close", &updateCB{t: t}, CloseInput{Reason: "done", By: "analyst"})
	}, time.Hour)
	inc := runIncident(t, env, approvalInput(1, sever.OnTimeoutDeny), signal("s1", "e1"))
	var app *temporal.ApplicationError
	if !errors.As(late, &app) || app.Type() != RefusedTypePrefix+"after_deadline" {
		t.Errorf("decision after expiry: %v, want type %safter_deadline", late, RefusedTypePrefix)
	}
	if st := stepByID(t, inc, "disable"); st.Enforcement != sever.ApprovalExpired {
		t.Errorf("step %s/%s, want approval_expired", st.Status, st.Enforcement)
	}
}
