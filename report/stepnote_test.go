package report

import (
	"testing"

	"github.com/sever-ir/sever"
)

func TestStepNote(t *testing.T) {
	tests := []struct {
		name string
		st   sever.Step
		want string
	}{
		{"nothing to say", sever.Step{Status: sever.StepSucceeded}, ""},
		{"enforced and verified", sever.Step{Status: sever.StepSucceeded, Enforcement: sever.EnterpriseEnforced, Verified: true},
			"  enterprise_enforced  verified"},
		{"error of a failed step", sever.Step{Status: sever.StepFailed, Error: "AccessDenied"}, "  (AccessDenied)"},
		{"error of a succeeded step is old news", sever.Step{Status: sever.StepSucceeded, Error: "throttled once"}, ""},
	}
	for _, tt := range tests {
		if got := StepNote(tt.st); got != tt.want {
			t.Errorf("%s: StepNote = %q, want %q", tt.name, got, tt.want)
		}
	}
}
