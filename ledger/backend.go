package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/sever-ir/sever/internal/pgstore"
)

// db is the store's database handle. The ledger's SQL is written once, with ?
// placeholders, and runs on SQLite as written and on PostgreSQL with the placeholders
// numbered ($1, $2, …): one code path for both backends keeps their ledgers the same.
type db struct {
	*sql.DB
	pg bool
}

// tx is a transaction of db, with the same placeholder rewriting.
type tx struct {
	*sql.Tx
	pg bool
}

func (d db) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return d.DB.QueryContext(ctx, bind(d.pg, q), args...)
}

func (d db) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return d.DB.QueryRowContext(ctx, bind(d.pg, q), args...)
}

func (d db) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return d.DB.ExecContext(ctx, bind(d.pg, q), args...)
}

// BeginTx starts a transaction. On PostgreSQL a read-only transaction is REPEATABLE
// READ, so that every query of a verification sees one snapshot, as a SQLite read
// transaction does.
func (d db) BeginTx(ctx context.Context, opts *sql.TxOptions) (tx, error) {
	if d.pg && opts != nil && opts.ReadOnly && opts.Isolation == sql.LevelDefault {
		o := *opts
		o.Isolation = sql.LevelRepeatableRead
		opts = &o
	}
	t, err := d.DB.BeginTx(ctx, opts)
	return tx{Tx: t, pg: d.pg}, err
}

func (t tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.Tx.QueryContext(ctx, bind(t.pg, q), args...)
}

func (t tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.Tx.QueryRowContext(ctx, bind(t.pg, q), args...)
}

func (t tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.Tx.ExecContext(ctx, bind(t.pg, q), args...)
}

// bind numbers the ? placeholders of q for PostgreSQL ($1, $2, …), leaving any ? in a
// quoted literal alone; on SQLite it returns q.
func bind(pg bool, q string) string {
	if !pg || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n, quoted := 0, false
	for _, r := range q {
		switch {
		case r == '\'':
			quoted = !quoted
		case r == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// OpenPostgres returns a ledger in the PostgreSQL schema that sqlDB was opened on
// (pgstore.Open): the ledger sever uses when database.url is set, shared by every
// worker of a cluster. The schema must be migrated to this binary's version
// (pgstore.Migrate, `sever migrate`); OpenPostgres refuses one that is behind or
// ahead. Close does not close sqlDB, which the caller shares among its stores.
//
// Appends from any number of processes serialise on a transaction-scoped advisory
// lock of the schema's ledger, so they form one chain per incident and one day chain,
// exactly as appends to one SQLite file do.
func OpenPostgres(ctx context.Context, sqlDB *sql.DB, schema string) (*Store, error) {
	if err := pgstore.Check(ctx, sqlDB); err != nil {
		return nil, fmt.Errorf("ledger: open PostgreSQL schema %s: %w", schema, err)
	}
	s := &Store{db: db{DB: sqlDB, pg: true}, path: "postgres:" + schema, now: defaultNow,
		appendLock: pgstore.LockKey(schema, "ledger.append"), sharedDB: true}
	return s, nil
}

// Postgres reports whether the store is a PostgreSQL ledger.
func (s *Store) Postgres() bool { return s.db.pg }

// lockAppends serialises appends on PostgreSQL for the rest of the transaction. The
// day chain (gseq and chain) runs across incidents, so every append, whatever its
// incident, extends one sequence: they take one lock per ledger, not one per incident.
// Taken before the idempotency lookup, so a retried append that raced the first one
// finds its entry instead of failing on the unique key.
func (s *Store) lockAppends(ctx context.Context, t tx) error {
	if !s.db.pg {
		return nil // BEGIN IMMEDIATE already holds SQLite's write lock
	}
	_, err := t.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, s.appendLock)
	return err
}

// OpenPostgresURL connects to the database at url with its own pool, on schema
// (pgstore.Open), and opens the ledger there (OpenPostgres); Close closes the pool.
// For one-off commands such as `sever ledger verify`.
func OpenPostgresURL(ctx context.Context, url, schema string) (*Store, error) {
	sqlDB, err := pgstore.Open(ctx, url, schema)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	s, err := OpenPostgres(ctx, sqlDB, schema)
	if err != nil {
		sqlDB.Close()
		return nil, err
	}
	s.sharedDB = false
	return s, nil
}

// DatabaseSink keeps signed checkpoints in the checkpoints table of a PostgreSQL
// ledger, numbered in the order written, so that every worker of a deployment reads
// and extends one record of how far the ledger reached instead of a file of its own.
// It is both an AnchorSink and an AnchorSource. Whoever owns the database can rewrite
// it along with the ledger: it complements the S3 copy and an append-only file, it
// does not replace them.
type DatabaseSink struct{ s *Store }

// DatabaseSink returns the store's checkpoint table; false for a SQLite ledger.
func (s *Store) DatabaseSink() (*DatabaseSink, bool) {
	if !s.db.pg {
		return nil, false
	}
	return &DatabaseSink{s: s}, true
}

// WriteCheckpoint appends one checkpoint; it is durable when the insert commits.
func (d *DatabaseSink) WriteCheckpoint(ctx context.Context, data []byte) error {
	if _, err := d.s.db.ExecContext(ctx, `INSERT INTO checkpoints (body) VALUES (?)`, string(data)); err != nil {
		return fmt.Errorf("ledger: write checkpoint to %s: %w", d.s.path, err)
	}
	return nil
}

// ReadCheckpoints returns every checkpoint in the order written.
func (d *DatabaseSink) ReadCheckpoints(ctx context.Context) ([]RawCheckpoint, error) {
	rows, err := d.s.db.QueryContext(ctx, `SELECT n, body FROM checkpoints ORDER BY n`)
	if err != nil {
		return nil, fmt.Errorf("ledger: read checkpoints from %s: %w", d.s.path, err)
	}
	defer rows.Close()
	var out []RawCheckpoint
	for rows.Next() {
		var n int64
		var body string
		if err := rows.Scan(&n, &body); err != nil {
			return nil, fmt.Errorf("ledger: read checkpoints from %s: %w", d.s.path, err)
		}
		out = append(out, RawCheckpoint{Where: fmt.Sprintf("%s checkpoint #%d", d.s.path, n), Data: []byte(body)})
	}
	return out, rows.Err()
}
