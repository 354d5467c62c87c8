package drill

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
)

func metric(c Comparison, name string) MetricDelta {
	for _, m := range c.Metrics {
		if m.Name == name {
			return m
		}
	}
	return MetricDelta{}
}

func TestCompare(t *testing.T) {
	before := fixtureResult()
	after := fixtureResult()
	after.Policy = sever.RunbookRef{Name: "aws-preapproved", Version: "1", SHA256: sever.SHA256Hex([]byte("pre"))}
	after.Metrics.TimeToApproval = nil
	after.Metrics.TimeToVerifiedContainment = f64(1.2)
	after.Metrics.TimeToFirstAction = f64(0.06) // within the noise band
	after.Metrics.AttackerSuccessesAfterSignal = 5
	after.Metrics.ExpiredApprovals = []StepRef{{Incident: "x", Step: "rotate-secrets"}}

	c := Compare(before, after)
	tests := []struct {
		name, verdict string
		delta         *float64
	}{
		{"time_to_verified_containment", Better, f64(-1.8)},
		{"time_to_first_action", Same, f64(0.05)},
		{"time_to_approval", NA, nil},
		{"attacker_successes_after_signal", Better, f64(-7)},
		{"attacker_successes_after_containment", Same, f64(0)},
		{"expired_approvals", Worse, f64(1)},
		{"objectives_missed", Same, f64(0)},
	}
	for _, tt := range tests {
		m := metric(c, tt.name)
		if m.Verdict != tt.verdict {
			t.Errorf("%s: verdict %q, want %q (%+v)", tt.name, m.Verdict, tt.verdict, m)
		}
		if (m.Delta == nil) != (tt.delta == nil) || m.Delta != nil && *m.Delta != *tt.delta {
			t.Errorf("%s: delta %v, want %v", tt.name, m.Delta, tt.delta)
		}
	}
	if c.Containment != "faster" {
		t.Errorf("containment %q, want faster", c.Containment)
	}
	if !strings.Contains(strings.Join(c.Notes, "\n"), "policy changed: default@1") {
		t.Errorf("notes %q do not say the policy changed", c.Notes)
	}

	// Losing containment is worse than any time.
	lost := fixtureResult()
	lost.Metrics.TimeToVerifiedContainment = nil
	lost.Objectives[0].Passed = false
	c = Compare(before, lost)
	if m := metric(c, "time_to_verified_containment"); m.Verdict != Worse || m.Why != "no longer reached" {
		t.Errorf("lost containment: %+v", m)
	}
	if c.Containment != "no longer contained" {
		t.Errorf("containment %q", c.Containment)
	}
	if m := metric(c, "objectives_missed"); m.Verdict != Worse {
		t.Errorf("objectives_missed: %+v", m)
	}
	if c.Objectives[0].Before != "pass" || c.Objectives[0].After != "fail" {
		t.Errorf("objective change = %+v", c.Objectives[0])
	}
	if c = Compare(lost, before); c.Containment != "now contained" {
		t.Errorf("containment %q, want now contained", c.Containment)
	}

	other := fixtureResult()
	other.Scenario.Name = "provider-late"
	if c = Compare(before, other); !strings.Contains(strings.Join(c.Notes, "\n"), "different scenarios") {
		t.Errorf("notes %q", c.Notes)
	}
	if c = Compare(before, fixtureResult()); !strings.Contains(strings.Join(c.Notes, "\n"), "run-to-run variation") || c.Containment != "same" {
		t.Errorf("identical runs: %q %q", c.Containment, c.Notes)
	}
}

func TestCompareGolden(t *testing.T) {
	before := fixtureResult()
	after := fixtureResult()
	after.Policy = sever.RunbookRef{Name: "aws-preapproved", Version: "1", SHA256: sever.SHA256Hex([]byte("pre"))}
	after.Metrics.TimeToApproval = nil
	after.Metrics.TimeToVerifiedContainment = f64(1.2)
	after.Metrics.AttackerSuccessesAfterSignal = 5
	c := Compare(before, after)
	var md, js bytes.Buffer
	if err := c.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := c.JSON(&js); err != nil {
		t.Fatal(err)
	}
	golden(t, "compare.md", md.Bytes())
	golden(t, "compare.json", js.Bytes())
}
