package runbooks

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func simpleRunbook(name string, priority int, types, kinds string) string {
	return fmt.Sprintf(`name: %s
version: "1"
match:
  credential_types: [%s]
  signal_kinds: [%s]
  priority: %d
steps:
  - {id: capture, action: sever.evidence.capture_signals}
`, name, types, kinds, priority)
}

func TestBuiltinsParse(t *testing.T) {
	entries, err := fs.ReadDir(builtinFS, "builtin")
	if err != nil || len(entries) == 0 {
		t.Fatalf("no built-in runbooks: %v", err)
	}
	for _, e := range entries {
		src, _ := builtinFS.ReadFile("builtin/" + e.Name())
		if _, err := Parse(e.Name(), src, sever.Catalog); err != nil {
			t.Errorf("built-in %s:\n%v", e.Name(), err)
		}
	}
}

func TestBuiltinGenericToken(t *testing.T) {
	l, err := Load("", sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	rb, ok := l.Get("generic-token-exposed")
	if !ok {
		t.Fatal("generic-token-exposed not loaded")
	}
	if rb.File != "builtin:generic-token-exposed.yaml" || rb.SHA256 == "" || rb.Source == "" {
		t.Errorf("File/SHA256/Source = %q %q %d bytes", rb.File, rb.SHA256, len(rb.Source))
	}
	for _, k := range sever.SignalKinds {
		got, err := l.Select(sever.CredGenericToken, k)
		if err != nil || got != rb {
			t.Errorf("Select(generic_token, %s) = %v, %v", k, got, err)
		}
	}
	byID := map[string]sever.RunbookStep{}
	var ids []string
	for _, st := range rb.Steps {
		byID[st.ID] = st
		ids = append(ids, st.ID)
	}
	if strings.Join(ids, ",") != "observe-vendor,capture,disable,notify" {
		t.Fatalf("steps = %v", ids)
	}
	if st := byID["observe-vendor"]; st.OnFailure != sever.FailContinue || st.Containment || st.Action != sever.ActionTokenVendorSeen {
		t.Errorf("observe-vendor = %+v", st)
	}
	st := byID["disable"]
	if st.Action != sever.ActionTokenDisable || !st.Mutating || !st.Containment || st.MaxAttempts != 5 ||
		st.Timeout.D().String() != "20s" || st.Enforcement != sever.EnterpriseEnforced ||
		strings.Join(st.Needs, ",") != "capture" {
		t.Errorf("disable = %+v", st)
	}
	if st.Verify == nil || st.Verify.Action != sever.ActionTokenStatus || st.Verify.Args["expect"] != "inactive" {
		t.Errorf("disable.verify = %+v", st.Verify)
	}
	if st.Compensate == nil || st.Compensate.Action != sever.ActionTokenEnable {
		t.Errorf("disable.compensate = %+v", st.Compensate)
	}
	if st := byID["notify"]; st.Action != sever.ActionNotifyLog || st.Args["message"] != "token disabled and verified" ||
		strings.Join(st.Needs, ",") != "disable" {
		t.Errorf("notify = %+v", st)
	}
	// The default policy must let the built-in run without a human.
	p, err := DefaultPolicy(sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range rb.Steps {
		if d := p.Decide(st.Action, sever.CredGenericToken, false); d.Mode != sever.ModeAuto {
			t.Errorf("default policy: step %s (%s) is %s by %s, want auto", st.ID, st.Action, d.Mode, d.Rule)
		}
	}
}

func TestLoadOverrideAndAdd(t *testing.T) {
	override := strings.Replace(simpleRunbook("generic-token-exposed", 0, "generic_token", "credential_exposed"), `version: "1"`, `version: "9.9"`, 1)
	dir := writeFiles(t, map[string]string{
		"override.yaml": override,
		"extra.yml":     simpleRunbook("aws-key", 0, "aws_access_key", "credential_exposed"),
		"notes.txt":     "not a runbook",
	})
	if err := os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := Load(dir, sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	rb, ok := l.Get("generic-token-exposed")
	if !ok || rb.Version != "9.9" || rb.File != filepath.Join(dir, "override.yaml") {
		t.Errorf("override not applied: %+v", rb)
	}
	if _, ok := l.Get("aws-key"); !ok {
		t.Error("extra.yml not loaded")
	}
	var names []string
	for _, rb := range l.List() {
		names = append(names, rb.Name)
	}
	// The built-ins grow with the catalog: check the order and the two added here,
	// not the whole list.
	if !slices.IsSorted(names) || !slices.Contains(names, "aws-key") || !slices.Contains(names, "generic-token-exposed") ||
		!slices.Contains(names, "aws-access-key-exposed") {
		t.Errorf("List = %v, want sorted by name, with aws-key and the built-ins", names)
	}
	if _, ok := l.Get("nope"); ok {
		t.Error("Get(nope) found something")
	}
}

func TestLoadFailures(t *testing.T) {
	t.Run("invalid file fails with its lint errors", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{
			"good.yaml": simpleRunbook("good", 0, "generic_token", "credential_exposed"),
			"bad.yaml":  "name: bad\nversion: \"1\"\nsteps:\n  - {id: a, action: sever.nope}\n",
			"bad2.yaml": "name: bad2\nversion: 1\nsteps:\n  - {id: a, action: sever.noop}\n",
		})
		_, err := Load(dir, sever.Catalog)
		errs := lintErrors(t, err)
		assertHas(t, errs, filepath.Join(dir, "bad.yaml"), wantErr{4, "steps[0].action", "unknown action"})
		assertHas(t, errs, filepath.Join(dir, "bad2.yaml"), wantErr{2, "version", "must be a string"})
	})
	t.Run("duplicate names in the directory", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{
			"a.yaml": simpleRunbook("same", 0, "generic_token", "credential_exposed"),
			"b.yaml": simpleRunbook("same", 0, "generic_token", "credential_exposed"),
		})
		_, err := Load(dir, sever.Catalog)
		assertHas(t, lintErrors(t, err), filepath.Join(dir, "b.yaml"),
			wantErr{1, "name", `runbook "same" is also defined in ` + filepath.Join(dir, "a.yaml")})
	})
	t.Run("missing directory", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "nope")
		_, err := Load(missing, sever.Catalog)
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
			t.Fatalf("Load(missing) = %v", err)
		}
	})
	t.Run("built-ins checked against the given catalog", func(t *testing.T) {
		small := map[string]sever.ActionSpec{sever.ActionNoop: sever.Catalog[sever.ActionNoop]}
		_, err := Load("", small)
		src, _ := builtinFS.ReadFile("builtin/generic-token-exposed.yaml")
		line := 0
		for i, l := range strings.Split(string(src), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "action: ") {
				line = i + 1
				break
			}
		}
		assertHas(t, lintErrors(t, err), "builtin:generic-token-exposed.yaml",
			wantErr{line, "steps[0].action", "unknown action"})
	})
}

func TestSelect(t *testing.T) {
	// Every credential type has a built-in at priority 0, which would outrank a
	// negative priority: low.yaml replaces github_token's built-in by name.
	dir := writeFiles(t, map[string]string{
		"b.yaml":   simpleRunbook("b-tie", 5, "generic_token", "abuse_report, anomalous_usage"),
		"a.yaml":   simpleRunbook("a-tie", 5, "generic_token", "abuse_report, anomalous_usage"),
		"hi.yaml":  simpleRunbook("high", 10, "generic_token", "anomalous_usage"),
		"low.yaml": simpleRunbook("github-token-exposed", -5, "github_token", "credential_exposed"),
	})
	l, err := Load(dir, sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ct   sever.CredentialType
		kind sever.SignalKind
		want string
	}{
		{"highest priority wins", sever.CredGenericToken, sever.KindAnomalousUsage, "high"},
		{"tie broken by name", sever.CredGenericToken, sever.KindAbuseReport, "a-tie"},
		{"built-in at priority 0", sever.CredGenericToken, sever.KindCredentialExposed, "generic-token-exposed"},
		{"negative priority still matches", sever.CredGitHubToken, sever.KindCredentialExposed, "github-token-exposed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb, err := l.Select(tt.ct, tt.kind)
			if err != nil || rb.Name != tt.want {
				t.Fatalf("Select(%s, %s) = %v, %v; want %s", tt.ct, tt.kind, rb, err, tt.want)
			}
		})
	}
	t.Run("no match", func(t *testing.T) {
		// Every known credential type has a built-in runbook for every kind.
		_, err := l.Select(noRunbookType, sever.KindVendorAction)
		var se *sever.Error
		if !errors.As(err, &se) || se.Code != sever.EUNPROCESSABLE {
			t.Fatalf("Select error = %#v, want *sever.Error EUNPROCESSABLE", err)
		}
		if !strings.Contains(se.Message, `"`+string(noRunbookType)+`"`) || !strings.Contains(se.Message, `"vendor_action"`) {
			t.Errorf("message %q does not name the type and kind", se.Message)
		}
	})
}

// noRunbookType is a credential type no built-in runbook matches.
const noRunbookType = sever.CredentialType("no_builtin_runbook")

func TestMatchAllRunbook(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"all.yaml": "name: catch-all\nversion: \"1\"\nmatch: {priority: -100}\nsteps: [{id: a, action: sever.noop}]\n",
	})
	l, err := Load(dir, sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	if rb, err := l.Select(noRunbookType, sever.KindVendorAction); err != nil || rb.Name != "catch-all" {
		t.Fatalf("Select = %v, %v; want catch-all", rb, err)
	}
	if rb, _ := l.Select(sever.CredGenericToken, sever.KindVendorAction); rb.Name != "generic-token-exposed" {
		t.Fatalf("catch-all at -100 beat the built-in: %s", rb.Name)
	}
}

func TestLoadPolicy(t *testing.T) {
	p, err := LoadPolicy("", sever.Catalog)
	if err != nil || p.Name != "default" {
		t.Fatalf("LoadPolicy(\"\") = %v, %v", p, err)
	}
	dir := writeFiles(t, map[string]string{
		"p.yaml":   "name: strict\nversion: \"2\"\nrules: []\n",
		"bad.yaml": "name: strict\nversion: \"2\"\nrules:\n  - {id: r, actions: [nothing.*], mode: auto}\n",
	})
	p, err = LoadPolicy(filepath.Join(dir, "p.yaml"), sever.Catalog)
	if err != nil || p.Name != "strict" || p.File != filepath.Join(dir, "p.yaml") {
		t.Fatalf("LoadPolicy(p.yaml) = %+v, %v", p, err)
	}
	_, err = LoadPolicy(filepath.Join(dir, "bad.yaml"), sever.Catalog)
	assertHas(t, lintErrors(t, err), filepath.Join(dir, "bad.yaml"), wantErr{4, "rules[0].actions[0]", "matches no known action"})
	if _, err := LoadPolicy(filepath.Join(dir, "missing.yaml"), sever.Catalog); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LoadPolicy(missing) = %v", err)
	}
}

func TestLint(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"rb.yaml":         simpleRunbook("ok", 0, "generic_token", "credential_exposed"),
		"policy.yaml":     "name: p\nversion: \"1\"\nrules: [{id: r, actions: [sever.noop], mode: auto}]\n",
		"bad-rb.yaml":     "name: x\nversion: \"1\"\nsteps: [{id: a, action: sever.noop, timeout: 5x}]\n",
		"bad-policy.yaml": "name: p\nversion: \"1\"\nrules: [{id: r, actions: [sever.noop], mode: sometimes}]\n",
	})
	path := func(n string) string { return filepath.Join(dir, n) }

	if errs := Lint([]string{path("rb.yaml"), path("policy.yaml")}, sever.Catalog); len(errs) != 0 {
		t.Fatalf("valid files: %v", errs)
	}
	errs := Lint([]string{path("bad-rb.yaml"), path("bad-policy.yaml"), path("missing.yaml")}, sever.Catalog)
	if len(errs) != 3 {
		t.Fatalf("got %d errors, want 3: %v", len(errs), errs)
	}
	want := []string{
		path("bad-rb.yaml") + ":3: steps[0].timeout: ",
		path("bad-policy.yaml") + ":3: rules[0].mode: ",
		path("missing.yaml"),
	}
	for i, w := range want {
		if !strings.Contains(errs[i].Error(), w) {
			t.Errorf("errs[%d] = %q, want it to contain %q", i, errs[i], w)
		}
	}
	var le LintError
	if !errors.As(errs[0], &le) || le.Field != "steps[0].timeout" {
		t.Errorf("errs[0] is not a LintError: %#v", errs[0])
	}
}

func TestIsPolicy(t *testing.T) {
	for src, want := range map[string]bool{
		"rules: []\n":                  true,
		"name: p\nrules:\n  - id: r\n": true,
		"name: r\nsteps: []\n":         false,
		"[rules]\n":                    false,
		"rules: [\n":                   false,
		"":                             false,
	} {
		if got := IsPolicy([]byte(src)); got != want {
			t.Errorf("IsPolicy(%q) = %v, want %v", src, got, want)
		}
	}
}

// The examples in README.md are the format's documentation; they must stay valid.
func TestReadmeExamples(t *testing.T) {
	doc, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var checked int
	for i, block := range strings.Split(string(doc), "```yaml\n")[1:] {
		src := []byte(block[:strings.Index(block, "```")])
		file := fmt.Sprintf("README.md#yaml-%d", i)
		switch {
		case strings.Contains(block, "\nsteps:"):
			_, err = Parse(file, src, sever.Catalog)
		case strings.Contains(block, "\nrules:"):
			_, err = ParsePolicy(file, src, sever.Catalog)
		default:
			continue
		}
		checked++
		if err != nil {
			t.Errorf("%s:\n%v", file, err)
		}
	}
	if checked < 2 {
		t.Fatalf("checked %d examples, want the runbook and the policy", checked)
	}
}

func TestBuiltinAWSAccessKey(t *testing.T) {
	l, err := Load("", sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	rb, ok := l.Get("aws-access-key-exposed")
	if !ok {
		t.Fatal("aws-access-key-exposed not loaded")
	}
	for _, k := range sever.SignalKinds {
		if got, err := l.Select(sever.CredAWSAccessKey, k); err != nil || got != rb {
			t.Errorf("Select(aws_access_key, %s) = %v, %v", k, got, err)
		}
	}
	byID := map[string]sever.RunbookStep{}
	for _, st := range rb.Steps {
		byID[st.ID] = st
	}
	st := byID["deactivate"]
	if st.Action != sever.ActionAWSDeactivateKey || !st.Containment || st.Enforcement != sever.EnterpriseEnforced ||
		strings.Join(st.Needs, ",") != "key-owner,capture" {
		t.Errorf("deactivate = %+v", st)
	}
	if st.Verify == nil || st.Verify.Action != sever.ActionAWSKeyStatus || st.Verify.Args["expect"] != "inactive" {
		t.Errorf("deactivate.verify = %+v", st.Verify)
	}
	if st.Compensate == nil || st.Compensate.Action != sever.ActionAWSActivateKey {
		t.Errorf("deactivate.compensate = %+v", st.Compensate)
	}
	if st := byID["vendor-quarantine"]; st.Action != sever.ActionAWSVendorQuarantine || st.Containment || st.OnFailure != sever.FailContinue {
		t.Errorf("vendor-quarantine = %+v", st)
	}
	if st := byID["rotate-secrets"]; st.Action != sever.ActionAWSRotateSecret || st.Containment || st.OnFailure != sever.FailContinue {
		t.Errorf("rotate-secrets = %+v", st)
	}
	for _, id := range []string{"key-owner", "cloudtrail", "revoke-sessions", "store-evidence"} {
		if _, ok := byID[id]; !ok {
			t.Errorf("step %s missing", id)
		}
	}
	for _, st := range rb.Steps {
		if st.Action == sever.ActionAWSDeleteKey {
			t.Errorf("step %s deletes the key; deletion must stay a separate, approved decision", st.ID)
		}
	}

	// Default policy: reads automatic, containment after approval. The pre-approved
	// variant runs the whole runbook without a human.
	def, err := DefaultPolicy(sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	pre := preapproved(t)
	for _, st := range rb.Steps {
		d := def.Decide(st.Action, sever.CredAWSAccessKey, false)
		want := sever.ModeAuto
		if st.Mutating {
			want = sever.ModeApproval
		}
		if d.Mode != want {
			t.Errorf("default policy: step %s (%s) is %s by %s, want %s", st.ID, st.Action, d.Mode, d.Rule, want)
		}
		for _, drill := range []bool{false, true} {
			if d := pre.Decide(st.Action, sever.CredAWSAccessKey, drill); d.Mode != sever.ModeAuto {
				t.Errorf("pre-approved policy: step %s (%s) is %s by %s, want auto", st.ID, st.Action, d.Mode, d.Rule)
			}
		}
	}
}

func preapproved(t *testing.T) *sever.Policy {
	t.Helper()
	src, err := os.ReadFile("policy/aws-preapproved.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePolicy("policy/aws-preapproved.yaml", src, sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The pre-approved variant is the default policy with reversible containment made
// automatic (AWS deactivation and its companions, Anthropic disable) and OpenAI's
// irreversible revoke made automatic in drills only, and nothing else: deleting a key
// stays behind two approvals in both.
func TestPreapprovedPolicyDiffersOnlyInContainment(t *testing.T) {
	def, err := DefaultPolicy(sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	pre := preapproved(t)
	containment := map[string]string{
		sever.ActionAWSDeactivateKey: "aws-containment-auto", sever.ActionAWSRevokeSessions: "aws-containment-auto",
		sever.ActionAWSRotateSecret: "aws-containment-auto", sever.ActionAnthropicDisableKey: "provider-containment-auto",
		sever.ActionAWSRevokeRoleSessions:          "aws-session-containment-auto",
		sever.ActionAWSDeactivateServiceCredential: "bedrock-key-containment-auto", sever.ActionAWSContainShortTermBedrockKeys: "bedrock-key-containment-auto",
	}
	for _, action := range sever.ActionNames() {
		for _, ct := range sever.CredentialTypes {
			for _, drill := range []bool{false, true} {
				d, p := def.Decide(action, ct, drill), pre.Decide(action, ct, drill)
				if rule, ok := containment[action]; ok {
					if d.Mode != sever.ModeApproval || p.Mode != sever.ModeAuto || p.Rule != rule {
						t.Errorf("%s: default %+v, pre-approved %+v", action, d, p)
					}
					continue
				}
				if action == sever.ActionOpenAIRevokeKey && drill {
					if d.Mode != sever.ModeApproval || p.Mode != sever.ModeAuto || p.Rule != "openai-key-revoke-drill-auto" {
						t.Errorf("%s in a drill: default %+v, pre-approved %+v", action, d, p)
					}
					continue
				}
				if !reflect.DeepEqual(d, p) {
					t.Errorf("%s (%s, drill=%v): default %+v, pre-approved %+v", action, ct, drill, d, p)
				}
			}
		}
	}
	if d := pre.Decide(sever.ActionAWSDeleteKey, sever.CredAWSAccessKey, true); d.Mode != sever.ModeApproval || d.Quorum != 2 {
		t.Errorf("delete in a drill = %+v; want approval by 2", d)
	}
}

func TestBuiltinLLMAPIKey(t *testing.T) {
	l, err := Load("", sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	rb, ok := l.Get("llm-api-key-abused")
	if !ok {
		t.Fatal("llm-api-key-abused not loaded")
	}
	for _, ct := range []sever.CredentialType{sever.CredAnthropicAPIKey, sever.CredOpenAIAPIKey} {
		for _, k := range sever.SignalKinds {
			if got, err := l.Select(ct, k); err != nil || got != rb {
				t.Errorf("Select(%s, %s) = %v, %v", ct, k, got, err)
			}
		}
	}
	byID := map[string]sever.RunbookStep{}
	for _, st := range rb.Steps {
		byID[st.ID] = st
		if st.Frameworks.IsZero() {
			t.Errorf("step %s has no framework mapping", st.ID)
		}
	}
	if rb.Frameworks.IsZero() {
		t.Error("runbook has no framework mapping")
	}
	st := byID["disable-anthropic"]
	if st.Action != sever.ActionAnthropicDisableKey || !st.Containment || st.Enforcement != sever.EnterpriseEnforced ||
		strings.Join(st.Needs, ",") != "observe-anthropic,capture" || !strings.Contains(st.When, `"anthropic_api_key"`) {
		t.Errorf("disable-anthropic = %+v", st)
	}
	if st.Verify == nil || st.Verify.Action != sever.ActionAnthropicKeyStatus || st.Verify.Args["expect"] != "inactive" {
		t.Errorf("disable-anthropic.verify = %+v", st.Verify)
	}
	if st.Compensate == nil || st.Compensate.Action != sever.ActionAnthropicEnableKey {
		t.Errorf("disable-anthropic.compensate = %+v", st.Compensate)
	}
	st = byID["revoke-openai"]
	if st.Action != sever.ActionOpenAIRevokeKey || !st.Containment || st.Compensate != nil ||
		strings.Join(st.Needs, ",") != "observe-openai,capture" || !strings.Contains(st.When, `"openai_api_key"`) {
		t.Errorf("revoke-openai = %+v; want containment, no compensation", st)
	}
	if st.Verify == nil || st.Verify.Action != sever.ActionOpenAIKeyStatus || st.Verify.Args["expect"] != "absent" {
		t.Errorf("revoke-openai.verify = %+v", st.Verify)
	}
	for _, id := range []string{"observe-anthropic", "observe-openai"} {
		if st := byID[id]; st.Containment || st.OnFailure != sever.FailContinue || st.Enforcement != sever.VendorEnforced {
			t.Errorf("%s = %+v", id, st)
		}
	}
	if st := byID["rotate-secrets"]; st.Action != sever.ActionAWSRotateSecret || st.Containment || st.OnFailure != sever.FailContinue {
		t.Errorf("rotate-secrets = %+v", st)
	}

	// Default policy: reads automatic, every change after approval. Pre-approved:
	// everything automatic except OpenAI's irreversible revoke outside drills.
	def, err := DefaultPolicy(sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	pre := preapproved(t)
	for _, st := range rb.Steps {
		for _, ct := range []sever.CredentialType{sever.CredAnthropicAPIKey, sever.CredOpenAIAPIKey} {
			want := sever.ModeAuto
			if st.Mutating {
				want = sever.ModeApproval
			}
			if d := def.Decide(st.Action, ct, false); d.Mode != want {
				t.Errorf("default policy: step %s (%s) is %s by %s, want %s", st.ID, st.Action, d.Mode, d.Rule, want)
			}
			for _, drill := range []bool{false, true} {
				want := sever.ModeAuto
				if st.Action == sever.ActionOpenAIRevokeKey && !drill {
					want = sever.ModeApproval
				}
				if d := pre.Decide(st.Action, ct, drill); d.Mode != want {
					t.Errorf("pre-approved policy (drill=%v): step %s (%s) is %s by %s, want %s", drill, st.ID, st.Action, d.Mode, d.Rule, want)
				}
			}
		}
	}
}

// A GitHub token found by secret scanning has a runbook (it got 422 before): the
// token is revoked after approval and verified, the alert resolved only after.
func TestBuiltinGitHubToken(t *testing.T) {
	l, err := Load("", sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	rb, ok := l.Get("github-token-exposed")
	if !ok {
		t.Fatal("github-token-exposed not loaded")
	}
	for _, k := range sever.SignalKinds {
		if got, err := l.Select(sever.CredGitHubToken, k); err != nil || got != rb {
			t.Errorf("Select(github_token, %s) = %v, %v", k, got, err)
		}
	}
	byID := map[string]sever.RunbookStep{}
	for _, st := range rb.Steps {
		byID[st.ID] = st
	}
	st := byID["revoke"]
	if st.Action != sever.ActionGitHubRevokeAlertToken || !st.Containment || st.Enforcement != sever.EnterpriseEnforced || st.Compensate != nil {
		t.Errorf("revoke = %+v; want enterprise-enforced containment, no compensation", st)
	}
	if st.Verify == nil || st.Verify.Action != sever.ActionGitHubAlertStatus || st.Verify.Args["expect"] != "revoked" {
		t.Errorf("revoke.verify = %+v", st.Verify)
	}
	if st := byID["resolve-alert"]; st.Action != sever.ActionGitHubResolveAlert || st.Containment ||
		strings.Join(st.Needs, ",") != "revoke" || st.OnFailure != sever.FailContinue {
		t.Errorf("resolve-alert = %+v; want after revoke, not containment", st)
	}
	pre := preapproved(t)
	def, err := DefaultPolicy(sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*sever.Policy{def, pre} {
		for _, drill := range []bool{false, true} {
			if d := p.Decide(sever.ActionGitHubRevokeAlertToken, sever.CredGitHubToken, drill); d.Mode != sever.ModeApproval {
				t.Errorf("%s: revoke (drill=%v) = %+v; irreversible, want approval", p.Name, drill, d)
			}
			for _, a := range []string{sever.ActionGitHubAlertStatus, sever.ActionGitHubResolveAlert} {
				if d := p.Decide(a, sever.CredGitHubToken, drill); d.Mode != sever.ModeAuto {
					t.Errorf("%s: %s (drill=%v) = %+v; want auto", p.Name, a, drill, d)
				}
			}
		}
	}
}
