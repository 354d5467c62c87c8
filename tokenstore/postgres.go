package tokenstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// opTimeout bounds one database operation: the store's methods take no context.
const opTimeout = 30 * time.Second

// OpenPostgres returns a store in the tokens table of the PostgreSQL schema db was
// opened on (internal/pgstore.Open; migrated by `sever migrate`). db stays the
// caller's to close.
func OpenPostgres(db *sql.DB, schema string) *Store {
	return &Store{path: "postgres:" + schema, now: time.Now, db: db}
}

func (s *Store) pgGet(id string) (Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	return getRow(ctx, s.db, id, "")
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// getRow reads one token; suffix may add a locking clause.
func getRow(ctx context.Context, q queryRower, id, suffix string) (Token, error) {
	var doc string
	err := q.QueryRowContext(ctx, `SELECT doc FROM tokens WHERE id = $1`+suffix, id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("tokenstore: get %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Token{}, fmt.Errorf("tokenstore: get %q: %w", id, err)
	}
	var t Token
	if err := json.Unmarshal([]byte(doc), &t); err != nil {
		return Token{}, fmt.Errorf("tokenstore: get %q: stored document does not parse: %w", id, err)
	}
	return t, nil
}

func (s *Store) pgPut(t Token) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	t.UpdatedAt = s.now().UTC()
	b, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("tokenstore: put %q: %w", t.ID, err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO tokens (id, doc) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`, t.ID, string(b)); err != nil {
		return fmt.Errorf("tokenstore: put %q: %w", t.ID, err)
	}
	return nil
}

// pgUpdate is update with the token's row locked (SELECT … FOR UPDATE) from the
// read to the write, so two workers changing one token take turns and a retried
// change, on any host, finds its key already applied.
func (s *Store) pgUpdate(id, op string, change func(tok *Token, now time.Time) bool) (Token, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Token{}, false, fmt.Errorf("tokenstore: %s of %q: %w", op, id, err)
	}
	defer tx.Rollback()
	tok, err := getRow(ctx, tx, id, " FOR UPDATE")
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Token{}, false, fmt.Errorf("tokenstore: %s of %q: %w", op, id, ErrNotFound)
		}
		return Token{}, false, err
	}
	if !change(&tok, s.now().UTC()) {
		return tok, false, nil
	}
	b, err := json.Marshal(tok)
	if err != nil {
		return Token{}, false, fmt.Errorf("tokenstore: %s of %q: %w", op, id, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE tokens SET doc = $1 WHERE id = $2`, string(b), id); err != nil {
		return Token{}, false, fmt.Errorf("tokenstore: %s of %q: %w", op, id, err)
	}
	if err := tx.Commit(); err != nil {
		return Token{}, false, fmt.Errorf("tokenstore: %s of %q: %w", op, id, err)
	}
	return tok, true, nil
}
