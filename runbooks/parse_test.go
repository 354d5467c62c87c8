package runbooks

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever"
)

// header is the valid top of a runbook; cases append steps to it. It is 6 lines long,
// so the first step's "- id:" is on line 7.
const header = `name: test-runbook
version: "1.0.0"
match:
  credential_types: [generic_token]
  signal_kinds: [credential_exposed]
steps:
`

type wantErr struct {
	line  int
	field string
	msg   string
}

func lintErrors(t *testing.T, err error) LintErrors {
	t.Helper()
	if err == nil {
		t.Fatal("want errors, got none")
	}
	var le LintErrors
	if !errors.As(err, &le) {
		t.Fatalf("error is %T, want LintErrors: %v", err, err)
	}
	return le
}

// assertHas fails unless errs holds one error at line and field whose message contains
// msg, and whose one-line rendering names file, line and field.
func assertHas(t *testing.T, errs LintErrors, file string, w wantErr) {
	t.Helper()
	for _, e := range errs {
		if e.Line == w.line && e.Field == w.field && strings.Contains(e.Message, w.msg) {
			prefix := fmt.Sprintf("%s:%d: ", file, w.line)
			if w.field != "" {
				prefix += w.field + ": "
			}
			if !strings.HasPrefix(e.Error(), prefix) {
				t.Errorf("rendered as %q, want prefix %q", e.Error(), prefix)
			}
			if e.File != file {
				t.Errorf("File = %q, want %q", e.File, file)
			}
			return
		}
	}
	t.Fatalf("no error at line %d field %q containing %q; got:\n%v", w.line, w.field, w.msg, errs)
}

func TestParseLintErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want wantErr
	}{
		{"unknown step key", header + `  - id: a
    action: sever.noop
    timout: 5s
`, wantErr{9, "steps[0].timout", `unknown field (did you mean "timeout"?)`}},
		{"unknown top-level key", header + `  - {id: a, action: sever.noop}
descripton: typo
`, wantErr{8, "descripton", `did you mean "description"?`}},
		{"unknown approval key", header + `  - id: a
    action: sever.noop
    approval: {on_timeout: deny, qorum: 1}
`, wantErr{9, "steps[0].approval.qorum", "unknown field"}},
		{"missing action", header + `  - id: a
    name: no action
`, wantErr{7, "steps[0].action", "required field is missing"}},
		{"unknown action", header + `  - id: a
    action: tokenstore.disable_tokn
`, wantErr{8, "steps[0].action", `unknown action "tokenstore.disable_tokn" (did you mean "tokenstore.disable_token"?)`}},
		{"bad duration", header + `  - id: a
    action: sever.noop
  - id: b
    action: sever.noop
    timeout: 5x
`, wantErr{11, "steps[1].timeout", `"5x" is not a duration (e.g. 30s, 5m)`}},
		{"timeout out of range", header + `  - id: a
    action: sever.noop
    timeout: 2h
`, wantErr{9, "steps[0].timeout", "out of range (1s..1h)"}},
		{"timeout without unit", header + `  - id: a
    action: sever.noop
    timeout: 30
`, wantErr{9, "steps[0].timeout", `"30" is not a duration`}},
		{"attempts too low", header + `  - id: a
    action: sever.noop
    max_attempts: 0
`, wantErr{9, "steps[0].max_attempts", "0 is out of range (1..20)"}},
		{"attempts too high", header + `  - id: a
    action: sever.noop
    max_attempts: 21
`, wantErr{9, "steps[0].max_attempts", "21 is out of range (1..20)"}},
		{"attempts not a number", header + `  - id: a
    action: sever.noop
    max_attempts: three
`, wantErr{9, "steps[0].max_attempts", `"three" is not a whole number`}},
		{"bad defaults", header + `  - {id: a, action: sever.noop}
defaults:
  timeout: 0s
`, wantErr{9, "defaults.timeout", "out of range"}},
		{"duplicate id", header + `  - id: a
    action: sever.noop
  - id: a
    action: sever.noop
`, wantErr{9, "steps[1].id", `duplicate step id "a" (first at line 7)`}},
		{"bad id", header + `  - id: Capture
    action: sever.noop
`, wantErr{7, "steps[0].id", "lowercase letters"}},
		{"needs unknown id", header + `  - id: capture
    action: sever.noop
  - id: b
    action: sever.noop
    needs: [captur]
`, wantErr{11, "steps[1].needs[0]", `unknown step "captur" (did you mean "capture"?)`}},
		{"needs itself", header + `  - id: a
    action: sever.noop
    needs: [a]
`, wantErr{9, "steps[0].needs[0]", "cannot need itself"}},
		{"needs not a list", header + `  - id: a
    action: sever.noop
    needs: b
`, wantErr{9, "steps[0].needs", "must be a list"}},
		{"cycle", header + `  - id: a
    action: sever.noop
    needs: [c]
  - id: b
    action: sever.noop
    needs: [a]
  - id: c
    action: sever.noop
    needs: [b]
`, wantErr{12, "steps[1].needs[0]", "dependency cycle: a -> c -> b -> a"}},
		{"bad CEL", header + `  - id: a
    action: sever.noop
    when: 'signal.kind =='
`, wantErr{9, "steps[0].when", "invalid condition"}},
		{"CEL undeclared variable", header + `  - id: a
    action: sever.noop
    when: 'sigal.kind == "x"'
`, wantErr{9, "steps[0].when", "undeclared reference to 'sigal'"}},
		{"CEL not bool", header + `  - id: a
    action: sever.noop
    when: '"yes"'
`, wantErr{9, "steps[0].when", "must be a bool"}},
		{"when with dashed step id", header + `  - id: observe-vendor
    action: sever.noop
  - id: b
    action: sever.noop
    needs: [observe-vendor]
    when: 'steps.observe-vendor.status == "succeeded"'
`, wantErr{12, "steps[1].when", `write steps["observe-vendor"]`}},
		{"when with dashed step id, indexed", header + `  - id: observe-vendor
    action: sever.noop
  - id: b
    action: sever.noop
    when: 'steps["observe-vendor"].status == "succeeded"'
`, wantErr{11, "steps[1].when", `does not need "observe-vendor"`}},
		{"when reads step not needed", header + `  - id: a
    action: sever.noop
  - id: b
    action: sever.noop
    when: 'steps.a.status == "succeeded"'
`, wantErr{11, "steps[1].when", `does not need "a"`}},
		{"when reads unknown step", header + `  - id: a
    action: sever.noop
    when: 'steps.zz.verified'
`, wantErr{9, "steps[0].when", `there is no step "zz"`}},
		{"verify with mutating action", header + `  - id: a
    action: tokenstore.disable_token
    verify:
      action: tokenstore.enable_token
`, wantErr{10, "steps[0].verify.action", "a read-back must use an action that does not"}},
		{"verify unknown action", header + `  - id: a
    action: tokenstore.disable_token
    verify: {action: tokenstore.status}
`, wantErr{9, "steps[0].verify.action", "unknown action"}},
		{"verify bad arg", header + `  - id: a
    action: tokenstore.disable_token
    verify:
      action: tokenstore.token_status
      args: {expct: inactive}
`, wantErr{11, "steps[0].verify.args.expct", `did you mean "expect"?`}},
		{"approval quorum over approvers", header + `  - id: a
    action: sever.noop
    approval:
      approvers: [U1, U2]
      quorum: 3
      on_timeout: deny
`, wantErr{11, "steps[0].approval.quorum", "quorum 3 is more than the 2 approver(s) listed"}},
		{"bad on_timeout", header + `  - id: a
    action: sever.noop
    approval:
      on_timeout: approve
`, wantErr{10, "steps[0].approval.on_timeout", `unknown value "approve" (one of deny, abort, proceed)`}},
		{"missing on_timeout", header + `  - id: a
    action: sever.noop
    approval:
      quorum: 1
`, wantErr{10, "steps[0].approval.on_timeout", "required field is missing"}},
		{"empty approval", header + `  - id: a
    action: sever.noop
    approval:
`, wantErr{9, "steps[0].approval.on_timeout", "required field is missing"}},
		{"deadline out of range", header + `  - id: a
    action: sever.noop
    approval: {on_timeout: deny, deadline: 100h}
`, wantErr{9, "steps[0].approval.deadline", "out of range (1m..72h)"}},
		{"unknown credential type", `name: x
version: "1"
match:
  credential_types: [generic_token, gcp_key]
steps:
  - {id: a, action: sever.noop}
`, wantErr{4, "match.credential_types[1]", `unknown value "gcp_key"`}},
		{"unknown signal kind", `name: x
version: "1"
match:
  signal_kinds: [credential_exposd]
steps:
  - {id: a, action: sever.noop}
`, wantErr{4, "match.signal_kinds[0]", `did you mean "credential_exposed"?`}},
		{"compensate on read-only step", header + `  - id: a
    action: sever.noop
    compensate: {action: tokenstore.enable_token}
`, wantErr{9, "steps[0].compensate", "nothing to compensate"}},
		{"compensate with read-only action", header + `  - id: a
    action: tokenstore.disable_token
    compensate:
      action: tokenstore.token_status
`, wantErr{10, "steps[0].compensate.action", "cannot undo the step"}},
		{"argument not accepted", header + `  - id: a
    action: sever.notify.log
    args:
      message: hi
      channel: soc
`, wantErr{11, "steps[0].args.channel", `takes no argument "channel" (it takes: message)`}},
		{"required argument missing", header + `  - id: a
    action: sever.notify.log
`, wantErr{7, "steps[0].args.message", `requires argument "message"`}},
		{"enforcement unknown", header + `  - id: a
    action: sever.noop
    enforcement: vendor_done
`, wantErr{9, "steps[0].enforcement", "unknown value"}},
		{"on_failure unknown", header + `  - id: a
    action: sever.noop
    on_failure: retry
`, wantErr{9, "steps[0].on_failure", "(one of abort, continue)"}},
		{"containment not bool", header + `  - id: a
    action: sever.noop
    containment: yes
`, wantErr{9, "steps[0].containment", `"yes" is not true or false`}},
		// A step that changes nothing cannot contain anything: without this a runbook
		// of no-ops would end "contained and verified".
		{"containment on noop", header + `  - id: hold
    action: sever.noop
    containment: true
`, wantErr{9, "steps[0].containment", `step hold: sever.noop changes no state`}},
		{"containment on a read", header + `  - id: look
    action: tokenstore.token_status
    containment: true
`, wantErr{9, "steps[0].containment", `step look: tokenstore.token_status changes no state`}},
		{"duplicate key", header + `  - id: a
    action: sever.noop
    action: sever.noop
`, wantErr{9, "steps[0].action", "duplicate field (first at line 8)"}},
		{"bad name", `name: Token_Exposed
version: "1"
steps: [{id: a, action: sever.noop}]
`, wantErr{1, "name", "lowercase letters, digits and -"}},
		{"version not a string", `name: x
version: 1.0
steps: [{id: a, action: sever.noop}]
`, wantErr{2, "version", `must be a string, not float; quote it: "1.0"`}},
		{"missing version", `name: x
steps: [{id: a, action: sever.noop}]
`, wantErr{1, "version", "required field is missing"}},
		{"no steps", `name: x
version: "1"
steps: []
`, wantErr{3, "steps", "at least one step"}},
		{"step not a mapping", header + `  - sever.noop
`, wantErr{7, "steps[0]", "must be a mapping"}},
		{"alias", `name: x
version: "1"
steps:
  - id: a
    action: sever.notify.log
    args: &args {message: hi}
  - id: b
    action: sever.notify.log
    args: *args
`, wantErr{9, "steps[1].args", "aliases (*args) are not supported"}},
		{"policy linted as runbook", `name: default
version: "1"
rules: []
`, wantErr{3, "rules", "unknown field"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb, err := Parse("runbooks/x.yaml", []byte(tt.src), sever.Catalog)
			if rb != nil {
				t.Errorf("Parse returned a runbook along with errors")
			}
			assertHas(t, lintErrors(t, err), "runbooks/x.yaml", tt.want)
		})
	}
}

func TestParseDocumentErrors(t *testing.T) {
	tests := []struct {
		name, src string
		line      int
		msg       string
	}{
		{"empty", "", 0, "file is empty"},
		{"comments only", "# nothing\n", 0, "file is empty"},
		{"syntax", "name: x\nsteps: [\n  - a: b\n", 2, "invalid YAML"},
		{"tab", "name: x\n\tversion: 1\n", 2, "invalid YAML"},
		{"not a mapping", "- a\n- b\n", 1, "top level must be a mapping"},
		{"two documents", "name: x\nversion: \"1\"\nsteps: [{id: a, action: sever.noop}]\n---\nname: y\n", 5, "more than one YAML document"},
		{"too large", strings.Repeat("#", maxSource+1), 0, "the limit is"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(tt.src), sever.Catalog)
			errs := lintErrors(t, err)
			for _, e := range errs {
				if e.Line == tt.line && strings.Contains(e.Message, tt.msg) {
					return
				}
			}
			t.Fatalf("no error at line %d containing %q; got:\n%v", tt.line, tt.msg, errs)
		})
	}
}

func TestParseCollectsAllErrors(t *testing.T) {
	src := header + `  - id: a
    action: sever.nope
    timeout: 5x
  - id: a
    action: sever.noop
    max_attempts: 99
`
	_, err := Parse("x.yaml", []byte(src), sever.Catalog)
	errs := lintErrors(t, err)
	if len(errs) != 4 {
		t.Fatalf("got %d errors, want 4 (action, timeout, duplicate id, max_attempts):\n%v", len(errs), errs)
	}
	for i := 1; i < len(errs); i++ {
		if errs[i].Line < errs[i-1].Line {
			t.Errorf("errors not in line order:\n%v", errs)
		}
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != 4 {
		t.Errorf("Error() has %d lines, want one per problem:\n%s", len(lines), err)
	}
}

func TestParseDefaults(t *testing.T) {
	src := `name: defaults-test
version: "2"
description: checks defaults
match:
  priority: 7
defaults:
  timeout: 45s
  max_attempts: 4
steps:
  - id: read
    action: tokenstore.token_status
    args: {expect: active, store: main}
  - id: write
    action: tokenstore.disable_token
    needs: [read]
    when: 'steps.read.verified && signal.kind != "vendor_action"'
    timeout: 10s
    max_attempts: 1
    enforcement: human_approved
    containment: false
    on_failure: continue
    approval:
      approvers: [U1, "group:soc-leads"]
      on_timeout: abort
      escalate: ["group:soc-oncall"]
    verify: {action: tokenstore.token_status}
    compensate: {action: tokenstore.enable_token, args: {reason: false positive}}
  - id: plain
    action: tokenstore.disable_token
`
	rb, err := Parse("dir/defaults.yaml", []byte(src), sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	if rb.Name != "defaults-test" || rb.Version != "2" || rb.Description != "checks defaults" || rb.Match.Priority != 7 {
		t.Errorf("header = %q %q %q %d", rb.Name, rb.Version, rb.Description, rb.Match.Priority)
	}
	if rb.File != "dir/defaults.yaml" || rb.Source != src || rb.SHA256 != sever.SHA256Hex([]byte(src)) {
		t.Errorf("File/Source/SHA256 not set from input")
	}
	if len(rb.Match.CredentialTypes) != 0 || len(rb.Match.SignalKinds) != 0 {
		t.Errorf("empty match lists = %v %v, want none (match all)", rb.Match.CredentialTypes, rb.Match.SignalKinds)
	}
	read, write, plain := rb.Steps[0], rb.Steps[1], rb.Steps[2]

	if read.Line != 10 || write.Line != 13 || plain.Line != 28 {
		t.Errorf("lines = %d %d %d, want 10 13 28", read.Line, write.Line, plain.Line)
	}
	if read.Timeout.D() != 45*time.Second || read.MaxAttempts != 4 {
		t.Errorf("read: defaults not applied: %v %d", read.Timeout.D(), read.MaxAttempts)
	}
	if read.Mutating || read.Containment || read.Enforcement != sever.EnforcementNone || read.OnFailure != sever.FailAbort {
		t.Errorf("read: mutating=%v containment=%v enforcement=%q on_failure=%q", read.Mutating, read.Containment, read.Enforcement, read.OnFailure)
	}
	if read.Args["expect"] != "active" || read.Args["store"] != "main" {
		t.Errorf("read.Args = %v", read.Args)
	}

	if write.Timeout.D() != 10*time.Second || write.MaxAttempts != 1 {
		t.Errorf("write: overrides not applied: %v %d", write.Timeout.D(), write.MaxAttempts)
	}
	if !write.Mutating || write.Containment || write.Enforcement != sever.HumanApproved || write.OnFailure != sever.FailContinue {
		t.Errorf("write: mutating=%v containment=%v enforcement=%q on_failure=%q", write.Mutating, write.Containment, write.Enforcement, write.OnFailure)
	}
	if a := write.Approval; a == nil || a.Quorum != 1 || a.Deadline.D() != 15*time.Minute || a.OnTimeout != sever.OnTimeoutAbort ||
		len(a.Approvers) != 2 || len(a.Escalate) != 1 {
		t.Errorf("write.Approval = %+v", write.Approval)
	}
	if write.Verify == nil || write.Verify.Action != sever.ActionTokenStatus || write.Verify.Args != nil {
		t.Errorf("write.Verify = %+v", write.Verify)
	}
	if write.Compensate == nil || write.Compensate.Action != sever.ActionTokenEnable || write.Compensate.Args["reason"] != "false positive" {
		t.Errorf("write.Compensate = %+v", write.Compensate)
	}
	if len(write.Needs) != 1 || write.When == "" {
		t.Errorf("write.Needs = %v, When = %q", write.Needs, write.When)
	}

	if !plain.Containment || plain.Enforcement != sever.EnterpriseEnforced || plain.Timeout.D() != 45*time.Second {
		t.Errorf("plain: containment=%v enforcement=%q timeout=%v", plain.Containment, plain.Enforcement, plain.Timeout.D())
	}
}

func TestParseBuiltinDefaultsWithoutDefaultsBlock(t *testing.T) {
	rb, err := Parse("x.yaml", []byte(header+"  - {id: a, action: sever.noop}\n"), sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	if st := rb.Steps[0]; st.Timeout.D() != 30*time.Second || st.MaxAttempts != 3 {
		t.Errorf("defaults = %v, %d; want 30s, 3", st.Timeout.D(), st.MaxAttempts)
	}
}

func TestParseArgValues(t *testing.T) {
	src := header + `  - id: a
    action: sever.noop
    args:
      note: {count: 3, ratio: 0.5, on: true, none: null, list: [a, 1], when: 2024-01-01}
`
	rb, err := Parse("x.yaml", []byte(src), sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	note := rb.Steps[0].Args["note"].(map[string]any)
	if note["count"] != 3 || note["ratio"] != 0.5 || note["on"] != true || note["none"] != nil || note["when"] != "2024-01-01" {
		t.Errorf("note = %#v", note)
	}
	if l := note["list"].([]any); len(l) != 2 || l[0] != "a" || l[1] != 1 {
		t.Errorf("list = %#v", l)
	}
}
