package config

import (
	"errors"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// cleanEnv makes every SEVER_* override empty (= unset) for the test.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, l := range envLeaves() {
		t.Setenv(l.env, "")
	}
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *config.Error, got %T: %v", err, err)
	}
	return e
}

func problemFor(e *Error, field string) (Problem, bool) {
	for _, p := range e.Problems {
		if p.Field == field {
			return p, true
		}
	}
	return Problem{}, false
}

func TestDefaults(t *testing.T) {
	cleanEnv(t)
	for _, tc := range []struct {
		name string
		load func() (*Config, error)
	}{
		{"no file", func() (*Config, error) { return Load("") }},
		{"empty file", func() (*Config, error) { return Parse("sever.yaml", nil) }},
		{"comments only", func() (*Config, error) { return Parse("sever.yaml", []byte("# nothing\n")) }},
		{"empty document", func() (*Config, error) { return Parse("sever.yaml", []byte("---\n")) }},
		{"null sections", func() (*Config, error) {
			return Parse("sever.yaml", []byte("temporal:\nhttp: ~\nincidents:\n  hold:\n"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.load()
			if err != nil {
				t.Fatal(err)
			}
			checks := []struct {
				field     string
				got, want any
			}{
				{"data_dir", c.DataDir, ".sever"},
				{"temporal.address", c.Temporal.Address, ""},
				{"temporal.namespace", c.Temporal.Namespace, "default"},
				{"temporal.task_queue", c.Temporal.TaskQueue, "sever"},
				{"temporal.sticky_cache_size", c.Temporal.StickyCacheSize, 2000},
				{"temporal.frontend_port", c.Temporal.FrontendPort, 7233},
				{"temporal.ui_port", c.Temporal.UIPort, 8233},
				{"http.listen", c.HTTP.Listen, "127.0.0.1:8080"},
				{"http.max_body_bytes", c.HTTP.MaxBodyBytes, int64(1048576)},
				{"incidents.hold", c.Incidents.Hold, 168 * time.Hour},
				{"tokenstore.path", c.TokenStore.Path, ".sever/tokens.json"},
				{"log.level", c.Log.Level, "info"},
				{"log.format", c.Log.Format, "text"},
				{"aws.regions", len(c.AWS.Regions), 0},
				{"aws.evidence_retention", c.AWS.EvidenceRetention, 8760 * time.Hour},
				{"aws.evidence_lock_mode", c.AWS.EvidenceLockMode, "COMPLIANCE"},
				{"aws.max_attempts", c.AWS.MaxAttempts, 3},
				{"inventory.path", c.Inventory.Path, ""},
				{"ledger.s3.bucket", c.Ledger.S3.Bucket, ""},
				{"ledger.s3.prefix", c.Ledger.S3.Prefix, "sever-ledger/"},
				{"ledger.s3.retention", c.Ledger.S3.Retention, 8760 * time.Hour},
				{"ledger.s3.lock_mode", c.Ledger.S3.LockMode, "COMPLIANCE"},
				{"ledger.s3.region", c.Ledger.S3.Region, ""},
				{"slack.bot_token", c.Slack.BotToken, SecretRef("")},
			}
			for _, ck := range checks {
				if !reflect.DeepEqual(ck.got, ck.want) {
					t.Errorf("%s = %#v, want %#v", ck.field, ck.got, ck.want)
				}
			}
			if w := c.Warnings(); len(w) != 0 {
				t.Errorf("warnings on defaults: %q", w)
			}
		})
	}
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
}

func TestExampleLoads(t *testing.T) {
	cleanEnv(t)
	c, err := Load("sever.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(c.Intake.Tokens); got != 2 || c.Intake.Tokens[0].Name != "siem" || !c.Intake.Tokens[0].HasScope(ScopeSignalsWrite) {
		t.Errorf("intake.tokens = %+v", c.Intake.Tokens)
	}
	if c.Intake.GitHubWebhookSecret.Scheme() != SchemeFile {
		t.Errorf("github_webhook_secret scheme = %q", c.Intake.GitHubWebhookSecret.Scheme())
	}
	if o := c.Operators[0]; o.Name != "alice" || o.SlackUser != "U012AB3CD" || !o.HasScope(ScopeApprovalsWrite) || o.HasScope(ScopeSignalsWrite) {
		t.Errorf("operators[0] = %+v", o)
	}
	if c.Operators[1].Token.Scheme() != SchemeAWSSM {
		t.Errorf("operators[1].token scheme = %q", c.Operators[1].Token.Scheme())
	}
	if got := c.Approvers.Groups["soc-leads"]; !reflect.DeepEqual(got, []string{"U012AB3CD", "U045EF6GH"}) {
		t.Errorf("approvers.groups.soc-leads = %v", got)
	}
	if c.Slack.Channel != "C0123456789" || c.Slack.BotToken != "env:SLACK_BOT_TOKEN" {
		t.Errorf("slack = %+v", c.Slack)
	}
	if a := c.AWS.Accounts[0]; a.ID != "111122223333" || a.RoleARN != "arn:aws:iam::111122223333:role/sever-responder" {
		t.Errorf("aws.accounts[0] = %+v", a)
	}
	if got := c.AWS.AccountRegions(c.AWS.Accounts[0]); !reflect.DeepEqual(got, []string{"us-east-1", "eu-west-1"}) {
		t.Errorf("regions of account 0 = %v", got)
	}
	if got := c.AWS.AccountRegions(c.AWS.Accounts[1]); !reflect.DeepEqual(got, []string{"us-west-2"}) {
		t.Errorf("regions of account 1 = %v", got)
	}
	if c.Incidents.Hold != 168*time.Hour || c.TokenStorePath() != ".sever/tokens.json" {
		t.Errorf("hold %v, tokenstore %q", c.Incidents.Hold, c.TokenStorePath())
	}
	// The example sets every key, so a new field must be added to it (and to README.md).
	var root yaml.Node
	data, _ := os.ReadFile("sever.example.yaml")
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			walk(n.Content[0], path)
		case yaml.MappingNode:
			if path == "approvers.groups" {
				present[path] = true
				return
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := joinPath(path, n.Content[i].Value)
				present[p] = true
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for _, item := range n.Content {
				walk(item, path+"[]")
			}
		}
	}
	walk(&root, "")
	for _, k := range allKeys() {
		if !present[k] {
			t.Errorf("sever.example.yaml does not show %s", k)
		}
	}
}

// allKeys lists every key path of the file, with [] for list items.
func allKeys() []string {
	var out []string
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for _, f := range fieldsOf(t) {
			ft := t.Field(f.index).Type
			p := joinPath(path, f.name)
			out = append(out, p)
			switch {
			case ft.Kind() == reflect.Struct && ft != durationType:
				walk(ft, p)
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem(), p+"[]")
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	return out
}

func TestREADMEDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	for _, k := range allKeys() {
		if !strings.Contains(readme, "`"+k+"`") {
			t.Errorf("README.md does not document `%s`", k)
		}
	}
	for _, l := range envLeaves() {
		if !strings.Contains(readme, "`"+l.env+"`") {
			t.Errorf("README.md does not name `%s`", l.env)
		}
	}
	for _, s := range Scopes {
		if !strings.Contains(readme, "`"+s+"`") {
			t.Errorf("README.md does not document scope %s", s)
		}
	}
}

func TestRedactedRoundTrip(t *testing.T) {
	cleanEnv(t)
	c, err := Load("sever.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"bot_token: env:SLACK_BOT_TOKEN", "hold: 168h0m0s", `id: "111122223333"`, "path: .sever/tokens.json"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("Redacted() lacks %q:\n%s", want, out)
		}
	}
	c2, err := Parse("redacted.yaml", out)
	if err != nil {
		t.Fatalf("Redacted() output does not load: %v\n%s", err, out)
	}
	out2, _ := c2.Redacted()
	if string(out) != string(out2) {
		t.Errorf("round trip differs:\n%s\n---\n%s", out, out2)
	}
}

func TestUnknownKey(t *testing.T) {
	cleanEnv(t)
	for _, tc := range []struct {
		name, yaml string
		want       []string // each problem, formatted
	}{
		{"typo with suggestion", "slack:\n  channel: C0123\n  chanel: C0123\n",
			[]string{`sever.yaml:3: slack.chanel: unknown field (did you mean "channel"?)`}},
		{"top level", "temporall:\n  namespace: x\n",
			[]string{`sever.yaml:1: temporall: unknown field (did you mean "temporal"?)`}},
		{"case", "Log:\n  level: info\n",
			[]string{`sever.yaml:1: Log: unknown field (did you mean "log"?)`}},
		{"inside a list", "operators:\n  - name: a\n    token: env:A\n    scope: [incidents:read]\n",
			[]string{`sever.yaml:4: operators[0].scope: unknown field (did you mean "scopes"?)`}},
		{"no suggestion", "frobnicate: 1\n", []string{`sever.yaml:1: frobnicate: unknown field`}},
		{"nested struct", "aws:\n  endpoints:\n    lamda: http://x\n", []string{`sever.yaml:3: aws.endpoints.lamda: unknown field`}},
		{"all collected", "htp: {}\nslack:\n  chanel: C1\n", []string{
			`sever.yaml:1: htp: unknown field (did you mean "http"?)`,
			`sever.yaml:3: slack.chanel: unknown field (did you mean "channel"?)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("sever.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			e := asError(t, err)
			var got []string
			for _, p := range e.Problems {
				got = append(got, p.String())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	cleanEnv(t)
	for _, tc := range []struct {
		name, yaml, field, msg string
		line                   int
	}{
		{"mapping expected", "http: [1, 2]\n", "http", "expected a mapping, got a list", 1},
		{"int", "temporal:\n  frontend_port: abc\n", "temporal.frontend_port", "expected an integer", 2},
		{"float for int", "temporal:\n  frontend_port: 1.5\n", "temporal.frontend_port", "expected an integer", 2},
		{"int too big", "http:\n  max_body_bytes: 99999999999999999999\n", "http.max_body_bytes", "expected an integer", 2},
		{"duration", "incidents:\n  hold: 7days\n", "incidents.hold", "not a duration", 2},
		{"duration as list", "incidents:\n  hold: [1h]\n", "incidents.hold", "expected a duration", 2},
		{"bool", "aws:\n  s3_use_path_style: maybe\n", "aws.s3_use_path_style", "expected true or false", 2},
		{"list expected", "aws:\n  regions: us-east-1\n", "aws.regions", "expected a list, got a single value", 2},
		{"scalar expected", "slack:\n  channel: [C1]\n", "slack.channel", "expected a single value, got a list", 2},
		{"duplicate key", "log:\n  level: info\n  level: debug\n", "log.level", "duplicate key (first set on line 2)", 3},
		{"merge key", "log:\n  <<: {level: info}\n", "log", "merge keys (<<) are not supported", 2},
		{"null list item", "approvers:\n  groups:\n    soc: [U0123, ~]\n", "approvers.groups.soc[1]", "empty list item", 3},
		{"root not a mapping", "- a\n- b\n", "", "expected a mapping, got a list", 1},
		{"two documents", "log: {level: info}\n---\nlog: {level: debug}\n", "", "only one YAML document is allowed", 2},
		{"syntax", "slack:\n  channel: C1\n bad: [\n", "", "invalid YAML", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("sever.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			e := asError(t, err)
			p, ok := problemFor(e, tc.field)
			if !ok {
				t.Fatalf("no problem for field %q in:\n%v", tc.field, err)
			}
			if !strings.Contains(p.Message, tc.msg) {
				t.Errorf("message %q, want it to contain %q", p.Message, tc.msg)
			}
			if p.File != "sever.yaml" || (tc.line > 0 && p.Line != tc.line) {
				t.Errorf("at %s:%d, want sever.yaml:%d (%s)", p.File, p.Line, tc.line, p)
			}
		})
	}
}

func TestAliases(t *testing.T) {
	cleanEnv(t)
	c, err := Parse("sever.yaml", []byte("approvers:\n  groups:\n    a: &m [U0123, U0456]\n    b: *m\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Approvers.Groups["b"], []string{"U0123", "U0456"}) {
		t.Errorf("groups = %v", c.Approvers.Groups)
	}

	// Quadratic expansion through aliases is cut off, not followed.
	var b strings.Builder
	b.WriteString("approvers:\n  groups:\n    g0: &big [")
	for i := range 1000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("U0123")
	}
	b.WriteString("]\n")
	for i := 1; i < 1000; i++ {
		b.WriteString("    g" + strconv.Itoa(i) + ": *big\n")
	}
	start := time.Now()
	_, err = Parse("sever.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("alias expansion: err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("alias expansion took %v", d)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("/nonexistent/sever.yaml")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/sever.yaml") {
		t.Errorf("err = %v", err)
	}
}

func TestTokenStorePathFollowsDataDir(t *testing.T) {
	cleanEnv(t)
	t.Setenv("SEVER_DATA_DIR", "/var/lib/sever")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.TokenStore.Path != "/var/lib/sever/tokens.json" {
		t.Errorf("tokenstore.path = %q", c.TokenStore.Path)
	}
	c, err = Parse("sever.yaml", []byte("tokenstore: {path: /srv/t.json}\n"))
	if err != nil || c.TokenStorePath() != "/srv/t.json" {
		t.Errorf("explicit path: %v %q", err, c.TokenStorePath())
	}
}

// Every leaf whose name says it holds a secret must be a SecretRef, so a secret can never be
// configured inline by adding a plain string field.
func TestSecretFieldsAreRefs(t *testing.T) {
	var walk func(t2 reflect.Type, path string)
	walk = func(t2 reflect.Type, path string) {
		for _, f := range fieldsOf(t2) {
			ft := t2.Field(f.index).Type
			p := joinPath(path, f.name)
			switch {
			case ft.Kind() == reflect.Struct && ft != durationType:
				walk(ft, p)
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem(), p+"[]")
			case ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map:
			default:
				looksSecret := f.name == "external_id"
				for _, w := range strings.Split(f.name, "_") {
					looksSecret = looksSecret || w == "token" || w == "secret" || w == "key" || w == "password"
				}
				if looksSecret && ft != secretRefType {
					t.Errorf("%s is %s, want config.SecretRef", p, ft)
				}
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "")
}
