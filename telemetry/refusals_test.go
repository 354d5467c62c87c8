package telemetry_test

import (
	"fmt"
	"testing"

	"github.com/sever-ir/sever/telemetry"
)

// Refusals are counted by reason; the reason label stays low-cardinality whatever
// the caller passes.
func TestDecisionRefusedCounted(t *testing.T) {
	m, err := telemetry.New(telemetry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		m.DecisionRefused("self_approval")
	}
	m.DecisionRefused("forged_signature")
	m.DecisionRefusedAggregated("forged_signature")
	for _, bad := range []string{"", "Self Approval", "reason-with-dash", "x\nname=\"y\""} {
		m.DecisionRefused(bad)
	}
	for i := range telemetry.MaxRefusalReasons + 10 {
		m.DecisionRefused(fmt.Sprintf("reason_%c%c", 'a'+i%26, 'a'+i/26))
	}
	fams, _ := scrape(t, m)
	cases := []struct {
		name, reason string
		want         float64
	}{
		{"sever_decisions_refused_total", "self_approval", 3},
		{"sever_decisions_refused_total", "forged_signature", 1},
		{"sever_decisions_refused_aggregated_total", "forged_signature", 1},
	}
	for _, tc := range cases {
		s := metric(fams, tc.name, map[string]string{"reason": tc.reason})
		if s == nil || s.GetCounter().GetValue() != tc.want {
			t.Errorf("%s{reason=%q} = %v, want %v", tc.name, tc.reason, s, tc.want)
		}
	}
	if n := len(fams["sever_decisions_refused_total"].GetMetric()); n > telemetry.MaxRefusalReasons+1 {
		t.Errorf("%d reason series, want at most %d (the cap and other)", n, telemetry.MaxRefusalReasons+1)
	}
	if s := metric(fams, "sever_decisions_refused_total", map[string]string{"reason": telemetry.OtherLabel}); s == nil || s.GetCounter().GetValue() < 4 {
		t.Errorf("other = %v, want the bad reasons and those past the cap", s)
	}
	var nilMetrics *telemetry.Metrics
	nilMetrics.DecisionRefused("outsider")
	nilMetrics.DecisionRefusedAggregated("outsider")
}
