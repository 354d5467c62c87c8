package approvals

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/slackapp"
	"github.com/sever-ir/sever/workflows"
)

// fakePoster records what would have been posted; compile-time checked against Poster.
type fakePoster struct {
	requests []slackapp.ApprovalRequest
	decided  []slackapp.Decided
	expired  []slackapp.Expired
}

var _ Poster = (*fakePoster)(nil)

func (f *fakePoster) RequestApproval(_ context.Context, r slackapp.ApprovalRequest) (string, string, error) {
	f.requests = append(f.requests, r)
	return "C0SOC", "1.1", nil
}

func (f *fakePoster) MarkDecided(_ context.Context, _, _ string, _ slackapp.ApprovalRequest, d slackapp.Decided) error {
	f.decided = append(f.decided, d)
	return nil
}

func (f *fakePoster) MarkExpired(_ context.Context, _, _ string, _ slackapp.ApprovalRequest, e slackapp.Expired) error {
	f.expired = append(f.expired, e)
	return nil
}

var req = workflows.ApprovalRequestInput{
	IncidentID: "inc-1", StepID: "disable", Action: sever.ActionTokenDisable, ArgsSHA256: sever.ArgsSHA256(sever.ActionTokenDisable, sever.Credential{}, nil),
	Credential: sever.Credential{Provider: "acme", Type: sever.CredGenericToken, ID: "tok-1"},
	Approvers:  []string{"U0ALICE"}, Quorum: 1, Deadline: time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC),
}

func env(a *Activities) *testsuite.TestActivityEnvironment {
	var s testsuite.WorkflowTestSuite
	e := s.NewTestActivityEnvironment()
	a.Register(e)
	return e
}

func TestWithoutSlackNothingIsPosted(t *testing.T) {
	v, err := env(&Activities{}).ExecuteActivity(workflows.ActivityRequestApproval, req)
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.ApprovalRequestResult
	if err := v.Get(&res); err != nil || res.Posted || res.Summary == "" {
		t.Fatalf("result = %+v, %v; want not posted, with a summary naming the fallback", res, err)
	}
}

func TestRequestEscalationAndOutcome(t *testing.T) {
	main, esc := &fakePoster{}, &fakePoster{}
	e := env(&Activities{Slack: main, Escalation: esc})
	if _, err := e.ExecuteActivity(workflows.ActivityRequestApproval, req); err != nil {
		t.Fatal(err)
	}
	escalated := req
	escalated.Escalation = true
	if _, err := e.ExecuteActivity(workflows.ActivityRequestApproval, escalated); err != nil {
		t.Fatal(err)
	}
	if len(main.requests) != 1 || len(esc.requests) != 1 || esc.requests[0].StepName != "ESCALATED: disable" {
		t.Fatalf("main %+v escalation %+v", main.requests, esc.requests)
	}
	for _, out := range []sever.Enforcement{sever.HumanDenied, sever.ApprovalExpired} {
		if _, err := e.ExecuteActivity(workflows.ActivityApprovalOutcome, workflows.ApprovalOutcomeInput{
			Request: req, Channel: "C0SOC", TS: "1.1", Outcome: out, OnTimeout: "deny"}); err != nil {
			t.Fatal(err)
		}
	}
	if len(main.decided) != 1 || main.decided[0].Approved || len(main.expired) != 1 {
		t.Fatalf("decided %+v expired %+v", main.decided, main.expired)
	}
	if _, err := e.ExecuteActivity(workflows.ActivityApprovalOutcome, workflows.ApprovalOutcomeInput{
		Request: req, Channel: "C0SOC", TS: "1.1", Outcome: sever.VendorEnforced}); err == nil {
		t.Error("an outcome that is no approval outcome was accepted")
	}
}
