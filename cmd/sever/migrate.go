package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/internal/pgstore"
)

// newMigrateCmd is `sever migrate`: apply the embedded schema migrations to the
// PostgreSQL database that database.url names. Run it once per upgrade, before the new
// serve and worker processes start (they refuse a database behind them unless
// database.migrate_on_start is set); running it again does nothing.
func newMigrateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending schema migrations to the PostgreSQL database (database.url)",
		Long: "Apply every pending schema migration, each in its own transaction, to the schemas " +
			"sever uses in the database database.url names. Forward-only: a database that a newer " +
			"sever already migrated further is refused, and nothing is changed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if !cfg.SharedState() {
				return errors.New("sever migrate: database.url is not set: the SQLite ledger in data_dir needs no migration " +
					"(set database.url, e.g. env:SEVER_DATABASE_URL, to use PostgreSQL)")
			}
			res, err := app.MigrateDatabase(cmd.Context(), cfg)
			for _, r := range res {
				for _, m := range r.Applied {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: applied %04d_%s\n", r.Schema, m.Version, m.Name)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: at version %d (this sever: %d)\n", r.Schema, r.Version, pgstore.Latest())
			}
			if err != nil {
				return fmt.Errorf("sever migrate: %w", err)
			}
			return nil
		},
	}
}
