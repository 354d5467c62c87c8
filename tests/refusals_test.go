package tests

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/sever-ir/sever/internal/refusal"
	"github.com/sever-ir/sever/ledger"
	"github.com/sever-ir/sever/service"
)

// selfApprovalRunbook lets "dev" (the stack's own token, which also raises the
// incident) approve, so its approval is refused as self-approval, not as an outsider's.
const selfApprovalRunbook = `name: e2e-self-approval
version: "1"
description: Disable the token once a human approves.
match:
  credential_types: [generic_token]
  signal_kinds: [anomalous_usage]
  priority: 10
steps:
  - id: disable
    action: tokenstore.disable_token
    approval:
      approvers: [dev, U0E2EHOLD]
      deadline: 1h
      on_timeout: deny
    verify:
      action: tokenstore.token_status
      args: {expect: inactive}
`

// Every refused decision is on the record as a security fact, in the incident's
// chain (a forged Slack request, whose body is not trusted, in the security chain),
// while the incident's workflow history shows no trace of any of them.
func TestRefusedDecisionsInLedger(t *testing.T) {
	cfg := runbookConfig(t, "e2e-self-approval.yaml", selfApprovalRunbook)
	s := startStack(t, cfg)
	ctx := context.Background()
	c := tokenCred("acme-internal", "svc-refusals")
	s.enrol(t, c.id)
	sig := nativeSignal(c, "evt-refusals-1")
	sig["kind"] = "anomalous_usage"
	sub := s.api.submit(t, sig)
	s.api.waitApproval(t, sub.IncidentID, "the approval request", "disable")
	id := sub.IncidentID
	decide := func(d service.DecideRequest) error {
		d.Step = "disable"
		_, err := s.Engine.Decide(ctx, id, d)
		return err
	}
	cases := []struct {
		reason string
		d      service.DecideRequest
	}{
		{refusal.Outsider, service.DecideRequest{Approve: true, Approver: "U0NOBODY", Channel: "cli"}},
		{refusal.WrongArguments, service.DecideRequest{Approve: true, Approver: "U0E2EHOLD", Channel: "cli", ArgsSHA256: strings.Repeat("0", 64)}},
		{refusal.StaleRequest, service.DecideRequest{Approve: true, Approver: "U0E2EHOLD", Channel: "slack-http", Nonce: "0123456789abcdef"}},
	}
	for _, tc := range cases {
		if err := decide(tc.d); err == nil {
			t.Fatalf("%s: the decision was accepted", tc.reason)
		}
	}
	// Self-approval through the API, as the token that raised the incident.
	resp := s.api.mustSend(t, req{method: http.MethodPost, path: "/v1/incidents/" + id + "/approvals",
		body: mustJSON(t, map[string]any{"step": "disable", "decision": "approve"})})
	if resp.status != http.StatusConflict || !strings.Contains(string(resp.body), "raised this incident") {
		t.Fatalf("self-approval: %d %s, want 409", resp.status, resp.body)
	}
	// A forged Slack request.
	secret, err := os.ReadFile(filepath.Join(cfg.DataDir, "slack-signing-secret"))
	if err != nil || len(secret) == 0 {
		t.Fatalf("signing secret: %v", err)
	}
	forged, _ := http.NewRequest(http.MethodPost, s.URL+"/slack/interactivity", bytes.NewReader([]byte("payload=%7B%7D")))
	forged.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	forged.Header.Set("X-Slack-Request-Timestamp", fmt.Sprint(time.Now().Unix()))
	forged.Header.Set("X-Slack-Signature", "v0="+strings.Repeat("ab", 32))
	fr, err := http.DefaultClient.Do(forged)
	if err != nil {
		t.Fatal(err)
	}
	fr.Body.Close()
	if fr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged request: %d, want 401", fr.StatusCode)
	}
	// Approved for real; a late decision after the quorum is refused too.
	if err := decide(service.DecideRequest{Approve: true, Approver: "U0E2EHOLD", Channel: "cli"}); err != nil {
		t.Fatalf("approval: %v", err)
	}
	s.api.waitIncident(t, id, "contained", func(inc incidentJSON) bool { return inc.Status == "contained" })
	if err := decide(service.DecideRequest{Approve: false, Approver: "dev", Channel: "cli", Nonce: "x"}); err == nil {
		t.Fatal("a decision after the step ran was accepted")
	}

	l, err := ledger.Open(filepath.Join(cfg.DataDir, ledger.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	want := map[string]string{refusal.Outsider: "U0NOBODY", refusal.WrongArguments: "U0E2EHOLD", refusal.StaleRequest: "U0E2EHOLD",
		refusal.SelfApproval: "dev", refusal.NotWaiting: "dev"}
	entries, err := l.Entries(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ledger.Entry{}
	for _, e := range entries {
		if e.Kind == ledger.KindRefusedDecision {
			got[e.Detail["reason"]] = e
		}
	}
	for reason, who := range want {
		e, ok := got[reason]
		if !ok || e.Actor != who || e.Step != "disable" || e.Result == "" {
			t.Errorf("%s: ledger entry %+v (found %v), want one by %s on step disable with the reason", reason, e, ok, who)
		}
	}
	sec, err := l.Entries(ctx, refusal.SecurityChain)
	if err != nil || len(sec) != 1 || sec[0].Detail["reason"] != refusal.ForgedSignature || !strings.HasPrefix(sec[0].Actor, "127.0.0.1:") {
		t.Errorf("security chain: %+v (err %v), want the forged request from loopback", sec, err)
	}
	if brk, err := l.VerifyAll(ctx); err != nil || brk != nil {
		t.Errorf("ledger verify: %v %+v", err, brk)
	}
	// The refusals left nothing in the incident's history.
	var events []string
	it := s.Client.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e.String())
		if e.GetEventType() == enums.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_REJECTED {
			t.Errorf("history has a rejected update: %v", e)
		}
	}
	if h := strings.Join(events, "\n"); strings.Contains(h, "U0NOBODY") || strings.Contains(h, "0123456789abcdef") {
		t.Error("a refused decision reached the workflow history")
	}
	// The report's accountability section shows them.
	rep := s.api.mustSend(t, req{method: http.MethodGet, path: "/v1/incidents/" + id + "/report?format=md"})
	for _, w := range []string{"Refused attempts", refusal.SelfApproval, refusal.Outsider, "U0NOBODY"} {
		if rep.status != http.StatusOK || !strings.Contains(string(rep.body), w) {
			t.Errorf("report (%d) lacks %q", rep.status, w)
		}
	}
	body := s.api.mustSend(t, req{method: http.MethodGet, path: "/metrics"})
	for _, reason := range []string{refusal.Outsider, refusal.SelfApproval, refusal.ForgedSignature} {
		if line := `sever_decisions_refused_total{reason="` + reason + `"} 1`; !strings.Contains(string(body.body), line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}
