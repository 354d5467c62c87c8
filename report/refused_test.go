package report

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// Refused attempts from the ledger appear in the accountability section of every
// rendering, in time order, with free text scrubbed; a report without any has no
// such section.
func TestRefusedAttemptsInAccountability(t *testing.T) {
	at := time.Date(2026, 3, 14, 9, 5, 0, 0, time.UTC)
	refused := []RefusedAttempt{
		{At: at.Add(time.Minute), Reason: "forged_signature", Who: "203.0.113.9:4411", Channel: "slack-http",
			What: "slack interactivity request", Why: "invalid signature", Count: 997},
		{At: at, Reason: "self_approval", Who: "analyst", Step: "disable", Channel: "api", What: "approve",
			Why: "analyst raised this incident; pasted " + leaked},
	}
	cases := []struct {
		name    string
		refused []RefusedAttempt
		want    []string
		absent  []string
	}{
		{"WithRefusals", refused,
			[]string{"Refused attempts", "self_approval", "analyst", "forged_signature", "203.0.113.9:4411", "997"},
			[]string{leaked}},
		{"WithoutRefusals", nil, nil, []string{"Refused attempts"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inc := fixtureIncident()
			r, err := Build(inc, Options{Runbook: fixtureRunbook(), Now: at, Refused: tc.refused})
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.refused) > 0 && (len(r.Refused) != 2 || r.Refused[0].Reason != "self_approval" || r.Refused[0].Count != 1) {
				t.Fatalf("report refused = %+v, want time order and a count of at least 1", r.Refused)
			}
			for _, format := range []string{"md", "html", "json"} {
				var buf bytes.Buffer
				if _, err := Render(&buf, r, format); err != nil {
					t.Fatalf("%s: %v", format, err)
				}
				out := buf.String()
				if format == "json" {
					out = strings.ReplaceAll(out, "refused_attempts", "Refused attempts")
				}
				for _, w := range tc.want {
					if !strings.Contains(out, w) {
						t.Errorf("%s lacks %q", format, w)
					}
				}
				for _, a := range tc.absent {
					if strings.Contains(out, a) {
						t.Errorf("%s contains %q", format, a)
					}
				}
			}
		})
	}
}
