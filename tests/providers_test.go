package tests

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/ledger"
)

// providerSignal is a native signal about a model-provider key, as a SIEM rule on the
// LLM gateway's usage logs would send it.
func providerSignal(eventID, provider, typ, id, account string, drill bool) map[string]any {
	sig := map[string]any{
		"source": "e2e-siem", "source_event_id": eventID, "origin": "enterprise", "kind": "anomalous_usage",
		"observed_at": time.Now().UTC().Format(time.RFC3339), "severity": "critical",
		"summary":    "model spend from an unknown ASN with the gateway's key",
		"credential": map[string]any{"provider": provider, "type": typ, "id": id, "account": account},
	}
	if drill {
		sig["drill"] = true
	}
	return sig
}

func anthropicSignal(eventID string) map[string]any {
	return providerSignal(eventID, "anthropic", "anthropic_api_key", drillcloud.DefaultAnthropicKeyID, drillcloud.DefaultAnthropicOrgID, false)
}

// stepDetail is a step with the fields stepJSON leaves out.
type stepDetail struct {
	ID      string         `json:"id"`
	Summary string         `json:"summary"`
	Output  map[string]any `json:"output"`
}

func (c *apiClient) stepDetail(t *testing.T, incident, step string) stepDetail {
	t.Helper()
	_, raw := c.mustIncident(t, incident)
	var full struct {
		Steps []stepDetail `json:"steps"`
	}
	if err := json.Unmarshal(raw, &full); err != nil {
		t.Fatal(err)
	}
	for _, s := range full.Steps {
		if s.ID == step {
			return s
		}
	}
	t.Fatalf("incident %s has no step %s", incident, step)
	return stepDetail{}
}

// ledgerOutcomes waits until the ledger at path holds an outcome for every step of
// inc, checks its chain, and returns the outcomes by step.
func ledgerOutcomes(t *testing.T, path string, inc incidentJSON) map[string]ledger.Entry {
	t.Helper()
	ctx := context.Background()
	l, err := ledger.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var outcomes map[string]ledger.Entry
	waitFor(t, "the step outcomes in the ledger", func() error {
		entries, err := l.Entries(ctx, inc.ID)
		if err != nil {
			return err
		}
		outcomes = map[string]ledger.Entry{}
		for _, e := range entries {
			if e.Kind == "step_outcome" {
				outcomes[e.Step] = e
			}
		}
		if len(outcomes) < len(inc.Steps) {
			return errNotYet
		}
		return nil
	})
	if brk, err := l.Verify(ctx, inc.ID); err != nil || brk != nil {
		t.Errorf("ledger verify: %v %+v", err, brk)
	}
	return outcomes
}

// A stolen Anthropic key in use: the enterprise disables it with its own admin key
// and reads it back, the attacker's next call is refused, the secret that held the
// key is rotated, and the ledger says who enforced what.
func TestProviderAnthropicKeyContainedWhileAttackerRuns(t *testing.T) {
	s := startAWSStack(t)
	attacker := startAttacker(t, s.Cloud, drillcloud.AttackerConfig{KeyID: drillcloud.DefaultAnthropicKeyID, Rate: 20, KeepTrying: true})
	secretBefore, _ := s.Cloud.Secret(drillcloud.DefaultAnthropicSecretName)

	sub := s.api.submit(t, anthropicSignal("ev-anthropic-1"))
	inc := s.api.waitContained(t, sub.IncidentID)
	if inc.Runbook.Name != "llm-api-key-abused" {
		t.Fatalf("incident %s (%s) by %s: %s", inc.Status, inc.Reason, inc.Runbook.Name, stepStates(inc))
	}
	contained := time.Now()
	st := inc.step("disable-anthropic")
	if st.Status != "succeeded" || st.Enforcement != "enterprise_enforced" || !st.Verified || st.PolicyRule != "provider-containment-auto" ||
		!strings.HasPrefix(st.Actor, "anthropic-admin-key:sha256:") {
		t.Fatalf("disable-anthropic = %+v", st)
	}
	if st := inc.step("observe-anthropic"); st.Status != "succeeded" || st.Enforcement != "" || st.Verified {
		t.Errorf("observe-anthropic = %+v; Anthropic did nothing, so nothing is credited to it", st)
	}
	for _, id := range []string{"observe-openai", "revoke-openai", "notify-openai"} {
		if st := inc.step(id); st.Status != "skipped" {
			t.Errorf("%s = %+v; want skipped for an Anthropic key", id, st)
		}
	}
	if st := inc.step("rotate-secrets"); st.Status != "succeeded" || !st.Verified || st.Enforcement != "enterprise_enforced" {
		t.Errorf("rotate-secrets = %+v", st)
	}
	if after, _ := s.Cloud.Secret(drillcloud.DefaultAnthropicSecretName); len(after.Versions) != len(secretBefore.Versions)+1 {
		t.Errorf("secret versions %d → %d; want one new value", len(secretBefore.Versions), len(after.Versions))
	}
	if k, _ := s.Cloud.ProviderKey(drillcloud.DefaultAnthropicKeyID); k.Status != "inactive" {
		t.Fatalf("key is %s in the drill cloud", k.Status)
	}
	if n := s.Cloud.Applied("anthropic:UpdateAPIKey"); n != 1 {
		t.Errorf("UpdateAPIKey applied %d times, want once", n)
	}
	requireRefusedAfter(t, attacker, contained, "attacker calls")

	outcomes := ledgerOutcomes(t, filepath.Join(s.Config.DataDir, ledger.FileName), inc)
	if e := outcomes["disable-anthropic"]; e.Enforcement != "enterprise_enforced" || e.Detail["verified"] != "true" || !strings.HasPrefix(e.Actor, "anthropic-admin-key:") {
		t.Errorf("ledger disable-anthropic: enforcement %q verified %q actor %q", e.Enforcement, e.Detail["verified"], e.Actor)
	}
}

// Anthropic disabled the key before sever acted. The observe step records that as
// vendor_enforced; the enterprise's disable still runs and is verified by its own
// read-back, sends nothing (the key is already inactive) and says so. The incident
// counts as contained because the enterprise verified the control itself, not
// because the provider acted.
func TestProviderDisabledKeyBeforeSeverActed(t *testing.T) {
	for _, tc := range []struct {
		name string
		// notice: the provider's own vendor_action notice opens the incident;
		// without it, a key found inactive is not credited to anyone (the Admin API
		// does not say who changed it, and it may have been sever, earlier).
		notice          bool
		wantEnforcement string
		wantActor       string
	}{
		{"the provider says it acted", true, "vendor_enforced", "vendor:anthropic"},
		{"no notice from the provider", false, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startAWSStack(t)
			if err := s.Cloud.VendorDisableProviderKey(drillcloud.ProviderAnthropic, drillcloud.DefaultAnthropicKeyID); err != nil {
				t.Fatal(err)
			}
			sig := anthropicSignal("ev-anthropic-vendor-first")
			if tc.notice {
				sig["source"], sig["origin"], sig["kind"] = "anthropic", "vendor", "vendor_action"
			}
			sub := s.api.submit(t, sig)
			inc := s.api.waitContained(t, sub.IncidentID)
			if st := inc.step("observe-anthropic"); st.Enforcement != tc.wantEnforcement || st.Actor == "vendor:anthropic" && tc.wantActor == "" ||
				tc.wantActor != "" && (st.Actor != tc.wantActor || !st.Verified) {
				t.Errorf("observe-anthropic = %+v; want enforcement %q by %q", st, tc.wantEnforcement, tc.wantActor)
			}
			st := inc.step("disable-anthropic")
			if st.Status != "succeeded" || st.Enforcement != "enterprise_enforced" || !st.Verified {
				t.Errorf("disable-anthropic = %+v; the enterprise still verifies its own control", st)
			}
			d := s.api.stepDetail(t, sub.IncidentID, "disable-anthropic")
			if d.Output["already_in_place"] != true || d.Output["previous_status"] != "inactive" || !strings.Contains(d.Summary, "already inactive before sever acted") {
				t.Errorf("disable-anthropic detail = %+v", d)
			}
			// Only the provider's own change: sever sent none.
			if n := s.Cloud.Applied("anthropic:UpdateAPIKey"); n != 1 {
				t.Errorf("UpdateAPIKey applied %d times, want only the provider's", n)
			}
			for _, e := range s.Cloud.CallsBy(drillcloud.DefaultAnthropicKeyID) {
				t.Errorf("unexpected call with the key itself: %+v", e)
			}
		})
	}
}

// A stolen OpenAI key in a drill is revoked without waiting (the pre-approved policy
// makes OpenAI's irreversible revoke automatic in drills only), and the attacker is
// refused. The same revoke outside a drill waits for a SOC lead, and runs once one
// approves.
func TestProviderOpenAIKeyContainedWhileAttackerRuns(t *testing.T) {
	tokens := map[string]string{"SEVER_E2E_SIEM": "siem-token-0123456789abcdef", "SEVER_E2E_ALICE": "alice-token-0123456789abcdef"}
	setTokens(t, tokens)
	const secondKey = "key_DrillSecondOpenAI1"
	seed := drillcloud.DefaultSeed()
	p := &seed.Providers.OpenAI.Organizations[0].Projects[0]
	p.Keys = append(p.Keys, drillcloud.SeedOpenAIKey{ID: secondKey, Name: "batch-evals"})
	cfg := awsConfig(t)
	cfg.Approvers.Groups = map[string][]string{"soc-leads": {"U0ALICE"}}
	cfg.Intake.Tokens = []config.IntakeToken{{Name: "siem", Secret: "env:SEVER_E2E_SIEM", Scopes: []string{config.ScopeSignalsWrite, config.ScopeDrillsWrite}}}
	cfg.Operators = []config.Operator{{Name: "alice", SlackUser: "U0ALICE", Token: "env:SEVER_E2E_ALICE",
		Scopes: []string{config.ScopeIncidentsRead, config.ScopeApprovalsWrite}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	d := startDev(t, app.DevOptions{Config: cfg, DrillCloud: true, Seed: &seed})
	siem, alice := newAPIClient(d.URL, tokens["SEVER_E2E_SIEM"]), newAPIClient(d.URL, tokens["SEVER_E2E_ALICE"])

	t.Run("drill", func(t *testing.T) {
		attacker := startAttacker(t, d.Cloud, drillcloud.AttackerConfig{KeyID: drillcloud.DefaultOpenAIKeyID, Rate: 20, KeepTrying: true})
		sub := siem.submit(t, providerSignal("ev-openai-drill", "openai", "openai_api_key", drillcloud.DefaultOpenAIKeyID, drillcloud.DefaultOpenAIProjectID, true))
		inc := alice.waitContained(t, sub.IncidentID)
		contained := time.Now()
		st := inc.step("revoke-openai")
		if st.Enforcement != "enterprise_enforced" || !st.Verified || st.PolicyRule != "openai-key-revoke-drill-auto" ||
			!strings.HasPrefix(st.Actor, "openai-admin-key:sha256:") {
			t.Fatalf("revoke-openai = %+v", st)
		}
		if st := inc.step("disable-anthropic"); st.Status != "skipped" {
			t.Errorf("disable-anthropic = %+v; want skipped for an OpenAI key", st)
		}
		if k, _ := d.Cloud.ProviderKey(drillcloud.DefaultOpenAIKeyID); k.Status != "deleted" {
			t.Fatalf("key is %s in the drill cloud", k.Status)
		}
		if n := d.Cloud.Applied("openai:DeleteProjectAPIKey"); n != 1 {
			t.Errorf("DeleteProjectAPIKey applied %d times, want once", n)
		}
		requireRefusedAfter(t, attacker, contained, "attacker calls")
		// Drill records stay apart from production ones.
		outcomes := ledgerOutcomes(t, filepath.Join(cfg.DataDir, app.DrillLedgerFile), inc)
		if e := outcomes["revoke-openai"]; e.Enforcement != "enterprise_enforced" || e.Detail["verified"] != "true" {
			t.Errorf("drill ledger revoke-openai: %+v", e)
		}
	})

	t.Run("production waits for a SOC lead", func(t *testing.T) {
		sub := siem.submit(t, providerSignal("ev-openai-prod", "openai", "openai_api_key", secondKey, drillcloud.DefaultOpenAIProjectID, false))
		inc := alice.waitApproval(t, sub.IncidentID, "revoke waiting for approval", "revoke-openai")
		if st := inc.step("revoke-openai"); st.PolicyRule != "openai-key-revoke-approval" {
			t.Errorf("revoke-openai = %+v", st)
		}
		if k, _ := d.Cloud.ProviderKey(secondKey); k.Status != "active" {
			t.Fatalf("key is %s before anyone approved", k.Status)
		}
		resp := alice.mustSend(t, req{method: http.MethodPost, path: "/v1/incidents/" + sub.IncidentID + "/approvals",
			body: []byte(`{"step":"revoke-openai","decision":"approve","reason":"gateway key abused; replacement issued"}`)})
		if resp.status != http.StatusOK {
			t.Fatalf("approval: %d %s", resp.status, resp.body)
		}
		inc = alice.waitContained(t, sub.IncidentID)
		if st := inc.step("revoke-openai"); st.Enforcement != "enterprise_enforced" || !st.Verified {
			t.Errorf("revoke-openai = %+v", st)
		}
		if k, _ := d.Cloud.ProviderKey(secondKey); k.Status != "deleted" {
			t.Errorf("key is %s after approval", k.Status)
		}
		// The inventory does not list this key, so rotation fails visibly, without
		// failing the incident.
		if st := inc.step("rotate-secrets"); st.Status != "failed" || !strings.Contains(st.Error, "inventory") {
			t.Errorf("rotate-secrets = %+v", st)
		}
	})
}

// A provider action records its write intent before it sends the write, so that an
// attempt on another worker learns that the change may have gone out. The intent
// must reach Temporal before the write reaches the provider: here the disable call
// is held at the provider (5 s of latency) and, while it is held, the step's
// pending activity must already carry the intent as its heartbeat details.
func TestProviderWriteIntentDurableBeforeWrite(t *testing.T) {
	s := startAWSStack(t)
	fired, err := s.Cloud.InjectFaultCounted(drillcloud.Fault{Service: "anthropic", Operation: "UpdateAPIKey",
		Kind: drillcloud.FaultLatency, Latency: 5 * time.Second, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	sub := s.api.submit(t, anthropicSignal("ev-anthropic-intent"))
	waitFor(t, "the disable call at the provider", func() error {
		if fired() == 0 {
			return errNotYet
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := s.Client.DescribeWorkflowExecution(ctx, sub.IncidentID, "")
	if err != nil {
		t.Fatal(err)
	}
	var details string
	found := false
	for _, pa := range d.GetPendingActivities() {
		if pa.GetActivityId() != "disable-anthropic" {
			continue
		}
		found = true
		for _, p := range pa.GetHeartbeatDetails().GetPayloads() {
			details += string(p.GetData())
		}
	}
	if !found {
		t.Fatalf("disable-anthropic is not pending while its call is held (pending: %v)", d.GetPendingActivities())
	}
	var intent struct {
		KeyID  string `json:"key_id"`
		Change string `json:"change"`
	}
	if err := json.Unmarshal([]byte(details), &intent); err != nil || intent.KeyID != drillcloud.DefaultAnthropicKeyID || intent.Change != "inactive" {
		t.Fatalf("heartbeat details while the write is in flight = %q (%v); want the write intent for %s", details, err, drillcloud.DefaultAnthropicKeyID)
	}
	inc := s.api.waitContained(t, sub.IncidentID)
	if st := inc.step("disable-anthropic"); st.Status != "succeeded" || !st.Verified || st.Enforcement != "enterprise_enforced" {
		t.Fatalf("disable-anthropic = %+v", st)
	}
}
