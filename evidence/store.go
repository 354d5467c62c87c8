// Package evidence keeps evidence artifacts on disk, content-addressed by SHA-256, so
// a step records a hash an auditor can recompute and a retried write stores nothing twice.
package evidence

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/secretscan"
)

// Store writes artifacts under a root directory: ROOT/INCIDENT/NAME-SHA12.json, or,
// opened with OpenPostgres, into the database's evidence table, so that no worker of a
// deployment scaled out over several hosts keeps evidence on its own disk.
type Store struct {
	root   string
	db     *sql.DB // PostgreSQL; nil = files under root
	schema string
}

// NewStore returns a store rooted at dir.
func NewStore(dir string) *Store { return &Store{root: dir} }

var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Put writes b, a JSON document, as an artifact of an incident and returns its
// reference. Anything in it that looks like a live secret is redacted first, and the
// reference's hash is of what was written. Writing the same bytes again returns the
// same reference and leaves the file as it was.
func (s *Store) Put(incident, name string, b []byte) (sever.Artifact, error) {
	if !safeName.MatchString(incident) || !safeName.MatchString(name) {
		return sever.Artifact{}, fmt.Errorf("evidence: put %q/%q: names must match %s", incident, name, safeName)
	}
	b = secretscan.RedactJSON(b)
	sum := sha256.Sum256(b)
	hexsum := hex.EncodeToString(sum[:])
	if s.db != nil {
		return s.pgPut(incident, name, hexsum, b)
	}
	dir := filepath.Join(s.root, incident)
	path := filepath.Join(dir, name+"-"+hexsum[:12]+".json")
	a := sever.Artifact{Name: name, URI: "file://" + path, SHA256: hexsum, Size: int64(len(b))}
	if _, err := os.Stat(path); err == nil {
		return a, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return sever.Artifact{}, fmt.Errorf("evidence: put %s: %w", path, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return sever.Artifact{}, fmt.Errorf("evidence: put %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, ".artifact-*")
	if err != nil {
		return sever.Artifact{}, fmt.Errorf("evidence: put %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return sever.Artifact{}, fmt.Errorf("evidence: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return sever.Artifact{}, fmt.Errorf("evidence: sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return sever.Artifact{}, err
	}
	if err := os.Chmod(tmp.Name(), 0o400); err != nil {
		return sever.Artifact{}, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return sever.Artifact{}, fmt.Errorf("evidence: put %s: %w", path, err)
	}
	return a, nil
}

// Verify recomputes an artifact's hash from disk, or from the database for an
// artifact stored there.
func (s *Store) Verify(a sever.Artifact) error {
	if strings.HasPrefix(a.URI, pgScheme) {
		return s.pgVerify(a)
	}
	path, ok := strings.CutPrefix(a.URI, "file://")
	if !ok {
		return fmt.Errorf("evidence: verify %s: not a file artifact", a.URI)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("evidence: verify %s: %w", a.Name, err)
	}
	if got := sever.SHA256Hex(b); got != a.SHA256 {
		return fmt.Errorf("evidence: verify %s: sha256 %s, recorded %s", a.Name, got, a.SHA256)
	}
	return nil
}
