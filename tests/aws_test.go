package tests

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/ledger"
)

// startAWSStack starts the stack with the drill cloud and the pre-approved AWS
// policy, so containment runs without waiting for a person.
func startAWSStack(t *testing.T) *stack {
	t.Helper()
	return startDrillStack(t, awsConfig(t), nil)
}

// requireKeyDeactivated fails the test unless incident inc deactivated the
// drill cloud's compromised key, verified and enforced by the enterprise, with
// exactly one change in the drill cloud however often the call was retried.
func requireKeyDeactivated(t *testing.T, s *stack, inc incidentJSON) {
	t.Helper()
	if st := inc.step("deactivate"); st.Status != "succeeded" || st.Enforcement != "enterprise_enforced" || !st.Verified {
		t.Fatalf("deactivate = %+v", st)
	}
	if k, _ := s.Cloud.Key(drillcloud.DefaultCompromisedKeyID); k.Status != "Inactive" {
		t.Fatalf("key is %s in the drill cloud", k.Status)
	}
	if n := s.Cloud.Applied("UpdateAccessKey"); n != 1 {
		t.Errorf("UpdateAccessKey applied %d times, want once", n)
	}
}

func awsSignal(eventID string) map[string]any {
	return map[string]any{
		"source": "e2e-siem", "source_event_id": eventID, "origin": "enterprise", "kind": "anomalous_usage",
		"observed_at": time.Now().UTC().Format(time.RFC3339), "severity": "critical",
		"summary": "Bedrock InvokeModel from an unknown ASN with the CI key",
		"credential": map[string]any{"provider": "aws", "type": "aws_access_key", "id": drillcloud.DefaultCompromisedKeyID,
			"principal": drillcloud.DefaultCompromisedUser, "account": drillcloud.DefaultAccountID},
	}
}

// A stolen key in use: the signal opens an incident, the key is deactivated with the
// enterprise's own credentials and read back, the attacker's next call is refused,
// and the ledger records each step with who enforced it.
func TestAWSKeyContainedWhileAttackerRuns(t *testing.T) {
	s := startAWSStack(t)
	attacker := startAttacker(t, s.Cloud, drillcloud.AttackerConfig{KeyID: drillcloud.DefaultCompromisedKeyID,
		Rate: 20, Operations: []string{"s3:ListBuckets", "bedrock:InvokeModel"}, KeepTrying: true})

	sub := s.api.submit(t, awsSignal("ev-aws-1"))
	inc := s.api.waitContained(t, sub.IncidentID)
	contained := time.Now()
	requireKeyDeactivated(t, s, inc)
	// The attacker's next call meets the deactivated key.
	requireRefusedAfter(t, attacker, contained, "attacker calls")

	// ledgerOutcomes also verifies the incident's chain.
	outcomes := ledgerOutcomes(t, filepath.Join(s.Config.DataDir, ledger.FileName), inc)
	for _, id := range []string{"deactivate", "revoke-sessions", "rotate-secrets"} {
		e := outcomes[id]
		if e.Enforcement != "enterprise_enforced" || e.Detail["verified"] != "true" || !strings.Contains(e.Actor, "sever-responder") {
			t.Errorf("ledger %s: enforcement %q verified %q actor %q", id, e.Enforcement, e.Detail["verified"], e.Actor)
		}
	}
}

// AWS quarantined the key's user before sever acted: that is recorded as
// vendor_enforced, and the enterprise still deactivates the key, which the
// quarantine leaves active.
func TestAWSVendorQuarantineDoesNotReplaceContainment(t *testing.T) {
	s := startAWSStack(t)
	ctx := context.Background()
	cfg, err := s.Cloud.AWSConfig(ctx, drillcloud.DefaultResponderKeyID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iam.NewFromConfig(cfg).AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{
		UserName:  aws.String(drillcloud.DefaultCompromisedUser),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"),
	}); err != nil {
		t.Fatal(err)
	}
	sub := s.api.submit(t, awsSignal("ev-aws-quarantine"))
	inc := s.api.waitContained(t, sub.IncidentID)
	if st := inc.step("vendor-quarantine"); st.Enforcement != "vendor_enforced" || !st.Verified {
		t.Errorf("vendor-quarantine = %+v; want vendor_enforced, observed", st)
	}
	if st := inc.step("deactivate"); st.Enforcement != "enterprise_enforced" || !st.Verified {
		t.Errorf("deactivate = %+v; the enterprise still acts", st)
	}
	if got := s.Cloud.AttachedPolicies(drillcloud.DefaultCompromisedUser); len(got) != 1 {
		t.Errorf("attached policies after the incident: %v; sever never detaches AWS's quarantine", got)
	}
}
