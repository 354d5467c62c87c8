package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sever-ir/sever/adapters"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/internal/app"
)

// githubAdapterAnswer is the answer of POST /v1/signals/github.
type githubAdapterAnswer struct {
	Status  string       `json:"status"`
	Reason  string       `json:"reason"`
	Signals []submitJSON `json:"signals"`
}

// postGitHubAlert posts a secret_scanning_alert "created" delivery for alert
// number of acme/api, signed with the webhook secret sever dev wrote, and
// requires a 202 with one signal.
func postGitHubAlert(t *testing.T, s *stack, number int, secretType string) githubAdapterAnswer {
	t.Helper()
	a := postGitHubAlertAnswer(t, s, number, secretType)
	if len(a.Signals) != 1 {
		t.Fatalf("signed alert %d: %+v; want 202 with one signal", number, a)
	}
	return a
}

// postGitHubAlertAnswer posts a signed secret_scanning_alert "created" delivery
// for alert number of acme/api and returns the answer, which must be a 202.
func postGitHubAlertAnswer(t *testing.T, s *stack, number int, secretType string) githubAdapterAnswer {
	t.Helper()
	body := fmt.Appendf(nil, `{"action":"created","alert":{"number":%d,"created_at":"2026-01-05T09:38:55Z",`+
		`"html_url":"https://github.com/acme/api/security/secret-scanning/%d","secret_type":%q,"validity":"active"},`+
		`"repository":{"full_name":"acme/api","private":true}}`, number, number, secretType)
	status, b := postGitHubDelivery(t, s, body, fmt.Sprintf("6c1f1f4e-e2e0-11ee-8000-%012d", number), signGitHub(t, s, body))
	var a githubAdapterAnswer
	if status != http.StatusAccepted || json.Unmarshal(b, &a) != nil {
		t.Fatalf("signed alert %d: %d %s; want 202", number, status, b)
	}
	return a
}

// startGitHubDrillStack runs sever dev with the drill cloud and no GitHub App in
// sever.yaml, under a policy that runs the github.* actions without approval.
func startGitHubDrillStack(t *testing.T) *stack {
	t.Helper()
	return startDrillStack(t, policyConfig(t, githubTestPolicy), nil)
}

// TestDevDrillCloudServesGitHub: sever dev with the drill cloud creates a GitHub
// App key in the data dir, serves the GitHub twin on the drill cloud's listener
// with that key registered, and points the github.* actions at it, so
// github-token-exposed revokes a token in the twin with no GitHub settings.
func TestDevDrillCloudServesGitHub(t *testing.T) {
	s := startGitHubDrillStack(t)
	fi, err := os.Stat(filepath.Join(s.Config.DataDir, app.DevGitHubAppKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("dev GitHub App key: %v, mode %v; want a 0600 file in the data dir", err, fi)
	}
	twin := s.Cloud.GitHub()
	if twin == nil {
		t.Fatal("the drill cloud serves no GitHub twin")
	}
	token := twin.NewToken("ghp_", "octocat")
	twin.AddAlert("acme", "api", 11, "github_personal_access_token", token)
	a := postGitHubAlert(t, s, 11, "github_personal_access_token")

	inc := s.api.waitIncident(t, a.Signals[0].IncidentID, "the token revoked in the twin", func(inc incidentJSON) bool {
		return inc.Status == "contained" && inc.step("resolve-alert").Status == "succeeded"
	})
	if inc.Runbook.Name != "github-token-exposed" {
		t.Errorf("runbook = %s, want github-token-exposed", inc.Runbook.Name)
	}
	if !twin.TokenRevoked(token) {
		t.Error("the twin on the drill cloud does not show the token revoked")
	}
	if twin.Calls("access_token") == 0 {
		t.Error("the App never exchanged its JWT at the twin")
	}
}

// TestGitHubAWSKeyAlertJoinsKeyIncident: a GitHub alert whose secret is an AWS
// access key ID joins the incident a signal about that key opened, as a vendor
// signal; an alert the App cannot read keeps its place and says why.
func TestGitHubAWSKeyAlertJoinsKeyIncident(t *testing.T) {
	s := startGitHubDrillStack(t)
	key := cred{provider: "aws", typ: "aws_access_key", id: drillcloud.DefaultCompromisedKeyID}
	first := s.api.submit(t, nativeSignal(key, "siem-aws-1"))
	if first.IncidentID != key.incidentID() {
		t.Fatalf("signal about the key opened %s, want %s", first.IncidentID, key.incidentID())
	}
	s.Cloud.GitHub().AddAlert("acme", "api", 21, "aws_access_key_id", drillcloud.DefaultCompromisedKeyID)

	tests := []struct {
		name         string
		number       int
		wantIncident string
		wantReason   string // substring of the answer's reason; "" = none
	}{
		{"alert for the key joins its incident", 21, first.IncidentID, ""},
		{"alert the App cannot read keeps its place", 22, "", "failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := postGitHubAlert(t, s, tc.number, "aws_access_key_id")
			got := a.Signals[0].IncidentID
			if tc.wantIncident != "" && got != tc.wantIncident {
				t.Fatalf("alert %d went to %s, want the key's incident %s (reason %q)", tc.number, got, tc.wantIncident, a.Reason)
			}
			if tc.wantIncident == "" && got == first.IncidentID {
				t.Fatalf("alert %d joined the key's incident without its key ID", tc.number)
			}
			if (tc.wantReason == "") != (a.Reason == "") || !strings.Contains(a.Reason, tc.wantReason) {
				t.Errorf("reason = %q, want one containing %q", a.Reason, tc.wantReason)
			}
			if strings.Contains(a.Reason, drillcloud.DefaultCompromisedKeyID) {
				t.Error("the answer echoes the key ID")
			}
			inc, _ := s.api.mustIncident(t, got)
			if !inc.hasVendorSignal(adapters.SourceGitHub) {
				t.Errorf("incident %s signals = %+v; want the GitHub alert as a vendor signal", got, inc.Signals)
			}
			if tc.wantIncident == "" && inc.Credential.ID != fmt.Sprintf("acme/api/secret-scanning/%d", tc.number) {
				t.Errorf("incident credential = %+v, want the alert's place", inc.Credential)
			}
		})
	}
}
