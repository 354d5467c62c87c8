package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEnvNames(t *testing.T) {
	seen := map[string]string{}
	for _, l := range envLeaves() {
		if prev, dup := seen[l.env]; dup {
			t.Errorf("%s and %s both map to %s", prev, l.path, l.env)
		}
		seen[l.env] = l.path
	}
	for env, path := range map[string]string{
		"SEVER_DATA_DIR":              "data_dir",
		"SEVER_HTTP_LISTEN":           "http.listen",
		"SEVER_TEMPORAL_ADDRESS":      "temporal.address",
		"SEVER_SLACK_CHANNEL":         "slack.channel",
		"SEVER_INCIDENTS_HOLD":        "incidents.hold",
		"SEVER_AWS_REGIONS":           "aws.regions",
		"SEVER_AWS_ENDPOINTS_IAM":     "aws.endpoints.iam",
		"SEVER_AWS_S3_USE_PATH_STYLE": "aws.s3_use_path_style",
		"SEVER_TOKENSTORE_PATH":       "tokenstore.path",
	} {
		if seen[env] != path {
			t.Errorf("%s sets %q, want %q", env, seen[env], path)
		}
	}
	for env := range seen {
		for _, skipped := range []string{"SEVER_OPERATORS", "SEVER_INTAKE_TOKENS", "SEVER_AWS_ACCOUNTS", "SEVER_APPROVERS"} {
			if strings.HasPrefix(env, skipped) {
				t.Errorf("%s: lists of mappings and maps have no environment override", env)
			}
		}
	}
}

func TestEnvOverrides(t *testing.T) {
	const file = "http:\n  listen: 127.0.0.1:9000\naws:\n  region: eu-west-1\n  s3_use_path_style: true\n"
	for _, tc := range []struct {
		name string
		env  map[string]string
		get  func(*Config) any
		want any
	}{
		{"string", map[string]string{"SEVER_TEMPORAL_ADDRESS": "temporal.example.com:7233"},
			func(c *Config) any { return c.Temporal.Address }, "temporal.example.com:7233"},
		{"string over file", map[string]string{"SEVER_HTTP_LISTEN": "0.0.0.0:8443"},
			func(c *Config) any { return c.HTTP.Listen }, "0.0.0.0:8443"},
		{"file kept without env", nil,
			func(c *Config) any { return c.HTTP.Listen }, "127.0.0.1:9000"},
		{"int", map[string]string{"SEVER_TEMPORAL_UI_PORT": "0"},
			func(c *Config) any { return c.Temporal.UIPort }, 0},
		{"int64", map[string]string{"SEVER_HTTP_MAX_BODY_BYTES": " 2048 "},
			func(c *Config) any { return c.HTTP.MaxBodyBytes }, int64(2048)},
		{"duration", map[string]string{"SEVER_INCIDENTS_HOLD": "24h"},
			func(c *Config) any { return c.Incidents.Hold }, 24 * time.Hour},
		{"list", map[string]string{"SEVER_AWS_REGIONS": "us-east-1, eu-west-1,,"},
			func(c *Config) any { return c.AWS.Regions }, []string{"us-east-1", "eu-west-1"}},
		{"derived list without env", nil,
			func(c *Config) any { return c.AWS.Regions }, []string{"eu-west-1"}},
		{"bool over file", map[string]string{"SEVER_AWS_S3_USE_PATH_STYLE": "false"},
			func(c *Config) any { return c.AWS.S3UsePathStyle }, false},
		{"bool from file", nil,
			func(c *Config) any { return c.AWS.S3UsePathStyle }, true},
		{"empty counts as unset", map[string]string{"SEVER_HTTP_LISTEN": ""},
			func(c *Config) any { return c.HTTP.Listen }, "127.0.0.1:9000"},
		{"secret reference", map[string]string{"SEVER_LEDGER_SIGNING_KEY": "file:/etc/sever/ledger.key"},
			func(c *Config) any { return c.Ledger.SigningKey }, SecretRef("file:/etc/sever/ledger.key")},
		{"nested struct", map[string]string{"SEVER_PROVIDERS_OPENAI_PROJECT": "proj_123"},
			func(c *Config) any { return c.Providers.OpenAI.Project }, "proj_123"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c, err := Parse("sever.yaml", []byte(file))
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.get(c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestBadEnvValue(t *testing.T) {
	for _, tc := range []struct{ env, value, field, msg string }{
		{"SEVER_TEMPORAL_UI_PORT", "eighty", "temporal.ui_port", "integer"},
		{"SEVER_TEMPORAL_FRONTEND_PORT", "99999999999999999999", "temporal.frontend_port", "integer"},
		{"SEVER_HTTP_MAX_BODY_BYTES", "1e6", "http.max_body_bytes", "integer"},
		{"SEVER_INCIDENTS_HOLD", "7days", "incidents.hold", "duration"},
		{"SEVER_AWS_S3_USE_PATH_STYLE", "maybe", "aws.s3_use_path_style", "true or false"},
		// Parses, but fails validation: the message still names the variable.
		{"SEVER_SLACK_CHANNEL", "general", "slack.channel", "channel id"},
		{"SEVER_HTTP_LISTEN", "localhost", "http.listen", "host:port"},
		{"SEVER_AWS_REGIONS", "us-east-1,Mars", "aws.regions[1]", "region"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			cleanEnv(t)
			t.Setenv(tc.env, tc.value)
			_, err := Load("")
			if err == nil {
				t.Fatal("no error")
			}
			e := asError(t, err)
			p, ok := problemFor(e, tc.field)
			if !ok {
				t.Fatalf("no problem for %s:\n%v", tc.field, err)
			}
			if !strings.Contains(p.Message, tc.msg) {
				t.Errorf("message %q, want %q", p.Message, tc.msg)
			}
			if !strings.HasPrefix(p.String(), tc.env+": "+tc.field+": ") {
				t.Errorf("%q does not start with the variable", p)
			}
			if strings.Contains(err.Error(), tc.value) {
				t.Errorf("error echoes the value: %v", err)
			}
		})
	}
}
