package drill

import (
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever/drillcloud"
)

const minimal = `name: mini
signals:
  - source: siem
    origin: enterprise
    kind: credential_exposed
objectives:
  contained_within: 60s
`

func TestParseDefaults(t *testing.T) {
	s, err := Parse("mini.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if s.Policy != "default" || s.Timeout != DefaultTimeout || s.Settle != DefaultSettle {
		t.Errorf("policy %q timeout %s settle %s", s.Policy, s.Timeout, s.Settle)
	}
	if len(s.Credentials) != 1 || s.Credentials[0].ID != drillcloud.DefaultCompromisedKeyID ||
		s.Credentials[0].User != drillcloud.DefaultCompromisedUser || s.Credentials[0].Account != drillcloud.DefaultAccountID {
		t.Errorf("credentials = %+v", s.Credentials)
	}
	g := s.Signals[0]
	if g.Credential != DefaultCredential || g.Repeat != 1 || g.Events != 1 || g.After != "start" || g.Severity != "high" || g.EventID != "mini-1" {
		t.Errorf("signal = %+v", g)
	}
	if s.File != "mini.yaml" || len(s.SHA256) != 64 {
		t.Errorf("file %q sha256 %q", s.File, s.SHA256)
	}
}

func TestParseFull(t *testing.T) {
	src := `name: full
description: every field
seed: 42
policy: ../runbooks/policy/aws-preapproved.yaml
approval_deadline: 2s
timeout: 30s
settle: 500ms
credentials:
  - {name: ci, id: AKIADRILLEXPOSED0001, user: ci-deployer, account: "111122223333"}
attackers:
  - {name: tool, credential: ci, rate: 2.5, operations: [s3:ListBuckets], start: 1s, stop: 5s, pivot_to_session: true, source_ip: 198.51.100.1}
signals:
  - {at: 1s, source: siem, origin: enterprise, kind: anomalous_usage, credential: ci, repeat: 3, events: 2, interval: 10ms}
  - {after: containment, at: 2s, source: aws-health, origin: vendor, kind: credential_exposed, observed_lag: 20m, quarantine: AWSCompromisedKeyQuarantineV3}
responders:
  - {name: lead, groups: [soc-leads], delay: 1s, miss_probability: 0.25, decision: deny, steps: [deactivate]}
faults:
  - {at: 0s, service: iam, operation: UpdateAccessKey, caller: sever, kind: latency, latency: 200ms, count: 1, probability: 0.5}
objectives:
  contained_within: 60s
  first_action_within: 5s
  max_attacker_successes_after_signal: 0
  expect_status: contained
  no_expired_approvals: true
  require_enterprise_enforced: true
  vendor_reliance_allowed: false
  expect_incidents: 1
  all_signals_accounted: true
`
	s, err := Parse("full.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if s.ApprovalDeadline != 2*time.Second || s.Attackers[0].Stop != 5*time.Second || s.Signals[1].ObservedLag != 20*time.Minute {
		t.Errorf("durations: %s %s %s", s.ApprovalDeadline, s.Attackers[0].Stop, s.Signals[1].ObservedLag)
	}
	if p := s.Objectives.MaxAttackerSuccessesAfterSignal; p == nil || *p != 0 {
		t.Errorf("max_attacker_successes_after_signal = %v; an explicit 0 must be kept", p)
	}
	if p := s.Objectives.VendorRelianceAllowed; p == nil || *p {
		t.Errorf("vendor_reliance_allowed = %v", p)
	}
	if got := resolve(s.File, s.Policy); got != "../runbooks/policy/aws-preapproved.yaml" {
		t.Errorf("policy resolves to %q", got)
	}
	if got := resolve("dir/full.yaml", "p.yaml"); got != "dir/p.yaml" {
		t.Errorf("resolve = %q", got)
	}
}

// Every error names file:line and the field.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"Empty", ``, []string{"t.yaml: empty scenario"}},
		{"NotMapping", `- a`, []string{"t.yaml:1: a scenario is a mapping"}},
		{"Syntax", "name: [\n", []string{"t.yaml:"}},
		{"UnknownTopField", "name: x\nsignal: []\n", []string{`t.yaml:2: unknown field "signal" (known: name, description`}},
		{"UnknownNestedField", minimal + "responders:\n  - name: a\n    delai: 1s\n", []string{`t.yaml:10: responders[0]: unknown field "delai" (known: name, groups, delay`}},
		{"WrongType", strings.Replace(minimal, "60s", "sixty", 1), []string{`t.yaml:7: objectives.contained_within: "sixty" is not a duration such as 1.5s or 2m`}},
		{"IntDuration", strings.Replace(minimal, "60s", "60", 1), []string{`t.yaml:7: objectives.contained_within: "60" is not a duration`}},
		{"TwoDocuments", minimal + "---\nname: y\n", []string{"t.yaml:8: a scenario file holds one YAML document"}},
		{"NameRequired", strings.Replace(minimal, "name: mini", "description: x", 1), []string{"t.yaml:1: name: is required"}},
		{"NameInvalid", strings.Replace(minimal, "name: mini", "name: Mini Drill", 1), []string{`t.yaml:1: name: "Mini Drill" may only hold`}},
		{"NoSignals", "name: x\nobjectives: {expect_incidents: 1}\n", []string{"t.yaml:1: signals: at least one signal is required"}},
		{"NoObjectives", "name: x\nsignals: [{source: s, origin: enterprise, kind: credential_exposed}]\n", []string{"t.yaml:1: objectives: at least one objective"}},
		{"BadOrigin", strings.Replace(minimal, "enterprise", "vendr", 1), []string{`t.yaml:4: signals[0].origin: "vendr": want one of enterprise, vendor`}},
		{"BadKind", strings.Replace(minimal, "credential_exposed", "leak", 1), []string{`t.yaml:5: signals[0].kind: "leak": want one of credential_exposed`}},
		{"SourceRequired", strings.Replace(minimal, "source: siem", "severity: high", 1), []string{"t.yaml:3: signals[0].source: is required"}},
		{"UnknownCredential", minimal + "attackers: [{credential: other}]\n", []string{`t.yaml:8: attackers[0].credential: unknown credential "other" (credentials: ci-key)`}},
		{"BadOperation", minimal + "attackers:\n  - operations: [s3:DeleteBucket]\n", []string{`t.yaml:9: attackers[0].operations[0]: unknown operation "s3:DeleteBucket"`}},
		{"BadRate", minimal + "attackers:\n  - rate: 5000\n", []string{"t.yaml:9: attackers[0].rate: 5000 calls per second must be within (0, 200]"}},
		{"StopBeforeStart", minimal + "attackers:\n  - {start: 5s, stop: 1s}\n", []string{"t.yaml:9: attackers[0].stop: 1s must come after start (5s)"}},
		{"BadKeyID", minimal + "credentials:\n  - {name: k, id: secret, user: u}\n", []string{`t.yaml:9: credentials[0].id: "secret" is not an AWS access key id`}},
		{"UserRequired", minimal + "credentials:\n  - {name: k, id: AKIAOTHERKEY00000001}\n", []string{"t.yaml:9: credentials[0].user: is required"}},
		{"DuplicateCredential", minimal + "credentials:\n  - {name: k, id: AKIAOTHERKEY00000001, user: u}\n  - {name: k, id: AKIAOTHERKEY00000002, user: u}\n",
			[]string{`t.yaml:10: credentials[1].name: duplicate credential name "k"`, "signals[0].credential: is required when the scenario names more than one credential"}},
		{"QuarantineByEnterprise", strings.Replace(minimal, "kind: credential_exposed", "kind: credential_exposed\n    quarantine: AWSCompromisedKeyQuarantineV3", 1),
			[]string{"t.yaml:6: signals[0].quarantine: only a vendor quarantines a key"}},
		{"UnknownQuarantine", strings.Replace(strings.Replace(minimal, "enterprise", "vendor", 1), "kind: credential_exposed", "kind: credential_exposed\n    quarantine: FullLockdown", 1),
			[]string{`signals[0].quarantine: "FullLockdown" is not an AWS quarantine policy`}},
		{"AfterContainmentAlone", strings.Replace(minimal, "- source: siem", "- after: containment\n    source: siem", 1),
			[]string{"t.yaml:3: signals[0].after: containment of ci-key never comes"}},
		{"BadAfter", strings.Replace(minimal, "- source: siem", "- after: lunch\n    source: siem", 1), []string{`t.yaml:3: signals[0].after: "lunch": want start or containment`}},
		{"TooManyDeliveries", strings.Replace(minimal, "kind: credential_exposed", "kind: credential_exposed\n    repeat: 10000\n    events: 3", 1),
			[]string{"t.yaml:2: signals: 30000 deliveries in all"}},
		{"BadResponder", minimal + "responders:\n  - {name: a, miss_probability: 2, decision: maybe, groups: [\"group:x\"]}\n",
			[]string{"t.yaml:9: responders[0].miss_probability: 2 must be within 0..1", `responders[0].decision: "maybe": want approve or deny`, `responders[0].groups[0]: "group:x" is not a group name`}},
		{"DuplicateResponder", minimal + "responders: [{name: a}, {name: a}]\n", []string{`t.yaml:8: responders[1].name: duplicate responder name "a"`}},
		{"BadFault", minimal + "faults:\n  - {service: lambda, kind: explode, caller: nobody}\n",
			[]string{`t.yaml:9: faults[0].kind: "explode": want one of throttle`, `faults[0].service: "lambda" is not served by the drill cloud`, `faults[0].caller: "nobody": want sever, a credential name`}},
		{"BadFamilyFaultOperation", minimal + "faults:\n  - {service: gcp, operation: DisableServiceAccountKey, kind: throttle}\n",
			[]string{`t.yaml:9: faults[0].operation: "DisableServiceAccountKey" is not an operation of the gcp twin (one of token, keys.get, keys.disable`}},
		{"LatencyNeedsLatency", minimal + "faults:\n  - {kind: latency}\n", []string{"t.yaml:9: faults[0].latency: a latency fault needs a positive latency"}},
		{"BadStatus", strings.Replace(minimal, "contained_within: 60s", "expect_status: done", 1), []string{`t.yaml:7: objectives.expect_status: "done": want open, contained, failed or closed`}},
		{"ContradictoryApprovals", strings.Replace(minimal, "contained_within: 60s", "no_expired_approvals: true\n  expect_approval_expired: true", 1),
			[]string{"t.yaml:8: objectives.expect_approval_expired: contradicts no_expired_approvals"}},
		{"NegativeMax", strings.Replace(minimal, "contained_within: 60s", "max_attacker_successes_after_signal: -1", 1),
			[]string{"t.yaml:7: objectives.max_attacker_successes_after_signal: -1 must not be negative"}},
		{"ShortDeadline", "approval_deadline: 10ms\n" + minimal, []string{"t.yaml:1: approval_deadline: 10ms must be within 1s..1h"}},
		{"BadPolicy", "policy: strict\n" + minimal, []string{`t.yaml:1: policy: "strict": want default or the path of a policy file`}},
		{"BadTimeout", "timeout: 2h\n" + minimal, []string{"t.yaml:1: timeout: 2h0m0s must be within 1s..1h0m0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tt.src)
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain\n%s", err, w)
				}
			}
		})
	}
}

func TestValidateGoScenario(t *testing.T) {
	s := Scenario{Name: "go-built", Signals: []Signal{{Source: "siem", Origin: "enterprise", Kind: "credential_exposed"}}}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "scenario: objectives: at least one objective") {
		t.Fatalf("Validate = %v", err)
	}
	s.Objectives.ExpectStatus = "contained"
	if err := s.Validate(); err != nil {
		t.Fatalf("Validate = %v", err)
	}
}

func TestBuiltinsParse(t *testing.T) {
	all, err := Builtins()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"agent-aws-and-model-key", "agent-token-reuse", "anthropic-key-provider-late", "approval-missed",
		"azure-app-secret-stolen", "azure-openai-key-stolen", "bedrock-key-stolen", "bedrock-short-term-key", "duplicate-storm",
		"enterprise-first", "gcp-key-disable-throttled", "gcp-service-account-key-stolen", "google-api-key-stolen", "openai-key-provider-never",
		"provider-first", "provider-late", "provider-never", "vault-token-stolen"}
	var got []string
	for _, s := range all {
		got = append(got, s.Name)
		if s.File != "builtin:"+s.Name+".yaml" {
			t.Errorf("%s: file %q; the file name must match the scenario name", s.Name, s.File)
		}
		if s.Description == "" {
			t.Errorf("%s: no description", s.Name)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("built-ins = %v, want %v", got, want)
	}
	if _, err := Lookup("provider-never"); err != nil {
		t.Error(err)
	}
	if _, err := Lookup("nope"); err == nil || !strings.Contains(err.Error(), "agent-token-reuse") {
		t.Errorf("Lookup(nope) = %v", err)
	}
	if _, err := Lookup("missing/file.yaml"); err == nil || !strings.Contains(err.Error(), "load scenario") {
		t.Errorf("Lookup(missing file) = %v", err)
	}
}

// The family twins' faults are accepted in a scenario: Google's, Azure's,
// Vault's and GitHub's own operation names, for sever or a credential.
func TestParseFamilyFaults(t *testing.T) {
	for _, f := range []string{
		"{service: gcp, operation: keys.disable, kind: throttle, count: 2}",
		"{service: gcp, operation: apikeys.delete, caller: sever, kind: drop_response, count: 1}",
		"{service: azure, operation: remove_password, caller: sever, kind: server_error}",
		"{service: azure, operation: token, caller: ci-key, kind: latency, latency: 200ms}",
		"{service: vault, operation: RevokeAccessor, kind: throttle, probability: 0.5}",
		"{service: github, operation: revoke, kind: drop_response, count: 1}",
	} {
		src := minimal + "faults:\n  - " + f + "\n"
		if _, err := Parse("t.yaml", []byte(src)); err != nil {
			t.Errorf("fault %s refused: %v", f, err)
		}
	}
}
