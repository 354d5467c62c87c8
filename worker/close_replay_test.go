package worker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/decisionsig"
	"github.com/sever-ir/sever/workflows"
)

// fpIncident: one auto step that disables the credential, undone by test.enable,
// which the policy puts behind approval by U1.
func fpIncident() workflows.IncidentInput {
	in := approvalIncident()
	in.Hold = sever.Duration(time.Hour)
	st := in.Runbook.Steps[0]
	st.Approval = nil
	st.Compensate = &sever.CompensateSpec{Action: "test.enable"}
	in.Runbook.Steps[0] = st
	in.Policy.Rules = append([]sever.PolicyRule{{ID: "undo-needs-lead", Actions: []string{"test.enable"},
		Mode: sever.ModeApproval, Approvers: []string{"U1"}, Quorum: 1}}, in.Policy.Rules...)
	return in
}

func approversOf(inc sever.Incident) []string {
	var out []string
	for _, c := range inc.Compensations {
		for _, d := range c.Approvals {
			out = append(out, d.Approver+"@"+d.Channel)
		}
	}
	return out
}

var fpSignal = sever.Signal{ID: "s1", Source: "siem", SourceEventID: "e1",
	Origin: sever.OriginEnterprise, Kind: sever.KindCredentialExposed, Credential: testCred, Receipt: "r1"}

// A close the engine signed for an earlier incident of the same credential (same
// workflow ID, a closed run whose history anyone with frontend access can read) must
// not close, and undo, a later incident: the close is bound to the opening time of
// the incident it was made for, and the later incident opened at another.
func TestSignedCloseNotReplayedOnLaterIncident(t *testing.T) {
	key, err := decisionsig.New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	opened := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

	// Run 1: U1 legitimately closes the first incident as a false positive, signed
	// by the engine for that incident as it reads it.
	var captured workflows.CloseInput
	env1, _ := newSignedEnv(t, key)
	env1.SetStartTime(opened)
	env1.RegisterActivityWithOptions(func(context.Context, sever.ActionInput) (sever.ActionResult, error) {
		return sever.ActionResult{Verified: true}, nil
	}, activity.RegisterOptions{Name: "test.enable"})
	first := &updateCB{}
	env1.RegisterDelayedCallback(func() { env1.SignalWorkflow(workflows.SignalChannel, fpSignal) }, 0)
	env1.RegisterDelayedCallback(func() {
		captured = workflows.CloseInput{Reason: "test key", By: "alice", Approver: "U1", FalsePositive: true,
			OpenedAt: stateOf(t, env1).OpenedAt}
		captured.Signature = key.SignClose("inc-sig", captured)
		env1.UpdateWorkflow(workflows.UpdateClose, "close-1", first, captured)
	}, time.Minute)
	env1.ExecuteWorkflow(workflows.IncidentWorkflow, fpIncident())
	if !first.accepted {
		t.Fatalf("the legitimate close of run 1 was refused: %v", first.rejected)
	}

	// Run 2: the key leaks again a day later; a new incident opens under the same
	// ID. An attacker with raw frontend access replays the close read from run 1's
	// history.
	env2, _ := newSignedEnv(t, key)
	env2.SetStartTime(opened.Add(24 * time.Hour))
	enabled := 0
	env2.RegisterActivityWithOptions(func(context.Context, sever.ActionInput) (sever.ActionResult, error) {
		enabled++
		return sever.ActionResult{Verified: true}, nil
	}, activity.RegisterOptions{Name: "test.enable"})
	replay := &updateCB{}
	sig2 := fpSignal
	sig2.ID, sig2.SourceEventID, sig2.Receipt = "s2", "e2", "r2"
	env2.RegisterDelayedCallback(func() { env2.SignalWorkflow(workflows.SignalChannel, sig2) }, 0)
	env2.RegisterDelayedCallback(func() {
		env2.UpdateWorkflow(workflows.UpdateClose, "replayed-close", replay, captured)
	}, time.Minute)
	env2.ExecuteWorkflow(workflows.IncidentWorkflow, fpIncident())
	var res workflows.IncidentResult
	_ = env2.GetWorkflowResult(&res)
	if replay.accepted || replay.rejected == nil {
		t.Fatalf("a signed close captured from an earlier incident was accepted by a later one: "+
			"incident %s (%s), compensation test.enable ran %d time(s) approved as %v",
			res.Incident.Status, res.Incident.Reason, enabled, approversOf(res.Incident))
	}
	if !isAppError(replay.rejected, workflows.ErrStaleClose) || !strings.Contains(replay.rejected.Error(), "stale close") {
		t.Errorf("replayed close refused with %v; want a %s refusal", replay.rejected, workflows.ErrStaleClose)
	}
	if enabled != 0 || strings.HasPrefix(res.Incident.Reason, "false positive") {
		t.Errorf("the replayed close still undid the later incident: test.enable ran %d time(s), reason %q", enabled, res.Incident.Reason)
	}
}

// A close is accepted only when it is signed and bound to the incident it reaches;
// the engine's close, made for the incident as it reads it, closes it and decides
// the compensation as its approver.
func TestCloseBoundToIncidentLifetime(t *testing.T) {
	key, err := decisionsig.New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		// bind is the opening time the close is made for, from the incident's own.
		bind      func(opened time.Time) time.Time
		wantType  string // "" when the close is accepted
		wantError string
	}{
		{name: "this incident", bind: func(o time.Time) time.Time { return o }},
		{name: "this incident, another zone", bind: func(o time.Time) time.Time { return o.In(time.FixedZone("CET", 3600)) }},
		{name: "earlier incident", bind: func(o time.Time) time.Time { return o.Add(-24 * time.Hour) },
			wantType: workflows.ErrStaleClose, wantError: "stale close"},
		{name: "one nanosecond off", bind: func(o time.Time) time.Time { return o.Add(time.Nanosecond) },
			wantType: workflows.ErrStaleClose, wantError: "stale close"},
		{name: "no incident", bind: func(time.Time) time.Time { return time.Time{} },
			wantType: "Forbidden", wantError: "accepted only through sever"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := newSignedEnv(t, key)
			enabled := 0
			env.RegisterActivityWithOptions(func(context.Context, sever.ActionInput) (sever.ActionResult, error) {
				enabled++
				return sever.ActionResult{Verified: true}, nil
			}, activity.RegisterOptions{Name: "test.enable"})
			cb := &updateCB{}
			env.RegisterDelayedCallback(func() { env.SignalWorkflow(workflows.SignalChannel, fpSignal) }, 0)
			env.RegisterDelayedCallback(func() {
				c := workflows.CloseInput{Reason: "test key", By: "alice", Approver: "U1", FalsePositive: true,
					OpenedAt: tc.bind(stateOf(t, env).OpenedAt)}
				c.Signature = key.SignClose("inc-sig", c)
				env.UpdateWorkflow(workflows.UpdateClose, "close", cb, c)
			}, time.Minute)
			env.ExecuteWorkflow(workflows.IncidentWorkflow, fpIncident())
			var res workflows.IncidentResult
			if err := env.GetWorkflowResult(&res); err != nil {
				t.Fatalf("workflow: %v", err)
			}
			if tc.wantType == "" {
				if !cb.accepted || cb.rejected != nil {
					t.Fatalf("close bound to this incident refused: %v", cb.rejected)
				}
				if res.Incident.Reason != "false positive: test key" || enabled != 1 {
					t.Errorf("incident %s (%s), compensation ran %d time(s); want closed as a false positive and undone once",
						res.Incident.Status, res.Incident.Reason, enabled)
				}
				if got := approversOf(res.Incident); len(got) != 1 || !strings.HasPrefix(got[0], "U1@") {
					t.Errorf("compensation approved as %v; want U1, the close's approver", got)
				}
				return
			}
			if cb.accepted || !isAppError(cb.rejected, tc.wantType) || !strings.Contains(cb.rejected.Error(), tc.wantError) {
				t.Fatalf("accepted=%v rejected=%v; want a %s refusal saying %q", cb.accepted, cb.rejected, tc.wantType, tc.wantError)
			}
			if enabled != 0 || strings.HasPrefix(res.Incident.Reason, "false positive") {
				t.Errorf("a refused close undid the incident: compensation ran %d time(s), reason %q", enabled, res.Incident.Reason)
			}
		})
	}
}

// isAppError reports whether err is an application error of type typ.
func isAppError(err error, typ string) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.Type() == typ
}
