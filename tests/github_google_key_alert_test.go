package tests

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sever-ir/sever/adapters"
	"github.com/sever-ir/sever/drillcloud"
)

// TestGitHubGoogleAPIKeyAlert: a GitHub alert whose secret is a Google API key
// opens the incident of that key, named by its resource name, as a vendor
// signal: sever reads the key string through its GitHub App, maps it with
// lookupKey, and the built-in runbook deletes the key, verifies it deleted, and
// the attacker's next Gemini call is refused. A key string Google does not know
// is ignored with that reason. The key string is in no log, history, report,
// ledger, answer or file of the data dir.
func TestGitHubGoogleAPIKeyAlert(t *testing.T) {
	logs, logger := keepLogs()
	s := startDrillStack(t, policyConfig(t, gcpTestPolicy), logger)
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
	inc := s.api.waitContained(t, key.incidentID())
	if inc.Runbook.Name != "gcp-google-api-key-exposed" || inc.Credential.ID != gcp.APIKeyName(uid) {
		t.Fatalf("incident %s (%s) of %+v by %s: %s", inc.Status, inc.Reason, inc.Credential, inc.Runbook.Name, stepStates(inc))
	}
	if !inc.hasVendorSignal(adapters.SourceGitHub) {
		t.Errorf("incident signals = %+v; want the GitHub alert as a vendor signal", inc.Signals)
	}
	requireGoogleAPIKeyDeleted(t, s, gcp, inc, uid, keyString)

	// Neither key string is in any record: answers, stack log, workflow history,
	// reports, the data dir (ledger and Temporal's database included).
	docs := map[string]string{"stack log": logs.String()}
	for i, ans := range answers {
		docs[fmt.Sprintf("answer %d", i)] = ans
	}
	secretsInNoRecord(t, s, inc.ID, docs, map[string]string{"the API key string": keyString, "the unknown key string": unknown})
}
