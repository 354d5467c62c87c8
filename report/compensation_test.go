package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
)

// The key was deactivated and verified, then the incident was closed as a false
// positive and the compensation (enable the key again, enterprise_enforced and read
// back) ran. The report must account for sever's re-enable and must not present the
// enterprise's containment as the standing outcome.
func TestFalsePositiveCompensationIsInTheReport(t *testing.T) {
	inc := mini(func(inc *sever.Incident) {
		inc.Steps = []sever.Step{step("deactivate", sever.StepSucceeded, sever.EnterpriseEnforced, true, true, 0.4, 0.9)}
		contained(inc, 1.0)
		en := step("deactivate.compensate", sever.StepSucceeded, sever.EnterpriseEnforced, true, false, 300, 301)
		en.Action = "aws.iam.activate_access_key"
		en.Approvals = []sever.Decision{{StepID: "deactivate.compensate", Approve: true, Approver: "U9", Channel: "close", At: at(300)}}
		inc.Compensations = []sever.Step{en}
		inc.Status, inc.ClosedAt, inc.Reason = sever.IncidentClosed, atPtr(300), "false positive: test key"
	})
	r, err := Build(inc, Options{Now: at(1000)})
	if err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	if err := r.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	inRows := false
	for _, row := range r.Accountability {
		if strings.Contains(row.Ref, "compensate") {
			inRows = true
		}
	}
	inTimeline := false
	for _, e := range r.Timeline {
		if strings.Contains(e.Ref, "compensate") {
			inTimeline = true
		}
	}
	if !inRows || !inTimeline || !strings.Contains(md.String(), "compensate") {
		t.Errorf("sever re-enabled the key (deactivate.compensate, enterprise_enforced, approved by U9 at close) and the report does not say so: "+
			"in accountability %t, in timeline %t, in markdown %t; verdict %q; enterprise_contained %t, enterprise_contained_at %v",
			inRows, inTimeline, strings.Contains(md.String(), "compensate"), r.Gap.Verdict, r.Gap.EnterpriseContained, r.Incident.EnterpriseContainedAt)
	}
}

// The verdict and the fields must say whether the control is still in place after a
// false-positive close, and every format must carry the undo and who approved it.
func TestCompensationVerdict(t *testing.T) {
	tests := []struct {
		name       string
		status     sever.StepStatus
		err        string
		wantUndone bool
		wantIn     []string
		wantNot    []string
	}{
		{name: "undone", status: sever.StepSucceeded, wantUndone: true,
			wantIn:  []string{"Containment undone", "deactivate.compensate", "no longer in place"},
			wantNot: []string{"the enterprise's own controls did the work"}},
		{name: "refused", status: sever.StepRefused, err: "rule r needs 2 approvals; undo it by hand",
			wantIn: []string{"did not undo the containment", "deactivate.compensate", "still in place"}},
		{name: "failed", status: sever.StepFailed, err: "AccessDenied",
			wantIn: []string{"did not undo the containment", "deactivate.compensate", "still in place"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := mini(func(inc *sever.Incident) {
				inc.Steps = []sever.Step{step("deactivate", sever.StepSucceeded, sever.EnterpriseEnforced, true, true, 0.4, 0.9)}
				contained(inc, 1.0)
				en := step("deactivate.compensate", tt.status, sever.EnterpriseEnforced, tt.status == sever.StepSucceeded, false, 300, 301)
				en.Action, en.Error, en.PolicyRule = "aws.iam.activate_access_key", tt.err, "undo-rule"
				en.Approvals = []sever.Decision{{StepID: en.ID, Approve: true, Approver: "U9", Channel: "close", At: at(300)}}
				inc.Compensations = []sever.Step{en}
				inc.Status, inc.ClosedAt, inc.Reason = sever.IncidentClosed, atPtr(300), "false positive: test key"
			})
			r, err := Build(inc, Options{Now: at(1000)})
			if err != nil {
				t.Fatal(err)
			}
			if r.Gap.ContainmentUndone != tt.wantUndone || (r.Incident.ContainmentUndoneAt != nil) != tt.wantUndone {
				t.Errorf("containment_undone %t, undone_at %v; want %t", r.Gap.ContainmentUndone, r.Incident.ContainmentUndoneAt, tt.wantUndone)
			}
			if !r.Gap.EnterpriseContained {
				t.Errorf("enterprise_contained is the historical fact and must stay true")
			}
			for _, s := range tt.wantIn {
				if !strings.Contains(r.Gap.Verdict, s) {
					t.Errorf("verdict %q lacks %q", r.Gap.Verdict, s)
				}
			}
			for _, s := range tt.wantNot {
				if strings.Contains(r.Gap.Verdict, s) {
					t.Errorf("verdict %q still says %q", r.Gap.Verdict, s)
				}
			}
			var approved, stepRow bool
			for _, p := range r.Accountability {
				if p.Ref != "deactivate.compensate" || !p.Compensation || p.Containment {
					continue
				}
				approved = approved || p.Kind == PointApproval && p.Who == "U9" && p.PolicyRule == "undo-rule"
				stepRow = stepRow || p.Kind == PointStep && p.PolicyRule == "undo-rule"
			}
			if !approved || !stepRow {
				t.Errorf("accountability: approval by U9 %t, step row %t; rows %+v", approved, stepRow, r.Accountability)
			}
			render := map[string]func(*bytes.Buffer) error{
				"markdown": func(b *bytes.Buffer) error { return r.Markdown(b) },
				"html":     func(b *bytes.Buffer) error { return r.HTML(b) },
				"ocsf":     func(b *bytes.Buffer) error { return r.OCSF(b) },
			}
			for name, fn := range render {
				var b bytes.Buffer
				if err := fn(&b); err != nil {
					t.Fatal(name, err)
				}
				if !strings.Contains(b.String(), "deactivate.compensate") || !strings.Contains(b.String(), "U9") {
					t.Errorf("%s does not carry the undo and its approver", name)
				}
			}
		})
	}
}
