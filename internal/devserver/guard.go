package devserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/server/common/headers"
	sqliteschema "go.temporal.io/server/schema/sqlite"
)

// ErrIncompatibleDataDir is wrapped by the error Start returns when the data
// directory holds a database written by another Temporal server version (or
// one whose version is unknown). The embedded server never migrates a SQLite
// file, so opening it could corrupt it or fail in obscure ways.
var ErrIncompatibleDataDir = errors.New("incompatible data directory")

const (
	dbFileName    = "temporal.db"
	guardFileName = "temporal-schema.json"
)

// schemaGuard is the content of DataDir/temporal-schema.json.
type schemaGuard struct {
	ServerVersion           string    `json:"server_version"`
	SQLiteSchemaVersion     string    `json:"sqlite_schema_version"`
	SQLiteVisibilityVersion string    `json:"sqlite_visibility_schema_version"`
	CreatedAt               time.Time `json:"created_at"`
}

// currentGuard describes the server linked into this binary.
func currentGuard() schemaGuard {
	return schemaGuard{
		ServerVersion:           headers.ServerVersion,
		SQLiteSchemaVersion:     sqliteschema.Version,
		SQLiteVisibilityVersion: sqliteschema.VisibilityVersion,
	}
}

func (g schemaGuard) describe() string {
	d := "Temporal server " + g.ServerVersion
	if g.SQLiteSchemaVersion != "" {
		d += " (SQLite schema " + g.SQLiteSchemaVersion + ")"
	}
	return d
}

// checkGuard decides whether dataDir can be opened by this binary. It
// reports fresh=true when there is no database yet.
func checkGuard(dataDir string) (fresh bool, err error) {
	dbPath := filepath.Join(dataDir, dbFileName)
	guardPath := filepath.Join(dataDir, guardFileName)
	want := currentGuard()

	if _, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) {
		// Nothing to be incompatible with; a stale guard file is rewritten.
		return true, nil
	} else if err != nil {
		return false, fmt.Errorf("check %s: %w", dbPath, err)
	}

	raw, err := os.ReadFile(guardPath)
	if errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("%w: data dir %s holds %s but no %s, so the Temporal server version that wrote it is unknown (expected %s); use a fresh --data-dir, or run the sever version that created it",
			ErrIncompatibleDataDir, dataDir, dbFileName, guardFileName, want.describe())
	} else if err != nil {
		return false, fmt.Errorf("read %s: %w", guardPath, err)
	}
	var got schemaGuard
	if err := json.Unmarshal(raw, &got); err != nil || got.ServerVersion == "" {
		if err == nil {
			err = errors.New("server_version is missing")
		}
		return false, fmt.Errorf("%w: data dir %s: cannot read %s (%v), so the Temporal server version that wrote %s is unknown (expected %s); use a fresh --data-dir, or run the sever version that created it",
			ErrIncompatibleDataDir, dataDir, guardFileName, err, dbFileName, want.describe())
	}
	// The server version decides the schema; the schema versions are
	// compared as well in case a patch release ever changes one.
	if got.ServerVersion != want.ServerVersion ||
		(got.SQLiteSchemaVersion != "" && got.SQLiteSchemaVersion != want.SQLiteSchemaVersion) ||
		(got.SQLiteVisibilityVersion != "" && got.SQLiteVisibilityVersion != want.SQLiteVisibilityVersion) {
		return false, fmt.Errorf("%w: data dir %s was written by %s, but this sever embeds %s, which does not migrate SQLite files; use a fresh --data-dir, or run the sever version that embeds Temporal server %s",
			ErrIncompatibleDataDir, dataDir, got.describe(), want.describe(), got.ServerVersion)
	}
	return false, nil
}

// writeGuard records the current versions beside a newly created database,
// atomically so that a crash never leaves a half-written guard.
func writeGuard(dataDir string, now time.Time) error {
	g := currentGuard()
	g.CreatedAt = now.UTC()
	raw, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	raw = append(raw, '\n')
	tmp, err := os.CreateTemp(dataDir, guardFileName+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", guardFileName, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", guardFileName, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", guardFileName, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", guardFileName, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dataDir, guardFileName)); err != nil {
		return fmt.Errorf("write %s: %w", guardFileName, err)
	}
	return nil
}

// removeDB deletes a database that could not be fully initialised, with its
// WAL side files, so the next start begins from scratch instead of refusing.
func removeDB(dataDir string) {
	base := filepath.Join(dataDir, dbFileName)
	for _, p := range []string{base, base + "-wal", base + "-shm", base + "-journal"} {
		_ = os.Remove(p)
	}
}
