package adapters_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sever-ir/sever/adapters"
)

// sourceEventIDShape is "<vendor event id>@<RFC 3339 version>#<16 hex digits>".
var sourceEventIDShape = regexp.MustCompile(`^.+@\d{4}-\d\d-\d\dT[0-9:.]+Z#[0-9a-f]{16}$`)

// octokitReopened is GitHub's own secret_scanning_alert/reopened example
// (octokit/webhooks payload-examples) with the alert's created_at and updated_at
// taken from GitHub's published secret_scanning_alert_location example for the
// same alert: a real payload, not one written for sever.
const octokitReopened = "github-secret-scanning-reopened.octokit.json"

// TestDedupKeys checks what the engine's dedup relies on, per adapter: the source
// event ID comes from the body alone (what the signature or token covers), so a
// resend of the same body is the same ID whatever came with it, and a body that
// says something new (a later version, another action, other content) is not.
func TestDedupKeys(t *testing.T) {
	t.Parallel()
	gh := func(id string, form bool) func([]byte) (adapters.Result, error) {
		return func(b []byte) (adapters.Result, error) {
			return adapters.ParseGitHub(adapters.GitHubDelivery{Event: "secret_scanning_alert", ID: id, Form: form}, b)
		}
	}
	ghOcto := fixture(t, octokitReopened)
	ghCreated := fixture(t, "github-secret-scanning-created.json")
	health := fixture(t, "aws-health-credentials-exposed.json")
	gd := fixture(t, "guardduty-anomalous-model-invocation.json")
	ocsf := fixture(t, "ocsf-detection-finding-aws-key.json")
	prov := fixture(t, "provider-anthropic-key-exposed.json")
	edit := func(name string, mut func(m map[string]any)) []byte { return mutate(t, name, mut) }

	tests := []struct {
		name           string
		parse1, parse2 func([]byte) (adapters.Result, error)
		body1, body2   []byte
		same           bool
	}{
		// The replay of issue 12.2: one signed body, fresh delivery IDs.
		{"github: same body, another delivery ID", gh("72d3162e-cc78-11e3-81ab-4c9367dc0958", false), gh("8e1c2a90-cc78-11e3-81ab-4c9367dc0958", false),
			ghOcto, ghOcto, true},
		{"github: GitHub's redelivery", gh(deliveryID, false), gh(deliveryID, false), ghCreated, ghCreated, true},
		{"github: the same JSON reformatted", gh("a", false), gh("b", false), ghOcto, compact(t, ghOcto), true},
		{"github: the same JSON form-encoded", gh("a", false), gh("b", true), ghOcto,
			[]byte(url.Values{"payload": {string(ghOcto)}}.Encode()), true},
		{"github: alert updated later", gh("a", false), gh("b", false), ghOcto,
			edit(octokitReopened, func(m map[string]any) { obj(m, "alert")["updated_at"] = "2022-04-02T08:00:00Z" }), false},
		{"github: another action", gh("a", false), gh("b", false), ghCreated,
			edit("github-secret-scanning-created.json", func(m map[string]any) { m["action"] = "publicly_leaked" }), false},
		{"github: same alert and time, other content", gh("a", false), gh("b", false), ghCreated,
			edit("github-secret-scanning-created.json", func(m map[string]any) { obj(m, "alert")["validity"] = "unknown" }), false},
		{"aws-health: resent", adapters.ParseAWSHealth, adapters.ParseAWSHealth, health, health, true},
		{"aws-health: same id, other content", adapters.ParseAWSHealth, adapters.ParseAWSHealth, health,
			edit("aws-health-credentials-exposed.json", func(m map[string]any) {
				obj(m, "detail", "eventMetadata")["exposedUrl"] = "https://example.com/other"
			}), false},
		{"guardduty: resent", adapters.ParseGuardDuty, adapters.ParseGuardDuty, gd, gd, true},
		{"guardduty: finding updated", adapters.ParseGuardDuty, adapters.ParseGuardDuty, gd,
			edit("guardduty-anomalous-model-invocation.json", func(m map[string]any) {
				obj(m, "detail")["updatedAt"] = "2025-06-01T15:35:10.118Z"
				obj(m, "detail", "service")["count"] = 15
			}), false},
		{"ocsf: resent", adapters.ParseOCSF, adapters.ParseOCSF, ocsf, ocsf, true},
		{"ocsf: same uid, later time", adapters.ParseOCSF, adapters.ParseOCSF, ocsf,
			edit("ocsf-detection-finding-aws-key.json", func(m map[string]any) { m["time"] = json.Number("1748771000000") }), false},
		{"provider: resent", adapters.ParseProvider, adapters.ParseProvider, prov, prov, true},
		// A sender who knows a notice ID cannot pre-empt the real notice by
		// sending other content under it first.
		{"provider: same notice_id, other content", adapters.ParseProvider, adapters.ParseProvider, prov,
			edit("provider-anthropic-key-exposed.json", func(m map[string]any) { m["summary"] = "nothing to see" }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r1, err1 := tt.parse1(tt.body1)
			r2, err2 := tt.parse2(tt.body2)
			if err1 != nil || err2 != nil {
				t.Fatalf("parse: %v / %v", err1, err2)
			}
			if len(r1.Signals) == 0 || len(r1.Signals) != len(r2.Signals) {
				t.Fatalf("signals: %d / %d", len(r1.Signals), len(r2.Signals))
			}
			for i := range r1.Signals {
				a, b := r1.Signals[i].SourceEventID, r2.Signals[i].SourceEventID
				if (a == b) != tt.same {
					t.Errorf("signal %d: source event IDs %q / %q; want same = %v", i, a, b, tt.same)
				}
				for _, id := range []string{a, b} {
					if !sourceEventIDShape.MatchString(id) || len(id) > 256 {
						t.Errorf("source event ID %q is not <event id>@<time>#<digest>", id)
					}
				}
			}
		})
	}
}

// TestDedupKeyNeverHoldsTheDeliveryID: the header outside the signature is not
// part of the signal at all.
func TestDedupKeyNeverHoldsTheDeliveryID(t *testing.T) {
	t.Parallel()
	const id = "deadbeef-0000-4000-8000-000000000001"
	res, err := adapters.ParseGitHub(adapters.GitHubDelivery{Event: "secret_scanning_alert", ID: id}, fixture(t, octokitReopened))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Signals[0].SourceEventID; strings.Contains(got, id) ||
		!strings.HasPrefix(got, "Codertocat/Hello-World/secret-scanning/191/reopened@2022-04-01T12:04:28Z#") {
		t.Errorf("source event ID = %q, want the alert, action and updated_at, no delivery ID", got)
	}
}

func compact(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
