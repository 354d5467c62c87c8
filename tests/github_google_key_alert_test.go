package tests

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sever-ir/sever/adapters"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/ledger"
)

// postGitHubAlertAnswer posts a signed secret_scanning_alert "created" delivery
// for alert number of acme/api and returns the answer, which must be a 202.
func postGitHubAlertAnswer(t *testing.T, s *stack, number int, secretType string) githubAdapterAnswer {
	t.Helper()
	hookSecret, err := os.ReadFile(filepath.Join(s.Config.DataDir, "github-webhook-secret"))
	if err != nil {
		t.Fatalf("sever dev wrote no GitHub webhook secret: %v", err)
	}
	body := fmt.Appendf(nil, `{"action":"created","alert":{"number":%d,"created_at":"2026-01-05T09:38:55Z",`+
		`"html_url":"https://github.com/acme/api/security/secret-scanning/%d","secret_type":%q,"validity":"active"},`+
		`"repository":{"full_name":"acme/api","private":true}}`, number, number, secretType)
	r, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/signals/github", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(adapters.GitHubEventHeader, adapters.GitHubEventSecretScanning)
	r.Header.Set(adapters.GitHubDeliveryHeader, fmt.Sprintf("7d2f2f4e-e2e0-11ee-8000-%012d", number))
	r.Header.Set(adapters.GitHubSignatureHeader, adapters.SignGitHub(bytes.TrimSpace(hookSecret), body))
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a githubAdapterAnswer
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(b, &a) != nil {
		t.Fatalf("signed alert %d: %d %s; want 202", number, resp.StatusCode, b)
	}
	return a
}

// TestGitHubGoogleAPIKeyAlert: a GitHub alert whose secret is a Google API key
// opens the incident of that key, named by its resource name, as a vendor
// signal: sever reads the key string through its GitHub App, maps it with
// lookupKey, and the built-in runbook deletes the key, verifies it deleted, and
// the attacker's next Gemini call is refused. A key string Google does not know
// is ignored with that reason. The key string is in no log, history, report,
// ledger, answer or file of the data dir.
func TestGitHubGoogleAPIKeyAlert(t *testing.T) {
	cfg := newConfig(t)
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(gcpTestPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Runbooks.Policy = policyFile
	logs := &lockedBuffer{}
	s := startStackWith(t, app.DevOptions{Config: cfg, DrillCloud: true,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	gcp, gh := s.Cloud.GCP(), s.Cloud.GitHub()
	if gcp == nil || gh == nil {
		t.Fatal("the drill cloud serves no GCP or no GitHub twin")
	}
	uid, keyString := gcp.NewAPIKey("gemini-ci")
	if err := drillcloud.GCPAPIKeyAttackerCall(s.Cloud.URL(), keyString); err != nil {
		t.Fatalf("attacker call before containment: %v", err)
	}
	const unknown = "AIzaSyUNKNOWNunknownUNKNOWNunknown12345"
	gh.AddAlert("acme", "api", 31, "google_api_key", keyString)
	gh.AddAlert("acme", "api", 32, "google_api_key", unknown)

	var answers []string
	// A key Google does not know: nothing to contain, ignored with the reason.
	ig := postGitHubAlertAnswer(t, s, 32, "google_api_key")
	if ig.Status != "ignored" || len(ig.Signals) != 0 || !strings.Contains(ig.Reason, "no API key Google knows") {
		t.Errorf("alert for an unknown key: %+v; want ignored with the reason", ig)
	}
	b, _ := json.Marshal(ig)
	answers = append(answers, string(b))

	a := postGitHubAlertAnswer(t, s, 31, "google_api_key")
	b, _ = json.Marshal(a)
	answers = append(answers, string(b))
	if a.Status != "accepted" || len(a.Signals) != 1 || a.Reason != "" {
		t.Fatalf("alert for the key: %s; want one accepted signal and no reason", b)
	}
	key := cred{provider: "gcp", typ: "google_api_key", id: gcp.APIKeyName(uid)}
	if a.Signals[0].IncidentID != key.incidentID() {
		t.Fatalf("alert went to %s, want the key's incident %s", a.Signals[0].IncidentID, key.incidentID())
	}
	inc := s.api.waitIncident(t, key.incidentID(), "containment", func(i incidentJSON) bool { return i.Status != "open" })
	if inc.Status != "contained" || inc.Runbook.Name != "gcp-google-api-key-exposed" || inc.Credential.ID != gcp.APIKeyName(uid) {
		t.Fatalf("incident %s (%s) of %+v by %s: %s", inc.Status, inc.Reason, inc.Credential, inc.Runbook.Name, stepStates(inc))
	}
	var vendor bool
	for _, sig := range inc.Signals {
		vendor = vendor || sig.Source == adapters.SourceGitHub && sig.Origin == "vendor"
	}
	if !vendor {
		t.Errorf("incident signals = %+v; want the GitHub alert as a vendor signal", inc.Signals)
	}
	if st := inc.step("delete"); st.Status != "succeeded" || st.Enforcement != "enterprise_enforced" || !st.Verified {
		t.Fatalf("delete = %+v", st)
	}
	if !gcp.APIKeyDeleted(uid) {
		t.Fatal("the twin does not show the key deleted")
	}
	if err := drillcloud.GCPAPIKeyAttackerCall(s.Cloud.URL(), keyString); !errors.Is(err, drillcloud.ErrGCPRefused) {
		t.Fatalf("attacker call after containment: %v; want refused", err)
	}
	outcomes := ledgerOutcomes(t, filepath.Join(cfg.DataDir, ledger.FileName), inc)
	if e := outcomes["delete"]; e.Enforcement != "enterprise_enforced" || e.Detail["verified"] != "true" {
		t.Errorf("ledger delete: enforcement %q verified %q", e.Enforcement, e.Detail["verified"])
	}

	// Neither key string is in any record: answers, stack log, workflow history,
	// reports, the data dir (ledger and Temporal's database included).
	docs := map[string]string{"stack log": logs.String()}
	for i, ans := range answers {
		docs[fmt.Sprintf("answer %d", i)] = ans
	}
	secretsInNoRecord(t, s, inc.ID, docs, map[string]string{"the API key string": keyString, "the unknown key string": unknown})
}
