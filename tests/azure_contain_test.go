package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/ledger"
)

// azureTestPolicy pre-approves the Azure actions, as a drill policy would, so the
// test needs no approver; the built-in policy asks a SOC lead to approve the
// containment (runbooks.TestBuiltinAzure).
const azureTestPolicy = `name: azure-e2e
version: "1"
rules:
  - id: evidence-auto
    actions: ["sever.evidence.*", "sever.notify.*"]
    mode: auto
  - id: azure-auto
    actions: ["azure.*"]
    mode: auto
`

// startAzureStack starts sever dev with the drill cloud (and its Azure twin)
// under azureTestPolicy.
func startAzureStack(t *testing.T) (*stack, *drillcloud.AzureTwin) {
	t.Helper()
	s := startDrillStack(t, policyConfig(t, azureTestPolicy), nil)
	twin := s.Cloud.Azure()
	if twin == nil {
		t.Fatal("the drill cloud serves no Azure twin")
	}
	return s, twin
}

// TestAzureContained: for each Azure credential, a signal opens an incident, the
// read-only audit log is read first, sever contains the credential with its own
// Entra application through azidentity and reads it back, the attacker's next
// call with the leaked secret is refused, the ledger records the containment as
// enterprise_enforced and verified, and the secret is in no workflow history,
// report or file of the data dir.
func TestAzureContained(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ct       string
		runbook  string
		evidence string
		contain  string
		// setup creates the leaked credential and returns its id, the secret, an
		// attacker call with it and whether the twin shows it contained.
		setup func(t *testing.T, s *stack, tw *drillcloud.AzureTwin) (id, secret string, attack func() error, contained func() bool)
	}{
		{"entra app secret", "azure_app_secret", "azure-app-secret-exposed", "sign-ins", "remove-secret",
			func(t *testing.T, s *stack, tw *drillcloud.AzureTwin) (string, string, func() error, func() bool) {
				appID := tw.AddApp("payments-batch", false)
				keyID, secret, err := tw.AddSecret(appID, "ci")
				if err != nil {
					t.Fatal(err)
				}
				hc := drillcloud.AzureClient(s.Cloud.URL())
				return appID + "/" + keyID, secret,
					func() error {
						return drillcloud.AzureAttackSecret(context.Background(), hc, tw.TenantID, appID, secret)
					},
					func() bool { return !tw.SecretPresent(appID, keyID) }
			}},
		{"azure openai key", "azure_openai_key", "azure-openai-key-exposed", "activity-log", "disable-key-auth",
			func(t *testing.T, s *stack, tw *drillcloud.AzureTwin) (string, string, func() error, func() bool) {
				id, key1, _ := tw.AddOpenAIAccount("rg-ml", "acme-openai")
				hc := drillcloud.AzureClient(s.Cloud.URL())
				return id, key1,
					func() error { return drillcloud.AzureAttackOpenAIKey(context.Background(), hc, "acme-openai", key1) },
					func() bool { return tw.LocalAuthDisabled(id) }
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, tw := startAzureStack(t)
			id, secret, attack, contained := tc.setup(t, s, tw)
			if err := attack(); err != nil {
				t.Fatalf("attacker call before containment: %v", err)
			}
			sub := s.api.submit(t, map[string]any{
				"source": "e2e-defender", "source_event_id": "az-" + tc.ct, "origin": "enterprise", "kind": "credential_exposed",
				"observed_at": time.Now().UTC().Format(time.RFC3339), "severity": "critical",
				"summary":    "Azure credential found in a public repository",
				"credential": map[string]any{"provider": "azure", "type": tc.ct, "id": id},
			})
			inc := s.api.waitContained(t, sub.IncidentID)
			if inc.Runbook.Name != tc.runbook {
				t.Fatalf("incident %s (%s) by %s: %s", inc.Status, inc.Reason, inc.Runbook.Name, stepStates(inc))
			}
			if st := inc.step(tc.evidence); st.Status != "succeeded" {
				t.Errorf("%s = %+v; the audit log was not read", tc.evidence, st)
			}
			if tc.ct == "azure_app_secret" {
				// The attacker's sign-in before containment is in the evidence.
				if d := s.api.stepDetail(t, inc.ID, tc.evidence); fmt.Sprint(d.Output["with_key"]) != "1" {
					t.Errorf("%s output = %v; want the attacker's sign-in with the secret", tc.evidence, d.Output)
				}
			}
			st := inc.step(tc.contain)
			if st.Status != "succeeded" || st.Enforcement != "enterprise_enforced" || !st.Verified || st.Actor != "azure:sever" {
				t.Fatalf("%s = %+v", tc.contain, st)
			}
			if !contained() {
				t.Fatal("the twin does not show the credential contained")
			}
			var ref *drillcloud.AzureRefusal
			if err := attack(); !errors.As(err, &ref) {
				t.Fatalf("attacker call after containment: %v; want refused", err)
			}
			outcomes := ledgerOutcomes(t, filepath.Join(s.Config.DataDir, ledger.FileName), inc)
			if e := outcomes[tc.contain]; e.Enforcement != "enterprise_enforced" || e.Detail["verified"] != "true" {
				t.Errorf("ledger %s: enforcement %q verified %q actor %q", tc.contain, e.Enforcement, e.Detail["verified"], e.Actor)
			}

			// The secret is in no record: workflow history, reports, data dir.
			if n := secretsInNoRecord(t, s, sub.IncidentID, nil, map[string]string{"the " + tc.ct: secret}); n < 5 {
				t.Fatalf("scanned %d documents; the scan saw nothing", n)
			}
		})
	}
}

// TestAzureEntraRiskDetectionContained: an Entra ID Protection leakedCredentials
// detection for a service principal, posted to /v1/signals/entra, opens an
// incident for the secret it names; sever removes exactly that secret, and the
// application's other secret keeps working.
func TestAzureEntraRiskDetectionContained(t *testing.T) {
	s, tw := startAzureStack(t)
	ctx := context.Background()
	appID := tw.AddApp("payments-batch", false)
	keyID, secret, err := tw.AddSecret(appID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	otherKey, other, err := tw.AddSecret(appID, "prod")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	body := fmt.Sprintf(`{"id":"d-%d","riskEventType":"leakedCredentials","riskState":"atRisk","riskLevel":"high",
		"source":"IdentityProtection","activity":"servicePrincipal","activityDateTime":%q,"detectedDateTime":%q,
		"lastUpdatedDateTime":%q,"servicePrincipalDisplayName":"payments-batch","appId":%q,"keyIds":[%q]}`,
		time.Now().UnixNano(), now, now, now, appID, keyID)
	resp := s.api.mustSend(t, req{method: "POST", path: "/v1/signals/entra", body: []byte(body)})
	if resp.status != 202 {
		t.Fatalf("entra detection: %d %s", resp.status, resp.body)
	}
	var answer struct {
		Signals []submitJSON `json:"signals"`
	}
	if err := json.Unmarshal(resp.body, &answer); err != nil || len(answer.Signals) != 1 {
		t.Fatalf("answer %s: %v", resp.body, err)
	}
	inc := s.api.waitContained(t, answer.Signals[0].IncidentID)
	if inc.Runbook.Name != "azure-app-secret-exposed" || inc.Credential.ID != appID+"/"+keyID {
		t.Fatalf("incident %s (%s) by %s for %s: %s", inc.Status, inc.Reason, inc.Runbook.Name, inc.Credential.ID, stepStates(inc))
	}
	if tw.SecretPresent(appID, keyID) || !tw.SecretPresent(appID, otherKey) {
		t.Fatal("the twin does not show exactly the detected secret removed")
	}
	hc := drillcloud.AzureClient(s.Cloud.URL())
	if err := drillcloud.AzureAttackSecret(ctx, hc, tw.TenantID, appID, secret); err == nil {
		t.Error("the removed secret still gets a token")
	}
	if err := drillcloud.AzureAttackSecret(ctx, hc, tw.TenantID, appID, other); err != nil {
		t.Errorf("the application's other secret was refused: %v", err)
	}
}
