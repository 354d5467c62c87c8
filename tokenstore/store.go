// Package tokenstore is the enterprise's own registry of service tokens (the
// generic_token credential type): the file that internal gateways consult to accept
// or refuse a token. sever disables a leaked token here with the enterprise's own
// authority and reads the state back. Token values are never stored, only their IDs.
package tokenstore

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Token states.
const (
	Active   = "active"
	Inactive = "inactive"
)

// ErrNotFound is returned for a token ID the store does not hold.
var ErrNotFound = errors.New("token not found")

// Token is one entry of the store.
type Token struct {
	ID    string `json:"id"`
	Owner string `json:"owner,omitempty"`
	// Status is the state the enterprise set; gateways refuse inactive tokens.
	Status string `json:"status"`
	// VendorStatus is the state the issuing vendor reports for the token, when the
	// vendor acted on its own (for example after a public leak). It is the issuer's
	// word, written by SetVendorStatus from the issuer's side (its notice feed), never by
	// a containment step, so tokenstore.observe_vendor_state reads state sever did not
	// write.
	VendorStatus string `json:"vendor_status,omitempty"`
	// VendorReportedBy names who reported VendorStatus (the API token of the
	// issuer's notice feed) and VendorReportedAt when; the report's author is on
	// record beside the issuer's word.
	VendorReportedBy string    `json:"vendor_reported_by,omitempty"`
	VendorReportedAt time.Time `json:"vendor_reported_at,omitzero"`
	UpdatedAt        time.Time `json:"updated_at"`
	UpdatedBy        string    `json:"updated_by,omitempty"`
	// Changes keeps the idempotency keys of changes already applied, so a retried
	// request after a lost answer is recognised and not applied twice.
	Changes []Change `json:"changes,omitempty"`
}

// Change is one applied status change.
type Change struct {
	Key    string    `json:"key"`
	Status string    `json:"status"`
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Reason string    `json:"reason,omitempty"`
}

type file struct {
	Tokens []Token `json:"tokens"`
}

// Store is a JSON file of tokens, safe for concurrent use by goroutines and by
// processes (workers and the API on one machine share it): every read-modify-write
// holds an exclusive lock on <path>.lock, and writes are atomic (temp file and
// rename) so a crash never leaves a torn file.
//
// OpenPostgres returns the same store in PostgreSQL instead, for a deployment whose
// workers run on several hosts (database.url): one row per token, changed under a row
// lock.
type Store struct {
	path string
	mu   sync.Mutex
	now  func() time.Time
	db   *sql.DB // PostgreSQL; nil = the file at path
}

// Open returns a store backed by path; the file need not exist yet.
func Open(path string) *Store { return &Store{path: path, now: time.Now} }

// Path returns the file behind the store.
func (s *Store) Path() string { return s.path }

// lock takes the file lock across processes (shared for reads, exclusive for
// writes); the returned function releases it. Without it two processes would each
// read the file, change their copy and rename it over the other's change.
func (s *Store) lock(exclusive bool) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return nil, fmt.Errorf("tokenstore: %w", err)
	}
	f, err := os.OpenFile(s.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("tokenstore: lock %s: %w", s.path, err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("tokenstore: lock %s: %w", s.path, err)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

func (s *Store) load() (*file, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return &file{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tokenstore: read %s: %w", s.path, err)
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("tokenstore: parse %s: %w", s.path, err)
	}
	return &f, nil
}

func (s *Store) save(f *file) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("tokenstore: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".tokens-*")
	if err != nil {
		return fmt.Errorf("tokenstore: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("tokenstore: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("tokenstore: sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("tokenstore: %w", err)
	}
	// The rename is durable only once the directory is: a disable answered to the
	// workflow must not come back active after a power loss.
	return syncDir(filepath.Dir(s.path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("tokenstore: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("tokenstore: sync %s: %w", dir, err)
	}
	return nil
}

// Get returns a token by ID.
func (s *Store) Get(id string) (Token, error) {
	if s.db != nil {
		return s.pgGet(id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := s.lock(false)
	if err != nil {
		return Token{}, err
	}
	defer unlock()
	f, err := s.load()
	if err != nil {
		return Token{}, err
	}
	for _, t := range f.Tokens {
		if t.ID == id {
			return t, nil
		}
	}
	return Token{}, fmt.Errorf("tokenstore: get %q: %w", id, ErrNotFound)
}

// Put adds or replaces a token (used to enrol tokens and by drills).
func (s *Store) Put(t Token) error {
	if t.ID == "" {
		return errors.New("tokenstore: put: token id is required")
	}
	if t.Status == "" {
		t.Status = Active
	}
	if s.db != nil {
		return s.pgPut(t)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := s.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	f, err := s.load()
	if err != nil {
		return err
	}
	t.UpdatedAt = s.now().UTC()
	if i := slices.IndexFunc(f.Tokens, func(x Token) bool { return x.ID == t.ID }); i >= 0 {
		f.Tokens[i] = t
	} else {
		f.Tokens = append(f.Tokens, t)
	}
	return s.save(f)
}

// SetStatus sets a token's status. It reads before it writes: a token already in
// the wanted state, or a change whose key was already applied, is left alone and
// changed is false.
func (s *Store) SetStatus(id, status, key, by, reason string) (t Token, changed bool, err error) {
	if status != Active && status != Inactive {
		return Token{}, false, fmt.Errorf("tokenstore: set status %q: want %s or %s", status, Active, Inactive)
	}
	return s.update(id, "set status", func(tok *Token, now time.Time) bool {
		return applyStatus(tok, status, key, by, reason, now)
	})
}

// SetVendorStatus records the state the token's issuer reports for it (active or
// inactive) and by, who reported it: what the issuer's notice feed calls (PUT
// /v1/tokens/{id}/vendor-status) when the vendor disabled (or restored) the token on
// its own. Setting the state already recorded changes nothing, reporter included.
// The enterprise's own Status is left alone: a vendor's action is evidence, not the
// enterprise's control.
func (s *Store) SetVendorStatus(id, status, by string) (t Token, changed bool, err error) {
	if status != Active && status != Inactive {
		return Token{}, false, fmt.Errorf("tokenstore: set vendor status %q: want %s or %s", status, Active, Inactive)
	}
	if by == "" {
		return Token{}, false, fmt.Errorf("tokenstore: set vendor status of %q: the reporter is required", id)
	}
	return s.update(id, "set vendor status", func(tok *Token, now time.Time) bool {
		if tok.VendorStatus == status {
			return false
		}
		tok.VendorStatus, tok.VendorReportedBy, tok.VendorReportedAt = status, by, now
		return true
	})
}

// update changes one token under the store's lock (the file lock, or the row lock in
// PostgreSQL) from the read to the write; change reports whether it changed anything,
// and nothing is written when it did not. op names the operation in errors.
func (s *Store) update(id, op string, change func(tok *Token, now time.Time) bool) (Token, bool, error) {
	if s.db != nil {
		return s.pgUpdate(id, op, change)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := s.lock(true)
	if err != nil {
		return Token{}, false, err
	}
	defer unlock()
	f, err := s.load()
	if err != nil {
		return Token{}, false, err
	}
	i := slices.IndexFunc(f.Tokens, func(x Token) bool { return x.ID == id })
	if i < 0 {
		return Token{}, false, fmt.Errorf("tokenstore: %s of %q: %w", op, id, ErrNotFound)
	}
	tok := &f.Tokens[i]
	if !change(tok, s.now().UTC()) {
		return *tok, false, nil
	}
	if err := s.save(f); err != nil {
		return Token{}, false, err
	}
	return *tok, true, nil
}

// applyStatus makes the change on tok and reports whether there was one to make: a
// token already in the wanted state, or a change whose key was already applied, is
// left alone.
func applyStatus(tok *Token, status, key, by, reason string, now time.Time) bool {
	// A key names one request; the same key for the opposite change is a new request.
	if tok.Status == status || slices.ContainsFunc(tok.Changes, func(c Change) bool { return key != "" && c.Key == key && c.Status == status }) {
		return false
	}
	tok.Status, tok.UpdatedAt, tok.UpdatedBy = status, now, by
	tok.Changes = append(tok.Changes, Change{Key: key, Status: status, At: now, By: by, Reason: reason})
	return true
}
