package runbooks

import (
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/runbooks/cond"
)

// The Bedrock API key runbook picks its branch from the credential id: a long-term
// key (ACCA…) is deactivated, short-term keys are contained on the minting identity,
// never both, and each containment step has its compensation.
func TestBuiltinBedrockAPIKey(t *testing.T) {
	l, err := Load("", sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	rb, ok := l.Get("aws-bedrock-api-key-exposed")
	if !ok {
		t.Fatal("aws-bedrock-api-key-exposed not loaded")
	}
	for _, k := range sever.SignalKinds {
		if got, err := l.Select(sever.CredAWSBedrockAPIKey, k); err != nil || got != rb {
			t.Errorf("Select(%s) = %v, %v", k, got, err)
		}
	}
	compensation := map[string]string{
		"deactivate":         sever.ActionAWSActivateServiceCredential,
		"contain-short-term": sever.ActionAWSReleaseShortTermBedrockKeys,
	}
	for _, tc := range []struct{ id, runs, skipped string }{
		{"ACCAEXAMPLE123456789", "deactivate", "contain-short-term"},
		{"short-term:arn:aws:iam::111122223333:role/app", "contain-short-term", "deactivate"},
	} {
		v := cond.Vars{Credential: map[string]any{"type": string(sever.CredAWSBedrockAPIKey), "id": tc.id}}
		for _, st := range rb.Steps {
			if st.ID != tc.runs && st.ID != tc.skipped {
				continue
			}
			if !st.Containment || st.Enforcement != sever.EnterpriseEnforced || st.Compensate == nil || st.Compensate.Action != compensation[st.ID] {
				t.Errorf("%s = %+v", st.ID, st)
			}
			got, err := cond.Eval(st.When, v)
			if err != nil || got != (st.ID == tc.runs) {
				t.Errorf("id %s: step %s when %q = %v, %v", tc.id, st.ID, st.When, got, err)
			}
		}
	}
}
