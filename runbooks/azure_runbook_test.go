package runbooks

import (
	"slices"
	"testing"

	"github.com/sever-ir/sever"
)

// TestBuiltinAzure: each Azure credential type selects its built-in runbook for
// every signal kind; evidence (the read-only audit log) is read before the
// containment step of record, which is enterprise-enforced, verified by its own
// read-back, compensated only where Azure can undo it, and waits for a SOC lead
// under the default policy.
func TestBuiltinAzure(t *testing.T) {
	l, err := Load("", sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	def, err := DefaultPolicy(sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ct                         sever.CredentialType
		runbook, evidence, contain string
		action, verify, compensate string
	}{
		{sever.CredAzureAppSecret, "azure-app-secret-exposed", "sign-ins", "remove-secret",
			sever.ActionAzureEntraRemovePassword, sever.ActionAzureEntraPasswordStatus, ""},
		{sever.CredAzureOpenAIKey, "azure-openai-key-exposed", "activity-log", "disable-key-auth",
			sever.ActionAzureOpenAIDisableLocalAuth, sever.ActionAzureOpenAILocalAuthStatus, sever.ActionAzureOpenAIEnableLocalAuth},
	} {
		t.Run(string(tc.ct), func(t *testing.T) {
			rb, ok := l.Get(tc.runbook)
			if !ok {
				t.Fatalf("%s not loaded", tc.runbook)
			}
			for _, k := range sever.SignalKinds {
				if got, err := l.Select(tc.ct, k); err != nil || got != rb {
					t.Errorf("Select(%s, %s) = %v, %v", tc.ct, k, got, err)
				}
			}
			if rb.Frameworks.IsZero() {
				t.Error("no framework mapping")
			}
			byID := map[string]sever.RunbookStep{}
			for _, st := range rb.Steps {
				byID[st.ID] = st
			}
			ev, st := byID[tc.evidence], byID[tc.contain]
			if ev.Containment || sever.Catalog[ev.Action].Mutating || def.Decide(ev.Action, tc.ct, false).Mode != sever.ModeAuto {
				t.Errorf("evidence step %+v: want read-only, automatic, not containment", ev)
			}
			if !slices.Contains(st.Needs, tc.evidence) {
				t.Errorf("%s needs %v; evidence must come first", tc.contain, st.Needs)
			}
			if st.Action != tc.action || !st.Containment || st.Enforcement != sever.EnterpriseEnforced {
				t.Errorf("%s = %+v; want enterprise-enforced containment by %s", tc.contain, st, tc.action)
			}
			if st.Verify == nil || st.Verify.Action != tc.verify {
				t.Errorf("%s.verify = %+v; want %s", tc.contain, st.Verify, tc.verify)
			}
			if got := ""; st.Compensate != nil {
				got = st.Compensate.Action
				if got != tc.compensate {
					t.Errorf("%s.compensate = %s; want %q", tc.contain, got, tc.compensate)
				}
			} else if tc.compensate != "" {
				t.Errorf("%s has no compensation; want %s", tc.contain, tc.compensate)
			}
			for _, drill := range []bool{false, true} {
				if d := def.Decide(st.Action, tc.ct, drill); d.Mode != sever.ModeApproval {
					t.Errorf("default policy on %s (drill %v) = %+v; want approval", st.Action, drill, d)
				}
			}
		})
	}
	for _, a := range []string{sever.ActionAzureEntraRemovePassword, sever.ActionAzureOpenAIRegenerateKey, sever.ActionAzureOpenAIEnableLocalAuth} {
		if d := def.Decide(a, sever.CredAzureOpenAIKey, true); d.Mode != sever.ModeApproval {
			t.Errorf("default policy on %s = %+v; want approval", a, d)
		}
	}
}
