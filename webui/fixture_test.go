package webui_test

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/service"
	"github.com/sever-ir/sever/webui"
)

// t0 is when the first signal was accepted.
var t0 = time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)

func at(seconds float64) time.Time { return t0.Add(time.Duration(seconds * float64(time.Second))) }

func atPtr(seconds float64) *time.Time {
	t := at(seconds)
	return &t
}

var awsCred = sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "AKIAIOSFODNN7EXAMPLE",
	Principal: "arn:aws:iam::123456789012:user/ci-deployer", Account: "123456789012"}

var openCred = sever.Credential{Provider: "anthropic", Type: sever.CredAnthropicAPIKey, ID: "apikey_01Rj2N8SVvo6BePZj99NhmiT"}

const (
	evidenceHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	payloadHash  = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	runbookHash  = "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"
)

// containedIncident is what an AWS key incident looks like after the standard
// runbook: an enterprise detection, evidence captured, a person approved the
// deactivation, the key was deactivated and read back, and AWS's own notice came
// an hour later.
func containedIncident() sever.Incident {
	args := sever.ArgsSHA256(sever.ActionAWSDeactivateKey, awsCred, nil)
	return sever.Incident{
		ID: sever.IncidentID(awsCred), Status: sever.IncidentContained, Credential: awsCred,
		Runbook:  sever.RunbookRef{Name: "aws-access-key-exposed", Version: "1.2.0", SHA256: runbookHash},
		Policy:   sever.RunbookRef{Name: "default", Version: "1", SHA256: evidenceHash},
		OpenedAt: at(0), ContainedAt: atPtr(1.4), HoldUntil: atPtr(7 * 24 * 3600), Runs: 1,
		Signals: []sever.RecordedSignal{
			{Signal: sever.Signal{ID: "sig-gitleaks-1", Source: "gitleaks-ci", SourceEventID: "scan-42",
				Origin: sever.OriginEnterprise, Kind: sever.KindCredentialExposed, ObservedAt: at(-20), ReceivedAt: at(0),
				Credential: awsCred, Severity: "high", Summary: "key committed to acme/infra",
				PayloadSHA256: payloadHash, Reporter: "ci-scanner"}},
			{Signal: sever.Signal{ID: "sig-aws-health-2", Source: "aws-health", SourceEventID: "AWS_RISK_CREDENTIALS_EXPOSED-1",
				Origin: sever.OriginVendor, Kind: sever.KindCredentialExposed, ObservedAt: at(3000), ReceivedAt: at(3600),
				Credential: awsCred, Severity: "critical", Summary: "AWS found the key on a public site",
				PayloadSHA256: evidenceHash, Reporter: "aws-health-bridge"}, DelaySeconds: 3600},
		},
		Steps: []sever.Step{
			{ID: "capture", Action: sever.ActionCaptureSignals, Status: sever.StepSucceeded, Verified: true,
				Actor: "sever", PolicyRule: "evidence-auto", StartedAt: atPtr(0.1), EndedAt: atPtr(0.3),
				Summary: "1 signal captured", Evidence: []sever.Artifact{{Name: "signals.json", URI: "evidence/capture/signals.json", SHA256: evidenceHash}}},
			{ID: "deactivate", Action: sever.ActionAWSDeactivateKey, Status: sever.StepSucceeded,
				Enforcement: sever.EnterpriseEnforced, Verified: true, Actor: "sever", PolicyRule: "aws-deactivate-approved",
				StartedAt: atPtr(1.0), EndedAt: atPtr(1.4), ArgsSHA256: args, Containment: true,
				Summary: "key AKIAIOSFODNN7EXAMPLE is Inactive (read back)",
				Approvals: []sever.Decision{{StepID: "deactivate", Approve: true, Approver: "U012AB3CD", Channel: "slack",
					ArgsSHA256: args, At: at(0.9), Reason: "confirmed leak"}}},
		},
	}
}

// openIncident is parked on an approval.
func openIncident() sever.Incident {
	return sever.Incident{
		ID: sever.IncidentID(openCred), Status: sever.IncidentOpen, Credential: openCred,
		Runbook:  sever.RunbookRef{Name: "anthropic-key-exposed", Version: "1.0.0", SHA256: runbookHash},
		OpenedAt: at(100),
		Signals: []sever.RecordedSignal{{Signal: sever.Signal{ID: "sig-3", Source: "anthropic", Origin: sever.OriginVendor,
			Kind: sever.KindAbuseReport, ObservedAt: at(90), ReceivedAt: at(100), Credential: openCred}}},
		Steps: []sever.Step{{ID: "revoke", Action: sever.ActionTokenDisable, Status: sever.StepWaitingApproval,
			StartedAt: atPtr(100.5), Containment: true}},
	}
}

func summary(inc sever.Incident) sever.IncidentSummary {
	return sever.IncidentSummary{ID: inc.ID, Status: inc.Status, Credential: inc.Credential, Runbook: inc.Runbook.Name,
		OpenedAt: inc.OpenedAt, Running: inc.ClosedAt == nil}
}

// fakeService serves a fixed set of incidents, newest first.
type fakeService struct {
	mu      sync.Mutex
	incs    []sever.Incident
	listErr error
	filters []service.ListFilter
}

var _ webui.Service = (*fakeService)(nil)

func newFake(incs ...sever.Incident) *fakeService { return &fakeService{incs: incs} }

func (f *fakeService) ListIncidents(_ context.Context, fl service.ListFilter) ([]sever.IncidentSummary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters = append(f.filters, fl)
	if f.listErr != nil {
		return nil, f.listErr
	}
	var out []sever.IncidentSummary
	for _, inc := range slices.Backward(f.incs) {
		if fl.Status == "" || string(inc.Status) == fl.Status {
			out = append(out, summary(inc))
		}
	}
	return out, nil
}

func (f *fakeService) GetIncident(_ context.Context, id string) (*sever.Incident, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, inc := range f.incs {
		if inc.ID == id {
			return &inc, nil
		}
	}
	return nil, sever.Errorf(sever.ENOTFOUND, "", "incident %s not found", id)
}
