package tests

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/internal/refusal"
	"github.com/sever-ir/sever/ledger"
)

// TestContainOnDemand is an analyst who knows a key is stolen, on the live stack
// with the drill cloud and the default policy (a SOC lead approves AWS
// containment): a token without incidents:write is refused, a runbook of another
// credential type is refused with the list of those that fit, POST /v1/incidents
// opens the key's incident with the AWS runbook, the same analyst's Slack slash
// command joins it (and its replay is refused), the analyst's own approval is
// refused as self-approval, another SOC lead's approvals contain the key, and the
// drill cloud shows it inactive.
func TestContainOnDemand(t *testing.T) {
	tokens := map[string]string{
		"SEVER_E2E_SIEM":  "siem-token-0123456789abcdef",
		"SEVER_E2E_OSCAR": "oscar-token-0123456789abcdef",
		"SEVER_E2E_ALICE": "alice-token-0123456789abcdef",
	}
	setTokens(t, tokens)
	ops := []string{config.ScopeIncidentsRead, config.ScopeIncidentsWrite, config.ScopeApprovalsWrite}
	cfg := newConfig(t)
	cfg.Approvers.Groups = map[string][]string{"soc-leads": {"U0OSCAR", "U0ALICE"}}
	cfg.Intake.Tokens = []config.IntakeToken{{Name: "siem", Secret: "env:SEVER_E2E_SIEM", Scopes: []string{config.ScopeSignalsWrite}}}
	cfg.Operators = []config.Operator{
		{Name: "oscar", SlackUser: "U0OSCAR", Token: "env:SEVER_E2E_OSCAR", Scopes: ops},
		{Name: "alice", SlackUser: "U0ALICE", Token: "env:SEVER_E2E_ALICE", Scopes: ops},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	d := startDev(t, app.DevOptions{Config: cfg, DrillCloud: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	siem := newAPIClient(d.URL, tokens["SEVER_E2E_SIEM"])
	oscar := newAPIClient(d.URL, tokens["SEVER_E2E_OSCAR"])
	alice := newAPIClient(d.URL, tokens["SEVER_E2E_ALICE"])

	refused := func(resp *response, status int, field string, want ...string) {
		t.Helper()
		var e errorJSON
		_ = json.Unmarshal(resp.body, &e)
		if resp.status != status || (field != "" && e.Error.Field != field) {
			t.Errorf("got %d %s; want %d on field %q", resp.status, resp.body, status, field)
		}
		for _, w := range want {
			if !strings.Contains(e.Error.Message, w) {
				t.Errorf("message %q lacks %q", e.Error.Message, w)
			}
		}
	}
	contain := func(c *apiClient, runbook, reason string) *response {
		t.Helper()
		body := map[string]any{
			"credential": map[string]any{"type": "aws_access_key", "id": drillcloud.DefaultCompromisedKeyID,
				"account": drillcloud.DefaultAccountID, "principal": drillcloud.DefaultCompromisedUser},
			"reason": reason,
		}
		if runbook != "" {
			body["runbook"] = runbook
		}
		return c.mustSend(t, req{method: http.MethodPost, path: "/v1/incidents", body: mustJSON(t, body)})
	}

	refused(contain(siem, "", "stolen"), http.StatusForbidden, "", "incidents:write")
	refused(contain(oscar, "", ""), http.StatusBadRequest, "reason", "reason is required")
	refused(contain(oscar, "", strings.Repeat("x", 1025)), http.StatusBadRequest, "reason", "longer than 1024")
	refused(contain(oscar, "github-token-exposed", "stolen"), http.StatusUnprocessableEntity, "runbook",
		"runbooks that do: aws-access-key-exposed")

	resp := contain(oscar, "aws-access-key-exposed", "CI key seen on a paste site")
	if resp.status != http.StatusAccepted {
		t.Fatalf("contain: %d %s", resp.status, resp.body)
	}
	sub := decode[submitJSON](t, "contain", resp)
	if sub.IncidentID == "" || sub.SignalID == "" || sub.Status == "" {
		t.Fatalf("answer %s", resp.body)
	}
	inc := oscar.waitIncident(t, sub.IncidentID, "deactivate waiting for approval", func(i incidentJSON) bool {
		return i.step("deactivate").Status == "waiting_approval" || i.Status != "open"
	})
	if inc.Runbook.Name != "aws-access-key-exposed" || inc.step("deactivate").Status != "waiting_approval" {
		t.Fatalf("runbook %s, %s", inc.Runbook.Name, stepStates(inc))
	}
	if s := inc.Signals[0]; s.Source != "operator:oscar" || s.Reporter != "U0OSCAR" || s.Origin != "enterprise" {
		t.Errorf("signal = %+v; want source operator:oscar, reporter U0OSCAR, enterprise", s)
	}

	t.Run("SlackSlashCommandJoins", func(t *testing.T) {
		secret, err := os.ReadFile(filepath.Join(cfg.DataDir, "slack-signing-secret"))
		if err != nil {
			t.Fatalf("sever dev made no signing secret: %v", err)
		}
		form := url.Values{"team_id": {"T0E2E"}, "user_id": {"U0OSCAR"}, "command": {"/sever"}, "trigger_id": {"1.2.e2e"},
			"text": {"contain aws_access_key " + drillcloud.DefaultCompromisedKeyID + " account=" + drillcloud.DefaultAccountID +
				" attacker still calling Bedrock"}}
		body := []byte(form.Encode())
		post := func(secret []byte) (int, string) {
			ts := strconv.FormatInt(time.Now().Unix(), 10)
			mac := hmac.New(sha256.New, bytes.TrimSpace(secret))
			mac.Write([]byte("v0:" + ts + ":"))
			mac.Write(body)
			r, _ := http.NewRequest(http.MethodPost, d.URL+"/slack/commands", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("X-Slack-Request-Timestamp", ts)
			r.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var reply struct{ Text string }
			_ = json.NewDecoder(resp.Body).Decode(&reply)
			return resp.StatusCode, reply.Text
		}
		if code, _ := post([]byte("forged-secret")); code != http.StatusUnauthorized {
			t.Errorf("forged signature: %d, want 401", code)
		}
		code, text := post(secret)
		if code != http.StatusOK || !strings.Contains(text, sub.IncidentID) {
			t.Fatalf("slash command: %d %q; want the incident %s", code, text, sub.IncidentID)
		}
		if code, _ := post(secret); code != http.StatusUnauthorized {
			t.Errorf("replayed command (same trigger): %d, want 401", code)
		}
		oscar.waitIncident(t, sub.IncidentID, "the Slack signal recorded", func(i incidentJSON) bool {
			for _, s := range i.Signals {
				if s.Source == "operator:oscar" && s.ID != sub.SignalID && s.Reporter == "U0OSCAR" {
					return true
				}
			}
			return false
		})
	})

	decide := func(c *apiClient, step string) *response {
		t.Helper()
		return c.mustSend(t, req{method: http.MethodPost, path: "/v1/incidents/" + sub.IncidentID + "/approvals",
			body: []byte(`{"step":"` + step + `","decision":"approve","reason":"confirmed"}`)})
	}
	// The operator who asked for containment cannot approve it.
	refused(decide(oscar, "deactivate"), http.StatusConflict, "", "raised this incident")

	// Alice approves each containment step as it comes up.
	inc = alice.waitIncident(t, sub.IncidentID, "containment", func(i incidentJSON) bool {
		for _, s := range i.Steps {
			if s.Status == "waiting_approval" {
				if r := decide(alice, s.ID); r.status != http.StatusOK {
					t.Logf("alice's approval of %s: %d %s", s.ID, r.status, r.body)
				}
			}
		}
		return i.Status != "open"
	})
	if inc.Status != "contained" {
		t.Fatalf("incident %s (%s): %s", inc.Status, inc.Reason, stepStates(inc))
	}
	if st := inc.step("deactivate"); st.Status != "succeeded" || !st.Verified || st.Enforcement != "enterprise_enforced" {
		t.Errorf("deactivate = %+v", st)
	}
	if k, _ := d.Cloud.Key(drillcloud.DefaultCompromisedKeyID); k.Status != "Inactive" {
		t.Errorf("key is %s in the drill cloud", k.Status)
	}

	// The refused self-approval is on the record, though it never entered history.
	l, err := ledger.Open(filepath.Join(cfg.DataDir, ledger.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	entries, err := l.Entries(ctx, sub.IncidentID)
	if err != nil {
		t.Fatal(err)
	}
	var self []ledger.Entry
	for _, e := range entries {
		if e.Kind == ledger.KindRefusedDecision && e.Detail["reason"] == refusal.SelfApproval {
			self = append(self, e)
		}
	}
	if len(self) != 1 || self[0].Actor != "U0OSCAR" || self[0].Step != "deactivate" {
		t.Errorf("self-approval refusals in the ledger: %+v, want one by U0OSCAR on deactivate", self)
	}
}
