package workflows

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever"
)

func falsePositiveInput(rules ...sever.PolicyRule) IncidentInput {
	dis := step("disable", "test.disable")
	dis.Mutating, dis.Containment = true, true
	dis.Compensate = &sever.CompensateSpec{Action: "test.enable", Args: sever.Values{"reason": "false positive"}}
	look := step("lookup", "test.lookup")
	in := input(look, dis)
	if len(rules) > 0 {
		in.Policy.Rules = append(rules, in.Policy.Rules...)
	}
	return in
}

func TestFalsePositiveCloseRunsCompensations(t *testing.T) {
	env := newEnv(t)
	rc := &recorder{}
	rc.register(env, "test.lookup", "test.disable", "test.enable")
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateClose, "fp", &updateCB{t: t}, CloseInput{Reason: "test key", By: "U1", FalsePositive: true})
	}, 5*time.Minute)
	inc := runIncident(t, env, falsePositiveInput(), signal("s1", "e1"))

	if inc.Status != sever.IncidentClosed || !strings.HasPrefix(inc.Reason, "false positive") {
		t.Fatalf("incident %s (%s)", inc.Status, inc.Reason)
	}
	// lookup and disable run in parallel; the compensation comes after both.
	if got := rc.calls; len(got) != 3 || got[2] != "disable.compensate:test.enable" ||
		!slices.Contains(got, "lookup:test.lookup") || !slices.Contains(got, "disable:test.disable") {
		t.Fatalf("calls = %v; want the disable undone and nothing else", got)
	}
	if len(inc.Compensations) != 1 {
		t.Fatalf("compensations = %+v", inc.Compensations)
	}
	c := inc.Compensations[0]
	if c.Status != sever.StepSucceeded || c.PolicyRule != "tests-auto" || c.Enforcement != sever.EnterpriseEnforced || c.EndedAt == nil {
		t.Errorf("compensation = %+v", c)
	}
	keys := strings.Join(lastNotices.factKeys(), " ")
	for _, k := range []string{"policy/disable.compensate", "step/disable.compensate/outcome", "status/closed"} {
		if !strings.Contains(keys, k) {
			t.Errorf("ledger has no %s: %s", k, keys)
		}
	}
}

func TestFalsePositiveCompensationBehindPolicy(t *testing.T) {
	tests := []struct {
		name       string
		rule       sever.PolicyRule
		by         string
		wantStatus sever.StepStatus
		wantCalled bool
		wantErr    string
	}{
		{"forbidden", sever.PolicyRule{ID: "no-undo", Actions: []string{"test.enable"}, Mode: sever.ModeForbidden},
			"U1", sever.StepRefused, false, "forbids test.enable"},
		{"approval, closer not an approver", sever.PolicyRule{ID: "leads-undo", Actions: []string{"test.enable"}, Mode: sever.ModeApproval, Approvers: []string{"U9"}},
			"U1", sever.StepRefused, false, "needs approval"},
		{"approval, closer is an approver", sever.PolicyRule{ID: "leads-undo", Actions: []string{"test.enable"}, Mode: sever.ModeApproval, Approvers: []string{"U9"}},
			"U9", sever.StepSucceeded, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			rc := &recorder{}
			rc.register(env, "test.lookup", "test.disable", "test.enable")
			env.RegisterDelayedCallback(func() {
				env.UpdateWorkflow(UpdateClose, "fp", &updateCB{t: t}, CloseInput{Reason: "test key", By: tt.by, FalsePositive: true})
			}, 5*time.Minute)
			inc := runIncident(t, env, falsePositiveInput(tt.rule), signal("s1", "e1"))
			c := inc.Compensations[0]
			called := strings.Contains(strings.Join(rc.calls, " "), "test.enable")
			if c.Status != tt.wantStatus || called != tt.wantCalled || !strings.Contains(c.Error, tt.wantErr) || c.PolicyRule != tt.rule.ID {
				t.Fatalf("compensation %s (%s, rule %s), called %v", c.Status, c.Error, c.PolicyRule, called)
			}
			if tt.wantCalled && (len(c.Approvals) != 1 || c.Approvals[0].Approver != tt.by || c.Approvals[0].Channel != "close") {
				t.Errorf("approvals = %+v; the closer's decision is recorded", c.Approvals)
			}
		})
	}
}

func TestCloseWithoutFalsePositiveKeepsChanges(t *testing.T) {
	env := newEnv(t)
	rc := &recorder{}
	rc.register(env, "test.lookup", "test.disable", "test.enable")
	inc := runIncident(t, env, falsePositiveInput(), signal("s1", "e1"))
	if len(inc.Compensations) != 0 || strings.Contains(strings.Join(rc.calls, " "), "test.enable") {
		t.Fatalf("compensations %+v calls %v on a normal close", inc.Compensations, rc.calls)
	}
}
