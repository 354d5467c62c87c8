// Package pgstore connects sever to PostgreSQL, where the ledger, the token store and
// the evidence index live when several hosts share one Temporal cluster
// (database.url), and applies the versioned schema migrations embedded in the binary.
//
// Every sever table lives in one PostgreSQL schema (DefaultSchema; the drill ledger in
// DrillSchema), selected with the connection's search_path, so the SQL of each store
// is the same as on SQLite. Migrations are numbered SQL files (migrations/NNNN_name.sql),
// forward-only: Migrate applies each one not yet recorded in the schema's
// schema_migrations table in a transaction of its own, under an advisory lock so that
// two processes starting at once do not both apply it, and refuses a database that a
// newer sever already migrated further than this binary knows.
//
// The driver is pgx through its database/sql adapter (pgx/v5/stdlib), not pgxpool: the
// ledger's queries are database/sql code shared with the SQLite backend, and one code
// path for both is what keeps the two ledgers byte-for-byte the same.
package pgstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Schemas sever uses in the database named by database.url.
const (
	// DefaultSchema holds the ledger, the token store and the evidence index.
	DefaultSchema = "sever"
	// DrillSchema holds the drill ledger, kept apart from the real one as on SQLite.
	DrillSchema = "sever_drill"
)

// Schemas lists the schemas `sever migrate` migrates, in order.
var Schemas = []string{DefaultSchema, DrillSchema}

// Errors about the schema version; test with errors.Is.
var (
	// ErrNewerDatabase: a newer sever migrated the database further than this binary
	// knows. Running against it could write rows the newer code does not expect.
	ErrNewerDatabase = errors.New("pgstore: the database schema is newer than this sever")
	// ErrNotMigrated: the database lacks migrations this binary needs.
	ErrNotMigrated = errors.New("pgstore: the database schema is older than this sever: run `sever migrate` (or set database.migrate_on_start: true)")
)

// MaxOpenConns bounds each process's pool; every store of the process shares it.
const MaxOpenConns = 16

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one embedded schema change.
type Migration struct {
	Version int
	Name    string // file name without the number and .sql
	SQL     string
}

var fileRE = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// Migrations returns the embedded migrations in version order. Their versions are
// 1..n without gaps; anything else is a build mistake and is reported as an error.
func Migrations() ([]Migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("pgstore: list migrations: %w", err)
	}
	var out []Migration
	for _, p := range names {
		base := strings.TrimPrefix(p, "migrations/")
		m := fileRE.FindStringSubmatch(base)
		if m == nil {
			return nil, fmt.Errorf("pgstore: migration file %s: want NNNN_name.sql", base)
		}
		v, _ := strconv.Atoi(m[1])
		b, err := migrationFiles.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("pgstore: read migration %s: %w", base, err)
		}
		out = append(out, Migration{Version: v, Name: m[2], SQL: string(b)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("pgstore: migration %04d_%s: want version %d (versions run 1..n without gaps)", m.Version, m.Name, i+1)
		}
	}
	return out, nil
}

// Latest is the schema version this binary writes: the number of its migrations.
func Latest() int {
	ms, err := Migrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

var schemaRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Open connects to the database at url (a postgres:// URL or key=value DSN) with
// schema first on the search_path, and checks that it answers. Errors never repeat the
// URL, which may hold a password; they name the host and database (Describe).
func Open(ctx context.Context, url, schema string) (*sql.DB, error) {
	if !schemaRE.MatchString(schema) {
		return nil, fmt.Errorf("pgstore: open: schema %q: want lowercase letters, digits and _", schema)
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's parse errors can quote the URL: say only what was wrong with it.
		return nil, errors.New("pgstore: open: database.url is not a PostgreSQL URL (postgres://user:password@host:5432/db?sslmode=require) or key=value connection string")
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["search_path"] = `"` + schema + `"`
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(MaxOpenConns)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("pgstore: connect to %s: %w", describe(cfg), redactErr(err, cfg))
	}
	return db, nil
}

// Describe names the database at url for messages, without user or password.
func Describe(url string) string {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return "(unparsable database.url)"
	}
	return describe(cfg)
}

func describe(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("postgres://%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
}

// redactErr drops the password from a connection error, should a driver ever print it.
func redactErr(err error, cfg *pgx.ConnConfig) error {
	if cfg.Password == "" || !strings.Contains(err.Error(), cfg.Password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), cfg.Password, "********"))
}

// LockKey is the 64-bit key of a PostgreSQL advisory lock for name within schema, so
// that sever's locks in one schema never serialise with another's.
func LockKey(schema, name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("sever\x00" + schema + "\x00" + name))
	return int64(h.Sum64())
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    BIGINT PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`

// Migrate creates schema if need be and applies every embedded migration the schema
// has not recorded yet, each in its own transaction, in order; it returns those it
// applied. db must have been opened on schema (Open). Concurrent Migrate calls on one
// schema, from any process, take turns on an advisory lock, and the later ones find
// nothing left to do. It refuses (ErrNewerDatabase) a schema migrated further than
// this binary knows, and changes nothing then.
func Migrate(ctx context.Context, db *sql.DB, schema string) ([]Migration, error) {
	if !schemaRE.MatchString(schema) {
		return nil, fmt.Errorf("pgstore: migrate: schema %q: want lowercase letters, digits and _", schema)
	}
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgstore: migrate %s: %w", schema, err)
	}
	defer conn.Close()
	// A session lock, not a transaction one: it must outlive the per-migration
	// transactions. Closing the connection would release it too.
	key := LockKey(schema, "migrate")
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		return nil, fmt.Errorf("pgstore: migrate %s: lock: %w", schema, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key)
	if _, err := conn.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS "`+schema+`"`); err != nil {
		return nil, fmt.Errorf("pgstore: migrate: create schema %s: %w", schema, err)
	}
	if _, err := conn.ExecContext(ctx, createMigrationsTable); err != nil {
		return nil, fmt.Errorf("pgstore: migrate %s: create schema_migrations: %w", schema, err)
	}
	var cur int
	if err := conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
		return nil, fmt.Errorf("pgstore: migrate %s: read version: %w", schema, err)
	}
	if cur > len(ms) {
		return nil, fmt.Errorf("%w: schema %s is at version %d, this sever knows versions up to %d: upgrade sever", ErrNewerDatabase, schema, cur, len(ms))
	}
	var applied []Migration
	for _, m := range ms[cur:] {
		if err := apply(ctx, conn, m); err != nil {
			return applied, fmt.Errorf("pgstore: migrate %s: migration %04d_%s: %w", schema, m.Version, m.Name, err)
		}
		applied = append(applied, m)
	}
	return applied, nil
}

// apply runs one migration and records it in one transaction: either both happen or
// neither does.
func apply(ctx context.Context, conn *sql.Conn, m Migration) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Without arguments the statement goes through the simple query protocol, which
	// runs every statement of the file.
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
		return err
	}
	return tx.Commit()
}

// Version returns the schema version recorded in db's schema (0 when it was never
// migrated).
func Version(ctx context.Context, db *sql.DB) (int, error) {
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("pgstore: read schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("pgstore: read schema version: %w", err)
	}
	return v, nil
}

// Check reports whether db's schema is at exactly the version this binary writes:
// ErrNotMigrated when it is behind, ErrNewerDatabase when it is ahead.
func Check(ctx context.Context, db *sql.DB) error {
	v, err := Version(ctx, db)
	if err != nil {
		return err
	}
	switch latest := Latest(); {
	case v < latest:
		return fmt.Errorf("%w (schema at version %d, this sever needs %d)", ErrNotMigrated, v, latest)
	case v > latest:
		return fmt.Errorf("%w: schema at version %d, this sever knows versions up to %d: upgrade sever", ErrNewerDatabase, v, latest)
	}
	return nil
}
