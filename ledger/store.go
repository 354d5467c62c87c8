package ledger

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sever-ir/sever"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// FileName is the ledger's file name in sever's data dir: <data_dir>/ledger.db.
const FileName = "ledger.db"

// schemaVersion is stored in the meta table; Open refuses a file written by another.
const schemaVersion = "1"

// schema is the SQLite layout. entries.body holds the canonical encoding verbatim; the
// other entries columns repeat parts of it for queries and must agree with it. The
// triggers make the table append-only for every writer that goes through SQLite
// without first dropping them; the hash chains detect anyone who does.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS meta (
		k TEXT PRIMARY KEY,
		v TEXT NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS entries (
		gseq     INTEGER PRIMARY KEY, -- append number across incidents, 1-based
		incident TEXT    NOT NULL,
		seq      INTEGER NOT NULL,    -- 1-based within the incident
		key      TEXT    NOT NULL,    -- idempotency key
		kind     TEXT    NOT NULL,
		at       TEXT    NOT NULL,    -- RFC 3339, as in body
		day      TEXT    NOT NULL,    -- UTC day the store appended it (YYYY-MM-DD)
		prev     TEXT    NOT NULL,    -- hash of the incident's previous entry
		hash     TEXT    NOT NULL,    -- sha256(body)
		chain    TEXT    NOT NULL,    -- sha256(previous entry's chain || hash), in gseq order
		body     TEXT    NOT NULL,    -- canonical encoding
		UNIQUE (incident, seq),
		UNIQUE (incident, key)
	)`,
	`CREATE INDEX IF NOT EXISTS entries_day ON entries (day, gseq)`,
	`CREATE TABLE IF NOT EXISTS incidents (
		incident TEXT PRIMARY KEY,
		seq      INTEGER NOT NULL, -- last seq appended
		hash     TEXT    NOT NULL  -- its hash
	)`,
	`CREATE TABLE IF NOT EXISTS days (
		day           TEXT PRIMARY KEY, -- YYYY-MM-DD, UTC
		prev_head     TEXT    NOT NULL, -- head of the previous day with entries, '' for the first
		head          TEXT    NOT NULL, -- chain of the last entry appended that day
		first         INTEGER NOT NULL, -- gseq range covered
		last          INTEGER NOT NULL,
		last_incident TEXT    NOT NULL, -- the last entry covered
		last_seq      INTEGER NOT NULL
	)`,
	`CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
		BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END`,
	`CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
		BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END`,
}

// Store is a ledger in a SQLite file (Open) or in a PostgreSQL schema (OpenPostgres).
// It is safe for concurrent use, also by several processes sharing the file or the
// database: appends are serialized by SQLite's write lock, or by an advisory lock on
// PostgreSQL.
type Store struct {
	db   db
	path string
	now  func() time.Time // tests move the clock
	// appendLock is the PostgreSQL advisory lock key appends take; sharedDB says
	// Close leaves db open for the caller's other stores.
	appendLock int64
	sharedDB   bool
	// anchorKey and anchorSources are set by Anchors.
	anchorKey     ed25519.PublicKey
	anchorSources []AnchorSource
	// stmts are the per-entry statements of appends, prepared once (SQLite only).
	stmts *appendStmts
}

// The statements every appended entry runs.
const (
	qEntryByKey  = `SELECT body, hash FROM entries WHERE incident = ? AND key = ?`
	qIncidentTip = `SELECT seq, hash FROM incidents WHERE incident = ?`
	qInsertEntry = `INSERT INTO entries (gseq, incident, seq, key, kind, at, day, prev, hash, chain, body)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// appendStmts are qEntryByKey, qIncidentTip and qInsertEntry prepared on the
// store's database. The SQLite driver parses a statement anew on every call
// that is not prepared, a quarter of an append's CPU; a prepared one is parsed
// once per connection. PostgreSQL's driver caches its statements itself.
type appendStmts struct {
	entryByKey, incidentTip, insertEntry *sql.Stmt
}

func prepareAppends(ctx context.Context, d *sql.DB) (*appendStmts, error) {
	var st appendStmts
	for _, p := range []struct {
		stmt **sql.Stmt
		q    string
	}{{&st.entryByKey, qEntryByKey}, {&st.incidentTip, qIncidentTip}, {&st.insertEntry, qInsertEntry}} {
		var err error
		if *p.stmt, err = d.PrepareContext(ctx, p.q); err != nil {
			st.close()
			return nil, fmt.Errorf("prepare %q: %w", p.q, err)
		}
	}
	return &st, nil
}

func (st *appendStmts) close() {
	for _, s := range []*sql.Stmt{st.entryByKey, st.incidentTip, st.insertEntry} {
		if s != nil {
			s.Close()
		}
	}
}

// Open opens or creates the ledger at path (a file, created 0600) in WAL mode with a
// busy timeout and full sync, so a committed append survives a crash.
func Open(path string) (*Store, error) {
	switch {
	case path == "" || path == ":memory:" || strings.HasPrefix(path, "file:"):
		return nil, fmt.Errorf("ledger: open %q: need the path of a file", path)
	case strings.Contains(path, "?"):
		return nil, fmt.Errorf("ledger: open %q: the path must not contain '?'", path)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("ledger: open: %w", err)
	}
	f.Close()
	dsn := path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	sqlDB, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	}
	s := &Store{db: db{DB: sqlDB}, path: path, now: defaultNow}
	if err := s.init(context.Background()); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	}
	if s.stmts, err = prepareAppends(context.Background(), sqlDB); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) init(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range schema {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO meta (k, v) VALUES ('schema', ?)`, schemaVersion); err != nil {
		return err
	}
	var v string
	if err := tx.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = 'schema'`).Scan(&v); err != nil {
		return err
	}
	if v != schemaVersion {
		return fmt.Errorf("ledger schema version %q, this sever reads %q", v, schemaVersion)
	}
	return tx.Commit()
}

// Close closes the SQLite database. A PostgreSQL store leaves the pool it was given
// open: its caller shares it among stores and closes it.
func (s *Store) Close() error {
	if s.stmts != nil {
		s.stmts.close()
	}
	if s.sharedDB {
		return nil
	}
	return s.db.Close()
}

// Path returns the file the store was opened on, or postgres:<schema> for a
// PostgreSQL ledger.
func (s *Store) Path() string { return s.path }

// defaultNow is the store's clock.
func defaultNow() time.Time { return time.Now() }

// Append records e and returns it as stored, with Seq, Prev, Hash and At (when it was
// zero) filled in, and true. If the incident already has an entry with e.Key, Append
// writes nothing and returns that entry and false, so a retried activity never records
// a fact twice. It refuses entries without incident, kind or key, unknown kinds and
// enforcement classes, and any value that looks like secret material, with a
// *sever.Error naming the field; free text (result, detail values) is normalized as
// the package comment describes.
func (s *Store) Append(ctx context.Context, e Entry) (Entry, bool, error) {
	out, err := s.AppendBatch(ctx, []Entry{e})
	if err != nil {
		if be, ok := errors.AsType[*BatchError](err); ok {
			return Entry{}, false, be.Err
		}
		return Entry{}, false, err
	}
	return out[0].Entry, out[0].Added, nil
}

// Appended is one entry of a batch as the ledger holds it; Added is false when the
// incident already had an entry with its key.
type Appended struct {
	Entry Entry
	Added bool
}

// BatchError is a batch refused before anything was written: entry Index failed
// validation with Err (a *sever.Error naming the field).
type BatchError struct {
	Index int
	Err   error
}

func (e *BatchError) Error() string { return fmt.Sprintf("ledger: batch entry %d: %v", e.Index, e.Err) }
func (e *BatchError) Unwrap() error { return e.Err }

// AppendBatch records es in order, each as Append would, in one transaction: one
// write lock and one commit (one sync to disk) for the batch instead of one per
// entry, which is what lets incidents that write their facts at the same time share
// the ledger without queueing on it. Every entry is validated before anything is
// written; a refused one fails the whole batch with a *BatchError naming it.
func (s *Store) AppendBatch(ctx context.Context, es []Entry) ([]Appended, error) {
	now := s.now().UTC()
	es = slices.Clone(es)
	for i := range es {
		if err := prepare(&es[i], now); err != nil {
			return nil, &BatchError{Index: i, Err: err}
		}
	}
	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: one writer at a time
	if err != nil {
		return nil, fmt.Errorf("ledger: append: %w", err)
	}
	defer tx.Rollback()
	if err := s.lockAppends(ctx, tx); err != nil {
		return nil, fmt.Errorf("ledger: append: %w", err)
	}
	b, err := openBatch(ctx, tx, now, s.stmts)
	if err != nil {
		return nil, fmt.Errorf("ledger: append: %w", err)
	}
	out := make([]Appended, 0, len(es))
	for _, e := range es {
		a, err := b.append(ctx, e)
		if err != nil {
			return nil, fmt.Errorf("ledger: append %s %q: %w", e.Incident, e.Key, err)
		}
		out = append(out, a)
	}
	if err := b.close(ctx); err != nil {
		return nil, fmt.Errorf("ledger: append: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("ledger: append: %w", err)
	}
	return out, nil
}

// batch appends entries inside one transaction. It reads the day's tip and each
// incident's tip once, keeps them as the entries go in, and writes them back once
// in close: two statements per entry (the key lookup and the insert) instead of six,
// the same rows as appending the entries one by one. On PostgreSQL every statement
// is a round trip.
type batch struct {
	tx tx
	// tip is the latest day row when the batch began (nil for an empty ledger); day
	// is the day this batch's entries go into.
	tip *DayHead
	day string
	// gseq is the next append number, head the chain value so far; first is the
	// first append number this batch used (0 while none).
	gseq, first int64
	head        string
	last        struct {
		incident string
		seq      int64
	}
	incidents map[string]*incidentTip
	touched   []string // incidents with new entries, in first-append order
	// entryByKey, incidentTip and insertEntry are the store's prepared statements
	// in this transaction (nil: run the queries as text).
	entryByKey, incidentTip, insertEntry *sql.Stmt
}

// queryRow runs q, through stmt when it is prepared.
func (b *batch) queryRow(ctx context.Context, stmt *sql.Stmt, q string, args ...any) *sql.Row {
	if stmt != nil {
		return stmt.QueryRowContext(ctx, args...)
	}
	return b.tx.QueryRowContext(ctx, q, args...)
}

// incidentTip is an incident's last seq and entry hash.
type incidentTip struct {
	seq  int64
	hash string
}

func openBatch(ctx context.Context, tx tx, now time.Time, st *appendStmts) (*batch, error) {
	tip, err := latestDay(ctx, tx, "")
	if err != nil {
		return nil, err
	}
	b := &batch{tx: tx, tip: tip, day: dayOf(now), gseq: 1, incidents: map[string]*incidentTip{}}
	if st != nil {
		// Closed with the transaction.
		b.entryByKey, b.incidentTip = tx.StmtContext(ctx, st.entryByKey), tx.StmtContext(ctx, st.incidentTip)
		b.insertEntry = tx.StmtContext(ctx, st.insertEntry)
	}
	if tip != nil {
		if tip.Day > b.day {
			b.day = tip.Day // the clock stepped back over midnight: never reopen a sealed day
		}
		b.gseq, b.head = tip.Last+1, tip.Head
	}
	return b, nil
}

// append appends one prepared entry, or returns the stored one when the incident
// already has an entry with its key (in the ledger or earlier in the batch).
func (b *batch) append(ctx context.Context, e Entry) (Appended, error) {
	var body, hash string
	err := b.queryRow(ctx, b.entryByKey, qEntryByKey, e.Incident, e.Key).Scan(&body, &hash)
	switch {
	case err == nil:
		stored, err := decodeEntry([]byte(body))
		if err != nil {
			return Appended{}, fmt.Errorf("stored entry for key %q of %s does not decode (run ledger verify): %w", e.Key, e.Incident, err)
		}
		stored.Hash = hash
		return Appended{Entry: stored}, nil
	case !errors.Is(err, sql.ErrNoRows):
		return Appended{}, err
	}

	it := b.incidents[e.Incident]
	if it == nil {
		it = &incidentTip{}
		err = b.queryRow(ctx, b.incidentTip, qIncidentTip, e.Incident).Scan(&it.seq, &it.hash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return Appended{}, err
		}
		b.incidents[e.Incident] = it
	}
	e.Seq, e.Prev = it.seq+1, it.hash
	canon := e.Canonical()
	e.Hash = sever.SHA256Hex(canon)
	chain := chainHash(b.head, e.Hash)

	args := []any{b.gseq, e.Incident, e.Seq, e.Key, string(e.Kind), formatTime(e.At), b.day, e.Prev, e.Hash, chain, string(canon)}
	if b.insertEntry != nil {
		_, err = b.insertEntry.ExecContext(ctx, args...)
	} else {
		_, err = b.tx.ExecContext(ctx, qInsertEntry, args...)
	}
	if err != nil {
		return Appended{}, err
	}
	if !slices.Contains(b.touched, e.Incident) {
		b.touched = append(b.touched, e.Incident)
	}
	it.seq, it.hash = e.Seq, e.Hash
	if b.first == 0 {
		b.first = b.gseq
	}
	b.head = chain
	b.last.incident, b.last.seq = e.Incident, e.Seq
	b.gseq++
	return Appended{Entry: e, Added: true}, nil
}

// close writes the tips the batch moved: each incident's, and the day's.
func (b *batch) close(ctx context.Context) error {
	for _, inc := range b.touched {
		it := b.incidents[inc]
		if _, err := b.tx.ExecContext(ctx, `INSERT INTO incidents (incident, seq, hash) VALUES (?, ?, ?)
			ON CONFLICT (incident) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`, inc, it.seq, it.hash); err != nil {
			return err
		}
	}
	if b.first == 0 {
		return nil // every entry was already there
	}
	var err error
	if b.tip != nil && b.tip.Day == b.day {
		_, err = b.tx.ExecContext(ctx, `UPDATE days SET head = ?, last = ?, last_incident = ?, last_seq = ? WHERE day = ?`,
			b.head, b.gseq-1, b.last.incident, b.last.seq, b.day)
	} else {
		prev := ""
		if b.tip != nil {
			prev = b.tip.Head
		}
		_, err = b.tx.ExecContext(ctx, `INSERT INTO days (day, prev_head, head, first, last, last_incident, last_seq)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, b.day, prev, b.head, b.first, b.gseq-1, b.last.incident, b.last.seq)
	}
	return err
}

// Entries returns an incident's entries in seq order (none for an unknown incident).
func (s *Store) Entries(ctx context.Context, incident string) ([]Entry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, hash, body FROM entries WHERE incident = ? ORDER BY seq, gseq`, incident)
	if err != nil {
		return nil, fmt.Errorf("ledger: entries: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var seq int64
		var hash, body string
		if err := rows.Scan(&seq, &hash, &body); err != nil {
			return nil, fmt.Errorf("ledger: entries: %w", err)
		}
		e, err := decodeEntry([]byte(body))
		if err != nil {
			return nil, fmt.Errorf("ledger: entries: %s seq %d does not decode (run ledger verify): %w", incident, seq, err)
		}
		e.Hash = hash
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: entries: %w", err)
	}
	return out, nil
}

// Incidents lists every incident the ledger knows, sorted.
func (s *Store) Incidents(ctx context.Context) ([]string, error) {
	return incidents(ctx, s.db)
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func incidents(ctx context.Context, q querier) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT incident FROM incidents UNION SELECT incident FROM entries ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("ledger: incidents: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("ledger: incidents: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// DayHead is the sealed head of one UTC day's part of the day chain.
type DayHead struct {
	Day      string `json:"day"`       // YYYY-MM-DD, UTC
	PrevHead string `json:"prev_head"` // head of the previous day with entries, "" for the first
	Head     string `json:"head"`      // chain value of the last entry appended that day
	First    int64  `json:"first"`     // append numbers (gseq) covered, First..Last
	Last     int64  `json:"last"`
	// LastIncident and LastSeq name the last entry covered.
	LastIncident string `json:"last_incident"`
	LastSeq      int64  `json:"last_seq"`
}

// DayHead returns the head of the UTC day containing day; a *sever.Error with code
// not_found when nothing was appended that day. The head of the current day moves with
// every append until the day ends.
func (s *Store) DayHead(ctx context.Context, day time.Time) (DayHead, error) {
	d := dayOf(day)
	h, err := dayHead(ctx, s.db, d)
	if err != nil {
		return DayHead{}, fmt.Errorf("ledger: day head: %w", err)
	}
	if h == nil {
		return DayHead{}, sever.Errorf(sever.ENOTFOUND, "day", "ledger: no entries were appended on %s", d)
	}
	return *h, nil
}

// Days returns every day head in day order.
func (s *Store) Days(ctx context.Context) ([]DayHead, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+dayCols+` FROM days ORDER BY day`)
	if err != nil {
		return nil, fmt.Errorf("ledger: days: %w", err)
	}
	defer rows.Close()
	var out []DayHead
	for rows.Next() {
		var h DayHead
		if err := rows.Scan(&h.Day, &h.PrevHead, &h.Head, &h.First, &h.Last, &h.LastIncident, &h.LastSeq); err != nil {
			return nil, fmt.Errorf("ledger: days: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

const dayCols = `day, prev_head, head, first, last, last_incident, last_seq`

func scanDay(r *sql.Row) (*DayHead, error) {
	var h DayHead
	err := r.Scan(&h.Day, &h.PrevHead, &h.Head, &h.First, &h.Last, &h.LastIncident, &h.LastSeq)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &h, nil
}

func dayHead(ctx context.Context, q querier, day string) (*DayHead, error) {
	return scanDay(q.QueryRowContext(ctx, `SELECT `+dayCols+` FROM days WHERE day = ?`, day))
}

// latestDay returns the last day head before the given day ("" = the latest of all).
func latestDay(ctx context.Context, q querier, before string) (*DayHead, error) {
	if before == "" {
		return scanDay(q.QueryRowContext(ctx, `SELECT `+dayCols+` FROM days ORDER BY day DESC LIMIT 1`))
	}
	return scanDay(q.QueryRowContext(ctx, `SELECT `+dayCols+` FROM days WHERE day < ? ORDER BY day DESC LIMIT 1`, before))
}

func dayOf(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// chainHash is the day-chain step: hex SHA-256 of the ASCII concatenation of the
// previous chain value and the entry hash.
func chainHash(prev, hash string) string { return sever.SHA256Hex([]byte(prev + hash)) }
