package tests

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/internal/app"
)

// githubTestPolicy pre-approves the GitHub actions, as a drill policy would, so
// the test needs no approver; the built-in policy asks a SOC lead to approve the
// revocation (runbooks.TestBuiltinGitHubToken).
const githubTestPolicy = `name: github-e2e
version: "1"
rules:
  - id: evidence-auto
    actions: ["sever.evidence.*", "sever.notify.*"]
    mode: auto
  - id: github-auto
    actions: ["github.secret_scanning.*"]
    mode: auto
`

// TestGitHubTokenAlertRevoked: a signed secret_scanning_alert delivery for a GitHub
// personal access token opens an incident (no runbook before: 422), the token is
// revoked through the revocation API with sever's GitHub App, the attacker's next
// call with it is refused, the alert is resolved as revoked, and the token is in
// no log line, workflow history, report, ledger or other file of the data dir.
func TestGitHubTokenAlertRevoked(t *testing.T) {
	twin, err := drillcloud.NewGitHubTwin()
	if err != nil {
		t.Fatal(err)
	}
	gh := httptest.NewServer(twin)
	t.Cleanup(gh.Close)
	token := twin.NewToken("ghp_", "octocat")
	twin.AddAlert("acme", "api", 7, "github_personal_access_token", token)

	keyFile := filepath.Join(writeTemp(t, "github-app.pem", twin.PrivateKeyPEM()), "github-app.pem")
	cfg := policyConfig(t, githubTestPolicy)
	cfg.GitHub = config.GitHubConfig{AppID: twin.AppID, InstallationID: twin.InstallationID,
		PrivateKey: config.SecretRef("file:" + keyFile), APIURL: gh.URL}
	logs, logger := keepLogs()
	s := startStackWith(t, app.DevOptions{Config: cfg, Logger: logger})

	body := []byte(`{"action":"created","alert":{"number":7,"created_at":"2026-01-05T09:38:55Z",` +
		`"html_url":"https://github.com/acme/api/security/secret-scanning/7","secret_type":"github_personal_access_token",` +
		`"secret_type_display_name":"GitHub Personal Access Token","validity":"active","publicly_leaked":false},` +
		`"repository":{"full_name":"acme/api","private":true}}`)
	status, respBody := postGitHubDelivery(t, s, body, "6c1f1f4e-e2e0-11ee-8000-000000000007", signGitHub(t, s, body))
	if status != http.StatusAccepted {
		t.Fatalf("signed delivery: %d %s, want 202", status, respBody)
	}
	var answer struct {
		Signals []submitJSON `json:"signals"`
	}
	if err := json.Unmarshal(respBody, &answer); err != nil || len(answer.Signals) != 1 || answer.Signals[0].IncidentID == "" {
		t.Fatalf("delivery answer %s: %v", respBody, err)
	}
	sub := answer.Signals[0]

	inc := s.api.waitIncident(t, sub.IncidentID, "the token revoked and the alert resolved", func(inc incidentJSON) bool {
		return inc.Status == "contained" && inc.step("resolve-alert").Status == "succeeded"
	})
	if inc.Credential.ID != "acme/api/secret-scanning/7" || inc.Credential.Type != "github_token" || inc.Runbook.Name != "github-token-exposed" {
		t.Errorf("incident = %+v, runbook %+v", inc.Credential, inc.Runbook)
	}
	if st := inc.step("revoke"); !st.Verified || st.Enforcement != "enterprise_enforced" || !strings.HasPrefix(st.Actor, "github-app:") {
		t.Errorf("revoke step = %+v; want verified, enterprise_enforced, by the GitHub App", st)
	}
	if !twin.TokenRevoked(token) {
		t.Error("the twin does not show the token revoked")
	}
	// The attacker's next call with the token is refused.
	ur, _ := http.NewRequest(http.MethodGet, gh.URL+"/user", nil)
	ur.Header.Set("Authorization", "Bearer "+token)
	ur.Header.Set("Accept", "application/vnd.github+json")
	if uresp, err := http.DefaultClient.Do(ur); err != nil || uresp.StatusCode != http.StatusUnauthorized {
		t.Errorf("attacker call after revocation: %v %v, want 401", uresp, err)
	} else {
		uresp.Body.Close()
	}
	if st, res, _ := twin.Alert("acme", "api", 7); st != "resolved" || res != "revoked" {
		t.Errorf("alert = %s/%s, want resolved/revoked", st, res)
	}

	// The token is in no record: stack log, workflow history, reports, data dir.
	secretsInNoRecord(t, s, sub.IncidentID, map[string]string{"stack log": logs.String()}, map[string]string{"the GitHub token": token})
}
