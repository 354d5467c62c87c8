package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestValidationNamesField(t *testing.T) {
	cleanEnv(t)
	const token = "  tokens:\n    - name: siem\n      secret: env:T\n      scopes: [signals:write]\n"
	for _, tc := range []struct {
		name, yaml, field, msg string
	}{
		{"data_dir", "data_dir: ''\n", "data_dir", "must not be empty"},
		{"temporal address", "temporal:\n  address: localhost\n", "temporal.address", "host:port"},
		{"temporal address port", "temporal:\n  address: 'localhost:0'\n", "temporal.address", "1..65535"},
		{"namespace", "temporal:\n  namespace: ''\n", "temporal.namespace", "must not be empty"},
		{"task queue", "temporal:\n  task_queue: ' '\n", "temporal.task_queue", "must not be empty"},
		{"frontend port", "temporal:\n  frontend_port: 70000\n", "temporal.frontend_port", "1..65535"},
		{"frontend port 0", "temporal:\n  frontend_port: 0\n", "temporal.frontend_port", "1..65535"},
		{"ui port", "temporal:\n  ui_port: -1\n", "temporal.ui_port", "0..65535"},
		{"ui port clash", "temporal:\n  ui_port: 7233\n", "temporal.ui_port", "must differ"},
		{"sticky cache off", "temporal:\n  sticky_cache_size: 0\n", "temporal.sticky_cache_size", "1..100000"},
		{"sticky cache huge", "temporal:\n  sticky_cache_size: 1000000\n", "temporal.sticky_cache_size", "1..100000"},
		{"listen", "http:\n  listen: '8080'\n", "http.listen", "host:port"},
		{"listen port", "http:\n  listen: ':99999'\n", "http.listen", "0..65535"},
		{"max body", "http:\n  max_body_bytes: 0\n", "http.max_body_bytes", "positive"},
		{"public url scheme", "http:\n  public_url: ftp://x\n", "http.public_url", "http or https"},
		{"public url relative", "http:\n  public_url: /sever\n", "http.public_url", "absolute URL"},
		{"public url creds", "http:\n  public_url: https://u:p@x\n", "http.public_url", "credentials"},
		{"token name", "intake:\n  tokens:\n    - secret: env:T\n      scopes: [signals:write]\n", "intake.tokens[0].name", "must not be empty"},
		{"token name chars", "intake:\n  tokens:\n    - name: 'a b'\n      secret: env:T\n      scopes: [signals:write]\n", "intake.tokens[0].name", "letters, digits"},
		{"token name dup", "intake:\n" + token + "    - name: siem\n      secret: env:U\n      scopes: [signals:write]\n", "intake.tokens[1].name", "already used by intake.tokens[0].name"},
		{"token secret", "intake:\n  tokens:\n    - name: siem\n      scopes: [signals:write]\n", "intake.tokens[0].secret", "required"},
		{"token scope", "intake:\n  tokens:\n    - name: siem\n      secret: env:T\n      scopes: [signals:read]\n", "intake.tokens[0].scopes[0]", "unknown scope"},
		{"token named like a Slack user", "intake:\n  tokens:\n    - name: U0123ABCD\n      secret: env:T\n      scopes: [signals:write]\n", "intake.tokens[0].name", "Slack user id"},
		{"token named like a group member", "approvers:\n  groups:\n    soc: [U0123]\nintake:\n  tokens:\n    - name: U0123\n      secret: env:T\n      scopes: [signals:write]\n", "intake.tokens[0].name", "approver identity"},
		{"token named like an operator's slack user", "intake:\n  tokens:\n    - name: W0ALICE\n      secret: env:T\n      scopes: [signals:write]\noperators:\n  - {name: alice, slack_user: W0ALICE, token: env:A, scopes: [approvals:write]}\n", "intake.tokens[0].name", "approver identity"},
		{"token no scopes", "intake:\n  tokens:\n    - name: siem\n      secret: env:T\n", "intake.tokens[0].scopes", "at least one scope"},
		{"operator name clash", "intake:\n" + token + "operators:\n  - name: siem\n    token: env:O\n    scopes: [incidents:read]\n", "operators[0].name", "already used by intake.tokens[0].name"},
		{"operator name dup", "operators:\n  - {name: a, token: env:A, scopes: [incidents:read]}\n  - {name: a, token: env:B, scopes: [incidents:read]}\n", "operators[1].name", "already used by operators[0].name"},
		{"operator slack user", "operators:\n  - {name: a, slack_user: alice, token: env:A, scopes: [incidents:read]}\n", "operators[0].slack_user", "Slack user id"},
		{"operator token", "operators:\n  - {name: a, scopes: [incidents:read]}\n", "operators[0].token", "required"},
		{"operator scope", "operators:\n  - {name: a, token: env:A, scopes: [admin]}\n", "operators[0].scopes[0]", "unknown scope"},
		{"group member", "approvers:\n  groups:\n    soc: [U0123, alice]\n", "approvers.groups.soc[1]", "Slack user id"},
		{"group member dup", "approvers:\n  groups:\n    soc: [U0123, U0123]\n", "approvers.groups.soc[1]", "twice"},
		{"group empty", "approvers:\n  groups:\n    soc: []\n", "approvers.groups.soc", "no members"},
		{"group name", "approvers:\n  groups:\n    'soc leads': [U0123]\n", "approvers.groups.soc leads", "group names"},
		{"channel", "slack:\n  bot_token: env:B\n  signing_secret: env:S\n  channel: '#general'\n", "slack.channel", "channel id"},
		{"escalation channel", "slack:\n  bot_token: env:B\n  signing_secret: env:S\n  channel: C0123\n  escalation_channel: soc\n", "slack.escalation_channel", "channel id"},
		{"escalation without channel", "slack:\n  escalation_channel: C0456\n", "slack.escalation_channel", "needs slack.channel"},
		{"bot token without channel", "slack:\n  bot_token: env:B\n  signing_secret: env:S\n", "slack.channel", "required when slack.bot_token"},
		{"channel without bot token", "slack:\n  channel: C0123\n", "slack.bot_token", "required when slack.channel"},
		{"no way to receive clicks", "slack:\n  bot_token: env:B\n  channel: C0123\n", "slack.signing_secret", "required to receive"},
		{"slack api url", "slack:\n  api_url: 'not a url'\n", "slack.api_url", "absolute URL"},
		{"region", "aws:\n  region: us-east1\n", "aws.region", "region"},
		{"regions", "aws:\n  regions: [us-east-1, EU]\n", "aws.regions[1]", "region"},
		{"regions dup", "aws:\n  regions: [us-east-1, us-east-1]\n", "aws.regions[1]", "twice"},
		{"endpoint url", "aws:\n  endpoint_url: localhost:4566\n", "aws.endpoint_url", "URL"},
		{"service endpoint", "aws:\n  endpoints:\n    sts: 'http://'\n", "aws.endpoints.sts", "absolute URL"},
		{"account id", "aws:\n  accounts:\n    - id: 11112222333\n", "aws.accounts[0].id", "12-digit"},
		{"account id dup", "aws:\n  accounts:\n    - id: '111122223333'\n    - id: '111122223333'\n", "aws.accounts[1].id", "twice"},
		{"role arn", "aws:\n  accounts:\n    - id: '111122223333'\n      role_arn: arn:aws:iam::111122223333:user/bob\n", "aws.accounts[0].role_arn", "IAM role ARN"},
		{"role arn account", "aws:\n  accounts:\n    - id: '111122223333'\n      role_arn: arn:aws:iam::444455556666:role/sever\n", "aws.accounts[0].role_arn", "differs"},
		{"account regions", "aws:\n  accounts:\n    - id: '111122223333'\n      regions: [mars-1]\n", "aws.accounts[0].regions[0]", "region"},
		{"external id ref", "aws:\n  accounts:\n    - id: '111122223333'\n      external_id: 'env:'\n", "aws.accounts[0].external_id", "variable name"},
		{"bucket", "aws:\n  evidence_bucket: Evidence_Bucket\n", "aws.evidence_bucket", "bucket name"},
		{"evidence retention short", "aws:\n  evidence_retention: 1h\n", "aws.evidence_retention", "at least 24h"},
		{"evidence retention zero", "aws:\n  evidence_retention: 0s\n", "aws.evidence_retention", "positive"},
		{"evidence lock mode", "aws:\n  evidence_lock_mode: compliance\n", "aws.evidence_lock_mode", "COMPLIANCE, GOVERNANCE"},
		{"aws max attempts", "aws:\n  max_attempts: 0\n", "aws.max_attempts", "1..10"},
		{"anthropic url", "providers:\n  anthropic:\n    base_url: api.anthropic.com\n", "providers.anthropic.base_url", "URL"},
		{"openai url", "providers:\n  openai:\n    base_url: 'gopher://x'\n", "providers.openai.base_url", "http or https"},
		{"openai project", "providers:\n  openai:\n    project: org-acme\n", "providers.openai.project", "proj_"},
		{"hold short", "incidents:\n  hold: 30s\n", "incidents.hold", "at least 1m"},
		{"hold zero", "incidents:\n  hold: 0s\n", "incidents.hold", "positive"},
		{"hold negative", "incidents:\n  hold: -1h\n", "incidents.hold", "positive"},
		{"log level", "log:\n  level: verbose\n", "log.level", "debug, info, warn, error"},
		{"log format", "log:\n  format: xml\n", "log.format", "text, json"},
		{"file ref relative", "ledger:\n  signing_key: file:keys/ledger\n", "ledger.signing_key", "absolute path"},
		{"ledger s3 bucket", "ledger:\n  s3:\n    bucket: Ledger_Bucket\n", "ledger.s3.bucket", "bucket name"},
		{"ledger s3 prefix no slash", "ledger:\n  s3:\n    prefix: sever-ledger\n", "ledger.s3.prefix", "each ending in /"},
		{"ledger s3 prefix leading slash", "ledger:\n  s3:\n    prefix: /sever-ledger/\n", "ledger.s3.prefix", "each ending in /"},
		{"ledger s3 prefix dot dot", "ledger:\n  s3:\n    prefix: a/../b/\n", "ledger.s3.prefix", "key segments"},
		{"ledger s3 prefix empty segment", "ledger:\n  s3:\n    prefix: a//\n", "ledger.s3.prefix", "key segments"},
		{"ledger s3 prefix space", "ledger:\n  s3:\n    prefix: 'a b/'\n", "ledger.s3.prefix", "key segments"},
		{"ledger s3 retention short", "ledger:\n  s3:\n    retention: 23h\n", "ledger.s3.retention", "at least 24h"},
		{"ledger s3 retention zero", "ledger:\n  s3:\n    retention: 0s\n", "ledger.s3.retention", "positive"},
		{"ledger s3 lock mode", "ledger:\n  s3:\n    lock_mode: governance\n", "ledger.s3.lock_mode", "COMPLIANCE, GOVERNANCE"},
		{"ledger s3 region", "ledger:\n  s3:\n    region: EU\n", "ledger.s3.region", "region"},
		{"aws-sm ref", "providers:\n  openai:\n    admin_key: aws-sm:openai-admin\n", "providers.openai.admin_key", "Secrets Manager ARN"},
		{"aws-sm json key", "providers:\n  openai:\n    admin_key: 'aws-sm:arn:aws:secretsmanager:us-east-1:111122223333:secret:x#'\n", "providers.openai.admin_key", "#jsonkey"},
		{"env ref name", "intake:\n  github_webhook_secret: env:1BAD\n", "intake.github_webhook_secret", "variable name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("sever.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			e := asError(t, err)
			p, ok := problemFor(e, tc.field)
			if !ok {
				t.Fatalf("no problem for %q in:\n%v", tc.field, err)
			}
			if !strings.Contains(p.Message, tc.msg) {
				t.Errorf("message %q, want it to contain %q", p.Message, tc.msg)
			}
			if p.File != "sever.yaml" || p.Line == 0 {
				t.Errorf("%q does not point into the file", p)
			}
			if !strings.HasPrefix(p.String(), fmt.Sprintf("sever.yaml:%d: %s: ", p.Line, tc.field)) {
				t.Errorf("formatted as %q", p)
			}
		})
	}
}

func TestValidateCollectsEverything(t *testing.T) {
	cleanEnv(t)
	_, err := Parse("sever.yaml", []byte("http:\n  listen: nope\nlog:\n  level: loud\n  format: xml\nincidents:\n  hold: 1s\n"))
	e := asError(t, err)
	want := []string{"http.listen", "incidents.hold", "log.level", "log.format"}
	if got := e.Fields(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("fields %v, want %v\n%v", got, want, err)
	}
	if n := strings.Count(err.Error(), "\n"); n != len(want)-1 {
		t.Errorf("want one line per problem:\n%v", err)
	}

	// A hand-built Config validates too, without file positions.
	c := Default()
	c.Log.Level = "loud"
	err = c.Validate()
	if err == nil || err.Error() != "log.level: must be one of debug, info, warn, error" {
		t.Errorf("hand-built: %v", err)
	}
}

const canary = "xoxb-CANARY-0123456789-s3cr3t"

// secretFields are every secret field, set in YAML to an inline value.
var secretFields = []struct{ field, yaml string }{
	{"intake.tokens[0].secret", "intake:\n  tokens:\n    - name: siem\n      secret: %s\n      scopes: [signals:write]\n"},
	{"intake.github_webhook_secret", "intake:\n  github_webhook_secret: %s\n"},
	{"operators[0].token", "operators:\n  - name: alice\n    token: %s\n    scopes: [incidents:read]\n"},
	{"slack.bot_token", "slack:\n  bot_token: %s\n  signing_secret: env:S\n  channel: C0123\n"},
	{"slack.signing_secret", "slack:\n  signing_secret: %s\n"},
	{"slack.app_token", "slack:\n  app_token: %s\n"},
	{"aws.accounts[0].external_id", "aws:\n  accounts:\n    - id: '111122223333'\n      external_id: %s\n"},
	{"providers.anthropic.admin_key", "providers:\n  anthropic:\n    admin_key: %s\n"},
	{"providers.openai.admin_key", "providers:\n  openai:\n    admin_key: %s\n"},
	{"ledger.signing_key", "ledger:\n  signing_key: %s\n"},
}

func TestInlineSecretRejected(t *testing.T) {
	cleanEnv(t)
	for _, tc := range secretFields {
		for _, value := range []string{canary, "sk-ant-admin01-" + canary, "env:" + canary + "-x", "file:" + canary} {
			t.Run(tc.field, func(t *testing.T) {
				_, err := Parse("sever.yaml", []byte(fmt.Sprintf(tc.yaml, value)))
				if err == nil {
					t.Fatal("inline secret accepted")
				}
				e := asError(t, err)
				p, ok := problemFor(e, tc.field)
				if !ok {
					t.Fatalf("no problem for %s:\n%v", tc.field, err)
				}
				if !strings.Contains(p.Message, "reference") {
					t.Errorf("message %q does not say secrets must be references", p.Message)
				}
				if strings.Contains(err.Error(), "CANARY") {
					t.Errorf("error echoes the value: %v", err)
				}
			})
		}
	}
	// The same through the environment, naming the variable.
	t.Setenv("SEVER_SLACK_BOT_TOKEN", canary)
	_, err := Parse("sever.yaml", []byte("slack:\n  signing_secret: env:S\n  channel: C0123\n"))
	if err == nil || !strings.Contains(err.Error(), "SEVER_SLACK_BOT_TOKEN: slack.bot_token: secrets must be references") {
		t.Errorf("env inline secret: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "CANARY") {
		t.Errorf("error echoes the value: %v", err)
	}
}

// Put the canary in each value of the example, one at a time: no error may repeat it.
func TestNoValueEchoedInErrors(t *testing.T) {
	cleanEnv(t)
	data, err := os.ReadFile("sever.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	var values []*yaml.Node
	var walk func(n *yaml.Node, isKey bool)
	walk = func(n *yaml.Node, isKey bool) {
		switch n.Kind {
		case yaml.ScalarNode:
			if !isKey {
				values = append(values, n)
			}
		case yaml.MappingNode:
			for i, c := range n.Content {
				walk(c, i%2 == 0)
			}
		default:
			for _, c := range n.Content {
				walk(c, false)
			}
		}
	}
	walk(&root, false)
	if len(values) < 50 {
		t.Fatalf("only %d values found", len(values))
	}
	rejected := 0
	for _, v := range values {
		for _, bad := range []string{canary, "12" + canary, canary + ":443"} {
			old, oldTag, oldStyle := v.Value, v.Tag, v.Style
			v.Value, v.Tag, v.Style = bad, "!!str", yaml.DoubleQuotedStyle
			doc, err := yaml.Marshal(&root)
			v.Value, v.Tag, v.Style = old, oldTag, oldStyle
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse("sever.yaml", doc)
			if err != nil {
				rejected++
				if strings.Contains(err.Error(), "CANARY") {
					t.Errorf("value at line %d echoed: %v", v.Line, err)
				}
			}
		}
	}
	if rejected < len(values) {
		t.Errorf("only %d of %d bad values rejected", rejected, 3*len(values))
	}
	// And through every environment variable.
	for _, l := range envLeaves() {
		t.Run(l.env, func(t *testing.T) {
			t.Setenv(l.env, canary)
			if _, err := Load("sever.example.yaml"); err != nil && strings.Contains(err.Error(), "CANARY") {
				t.Errorf("value echoed: %v", err)
			}
		})
	}
}

// Printing a config that holds an inline secret (hand-built, never validated) does not show it.
func TestPrintingNeverShowsInlineSecret(t *testing.T) {
	c := Default()
	c.Slack.BotToken = canary
	c.Operators = []Operator{{Name: "a", Token: canary}}
	out, err := c.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(c)
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("cfg", "token", c.Slack.BotToken, "cfg", c)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("cfg", "token", c.Slack.BotToken, "cfg", c)
	for name, s := range map[string]string{
		"Redacted": string(out), "json": string(js), "slog": logged.String(),
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c),
		//lint:ignore S1025 the test checks what each fmt verb prints
		"%s": fmt.Sprintf("%s", c.Slack.BotToken), "%q": fmt.Sprintf("%q", c.Slack.BotToken),
		"%x": fmt.Sprintf("%x", c.Slack.BotToken),
	} {
		if strings.Contains(s, "CANARY") || strings.Contains(s, fmt.Sprintf("%x", "CANARY")) {
			t.Errorf("%s shows the inline secret: %s", name, s)
		}
		if !strings.Contains(s, "redacted") && name != "%x" {
			t.Errorf("%s has no placeholder: %s", name, s)
		}
	}
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "CANARY") {
		t.Errorf("Validate: %v", err)
	}
}

// The policy and the runbooks name approvers the config cannot see; an intake token
// named like one of them is refused once they are loaded.
func TestIntakeTokenNamedLikePolicyApprover(t *testing.T) {
	cleanEnv(t)
	for _, tc := range []struct {
		name, token string
		approvers   []string
		refused     bool
	}{
		{"collides", "lead-bot", []string{"group:soc", "lead-bot"}, true},
		{"distinct", "siem", []string{"group:soc", "lead-bot"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("sever.yaml", []byte("intake:\n  tokens:\n    - name: "+tc.token+"\n      secret: env:T\n      scopes: [signals:write]\n"))
			if err != nil {
				t.Fatal(err)
			}
			err = c.CheckIntakeTokenNames(tc.approvers)
			if (err != nil) != tc.refused {
				t.Fatalf("CheckIntakeTokenNames = %v, refused want %v", err, tc.refused)
			}
			if err != nil && !strings.Contains(err.Error(), "intake.tokens[0].name") {
				t.Errorf("error %q does not name the field", err)
			}
		})
	}
}
