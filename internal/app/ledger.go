package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/ledger"
)

// LedgerKeyFile is where the ledger signing key lives when ledger.signing_key is not
// set: <data_dir>/ledger-signing-key.pem. Fine for sever dev; production refuses it
// (CheckLedgerKey).
const LedgerKeyFile = "ledger-signing-key.pem"

// AnchorsEnabled reports whether the worker writes signed checkpoints: to the S3 copy
// (ledger.s3.bucket) and to ledger.anchors.file.
func AnchorsEnabled(cfg *config.Config) bool {
	return cfg.Ledger.Anchors.File != "" || cfg.Ledger.S3.Bucket != ""
}

// LedgerSigningKey resolves ledger.signing_key; without one it reads
// <data_dir>/ledger-signing-key.pem, creating it (0600) when create is set.
func LedgerSigningKey(ctx context.Context, cfg *config.Config, create bool) (ed25519.PrivateKey, error) {
	if !cfg.Ledger.SigningKey.IsZero() {
		pem, err := cfg.Ledger.SigningKey.Resolve(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("ledger signing key %s: %w", cfg.Ledger.SigningKey, err)
		}
		return ledger.ParseKey([]byte(pem))
	}
	path := filepath.Join(cfg.DataDir, LedgerKeyFile)
	k, err := ledger.LoadKey(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) || !create {
		return k, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("ledger signing key: create data dir %s: %w", cfg.DataDir, err)
	}
	return ledger.GenerateKey(path)
}

// CheckLedgerKey refuses a signing key inside the data dir, for sever serve and sever
// worker: whoever can rewrite the ledger file there can then also sign checkpoints
// and bundles that match the rewrite, and anchors would prove nothing. It names the
// key's path and the fix. ledger.allow_signer_in_data_dir accepts the risk.
func CheckLedgerKey(cfg *config.Config) error {
	if cfg.Ledger.AllowSignerInDataDir {
		return nil
	}
	const fix = "move the key out of the data dir and point ledger.signing_key at it " +
		"(file:/etc/sever/ledger-ed25519.key, env:NAME or aws-sm:ARN), or set " +
		"ledger.allow_signer_in_data_dir: true (SEVER_LEDGER_ALLOW_SIGNER_IN_DATA_DIR=true) to accept the risk"
	ref := cfg.Ledger.SigningKey
	if ref.Scheme() == config.SchemeFile {
		path := strings.TrimPrefix(string(ref), config.SchemeFile+":")
		if within(path, cfg.DataDir) {
			return fmt.Errorf("ledger signing key %s is inside the data dir %s: whoever can rewrite the ledger there could sign for the rewrite; %s", path, cfg.DataDir, fix)
		}
		return nil
	}
	if !ref.IsZero() {
		return nil // env: or aws-sm: is not a file in the data dir
	}
	def := filepath.Join(cfg.DataDir, LedgerKeyFile)
	if AnchorsEnabled(cfg) {
		return fmt.Errorf("ledger signing key: checkpoints are on (ledger.s3.bucket or ledger.anchors.file) and ledger.signing_key is not set, so the key would be %s, inside the data dir; %s", def, fix)
	}
	if _, err := os.Stat(def); err == nil {
		return fmt.Errorf("ledger signing key %s is inside the data dir %s (ledger.signing_key is not set): whoever can rewrite the ledger there could sign for the rewrite; %s", def, cfg.DataDir, fix)
	}
	return nil
}

// within reports whether path is dir or lies under it, after resolving symbolic links
// where they exist.
func within(path, dir string) bool {
	resolve := func(p string) string {
		p, err := filepath.Abs(p)
		if err != nil {
			return filepath.Clean(p)
		}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r
		}
		// The file may not exist yet: resolve its directory.
		if r, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
			return filepath.Join(r, filepath.Base(p))
		}
		return p
	}
	rel, err := filepath.Rel(resolve(dir), resolve(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// anchorer wraps the ledger's mirror (nil = none) in an Anchorer that writes signed
// checkpoints to the S3 copy and ledger.anchors.file; it returns next unchanged when
// checkpoints are off.
func (p *Parts) anchorer(ctx context.Context, next ledger.EntryMirror, s3 ledger.AnchorSink) (ledger.EntryMirror, error) {
	if !AnchorsEnabled(p.Config) {
		return next, nil
	}
	key, err := LedgerSigningKey(ctx, p.Config, true)
	if err != nil {
		return nil, err
	}
	a := &ledger.Anchorer{Store: p.Ledger, Key: key, Next: next, Every: int64(p.Config.Ledger.Anchors.Every)}
	if s3 != nil {
		a.Sinks = append(a.Sinks, s3)
	}
	if f := p.Config.Ledger.Anchors.File; f != "" {
		a.Sinks = append(a.Sinks, &ledger.FileSink{Path: f})
	}
	if dbs, ok := p.Ledger.DatabaseSink(); ok {
		// One record of the checkpoints every worker host shares (database.url).
		a.Sinks = append(a.Sinks, dbs)
	}
	return a, nil
}
