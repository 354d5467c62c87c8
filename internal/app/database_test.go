package app

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/internal/pgstore"
	"github.com/sever-ir/sever/internal/pgtest"
	"github.com/sever-ir/sever/ledger"
)

// Two worker hosts with database.url write one ledger, one token store and one
// evidence index in PostgreSQL, and nothing under their data dirs.
func TestWorkersShareStateInPostgres(t *testing.T) {
	pg := pgtest.New(t)
	t.Setenv("SEVER_TEST_POSTGRES_URL", pg.URL)
	ctx := context.Background()
	parts := func(migrate bool) (*Parts, string) {
		dir := t.TempDir()
		y := "data_dir: " + dir + "\ndatabase:\n  url: env:SEVER_TEST_POSTGRES_URL\n"
		if migrate {
			y += "  migrate_on_start: true\n"
		}
		cfg, err := config.Parse("sever.yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		return &Parts{Config: cfg}, dir
	}

	// Not migrated and not told to: refuse, pointing at sever migrate.
	p, _ := parts(false)
	if err := p.openState(ctx); !errors.Is(err, pgstore.ErrNotMigrated) || !strings.Contains(err.Error(), "sever migrate") {
		t.Fatalf("openState on an empty database = %v; want ErrNotMigrated", err)
	}

	a, dirA := parts(true)
	if err := a.openState(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, dirB := parts(false) // migrated by a
	if err := b.openState(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, p := range []*Parts{a, b} {
		if !p.Ledger.Postgres() || !p.DrillLedger.Postgres() || p.Tokens.Path() != "postgres:sever" {
			t.Fatalf("ledger %s, drill ledger %s, tokens %s; want PostgreSQL", p.Ledger.Path(), p.DrillLedger.Path(), p.Tokens.Path())
		}
	}
	// Host a appends, host b retries the same fact and appends the next: one chain.
	e := ledger.Entry{Incident: "inc-x", Kind: ledger.KindSignal, Actor: "aws-health", Enforcement: sever.VendorNotified, Key: "signal/1", Result: "recorded"}
	if _, added, err := a.Ledger.Append(ctx, e); err != nil || !added {
		t.Fatal(added, err)
	}
	if _, added, err := b.Ledger.Append(ctx, e); err != nil || added {
		t.Fatalf("retry on the other host = %v, %v; want a no-op", added, err)
	}
	e.Key = "signal/2"
	if got, _, err := b.Ledger.Append(ctx, e); err != nil || got.Seq != 2 {
		t.Fatalf("second fact on the other host = seq %d, %v; want 2", got.Seq, err)
	}
	if brk, err := a.Ledger.VerifyAll(ctx); brk != nil || err != nil {
		t.Fatalf("VerifyAll = %v, %v", brk, err)
	}
	// The drill ledger is another chain.
	if ids, err := a.DrillLedger.Incidents(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("drill ledger incidents = %v, %v; want none", ids, err)
	}
	art, err := a.Evidence.Put("inc-x", "signals-s1", []byte(`{"a":1}`))
	if err != nil || !strings.HasPrefix(art.URI, "pg://sever/") {
		t.Fatalf("evidence = %+v, %v; want it in the database", art, err)
	}
	if err := b.Evidence.Verify(art); err != nil {
		t.Fatalf("the other host cannot verify the evidence: %v", err)
	}
	for _, dir := range []string{dirA, dirB} {
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Fatalf("%s holds %d files; want none", dir, len(ents))
		}
	}

	// A newer sever migrated further: every host refuses to start on it.
	if _, err := a.db.Main.Exec(`INSERT INTO schema_migrations (version, name) VALUES ($1, 'future')`, pgstore.Latest()+1); err != nil {
		t.Fatal(err)
	}
	for _, migrate := range []bool{false, true} {
		p, _ := parts(migrate)
		if err := p.openState(ctx); !errors.Is(err, pgstore.ErrNewerDatabase) {
			p.Close()
			t.Fatalf("openState (migrate %v) on a newer database = %v; want ErrNewerDatabase", migrate, err)
		}
	}
}
