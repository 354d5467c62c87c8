package main

import (
	"context"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/pgstore"
	"github.com/sever-ir/sever/internal/pgtest"
	"github.com/sever-ir/sever/ledger"
)

func TestMigrateAndVerifyOnPostgres(t *testing.T) {
	pg := pgtest.New(t)
	t.Setenv("SEVER_TEST_POSTGRES_URL", pg.URL)
	cfg := write(t, "sever.yaml", "data_dir: "+t.TempDir()+"\ndatabase:\n  url: env:SEVER_TEST_POSTGRES_URL\n")

	// Before the migration the ledger commands refuse the database and say what to do.
	if _, _, err := run(t, "ledger", "verify", "--config", cfg); err == nil || !strings.Contains(err.Error(), "sever migrate") {
		t.Fatalf("ledger verify before migrate = %v; want a pointer to sever migrate", err)
	}
	out, _, err := run(t, "migrate", "--config", cfg)
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	for _, schema := range pgstore.Schemas {
		if !strings.Contains(out, schema+": applied 0001_ledger") || !strings.Contains(out, schema+": at version") {
			t.Fatalf("migrate output lacks %s:\n%s", schema, out)
		}
	}
	// Again: nothing to do.
	out, _, err = run(t, "migrate", "--config", cfg)
	if err != nil || strings.Contains(out, "applied") {
		t.Fatalf("second migrate = %v\n%s; want nothing applied", err, out)
	}

	ctx := context.Background()
	l, err := ledger.OpenPostgresURL(ctx, pg.URL, pgstore.DefaultSchema)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Append(ctx, ledger.Entry{Incident: "inc-pg-1", Kind: ledger.KindSignal, Actor: "aws-health",
		Enforcement: sever.VendorNotified, Key: "signal/sig-1", Result: "recorded"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	out, _, err = run(t, "ledger", "verify", "--config", cfg, "--incident", "inc-pg-1")
	if err != nil || !strings.Contains(out, "ledger OK") || !strings.Contains(out, "postgres:sever") {
		t.Fatalf("ledger verify = %v\n%s", err, out)
	}

	// Without database.url there is nothing to migrate.
	plain := write(t, "sever.yaml", "data_dir: "+t.TempDir()+"\n")
	if _, _, err := run(t, "migrate", "--config", plain); err == nil || !strings.Contains(err.Error(), "database.url is not set") {
		t.Fatalf("migrate without database.url = %v", err)
	}
}

func TestConfigCheckRefusesLocalStateOnASharedCluster(t *testing.T) {
	const shared = "temporal:\n  address: temporal.internal:7233\n"
	tests := []struct {
		name, yaml string
		refuse     bool
	}{
		{"shared cluster, local state", shared, true},
		{"shared cluster, PostgreSQL", shared + "database:\n  url: env:SEVER_DATABASE_URL\n", false},
		{"shared cluster, one host", shared + "single_host: true\n", false},
		{"embedded cluster", "data_dir: .sever\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := run(t, "config", "check", "--config", write(t, "sever.yaml", tc.yaml))
			if !tc.refuse {
				if err != nil || !strings.Contains(out, "config OK") {
					t.Fatalf("config check = %v\n%s", err, out)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "database.url") || !strings.Contains(err.Error(), "single_host: true") {
				t.Fatalf("config check = %v; want a refusal naming database.url and single_host", err)
			}
		})
	}
}

// sever worker and sever serve refuse, before they dial anything, the config that
// config check refuses, with the same message.
func TestWorkerAndServeRefuseLocalStateOnASharedCluster(t *testing.T) {
	f := write(t, "sever.yaml", "temporal:\n  address: temporal.internal:7233\n")
	_, _, want := run(t, "config", "check", "--config", f)
	if want == nil {
		t.Fatal("config check accepted local state on a shared cluster")
	}
	for _, cmd := range []string{"worker", "serve"} {
		t.Run(cmd, func(t *testing.T) {
			_, _, err := run(t, cmd, "--config", f)
			if err == nil || err.Error() != want.Error() {
				t.Fatalf("%s = %v; want config check's refusal %q", cmd, err, want)
			}
		})
	}
}
