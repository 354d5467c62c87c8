package pgstore_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/sever-ir/sever/internal/pgstore"
	"github.com/sever-ir/sever/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestMigrationsAreNumberedWithoutGaps(t *testing.T) {
	ms, err := pgstore.Migrations()
	if err != nil || len(ms) == 0 {
		t.Fatalf("Migrations = %d, %v", len(ms), err)
	}
	for i, m := range ms {
		if m.Version != i+1 || m.SQL == "" {
			t.Fatalf("migration %d = %+v", i, m.Version)
		}
	}
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	url, schema := pgtest.Schema(t)
	db, err := pgstore.Open(ctx, url, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := pgstore.Check(ctx, db); !errors.Is(err, pgstore.ErrNotMigrated) {
		t.Fatalf("Check before migrate = %v; want ErrNotMigrated", err)
	}
	// Several processes starting at once: one applies each migration, once.
	var wg sync.WaitGroup
	applied := make([]int, 4)
	errs := make([]error, 4)
	for i := range 4 {
		wg.Go(func() {
			other, err := pgstore.Open(ctx, url, schema)
			if err != nil {
				errs[i] = err
				return
			}
			defer other.Close()
			ms, err := pgstore.Migrate(ctx, other, schema)
			applied[i], errs[i] = len(ms), err
		})
	}
	wg.Wait()
	total := 0
	for i := range 4 {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		total += applied[i]
	}
	if total != pgstore.Latest() {
		t.Fatalf("%d migrations applied in all; want %d", total, pgstore.Latest())
	}
	if err := pgstore.Check(ctx, db); err != nil {
		t.Fatalf("Check after migrate = %v", err)
	}
	if ms, err := pgstore.Migrate(ctx, db, schema); err != nil || len(ms) != 0 {
		t.Fatalf("second Migrate = %d, %v; want nothing to do", len(ms), err)
	}
	// A newer sever migrated further: this one refuses to run on it or migrate it.
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name) VALUES ($1, 'from_the_future')`, pgstore.Latest()+1); err != nil {
		t.Fatal(err)
	}
	if err := pgstore.Check(ctx, db); !errors.Is(err, pgstore.ErrNewerDatabase) {
		t.Fatalf("Check on a newer schema = %v; want ErrNewerDatabase", err)
	}
	if _, err := pgstore.Migrate(ctx, db, schema); !errors.Is(err, pgstore.ErrNewerDatabase) {
		t.Fatalf("Migrate on a newer schema = %v; want ErrNewerDatabase", err)
	}
}

func TestMigrationFailureLeavesNothing(t *testing.T) {
	ctx := context.Background()
	url, schema := pgtest.Schema(t)
	db, err := pgstore.Open(ctx, url, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A table in the way of migration 1 makes it fail half-way: its transaction rolls
	// back and no version is recorded.
	if _, err := db.Exec(`CREATE SCHEMA "` + schema + `"; CREATE TABLE days (x int)`); err != nil {
		t.Fatal(err)
	}
	if _, err := pgstore.Migrate(ctx, db, schema); err == nil {
		t.Fatal("Migrate over a conflicting table succeeded")
	}
	if v, err := pgstore.Version(ctx, db); err != nil || v != 0 {
		t.Fatalf("Version = %d, %v; want 0", v, err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = 'entries'`, schema).Scan(&n); err != nil || n != 0 {
		t.Fatalf("entries table exists after a failed migration (%d, %v)", n, err)
	}
}

func TestOpenNeverEchoesTheURL(t *testing.T) {
	const secret = "hunter2-not-a-real-password"
	for _, url := range []string{"postgres://u:" + secret + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=1", "postgres://u:" + secret + "@[::1:bad/x"} {
		_, err := pgstore.Open(context.Background(), url, "sever")
		if err == nil {
			t.Fatalf("Open(%q) succeeded", url)
		}
		if contains(err.Error(), secret) {
			t.Fatalf("error repeats the password: %v", err)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
