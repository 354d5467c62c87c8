package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/service"
)

// TestBadInputHostile is the chaos suite's bad-input phase for a hostile client
// (issue 12) on the live stack: a signed vendor delivery replayed under new delivery
// IDs, and secrets hidden from a naive filter. The unit tests of each control are in
// its package; this checks the controls hold where a client meets them.
func TestBadInputHostile(t *testing.T) {
	s := startStack(t, newConfig(t))

	t.Run("github delivery replayed under new delivery IDs", func(t *testing.T) {
		body, err := os.ReadFile("../adapters/testdata/github-secret-scanning-created.json")
		if err != nil {
			t.Fatal(err)
		}
		sig := signGitHub(t, s, body)
		var answers []service.SubmitResult
		for i := range 3 {
			status, b := postGitHubDelivery(t, s, body, fmt.Sprintf("6c1f1f4e-e2e0-11ee-8000-00000000000%d", i+1), sig)
			var res httpapi.AdapterResult
			err := json.Unmarshal(b, &res)
			if status != http.StatusAccepted || err != nil || len(res.Signals) != 1 {
				t.Fatalf("delivery %d: status %d, %+v, %v", i+1, status, res, err)
			}
			answers = append(answers, res.Signals[0])
		}
		if answers[0].Duplicate || !answers[1].Duplicate || !answers[2].Duplicate {
			t.Errorf("answers %+v: want the first recorded and both replays duplicates", answers)
		}
		id := answers[0].IncidentID
		inc := s.api.waitIncident(t, id, "the delivery and its replays", func(i incidentJSON) bool {
			return len(i.Signals) >= 1 && i.Duplicates >= 2
		})
		if len(inc.Signals) != 1 || inc.Duplicates != 2 {
			t.Errorf("incident %s holds %d signals and %d duplicates; want 1 and 2", id, len(inc.Signals), inc.Duplicates)
		}
	})

	t.Run("secrets hidden from a naive filter", func(t *testing.T) {
		// Built from parts so the source holds no key-shaped literal.
		alnum := strings.Repeat("a1B2c3D4e5F6g7H8", 8)
		anthropic := "sk-ant-" + "api03-" + alnum[:93] + "AA"
		slackBot := "xox" + "b-" + "123456789012-1234567890123-" + alnum[:24]
		cases := []struct{ name, summary, rule string }{
			{"slack bot token", "bot token " + slackBot, "slack"},
			{"anthropic key split by a space", "key sk-ant- " + anthropic[len("sk-ant-"):], "anthropic"},
			{"anthropic key with a zero-width space", anthropic[:14] + "\u200b" + anthropic[14:], "anthropic"},
			{"gitlab token", "token " + "gl" + "pat-" + alnum[:20], "gitlab"},
			{"google api key", "AI" + "za" + alnum[:35], "gcp"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := tokenCred("acme-hostile", "svc-hostile-"+strings.ReplaceAll(tc.name, " ", "-"))
				sig := nativeSignal(c, "evt-hostile")
				sig["summary"] = tc.summary
				resp := s.api.mustSend(t, req{method: http.MethodPost, path: "/v1/signals", body: mustJSON(t, sig)})
				if resp.status != http.StatusBadRequest {
					t.Fatalf("status %d, want 400: %s", resp.status, resp.body)
				}
				e := decode[errorJSON](t, "error body", resp).Error
				if e.Field != "summary" || !strings.Contains(e.Message, tc.rule) {
					t.Errorf("error %+v: want field summary and a message naming the %s rule", e, tc.rule)
				}
				for _, part := range []string{alnum[:20], slackBot[10:]} {
					if strings.Contains(string(resp.body), part) {
						t.Fatalf("the error repeats the secret: %s", resp.body)
					}
				}
				if got := s.api.mustSend(t, req{method: http.MethodGet, path: "/v1/incidents/" + c.incidentID()}); got.status != http.StatusNotFound {
					t.Errorf("a refused signal opened incident %s: %d", c.incidentID(), got.status)
				}
			})
		}
	})
}
