package main

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities/awsact"
	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/ledger"
	"github.com/sever-ir/sever/ledger/worm"
)

func newLedgerCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "ledger", Short: "Verify and export the tamper-evident ledger"}
	var incident, bundle, publicKey, out string
	var drill, s3copy, integrityOnly bool
	open := func() (*ledger.Store, error) {
		cfg, err := g.loadConfig()
		if err != nil {
			return nil, err
		}
		// PostgreSQL with database.url set, else the SQLite file in data_dir.
		return app.OpenLedger(context.Background(), cfg, drill)
	}
	verify := &cobra.Command{
		Use:   "verify [--incident ID | --bundle F | --s3]",
		Short: "Recompute the hash chains and report the first broken link (exit status 1)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if bundle != "" {
				if publicKey == "" && !integrityOnly {
					// A trusted key from the config, if there is one.
					cfg, err := g.loadConfig()
					if err != nil {
						return err
					}
					publicKey = cfg.Ledger.TrustedSigner
				}
				return verifyBundle(cmd, bundle, publicKey, integrityOnly)
			}
			if integrityOnly {
				return errors.New("ledger verify: --integrity-only goes with --bundle")
			}
			if s3copy {
				if drill {
					return errors.New("ledger verify --s3: the drill ledger's S3 copy is kept in the drill cloud of a running sever dev, out of this command's reach")
				}
				cfg, err := g.loadConfig()
				if err != nil {
					return err
				}
				return verifyS3(cmd, cfg, open, incident)
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			l, err := open()
			if err != nil {
				return err
			}
			defer l.Close()
			var brk *ledger.Break
			if incident != "" {
				brk, err = l.Verify(cmd.Context(), incident)
			} else {
				brk, err = l.VerifyAll(cmd.Context())
			}
			if se := (*sever.Error)(nil); err != nil && !(errors.As(err, &se) && se.Code == sever.ENOTFOUND) {
				return err
			}
			if brk != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "BROKEN: %s\n", brk)
				return exitCode(1)
			}
			// The file is consistent in itself (or the incident unknown to it): compare
			// it with the signed checkpoints kept where its host cannot rewrite them.
			n, aerr := verifyAnchors(cmd, cfg, l, incident, publicKey, drill)
			if aerr != nil {
				return aerr
			}
			if err != nil {
				return err // unknown incident, and no checkpoint says it existed
			}
			what := "every incident"
			if incident != "" {
				what = incident
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ledger OK: %s (%s)%s\n", what, l.Path(), n)
			return nil
		},
	}
	verify.Flags().StringVar(&incident, "incident", "", "verify one incident's chain (default: every chain and day head)")
	verify.Flags().StringVar(&bundle, "bundle", "", "verify an exported bundle offline instead")
	verify.Flags().StringVar(&publicKey, "public-key", "", "trusted ed25519 public key (PEM file or hex) for --bundle and the checkpoints (default: ledger.trusted_signer)")
	verify.Flags().BoolVar(&integrityOnly, "integrity-only", false, "with --bundle and no trusted key: check only that the bundle is intact, not who signed it")
	verify.Flags().BoolVar(&s3copy, "s3", false, "verify the S3 copy (ledger.s3) of --incident, or of every incident the local ledger knows, and compare it with the local ledger")
	export := &cobra.Command{
		Use:   "export --incident ID --out F",
		Short: "Write an incident's entries as a bundle signed with the ledger key (ledger.signing_key)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			key, err := app.LedgerSigningKey(cmd.Context(), cfg, true)
			if err != nil {
				return err
			}
			l, err := open()
			if err != nil {
				return err
			}
			defer l.Close()
			if !drill {
				// Never sign a chain that is behind its own checkpoints.
				sources, err := anchorSources(cmd.Context(), cfg, l)
				if err != nil {
					return err
				}
				if len(sources) == 0 {
					fmt.Fprintln(cmd.ErrOrStderr(), noAnchors)
				}
				l.Anchors(key.Public().(ed25519.PublicKey), sources...)
			}
			b, err := l.Export(cmd.Context(), incident, key)
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, b, 0o644); err != nil {
				return fmt.Errorf("write bundle: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s; verify with: sever ledger verify --bundle %s --public-key <key>\n%s",
				out, out, ledger.PublicKeyPEM(key.Public().(ed25519.PublicKey)))
			return nil
		},
	}
	export.Flags().StringVar(&incident, "incident", "", "incident ID")
	export.Flags().StringVar(&out, "out", "", "bundle file to write")
	_ = export.MarkFlagRequired("incident")
	_ = export.MarkFlagRequired("out")
	for _, c := range []*cobra.Command{verify, export} {
		c.Flags().BoolVar(&drill, "drill", false, "use the drill ledger")
	}
	cmd.AddCommand(verify, export)
	return cmd
}

const noAnchors = "note: no checkpoints are configured (ledger.s3.bucket, ledger.anchors.file): a ledger cut at its end, with its heads patched, cannot be told from a whole one"

// anchorSources are the places the worker writes signed checkpoints to, per the config.
// With database.url, the ledger's checkpoints table is one of them when any is.
func anchorSources(ctx context.Context, cfg *config.Config, l *ledger.Store) ([]ledger.AnchorSource, error) {
	var out []ledger.AnchorSource
	if sc := cfg.Ledger.S3; sc.Bucket != "" {
		clients, err := awsact.FactoryFromConfig(cfg.AWS, nil).Clients(ctx, "", sc.Region)
		if err != nil {
			return nil, fmt.Errorf("ledger checkpoints in S3: %w", err)
		}
		m, err := worm.FromConfig(clients.S3, sc)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if f := cfg.Ledger.Anchors.File; f != "" {
		out = append(out, &ledger.FileSink{Path: f})
	}
	if dbs, ok := l.DatabaseSink(); ok && len(out) > 0 {
		out = append(out, dbs)
	}
	return out, nil
}

// trustedKey is the key checkpoints and bundles must be signed by: --public-key (a
// PEM file or hex), else ledger.trusted_signer, else the public half of the signing
// key as configured (never created here). nil when there is none.
func trustedKey(ctx context.Context, cfg *config.Config, flag string) (ed25519.PublicKey, error) {
	if v := cmp.Or(flag, cfg.Ledger.TrustedSigner); v != "" {
		return parsePublicKeyArg(v)
	}
	k, err := app.LedgerSigningKey(ctx, cfg, false)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return k.Public().(ed25519.PublicKey), nil
}

// parsePublicKeyArg reads a public key from a file, or as given (hex).
func parsePublicKeyArg(v string) (ed25519.PublicKey, error) {
	kb, err := os.ReadFile(v)
	if err != nil {
		kb = []byte(v) // hex given inline
	}
	return ledger.ParsePublicKey(kb)
}

// verifyAnchors compares the ledger with every signed checkpoint and reports each
// place it is behind them; it returns a note for the OK line.
func verifyAnchors(cmd *cobra.Command, cfg *config.Config, l *ledger.Store, incident, publicKey string, drill bool) (string, error) {
	ctx, errOut := cmd.Context(), cmd.ErrOrStderr()
	if drill {
		return "; the drill ledger has no checkpoints", nil
	}
	sources, err := anchorSources(ctx, cfg, l)
	if err != nil {
		return "", err
	}
	if len(sources) == 0 {
		fmt.Fprintln(errOut, noAnchors)
		return "; no checkpoints configured", nil
	}
	trusted, err := trustedKey(ctx, cfg, publicKey)
	if err != nil {
		return "", err
	}
	if trusted == nil {
		return "", errors.New("ledger verify: checkpoints are configured but no trusted key is known: give --public-key or set ledger.trusted_signer")
	}
	cps, err := ledger.ReadAnchors(ctx, trusted, sources...)
	if err != nil {
		fmt.Fprintf(errOut, "BAD CHECKPOINT: %v\n", err)
		return "", exitCode(1)
	}
	brks, err := l.CompareAnchors(ctx, cps)
	if err != nil {
		return "", err
	}
	failed := false
	for _, b := range brks {
		if incident != "" && b.Incident != incident {
			continue
		}
		fmt.Fprintf(errOut, "TRUNCATED: %s\n", &b)
		failed = true
	}
	if failed {
		return "", exitCode(1)
	}
	return fmt.Sprintf("; agrees with %d signed checkpoints", len(cps)), nil
}

func verifyBundle(cmd *cobra.Command, path, publicKey string, integrityOnly bool) error {
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read bundle: %w", err)
	}
	var trusted ed25519.PublicKey
	if publicKey != "" {
		if trusted, err = parsePublicKeyArg(publicKey); err != nil {
			return err
		}
	}
	var rep *ledger.BundleReport
	if trusted == nil {
		rep, err = ledger.VerifyBundleIntegrity(b)
	} else {
		rep, err = ledger.VerifyBundle(b, trusted)
	}
	if rep != nil {
		fmt.Fprintf(out, "bundle %s: incident %s, %d entries, days %v\n", path, rep.Incident, rep.Entries, rep.Days)
		if rep.KeyNote != "" {
			fmt.Fprintf(out, "note: %s\n", rep.KeyNote)
		}
		if rep.Break != nil {
			fmt.Fprintf(errOut, "BROKEN: %s\n", rep.Break)
		}
	}
	if err != nil || !rep.IntegrityOK() {
		if err != nil {
			fmt.Fprintln(errOut, err)
		}
		return exitCode(1)
	}
	switch {
	case trusted == nil && integrityOnly:
		fmt.Fprintf(out, "integrity OK, signer NOT verified: the bundle is intact and signed by %s; check that key with --public-key\n", rep.PublicKey)
		return nil
	case trusted == nil:
		fmt.Fprintf(errOut, "UNTRUSTED: the signer is untrusted: no trusted key (--public-key or ledger.trusted_signer), and the bundle is signed by %s, a key anyone could have made; --integrity-only checks only that it is intact\n", rep.PublicKey)
		return exitCode(1)
	case !rep.OK():
		return exitCode(1)
	}
	fmt.Fprintln(out, "bundle OK: signature by the trusted key and chain verify")
	return nil
}

// verifyS3 checks the WORM copy of each incident on its own (hashes, links, hidden or
// missing objects) and against the local file, so that a rewrite of either shows. With
// --incident it also works without a local file: the host may be the thing lost.
func verifyS3(cmd *cobra.Command, cfg *config.Config, open func() (*ledger.Store, error), incident string) error {
	ctx, out, errOut := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	sc := cfg.Ledger.S3
	if sc.Bucket == "" {
		return errors.New("ledger verify --s3: ledger.s3.bucket is not set (sever.yaml or SEVER_LEDGER_S3_BUCKET)")
	}
	clients, err := awsact.FactoryFromConfig(cfg.AWS, nil).Clients(ctx, "", sc.Region)
	if err != nil {
		return fmt.Errorf("ledger verify --s3: %w", err)
	}
	m, err := worm.FromConfig(clients.S3, sc)
	if err != nil {
		return err
	}
	where := "s3://" + sc.Bucket + "/" + sc.Prefix
	l, err := open()
	switch {
	case err != nil && incident == "":
		return fmt.Errorf("ledger verify --s3: every incident needs the local ledger to list them (or give --incident): %w", err)
	case err != nil:
		fmt.Fprintf(errOut, "note: %v; checking the S3 copy alone\n", err)
		l = nil
	default:
		defer l.Close()
	}
	ids := []string{incident}
	if incident == "" {
		if ids, err = l.Incidents(ctx); err != nil {
			return err
		}
	}
	failed := false
	for _, id := range ids {
		brk, err := m.Verify(ctx, id)
		var se *sever.Error
		if errors.As(err, &se) && se.Code == sever.ENOTFOUND {
			fmt.Fprintf(errOut, "MISSING (s3): %s: no S3 copy at %s%s/\n", id, where, id)
			failed = true
			continue
		}
		if err != nil {
			return err
		}
		if brk != nil {
			fmt.Fprintf(errOut, "BROKEN (s3): %s\n", brk)
			failed = true
		}
		if l == nil {
			if brk == nil {
				fmt.Fprintf(out, "s3 copy OK: %s (%s%s/); no local ledger to compare with\n", id, where, id)
			}
			continue
		}
		diffs, err := m.Compare(ctx, l, id)
		if err != nil {
			return err
		}
		for _, d := range diffs {
			fmt.Fprintf(errOut, "DIFF: %s\n", d)
		}
		if len(diffs) > 0 {
			failed = true
		} else if brk == nil {
			fmt.Fprintf(out, "s3 copy OK: %s matches %s (%s%s/)\n", id, l.Path(), where, id)
		}
	}
	if failed {
		return exitCode(1)
	}
	if incident == "" {
		fmt.Fprintf(out, "ledger S3 copy OK: %d incidents (%s)\n", len(ids), where)
	}
	return nil
}
