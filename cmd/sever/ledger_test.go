package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/ledger"
)

// exportedBundle writes a one-incident ledger in a fresh data dir and exports it.
func exportedBundle(t *testing.T) (dir, bundle string) {
	t.Helper()
	dir = t.TempDir()
	l, err := ledger.Open(filepath.Join(dir, ledger.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"status/open", "signal/s1"} {
		if _, _, err := l.Append(context.Background(), ledger.Entry{Incident: "inc-1", Kind: ledger.KindIncidentStatus, Actor: "sever", Key: k}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	bundle = filepath.Join(dir, "inc-1.bundle.json")
	if _, _, err := run(t, "ledger", "export", "--data-dir", dir, "--incident", "inc-1", "--out", bundle); err != nil {
		t.Fatalf("export: %v", err)
	}
	return dir, bundle
}

// TestVerifyBundleNeedsATrustedKey: a bundle checked only against the key it carries
// proves nothing about who signed it, so that is not "bundle OK" (issue 12 item 4).
func TestVerifyBundleNeedsATrustedKey(t *testing.T) {
	_, bundle := exportedBundle(t)
	_, otherBundle := exportedBundle(t) // signed by another data dir's key
	for _, tc := range []struct {
		name             string
		args             []string
		wantExit         bool
		wantOut, wantErr string
	}{
		{name: "no key", args: []string{"--bundle", bundle}, wantExit: true, wantErr: "signer is untrusted"},
		{name: "no key, another signer", args: []string{"--bundle", otherBundle}, wantExit: true, wantErr: "signer is untrusted"},
		{name: "integrity only", args: []string{"--bundle", otherBundle, "--integrity-only"}, wantOut: "integrity OK, signer NOT verified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, err := run(t, append([]string{"ledger", "verify"}, tc.args...)...)
			if tc.wantExit != errors.Is(err, exitCode(1)) || (!tc.wantExit && err != nil) {
				t.Fatalf("err = %v, want exit status 1: %v", err, tc.wantExit)
			}
			if strings.Contains(out, "bundle OK") && tc.wantExit {
				t.Errorf("stdout says bundle OK: %q", out)
			}
			if !strings.Contains(out, tc.wantOut) || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stdout %q, stderr %q; want %q, %q", out, stderr, tc.wantOut, tc.wantErr)
			}
		})
	}
}

// TestLedgerVerifyFindsTruncation: the file cut at its end with its heads patched
// verifies on its own; against the checkpoints in ledger.anchors.file, verify names
// the incident and the head it lost and exits 1, and export refuses to sign.
func TestLedgerVerifyFindsTruncation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	anchors := filepath.Join(t.TempDir(), "anchors.jsonl") // outside the data dir
	t.Setenv("SEVER_LEDGER_ANCHORS_FILE", anchors)
	cfg := config.Default()
	cfg.DataDir = dir
	key, err := app.LedgerSigningKey(ctx, cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(filepath.Join(dir, ledger.FileName))
	if err != nil {
		t.Fatal(err)
	}
	a := &ledger.Anchorer{Store: l, Key: key, Sinks: []ledger.AnchorSink{&ledger.FileSink{Path: anchors}}, Every: 1}
	for i, inc := range []string{"inc-a", "inc-a", "inc-b", "inc-a", "inc-b"} {
		e, _, err := l.Append(ctx, ledger.Entry{Incident: inc, Kind: ledger.KindSignal, Actor: "siem", Key: fmt.Sprintf("signal/%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Put(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	if out, _, err := run(t, "ledger", "verify", "--data-dir", dir); err != nil || !strings.Contains(out, "agrees with 5 signed checkpoints") {
		t.Fatalf("verify before the cut: %v %q", err, out)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, ledger.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP TRIGGER entries_no_delete`,
		`DELETE FROM entries WHERE gseq >= 3`,
		`DELETE FROM incidents WHERE incident = 'inc-b'`,
		`UPDATE incidents SET seq = 2, hash = (SELECT hash FROM entries WHERE incident = 'inc-a' AND seq = 2) WHERE incident = 'inc-a'`,
		`UPDATE days SET last = 2, last_incident = 'inc-a', last_seq = 2, head = (SELECT chain FROM entries WHERE gseq = 2)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"ledger", "verify", "--data-dir", dir}, []string{"TRUNCATED: inc-a seq 3: truncated", "the ledger ends at seq 2", "TRUNCATED: inc-b seq 2: truncated", "holds no entry"}},
		{[]string{"ledger", "verify", "--data-dir", dir, "--incident", "inc-b"}, []string{"TRUNCATED: inc-b seq 2"}},
		{[]string{"ledger", "export", "--data-dir", dir, "--incident", "inc-a", "--out", filepath.Join(dir, "b.json")}, []string{"behind its signed checkpoints"}},
	} {
		_, stderr, err := run(t, tc.args...)
		if err == nil {
			t.Fatalf("%v: no error after the cut", tc.args)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr+err.Error(), w) {
				t.Errorf("%v: stderr %q, err %v; want %q", tc.args, stderr, err, w)
			}
		}
	}
}
