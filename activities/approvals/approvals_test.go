package approvals

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/contract"
	"github.com/sever-ir/sever/inventory"
	"github.com/sever-ir/sever/slackapp"
)

// fakePoster records what would have been posted; compile-time checked against Poster.
type fakePoster struct {
	requests   []slackapp.ApprovalRequest
	decided    []slackapp.Decided
	expired    []slackapp.Expired
	superseded []slackapp.Superseded
	notices    []slackapp.Notice
	threads    []string
	groups     map[string][]string
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

func (f *fakePoster) MarkSuperseded(_ context.Context, _, _ string, _ slackapp.ApprovalRequest, s slackapp.Superseded) error {
	f.superseded = append(f.superseded, s)
	return nil
}

func (f *fakePoster) PostNotice(_ context.Context, channel, threadTS string, n slackapp.Notice) (string, string, error) {
	f.notices = append(f.notices, n)
	f.threads = append(f.threads, threadTS)
	return "C0SOC", fmt.Sprintf("2.%d", len(f.notices)), nil
}

func (f *fakePoster) GroupMembers(_ context.Context, group string) ([]string, error) {
	m, ok := f.groups[group]
	if !ok {
		return nil, errors.New("no_such_subteam")
	}
	return m, nil
}

var req = contract.ApprovalRequestInput{
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
	v, err := env(&Activities{}).ExecuteActivity(contract.ActivityRequestApproval, req)
	if err != nil {
		t.Fatal(err)
	}
	var res contract.ApprovalRequestResult
	if err := v.Get(&res); err != nil || res.Posted || res.Summary == "" {
		t.Fatalf("result = %+v, %v; want not posted, with a summary naming the fallback", res, err)
	}
}

func TestRequestEscalationAndOutcome(t *testing.T) {
	main, esc := &fakePoster{}, &fakePoster{}
	e := env(&Activities{Slack: main, Escalation: esc})
	if _, err := e.ExecuteActivity(contract.ActivityRequestApproval, req); err != nil {
		t.Fatal(err)
	}
	escalated := req
	escalated.Escalation = true
	if _, err := e.ExecuteActivity(contract.ActivityRequestApproval, escalated); err != nil {
		t.Fatal(err)
	}
	if len(main.requests) != 1 || len(esc.requests) != 1 || esc.requests[0].StepName != "ESCALATED: disable" {
		t.Fatalf("main %+v escalation %+v", main.requests, esc.requests)
	}
	for _, out := range []sever.Enforcement{sever.HumanDenied, sever.ApprovalExpired} {
		if _, err := e.ExecuteActivity(contract.ActivityApprovalOutcome, contract.ApprovalOutcomeInput{
			Request: req, Channel: "C0SOC", TS: "1.1", Outcome: out, OnTimeout: "deny"}); err != nil {
			t.Fatal(err)
		}
	}
	if len(main.decided) != 1 || main.decided[0].Approved || len(main.expired) != 1 {
		t.Fatalf("decided %+v expired %+v", main.decided, main.expired)
	}
	if _, err := e.ExecuteActivity(contract.ActivityApprovalOutcome, contract.ApprovalOutcomeInput{
		Request: req, Channel: "C0SOC", TS: "1.1", Outcome: sever.VendorEnforced}); err == nil {
		t.Error("an outcome that is no approval outcome was accepted")
	}
}

func TestSlackGroupsResolvedWhenRequested(t *testing.T) {
	p := &fakePoster{groups: map[string][]string{"S0ONCALL": {"U0BOB", "U0ALICE"}, "S0EMPTY": nil}}
	e := env(&Activities{Slack: p})
	in := req
	in.Approvers = []string{"U0ALICE", "slack-group:S0ONCALL"}
	v, err := e.ExecuteActivity(contract.ActivityRequestApproval, in)
	if err != nil {
		t.Fatal(err)
	}
	var res contract.ApprovalRequestResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(res.Approvers, ","); got != "U0ALICE,U0BOB" {
		t.Errorf("resolved approvers = %s; want members in order, once each", got)
	}
	if got := strings.Join(p.requests[0].Approvers, ","); got != "U0ALICE,U0BOB" {
		t.Errorf("the message names %s; want the resolved people", got)
	}
	for _, tc := range []struct{ group, want string }{
		{"slack-group:S0EMPTY", "no members"},
		{"slack-group:S0GONE", "no_such_subteam"},
	} {
		in.Approvers = []string{tc.group}
		if _, err := e.ExecuteActivity(contract.ActivityRequestApproval, in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", tc.group, err, tc.want)
		}
	}
	// Without groups the approver set stays the step's own.
	in.Approvers = []string{"U0ALICE"}
	v, _ = e.ExecuteActivity(contract.ActivityRequestApproval, in)
	res = contract.ApprovalRequestResult{}
	if err := v.Get(&res); err != nil || res.Approvers != nil {
		t.Errorf("plain approvers: %+v %v", res, err)
	}
}

func TestNoticesPostedInTheThread(t *testing.T) {
	p := &fakePoster{}
	e := env(&Activities{Slack: p})
	n := contract.NoticeInput{IncidentID: "inc-1", Kind: contract.NoticeOpened, Credential: req.Credential, Status: sever.IncidentOpen}
	v, err := e.ExecuteActivity(contract.ActivityNotice, n)
	if err != nil {
		t.Fatal(err)
	}
	var res contract.NoticeResult
	if err := v.Get(&res); err != nil || !res.Posted || res.TS != "2.1" {
		t.Fatalf("parent notice: %+v %v", res, err)
	}
	n.Kind, n.Channel, n.ThreadTS = contract.NoticeContained, res.Channel, res.TS
	if _, err := e.ExecuteActivity(contract.ActivityNotice, n); err != nil {
		t.Fatal(err)
	}
	if p.threads[0] != "" || p.threads[1] != "2.1" {
		t.Errorf("threads = %q; want the parent top-level and the second in its thread", p.threads)
	}
	n.Kind = "party"
	if _, err := e.ExecuteActivity(contract.ActivityNotice, n); err == nil || !strings.Contains(err.Error(), "unknown kind") {
		t.Errorf("unknown notice kind: %v", err)
	}
	// No Slack: nothing posted, no error.
	v, err = env(&Activities{}).ExecuteActivity(contract.ActivityNotice, n)
	res = contract.NoticeResult{}
	if err != nil || v.Get(&res) != nil || res.Posted {
		t.Errorf("without Slack: %+v %v", res, err)
	}
}

func TestRequestShowsBlastRadius(t *testing.T) {
	inv, err := inventory.Parse("inv.yaml", []byte(`credentials:
  - provider: acme
    type: generic_token
    id: tok-1
    owner: platform@example.com
    team: platform
    secrets:
      - {id: prod/ci/token, region: eu-west-1}
    services:
      - {name: ci-pipeline, criticality: high, notes: deploys production}
`))
	if err != nil {
		t.Fatal(err)
	}
	p := &fakePoster{}
	e := env(&Activities{Slack: p, Inventory: inv})
	if _, err := e.ExecuteActivity(contract.ActivityRequestApproval, req); err != nil {
		t.Fatal(err)
	}
	want := "owner platform@example.com (team platform)|held in secret prod/ci/token (eu-west-1)|service ci-pipeline (high): deploys production"
	if got := strings.Join(p.requests[0].BlastRadius, "|"); got != want {
		t.Errorf("blast radius = %q\nwant %q", got, want)
	}
	other := req
	other.Credential.ID = "tok-unknown"
	if _, err := e.ExecuteActivity(contract.ActivityRequestApproval, other); err != nil {
		t.Fatal(err)
	}
	if got := p.requests[1].BlastRadius; len(got) != 1 || !strings.Contains(got[0], "not in the inventory") {
		t.Errorf("unknown credential: %q", got)
	}
}

// A request an escalation replaced, or one the close left undecided, is updated to
// say it no longer takes clicks; the nonce reaches the buttons.
func TestSupersededAndCanceledRequestsUpdated(t *testing.T) {
	for _, tc := range []struct {
		outcome  sever.Enforcement
		canceled bool
	}{
		{contract.OutcomeSuperseded, false},
		{contract.OutcomeCanceled, true},
	} {
		t.Run(string(tc.outcome), func(t *testing.T) {
			p := &fakePoster{}
			e := env(&Activities{Slack: p})
			r := req
			r.Nonce = "0123456789abcdef0123456789abcdef"
			if _, err := e.ExecuteActivity(contract.ActivityRequestApproval, r); err != nil {
				t.Fatal(err)
			}
			if got := p.requests[0].Nonce; got != r.Nonce {
				t.Errorf("posted request nonce %q, want %q", got, r.Nonce)
			}
			at := time.Date(2026, 11, 30, 1, 5, 0, 0, time.UTC)
			if _, err := e.ExecuteActivity(contract.ActivityApprovalOutcome, contract.ApprovalOutcomeInput{
				Request: r, Channel: "C0SOC", TS: "1.1", Outcome: tc.outcome, At: at}); err != nil {
				t.Fatalf("outcome %s: %v", tc.outcome, err)
			}
			if len(p.superseded) != 1 || p.superseded[0].Canceled != tc.canceled || !p.superseded[0].At.Equal(at) ||
				len(p.decided)+len(p.expired) != 0 {
				t.Errorf("superseded %+v decided %d expired %d", p.superseded, len(p.decided), len(p.expired))
			}
		})
	}
}
