package worm

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/internal/pgstore"
	"github.com/sever-ir/sever/internal/pgtest"
	"github.com/sever-ir/sever/ledger"
)

// TestTwoHostsOneCopy: two worker hosts take turns running one incident's ledger
// activity, each copying what it appended to one S3 prefix. With a SQLite file per
// host each numbers its own chain, and the copy meets two entries for one seq: a
// conflict that no retry resolves. With one PostgreSQL ledger both hosts extend one
// chain and the copy verifies.
func TestTwoHostsOneCopy(t *testing.T) {
	tests := []struct {
		name     string
		open     func(t *testing.T) (a, b *ledger.Store)
		conflict bool
	}{
		{"a SQLite file per host", func(t *testing.T) (*ledger.Store, *ledger.Store) {
			return openSQLite(t), openSQLite(t)
		}, true},
		{"one PostgreSQL ledger", func(t *testing.T) (*ledger.Store, *ledger.Store) {
			pg := pgtest.New(t)
			ctx := context.Background()
			db, err := pgstore.Open(ctx, pg.URL, pgstore.DefaultSchema)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := pgstore.Migrate(ctx, db, pgstore.DefaultSchema); err != nil {
				t.Fatal(err)
			}
			return openPG(t, pg.URL), openPG(t, pg.URL)
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			m := e.mirror(t, drillcloud.DefaultEvidenceBucket, "COMPLIANCE")
			a, b := tc.open(t)
			ctx := context.Background()
			at := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
			var conflict error
			for i := 1; i <= 6; i++ {
				host := []*ledger.Store{a, b}[i%2]
				stored, _, err := host.Append(ctx, ledger.Entry{Incident: "inc-shared", At: at.Add(time.Duration(i) * time.Second),
					Kind: ledger.KindStepOutcome, Actor: "sever", Enforcement: sever.EnterpriseEnforced,
					Step: fmt.Sprintf("step-%d", i), Result: "succeeded", Key: fmt.Sprintf("step/%d/outcome", i)})
				if err != nil {
					t.Fatal(err)
				}
				if err := m.Put(ctx, stored); err != nil {
					conflict = err
					break
				}
				// The retry of a copy that already landed, from the other host, is a no-op.
				if err := m.Put(ctx, stored); err != nil {
					t.Fatalf("repeated copy of seq %d: %v", stored.Seq, err)
				}
			}
			if tc.conflict {
				if !errors.Is(conflict, ErrConflict) {
					t.Fatalf("copy = %v; want ErrConflict (the failure database.url removes)", conflict)
				}
				return
			}
			if conflict != nil {
				t.Fatalf("copy: %v", conflict)
			}
			if brk, err := m.Verify(ctx, "inc-shared"); brk != nil || err != nil {
				t.Fatalf("Verify of the S3 copy = %v, %v", brk, err)
			}
		})
	}
}

func openSQLite(t *testing.T) *ledger.Store {
	l, err := ledger.Open(filepath.Join(t.TempDir(), ledger.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func openPG(t *testing.T, url string) *ledger.Store {
	l, err := ledger.OpenPostgresURL(context.Background(), url, pgstore.DefaultSchema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}
