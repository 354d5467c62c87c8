package tests

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/tokenstore"
)

// A runbook whose containment step needs one SOC lead's approval.
const apiApprovalRunbook = `name: token-approval
version: "1"
match:
  credential_types: [generic_token]
  priority: 50
steps:
  - id: disable
    action: tokenstore.disable_token
    approval:
      approvers: ["group:soc-leads"]
      quorum: 1
      deadline: 1h
      on_timeout: deny
    verify:
      action: tokenstore.token_status
      args: {expect: inactive}
`

// TestApprovalOverTheAPI runs the fallback approval path (for when Slack is down)
// against the live stack: an operator outside the approver set and the operator who
// raised the incident are refused, a SOC lead's approval lets the step run, and the
// decision is recorded with the approver and channel.
func TestApprovalOverTheAPI(t *testing.T) {
	tokens := map[string]string{
		"SEVER_E2E_SIEM":  "siem-token-0123456789abcdef",
		"SEVER_E2E_ALICE": "alice-token-0123456789abcdef",
		"SEVER_E2E_BOB":   "bob-token-0123456789abcdef",
		"SEVER_E2E_CAROL": "carol-token-0123456789abcdef",
	}
	setTokens(t, tokens)
	all := []string{config.ScopeSignalsWrite, config.ScopeIncidentsRead, config.ScopeApprovalsWrite}
	cfg := runbookConfig(t, "token-approval.yaml", apiApprovalRunbook)
	cfg.Approvers.Groups = map[string][]string{"soc-leads": {"U0ALICE", "U0CAROL"}}
	cfg.Intake.Tokens = []config.IntakeToken{{Name: "siem", Secret: "env:SEVER_E2E_SIEM", Scopes: []string{config.ScopeSignalsWrite}}}
	cfg.Operators = []config.Operator{
		{Name: "alice", SlackUser: "U0ALICE", Token: "env:SEVER_E2E_ALICE", Scopes: all},
		{Name: "bob", SlackUser: "U0BOB", Token: "env:SEVER_E2E_BOB", Scopes: all},
		{Name: "carol", SlackUser: "U0CAROL", Token: "env:SEVER_E2E_CAROL", Scopes: all},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	d := startDev(t, app.DevOptions{Config: cfg})
	if d.DevToken != "" {
		t.Error("a dev token was made although the config names tokens")
	}
	siem := newAPIClient(d.URL, tokens["SEVER_E2E_SIEM"])
	alice := newAPIClient(d.URL, tokens["SEVER_E2E_ALICE"])
	bob := newAPIClient(d.URL, tokens["SEVER_E2E_BOB"])
	carol := newAPIClient(d.URL, tokens["SEVER_E2E_CAROL"])

	decide := func(c *apiClient, id, body string) *response {
		t.Helper()
		return c.mustSend(t, req{method: http.MethodPost, path: "/v1/incidents/" + id + "/approvals", body: []byte(body)})
	}
	refused := func(resp *response, status int, want string) {
		t.Helper()
		var e errorJSON
		_ = json.Unmarshal(resp.body, &e)
		if resp.status != status || !strings.Contains(e.Error.Message, want) {
			t.Errorf("got %d %s; want %d mentioning %q", resp.status, resp.body, status, want)
		}
	}

	t.Run("ApproverSetAndQuorum", func(t *testing.T) {
		c := tokenCred("acme-internal", "tok-approval-1")
		putToken(t, d.Tokens, c.id)
		sub := siem.submit(t, nativeSignal(c, "ev-approval-1"))
		inc := alice.waitApproval(t, sub.IncidentID, "step waiting for approval", "disable")
		if inc.Runbook.Name != "token-approval" {
			t.Fatalf("runbook %s", inc.Runbook.Name)
		}
		// signals:write only: the intake token cannot decide.
		refused(decide(siem, sub.IncidentID, `{"step":"disable","decision":"approve"}`), 403, "approvals:write")
		refused(decide(bob, sub.IncidentID, `{"step":"disable","decision":"approve"}`), 409, "U0BOB may not decide")
		refused(decide(alice, sub.IncidentID, `{"step":"disable","decision":"approve","as":"bob"}`), 403, "decides as U0ALICE")
		refused(decide(alice, sub.IncidentID, `{"step":"disable","decision":"approve","args_sha256":"`+strings.Repeat("0", 64)+`"}`), 409, "different arguments")
		if tok, _ := d.Tokens.Get(c.id); tok.Status != tokenstore.Active {
			t.Fatal("token disabled before any valid approval")
		}
		resp := decide(alice, sub.IncidentID, `{"step":"disable","decision":"approve","reason":"confirmed leak","as":"alice"}`)
		if resp.status != 200 {
			t.Fatalf("alice's approval: %d %s", resp.status, resp.body)
		}
		inc = alice.waitIncident(t, sub.IncidentID, "contained", func(i incidentJSON) bool { return i.Status == "contained" })
		if s := inc.step("disable"); !s.Verified || s.Enforcement != "enterprise_enforced" {
			t.Errorf("disable = %+v", s)
		}
		_, raw := alice.mustIncident(t, sub.IncidentID)
		var full struct {
			Steps []struct {
				Approvals []struct{ Approver, Channel, Reason string } `json:"approvals"`
			} `json:"steps"`
		}
		if err := json.Unmarshal(raw, &full); err != nil || len(full.Steps[0].Approvals) != 1 {
			t.Fatalf("approvals = %s (%v)", raw, err)
		}
		if a := full.Steps[0].Approvals[0]; a.Approver != "U0ALICE" || a.Channel != "api" || a.Reason != "confirmed leak" {
			t.Errorf("recorded approval = %+v", a)
		}
	})

	t.Run("SelfApprovalRefused", func(t *testing.T) {
		c := tokenCred("acme-internal", "tok-approval-2")
		putToken(t, d.Tokens, c.id)
		// Carol raises the incident herself, then tries to approve its containment.
		sub := carol.submit(t, nativeSignal(c, "ev-approval-2"))
		carol.waitApproval(t, sub.IncidentID, "waiting", "disable")
		refused(decide(carol, sub.IncidentID, `{"step":"disable","decision":"approve"}`), 409, "raised this incident")
		resp := decide(alice, sub.IncidentID, `{"step":"disable","decision":"deny","reason":"owner says it is a test key"}`)
		if resp.status != 200 {
			t.Fatalf("alice's denial: %d %s", resp.status, resp.body)
		}
		inc := carol.waitIncident(t, sub.IncidentID, "failed", func(i incidentJSON) bool { return i.Status == "failed" })
		if s := inc.step("disable"); s.Status != "skipped" || s.Enforcement != "human_denied" || s.Actor != "U0ALICE" {
			t.Errorf("disable = %+v; want skipped, human_denied by U0ALICE", s)
		}
		if tok, _ := d.Tokens.Get(c.id); tok.Status != tokenstore.Active {
			t.Error("a denied step disabled the token")
		}
	})
}
