package tests

import (
	"testing"
	"time"

	"github.com/sever-ir/sever/drillcloud"
)

// bedrockSignal is a SIEM's signal about the Bedrock API key credID of principal
// in the drill cloud's account; term says which kind of key it is.
func bedrockSignal(eventID, term, credID, principal string) map[string]any {
	return map[string]any{
		"source": "e2e-siem", "source_event_id": eventID, "origin": "enterprise", "kind": "anomalous_usage",
		"observed_at": time.Now().UTC().Format(time.RFC3339), "severity": "critical",
		"summary": "Bedrock InvokeModel with a " + term + " API key from an unknown ASN",
		"credential": map[string]any{"provider": "aws", "type": "aws_bedrock_api_key", "id": credID,
			"principal": principal, "account": drillcloud.DefaultAccountID},
	}
}

// A long-term Amazon Bedrock API key (an IAM service-specific credential of a
// BedrockAPIKey-… user) is being used as a bearer token. A native signal names the
// credential by its id (ACCA…): the incident runs aws-bedrock-api-key-exposed, the
// credential is set Inactive with the enterprise's own credentials and read back,
// the attacker's next bearer call is refused, and the key itself appears in no
// history, log, ledger, evidence or report.
func TestAWSBedrockAPIKeyContainedWhileAttackerRuns(t *testing.T) {
	logs, logger := keepLogs()
	s := startDrillStack(t, awsConfig(t), logger)
	const user = "BedrockAPIKey-e2e1"
	credID, err := s.Cloud.CreateBedrockAPIKey(user)
	if err != nil {
		t.Fatal(err)
	}
	bearerKey, err := s.Cloud.BedrockAPIKeyValue(credID)
	if err != nil {
		t.Fatal(err)
	}
	attacker := startAttacker(t, s.Cloud, drillcloud.AttackerConfig{KeyID: credID, Rate: 20, KeepTrying: true})

	sub := s.api.submit(t, bedrockSignal("ev-bedrock-1", "long-term", credID, "arn:aws:iam::"+drillcloud.DefaultAccountID+":user/"+user))
	inc := s.api.waitContained(t, sub.IncidentID)
	contained := time.Now()
	if inc.Runbook.Name != "aws-bedrock-api-key-exposed" {
		t.Errorf("runbook %s; want aws-bedrock-api-key-exposed", inc.Runbook.Name)
	}
	if st := inc.step("deactivate"); st.Status != "succeeded" || st.Enforcement != "enterprise_enforced" || !st.Verified {
		t.Fatalf("deactivate = %+v", st)
	}
	if st := inc.step("contain-short-term"); st.Status == "succeeded" {
		t.Errorf("the short-term branch ran for a long-term key: %+v", st)
	}
	if sc, _ := s.Cloud.ServiceCredential(credID); sc.Status != "Inactive" {
		t.Fatalf("credential is %s in the drill cloud", sc.Status)
	}
	if n := s.Cloud.Applied("UpdateServiceSpecificCredential"); n != 1 {
		t.Errorf("UpdateServiceSpecificCredential applied %d times, want once", n)
	}
	requireRefusedAfter(t, attacker, contained, "attacker bearer calls")
	attacker.Stop()

	// The bearer key never reaches sever, so no record may hold it.
	if n := secretsInNoRecord(t, s, sub.IncidentID, map[string]string{"stack log": logs.String()},
		map[string]string{"the Bedrock API key": bearerKey}); n < 4 {
		t.Errorf("scanned only %d documents", n)
	}
}
