package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/ledger"
)

// gcpTestPolicy pre-approves the GCP actions, as a drill policy would, so the test
// needs no approver; the built-in policy asks a SOC lead to approve the disable.
const gcpTestPolicy = `name: gcp-e2e
version: "1"
rules:
  - id: evidence-auto
    actions: ["sever.evidence.*", "sever.notify.*"]
    mode: auto
  - id: gcp-auto
    actions: ["gcp.*"]
    mode: auto
`

// startGCPStack starts sever dev with the drill cloud (and its GCP twin) under
// gcpTestPolicy, and makes a workload key the test treats as stolen.
func startGCPStack(t *testing.T) (s *stack, twin *drillcloud.GCPTwin, keyID string, keyFile []byte) {
	t.Helper()
	s = startDrillStack(t, policyConfig(t, gcpTestPolicy), nil)
	twin = s.Cloud.GCP()
	if twin == nil {
		t.Fatal("the drill cloud serves no GCP twin")
	}
	keyID, err := twin.NewKey(twin.WorkloadEmail())
	if err != nil {
		t.Fatal(err)
	}
	if keyFile, err = twin.KeyFile(keyID, s.Cloud.URL()); err != nil {
		t.Fatal(err)
	}
	return s, twin, keyID, keyFile
}

func gcpSignal(eventID, keyName, origin, kind string) map[string]any {
	return map[string]any{
		"source": "e2e-scc", "source_event_id": eventID, "origin": origin, "kind": kind,
		"observed_at": time.Now().UTC().Format(time.RFC3339), "severity": "critical",
		"summary":    "service-account key found in a public repository",
		"credential": map[string]any{"provider": "gcp", "type": "gcp_service_account_key", "id": keyName},
	}
}

// A stolen service-account key in use: the signal opens an incident, the key's
// audit log entries are read, sever disables the key with its own service account
// and reads it back, the attacker's next call is refused, the ledger says
// enterprise_enforced and verified, and the key file is in no record.
func TestGCPServiceAccountKeyContained(t *testing.T) {
	s, twin, keyID, keyFile := startGCPStack(t)
	ctx := context.Background()
	for range 2 {
		if err := drillcloud.GCPAttackerCall(ctx, s.Cloud.URL(), keyFile); err != nil {
			t.Fatalf("attacker call before containment: %v", err)
		}
	}
	keyName := twin.KeyName(keyID)
	sub := s.api.submit(t, gcpSignal("scc-1", keyName, "enterprise", "credential_exposed"))
	inc := s.api.waitContained(t, sub.IncidentID)
	if inc.Runbook.Name != "gcp-service-account-key-exposed" {
		t.Fatalf("incident %s (%s) by %s: %s", inc.Status, inc.Reason, inc.Runbook.Name, stepStates(inc))
	}
	st := inc.step("disable")
	if st.Status != "succeeded" || st.Enforcement != "enterprise_enforced" || !st.Verified || !strings.HasPrefix(st.Actor, "gcp-sa:sever-responder@") {
		t.Fatalf("disable = %+v", st)
	}
	if st := inc.step("vendor-exposure"); st.Status != "succeeded" || st.Enforcement != "" || st.Verified {
		t.Errorf("vendor-exposure = %+v; Google did nothing, so nothing is credited to it", st)
	}
	if d := s.api.stepDetail(t, inc.ID, "audit-logs"); fmt.Sprint(d.Output["count"]) != "2" {
		t.Errorf("audit-logs output = %v; want the attacker's 2 calls", d.Output)
	}
	if ks, _ := twin.KeyState(keyID); !ks.Disabled {
		t.Fatal("the twin does not show the key disabled")
	}
	if err := drillcloud.GCPAttackerCall(ctx, s.Cloud.URL(), keyFile); !errors.Is(err, drillcloud.ErrGCPRefused) {
		t.Fatalf("attacker call after containment: %v; want refused", err)
	}
	outcomes := ledgerOutcomes(t, filepath.Join(s.Config.DataDir, ledger.FileName), inc)
	if e := outcomes["disable"]; e.Enforcement != "enterprise_enforced" || e.Detail["verified"] != "true" {
		t.Errorf("ledger disable: enforcement %q verified %q actor %q", e.Enforcement, e.Detail["verified"], e.Actor)
	}

	// The key file (its private key) is in no record: workflow history, reports,
	// data dir.
	var pk struct {
		PrivateKey string `json:"private_key"`
	}
	if err := json.Unmarshal(keyFile, &pk); err != nil || pk.PrivateKey == "" {
		t.Fatalf("key file: %v", err)
	}
	secret := strings.Split(strings.TrimSpace(pk.PrivateKey), "\n")[1] // a line of the key's base64
	if n := secretsInNoRecord(t, s, sub.IncidentID, nil, map[string]string{"the service-account key's private key": secret}); n < 10 {
		t.Fatalf("scanned %d documents; the scan saw nothing", n)
	}
}

// Google disabled the key as exposed before sever heard of it, and its Security
// Command Center finding opens the incident: the observe step
// records vendor_enforced, sever's disable is a verified no-op that says so, and
// the incident is contained by sever's own read-back.
func TestGCPKeyDisabledByGoogleFirst(t *testing.T) {
	s, twin, keyID, _ := startGCPStack(t)
	if err := twin.VendorExposeKey(keyID); err != nil {
		t.Fatal(err)
	}
	// Google's Security Command Center finding, as its Pub/Sub notification
	// carries it, through the gcp-scc adapter.
	finding := `{"notificationConfigName":"organizations/1/notificationConfigs/sever","finding":{` +
		`"name":"organizations/1/sources/2/findings/leak-1","category":"account_has_leaked_credentials","state":"ACTIVE",` +
		`"severity":"CRITICAL","eventTime":"` + time.Now().UTC().Format(time.RFC3339) + `","sourceProperties":{` +
		`"project_identifier":"` + twin.Project + `","compromised_account":"` + twin.WorkloadEmail() + `",` +
		`"private_key_identifier":"` + keyID + `","url":"https://github.com/acme/app/blob/main/key.json"}}}`
	resp := s.api.mustSend(t, req{method: http.MethodPost, path: "/v1/signals/gcp-scc", body: []byte(finding)})
	var answer struct {
		Signals []submitJSON `json:"signals"`
	}
	if resp.status != http.StatusAccepted || json.Unmarshal(resp.body, &answer) != nil || len(answer.Signals) != 1 {
		t.Fatalf("SCC finding: %d %s", resp.status, resp.body)
	}
	sub := answer.Signals[0]
	inc := s.api.waitContained(t, sub.IncidentID)
	if st := inc.step("vendor-exposure"); st.Enforcement != "vendor_enforced" || !st.Verified || st.Actor != "google" {
		t.Errorf("vendor-exposure = %+v; want vendor_enforced by google", st)
	}
	if st := inc.step("disable"); st.Enforcement != "enterprise_enforced" || !st.Verified {
		t.Errorf("disable = %+v", st)
	}
	if n := twin.Calls(drillcloud.GCPOpDisableKey); n != 0 {
		t.Errorf("keys.disable called %d times on a key Google disabled", n)
	}
}

// requireGoogleAPIKeyDeleted fails the test unless incident inc deleted the API
// key uid with a verified, enterprise-enforced step, the twin shows it deleted,
// the attacker's next call with keyString is refused and the ledger agrees.
func requireGoogleAPIKeyDeleted(t *testing.T, s *stack, twin *drillcloud.GCPTwin, inc incidentJSON, uid, keyString string) {
	t.Helper()
	if st := inc.step("delete"); st.Status != "succeeded" || st.Enforcement != "enterprise_enforced" || !st.Verified {
		t.Fatalf("delete = %+v", st)
	}
	if !twin.APIKeyDeleted(uid) {
		t.Fatal("the twin does not show the key deleted")
	}
	if err := drillcloud.GCPAPIKeyAttackerCall(s.Cloud.URL(), keyString); !errors.Is(err, drillcloud.ErrGCPRefused) {
		t.Fatalf("attacker call after containment: %v; want refused", err)
	}
	outcomes := ledgerOutcomes(t, filepath.Join(s.Config.DataDir, ledger.FileName), inc)
	if e := outcomes["delete"]; e.Enforcement != "enterprise_enforced" || e.Detail["verified"] != "true" {
		t.Errorf("ledger delete: enforcement %q verified %q", e.Enforcement, e.Detail["verified"])
	}
}

// A Google API key used for Gemini: the signal names the key by its resource
// name, sever deletes it (restorable for 30 days) and reads it back, the
// attacker's next Gemini call is refused, the ledger says enterprise_enforced and
// verified, and the key string is in no record.
func TestGoogleAPIKeyDeleted(t *testing.T) {
	s, twin, _, _ := startGCPStack(t)
	uid, keyString := twin.NewAPIKey("gemini-ci")
	if err := drillcloud.GCPAPIKeyAttackerCall(s.Cloud.URL(), keyString); err != nil {
		t.Fatalf("attacker call before containment: %v", err)
	}
	sig := gcpSignal("gemini-1", twin.APIKeyName(uid), "enterprise", "abuse_report")
	sig["credential"].(map[string]any)["type"] = "google_api_key"
	sub := s.api.submit(t, sig)
	inc := s.api.waitContained(t, sub.IncidentID)
	if inc.Runbook.Name != "gcp-google-api-key-exposed" {
		t.Fatalf("incident %s (%s) by %s: %s", inc.Status, inc.Reason, inc.Runbook.Name, stepStates(inc))
	}
	requireGoogleAPIKeyDeleted(t, s, twin, inc, uid, keyString)
	secretsInNoRecord(t, s, sub.IncidentID, nil, map[string]string{"the API key string": keyString})
}
