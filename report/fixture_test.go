package report

import (
	"time"

	"github.com/sever-ir/sever"
)

func init() {
	// Golden files must not change with the build that runs the tests.
	productVersion = "test"
}

// t0 is when the first signal was accepted.
var t0 = time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)

func at(seconds float64) time.Time { return t0.Add(time.Duration(seconds * float64(time.Second))) }

func atPtr(seconds float64) *time.Time {
	t := at(seconds)
	return &t
}

// leaked is shaped like a live Anthropic key; it must never reach a report.
const leaked = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"

func hashOf(s string) string { return sever.SHA256Hex([]byte(s)) }

var fixtureCred = sever.Credential{Provider: "acme-issuer", Type: sever.CredGenericToken, ID: "svc-deploy-7",
	Principal: "deploy-bot", Account: "acme-prod"}

// fixtureRunbook is the pinned runbook of fixtureIncident.
func fixtureRunbook() *sever.Runbook {
	src := "fixture runbook source"
	return &sever.Runbook{
		Name: "token-containment", Version: "2.1.0", SHA256: hashOf(src), Source: src,
		Frameworks: sever.Frameworks{OWASPNHI: []string{"NHI2"}, OWASPAgentic: []string{"ASI03"},
			MAESTRO: []int{6}, NISTAIRMF: []string{"Manage"}},
		Steps: []sever.RunbookStep{
			{ID: "observe-vendor", Name: "Observe whether the issuer disabled the token", Action: sever.ActionTokenVendorSeen,
				OnFailure: sever.FailContinue, Frameworks: sever.Frameworks{MAESTRO: []int{5}, NISTAIRMF: []string{"Measure"}}},
			{ID: "capture", Name: "Capture the signals as evidence", Action: sever.ActionCaptureSignals,
				Frameworks: sever.Frameworks{MAESTRO: []int{5}, NISTAIRMF: []string{"Measure"}}},
			{ID: "disable", Name: "Disable the token", Action: sever.ActionTokenDisable, Needs: []string{"capture"},
				Mutating: true, Containment: true, Enforcement: sever.EnterpriseEnforced,
				Approval: &sever.ApprovalSpec{Approvers: []string{"U012AB3CD"}, Quorum: 1, OnTimeout: sever.OnTimeoutDeny},
				Frameworks: sever.Frameworks{OWASPNHI: []string{"NHI2", "NHI7"}, OWASPAgentic: []string{"ASI03"},
					MAESTRO: []int{6}, NISTAIRMF: []string{"Manage"}}},
			{ID: "notify", Name: "Tell the operators", Action: sever.ActionNotifyLog, Needs: []string{"disable"},
				OnFailure: sever.FailContinue, Frameworks: sever.Frameworks{NISTAIRMF: []string{"Manage", "Govern"}}},
			{ID: "escalate", Name: "Page the on-call lead for critical signals", Action: sever.ActionNoop,
				When: `signals.exists(s, s.severity == "critical" && s.origin == "enterprise")`},
		},
	}
}

// fixtureIncident has an enterprise detection, a vendor notice before containment, a
// vendor action observed, an approval, an enterprise containment verified by
// read-back, a failed step, a skipped step, and a provider signal that came after
// containment.
func fixtureIncident() sever.Incident {
	rb := fixtureRunbook()
	disableArgs := sever.ArgsSHA256(sever.ActionTokenDisable, fixtureCred, nil)
	return sever.Incident{
		ID: sever.IncidentID(fixtureCred), Status: sever.IncidentContained, Credential: fixtureCred,
		Runbook: rb.Ref(), Policy: sever.RunbookRef{Name: "default", Version: "3", SHA256: hashOf("policy")},
		OpenedAt: at(0.05), ContainedAt: atPtr(49.6), HoldUntil: atPtr(3649.6), Duplicates: 1, Runs: 1,
		Signals: []sever.RecordedSignal{
			{Signal: sever.Signal{ID: "sig-enterprise-1", Source: "gitleaks-ci", SourceEventID: "scan-991",
				Origin: sever.OriginEnterprise, Kind: sever.KindCredentialExposed, ObservedAt: at(-30), ReceivedAt: at(0),
				Credential: fixtureCred, Severity: "high", Summary: "token committed to acme/infra in commit 1a2b3c",
				PayloadSHA256: hashOf("gitleaks payload"), Reporter: "ci-scanner",
				Labels: []string{"repo:acme/infra", "pasted " + leaked}}, Duplicates: 1},
			{Signal: sever.Signal{ID: "sig-vendor-2", Source: "acme-issuer", SourceEventID: "abuse-77",
				Origin: sever.OriginVendor, Kind: sever.KindAbuseReport, ObservedAt: at(-10), ReceivedAt: at(40),
				Credential: fixtureCred, Severity: "critical", Summary: "issuer saw the token used from 203.0.113.7",
				PayloadSHA256: hashOf("abuse payload"), Reporter: "acme-issuer-webhook"}, DelaySeconds: 39.95},
			{Signal: sever.Signal{ID: "sig-vendor-3", Source: "acme-issuer-notices", SourceEventID: "notice-12",
				Origin: sever.OriginVendor, Kind: sever.KindVendorAction, ObservedAt: at(200), ReceivedAt: at(251.8),
				Credential: fixtureCred, Severity: "medium", Summary: "issuer disabled the token on its own",
				PayloadSHA256: hashOf("notice payload"), Reporter: "acme-issuer-webhook"}, DelaySeconds: 251.75},
		},
		Steps: []sever.Step{
			{ID: "observe-vendor", Action: sever.ActionTokenVendorSeen, Status: sever.StepSucceeded,
				Enforcement: sever.VendorEnforced, Verified: true, Actor: "vendor:acme-issuer", PolicyRule: "evidence-auto",
				StartedAt: atPtr(1.2), EndedAt: atPtr(1.9), Summary: "vendor disabled token svc-deploy-7 on its own"},
			{ID: "capture", Action: sever.ActionCaptureSignals, Status: sever.StepSucceeded,
				Enforcement: sever.EnterpriseEnforced, Verified: true, Actor: "sever", PolicyRule: "evidence-auto",
				StartedAt: atPtr(1.0), EndedAt: atPtr(1.4), Summary: "captured 1 signal(s) as evidence",
				Evidence: []sever.Artifact{{Name: "signals-capture", URI: "file:///var/lib/sever/evidence/signals-capture.json",
					SHA256: hashOf("signals evidence"), Size: 812}}},
			{ID: "disable", Action: sever.ActionTokenDisable, Status: sever.StepSucceeded,
				Enforcement: sever.EnterpriseEnforced, Verified: true, Actor: "sever", PolicyRule: "token-disable-approval",
				StartedAt: atPtr(45.2), EndedAt: atPtr(46.8), ArgsSHA256: disableArgs, Containment: true,
				Summary:  "token svc-deploy-7 set inactive; verify: token svc-deploy-7 is inactive (expected inactive)",
				Evidence: []sever.Artifact{{Name: "token-state", SHA256: hashOf("token state after disable")}},
				Approvals: []sever.Decision{{StepID: "disable", Approve: true, Approver: "U012AB3CD", Channel: "slack",
					ArgsSHA256: disableArgs, At: at(45), Reason: "confirmed leak in public repo"}}},
			{ID: "notify", Action: sever.ActionNotifyLog, Status: sever.StepFailed, Actor: "sever",
				PolicyRule: "evidence-auto", StartedAt: atPtr(47), EndedAt: atPtr(49.5),
				Error: "webhook returned HTTP 500; request echoed " + leaked},
			{ID: "escalate", Action: sever.ActionNoop, Status: sever.StepSkipped,
				StartedAt: atPtr(1.0), EndedAt: atPtr(1.0),
				Error: `condition false: signals.exists(s, s.severity == "critical" && s.origin == "enterprise")`},
		},
	}
}

// fixtureNow is when the fixture's report is generated.
var fixtureNow = at(600)

func fixtureReport() (*Report, error) {
	return Build(fixtureIncident(), Options{Runbook: fixtureRunbook(), Now: fixtureNow,
		TemporalUIURL: "http://127.0.0.1:8233/namespaces/default/workflows/{id}"})
}
