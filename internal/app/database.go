package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/evidence"
	"github.com/sever-ir/sever/internal/pgstore"
	"github.com/sever-ir/sever/ledger"
	"github.com/sever-ir/sever/tokenstore"
)

// Database is the PostgreSQL connection of a deployment with database.url set: a
// pool on the main schema (ledger, token store, evidence) and one on the drill
// ledger's schema.
type Database struct {
	Main, Drill *sql.DB
}

// Close closes both pools.
func (d *Database) Close() error {
	var errs []error
	for _, db := range []*sql.DB{d.Main, d.Drill} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	return errors.Join(errs...)
}

// databaseURL resolves database.url. Errors name the reference, never the URL.
func databaseURL(ctx context.Context, cfg *config.Config) (string, error) {
	if !cfg.SharedState() {
		return "", errors.New("database.url is not set")
	}
	url, err := cfg.Database.URL.Resolve(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("database.url %s: %w", cfg.Database.URL, err)
	}
	return url, nil
}

// OpenDatabase connects to database.url. With migrate it first applies pending
// migrations to both schemas (sever dev, database.migrate_on_start); otherwise it
// refuses schemas behind the binary (run `sever migrate`). It always refuses schemas
// a newer sever migrated further.
func OpenDatabase(ctx context.Context, cfg *config.Config, migrate bool) (*Database, error) {
	url, err := databaseURL(ctx, cfg)
	if err != nil {
		return nil, err
	}
	d := &Database{}
	for _, sc := range []struct {
		schema string
		dst    **sql.DB
	}{{pgstore.DefaultSchema, &d.Main}, {pgstore.DrillSchema, &d.Drill}} {
		db, err := pgstore.Open(ctx, url, sc.schema)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("database.url %s: %w", cfg.Database.URL, err)
		}
		*sc.dst = db
		if migrate {
			if _, err := pgstore.Migrate(ctx, db, sc.schema); err != nil {
				d.Close()
				return nil, err
			}
		} else if err := pgstore.Check(ctx, db); err != nil {
			d.Close()
			return nil, fmt.Errorf("database schema %s at %s: %w", sc.schema, pgstore.Describe(url), err)
		}
	}
	return d, nil
}

// MigrationResult is what `sever migrate` did to one schema.
type MigrationResult struct {
	Schema  string
	Applied []pgstore.Migration
	Version int // after
}

// MigrateDatabase applies every pending migration to every schema sever uses, in
// order: `sever migrate`. It stops at the first failure; each migration is all or
// nothing.
func MigrateDatabase(ctx context.Context, cfg *config.Config) ([]MigrationResult, error) {
	url, err := databaseURL(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var out []MigrationResult
	for _, schema := range pgstore.Schemas {
		db, err := pgstore.Open(ctx, url, schema)
		if err != nil {
			return out, fmt.Errorf("database.url %s: %w", cfg.Database.URL, err)
		}
		applied, err := pgstore.Migrate(ctx, db, schema)
		if err != nil {
			db.Close()
			return out, err
		}
		v, err := pgstore.Version(ctx, db)
		db.Close()
		if err != nil {
			return out, err
		}
		out = append(out, MigrationResult{Schema: schema, Applied: applied, Version: v})
	}
	return out, nil
}

// OpenLedger opens the ledger (or the drill ledger) the config names, for the ledger
// commands: in PostgreSQL with database.url set, else the SQLite file in data_dir,
// which must exist.
func OpenLedger(ctx context.Context, cfg *config.Config, drill bool) (*ledger.Store, error) {
	if cfg.SharedState() {
		url, err := databaseURL(ctx, cfg)
		if err != nil {
			return nil, err
		}
		schema := pgstore.DefaultSchema
		if drill {
			schema = pgstore.DrillSchema
		}
		return ledger.OpenPostgresURL(ctx, url, schema)
	}
	name := ledger.FileName
	if drill {
		name = DrillLedgerFile
	}
	path := filepath.Join(cfg.DataDir, name)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no ledger at %s: %w", path, err)
	}
	return ledger.Open(path)
}

// openState opens where the worker writes what it must keep: the ledgers, and, with
// database.url, the token store and the evidence index, all in PostgreSQL, so that
// workers on any number of hosts write one ledger and no local file. Without it, the
// SQLite ledgers in data_dir (the token store and evidence files are set by LoadParts).
func (p *Parts) openState(ctx context.Context) error {
	if !p.Config.SharedState() {
		var err error
		if p.Ledger, err = ledger.Open(filepath.Join(p.Config.DataDir, ledger.FileName)); err != nil {
			return fmt.Errorf("open ledger: %w", err)
		}
		if p.DrillLedger, err = ledger.Open(filepath.Join(p.Config.DataDir, DrillLedgerFile)); err != nil {
			return fmt.Errorf("open drill ledger: %w", err)
		}
		return nil
	}
	d, err := OpenDatabase(ctx, p.Config, p.Config.Database.MigrateOnStart || p.MigrateDatabase)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	if p.Ledger, err = ledger.OpenPostgres(ctx, d.Main, pgstore.DefaultSchema); err != nil {
		d.Close()
		return fmt.Errorf("open ledger: %w", err)
	}
	if p.DrillLedger, err = ledger.OpenPostgres(ctx, d.Drill, pgstore.DrillSchema); err != nil {
		d.Close()
		return fmt.Errorf("open drill ledger: %w", err)
	}
	p.db = d
	if !p.drillTokens {
		p.Tokens = tokenstore.OpenPostgres(d.Main, pgstore.DefaultSchema)
	}
	p.Evidence = evidence.OpenPostgres(d.Main, pgstore.DefaultSchema)
	return nil
}
