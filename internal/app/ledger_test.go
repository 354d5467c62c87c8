package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sever-ir/sever/config"
)

// TestCheckLedgerKey: sever serve and sever worker refuse a signing key inside the
// data dir unless told so (issue 12 item 4).
func TestCheckLedgerKey(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "ledger-ed25519.key")
	for _, tc := range []struct {
		name    string
		key     func(dataDir string) config.SecretRef
		defFile bool // <data_dir>/ledger-signing-key.pem exists
		anchors bool
		allow   bool
		want    []string // in the error; none = starts
	}{
		{name: "file ref inside the data dir", key: func(d string) config.SecretRef { return config.SecretRef("file:" + filepath.Join(d, "k.pem")) },
			want: []string{"k.pem is inside the data dir", "ledger.signing_key", "allow_signer_in_data_dir"}},
		{name: "file ref inside, allowed", key: func(d string) config.SecretRef { return config.SecretRef("file:" + filepath.Join(d, "k.pem")) }, allow: true},
		{name: "file ref inside via ..", key: func(d string) config.SecretRef {
			return config.SecretRef("file:" + filepath.Join(d, "sub", "..", "k.pem"))
		}, want: []string{"inside the data dir"}},
		{name: "file ref outside", key: func(string) config.SecretRef { return config.SecretRef("file:" + outside) }, anchors: true},
		{name: "env ref", key: func(string) config.SecretRef { return "env:SEVER_TEST_LEDGER_KEY" }, anchors: true},
		{name: "default key file exists", defFile: true, want: []string{LedgerKeyFile + " is inside the data dir"}},
		{name: "default key file exists, allowed", defFile: true, allow: true},
		{name: "checkpoints need the default key", anchors: true, want: []string{"checkpoints are on", LedgerKeyFile}},
		{name: "no key, no checkpoints"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.DataDir = t.TempDir()
			if tc.key != nil {
				cfg.Ledger.SigningKey = tc.key(cfg.DataDir)
			}
			if tc.defFile {
				if _, err := LedgerSigningKey(t.Context(), cfg, true); err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(filepath.Join(cfg.DataDir, LedgerKeyFile)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.anchors {
				cfg.Ledger.Anchors.File = filepath.Join(t.TempDir(), "anchors.jsonl")
			}
			cfg.Ledger.AllowSignerInDataDir = tc.allow
			err := CheckLedgerKey(cfg)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("CheckLedgerKey = %v, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckLedgerKey = nil, want an error with %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestServeRefusesKeyInDataDir: sever serve stops before serving anything when the
// signing key is in the data dir.
func TestServeRefusesKeyInDataDir(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	key := filepath.Join(cfg.DataDir, "ledger-ed25519.key")
	cfg.Ledger.SigningKey = config.SecretRef("file:" + key)
	p := &Parts{Config: cfg}
	err := p.Serve(t.Context(), nil, nil)
	if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "allow_signer_in_data_dir") {
		t.Fatalf("Serve = %v; want a refusal naming %s and the fix", err, key)
	}
}
