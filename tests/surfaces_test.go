package tests

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/sever-ir/sever/adapters"
)

// get fetches a path of the stack without a token (the dev UI and /metrics) or with
// the dev token.
func get(t *testing.T, s *stack, path string, token bool) (int, string) {
	t.Helper()
	r, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
	if token {
		r.Header.Set("Authorization", "Bearer "+s.DevToken)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The surfaces around an incident on the live stack: Prometheus metrics, the web UI,
// the report, and a GitHub secret-scanning delivery signed with the webhook secret
// sever dev wrote to its data dir.
func TestIncidentSurfaces(t *testing.T) {
	s := startStack(t, newConfig(t))
	c := tokenCred("acme-internal", "tok-surfaces-1")
	s.enrol(t, c.id)
	sub := s.api.submit(t, nativeSignal(c, "ev-surfaces-1"))
	s.api.waitIncident(t, sub.IncidentID, "contained", func(i incidentJSON) bool { return i.Status == "contained" })

	t.Run("metrics", func(t *testing.T) {
		var body string
		waitFor(t, "containment in the metrics", func() error {
			code, b := get(t, s, "/metrics", false)
			body = b
			if code != http.StatusOK || !strings.Contains(b, "sever_time_to_contain_seconds_count") {
				return errNotYet
			}
			return nil
		})
		for _, want := range []string{
			`sever_signals_accepted_total{origin="enterprise",source="e2e-siem"} 1`,
			`sever_time_to_contain_seconds_count{drill="false"} 1`,
			`sever_incidents{status="contained"} 1`,
			"temporal_", // the SDK's own metrics share the registry
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
		if strings.Contains(body, c.id) || strings.Contains(body, sub.IncidentID) {
			t.Error("/metrics names a credential or an incident")
		}
	})

	t.Run("web ui", func(t *testing.T) {
		code, list := get(t, s, "/", false)
		if code != http.StatusOK || !strings.Contains(list, c.id) || !strings.Contains(list, "contained") {
			t.Fatalf("GET / = %d:\n%.400s", code, list)
		}
		code, page := get(t, s, "/incidents/"+sub.IncidentID, false)
		if code != http.StatusOK || !strings.Contains(page, "<svg") || !strings.Contains(page, "tokenstore.disable_token") {
			t.Fatalf("incident page = %d:\n%.400s", code, page)
		}
	})

	t.Run("report", func(t *testing.T) {
		code, md := get(t, s, "/v1/incidents/"+sub.IncidentID+"/report?format=md", true)
		if code != http.StatusOK || !strings.Contains(md, sub.IncidentID) || !strings.Contains(md, "enterprise_enforced") {
			t.Fatalf("report = %d:\n%.600s", code, md)
		}
		if code, _ := get(t, s, "/v1/incidents/"+sub.IncidentID+"/report?format=pdf", true); code != http.StatusBadRequest {
			t.Errorf("report in an unknown format: %d, want 400", code)
		}
	})

	t.Run("github webhook", func(t *testing.T) {
		body, err := os.ReadFile("../adapters/testdata/github-secret-scanning-created.json")
		if err != nil {
			t.Fatal(err)
		}
		send := func(sig string) int {
			status, _ := postGitHubDelivery(t, s, body, "6c1f1f4e-e2e0-11ee-8000-000000000001", sig)
			return status
		}
		if got := send(adapters.SignGitHub([]byte("not-the-secret-0123456789"), body)); got != http.StatusUnauthorized {
			t.Errorf("delivery signed with another secret: %d, want 401", got)
		}
		if got := send(signGitHub(t, s, body)); got != http.StatusAccepted {
			t.Errorf("signed delivery: %d, want 202", got)
		}
	})
}
