package report

import (
	"strings"
	"testing"

	"github.com/sever-ir/sever"
)

// mini is a small incident for table tests: one enterprise signal at T+0 and the
// steps and signals a case adds.
func mini(mut func(inc *sever.Incident)) sever.Incident {
	inc := sever.Incident{
		ID: "inc-mini", Status: sever.IncidentOpen, Credential: sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "AKIAIOSFODNN7EXAMPLE"},
		Runbook: sever.RunbookRef{Name: "mini", Version: "1"}, OpenedAt: at(0.1),
		Signals: []sever.RecordedSignal{{Signal: sever.Signal{ID: "sig-e", Source: "scanner", Origin: sever.OriginEnterprise,
			Kind: sever.KindCredentialExposed, ObservedAt: at(-5), ReceivedAt: at(0)}}},
	}
	if mut != nil {
		mut(&inc)
	}
	return inc
}

func vendorSignal(id string, received float64) sever.RecordedSignal {
	return sever.RecordedSignal{Signal: sever.Signal{ID: id, Source: "aws-health", Origin: sever.OriginVendor,
		Kind: sever.KindCredentialExposed, ObservedAt: at(received - 2), ReceivedAt: at(received)}}
}

func step(id string, status sever.StepStatus, enf sever.Enforcement, verified, containment bool, start, end float64) sever.Step {
	return sever.Step{ID: id, Action: "x." + id, Status: status, Enforcement: enf, Verified: verified,
		Containment: containment, Actor: "sever", StartedAt: atPtr(start), EndedAt: atPtr(end)}
}

// contained marks the incident contained at end as the workflow does.
func contained(inc *sever.Incident, end float64) {
	inc.Status, inc.ContainedAt = sever.IncidentContained, atPtr(end)
}

func spanSec(s *Span) any {
	if s == nil {
		return nil
	}
	return s.Seconds
}

func TestDurations(t *testing.T) {
	tests := []struct {
		name                        string
		inc                         sever.Incident
		firstAction, approval, cont any // seconds, or nil for none
		contRef                     string
		providers                   []string // substrings of each provider signal's text
		late                        []bool
	}{
		{
			name: "enterprise alone, no provider signal",
			inc: mini(func(inc *sever.Incident) {
				inc.Steps = []sever.Step{step("deactivate", sever.StepSucceeded, sever.EnterpriseEnforced, true, true, 0.4, 0.9)}
				contained(inc, 1.0)
			}),
			firstAction: 0.4, approval: nil, cont: 0.9, contRef: "deactivate",
		},
		{
			name: "first action is the earliest step that executed, failed ones included",
			inc: mini(func(inc *sever.Incident) {
				inc.Steps = []sever.Step{
					step("skipped", sever.StepSkipped, "", false, false, 0.2, 0.2),
					step("refused", sever.StepRefused, "", false, false, 0.25, 0.25),
					step("snapshot", sever.StepFailed, "", false, false, 0.3, 2),
					step("deactivate", sever.StepSucceeded, sever.EnterpriseEnforced, true, true, 0.5, 1.5),
				}
			}),
			firstAction: 0.3, approval: nil, cont: nil,
		},
		{
			name: "a denied step is not an action, a denial is not an approval",
			inc: mini(func(inc *sever.Incident) {
				st := step("deactivate", sever.StepSkipped, sever.HumanDenied, false, true, 30, 30)
				st.Approvals = []sever.Decision{{StepID: "deactivate", Approve: false, Approver: "U1", Channel: "slack", At: at(30)}}
				inc.Steps = []sever.Step{st}
				inc.Status = sever.IncidentFailed
			}),
			firstAction: nil, approval: nil, cont: nil,
		},
		{
			name: "the first person to approve; the policy's timeout fallback is not a person",
			inc: mini(func(inc *sever.Incident) {
				a := step("rotate", sever.StepSucceeded, sever.EnterpriseEnforced, true, false, 700, 710)
				a.Approvals = []sever.Decision{{Approve: true, Approver: "policy:r1", Channel: "timeout", At: at(699)}}
				b := step("deactivate", sever.StepSucceeded, sever.EnterpriseEnforced, true, true, 61, 62.5)
				b.Approvals = []sever.Decision{{Approve: true, Approver: "U2", Channel: "cli", At: at(60)},
					{Approve: true, Approver: "U1", Channel: "slack", At: at(58)}}
				inc.Steps = []sever.Step{a, b}
				contained(inc, 711)
			}),
			firstAction: 61.0, approval: 58.0, cont: 62.5, contRef: "deactivate",
		},
		{
			name: "containment is the last verified containment step",
			inc: mini(func(inc *sever.Incident) {
				inc.Steps = []sever.Step{
					step("deactivate", sever.StepSucceeded, sever.EnterpriseEnforced, true, true, 1, 2),
					step("revoke-sessions", sever.StepSucceeded, sever.EnterpriseEnforced, true, true, 1, 3.5),
					step("notify", sever.StepSucceeded, "", false, false, 3.6, 4),
				}
				contained(inc, 4.1)
			}),
			firstAction: 1.0, cont: 3.5, contRef: "revoke-sessions",
		},
		{
			name: "a vendor action never counts as containment",
			inc: mini(func(inc *sever.Incident) {
				inc.Steps = []sever.Step{step("observe", sever.StepSucceeded, sever.VendorEnforced, true, true, 1, 2)}
				contained(inc, 2.1)
			}),
			firstAction: 1.0, cont: nil,
		},
		{
			name: "an unverified containment step does not contain",
			inc: mini(func(inc *sever.Incident) {
				inc.Steps = []sever.Step{step("deactivate", sever.StepSucceeded, sever.EnterpriseEnforced, false, true, 1, 2)}
				contained(inc, 2.1)
			}),
			firstAction: 1.0, cont: nil,
		},
		{
			name: "provider signal opened the incident",
			inc: mini(func(inc *sever.Incident) {
				inc.Signals = []sever.RecordedSignal{vendorSignal("sig-v", 0)}
				inc.Steps = []sever.Step{step("deactivate", sever.StepSucceeded, sever.EnterpriseEnforced, true, true, 0.5, 5)}
				contained(inc, 5.1)
			}),
			firstAction: 0.5, cont: 5.0, contRef: "deactivate",
			providers: []string{"the provider's signal opened the incident, 5.0 s before the enterprise contained the key (the provider observed the event 2.0 s before it told us)"},
			late:      []bool{false},
		},
		{
			name: "late provider signal",
			inc: mini(func(inc *sever.Incident) {
				inc.Signals = append(inc.Signals, vendorSignal("sig-v", 67))
				inc.Steps = []sever.Step{step("deactivate", sever.StepSucceeded, sever.EnterpriseEnforced, true, true, 0.3, 0.8)}
				contained(inc, 0.9)
			}),
			firstAction: 0.3, cont: 0.8, contRef: "deactivate",
			providers: []string{"the provider's signal came 66.2 s (1m6s) after the enterprise had contained the key"},
			late:      []bool{true},
		},
		{
			name: "provider signal and no containment",
			inc: mini(func(inc *sever.Incident) {
				inc.Signals = append(inc.Signals, vendorSignal("sig-v", 12))
				inc.Steps = []sever.Step{step("deactivate", sever.StepFailed, sever.EnforcementNone, false, true, 0.3, 9)}
				inc.Status = sever.IncidentFailed
			}),
			firstAction: 0.3, cont: nil,
			providers: []string{"the provider's signal came 12.0 s after the first signal; the enterprise has not contained the key"},
			late:      []bool{false},
		},
		{
			name: "the clock starts at the first signal even if the workflow opened later",
			inc: mini(func(inc *sever.Incident) {
				inc.OpenedAt = at(2)
				inc.Steps = []sever.Step{step("deactivate", sever.StepSucceeded, sever.EnterpriseEnforced, true, true, 2.5, 3)}
				contained(inc, 3)
			}),
			firstAction: 2.5, cont: 3.0, contRef: "deactivate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Build(tt.inc, Options{Now: at(1000)})
			if err != nil {
				t.Fatal(err)
			}
			d := r.Durations
			if !d.Start.Equal(t0) {
				t.Errorf("start = %v, want the first signal at %v", d.Start, t0)
			}
			if got := spanSec(d.FirstAction); got != tt.firstAction {
				t.Errorf("first action = %v, want %v", got, tt.firstAction)
			}
			if got := spanSec(d.Approval); got != tt.approval {
				t.Errorf("approval = %v, want %v", got, tt.approval)
			}
			if got := spanSec(d.VerifiedContainment); got != tt.cont {
				t.Errorf("verified containment = %v, want %v", got, tt.cont)
			}
			if d.VerifiedContainment != nil && d.VerifiedContainment.Ref != tt.contRef {
				t.Errorf("containment ref = %q, want %q", d.VerifiedContainment.Ref, tt.contRef)
			}
			if (r.Incident.EnterpriseContainedAt != nil) != (tt.cont != nil) {
				t.Errorf("EnterpriseContainedAt = %v with containment %v", r.Incident.EnterpriseContainedAt, tt.cont)
			}
			if len(d.ProviderSignals) != len(tt.providers) {
				t.Fatalf("provider signals = %+v, want %d", d.ProviderSignals, len(tt.providers))
			}
			for i, p := range d.ProviderSignals {
				if !strings.Contains(p.Text, tt.providers[i]) || p.Late != tt.late[i] {
					t.Errorf("provider signal %d: late %t, text %q; want late %t, text containing %q", i, p.Late, p.Text, tt.late[i], tt.providers[i])
				}
			}
		})
	}
}

func TestGap(t *testing.T) {
	runbook := &sever.Runbook{Name: "mini", Version: "1", Steps: []sever.RunbookStep{
		{ID: "observe", Action: "x.observe"}, {ID: "deactivate", Action: "x.deactivate", Containment: true},
		{ID: "notify", Action: "x.notify"}, {ID: "rotate", Name: "Rotate the key", Action: "x.rotate"},
	}}
	tests := []struct {
		name                       string
		inc                        sever.Incident
		notified, vendor, ent, not string // step/signal refs per column
		contained                  bool
		verdict                    []string
		whyNot                     map[string]string
	}{
		{
			name: "vendor acted and the enterprise contained",
			inc: mini(func(inc *sever.Incident) {
				inc.Signals = append(inc.Signals, vendorSignal("sig-v", 3))
				inc.Steps = []sever.Step{
					step("observe", sever.StepSucceeded, sever.VendorEnforced, true, false, 1, 2),
					step("deactivate", sever.StepSucceeded, sever.EnterpriseEnforced, true, true, 2, 4),
					step("notify", sever.StepSucceeded, "", false, false, 4, 5),
				}
				contained(inc, 5)
			}),
			notified: "sig-v", vendor: "observe", ent: "deactivate", not: "rotate", contained: true,
			verdict: []string{"Contained by the enterprise: deactivate verified", "The vendor also acted (observe, observed)", "1 control not done"},
			whyNot:  map[string]string{"rotate": "the incident has no record of this step"},
		},
		{
			name: "vendor acted, the enterprise did not",
			inc: mini(func(inc *sever.Incident) {
				f := step("deactivate", sever.StepFailed, "", false, true, 2, 4)
				f.Error = "AccessDenied"
				inc.Steps = []sever.Step{step("observe", sever.StepSucceeded, sever.VendorEnforced, true, false, 1, 2), f}
				inc.Status = sever.IncidentFailed
			}),
			vendor: "observe", not: "deactivate, notify, rotate",
			verdict: []string{"Not contained by the enterprise", "but a vendor action never counts as containment by itself",
				"Containment steps not done: deactivate."},
			whyNot: map[string]string{"deactivate": "failed: AccessDenied"},
		},
		{
			name: "the workflow counted the vendor's action; the report does not",
			inc: mini(func(inc *sever.Incident) {
				inc.Steps = []sever.Step{step("deactivate", sever.StepSucceeded, sever.VendorEnforced, true, true, 1, 2)}
				contained(inc, 2)
			}),
			vendor: "deactivate", not: "observe, notify, rotate",
			verdict: []string{"Not contained by the enterprise", "a vendor action never counts as containment by itself"},
		},
		{
			name: "a read-back that did not show the control",
			inc: mini(func(inc *sever.Incident) {
				inc.Steps = []sever.Step{step("deactivate", sever.StepSucceeded, sever.EnterpriseEnforced, false, true, 1, 2)}
				inc.Status = sever.IncidentFailed
			}),
			not:     "deactivate, observe, notify, rotate",
			verdict: []string{"Not contained by the enterprise", "Containment steps not done: deactivate."},
			whyNot:  map[string]string{"deactivate": "ran, but the read-back did not show the control in place"},
		},
		{
			name: "denied and expired approvals",
			inc: mini(func(inc *sever.Incident) {
				d := step("deactivate", sever.StepSkipped, sever.HumanDenied, false, true, 9, 9)
				d.Error = "denied by U1: false positive"
				e := step("rotate", sever.StepSkipped, sever.ApprovalExpired, false, false, 900, 900)
				inc.Steps = []sever.Step{d, e}
				inc.Status = sever.IncidentFailed
			}),
			not:     "deactivate, rotate, observe, notify",
			verdict: []string{"Not contained by the enterprise"},
			whyNot:  map[string]string{"deactivate": "denied by U1: false positive", "rotate": "approval_expired"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb := *runbook
			rb.SHA256 = tt.inc.Runbook.SHA256
			r, err := Build(tt.inc, Options{Runbook: &rb, Now: at(1000)})
			if err != nil {
				t.Fatal(err)
			}
			g := r.Gap
			for _, c := range []struct {
				name      string
				got, want string
			}{
				{"vendor-notified", refs(g.VendorNotified, nil), tt.notified},
				{"vendor-enforced", refs(g.VendorEnforced, nil), tt.vendor},
				{"enterprise-enforced", refs(g.EnterpriseEnforced, nil), tt.ent},
				{"not done", refs(g.NotDone, nil), tt.not},
			} {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
				}
			}
			if g.EnterpriseContained != tt.contained {
				t.Errorf("EnterpriseContained = %t, want %t", g.EnterpriseContained, tt.contained)
			}
			for _, v := range tt.verdict {
				if !strings.Contains(g.Verdict, v) {
					t.Errorf("verdict %q lacks %q", g.Verdict, v)
				}
			}
			for ref, why := range tt.whyNot {
				found := false
				for _, e := range g.NotDone {
					if e.Ref == ref {
						found = true
						if e.Why != why {
							t.Errorf("not done %s: why %q, want %q", ref, e.Why, why)
						}
					}
				}
				if !found {
					t.Errorf("%s is not in not done", ref)
				}
			}
		})
	}
}
