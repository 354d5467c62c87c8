package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sever-ir/sever/ledger"
)

// run executes the CLI in-process and returns stdout, stderr and the error.
func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := newRoot()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errb.String(), err
}

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunbookLint(t *testing.T) {
	good, _ := filepath.Abs("../../runbooks/builtin/generic-token-exposed.yaml")
	policy, _ := filepath.Abs("../../runbooks/policy/default.yaml")
	out, _, err := run(t, "runbook", "lint", good, policy)
	if err != nil || !strings.Contains(out, "2 file(s) OK") {
		t.Fatalf("lint of the built-ins: %v %q", err, out)
	}
	bad := write(t, "bad.yaml", "name: bad\nversion: \"1\"\nsteps:\n  - id: a\n    action: tokenstore.disable_tokn\n    timeout: 5x\n")
	_, stderr, err := run(t, "runbook", "lint", bad)
	var ec exitCode
	if !errors.As(err, &ec) || ec != 1 {
		t.Fatalf("lint of a bad file: err %v, want exit status 1", err)
	}
	for _, want := range []string{bad + ":5: steps[0].action", bad + ":6: steps[0].timeout", "disable_token"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("lint output lacks %q:\n%s", want, stderr)
		}
	}
}

func TestRunbookListAndActions(t *testing.T) {
	out, _, err := run(t, "runbook", "list")
	if err != nil || !strings.Contains(out, "generic-token-exposed") || !strings.Contains(out, "default deny") {
		t.Fatalf("runbook list: %v\n%s", err, out)
	}
	out, _, err = run(t, "runbook", "actions")
	if err != nil || !strings.Contains(out, "tokenstore.disable_token") {
		t.Fatalf("runbook actions: %v\n%s", err, out)
	}
}

func TestSignalSendValidatesLocally(t *testing.T) {
	f := write(t, "sig.json", `{"source":"siem","origin":"enterprise","kind":"credential_exposed","observed_at":"2026-11-29T10:00:00Z","credential":{"provider":"acme","type":"gcp_key","id":"k1"}}`)
	// No server is running: the file must be refused before any network call.
	_, _, err := run(t, "signal", "send", "--file", f, "--url", "http://127.0.0.1:1", "--token", "x")
	if err == nil || !strings.Contains(err.Error(), "credential.type") || !strings.Contains(err.Error(), "generic_token") {
		t.Fatalf("err = %v; want the field and the known types", err)
	}
}

func TestConfigCheck(t *testing.T) {
	good, _ := filepath.Abs("../../config/sever.example.yaml")
	out, _, err := run(t, "config", "check", "--config", good)
	if err != nil || !strings.Contains(out, "config OK") {
		t.Fatalf("example config: %v %s", err, out)
	}
	vault := write(t, "sever.yaml", "vault:\n  address: https://vault.example.com:8200\n  token: env:SEVER_VAULT_TOKEN_FILE_REF\n")
	out, _, err = run(t, "config", "check", "--config", vault)
	if err != nil || !strings.Contains(out, "vault: address https://vault.example.com:8200, token from vault.token (env:SEVER_VAULT_TOKEN_FILE_REF)") ||
		!strings.Contains(out, "gcp: Application Default Credentials") {
		t.Fatalf("config check does not report the cloud families' credentials: %v\n%s", err, out)
	}
	typo := write(t, "sever.yaml", "slack:\n  chanel: C123\n")
	_, _, err = run(t, "config", "check", "--config", typo)
	if err == nil || !strings.Contains(err.Error(), typo+":2: slack.chanel") || !strings.Contains(err.Error(), `"channel"`) {
		t.Fatalf("err = %v; want file, line, field and a suggestion", err)
	}
	inline := write(t, "sever.yaml", "slack:\n  bot_token: xoxb-not-a-reference\n")
	_, _, err = run(t, "config", "check", "--config", inline)
	if err == nil || !strings.Contains(err.Error(), "slack.bot_token") {
		t.Fatalf("err = %v; want the inline secret refused", err)
	}
	if strings.Contains(err.Error(), "xoxb-not-a-reference") {
		t.Error("the error repeats the inline secret")
	}
}

func TestApproveNeedsItsFlags(t *testing.T) {
	_, _, err := run(t, "approve", "inc-1", "--step", "disable", "--decision", "maybe", "--as", "alice")
	if err == nil || !strings.Contains(err.Error(), "--decision") {
		t.Fatalf("err = %v", err)
	}
	_, _, err = run(t, "approve", "inc-1", "--decision", "approve")
	if err == nil || !strings.Contains(err.Error(), "required flag") {
		t.Fatalf("err = %v", err)
	}
}

func TestLedgerVerifyAndExport(t *testing.T) {
	dir := t.TempDir()
	l, err := ledger.Open(filepath.Join(dir, ledger.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"status/open", "signal/s1", "step/disable/outcome"} {
		if _, _, err := l.Append(context.Background(), ledger.Entry{Incident: "inc-1", Kind: ledger.KindIncidentStatus, Actor: "sever", Key: k}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	out, _, err := run(t, "ledger", "verify", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "ledger OK") {
		t.Fatalf("verify: %v %s", err, out)
	}
	bundle := filepath.Join(dir, "inc-1.bundle.json")
	out, _, err = run(t, "ledger", "export", "--data-dir", dir, "--incident", "inc-1", "--out", bundle)
	if err != nil || !strings.Contains(out, "PUBLIC KEY") {
		t.Fatalf("export: %v %s", err, out)
	}
	pub := write(t, "pub.pem", out[strings.Index(out, "-----BEGIN"):])
	if out, _, err = run(t, "ledger", "verify", "--bundle", bundle, "--public-key", pub); err != nil || !strings.Contains(out, "bundle OK") {
		t.Fatalf("verify bundle: %v %s", err, out)
	}
	b, _ := os.ReadFile(bundle)
	tampered := write(t, "tampered.json", strings.Replace(string(b), "step/disable/outcome", "step/disable/outcomX", 1))
	if _, _, err := run(t, "ledger", "verify", "--bundle", tampered, "--public-key", pub); !errors.Is(err, exitCode(1)) {
		t.Fatalf("tampered bundle: err %v, want exit status 1", err)
	}
	// A tampered database is named at its first broken link.
	db, err := sql.Open("sqlite", filepath.Join(dir, ledger.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DROP TRIGGER entries_no_update`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE entries SET body = replace(body, 'signal/s1', 'signal/s9') WHERE incident = 'inc-1' AND seq = 2`); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := run(t, "ledger", "verify", "--data-dir", dir, "--incident", "inc-1")
	if !errors.Is(err, exitCode(1)) || !strings.Contains(stderr, "inc-1 seq 2: edited") {
		t.Fatalf("verify after an edit: err %v, stderr %q; want exit 1 naming seq 2 as edited", err, stderr)
	}
}
