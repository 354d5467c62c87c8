package core

import (
	"testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/evidence"
)

func TestCaptureSignalsIsStableAcrossRetries(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	store := evidence.NewStore(t.TempDir())
	(&Activities{Evidence: store}).Register(env)
	in := sever.ActionInput{IncidentID: "inc-1", StepID: "capture", Action: sever.ActionCaptureSignals,
		Credential: sever.Credential{Provider: "acme", Type: sever.CredGenericToken, ID: "tok-1"},
		Signals:    []sever.Signal{{ID: "sig-1", Source: "siem", Kind: sever.KindCredentialExposed}}}
	var first, second sever.ActionResult
	for _, res := range []*sever.ActionResult{&first, &second} {
		v, err := env.ExecuteActivity(sever.ActionCaptureSignals, in)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Get(res); err != nil {
			t.Fatal(err)
		}
	}
	if len(first.Evidence) != 1 || first.Evidence[0] != second.Evidence[0] {
		t.Fatalf("evidence %+v then %+v; want one identical artifact", first.Evidence, second.Evidence)
	}
	if err := store.Verify(first.Evidence[0]); err != nil {
		t.Fatal(err)
	}
}

func TestNotifyNeedsMessage(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	(&Activities{}).Register(env)
	_, err := env.ExecuteActivity(sever.ActionNotifyLog, sever.ActionInput{Action: sever.ActionNotifyLog})
	if err == nil {
		t.Fatal("notify without a message succeeded")
	}
}

// sever.noop does nothing, so there is nothing to read back: it must never claim a
// verified control, or a runbook of no-ops could end "contained and verified".
func TestNoopIsNeverVerified(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	(&Activities{}).Register(env)
	v, err := env.ExecuteActivity(sever.ActionNoop, sever.ActionInput{Action: sever.ActionNoop,
		Args: sever.Values{"note": "hold"}})
	if err != nil {
		t.Fatal(err)
	}
	var res sever.ActionResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Verified || res.Changed || res.Enforcement != "" {
		t.Fatalf("noop result %+v: want not verified, not changed, no enforcement", res)
	}
	if res.Summary != "hold" {
		t.Errorf("summary %q, want the note", res.Summary)
	}
}
