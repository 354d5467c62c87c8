package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/runbooks"
)

func TestWithFamiliesRule(t *testing.T) {
	const approval = "  - id: gcp-approval\n    actions: [" + sever.ActionGCPDisableKey + "]\n    mode: approval\n" +
		"    approvers: [\"group:soc-leads\"]\n    quorum: 1\n    deadline: 15m\n"
	tests := []struct {
		name    string
		src     string
		wantErr string
		// want is what must follow the rules: line in the output.
		want string
	}{
		{"rule goes first", "name: p\nversion: \"1\"\nrules:\n" + approval, "", familiesRule + approval},
		{"trailing spaces and CRLF", "name: p\r\nversion: \"1\"\r\nrules:  \r\n" + approval, "", familiesRule + approval},
		{"rules: last without newline", "name: p\nversion: \"1\"\nrules:", "", familiesRule},
		{"indented rules: is not the top-level key", "name: p\nversion: \"1\"\nx:\n  rules:\n", "no top-level rules", ""},
		{"no rules", "name: p\nversion: \"1\"\n", "no top-level rules", ""},
		{"two rules: lines", "rules:\n" + approval + "rules:\n", "more than one", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := withFamiliesRule([]byte(tt.src))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, after, ok := strings.Cut(string(out), "rules:")
			if !ok {
				t.Fatalf("no rules: line in\n%s", out)
			}
			after = strings.TrimLeft(after, " \r")
			if !strings.HasPrefix(after, "\n"+tt.want) {
				t.Errorf("after rules:\n%q\nwant\n%q", after, "\n"+tt.want)
			}
		})
	}
}

// The shipped pre-approved policy asks a person before containing any family
// beyond AWS; the bench's copy of it contains them all without one, and leaves
// every other decision as the file makes it.
func TestFamiliesPolicy(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", awsPolicy))
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := runbooks.ParsePolicy("aws-preapproved.yaml", src, sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checkFamiliesPolicy(shipped); err == nil {
		t.Fatal("checkFamiliesPolicy accepts the shipped policy, which asks for approvals")
	}
	dir := t.TempDir()
	t.Chdir("..") // writeFamiliesPolicy reads awsPolicy from the repository root
	path, err := writeFamiliesPolicy(dir)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bench, err := runbooks.ParsePolicy("policy-families.yaml", out, sever.Catalog)
	if err != nil {
		t.Fatalf("the bench policy does not parse: %v", err)
	}
	rule, err := checkFamiliesPolicy(bench)
	if err != nil {
		t.Fatal(err)
	}
	if want := shipped.Name + "/" + familiesRuleID; rule != want {
		t.Errorf("rule = %q, want %q", rule, want)
	}
	for _, tt := range []struct {
		action string
		ct     sever.CredentialType
	}{
		{sever.ActionNoop, sever.CredGenericToken},
		{sever.ActionAWSDeactivateKey, sever.CredAWSAccessKey},
		{sever.ActionAWSDeleteKey, sever.CredAWSAccessKey},
		{sever.ActionGCPEnableKey, sever.CredGCPServiceAccountKey},
		{sever.ActionOpenAIRevokeKey, sever.CredOpenAIAPIKey},
	} {
		if got, want := bench.Decide(tt.action, tt.ct, false), shipped.Decide(tt.action, tt.ct, false); got.Rule != want.Rule || got.Mode != want.Mode {
			t.Errorf("%s on %s: bench policy %s/%s, shipped %s/%s", tt.action, tt.ct, got.Rule, got.Mode, want.Rule, want.Mode)
		}
	}
}
