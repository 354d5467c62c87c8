package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"go.yaml.in/yaml/v3"
)

type fakeResolver struct{ arn, key string }

func (f *fakeResolver) AWSSecret(_ context.Context, arn, jsonKey string) (string, error) {
	f.arn, f.key = arn, jsonKey
	if strings.HasSuffix(arn, "missing") {
		return "", errors.New("ResourceNotFoundException")
	}
	return "from-sm", nil
}

const smARN = "arn:aws:secretsmanager:us-east-1:111122223333:secret:sever/slack-AbCdEf"

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "s3cret-value\n", 0o600)
	crlf := write("crlf", "s3cret-value\r\n\n", 0o600)
	empty := write("empty", "\n", 0o600)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SEVER_TEST_SECRET", "env-s3cret")
	t.Setenv("SEVER_TEST_EMPTY", "")

	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		ref     SecretRef
		res     SecretResolver
		want    string
		errHas  string // "" = no error
		errNot  string // must not appear in the error
		errIs   error
		checkFn func(t *testing.T)
	}{
		{name: "env", ref: "env:SEVER_TEST_SECRET", want: "env-s3cret"},
		{name: "env missing", ref: "env:SEVER_TEST_NOPE", errHas: "environment variable SEVER_TEST_NOPE is not set"},
		{name: "env empty", ref: "env:SEVER_TEST_EMPTY", errHas: "SEVER_TEST_EMPTY is empty"},
		{name: "file", ref: SecretRef("file:" + good), want: "s3cret-value"},
		{name: "file crlf", ref: SecretRef("file:" + crlf), want: "s3cret-value"},
		{name: "file missing", ref: SecretRef("file:" + dir + "/nope"), errHas: dir + "/nope: no such file", errIs: fs.ErrNotExist},
		{name: "file empty", ref: SecretRef("file:" + empty), errHas: empty + ": file is empty"},
		{name: "file is a directory", ref: SecretRef("file:" + dir), errHas: dir + ": not a regular file"},
		{name: "file is a fifo (does not block)", ref: SecretRef("file:" + fifo), errHas: fifo + ": not a regular file"},
		{name: "aws-sm without resolver", ref: SecretRef("aws-sm:" + smARN), errHas: "aws-sm:" + smARN + ": no AWS Secrets Manager resolver"},
		{name: "aws-sm", ref: SecretRef("aws-sm:" + smARN + "#bot_token"), res: &fakeResolver{}, want: "from-sm"},
		{name: "aws-sm error", ref: "aws-sm:arn:aws:secretsmanager:us-east-1:111122223333:secret:missing", res: &fakeResolver{},
			errHas: "secret:missing: ResourceNotFoundException"},
		{name: "empty", ref: "", errIs: ErrNoSecret, errHas: "empty"},
		{name: "inline", ref: canary, errHas: "must be references", errNot: "CANARY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.ref.Resolve(ctx, tc.res)
			if tc.errHas == "" {
				if err != nil || got != tc.want {
					t.Fatalf("Resolve = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Resolve = %q, want an error", got)
			}
			if !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("error %q, want it to contain %q", err, tc.errHas)
			}
			if tc.errNot != "" && strings.Contains(err.Error(), tc.errNot) {
				t.Errorf("error %q contains %q", err, tc.errNot)
			}
			if tc.errIs != nil && !errors.Is(err, tc.errIs) {
				t.Errorf("error %v is not %v", err, tc.errIs)
			}
		})
	}

	f := &fakeResolver{}
	if _, err := SecretRef("aws-sm:"+smARN+"#bot_token").Resolve(ctx, f); err != nil || f.arn != smARN || f.key != "bot_token" {
		t.Errorf("resolver got arn %q key %q (%v)", f.arn, f.key, err)
	}
	if _, err := SecretRef("aws-sm:"+smARN).Resolve(ctx, f); err != nil || f.key != "" {
		t.Errorf("resolver got key %q without #", f.key)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := SecretRef("aws-sm:"+smARN).Resolve(cancelled, f); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func TestSecretRefParse(t *testing.T) {
	for _, tc := range []struct {
		ref    SecretRef
		scheme string
		ok     bool
	}{
		{"", "", true},
		{"env:SLACK_BOT_TOKEN", SchemeEnv, true},
		{"env:_x1", SchemeEnv, true},
		{"env:", "", false},
		{"env:A-B", "", false},
		{"env:$A", "", false},
		{"file:/etc/sever/x", SchemeFile, true},
		{"file:x", "", false},
		{"file:", "", false},
		{"aws-sm:" + smARN, SchemeAWSSM, true},
		{"aws-sm:" + smARN + "#k", SchemeAWSSM, true},
		{"aws-sm:arn:aws-us-gov:secretsmanager:us-gov-west-1:111122223333:secret:x", SchemeAWSSM, true},
		{"aws-sm:arn:aws:secretsmanager:us-east-1:1111:secret:x", "", false},
		{"aws-sm:arn:aws:s3:::bucket", "", false},
		{"aws-sm:" + smARN + "#", "", false},
		{"xoxb-1234", "", false},
		{"ENV:X", "", false},
		{"sk-ant-admin01-abc", "", false},
	} {
		err := tc.ref.Validate()
		if (err == nil) != tc.ok || tc.ref.Scheme() != tc.scheme {
			t.Errorf("%q: Validate() = %v, Scheme() = %q; want ok=%v scheme %q", string(tc.ref), err, tc.ref.Scheme(), tc.ok, tc.scheme)
		}
		if err != nil && !strings.HasSuffix(string(tc.ref), ":") && strings.Contains(err.Error(), string(tc.ref)) {
			t.Errorf("%q: error echoes the value: %v", string(tc.ref), err)
		}
	}
}

// String and friends print the reference; they never resolve it.
func TestSecretRefString(t *testing.T) {
	t.Setenv("SEVER_TEST_TOKEN", "xoxb-the-real-token")
	r := SecretRef("env:SEVER_TEST_TOKEN")
	js, _ := json.Marshal(map[string]SecretRef{"t": r})
	ym, _ := yaml.Marshal(map[string]SecretRef{"t": r})
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "ref", r)
	text, _ := r.MarshalText()
	for name, s := range map[string]string{
		//lint:ignore S1025 the test checks what each fmt verb prints
		"String": r.String(), "%v": fmt.Sprintf("%v", r), "%s": fmt.Sprintf("%s", r),
		"%#v": fmt.Sprintf("%#v", r), "MarshalText": string(text),
		"json": string(js), "yaml": string(ym), "slog": logged.String(),
	} {
		if strings.Contains(s, "real-token") {
			t.Errorf("%s resolved the reference: %s", name, s)
		}
		if !strings.Contains(s, "env:SEVER_TEST_TOKEN") {
			t.Errorf("%s does not show the reference: %s", name, s)
		}
	}
	if r.String() != "env:SEVER_TEST_TOKEN" || r.GoString() != `config.SecretRef("env:SEVER_TEST_TOKEN")` {
		t.Errorf("String %q GoString %q", r.String(), r.GoString())
	}
	if SecretRef("").String() != "" {
		t.Errorf("empty String() = %q", SecretRef("").String())
	}
	if s := SecretRef(canary).String(); strings.Contains(s, "CANARY") || s != redactedPlaceholder {
		t.Errorf("inline String() = %q", s)
	}
}

func TestWarnings(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	closed := filepath.Join(dir, "closed")
	for _, p := range []string{open, closed} {
		if err := os.WriteFile(p, []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SEVER_TEST_SET", "x")
	doc := fmt.Sprintf("intake:\n  github_webhook_secret: file:%s\nledger:\n  signing_key: file:%s\n"+
		"providers:\n  anthropic:\n    admin_key: file:%s/missing\n  openai:\n    admin_key: env:SEVER_TEST_UNSET\n"+
		"slack:\n  app_token: env:SEVER_TEST_SET\ninventory:\n  path: %s/inventory.yaml\n", open, closed, dir, dir)
	c, err := Parse("sever.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(c.Warnings(), "\n")
	for _, want := range []string{
		"intake.github_webhook_secret: file " + open + " is accessible by group or others (mode 0644)",
		"providers.anthropic.admin_key: file " + dir + "/missing does not exist",
		"providers.openai.admin_key: environment variable SEVER_TEST_UNSET is not set",
		"inventory.path: file " + dir + "/inventory.yaml cannot be read (no such file or directory)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	for _, not := range []string{"ledger.signing_key", "slack.app_token"} {
		if strings.Contains(got, not) {
			t.Errorf("unexpected warning for %s:\n%s", not, got)
		}
	}
	// A file readable by others still resolves: it is a warning, not an error.
	if v, err := c.Intake.GitHubWebhookSecret.Resolve(context.Background(), nil); err != nil || v != "x" {
		t.Errorf("Resolve = %q, %v", v, err)
	}
}

func TestSecretJSONField(t *testing.T) {
	for _, tc := range []struct {
		secret, key, want, errHas string
	}{
		{`{"bot_token":"xoxb-1","other":2}`, "bot_token", "xoxb-1", ""},
		{`{"bot_token":"xoxb-1"}`, "nope", "", `no key "nope"`},
		{`{"n":2}`, "n", "", "not a string"},
		{`xoxb-CANARY-not-json`, "k", "", "not a JSON object"},
		{`["CANARY"]`, "k", "", "not a JSON object"},
	} {
		got, err := SecretJSONField(tc.secret, tc.key)
		if tc.errHas == "" {
			if err != nil || got != tc.want {
				t.Errorf("%s: %q, %v", tc.key, got, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.errHas) || strings.Contains(err.Error(), "CANARY") || strings.Contains(err.Error(), "xoxb") {
			t.Errorf("%s: error %v", tc.key, err)
		}
	}
}
