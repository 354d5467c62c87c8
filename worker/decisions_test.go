package worker

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/testsuite"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/contract"
	"github.com/sever-ir/sever/internal/decisionsig"
	"github.com/sever-ir/sever/workflows"
)

type updateCB struct {
	rejected error
	accepted bool
}

func (u *updateCB) Accept()             { u.accepted = true }
func (u *updateCB) Reject(err error)    { u.rejected = err }
func (u *updateCB) Complete(any, error) {}

var testCred = sever.Credential{Provider: "test", Type: sever.CredGenericToken, ID: "tok-1"}

func approvalIncident() workflows.IncidentInput {
	st := sever.RunbookStep{ID: "disable", Action: "test.disable", Mutating: true, Containment: true,
		Timeout: sever.Duration(10 * time.Second), MaxAttempts: 1,
		Approval: &sever.ApprovalSpec{Approvers: []string{"U1", "U2"}, Quorum: 1, Deadline: sever.Duration(10 * time.Minute)}}
	return workflows.IncidentInput{
		IncidentID: "inc-sig", Credential: testCred, Hold: sever.Duration(time.Minute),
		Policy: sever.Policy{Name: "test", Version: "1", SHA256: "p", Rules: []sever.PolicyRule{
			{ID: "tests-auto", Actions: []string{"test.*"}, Mode: sever.ModeAuto}}},
		Runbook: sever.Runbook{Name: "rb", Version: "1", SHA256: "abc", Steps: []sever.RunbookStep{st}},
	}
}

// newSignedEnv runs the Incident workflow with the decision interceptor, as a worker
// built by internal/app does, and every activity stubbed.
func newSignedEnv(t *testing.T, key *decisionsig.Key) (*testsuite.TestWorkflowEnvironment, *int) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	// The deadlock detector's 1 s is too tight for -race on a loaded machine.
	env.SetWorkerOptions(sdkworker.Options{Interceptors: []interceptor.WorkerInterceptor{DecisionInterceptor(key)},
		DeadlockDetectionTimeout: time.Minute})
	// The signature covers the workflow ID, as the engine signs for the incident ID.
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "inc-sig"})
	env.RegisterWorkflowWithOptions(workflows.Incident, workflow.RegisterOptions{Name: workflows.IncidentWorkflow})
	calls := new(int)
	env.RegisterActivityWithOptions(func(context.Context, sever.ActionInput) (sever.ActionResult, error) {
		*calls++
		return sever.ActionResult{Verified: true}, nil
	}, activity.RegisterOptions{Name: "test.disable"})
	env.RegisterActivityWithOptions(func(context.Context, contract.ApprovalRequestInput) (contract.ApprovalRequestResult, error) {
		return contract.ApprovalRequestResult{}, nil
	}, activity.RegisterOptions{Name: contract.ActivityRequestApproval})
	env.RegisterActivityWithOptions(func(context.Context, contract.ApprovalOutcomeInput) (contract.ApprovalOutcomeResult, error) {
		return contract.ApprovalOutcomeResult{}, nil
	}, activity.RegisterOptions{Name: contract.ActivityApprovalOutcome})
	env.RegisterActivityWithOptions(func(_ context.Context, in contract.LedgerAppendInput) (contract.LedgerAppendResult, error) {
		return contract.LedgerAppendResult{Appended: len(in.Facts)}, nil
	}, activity.RegisterOptions{Name: contract.ActivityLedgerAppend})
	env.RegisterActivityWithOptions(func(context.Context, contract.NoticeInput) (contract.NoticeResult, error) {
		return contract.NoticeResult{}, nil
	}, activity.RegisterOptions{Name: contract.ActivityNotice})
	return env, calls
}

// stateOf reads the incident as the engine does before it signs a close or retry.
func stateOf(t *testing.T, env *testsuite.TestWorkflowEnvironment) sever.Incident {
	t.Helper()
	v, err := env.QueryWorkflow(workflows.QueryState)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	var inc sever.Incident
	if err := v.Get(&inc); err != nil {
		t.Fatal(err)
	}
	return inc
}

// A client that reaches the Temporal frontend directly can send any DecisionInput.
// Without the engine's signature over exactly that decision, the worker refuses it
// before the workflow sees it; only the signed decision is accepted.
func TestForgedDecisionsRefused(t *testing.T) {
	key, err := decisionsig.New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := decisionsig.New([]byte(strings.Repeat("o", 32)))
	env, calls := newSignedEnv(t, key)
	in := approvalIncident()
	args := sever.ArgsSHA256("test.disable", testCred, nil)
	results := map[string]*updateCB{}
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(workflows.QueryState)
		if err != nil {
			t.Fatalf("query: %v", err)
		}
		var inc sever.Incident
		if err := v.Get(&inc); err != nil {
			t.Fatal(err)
		}
		d := workflows.DecisionInput{StepID: "disable", Approve: true, Approver: "U1", Channel: "api",
			ArgsSHA256: args, Nonce: inc.Steps[0].ApprovalNonce}
		signed := func(d workflows.DecisionInput, k *decisionsig.Key, incident string) workflows.DecisionInput {
			d.Signature = k.Sign(incident, d)
			return d
		}
		forged := map[string]workflows.DecisionInput{
			"Unsigned":      d,
			"OtherKey":      signed(d, other, "inc-sig"),
			"OtherIncident": signed(d, key, "inc-other"),
			"NotHex":        func() workflows.DecisionInput { d := d; d.Signature = "zz"; return d }(),
			// A signature lifted from U1's decision does not cover U2 deciding.
			"ApproverSwapped": func() workflows.DecisionInput { s := signed(d, key, "inc-sig"); s.Approver = "U2"; return s }(),
			"DenyAsApprove": func() workflows.DecisionInput {
				deny := d
				deny.Approve = false
				s := signed(deny, key, "inc-sig")
				s.Approve = true
				return s
			}(),
		}
		for name, f := range forged {
			results[name] = &updateCB{}
			env.UpdateWorkflow(workflows.UpdateDecide, name, results[name], f)
		}
		results["Signed"] = &updateCB{}
		env.UpdateWorkflow(workflows.UpdateDecide, "signed", results["Signed"], signed(d, key, "inc-sig"))
		// A false-positive close decides compensations as its approver: forged, refused.
		results["ForgedClose"] = &updateCB{}
		env.UpdateWorkflow(workflows.UpdateClose, "forged-close", results["ForgedClose"],
			workflows.CloseInput{Reason: "not a leak", By: "U1", Approver: "U1", FalsePositive: true})
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		c := workflows.CloseInput{Reason: "rotated", By: "alice", Approver: "U1", OpenedAt: stateOf(t, env).OpenedAt}
		c.Signature = key.SignClose("inc-sig", c)
		results["SignedClose"] = &updateCB{}
		env.UpdateWorkflow(workflows.UpdateClose, "signed-close", results["SignedClose"], c)
	}, 90*time.Second)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalChannel, sever.Signal{ID: "s1", Source: "siem", SourceEventID: "e1",
			Origin: sever.OriginEnterprise, Kind: sever.KindCredentialExposed, Credential: testCred, Receipt: "r1"})
	}, 0)
	env.ExecuteWorkflow(workflows.IncidentWorkflow, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	if len(results) != 9 {
		t.Fatalf("%d updates sent, want 9", len(results))
	}
	for name, cb := range results {
		if name == "Signed" || name == "SignedClose" {
			if !cb.accepted || cb.rejected != nil {
				t.Errorf("signed decision: accepted=%v rejected=%v", cb.accepted, cb.rejected)
			}
			continue
		}
		if cb.accepted || cb.rejected == nil || !strings.Contains(cb.rejected.Error(), "accepted only through sever") {
			t.Errorf("%s: accepted=%v rejected=%v; want refused by the signature check", name, cb.accepted, cb.rejected)
		}
	}
	if *calls != 1 {
		t.Errorf("step ran %d times; want once, on the signed decision", *calls)
	}
}
