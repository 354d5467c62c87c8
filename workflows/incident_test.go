package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/contract"
)

var cred = sever.Credential{Provider: "acme", Type: sever.CredGenericToken, ID: "tok-123", Principal: "svc-billing"}

// allowAll is a policy that lets every test action run automatically, except
// "test.forbidden" which no rule matches (default deny).
var allowAll = sever.Policy{Name: "test", Version: "1", SHA256: "p", Rules: []sever.PolicyRule{
	{ID: "forbid", Actions: []string{"test.forbidden"}, Mode: sever.ModeForbidden},
	{ID: "tests-auto", Actions: []string{"test.*"}, Mode: sever.ModeAuto},
}}

func step(id, action string, needs ...string) sever.RunbookStep {
	return sever.RunbookStep{ID: id, Action: action, Needs: needs, Timeout: sever.Duration(10 * time.Second), MaxAttempts: 1}
}

func input(steps ...sever.RunbookStep) IncidentInput {
	return IncidentInput{
		IncidentID: "inc-test", Credential: cred, Policy: allowAll, Hold: sever.Duration(time.Hour),
		Runbook: sever.Runbook{Name: "rb", Version: "1", SHA256: "abc", Steps: steps},
	}
}

func signal(id, eventID string) sever.Signal {
	return sever.Signal{ID: id, Source: "siem", SourceEventID: eventID, Origin: sever.OriginEnterprise,
		Kind: sever.KindCredentialExposed, Credential: cred, Receipt: "r-" + id, Severity: "high"}
}

// recorder is a fake action that records the order of calls.
type recorder struct {
	mu    sync.Mutex
	calls []string
	res   map[string]sever.ActionResult
	errs  map[string]error
}

func (rc *recorder) register(env *testsuite.TestWorkflowEnvironment, names ...string) {
	for _, n := range names {
		env.RegisterActivityWithOptions(func(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
			rc.mu.Lock()
			rc.calls = append(rc.calls, in.StepID+":"+n)
			res, err := rc.res[n], rc.errs[n]
			rc.mu.Unlock()
			if err != nil {
				return sever.ActionResult{}, err
			}
			if res.Actor == "" {
				res.Verified = true
			}
			_ = activity.GetInfo(ctx)
			return res, nil
		}, activity.RegisterOptions{Name: n})
	}
}

func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(Incident, workflow.RegisterOptions{Name: IncidentWorkflow})
	n := &notices{}
	env.RegisterActivityWithOptions(n.request, activity.RegisterOptions{Name: contract.ActivityRequestApproval})
	env.RegisterActivityWithOptions(n.outcome, activity.RegisterOptions{Name: contract.ActivityApprovalOutcome})
	env.RegisterActivityWithOptions(n.ledger, activity.RegisterOptions{Name: contract.ActivityLedgerAppend})
	env.RegisterActivityWithOptions(n.notice, activity.RegisterOptions{Name: contract.ActivityNotice})
	envNotices.Store(env, n)
	t.Cleanup(func() { envNotices.Delete(env) })
	return env
}

// envNotices maps each test environment to its notices recorder, so tests that
// run in parallel each read their own.
var envNotices sync.Map // *testsuite.TestWorkflowEnvironment → *notices

// noticesOf returns the notices recorder of an environment made by newEnv.
func noticesOf(env *testsuite.TestWorkflowEnvironment) *notices {
	n, ok := envNotices.Load(env)
	if !ok {
		panic("noticesOf: environment not made by newEnv")
	}
	return n.(*notices)
}

func (n *notices) ledger(_ context.Context, in contract.LedgerAppendInput) (contract.LedgerAppendResult, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.facts = append(n.facts, in.Facts...)
	return contract.LedgerAppendResult{Appended: len(in.Facts)}, nil
}

// factKeys lists the written facts' keys without the per-incident prefix.
func (n *notices) factKeys() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var keys []string
	for _, f := range n.facts {
		_, k, _ := strings.Cut(f.Key, "/")
		keys = append(keys, k)
	}
	return keys
}

// notices records the approval notices a test workflow sent.
type notices struct {
	mu       sync.Mutex
	requests []contract.ApprovalRequestInput
	outcomes []contract.ApprovalOutcomeInput
	facts    []contract.LedgerFact
	notices  []contract.NoticeInput
	// members resolves Slack groups in approval requests, as the Slack activity does.
	members map[string][]string
}

func (n *notices) notice(_ context.Context, in contract.NoticeInput) (contract.NoticeResult, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.notices = append(n.notices, in)
	return contract.NoticeResult{Posted: true, Channel: "C0SOC", TS: fmt.Sprintf("9.%d", len(n.notices))}, nil
}

func (n *notices) request(_ context.Context, in contract.ApprovalRequestInput) (contract.ApprovalRequestResult, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.requests = append(n.requests, in)
	res := contract.ApprovalRequestResult{Posted: true, Channel: "C0SOC", TS: fmt.Sprintf("1.%d", len(n.requests))}
	for _, a := range in.Approvers {
		if g, ok := strings.CutPrefix(a, "slack-group:"); ok {
			res.Approvers = append(res.Approvers, n.members[g]...)
		}
	}
	return res, nil
}

func (n *notices) outcome(_ context.Context, in contract.ApprovalOutcomeInput) (contract.ApprovalOutcomeResult, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.outcomes = append(n.outcomes, in)
	return contract.ApprovalOutcomeResult{Updated: true}, nil
}

// start sends the first signal the way SignalWithStart does, then closes the
// incident after the runbook so the test ends.
func runIncident(t *testing.T, env *testsuite.TestWorkflowEnvironment, in IncidentInput, sigs ...sever.Signal) sever.Incident {
	t.Helper()
	env.RegisterDelayedCallback(func() {
		for _, s := range sigs {
			env.SignalWorkflow(SignalChannel, s)
		}
	}, 0)
	env.ExecuteWorkflow(IncidentWorkflow, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	var res IncidentResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res.Incident
}

func stepByID(t *testing.T, inc sever.Incident, id string) sever.Step {
	t.Helper()
	for _, s := range inc.Steps {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no step %s", id)
	return sever.Step{}
}

func TestDependencyOrderAndParallelSteps(t *testing.T) {
	env := newEnv(t)
	rc := &recorder{}
	rc.register(env, "test.a", "test.b", "test.c", "test.d")
	env.OnActivity("test.b", mockAny, mockAny).After(30*time.Second).Return(sever.ActionResult{Verified: true}, nil)
	env.OnActivity("test.c", mockAny, mockAny).After(30*time.Second).Return(sever.ActionResult{Verified: true}, nil)
	d := step("d", "test.d", "b", "c")
	d.Containment, d.Mutating = true, true
	in := input(step("a", "test.a"), step("b", "test.b", "a"), step("c", "test.c", "a"), d)
	inc := runIncident(t, env, in, signal("s1", "e1"))

	a, b, c, dd := stepByID(t, inc, "a"), stepByID(t, inc, "b"), stepByID(t, inc, "c"), stepByID(t, inc, "d")
	for _, s := range []sever.Step{a, b, c, dd} {
		if s.Status != sever.StepSucceeded {
			t.Fatalf("step %s = %s (%s), want succeeded", s.ID, s.Status, s.Error)
		}
	}
	if b.StartedAt.Before(*a.EndedAt) || c.StartedAt.Before(*a.EndedAt) {
		t.Errorf("b or c started before a ended")
	}
	if !b.StartedAt.Equal(*c.StartedAt) {
		t.Errorf("b started %v, c started %v: independent steps should start together", b.StartedAt, c.StartedAt)
	}
	if dd.StartedAt.Before(*b.EndedAt) || dd.StartedAt.Before(*c.EndedAt) {
		t.Errorf("d started before its needs ended")
	}
	if got := dd.EndedAt.Sub(*a.StartedAt); got >= 60*time.Second {
		t.Errorf("runbook took %v of workflow time; b and c ran in sequence", got)
	}
	if inc.Status != sever.IncidentClosed {
		t.Errorf("status %s, want closed after the hold window", inc.Status)
	}
	if inc.ContainedAt == nil {
		t.Errorf("incident never contained: %s", inc.Reason)
	}
}

func TestWhenConditions(t *testing.T) {
	env := newEnv(t)
	(&recorder{}).register(env, "test.a", "test.b", "test.c")
	b := step("b", "test.b")
	b.When = `signal.kind == "abuse_report"`
	c := step("c", "test.c", "b") // needs a skipped step: skipped too
	a := step("a", "test.a")
	a.When = `credential.type == "generic_token" && signals.size() == 1`
	a.Containment = true
	inc := runIncident(t, env, input(a, b, c), signal("s1", "e1"))

	if s := stepByID(t, inc, "a"); s.Status != sever.StepSucceeded {
		t.Errorf("a = %s (%s), want succeeded", s.Status, s.Error)
	}
	if s := stepByID(t, inc, "b"); s.Status != sever.StepSkipped || !strings.Contains(s.Error, "condition false") {
		t.Errorf("b = %s (%s), want skipped by condition", s.Status, s.Error)
	}
	if s := stepByID(t, inc, "c"); s.Status != sever.StepSkipped || !strings.Contains(s.Error, "needs b") {
		t.Errorf("c = %s (%s), want skipped because of b", s.Status, s.Error)
	}
}

func TestPolicyDenyRefusesBeforeAnythingRuns(t *testing.T) {
	env := newEnv(t)
	rc := &recorder{}
	rc.register(env, "test.a", "test.forbidden", "other.action")
	x := step("x", "test.forbidden")
	x.Mutating, x.Containment = true, true
	y := step("y", "other.action") // no rule matches: default deny
	y.OnFailure = sever.FailContinue
	inc := runIncident(t, env, input(y, x, step("after", "test.a", "x")), signal("s1", "e1"))

	if s := stepByID(t, inc, "x"); s.Status != sever.StepRefused || s.PolicyRule != "forbid" {
		t.Errorf("x = %s rule %q, want refused by rule forbid", s.Status, s.PolicyRule)
	}
	if s := stepByID(t, inc, "y"); s.Status != sever.StepRefused || s.PolicyRule != sever.DefaultDenyRule {
		t.Errorf("y = %s rule %q, want refused by %s", s.Status, s.PolicyRule, sever.DefaultDenyRule)
	}
	if s := stepByID(t, inc, "after"); s.Status != sever.StepSkipped {
		t.Errorf("after = %s, want skipped", s.Status)
	}
	if len(rc.calls) != 0 {
		t.Errorf("activities ran despite the policy: %v", rc.calls)
	}
	if !strings.Contains(inc.Reason, "refused") {
		t.Errorf("reason %q should say a step was refused", inc.Reason)
	}
}

func TestRetryCap(t *testing.T) {
	env := newEnv(t)
	rc := &recorder{errs: map[string]error{"test.flaky": errors.New("503 from upstream")}}
	rc.register(env, "test.flaky")
	s := step("flaky", "test.flaky")
	s.MaxAttempts, s.Containment = 3, true
	inc := runIncident(t, env, input(s), signal("s1", "e1"))

	if len(rc.calls) != 3 {
		t.Errorf("attempts = %d, want 3 (the step's cap)", len(rc.calls))
	}
	got := stepByID(t, inc, "flaky")
	if got.Status != sever.StepFailed || !strings.Contains(got.Error, "503") {
		t.Errorf("flaky = %s (%s), want failed with the cause", got.Status, got.Error)
	}
	if !strings.Contains(inc.Reason, "failed") {
		t.Errorf("incident reason = %q", inc.Reason)
	}
}

func TestPermanentErrorIsNotRetried(t *testing.T) {
	env := newEnv(t)
	rc := &recorder{errs: map[string]error{"test.a": temporal.NewNonRetryableApplicationError("no such key", "NotFound", nil)}}
	rc.register(env, "test.a")
	s := step("a", "test.a")
	s.MaxAttempts = 5
	inc := runIncident(t, env, input(s), signal("s1", "e1"))
	if len(rc.calls) != 1 {
		t.Errorf("attempts = %d, want 1", len(rc.calls))
	}
	if got := stepByID(t, inc, "a"); !strings.Contains(got.Error, "NotFound: no such key") {
		t.Errorf("error = %q", got.Error)
	}
}

func TestDuplicateSignalsRecordedOnce(t *testing.T) {
	env := newEnv(t)
	(&recorder{}).register(env, "test.a")
	dup := signal("s1", "e1")
	dup.Receipt = "second-submission"
	var status SignalStatus
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(QuerySignalStatus, SignalStatusInput{SignalID: "s1", Receipt: "second-submission"})
		if err != nil {
			t.Error(err)
			return
		}
		if err := v.Get(&status); err != nil {
			t.Error(err)
		}
	}, time.Second)
	a := step("a", "test.a")
	a.Containment = true
	inc := runIncident(t, env, input(a), signal("s1", "e1"), dup, signal("s2", "e2"))

	if len(inc.Signals) != 2 || inc.Duplicates != 1 || inc.Signals[0].Duplicates != 1 {
		t.Fatalf("signals=%d duplicates=%d, want 2 recorded and 1 duplicate", len(inc.Signals), inc.Duplicates)
	}
	// Every fact reaches the ledger exactly once, in the order it happened.
	want := []string{"status/open", "signal/s1", "duplicate/s1/second-submission", "signal/s2", "policy/a",
		"step/a/outcome", "status/contained", "status/closed"}
	if got := noticesOf(env).factKeys(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("ledger facts\n got %v\nwant %v", got, want)
	}
	if !status.Known || !status.Duplicate {
		t.Errorf("status of second submission = %+v, want known duplicate", status)
	}
}

func TestLateSignalJoinsWithDelayThenHoldEnds(t *testing.T) {
	env := newEnv(t)
	(&recorder{}).register(env, "test.a")
	a := step("a", "test.a")
	a.Containment, a.Mutating = true, true
	late := signal("vendor", "aws-health-1")
	late.Origin, late.Source, late.Kind = sever.OriginVendor, "aws-health", sever.KindVendorAction
	env.RegisterDelayedCallback(func() {
		late.ReceivedAt = env.Now().UTC()
		env.SignalWorkflow(SignalChannel, late)
	}, 20*time.Minute)
	first := signal("s1", "e1")
	first.ReceivedAt = env.Now().UTC()
	inc := runIncident(t, env, input(a), first)

	if inc.Status != sever.IncidentClosed || inc.ContainedAt == nil {
		t.Fatalf("status %s contained_at %v", inc.Status, inc.ContainedAt)
	}
	if len(inc.Signals) != 2 {
		t.Fatalf("signals = %d, want 2", len(inc.Signals))
	}
	if d := inc.Signals[1].DelaySeconds; d < 1199 || d > 1201 {
		t.Errorf("late signal delay = %vs, want 1200s", d)
	}
	if inc.ClosedAt.Sub(*inc.ContainedAt) < time.Hour-time.Minute {
		t.Errorf("closed %v after containment; want the hold window of 1h", inc.ClosedAt.Sub(*inc.ContainedAt))
	}
}

func TestCloseUpdateEndsHold(t *testing.T) {
	env := newEnv(t)
	(&recorder{}).register(env, "test.a")
	a := step("a", "test.a")
	a.Containment = true
	in := input(a)
	in.Hold = sever.Duration(7 * 24 * time.Hour)
	var rejected error
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateClose, "u0", &updateCB{t: t, reject: func(err error) { rejected = err }}, CloseInput{})
		env.UpdateWorkflow(UpdateClose, "u1", &updateCB{t: t}, CloseInput{Reason: "rotated by owner", By: "alice"})
	}, time.Minute)
	inc := runIncident(t, env, in, signal("s1", "e1"))
	if inc.Status != sever.IncidentClosed || inc.ClosedAt.Sub(inc.OpenedAt) > 2*time.Minute {
		t.Errorf("status %s closed after %v; want closed by the update", inc.Status, inc.ClosedAt.Sub(inc.OpenedAt))
	}
	if rejected == nil || !strings.Contains(rejected.Error(), "reason is required") {
		t.Errorf("close without reason: %v", rejected)
	}
}

func TestContinueAsNewKeepsState(t *testing.T) {
	env := newEnv(t)
	(&recorder{}).register(env, "test.a")
	a := step("a", "test.a")
	a.Containment = true
	in := input(a)
	env.RegisterDelayedCallback(func() {
		for i := range 30 {
			env.SignalWorkflow(SignalChannel, signal(fmt.Sprintf("late%d", i), fmt.Sprintf("ev%d", i)))
		}
		// A duplicate of the first: the same event in another submission (receipt);
		// the same submission delivered again is no duplicate (see intake.go).
		dup := signal("s1", "e1")
		dup.Receipt += "-again"
		env.SignalWorkflow(SignalChannel, dup)
	}, 10*time.Minute)
	// The server refuses to complete a continue-as-new while signals are pending, so
	// nothing delivered is lost; the test environment does not, so suggest it later.
	env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 11*time.Minute)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalChannel, signal("nudge", "nudge")) }, 12*time.Minute)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalChannel, signal("s1", "e1")) }, 0)
	env.ExecuteWorkflow(IncidentWorkflow, in)
	next := continuedAsNew(t, env)
	if next.Carry == nil {
		t.Fatal("continue-as-new input carries no state")
	}
	c := next.Carry.Incident
	if c.SignalCount() != 32 || c.Duplicates != 1 || c.Status != sever.IncidentContained {
		t.Fatalf("carried: %d signals, %d duplicates, status %s; want 32, 1, contained", c.SignalCount(), c.Duplicates, c.Status)
	}
	if next.Runbook.SHA256 != in.Runbook.SHA256 || next.Policy.SHA256 != in.Policy.SHA256 {
		t.Error("continue-as-new changed the pinned runbook or policy")
	}

	// The next run resumes: the steps are not run again, a repeat event stays a
	// duplicate, and closing works.
	env2 := newEnv(t)
	rc := &recorder{}
	rc.register(env2, "test.a")
	env2.RegisterDelayedCallback(func() {
		again := signal("late1", "ev1")
		again.Receipt += "-again" // another submission of the event
		env2.SignalWorkflow(SignalChannel, again)
		env2.UpdateWorkflow(UpdateClose, "c", &updateCB{t: t}, CloseInput{Reason: "done", By: "bob"})
	}, time.Minute)
	env2.ExecuteWorkflow(IncidentWorkflow, next)
	var res IncidentResult
	if err := env2.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if len(rc.calls) != 0 {
		t.Errorf("steps ran again after continue-as-new: %v", rc.calls)
	}
	if got := res.Incident; got.SignalCount() != 32 || got.Duplicates != 2 || got.Runs != 2 || got.Status != sever.IncidentClosed {
		t.Errorf("after second run: %d signals, %d duplicates, %d runs, %s", got.SignalCount(), got.Duplicates, got.Runs, got.Status)
	}
}

func TestQueryShowsPinnedRunbookAndLiveSteps(t *testing.T) {
	env := newEnv(t)
	(&recorder{}).register(env, "test.a")
	env.OnActivity("test.a", mockAny, mockAny).After(time.Minute).Return(sever.ActionResult{Verified: true}, nil)
	var mid sever.Incident
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(QueryState)
		if err == nil {
			err = v.Get(&mid)
		}
		if err != nil {
			t.Error(err)
		}
	}, 30*time.Second)
	in := input(step("a", "test.a"))
	runIncident(t, env, in, signal("s1", "e1"))
	if mid.Runbook.SHA256 != "abc" || mid.Steps[0].Status != sever.StepRunning || mid.Steps[0].StartedAt == nil {
		t.Errorf("mid-run query = runbook %+v step %+v", mid.Runbook, mid.Steps[0])
	}
	if mid.Steps[0].ArgsSHA256 != sever.ArgsSHA256("test.a", cred, nil) {
		t.Error("args hash not bound to the step")
	}
}

func TestSignalDuringTheLastLedgerWriteIsRecorded(t *testing.T) {
	env := newEnv(t)
	(&recorder{}).register(env, "test.a")
	env.OnActivity(contract.ActivityLedgerAppend, mockAny, mockAny).After(time.Minute).Return(contract.LedgerAppendResult{}, nil)
	a := step("a", "test.a")
	a.Containment = true
	in := input(a)
	in.Hold = sever.Duration(7 * 24 * time.Hour)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateClose, "c", &updateCB{t: t}, CloseInput{Reason: "done", By: "bob"})
	}, 10*time.Minute)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalChannel, signal("late", "late")) }, 10*time.Minute+30*time.Second)
	inc := runIncident(t, env, in, signal("s1", "e1"))
	if len(inc.Signals) != 2 || inc.Signals[1].ID != "late" {
		t.Fatalf("signals = %d; the one that arrived during the last ledger write was lost", len(inc.Signals))
	}
}

// A containment step the vendor enforced does not contain the incident by itself:
// the enterprise must have acted and read it back.
func TestVendorEnforcementAloneIsNotContainment(t *testing.T) {
	env := newEnv(t)
	rc := &recorder{res: map[string]sever.ActionResult{
		"test.observe": {Enforcement: sever.VendorEnforced, Verified: true, Actor: "vendor"},
	}}
	rc.register(env, "test.observe")
	obs := step("observe", "test.observe")
	obs.Containment = true
	inc := runIncident(t, env, input(obs), signal("s1", "e1"))
	if inc.Status == sever.IncidentContained || !strings.Contains(inc.Reason, "enforced by the vendor") {
		t.Fatalf("incident %s (%s); want not contained, naming the vendor", inc.Status, inc.Reason)
	}
}
