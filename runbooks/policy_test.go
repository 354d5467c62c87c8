package runbooks

import (
	"slices"
	"testing"
	"time"

	"github.com/sever-ir/sever"
)

const policyHeader = `name: test-policy
version: "1"
rules:
`

func TestParsePolicyLintErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want wantErr
	}{
		{"matches no action", policyHeader + `  - id: r
    actions: ["oraclecloud.*"]
    mode: auto
`, wantErr{5, "rules[0].actions[0]", `"oraclecloud.*" matches no known action`}},
		{"typo in action", policyHeader + `  - id: r
    actions: [sever.noop, tokenstore.disable_tokens]
    mode: auto
`, wantErr{5, "rules[0].actions[1]", `did you mean "tokenstore.disable_token"?`}},
		{"bad pattern", policyHeader + `  - id: r
    actions: ["sever.[noop"]
    mode: auto
`, wantErr{5, "rules[0].actions[0]", "is not a valid pattern"}},
		{"no actions", policyHeader + `  - id: r
    actions: []
    mode: auto
`, wantErr{5, "rules[0].actions", "at least one action"}},
		{"missing mode", policyHeader + `  - id: r
    actions: [sever.noop]
`, wantErr{4, "rules[0].mode", "required field is missing"}},
		{"bad mode", policyHeader + `  - id: r
    actions: [sever.noop]
    mode: allow
`, wantErr{6, "rules[0].mode", "(one of auto, approval, forbidden)"}},
		{"approvers with auto", policyHeader + `  - id: r
    actions: [sever.noop]
    mode: auto
    approvers: [U1]
`, wantErr{7, "rules[0].approvers", "only applies to mode approval, not auto"}},
		{"deadline with forbidden", policyHeader + `  - id: r
    actions: [sever.noop]
    mode: forbidden
    deadline: 5m
`, wantErr{7, "rules[0].deadline", "only applies to mode approval"}},
		{"approval without approvers", policyHeader + `  - id: r
    actions: [sever.noop]
    mode: approval
`, wantErr{4, "rules[0].approvers", "required field is missing"}},
		{"approval with empty approvers", policyHeader + `  - id: r
    actions: [sever.noop]
    mode: approval
    approvers: []
`, wantErr{7, "rules[0].approvers", "at least one approver"}},
		{"quorum over approvers", policyHeader + `  - id: r
    actions: [sever.noop]
    mode: approval
    approvers: [U1]
    quorum: 2
`, wantErr{8, "rules[0].quorum", "quorum 2 is more than the 1 approver(s) listed"}},
		{"duplicate rule id", policyHeader + `  - {id: r, actions: [sever.noop], mode: auto}
  - {id: r, actions: [sever.noop], mode: forbidden}
`, wantErr{5, "rules[1].id", `duplicate rule id "r" (first at line 4)`}},
		{"reserved id", policyHeader + `  - {id: default-deny, actions: [sever.noop], mode: auto}
`, wantErr{4, "rules[0].id", "reserved"}},
		{"unknown credential type", policyHeader + `  - {id: r, actions: [sever.noop], mode: auto, credential_types: [token]}
`, wantErr{4, "rules[0].credential_types[0]", `unknown value "token"`}},
		{"drill not bool", policyHeader + `  - {id: r, actions: [sever.noop], mode: auto, drill: only}
`, wantErr{4, "rules[0].drill", "not true or false"}},
		{"unknown key", policyHeader + `  - {id: r, actions: [sever.noop], mode: auto, approver: [U1]}
`, wantErr{4, "rules[0].approver", `did you mean "approvers"?`}},
		{"missing rules", `name: p
version: "1"
`, wantErr{1, "rules", "required field is missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePolicy("policy.yaml", []byte(tt.src), sever.Catalog)
			if p != nil {
				t.Errorf("ParsePolicy returned a policy along with errors")
			}
			assertHas(t, lintErrors(t, err), "policy.yaml", tt.want)
		})
	}
}

func TestParsePolicyFields(t *testing.T) {
	src := policyHeader + `  - id: drill-all
    actions: ["*"]
    mode: auto
    drill: true
  - id: enable
    actions: [tokenstore.enable_token]
    credential_types: [generic_token]
    mode: approval
    approvers: [U1, U2, U3]
    quorum: 2
    deadline: 1h
    allow_proceed_on_timeout: true
  - id: approval-defaults
    actions: [tokenstore.disable_token]
    mode: approval
    approvers: [U1]
`
	p, err := ParsePolicy("p.yaml", []byte(src), sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "test-policy" || p.Version != "1" || p.File != "p.yaml" || p.SHA256 != sever.SHA256Hex([]byte(src)) || p.Source != src {
		t.Errorf("header = %q %q %q", p.Name, p.Version, p.File)
	}
	if r := p.Rules[0]; r.Drill == nil || !*r.Drill || r.Quorum != 0 || r.Deadline != 0 {
		t.Errorf("rule 0 = %+v", r)
	}
	if r := p.Rules[1]; r.Quorum != 2 || r.Deadline.D() != time.Hour || !r.AllowProceedOnTimeout || r.Drill != nil ||
		!slices.Equal(r.CredentialTypes, []sever.CredentialType{sever.CredGenericToken}) {
		t.Errorf("rule 1 = %+v", r)
	}
	if r := p.Rules[2]; r.Quorum != 1 || r.Deadline.D() != 15*time.Minute {
		t.Errorf("rule 2 defaults = %+v", r)
	}
}

func TestParsePolicyEmptyRulesDeniesAll(t *testing.T) {
	p, err := ParsePolicy("p.yaml", []byte(policyHeader+"  []\n"), sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Decide(sever.ActionNoop, sever.CredGenericToken, false); d.Mode != sever.ModeForbidden || d.Rule != sever.DefaultDenyRule {
		t.Errorf("Decide = %+v, want default deny", d)
	}
}

func TestDefaultPolicyDecide(t *testing.T) {
	p, err := DefaultPolicy(sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "default" || p.File != "builtin:policy/default.yaml" {
		t.Errorf("name/file = %q %q", p.Name, p.File)
	}
	tests := []struct {
		action    string
		rule      string
		mode      string
		approvers []string
	}{
		{sever.ActionCaptureSignals, "evidence-auto", sever.ModeAuto, nil},
		{sever.ActionNotifyLog, "evidence-auto", sever.ModeAuto, nil},
		{sever.ActionNoop, "evidence-auto", sever.ModeAuto, nil},
		{sever.ActionTokenStatus, "evidence-auto", sever.ModeAuto, nil},
		{sever.ActionTokenVendorSeen, "evidence-auto", sever.ModeAuto, nil},
		{sever.ActionTokenDisable, "token-disable-auto", sever.ModeAuto, nil},
		{sever.ActionTokenEnable, "token-enable-approval", sever.ModeApproval, []string{"group:soc-leads"}},
		{sever.ActionAWSKeyOwner, "aws-evidence-auto", sever.ModeAuto, nil},
		{sever.ActionAWSVendorQuarantine, "aws-evidence-auto", sever.ModeAuto, nil},
		{sever.ActionAWSKeyStatus, "aws-evidence-auto", sever.ModeAuto, nil},
		{sever.ActionAWSLookupEvents, "aws-evidence-auto", sever.ModeAuto, nil},
		{sever.ActionAWSBedrockLogging, "aws-evidence-auto", sever.ModeAuto, nil},
		{sever.ActionAWSSnapshotVolume, "aws-evidence-auto", sever.ModeAuto, nil},
		{sever.ActionAWSInstanceEvidence, "aws-evidence-auto", sever.ModeAuto, nil},
		{sever.ActionAWSStoreEvidence, "aws-evidence-auto", sever.ModeAuto, nil},
		{sever.ActionAWSDeactivateKey, "aws-containment-approval", sever.ModeApproval, []string{"group:soc-leads"}},
		{sever.ActionAWSRevokeSessions, "aws-containment-approval", sever.ModeApproval, []string{"group:soc-leads"}},
		{sever.ActionAWSRotateSecret, "aws-containment-approval", sever.ModeApproval, []string{"group:soc-leads"}},
		{sever.ActionAWSActivateKey, "aws-key-activate-approval", sever.ModeApproval, []string{"group:soc-leads"}},
		{sever.ActionAWSDeleteKey, "aws-key-delete-approval", sever.ModeApproval, []string{"group:soc-leads"}},
		{sever.ActionAnthropicObserveKey, "provider-evidence-auto", sever.ModeAuto, nil},
		{sever.ActionAnthropicKeyStatus, "provider-evidence-auto", sever.ModeAuto, nil},
		{sever.ActionOpenAIObserveKey, "provider-evidence-auto", sever.ModeAuto, nil},
		{sever.ActionOpenAIKeyStatus, "provider-evidence-auto", sever.ModeAuto, nil},
		{sever.ActionAnthropicDisableKey, "provider-containment-approval", sever.ModeApproval, []string{"group:soc-leads"}},
		{sever.ActionAnthropicEnableKey, "anthropic-key-enable-approval", sever.ModeApproval, []string{"group:soc-leads"}},
		{sever.ActionOpenAIRevokeKey, "openai-key-revoke-approval", sever.ModeApproval, []string{"group:soc-leads"}},
		{"sever.no_such_action", sever.DefaultDenyRule, sever.ModeForbidden, nil},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			for _, drill := range []bool{false, true} {
				d := p.Decide(tt.action, sever.CredGenericToken, drill)
				if d.Rule != tt.rule || d.Mode != tt.mode || !slices.Equal(d.Approvers, tt.approvers) {
					t.Errorf("Decide(%s, drill=%v) = %+v, want rule %s mode %s", tt.action, drill, d, tt.rule, tt.mode)
				}
			}
		})
	}
	if d := p.Decide(sever.ActionTokenEnable, sever.CredGenericToken, false); d.Quorum != 1 || d.Deadline.D() != 30*time.Minute || d.AllowProceedOnTimeout {
		t.Errorf("enable decision = %+v, want quorum 1, deadline 30m, no proceed", d)
	}
}

func TestPolicyDecideFirstMatchDrillAndType(t *testing.T) {
	src := policyHeader + `  - id: drills-auto
    actions: ["tokenstore.*"]
    mode: auto
    drill: true
  - id: github-forbidden
    actions: [tokenstore.disable_token]
    credential_types: [github_token]
    mode: forbidden
  - id: disable-approval
    actions: [tokenstore.disable_token]
    mode: approval
    approvers: [U1]
  - id: shadowed
    actions: [tokenstore.disable_token]
    mode: auto
`
	p, err := ParsePolicy("p.yaml", []byte(src), sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		action string
		ct     sever.CredentialType
		drill  bool
		rule   string
	}{
		{"drill wins first", sever.ActionTokenDisable, sever.CredGitHubToken, true, "drills-auto"},
		{"production skips drill rule", sever.ActionTokenDisable, sever.CredGitHubToken, false, "github-forbidden"},
		{"other type falls through", sever.ActionTokenDisable, sever.CredGenericToken, false, "disable-approval"},
		{"unmatched action denied", sever.ActionNotifyLog, sever.CredGenericToken, false, sever.DefaultDenyRule},
		{"glob in drill", sever.ActionTokenEnable, sever.CredGenericToken, true, "drills-auto"},
		{"glob not in production", sever.ActionTokenEnable, sever.CredGenericToken, false, sever.DefaultDenyRule},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := p.Decide(tt.action, tt.ct, tt.drill); d.Rule != tt.rule {
				t.Errorf("Decide(%s, %s, drill=%v) = %s, want %s", tt.action, tt.ct, tt.drill, d.Rule, tt.rule)
			}
		})
	}
}
