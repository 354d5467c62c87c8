package tests

import (
	"context"
	"io/fs"
	"log/slog"
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

// A long-term Amazon Bedrock API key (an IAM service-specific credential of a
// BedrockAPIKey-… user) is being used as a bearer token. A native signal names the
// credential by its id (ACCA…): the incident runs aws-bedrock-api-key-exposed, the
// credential is set Inactive with the enterprise's own credentials and read back,
// the attacker's next bearer call is refused, and the key itself appears in no
// history, log, ledger, evidence or report.
func TestAWSBedrockAPIKeyContainedWhileAttackerRuns(t *testing.T) {
	logs := &lockedBuffer{}
	cfg := newConfig(t)
	cfg.Runbooks.Policy = filepath.Join("..", "runbooks", "policy", "aws-preapproved.yaml")
	s := startStackWith(t, app.DevOptions{Config: cfg, DrillCloud: true,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	ctx := context.Background()
	const user = "BedrockAPIKey-e2e1"
	credID, err := s.Cloud.CreateBedrockAPIKey(user)
	if err != nil {
		t.Fatal(err)
	}
	bearerKey, err := s.Cloud.BedrockAPIKeyValue(credID)
	if err != nil {
		t.Fatal(err)
	}
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
		"source": "e2e-siem", "source_event_id": "ev-bedrock-1", "origin": "enterprise", "kind": "anomalous_usage",
		"observed_at": time.Now().UTC().Format(time.RFC3339), "severity": "critical",
		"summary": "Bedrock InvokeModel with a long-term API key from an unknown ASN",
		"credential": map[string]any{"provider": "aws", "type": "aws_bedrock_api_key", "id": credID,
			"principal": "arn:aws:iam::" + drillcloud.DefaultAccountID + ":user/" + user, "account": drillcloud.DefaultAccountID},
	})
	inc := s.api.waitIncident(t, sub.IncidentID, "containment", func(i incidentJSON) bool { return i.Status != "open" })
	if inc.Status != "contained" {
		t.Fatalf("incident %s (%s): %s", inc.Status, inc.Reason, stepStates(inc))
	}
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

	// The bearer key never reaches sever, so no record may hold it.
	var corpus []struct{ where, text string }
	add := func(where string, b []byte) { corpus = append(corpus, struct{ where, text string }{where, string(b)}) }
	add("stack log", []byte(logs.String()))
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
			return nil // Temporal's own database is covered by the history above
		}
		if b, err := os.ReadFile(path); err == nil {
			add(path, b)
		}
		return nil
	})
	for _, c := range corpus {
		if strings.Contains(c.text, bearerKey) {
			t.Errorf("the Bedrock API key is in %s", c.where)
		}
	}
	if len(corpus) < 4 {
		t.Errorf("scanned only %d documents", len(corpus))
	}
}
