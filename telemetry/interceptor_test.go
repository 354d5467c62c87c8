package telemetry_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/contract"
	"github.com/sever-ir/sever/telemetry"
	"github.com/sever-ir/sever/workflows"
)

const (
	incidentID = "inc-aws-0123456789abcdef0123"
	keyID      = "AKIAIOSFODNN7EXAMPLE"
)

// fakeIncident speaks the Incident workflow's contract the interceptor reads (its
// name, input, memo keys and internal activities) without its logic, so these
// tests pin down the interceptor, not the runbook interpreter.
func fakeIncident(ctx workflow.Context, in workflows.IncidentInput) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 2},
	})
	opened := workflow.Now(ctx).UTC()
	if in.Carry != nil {
		opened = in.Carry.Incident.OpenedAt
	}
	publish := func(st sever.IncidentStatus) error {
		return workflow.UpsertMemo(ctx, map[string]any{
			workflows.MemoStatus: string(st), workflows.MemoCredential: in.Credential,
			workflows.MemoRunbook: "aws-access-key", workflows.MemoOpenedAt: opened,
		})
	}
	status := sever.IncidentOpen
	if in.Carry != nil {
		status = in.Carry.Incident.Status
	}
	if err := publish(status); err != nil {
		return err
	}
	if in.Carry != nil {
		return nil
	}
	req := contract.ApprovalRequestInput{IncidentID: in.IncidentID, StepID: "deactivate", Credential: in.Credential}
	if err := workflow.ExecuteActivity(ctx, contract.ActivityRequestApproval, req).Get(ctx, nil); err != nil {
		return err
	}
	req.Escalation = true // the same approval asked again louder, not a new one
	if err := workflow.ExecuteActivity(ctx, contract.ActivityRequestApproval, req).Get(ctx, nil); err != nil {
		return err
	}
	if err := workflow.Sleep(ctx, 90*time.Second); err != nil {
		return err
	}
	facts := contract.LedgerAppendInput{IncidentID: in.IncidentID, Facts: []contract.LedgerFact{
		{Kind: contract.FactSignal, Key: "1/signal/sig-1"},
		{Kind: contract.FactApprovalDecision, Enforcement: sever.HumanApproved, Actor: "alice", Key: "1/approval/deactivate/alice"},
		{Kind: contract.FactApprovalDecision, Enforcement: sever.ApprovalExpired, Actor: "nobody", Key: "1/approval/revoke/expired"},
	}}
	// The same batch twice, as after a failed append: each fact counts once.
	for range 2 {
		if err := workflow.ExecuteActivity(ctx, contract.ActivityLedgerAppend, facts).Get(ctx, nil); err != nil {
			return err
		}
	}
	if err := workflow.ExecuteActivity(ctx, "aws.deactivate_access_key", in.Credential).Get(ctx, nil); err != nil {
		return err
	}
	_ = workflow.ExecuteActivity(ctx, "aws.attach_deny_policy", in.Credential).Get(ctx, nil)
	if err := publish(sever.IncidentContained); err != nil {
		return err
	}
	// Published again while holding: still one containment.
	return publish(sever.IncidentContained)
}

type activities struct {
	deactivateCalls atomic.Int32
}

func (a *activities) requestApproval(context.Context, contract.ApprovalRequestInput) (contract.ApprovalRequestResult, error) {
	return contract.ApprovalRequestResult{}, nil
}

func (a *activities) ledgerAppend(_ context.Context, in contract.LedgerAppendInput) (contract.LedgerAppendResult, error) {
	return contract.LedgerAppendResult{Appended: len(in.Facts)}, nil
}

// deactivate fails its first attempt with a retryable error, then succeeds.
func (a *activities) deactivate(context.Context, sever.Credential) error {
	if a.deactivateCalls.Add(1) == 1 {
		return errors.New("iam: throttled")
	}
	return nil
}

func (a *activities) attachDenyPolicy(context.Context, sever.Credential) error {
	return temporal.NewNonRetryableApplicationError("policy document rejected", "invalid_argument", nil)
}

func newWorkflowEnv(t *testing.T, m *telemetry.Metrics) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{m.WorkerInterceptor()}})
	env.RegisterWorkflowWithOptions(fakeIncident, workflow.RegisterOptions{Name: workflows.IncidentWorkflow})
	a := &activities{}
	env.RegisterActivityWithOptions(a.requestApproval, activity.RegisterOptions{Name: contract.ActivityRequestApproval})
	env.RegisterActivityWithOptions(a.ledgerAppend, activity.RegisterOptions{Name: contract.ActivityLedgerAppend})
	env.RegisterActivityWithOptions(a.deactivate, activity.RegisterOptions{Name: "aws.deactivate_access_key"})
	env.RegisterActivityWithOptions(a.attachDenyPolicy, activity.RegisterOptions{Name: "aws.attach_deny_policy"})
	return env
}

func runFake(t *testing.T, env *testsuite.TestWorkflowEnvironment, in workflows.IncidentInput) {
	t.Helper()
	env.ExecuteWorkflow(workflows.IncidentWorkflow, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow error: %v", err)
	}
}

var testCredential = sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: keyID, Account: "123456789012"}

func TestWorkerInterceptor(t *testing.T) {
	m := newMetrics(t, telemetry.Options{})
	runFake(t, newWorkflowEnv(t, m), workflows.IncidentInput{IncidentID: incidentID, Credential: testCredential})

	fams, body := scrape(t, m)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"sever_activity_failures_total", map[string]string{"activity": "aws.deactivate_access_key", "permanent": "false"}, 1},
		{"sever_activity_failures_total", map[string]string{"activity": "aws.attach_deny_policy", "permanent": "true"}, 1},
		{"sever_approval_requests_total", nil, 1},
		{"sever_approval_outcomes_total", map[string]string{"outcome": "human_approved"}, 1},
		{"sever_approval_outcomes_total", map[string]string{"outcome": "approval_expired"}, 1},
	} {
		if got := value(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if m := metric(fams, "sever_activity_failures_total", map[string]string{"activity": contract.ActivityLedgerAppend}); m != nil {
		t.Error("a successful activity was counted as failed")
	}
	h := metric(fams, "sever_time_to_contain_seconds", map[string]string{"drill": "false"}).GetHistogram()
	// Workflow time: the 90 s sleep plus the activities, which the test clock runs in no time.
	if h.GetSampleCount() != 1 || h.GetSampleSum() < 90 || h.GetSampleSum() > 95 {
		t.Errorf("time to contain: count=%d sum=%v, want one sample of about 90 s", h.GetSampleCount(), h.GetSampleSum())
	}
	if d := metric(fams, "sever_time_to_contain_seconds", map[string]string{"drill": "true"}).GetHistogram(); d.GetSampleCount() != 0 {
		t.Errorf("a production incident was recorded as a drill")
	}
	for _, secret := range []string{incidentID, keyID, "123456789012", "alice"} {
		if strings.Contains(body, secret) {
			t.Errorf("%q reached the metrics exposition", secret)
		}
	}
}

func TestWorkerInterceptorDrill(t *testing.T) {
	m := newMetrics(t, telemetry.Options{})
	runFake(t, newWorkflowEnv(t, m), workflows.IncidentInput{IncidentID: "drill-" + incidentID, Credential: testCredential, Drill: true})
	fams, _ := scrape(t, m)
	if n := metric(fams, "sever_time_to_contain_seconds", map[string]string{"drill": "true"}).GetHistogram().GetSampleCount(); n != 1 {
		t.Errorf("drill containments = %d, want 1", n)
	}
	if n := metric(fams, "sever_time_to_contain_seconds", map[string]string{"drill": "false"}).GetHistogram().GetSampleCount(); n != 0 {
		t.Errorf("production containments = %d, want 0", n)
	}
}

// A run continued-as-new republishes the status it carries; an incident contained
// in the previous run must not be counted again.
func TestWorkerInterceptorContinuedRun(t *testing.T) {
	m := newMetrics(t, telemetry.Options{})
	opened := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	runFake(t, newWorkflowEnv(t, m), workflows.IncidentInput{IncidentID: incidentID, Credential: testCredential,
		Carry: &workflows.Carry{Incident: sever.Incident{ID: incidentID, Status: sever.IncidentContained, OpenedAt: opened}}})
	fams, _ := scrape(t, m)
	if n := metric(fams, "sever_time_to_contain_seconds", map[string]string{"drill": "false"}).GetHistogram().GetSampleCount(); n != 0 {
		t.Errorf("containments = %d after a continued run, want 0", n)
	}
}
