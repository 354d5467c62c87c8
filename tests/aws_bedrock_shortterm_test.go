package tests

import (
	"testing"
	"time"

	"github.com/sever-ir/sever/drillcloud"
)

// A short-term Amazon Bedrock API key (a presigned "bedrock-api-key-…" token of
// the ci-runner role's instance session) is being used as a bearer token. IAM has
// no record of it, so the signal names the minting identity ("short-term:" + its
// ARN): the runbook denies bedrock:CallWithBearerToken on the role and revokes its
// older sessions, both read back, and the drill cloud then refuses the attacker's
// next call with the very key they hold, as AWS would. The key appears in no
// history, ledger, evidence or report.
func TestAWSBedrockShortTermKeyContainedWhileAttackerRuns(t *testing.T) {
	s := startAWSStack(t)
	roleARN := "arn:aws:iam::" + drillcloud.DefaultAccountID + ":role/" + drillcloud.DefaultInstanceRole
	credID := drillcloud.ShortTermBedrockKeyIDPrefix + roleARN
	attacker := startAttacker(t, s.Cloud, drillcloud.AttackerConfig{KeyID: credID, Rate: 20, KeepTrying: true})

	sub := s.api.submit(t, bedrockSignal("ev-bedrock-st-1", "short-term", credID, roleARN))
	inc := s.api.waitContained(t, sub.IncidentID)
	contained := time.Now()
	if st := inc.step("contain-short-term"); st.Status != "succeeded" || st.Enforcement != "enterprise_enforced" || !st.Verified {
		t.Fatalf("contain-short-term = %+v", st)
	}
	requireRefusedAfter(t, attacker, contained, "attacker bearer calls")
	attacker.Stop()
	if code := attacker.Stats().ByOperation[drillcloud.AttackInvokeModel].LastError; code != "AccessDeniedException" {
		t.Errorf("the attacker's last refusal is %q; want AccessDeniedException", code)
	}

	// The token the attacker held: minted the same way, from the same session, so
	// its signature part is what must appear nowhere. A fresh mint differs only
	// in date and signature, so scan for the session token it carries too.
	tok, err := s.Cloud.BedrockAPIKeyValue(credID)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := s.Cloud.Credentials(drillcloud.DefaultInstanceSessionID)
	if err != nil {
		t.Fatal(err)
	}
	secretsInNoRecord(t, s, sub.IncidentID, nil, map[string]string{
		"the short-term key": tok, "the session token it carries": sess.SessionToken})
}
