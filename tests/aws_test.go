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
	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/ledger"
)

// startAWSStack starts the stack with the drill cloud and the pre-approved AWS
// policy, so containment runs without waiting for a person.
func startAWSStack(t *testing.T) *stack {
	t.Helper()
	cfg := newConfig(t)
	cfg.Runbooks.Policy = filepath.Join("..", "runbooks", "policy", "aws-preapproved.yaml")
	return startStackWith(t, app.DevOptions{Config: cfg, DrillCloud: true})
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
	ctx := context.Background()
	attacker, err := s.Cloud.StartAttacker(ctx, drillcloud.AttackerConfig{KeyID: drillcloud.DefaultCompromisedKeyID,
		Rate: 20, Operations: []string{"s3:ListBuckets", "bedrock:InvokeModel"}, KeepTrying: true})
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Stop()
	waitFor(t, "the attacker's first success", func() error {
		if attacker.Stats().Successes == 0 {
			return errNotYet
		}
		return nil
	})

	sub := s.api.submit(t, awsSignal("ev-aws-1"))
	inc := s.api.waitIncident(t, sub.IncidentID, "containment", func(i incidentJSON) bool { return i.Status != "open" })
	if inc.Status != "contained" {
		t.Fatalf("incident %s (%s): %s", inc.Status, inc.Reason, stepStates(inc))
	}
	contained := time.Now()
	if st := inc.step("deactivate"); st.Status != "succeeded" || st.Enforcement != "enterprise_enforced" || !st.Verified {
		t.Fatalf("deactivate = %+v", st)
	}
	if k, _ := s.Cloud.Key(drillcloud.DefaultCompromisedKeyID); k.Status != "Inactive" {
		t.Fatalf("key is %s in the drill cloud", k.Status)
	}
	if n := s.Cloud.Applied("UpdateAccessKey"); n != 1 {
		t.Errorf("UpdateAccessKey applied %d times, want once", n)
	}
	// The attacker's next call meets the deactivated key.
	waitFor(t, "the attacker to be refused", func() error {
		if attacker.Stats().LastDenial.After(contained) {
			return nil
		}
		return errNotYet
	})
	if n := attacker.SuccessesAfter(contained.Add(100 * time.Millisecond)); n != 0 {
		t.Errorf("%d attacker calls succeeded after containment", n)
	}

	l, err := ledger.Open(filepath.Join(s.Config.DataDir, ledger.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var outcomes map[string]ledger.Entry
	waitFor(t, "the step outcomes in the ledger", func() error {
		entries, err := l.Entries(ctx, sub.IncidentID)
		if err != nil {
			return err
		}
		outcomes = map[string]ledger.Entry{}
		for _, e := range entries {
			if e.Kind == "step_outcome" {
				outcomes[e.Step] = e
			}
		}
		if len(outcomes) < len(inc.Steps) {
			return errNotYet
		}
		return nil
	})
	for _, id := range []string{"deactivate", "revoke-sessions", "rotate-secrets"} {
		e := outcomes[id]
		if e.Enforcement != "enterprise_enforced" || e.Detail["verified"] != "true" || !strings.Contains(e.Actor, "sever-responder") {
			t.Errorf("ledger %s: enforcement %q verified %q actor %q", id, e.Enforcement, e.Detail["verified"], e.Actor)
		}
	}
	if brk, err := l.Verify(ctx, sub.IncidentID); err != nil || brk != nil {
		t.Errorf("ledger verify: %v %+v", err, brk)
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
	inc := s.api.waitIncident(t, sub.IncidentID, "containment", func(i incidentJSON) bool { return i.Status != "open" })
	if inc.Status != "contained" {
		t.Fatalf("incident %s (%s): %s", inc.Status, inc.Reason, stepStates(inc))
	}
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
