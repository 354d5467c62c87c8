package gcpact_test

import (
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities/internal/acttest"
)

// The built-in GCP runbook's steps, run in order with their exact arguments against
// the twin the way the interpreter calls them (action, then its verify), contain the
// key; its compensation undoes it; the default policy reads evidence without asking
// and has a SOC lead approve the disable and its undoing.
func TestBuiltinRunbookAgainstTwin(t *testing.T) {
	lib, pol := acttest.Builtin(t)
	for _, kind := range sever.SignalKinds {
		if rb, err := lib.Select(sever.CredGCPServiceAccountKey, kind); err != nil || rb.Name != "gcp-service-account-key-exposed" {
			t.Fatalf("runbook for %s: %v %v", kind, rb, err)
		}
	}
	rb, _ := lib.Select(sever.CredGCPServiceAccountKey, sever.KindCredentialExposed)
	if rb.Frameworks.OWASPNHI == nil || rb.Frameworks.NISTAIRMF == nil {
		t.Errorf("runbook frameworks = %+v", rb.Frameworks)
	}
	h := newHarness(t)
	exec := h.execByName(func(action string, args sever.Values) sever.ActionInput { return h.in(action, args) })
	seen := map[string]int{}
	for i, st := range rb.Steps {
		seen[st.ID] = i
		wantDefaultMode(t, pol, st, sever.CredGCPServiceAccountKey)
		if !strings.HasPrefix(st.Action, "gcp.") {
			continue
		}
		res := runStep(t, exec, st)
		if st.Containment && !res.Verified {
			t.Errorf("containment step %s not verified: %+v", st.ID, res)
		}
		if st.ID == "disable" {
			if st.Compensate == nil {
				t.Fatal("disable has no compensation")
			}
			if d := pol.Decide(st.Compensate.Action, sever.CredGCPServiceAccountKey, false); d.Mode != sever.ModeApproval {
				t.Errorf("compensation %s is %s, want approval", st.Compensate.Action, d.Mode)
			}
		}
	}
	// Evidence first: the audit log read and the observation come before the disable.
	if seen["audit-logs"] > seen["disable"] || seen["vendor-exposure"] > seen["disable"] {
		t.Errorf("step order %v: evidence must come first", seen)
	}
	if st, _ := h.twin.KeyState(h.victim); !st.Disabled {
		t.Fatal("key enabled after the runbook")
	}
	for _, st := range rb.Steps {
		if st.Compensate != nil {
			if _, err := exec(st.Compensate.Action, st.Compensate.Args); err != nil {
				t.Fatalf("compensate %s: %v", st.ID, err)
			}
		}
	}
	if st, _ := h.twin.KeyState(h.victim); st.Disabled {
		t.Fatal("key still disabled after compensation")
	}
}

// The built-in API key runbook deletes the key and its compensation restores it;
// the default policy reads without asking and has a SOC lead approve both.
func TestBuiltinAPIKeyRunbookAgainstTwin(t *testing.T) {
	lib, pol := acttest.Builtin(t)
	rb, err := lib.Select(sever.CredGoogleAPIKey, sever.KindAbuseReport)
	if err != nil || rb.Name != "gcp-google-api-key-exposed" {
		t.Fatalf("runbook = %v %v", rb, err)
	}
	h := newHarness(t)
	uid, _ := h.twin.NewAPIKey("gemini")
	cred := sever.Credential{Provider: "gcp", Type: sever.CredGoogleAPIKey, ID: h.twin.APIKeyName(uid)}
	exec := h.execByName(func(action string, args sever.Values) sever.ActionInput {
		return sever.ActionInput{Action: action, Args: args, Credential: cred}
	})
	for _, st := range rb.Steps {
		wantDefaultMode(t, pol, st, sever.CredGoogleAPIKey)
		if !strings.HasPrefix(st.Action, "gcp.") {
			continue
		}
		if res := runStep(t, exec, st); st.Verify != nil && !res.Verified {
			t.Fatalf("step %s verify: %+v", st.ID, res)
		}
		if st.Compensate != nil {
			if d := pol.Decide(st.Compensate.Action, sever.CredGoogleAPIKey, false); d.Mode != sever.ModeApproval {
				t.Errorf("compensation %s is %s, want approval", st.Compensate.Action, d.Mode)
			}
			if !h.twin.APIKeyDeleted(uid) {
				t.Fatal("key not deleted by the runbook")
			}
			if _, err := exec(st.Compensate.Action, st.Compensate.Args); err != nil || h.twin.APIKeyDeleted(uid) {
				t.Fatalf("compensate: %v", err)
			}
		}
	}
}

// execByName runs actions by their catalog names, as a worker would, with the
// input in makes.
func (h *harness) execByName(in func(action string, args sever.Values) sever.ActionInput) func(string, sever.Values) (sever.ActionResult, error) {
	env := acttest.Env()
	h.acts.Register(env)
	return func(action string, args sever.Values) (sever.ActionResult, error) {
		return acttest.Exec(env, in(action, args))
	}
}

// wantDefaultMode checks that the default policy has a SOC lead approve step st
// when it changes state and runs it without asking when it only reads.
func wantDefaultMode(t *testing.T, pol *sever.Policy, st sever.RunbookStep, cred sever.CredentialType) {
	t.Helper()
	want := sever.ModeAuto
	if st.Mutating {
		want = sever.ModeApproval
	}
	if d := pol.Decide(st.Action, cred, false); d.Mode != want {
		t.Errorf("default policy: step %s (%s) is %s by %s, want %s", st.ID, st.Action, d.Mode, d.Rule, want)
	}
}

// runStep runs step st's action and then its verify, if it has one, as the
// interpreter does, failing the test on an error; the result is verified as the
// verify says.
func runStep(t *testing.T, exec func(string, sever.Values) (sever.ActionResult, error), st sever.RunbookStep) sever.ActionResult {
	t.Helper()
	res, err := exec(st.Action, st.Args)
	if err != nil {
		t.Fatalf("step %s: %v", st.ID, err)
	}
	if st.Verify != nil {
		vres, err := exec(st.Verify.Action, st.Verify.Args)
		if err != nil {
			t.Fatalf("step %s verify: %v", st.ID, err)
		}
		res.Verified = vres.Verified
	}
	return res
}
