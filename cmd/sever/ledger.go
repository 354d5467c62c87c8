package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
	var drill, s3copy bool
	open := func() (*ledger.Store, error) {
		cfg, err := g.loadConfig()
		if err != nil {
			return nil, err
		}
		name := ledger.FileName
		if drill {
			name = app.DrillLedgerFile
		}
		path := filepath.Join(cfg.DataDir, name)
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no ledger at %s: %w", path, err)
		}
		return ledger.Open(path)
	}
	verify := &cobra.Command{
		Use:   "verify [--incident ID | --bundle F | --s3]",
		Short: "Recompute the hash chains and report the first broken link (exit status 1)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if bundle != "" {
				return verifyBundle(cmd, bundle, publicKey)
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
			if err != nil {
				return err
			}
			if brk != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "BROKEN: %s\n", brk)
				return exitCode(1)
			}
			what := "every incident"
			if incident != "" {
				what = incident
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ledger OK: %s (%s)\n", what, l.Path())
			return nil
		},
	}
	verify.Flags().StringVar(&incident, "incident", "", "verify one incident's chain (default: every chain and day head)")
	verify.Flags().StringVar(&bundle, "bundle", "", "verify an exported bundle offline instead")
	verify.Flags().StringVar(&publicKey, "public-key", "", "trusted ed25519 public key (PEM or hex) for --bundle")
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
			key, err := signingKey(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			l, err := open()
			if err != nil {
				return err
			}
			defer l.Close()
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

// signingKey resolves ledger.signing_key; without one it uses (creating on first use)
// <data-dir>/ledger-signing-key.pem, as sever dev does for its other secrets.
func signingKey(ctx context.Context, cfg *config.Config) (ed25519.PrivateKey, error) {
	if !cfg.Ledger.SigningKey.IsZero() {
		pem, err := cfg.Ledger.SigningKey.Resolve(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("ledger signing key: %w", err)
		}
		return ledger.ParseKey([]byte(pem))
	}
	path := filepath.Join(cfg.DataDir, "ledger-signing-key.pem")
	if k, err := ledger.LoadKey(path); err == nil {
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return ledger.GenerateKey(path)
}

func verifyBundle(cmd *cobra.Command, path, publicKey string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read bundle: %w", err)
	}
	var trusted ed25519.PublicKey
	if publicKey != "" {
		kb, err := os.ReadFile(publicKey)
		if err != nil {
			kb = []byte(publicKey) // hex given inline
		}
		if trusted, err = ledger.ParsePublicKey(kb); err != nil {
			return err
		}
	}
	rep, err := ledger.VerifyBundle(b, trusted)
	if rep != nil {
		fmt.Fprintf(cmd.OutOrStdout(), "bundle %s: incident %s, %d entries, days %v\n", path, rep.Incident, rep.Entries, rep.Days)
		if rep.KeyNote != "" {
			fmt.Fprintf(cmd.OutOrStdout(), "note: %s\n", rep.KeyNote)
		}
		if rep.Break != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "BROKEN: %s\n", rep.Break)
		}
	}
	if err != nil || !rep.OK() {
		if err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), err)
		}
		return exitCode(1)
	}
	fmt.Fprintln(cmd.OutOrStdout(), "bundle OK: signature and chain verify")
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
