package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
)

// Containment failed (AccessDenied), the incident ended failed, and a person retried
// the step five minutes later; the second attempt was verified. The report keeps
// the first attempt (its own row and timeline event, its error) beside the second:
// a retry must not make a failed containment read as a clean first-time one.
func TestRetriedStepKeepsItsFailedAttempt(t *testing.T) {
	inc := mini(func(inc *sever.Incident) {
		first := step("deactivate", sever.StepFailed, sever.EnterpriseEnforced, false, true, 0.4, 0.9)
		first.Error, first.Attempt = "AccessDenied: iam:UpdateAccessKey denied to sever's role", 1
		inc.PriorAttempts = []sever.Step{first}
		inc.Steps = []sever.Step{step("deactivate", sever.StepSucceeded, sever.EnterpriseEnforced, true, true, 300, 300.5)}
		contained(inc, 300.5)
	})
	r, err := Build(inc, Options{Now: at(1000)})
	if err != nil {
		t.Fatal(err)
	}
	var failedRow, latestRow bool
	for _, row := range r.Accountability {
		switch {
		case row.Ref == "deactivate" && row.Status == string(sever.StepFailed):
			failedRow = strings.Contains(row.What, "attempt 1, retried") && strings.Contains(row.Detail, "AccessDenied")
		case row.Ref == "deactivate" && row.Status == string(sever.StepSucceeded):
			latestRow = row.Verified && !strings.Contains(row.What, "attempt")
		}
	}
	failedEvent := false
	for _, e := range r.Timeline {
		if e.Ref == "deactivate" && e.Status == string(sever.StepFailed) && strings.Contains(e.Text, "attempt 1, retried") {
			failedEvent = true
		}
	}
	var md bytes.Buffer
	if err := r.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	if !failedRow || !latestRow || !failedEvent || !strings.Contains(md.String(), "AccessDenied") {
		t.Errorf("failed attempt in accountability %v, latest attempt %v, in the timeline %v, in Markdown %v:\n%s",
			failedRow, latestRow, failedEvent, strings.Contains(md.String(), "AccessDenied"), md.String())
	}
	// The verified second attempt is still the enterprise's containment.
	if !r.Gap.EnterpriseContained {
		t.Errorf("enterprise_contained = false; the retried step was verified")
	}
}
