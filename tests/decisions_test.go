package tests

import (
	"context"
	"flag"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/internal/decisionsig"
	"github.com/sever-ir/sever/service"
	"github.com/sever-ir/sever/tokenstore"
	"github.com/sever-ir/sever/workflows"
)

// TestForgedDecisionRefusedByWorker: a client with raw access to the Temporal
// frontend sends the decide Update itself, with a well-formed decision in an
// approver's name for the current request. The worker refuses it, unsigned or signed
// with another key; the same approver deciding through the API is accepted.
func TestForgedDecisionRefusedByWorker(t *testing.T) {
	tokens := map[string]string{"SEVER_E2E_SIEM": "siem-token-0123456789abcdef", "SEVER_E2E_ALICE": "alice-token-0123456789abcdef"}
	setTokens(t, tokens)
	cfg := runbookConfig(t, "token-approval.yaml", apiApprovalRunbook)
	cfg.Approvers.Groups = map[string][]string{"soc-leads": {"U0ALICE"}}
	cfg.Intake.Tokens = []config.IntakeToken{{Name: "siem", Secret: "env:SEVER_E2E_SIEM", Scopes: []string{config.ScopeSignalsWrite}}}
	cfg.Operators = []config.Operator{{Name: "alice", SlackUser: "U0ALICE", Token: "env:SEVER_E2E_ALICE",
		Scopes: []string{config.ScopeIncidentsRead, config.ScopeApprovalsWrite}}}
	d := startDev(t, app.DevOptions{Config: cfg})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	siem, alice := newAPIClient(d.URL, tokens["SEVER_E2E_SIEM"]), newAPIClient(d.URL, tokens["SEVER_E2E_ALICE"])

	c := tokenCred("acme-internal", "tok-forged-1")
	putToken(t, d.Tokens, c.id)
	sub := siem.submit(t, nativeSignal(c, "ev-forged-1"))
	alice.waitApproval(t, sub.IncidentID, "step waiting for approval", "disable")
	inc, err := d.Engine.GetIncident(ctx, sub.IncidentID)
	if err != nil {
		t.Fatal(err)
	}
	st := inc.Steps[0]
	if st.ApprovalNonce == "" {
		t.Fatal("the waiting step shows no approval nonce")
	}
	forged := workflows.DecisionInput{StepID: "disable", Approve: true, Approver: "U0ALICE", Channel: "api",
		ArgsSHA256: st.ArgsSHA256, Nonce: st.ApprovalNonce}
	otherKey, _ := decisionsig.New([]byte(strings.Repeat("x", 32)))
	wrong := forged
	wrong.Signature = otherKey.Sign(sub.IncidentID, wrong)
	for name, dec := range map[string]workflows.DecisionInput{"unsigned": forged, "other key": wrong} {
		h, err := d.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: sub.IncidentID,
			UpdateName: workflows.UpdateDecide, WaitForStage: client.WorkflowUpdateStageCompleted, Args: []any{dec}})
		if err == nil {
			var res workflows.DecisionResult
			err = h.Get(ctx, &res)
		}
		if err == nil || !strings.Contains(err.Error(), "accepted only through sever") {
			t.Fatalf("%s decision over the raw frontend: %v; want refused by the worker", name, err)
		}
	}
	if tok, _ := d.Tokens.Get(c.id); tok.Status != tokenstore.Active {
		t.Fatal("token disabled by a forged decision")
	}
	resp := alice.mustSend(t, req{method: "POST", path: "/v1/incidents/" + sub.IncidentID + "/approvals",
		body: []byte(`{"step":"disable","decision":"approve","nonce":"` + st.ApprovalNonce + `"}`)})
	if resp.status != 200 {
		t.Fatalf("alice's approval through the API: %d %s", resp.status, resp.body)
	}
	alice.waitIncident(t, sub.IncidentID, "contained", func(i incidentJSON) bool { return i.Status == "contained" })
}

var updateDecisions = flag.Bool("update-decisions", false, "regenerate the decision histories (incident-*-decision-*.json)")

// TestGenerateDecisionHistories writes histories that TestReplayCommittedHistory
// replays: an approval request escalated (the first request superseded, a click on
// it refused) and then approved with the new request's nonce; and a deny with a
// later decision refused. Refused decisions leave no event, so the histories show
// that a refusal changes nothing.
func TestGenerateDecisionHistories(t *testing.T) {
	if !*updateDecisions {
		t.Skip("run with -update-decisions to regenerate")
	}
	cfg := runbookConfig(t, "e2e-approval-hold.yaml", approvalRunbook)
	s := startStack(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	start := func(name string, quorum int, deadline time.Duration) (string, sever.Step) {
		c := tokenCred("acme-internal", "svc-history-"+name)
		s.enrol(t, c.id)
		credential := sever.Credential{Provider: c.provider, Type: sever.CredGenericToken, ID: c.id, Principal: "svc-e2e"}
		rb, err := s.Library.Select(credential.Type, sever.KindAnomalousUsage)
		if err != nil {
			t.Fatal(err)
		}
		// The parser's shortest deadline is a minute; the workflow takes any, so the
		// escalation happens within the test.
		for i := range rb.Steps {
			if a := rb.Steps[i].Approval; a != nil {
				a.Approvers, a.Quorum, a.Deadline = []string{"U0E2EHOLD", "U0E2ELATE"}, quorum, sever.Duration(deadline)
			}
		}
		id := sever.IncidentID(credential)
		ev := "evt-history-" + name
		sig := sever.Signal{ID: sever.SignalID("e2e-siem", ev, ""), Source: "e2e-siem", SourceEventID: ev,
			Origin: sever.OriginEnterprise, Kind: sever.KindAnomalousUsage, ObservedAt: time.Now().UTC(),
			ReceivedAt: time.Now().UTC(), Credential: credential, Severity: "high", Summary: "token used from a new network",
			Receipt: "rcpt-" + name, Reporter: "dev"}
		in := workflows.IncidentInput{IncidentID: id, Credential: credential, Runbook: *rb, Policy: *s.Policy, Hold: sever.Duration(time.Hour)}
		if _, err := s.Client.SignalWithStartWorkflow(ctx, id, workflows.SignalChannel, sig,
			client.StartWorkflowOptions{ID: id, TaskQueue: s.Config.Temporal.TaskQueue}, workflows.IncidentWorkflow, in); err != nil {
			t.Fatal(err)
		}
		var st sever.Step
		waitFor(t, "the approval request", func() error {
			inc, err := s.Engine.GetIncident(ctx, id)
			if err != nil {
				return err
			}
			for _, x := range inc.Steps {
				if x.ID == "disable" && x.ApprovalNonce != "" {
					st = x
					return nil
				}
			}
			return errNotYet
		})
		return id, st
	}
	decide := func(id string, d service.DecideRequest) error {
		d.Step = "disable"
		_, err := s.Engine.Decide(ctx, id, d)
		return err
	}

	// Escalated, then approved on the new request.
	id, first := start("escalated", 1, 3*time.Second)
	var escalated sever.Step
	waitFor(t, "the escalation", func() error {
		inc, err := s.Engine.GetIncident(ctx, id)
		if err != nil {
			return err
		}
		if st := inc.Steps[1]; st.ApprovalNonce != "" && st.ApprovalNonce != first.ApprovalNonce {
			escalated = st
			return nil
		}
		return errNotYet
	})
	if err := decide(id, service.DecideRequest{Approve: true, Approver: "U0E2EHOLD", Channel: "slack-http",
		ArgsSHA256: first.ArgsSHA256, Nonce: first.ApprovalNonce}); err == nil || !strings.Contains(err.Error(), "earlier or other approval request") {
		t.Fatalf("click on the superseded request: %v", err)
	}
	if err := decide(id, service.DecideRequest{Approve: true, Approver: "U0E2EHOLD", Channel: "cli", Nonce: escalated.ApprovalNonce}); err != nil {
		t.Fatalf("approval of the escalated request: %v", err)
	}
	s.api.waitIncident(t, id, "contained", func(inc incidentJSON) bool { return inc.Status == "contained" })
	s.api.closeIncident(t, id, "contained; history for replay")
	writeHistory(t, s, id, "incident-escalated-decision-v1.json")

	// Denied; a later approval is refused with the reason.
	id, st := start("denied", 2, time.Hour)
	if err := decide(id, service.DecideRequest{Approve: false, Approver: "U0E2ELATE", Channel: "cli", Nonce: st.ApprovalNonce, Reason: "owner confirms a test token"}); err != nil {
		t.Fatalf("deny: %v", err)
	}
	if err := decide(id, service.DecideRequest{Approve: true, Approver: "U0E2EHOLD", Channel: "cli", Nonce: st.ApprovalNonce}); err == nil {
		t.Fatal("an approval after the deny was accepted")
	}
	s.api.waitIncident(t, id, "failed", func(inc incidentJSON) bool { return inc.Status == "failed" })
	s.api.closeIncident(t, id, "denied; history for replay")
	writeHistory(t, s, id, "incident-denied-decision-v1.json")
}
