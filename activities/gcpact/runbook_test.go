package gcpact_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/runbooks"
)

// The built-in GCP runbook's steps, run in order with their exact arguments against
// the twin the way the interpreter calls them (action, then its verify), contain the
// key; its compensation undoes it; the default policy reads evidence without asking
// and has a SOC lead approve the disable and its undoing.
func TestBuiltinRunbookAgainstTwin(t *testing.T) {
	lib, err := runbooks.Load("", sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := runbooks.DefaultPolicy(sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
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
	ctx := context.Background()
	exec := func(action string, args sever.Values) (sever.ActionResult, error) {
		in := h.in(action, args)
		switch action {
		case sever.ActionGCPDisableKey:
			return h.acts.DisableKey(ctx, in)
		case sever.ActionGCPEnableKey:
			return h.acts.EnableKey(ctx, in)
		case sever.ActionGCPKeyStatus:
			return h.acts.KeyStatus(ctx, in)
		case sever.ActionGCPObserveExposure:
			return h.acts.ObserveExposure(ctx, in)
		case sever.ActionGCPAuditEvents:
			return h.acts.AuditEvents(ctx, in)
		}
		t.Fatalf("runbook names %s, which this test does not run", action)
		return sever.ActionResult{}, nil
	}
	seen := map[string]int{}
	for i, st := range rb.Steps {
		seen[st.ID] = i
		want := sever.ModeAuto
		if st.Mutating {
			want = sever.ModeApproval
		}
		if d := pol.Decide(st.Action, sever.CredGCPServiceAccountKey, false); d.Mode != want {
			t.Errorf("default policy: step %s (%s) is %s by %s, want %s", st.ID, st.Action, d.Mode, d.Rule, want)
		}
		if !strings.HasPrefix(st.Action, "gcp.") {
			continue
		}
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
	lib, err := runbooks.Load("", sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := runbooks.DefaultPolicy(sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := lib.Select(sever.CredGoogleAPIKey, sever.KindAbuseReport)
	if err != nil || rb.Name != "gcp-google-api-key-exposed" {
		t.Fatalf("runbook = %v %v", rb, err)
	}
	h := newHarness(t)
	ctx := context.Background()
	uid, _ := h.twin.NewAPIKey("gemini")
	cred := sever.Credential{Provider: "gcp", Type: sever.CredGoogleAPIKey, ID: h.twin.APIKeyName(uid)}
	exec := func(action string, args sever.Values) (sever.ActionResult, error) {
		in := sever.ActionInput{Action: action, Args: args, Credential: cred}
		switch action {
		case sever.ActionGCPDeleteAPIKey:
			return h.acts.DeleteAPIKey(ctx, in)
		case sever.ActionGCPUndeleteAPIKey:
			return h.acts.UndeleteAPIKey(ctx, in)
		case sever.ActionGCPAPIKeyStatus:
			return h.acts.APIKeyStatus(ctx, in)
		}
		t.Fatalf("runbook names %s, which this test does not run", action)
		return sever.ActionResult{}, nil
	}
	for _, st := range rb.Steps {
		want := sever.ModeAuto
		if st.Mutating {
			want = sever.ModeApproval
		}
		if d := pol.Decide(st.Action, sever.CredGoogleAPIKey, false); d.Mode != want {
			t.Errorf("default policy: step %s (%s) is %s, want %s", st.ID, st.Action, d.Mode, want)
		}
		if !strings.HasPrefix(st.Action, "gcp.") {
			continue
		}
		res, err := exec(st.Action, st.Args)
		if err != nil {
			t.Fatalf("step %s: %v", st.ID, err)
		}
		if st.Verify != nil {
			if res, err = exec(st.Verify.Action, st.Verify.Args); err != nil || !res.Verified {
				t.Fatalf("step %s verify: %+v %v", st.ID, res, err)
			}
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
