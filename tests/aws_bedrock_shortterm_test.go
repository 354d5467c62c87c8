package tests

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/temporalproto"

	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/internal/app"
)

// A short-term Amazon Bedrock API key (a presigned "bedrock-api-key-…" token of
// the ci-runner role's instance session) is being used as a bearer token. IAM has
// no record of it, so the signal names the minting identity ("short-term:" + its
// ARN): the runbook denies bedrock:CallWithBearerToken on the role and revokes its
// older sessions, both read back, and the drill cloud then refuses the attacker's
// next call with the very key they hold, as AWS would. The key appears in no
// history, ledger, evidence or report.
func TestAWSBedrockShortTermKeyContainedWhileAttackerRuns(t *testing.T) {
	cfg := newConfig(t)
	cfg.Runbooks.Policy = filepath.Join("..", "runbooks", "policy", "aws-preapproved.yaml")
	s := startStackWith(t, app.DevOptions{Config: cfg, DrillCloud: true})
	ctx := context.Background()
	roleARN := "arn:aws:iam::" + drillcloud.DefaultAccountID + ":role/" + drillcloud.DefaultInstanceRole
	credID := drillcloud.ShortTermBedrockKeyIDPrefix + roleARN
	attacker, err := s.Cloud.StartAttacker(ctx, drillcloud.AttackerConfig{KeyID: credID, Rate: 20, KeepTrying: true})
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

	sub := s.api.submit(t, map[string]any{
		"source": "e2e-siem", "source_event_id": "ev-bedrock-st-1", "origin": "enterprise", "kind": "anomalous_usage",
		"observed_at": time.Now().UTC().Format(time.RFC3339), "severity": "critical",
		"summary": "Bedrock InvokeModel with a short-term API key from an unknown ASN",
		"credential": map[string]any{"provider": "aws", "type": "aws_bedrock_api_key", "id": credID,
			"principal": roleARN, "account": drillcloud.DefaultAccountID},
	})
	inc := s.api.waitIncident(t, sub.IncidentID, "containment", func(i incidentJSON) bool { return i.Status != "open" })
	if inc.Status != "contained" {
		t.Fatalf("incident %s (%s): %s", inc.Status, inc.Reason, stepStates(inc))
	}
	contained := time.Now()
	if st := inc.step("contain-short-term"); st.Status != "succeeded" || st.Enforcement != "enterprise_enforced" || !st.Verified {
		t.Fatalf("contain-short-term = %+v", st)
	}
	waitFor(t, "the attacker to be refused", func() error {
		if attacker.Stats().LastDenial.After(contained) {
			return nil
		}
		return errNotYet
	})
	if n := attacker.SuccessesAfter(contained.Add(100 * time.Millisecond)); n != 0 {
		t.Errorf("%d attacker bearer calls succeeded after containment", n)
	}
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
	var corpus []struct{ where, text string }
	add := func(where string, b []byte) { corpus = append(corpus, struct{ where, text string }{where, string(b)}) }
	it := s.Client.GetWorkflowHistory(ctx, sub.IncidentID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := temporalproto.CustomJSONMarshalOptions{}.Marshal(ev)
		add("history", b)
	}
	for _, f := range []string{"md", "json"} {
		code, body := get(t, s, "/v1/incidents/"+sub.IncidentID+"/report?format="+f, true)
		if code != 200 {
			t.Fatalf("report %s: %d", f, code)
		}
		add("report "+f, []byte(body))
	}
	_ = filepath.WalkDir(cfg.DataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(path, "temporal") {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil {
			add(path, b)
		}
		return nil
	})
	for _, c := range corpus {
		if strings.Contains(c.text, tok) || strings.Contains(c.text, sess.SessionToken) {
			t.Errorf("short-term key material is in %s", c.where)
		}
	}
}
