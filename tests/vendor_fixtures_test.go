package tests

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every real vendor payload in adapters/testdata/vendor, posted to the live API,
// gets the answer adapters/README.md ("Real vendor payloads") gives it: 202
// accepted with an incident per signal for the credential named, 202 ignored, or
// 400 for a sample whose placeholder is no identifier. A file without a row fails.
func TestVendorFixturesLive(t *testing.T) {
	type want struct {
		code    int
		status  string   // accepted or ignored; "" for a refusal
		credIDs []string // the incidents' credential IDs, one per signal
	}
	table := map[string]want{
		"health-risk-credentials-exposed.aws-health-tools.json":                              {code: http.StatusBadRequest},
		"health-risk-credentials-exposed.aws-health-tools.key-filled.DERIVED.json":           {http.StatusAccepted, "accepted", []string{"AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"}},
		"health-risk-credentials-exposed.single-digit-day.DERIVED.json":                      {http.StatusAccepted, "accepted", []string{"AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"}},
		"health-risk-credentials-exposed.notify-and-remediate.json":                          {code: http.StatusBadRequest},
		"health-ec2-instance-store-drive-degraded.aws-health-tools.json":                     {http.StatusAccepted, "ignored", nil},
		"guardduty-recon-iamuser-maliciousipcaller-sample-archived.aws-samples.WRAPPED.json": {http.StatusAccepted, "ignored", nil},
		"guardduty-discovery-iamuser-anomalousbehavior-sample.elastic.WRAPPED.json":          {http.StatusAccepted, "ignored", nil},
		"guardduty-discovery-iamuser-anomalousbehavior-real.onug-csnf.WRAPPED.json":          {http.StatusAccepted, "accepted", []string{"ASIARZOOKWPXR24HLMYM"}},
		"github-secret-scanning-alert-reopened.octokit.json":                                 {http.StatusAccepted, "accepted", []string{"Codertocat/Hello-World/secret-scanning/191"}},
		"github-secret-scanning-alert-reopened.octokit.with-created-at.DERIVED.json":         {http.StatusAccepted, "accepted", []string{"Codertocat/Hello-World/secret-scanning/191"}},
		"ocsf-2004-sechub-guardduty-iam-accesskey.ocsf-examples.json":                        {http.StatusAccepted, "accepted", []string{"ASIATMJPC7EXAMPLE"}},
		"ocsf-2004-okta-login-failures.ocsf-examples.json":                                   {http.StatusAccepted, "ignored", nil},
		"ocsf-2004-prowler-acm-pass.ocsf-examples.json":                                      {http.StatusAccepted, "ignored", nil},
	}
	dir := filepath.Join("..", "adapters", "testdata", "vendor")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := startAWSStack(t)
	seen := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".json") {
			continue
		}
		seen++
		t.Run(name, func(t *testing.T) {
			w, ok := table[name]
			if !ok {
				t.Fatalf("%s has no row: say what it yields (adapters/README.md)", name)
			}
			body, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			path := "/v1/signals/" + strings.SplitN(name, "-", 2)[0]
			if strings.HasPrefix(name, "health-") {
				path = "/v1/signals/aws-health"
			}
			var header http.Header
			if strings.HasPrefix(name, "github-") {
				header = http.Header{"X-GitHub-Event": {"secret_scanning_alert"}, "X-GitHub-Delivery": {"72d3162e-cc78-11e3-81ab-4c9367dc0958"}}
			}
			resp := s.api.mustSend(t, req{method: http.MethodPost, path: path, body: body, header: header})
			raw := resp.body
			if resp.status != w.code {
				t.Fatalf("POST %s: %d %s; want %d", path, resp.status, raw, w.code)
			}
			if w.status == "" {
				return
			}
			var out struct {
				Status  string `json:"status"`
				Reason  string `json:"reason"`
				Signals []struct {
					IncidentID string `json:"incident_id"`
				} `json:"signals"`
			}
			if err := json.Unmarshal(raw, &out); err != nil {
				t.Fatal(err)
			}
			if out.Status != w.status || len(out.Signals) != len(w.credIDs) || (w.status == "ignored" && out.Reason == "") {
				t.Fatalf("answer %s; want %s with %d signals", raw, w.status, len(w.credIDs))
			}
			for i, sig := range out.Signals {
				inc, _ := s.api.mustIncident(t, sig.IncidentID)
				if inc.Credential.ID != w.credIDs[i] {
					t.Errorf("signal %d: incident %s is for %q, want %q", i, sig.IncidentID, inc.Credential.ID, w.credIDs[i])
				}
			}
		})
	}
	if seen != len(table) {
		t.Errorf("%d fixtures in %s, %d rows: a row names a file that is not there", seen, dir, len(table))
	}
}
