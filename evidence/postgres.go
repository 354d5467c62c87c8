package evidence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/sever-ir/sever"
)

// MaxDBArtifactBytes caps an artifact kept in the database (the evidence table's CHECK
// says the same): evidence larger than this belongs in S3 under Object Lock
// (aws.evidence_bucket), not in rows every backup copies.
const MaxDBArtifactBytes = 4 << 20

// pgScheme starts the URI of an artifact kept in the database:
// pg://<schema>/evidence/<incident>/<name>-<sha12>.json.
const pgScheme = "pg://"

// ErrTooLarge is returned by Put for an artifact over MaxDBArtifactBytes on the
// database backend. It is permanent: a retry cannot make the artifact smaller.
var ErrTooLarge = errors.New("evidence: artifact too large for the database")

const opTimeout = 30 * time.Second

// OpenPostgres returns a store writing into the evidence table of the PostgreSQL
// schema db was opened on (internal/pgstore.Open; migrated by `sever migrate`). db
// stays the caller's to close.
func OpenPostgres(db *sql.DB, schema string) *Store { return &Store{db: db, schema: schema} }

func (s *Store) pgURI(incident, name, hexsum string) string {
	return fmt.Sprintf("%s%s/evidence/%s/%s-%s.json", pgScheme, s.schema, incident, name, hexsum[:12])
}

// pgPut stores b once: the row is keyed by incident, name and hash, so writing the
// same bytes again, from any worker, stores nothing and returns the same reference.
func (s *Store) pgPut(incident, name, hexsum string, b []byte) (sever.Artifact, error) {
	if len(b) > MaxDBArtifactBytes {
		return sever.Artifact{}, fmt.Errorf("%w: put %s/%s: %d bytes, the database keeps at most %d: configure aws.evidence_bucket for large evidence", ErrTooLarge, incident, name, len(b), MaxDBArtifactBytes)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := s.db.ExecContext(ctx, `INSERT INTO evidence (incident, name, sha256, size, body) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (incident, name, sha256) DO NOTHING`, incident, name, hexsum, len(b), b); err != nil {
		return sever.Artifact{}, fmt.Errorf("evidence: put %s/%s: %w", incident, name, err)
	}
	return sever.Artifact{Name: name, URI: s.pgURI(incident, name, hexsum), SHA256: hexsum, Size: int64(len(b))}, nil
}

var pgURIRE = regexp.MustCompile(`^pg://([a-z_][a-z0-9_]*)/evidence/([A-Za-z0-9][A-Za-z0-9._-]{0,127})/([A-Za-z0-9][A-Za-z0-9._-]{0,127})-([0-9a-f]{12})\.json$`)

// pgVerify recomputes an artifact's hash from the row its URI names.
func (s *Store) pgVerify(a sever.Artifact) error {
	m := pgURIRE.FindStringSubmatch(a.URI)
	if m == nil || len(a.SHA256) != 64 || a.SHA256[:12] != m[4] {
		return fmt.Errorf("evidence: verify %s: not a database artifact reference", a.Name)
	}
	if s.db == nil || m[1] != s.schema {
		return fmt.Errorf("evidence: verify %s: kept in database schema %s, this store reads %s", a.Name, m[1], s.where())
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var body []byte
	err := s.db.QueryRowContext(ctx, `SELECT body FROM evidence WHERE incident = $1 AND name = $2 AND sha256 = $3`, m[2], m[3], a.SHA256).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("evidence: verify %s: no row for %s/%s with sha256 %s", a.Name, m[2], m[3], a.SHA256)
	}
	if err != nil {
		return fmt.Errorf("evidence: verify %s: %w", a.Name, err)
	}
	if got := sever.SHA256Hex(body); got != a.SHA256 {
		return fmt.Errorf("evidence: verify %s: sha256 %s, recorded %s", a.Name, got, a.SHA256)
	}
	return nil
}

func (s *Store) where() string {
	if s.db == nil {
		return "files under " + s.root
	}
	return "schema " + s.schema
}
