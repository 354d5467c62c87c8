package workflows

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

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
	keys := strings.Join(noticesOf(env).factKeys(), " ")
	for _, k := range []string{"policy/disable.compensate", "step/disable.compensate/outcome", "status/closed"} {
		if !strings.Contains(keys, k) {
			t.Errorf("ledger has no %s: %s", k, keys)
		}
	}
}

func TestFalsePositiveCompensationBehindPolicy(t *testing.T) {
	// A close is one person's decision: it may stand for a quorum of one, never for
	// more, and never for the person who raised the incident (reporter).
	twoLeads := sever.PolicyRule{ID: "two-leads-undo", Actions: []string{"test.enable"}, Mode: sever.ModeApproval,
		Approvers: []string{"U1", "U2", "U3"}, Quorum: 2}
	leads := sever.PolicyRule{ID: "leads-undo", Actions: []string{"test.enable"}, Mode: sever.ModeApproval,
		Approvers: []string{"U1", "U2"}, Quorum: 1}
	tests := []struct {
		name       string
		rule       sever.PolicyRule
		by         string
		reporter   string
		bundle     string // "" for a run of CurrentChange
		wantStatus sever.StepStatus
		wantCalled bool
		wantErr    string
	}{
		{"forbidden", sever.PolicyRule{ID: "no-undo", Actions: []string{"test.enable"}, Mode: sever.ModeForbidden},
			"U1", "", "", sever.StepRefused, false, "forbids test.enable"},
		{"approval, closer not an approver", sever.PolicyRule{ID: "leads-undo", Actions: []string{"test.enable"}, Mode: sever.ModeApproval, Approvers: []string{"U9"}},
			"U1", "", "", sever.StepRefused, false, "needs approval"},
		{"approval, closer is an approver", sever.PolicyRule{ID: "leads-undo", Actions: []string{"test.enable"}, Mode: sever.ModeApproval, Approvers: []string{"U9"}},
			"U9", "", "", sever.StepSucceeded, true, ""},
		{"approval, quorum of two", twoLeads, "U1", "", "", sever.StepRefused, false, "needs 2 approvals"},
		{"approval, closer raised the incident", leads, "U1", "U1", "", sever.StepRefused, false, "raised it and closed it"},
		{"approval, another reporter", leads, "U1", "U2", "", sever.StepSucceeded, true, ""},
		// Runs recorded before the change replay as they ran.
		{"quorum of two, run of the bundle before", twoLeads, "U1", "", dupReceiptsBundle, sever.StepSucceeded, true, ""},
		{"closer raised it, run of the bundle before", leads, "U1", "U1", dupReceiptsBundle, sever.StepSucceeded, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			if tt.bundle != "" {
				runOfBundle(env, tt.bundle)
			}
			rc := &recorder{}
			rc.register(env, "test.lookup", "test.disable", "test.enable")
			env.RegisterDelayedCallback(func() {
				env.UpdateWorkflow(UpdateClose, "fp", &updateCB{t: t}, CloseInput{Reason: "test key", By: tt.by, FalsePositive: true})
			}, 5*time.Minute)
			first := signal("s1", "e1")
			first.Reporter = tt.reporter
			inc := runIncident(t, env, falsePositiveInput(tt.rule), first)
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

// closeDuringStepInput is a runbook whose only step disables the credential, reads
// it back (unless verify is false) and is undone by test.enable.
func closeDuringStepInput(verify bool) IncidentInput {
	dis := step("disable", "test.disable")
	dis.Mutating, dis.Containment = true, true
	dis.Enforcement = sever.EnterpriseEnforced
	dis.Compensate = &sever.CompensateSpec{Action: "test.enable"}
	if verify {
		dis.Verify = &sever.VerifySpec{Action: "test.status", Args: sever.Values{"expect": "inactive"}}
	}
	return input(dis)
}

// The incident is closed while its mutating step runs. Whatever the action managed to
// do before the cancellation reached it is learnt by reading back, and the step is
// recorded as what the read-back shows: applied (and undone on a false-positive
// close) or not, never "failed: canceled" while the key is in fact disabled.
func TestCloseDuringMutatingStep(t *testing.T) {
	tests := []struct {
		name          string
		verify        bool
		applied       bool // the action's change went out before it was canceled
		falsePositive bool
		wantStatus    sever.StepStatus
		wantOutcome   string
		wantUndone    bool
	}{
		{"applied, false positive", true, true, true, sever.StepSucceeded, outcomeApplied, true},
		{"applied, ordinary close", true, true, false, sever.StepSucceeded, outcomeApplied, false},
		{"not applied, false positive", true, false, true, sever.StepFailed, outcomeNotApplied, false},
		{"no read-back, false positive", false, true, true, sever.StepFailed, outcomeUnknown, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			var disabled atomic.Bool
			var undone atomic.Int32
			env.RegisterActivityWithOptions(func(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
				panic("replaced by the mock")
			}, activity.RegisterOptions{Name: "test.disable"})
			env.RegisterActivityWithOptions(func(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
				return sever.ActionResult{Verified: disabled.Load(), Summary: fmt.Sprintf("disabled=%v", disabled.Load())}, nil
			}, activity.RegisterOptions{Name: "test.status"})
			env.RegisterActivityWithOptions(func(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
				undone.Add(1)
				disabled.Store(false)
				return sever.ActionResult{Changed: true}, nil
			}, activity.RegisterOptions{Name: "test.enable"})
			// The action would answer after a minute; 30 s in, its change has (or has
			// not) gone out, and the incident is closed.
			env.OnActivity("test.disable", mockAny, mockAny).After(time.Minute).Return(sever.ActionResult{Verified: true, Changed: true}, nil)
			env.RegisterDelayedCallback(func() {
				disabled.Store(tt.applied)
				env.UpdateWorkflow(UpdateClose, "close", &updateCB{t: t},
					CloseInput{Reason: "test key", By: "U1", FalsePositive: tt.falsePositive})
			}, 30*time.Second)

			inc := runIncident(t, env, closeDuringStepInput(tt.verify), signal("s1", "e1"))

			st := stepByID(t, inc, "disable")
			if st.Status != tt.wantStatus || st.Output["outcome"] != tt.wantOutcome {
				t.Fatalf("step %s outcome %v (%s; %s), want %s with outcome %s",
					st.Status, st.Output["outcome"], st.Error, st.Summary, tt.wantStatus, tt.wantOutcome)
			}
			if !strings.Contains(st.Summary+st.Error, "canceled") {
				t.Errorf("step does not say it was canceled: %q %q", st.Summary, st.Error)
			}
			if st.Status == sever.StepSucceeded && (!st.Verified || st.Enforcement != sever.EnterpriseEnforced || st.Actor != ServiceActor) {
				t.Errorf("applied step = verified %v enforcement %s actor %q", st.Verified, st.Enforcement, st.Actor)
			}
			if got := undone.Load() == 1; got != tt.wantUndone || len(inc.Compensations) != int(undone.Load()) {
				t.Fatalf("undone %d times, compensations %+v; want undone %v", undone.Load(), inc.Compensations, tt.wantUndone)
			}
			if tt.wantUndone && inc.Compensations[0].Status != sever.StepSucceeded {
				t.Errorf("compensation = %+v", inc.Compensations[0])
			}
			if tt.falsePositive && disabled.Load() {
				t.Error("a false-positive close left the key disabled")
			}
		})
	}
}

// Mutating steps, and only they, run with a heartbeat timeout and are waited for
// when canceled; their read-back and the incident's read-only steps run as local
// activities, with no activity task (TestReadOnlyStepsRunLocal).
func TestMutatingStepActivityOptions(t *testing.T) {
	env := newEnv(t)
	rc := &recorder{}
	rc.register(env, "test.lookup", "test.disable", "test.status", "test.enable")
	var mu sync.Mutex
	heartbeat := map[string]time.Duration{}
	local := map[string]bool{}
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		mu.Lock()
		heartbeat[info.ActivityID] = info.HeartbeatTimeout
		mu.Unlock()
	})
	env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []any) {
		mu.Lock()
		local[info.ActivityType.Name] = true
		mu.Unlock()
	})
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateClose, "fp", &updateCB{t: t}, CloseInput{Reason: "test key", By: "U1", FalsePositive: true})
	}, 5*time.Minute)
	in := falsePositiveInput()
	in.Runbook.Steps[1].Verify = &sever.VerifySpec{Action: "test.status"}
	runIncident(t, env, in, signal("s1", "e1"))
	mu.Lock()
	defer mu.Unlock()
	for _, id := range []string{"disable", "disable.compensate"} {
		if got, ok := heartbeat[id]; !ok || got <= 0 {
			t.Errorf("activity %s: heartbeat timeout %v (ran %v), want one", id, got, ok)
		}
	}
	for id, typ := range map[string]string{"lookup": "test.lookup", "disable.verify": "test.status"} {
		if _, ok := heartbeat[id]; ok || !local[typ] {
			t.Errorf("read-only %s (%s): activity task %v, local %v; want local only", id, typ, ok, local[typ])
		}
	}

	// WaitForCancellation is not visible to a started activity; read it off the context.
	env = newEnv(t)
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context) ([2]bool, error) {
		r := &run{}
		spec := step("disable", "test.disable")
		on := workflow.GetActivityOptions(r.activityCtx(ctx, &spec, "a", true))
		off := workflow.GetActivityOptions(r.activityCtx(ctx, &spec, "b", false))
		return [2]bool{on.WaitForCancellation && on.HeartbeatTimeout > 0, off.WaitForCancellation || off.HeartbeatTimeout > 0}, nil
	}, workflow.RegisterOptions{Name: "options"})
	env.ExecuteWorkflow("options")
	var got [2]bool
	if err := env.GetWorkflowResult(&got); err != nil || got != [2]bool{true, false} {
		t.Errorf("options (mutating ok, read-only set) = %v (%v)", got, err)
	}
}

// A mutating action that answered it made its change is undone on a false-positive
// close even when its read-back then failed (the step is failed, the key disabled).
func TestFalsePositiveUndoesAnsweredChangeWithoutReadBack(t *testing.T) {
	env := newEnv(t)
	rc := &recorder{errs: map[string]error{"test.status": temporal.NewNonRetryableApplicationError("status store down", "Unsupported", nil)}}
	rc.register(env, "test.disable", "test.status", "test.enable")
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateClose, "fp", &updateCB{t: t}, CloseInput{Reason: "test key", By: "U1", FalsePositive: true})
	}, 5*time.Minute)
	inc := runIncident(t, env, closeDuringStepInput(true), signal("s1", "e1"))
	if st := stepByID(t, inc, "disable"); st.Status != sever.StepFailed || st.Output["outcome"] != outcomeApplied {
		t.Fatalf("disable = %s (%s), outcome %v; want failed with the change recorded applied", st.Status, st.Error, st.Output["outcome"])
	}
	if len(inc.Compensations) != 1 || inc.Compensations[0].Status != sever.StepSucceeded {
		t.Fatalf("compensations = %+v; want the disable undone", inc.Compensations)
	}
}
