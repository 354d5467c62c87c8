package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/pgstore"
	"github.com/sever-ir/sever/internal/pgtest"
)

// clock is a settable time source safe for concurrent appends.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

var day1 = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)

// backend is one store backend the ledger's test suite runs on. TestMain runs every
// test once per backend: each Store method must behave the same on both.
type backend struct {
	name string
	// open returns an empty ledger.
	open func(t testing.TB) *Store
	// again opens a second, independent handle on s's ledger: another connection
	// (pool), as a second worker process would have.
	again func(t testing.TB, s *Store) *Store
	// raw connects to s's ledger directly, as someone with write access to the file or
	// the database would, with the append-only triggers off when triggersOff is set.
	raw func(t testing.TB, s *Store, triggersOff bool) rawDB
}

var backends = []backend{
	{
		name: "sqlite",
		open: func(t testing.TB) *Store {
			s, err := Open(filepath.Join(t.TempDir(), "ledger.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		again: func(t testing.TB, s *Store) *Store {
			o, err := Open(s.Path())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { o.Close() })
			return o
		},
		raw: func(t testing.TB, s *Store, triggersOff bool) rawDB {
			db, err := sql.Open("sqlite", s.Path()+"?_pragma=busy_timeout(10000)")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if triggersOff {
				for _, q := range []string{`DROP TRIGGER IF EXISTS entries_no_update`, `DROP TRIGGER IF EXISTS entries_no_delete`} {
					if _, err := db.Exec(q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
			}
			return rawDB{DB: db}
		},
	},
	{
		name: "postgres",
		open: func(t testing.TB) *Store {
			url, schema := pgtest.Schema(t)
			return openPG(t, url, schema, true)
		},
		again: func(t testing.TB, s *Store) *Store {
			return openPG(t, pgtest.Shared(t).URL, strings.TrimPrefix(s.Path(), "postgres:"), false)
		},
		raw: func(t testing.TB, s *Store, triggersOff bool) rawDB {
			schema := strings.TrimPrefix(s.Path(), "postgres:")
			if triggersOff {
				return rawDB{DB: pgtest.SuperDB(t, schema), pg: true}
			}
			db, err := sql.Open("pgx", pgtest.Shared(t).URL+"&search_path="+schema)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return rawDB{DB: db, pg: true}
		},
	},
}

// openPG opens a PostgreSQL ledger on its own pool, migrating the schema first when
// migrate is set.
func openPG(t testing.TB, url, schema string, migrate bool) *Store {
	t.Helper()
	ctx := context.Background()
	db, err := pgstore.Open(ctx, url, schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if migrate {
		if _, err := pgstore.Migrate(ctx, db, schema); err != nil {
			t.Fatal(err)
		}
	}
	s, err := OpenPostgres(ctx, db, schema)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// current is the backend this pass of the suite runs on.
var current = &backends[0]

// TestMain runs the whole suite on SQLite, then on PostgreSQL (a scratch server, see
// package pgtest; skipped with a message when its binaries are missing, unless
// SEVER_REQUIRE_POSTGRES is set).
func TestMain(m *testing.M) {
	code := 0
	for i := range backends {
		current = &backends[i]
		if current.name == "postgres" {
			ok, err := pgtest.Available()
			if err != nil {
				fmt.Fprintf(os.Stderr, "ledger tests on postgres: %v\n", err)
				code = 1
				continue
			}
			if !ok {
				fmt.Fprintf(os.Stderr, "ledger tests on postgres SKIPPED: no PostgreSQL binaries (install postgresql; set %s=1 to make this a failure)\n", pgtest.RequireEnv)
				continue
			}
		}
		fmt.Fprintf(os.Stderr, "=== ledger test suite on %s\n", current.name)
		if c := m.Run(); c != 0 {
			code = c
		}
	}
	pgtest.StopShared()
	os.Exit(code)
}

// sqliteOnly skips a test about the SQLite file itself on other backends.
func sqliteOnly(t testing.TB) {
	t.Helper()
	if current.name != "sqlite" {
		t.Skipf("about the SQLite file; the suite runs on %s", current.name)
	}
}

// rawDB is a direct connection to a ledger's database; its methods take the ledger's
// ? placeholders on either backend.
type rawDB struct {
	*sql.DB
	pg bool
}

func (r rawDB) Exec(q string, args ...any) (sql.Result, error) {
	return r.DB.Exec(bind(r.pg, q), args...)
}

func (r rawDB) QueryRow(q string, args ...any) *sql.Row { return r.DB.QueryRow(bind(r.pg, q), args...) }

// newStore opens an empty ledger on the current backend with a clock that starts at
// day1 and moves a millisecond per append.
func newStore(t testing.TB) (*Store, *clock) {
	t.Helper()
	t.Logf("ledger backend: %s", current.name)
	s := current.open(t)
	c := &clock{t: day1}
	s.now = c.now
	return s, c
}

const sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// fact returns a plausible entry of each kind, cycling.
func fact(incident string, i int) Entry {
	switch i % 4 {
	case 0:
		return Entry{Incident: incident, Kind: KindSignal, Actor: "aws-health", Enforcement: sever.VendorNotified,
			Key: fmt.Sprintf("signal/sig-%d", i), Result: "recorded", Detail: map[string]string{"source": "aws-health", "credential_id": "AKIAIOSFODNN7EXAMPLE"}}
	case 1:
		return Entry{Incident: incident, Kind: KindPolicyDecision, Actor: "sever", PolicyRule: "aws-deactivate-auto",
			Step: fmt.Sprintf("deactivate-%d", i), Action: "aws.deactivate_access_key", ArgsSHA256: sha,
			Key: fmt.Sprintf("step/deactivate-%d/policy", i), Result: "allow"}
	case 2:
		return Entry{Incident: incident, Kind: KindApprovalDecision, Actor: "alice@example.com", Enforcement: sever.HumanApproved,
			Step: fmt.Sprintf("deactivate-%d", i), ArgsSHA256: sha, Key: fmt.Sprintf("step/deactivate-%d/approval/alice", i), Result: "approve"}
	default:
		return Entry{Incident: incident, Kind: KindStepOutcome, Actor: "sever", Enforcement: sever.EnterpriseEnforced,
			Step: fmt.Sprintf("deactivate-%d", i), Action: "aws.deactivate_access_key", PolicyRule: "aws-deactivate-auto", ArgsSHA256: sha,
			Evidence: []sever.Artifact{{Name: "key-state", URI: "file:///var/lib/sever/evidence/inc/key-state-9f86d081884c.json", SHA256: sha, Size: 120}},
			Key:      fmt.Sprintf("step/deactivate-%d/outcome", i), Result: "succeeded, verified: key Inactive"}
	}
}

// fill appends n entries to each incident, interleaved.
func fill(t testing.TB, s *Store, n int, incidents ...string) {
	t.Helper()
	for i := range n {
		for _, inc := range incidents {
			if _, _, err := s.Append(context.Background(), fact(inc, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// tamper runs SQL against the ledger through its own connection, as someone with
// write access to the file or the database would, with the append-only triggers off.
func tamper(t testing.TB, s *Store, stmts ...string) {
	t.Helper()
	db := current.raw(t, s, true)
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("tamper %q: %v", q, err)
		}
	}
}

func mustVerify(t testing.TB, s *Store, incident string) {
	t.Helper()
	brk, err := s.Verify(context.Background(), incident)
	if err != nil || brk != nil {
		t.Fatalf("Verify(%s) = %v, %v; want no break", incident, brk, err)
	}
}
