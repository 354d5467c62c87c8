package drill

import (
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/report"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func atPtr(s float64) *time.Time { t := at(s); return &t }

func f64(v float64) *float64 { return &v }

func intPtr(v int) *int { return &v }

// fixtureIncident is a drill incident as the workflow reports it: the SIEM first,
// AWS Health two seconds later with its quarantine observed, a simulated lead
// approving deactivation.
func fixtureIncident() sever.Incident {
	cred := sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "AKIADRILLEXPOSED0001",
		Principal: "arn:aws:iam::111122223333:user/ci-deployer", Account: "111122223333"}
	step := func(id, action string, status sever.StepStatus, enf sever.Enforcement, verified, containment bool, start, end float64) sever.Step {
		return sever.Step{ID: id, Action: action, Status: status, Enforcement: enf, Verified: verified, Containment: containment,
			Actor: "arn:aws:iam::111122223333:user/sever-responder", PolicyRule: "aws-evidence-auto",
			StartedAt: atPtr(start), EndedAt: atPtr(end), ArgsSHA256: sever.SHA256Hex([]byte(id))}
	}
	deactivate := step("deactivate", "aws.iam.deactivate_access_key", sever.StepSucceeded, sever.EnterpriseEnforced, true, true, 2.1, 2.4)
	deactivate.PolicyRule = "aws-containment-approval"
	deactivate.Approvals = []sever.Decision{{StepID: "deactivate", Approve: true, Approver: "simulated:soc-lead", Channel: "drill",
		ArgsSHA256: deactivate.ArgsSHA256, At: at(2.05), Reason: "drill enterprise-first: simulated responder soc-lead"}}
	vendor := step("vendor-quarantine", "aws.iam.detect_vendor_quarantine", sever.StepSucceeded, sever.VendorEnforced, true, false, 0.05, 0.1)
	vendor.Actor = "aws"
	return sever.Incident{
		ID: "drill-inc-aws-89f2f95392b8fd3d55a4", Status: sever.IncidentContained, Credential: cred, Drill: true,
		Runbook:  sever.RunbookRef{Name: "aws-access-key-exposed", Version: "1.0.0", SHA256: sever.SHA256Hex([]byte("runbook"))},
		Policy:   sever.RunbookRef{Name: "default", Version: "1", SHA256: sever.SHA256Hex([]byte("policy"))},
		OpenedAt: t0, ContainedAt: atPtr(3.1), Duplicates: 2,
		Signals: []sever.RecordedSignal{
			{Signal: sever.Signal{ID: "sig-0001", Source: "siem", SourceEventID: "enterprise-first-1", Origin: sever.OriginEnterprise,
				Kind: sever.KindAnomalousUsage, ObservedAt: t0, ReceivedAt: t0, Credential: cred, Severity: "critical",
				Summary: "Bedrock InvokeModel bursts from an unknown ASN", Drill: true, Reporter: "dev",
				PayloadSHA256: sever.SHA256Hex([]byte("siem"))}, Duplicates: 2},
			{Signal: sever.Signal{ID: "sig-0002", Source: "aws-health", SourceEventID: "enterprise-first-2", Origin: sever.OriginVendor,
				Kind: sever.KindCredentialExposed, ObservedAt: at(-60), ReceivedAt: at(2), Credential: cred, Severity: "critical",
				Summary: "AWS_RISK_CREDENTIALS_EXPOSED", Drill: true, Reporter: "dev",
				PayloadSHA256: sever.SHA256Hex([]byte("health"))}, DelaySeconds: 2},
		},
		Steps: []sever.Step{
			step("key-owner", "aws.sts.key_owner", sever.StepSucceeded, "", true, false, 0.01, 0.05),
			vendor,
			deactivate,
			step("revoke-sessions", "aws.iam.revoke_sessions", sever.StepSucceeded, sever.EnterpriseEnforced, true, true, 2.5, 3.0),
			step("notify", "sever.notify.log", sever.StepSucceeded, "", false, false, 3.0, 3.05),
		},
	}
}

// fixtureResult is a finished drill around fixtureIncident.
func fixtureResult() *Result {
	inc := fixtureIncident()
	rep, err := report.Build(inc, report.Options{Now: at(10)})
	if err != nil {
		panic(err)
	}
	return &Result{
		Scenario: ScenarioRef{Name: "enterprise-first", Description: "The SIEM sees the key first; AWS follows.",
			File: "builtin:enterprise-first.yaml", SHA256: sever.SHA256Hex([]byte("scenario")), Seed: 7},
		Passed: true, StartedAt: at(-1), EndedAt: at(5), DurationSeconds: 6,
		Policy: inc.Policy,
		Objectives: []ObjectiveResult{
			{Name: "contained_within", Target: "≤ 1m0s", Measured: "3.000s", Passed: true},
			{Name: "vendor_reliance_allowed", Target: "false: containment never rests on a vendor", Measured: "none", Passed: true},
		},
		Metrics: Metrics{TimeToFirstAction: f64(0.01), TimeToApproval: f64(2.05), TimeToVerifiedContainment: f64(3),
			AttackerSuccessesAfterSignal: 12, AttackerSuccessesAfterContainment: intPtr(0), AttackerAttempts: 30,
			ExpiredApprovals: []StepRef{},
			VendorSteps: []StepRef{{Incident: inc.ID, Step: "vendor-quarantine", Action: "aws.iam.detect_vendor_quarantine",
				Status: "succeeded", Enforcement: sever.VendorEnforced}},
			Incidents: 1, Deliveries: 4, SignalsRecorded: 2, DuplicatesRecorded: 2},
		Incidents: []IncidentResult{{ID: inc.ID, Status: inc.Status, Credential: "ci-key", CredentialID: inc.Credential.ID,
			Runbook: inc.Runbook, Policy: inc.Policy, DetectedBy: sever.OriginEnterprise, Sources: []string{"siem", "aws-health"},
			Signals: 2, Duplicates: 2, FirstAction: f64(0.01), Approval: f64(2.05), VerifiedContainment: f64(3),
			EnterpriseContained: true, Ledger: &LedgerResult{Entries: 21, Verified: true}, Report: rep}},
		Attackers: []AttackerResult{{Name: "llmjacker", Credential: "ci-key", CredentialID: inc.Credential.ID,
			Operations: []string{"bedrock:InvokeModel", "s3:ListBuckets"}, Rate: 5, Attempts: 30, Successes: 17, Denials: 13,
			SuccessesAfterSignal: 12, SuccessesAfterContainment: intPtr(0), LastSuccessAt: 3.9}},
		Responders: []ResponderResult{{Name: "soc-lead", Approver: "simulated:soc-lead", Groups: []string{"soc-leads"}, Asked: 2,
			Approved: 1, Missed: 1, Decisions: []ResponderDecision{
				{Incident: inc.ID, Step: "deactivate", At: 3.05, Outcome: "approved"},
				{Incident: inc.ID, Step: "revoke-sessions", At: 3.5, Outcome: "missed", Detail: "never answered"}}}},
		Signals: []SignalResult{
			{Source: "siem", Origin: "enterprise", Kind: "anomalous_usage", Credential: "ci-key", After: "start", At: 1, Sent: true,
				Deliveries: 3, Recorded: 1, Duplicate: 2, Incidents: []string{inc.ID}},
			{Source: "aws-health", Origin: "vendor", Kind: "credential_exposed", Credential: "ci-key", After: "containment", At: 3,
				Sent: true, Deliveries: 1, Recorded: 1, Incidents: []string{inc.ID}, Quarantine: "AWSCompromisedKeyQuarantineV3"},
		},
		Faults: []FaultResult{{At: 0, Service: "iam", Operation: "UpdateAccessKey", Caller: "sever", Kind: "throttle", Count: 2, Fired: 2}},
	}
}
