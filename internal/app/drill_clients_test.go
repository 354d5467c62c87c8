package app

import (
	"bytes"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sever-ir/sever/internal/pgtest"
	"github.com/sever-ir/sever/tokenstore"
)

// sever dev with the drill cloud allows drill incidents (Drills) because "every action
// of this stack now runs against the drill cloud". With a GitHub App in sever.yaml the
// github.* actions kept the production App and api.github.com: a drill's
// github_token incident revoked through the real GitHub credential revocation API.
func TestDrillCloudStackUsesTheGitHubTwinNotTheConfiguredApp(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SEVER_TEST_GH_KEY", "unused")
	cfg := parseConfig(t, `
data_dir: `+dir+`
github:
  app_id: "12345"
  installation_id: "67890"
  private_key: env:SEVER_TEST_GH_KEY
`)
	parts, err := LoadParts(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &Dev{Parts: parts}
	if err := d.startDrillCloud(t.Context(), "", nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Cloud.Close() })
	base := d.GitHub.BaseURL
	if d.Drills && !strings.HasPrefix(base, d.Cloud.URL()) {
		t.Fatalf("drills are allowed (Drills=true) while github.* actions act as App %s at %q (\"\" = https://api.github.com), not the drill cloud %s; token store %s",
			d.GitHub.AppID, base, d.Cloud.URL(), filepath.Base(parts.Tokens.Path()))
	}
}

// Every action client of a stack on the drill cloud points at the drill cloud, and
// its tokenstore.* actions at a store of its own in the data dir, whatever sever.yaml
// configures: a drill never reaches a production client or the enterprise's tokens.
func TestDrillCloudStackReachesNoProductionClient(t *testing.T) {
	const enrolled = "tok-enterprise-1"
	tests := []struct {
		name string
		yaml string // after data_dir
	}{
		{"defaults", ""},
		{"GitHub App", "github:\n  app_id: \"12345\"\n  installation_id: \"67890\"\n  private_key: env:SEVER_TEST_GH_KEY\n"},
		{"tokenstore.path", "tokenstore:\n  path: TOKENS\n"},
		{"production clients of every family", "github:\n  app_id: \"12345\"\n  installation_id: \"67890\"\n  private_key: env:SEVER_TEST_GH_KEY\n" +
			"tokenstore:\n  path: TOKENS\n" +
			"providers:\n  openai:\n    admin_key: env:SEVER_TEST_GH_KEY\n  anthropic:\n    admin_key: env:SEVER_TEST_GH_KEY\n" +
			"vault:\n  address: https://vault.example.com:8200\n  token: env:SEVER_TEST_GH_KEY\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("SEVER_TEST_GH_KEY", "unused")
			configured := filepath.Join(t.TempDir(), "enterprise-tokens.json")
			cfg := parseConfig(t, "data_dir: "+dir+"\n"+strings.ReplaceAll(tt.yaml, "TOKENS", configured))
			parts, err := LoadParts(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := parts.Tokens.Put(tokenstore.Token{ID: enrolled, Owner: "enterprise"}); err != nil {
				t.Fatal(err)
			}
			d := &Dev{Parts: parts}
			if err := d.startDrillCloud(t.Context(), "", nil); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Cloud.Close() })
			if !d.Drills {
				t.Fatal("drills refused on a stack whose every client is the drill cloud's")
			}
			for family, base := range map[string]string{
				"github": d.GitHub.BaseURL, "vault": d.Vault.Address,
				"openai": d.Providers.OpenAI.BaseURL, "anthropic": d.Providers.Anthropic.BaseURL,
			} {
				if base != d.Cloud.URL() {
					t.Errorf("%s.* actions reach %q, not the drill cloud %s", family, base, d.Cloud.URL())
				}
			}
			if d.GCP == nil || d.Azure == nil {
				t.Errorf("gcp.* or azure.* actions left on the vendor's default chain (gcp %v, azure %v)", d.GCP != nil, d.Azure != nil)
			}
			if got, want := d.Tokens.Path(), filepath.Join(dir, DrillTokenStoreFile); got != want {
				t.Fatalf("tokenstore.* actions use %s, want the drill store %s", got, want)
			}
			if _, err := d.Tokens.Get(enrolled); !errors.Is(err, tokenstore.ErrNotFound) {
				t.Fatalf("the drill stack's token store sees the enterprise's token %s (err %v)", enrolled, err)
			}
		})
	}
}

// With database.url the worker opens the ledgers, the token store and the evidence
// index in PostgreSQL; on the drill cloud the token store stays the drill's own, so a
// drill's generic_token incident cannot disable a token in the shared store.
func TestDrillCloudStackKeepsItsTokenStoreWithADatabase(t *testing.T) {
	pg := pgtest.New(t)
	t.Setenv("SEVER_TEST_POSTGRES_URL", pg.URL)
	dir := t.TempDir()
	cfg := parseConfig(t, "data_dir: "+dir+"\ndatabase:\n  url: env:SEVER_TEST_POSTGRES_URL\n")
	parts, err := LoadParts(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	parts.MigrateDatabase = true
	d := &Dev{Parts: parts}
	if err := d.startDrillCloud(t.Context(), "", nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Cloud.Close() })
	if err := parts.openState(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { parts.Close() })
	if !parts.Ledger.Postgres() {
		t.Fatalf("ledger %s; want PostgreSQL", parts.Ledger.Path())
	}
	if got, want := parts.Tokens.Path(), filepath.Join(dir, DrillTokenStoreFile); got != want {
		t.Fatalf("tokenstore.* actions use %s, want the drill store %s", got, want)
	}
}

// refuseDrills turns drills off and says at start which client prevents them.
func TestRefuseDrillsSaysWhichClient(t *testing.T) {
	var buf syncBuffer
	p := &Parts{Drills: true, Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	p.refuseDrills("the workers of --no-worker")
	if p.Drills || !strings.Contains(buf.String(), "drill incidents refused") || !strings.Contains(buf.String(), "--no-worker") {
		t.Fatalf("Drills = %v, log %q", p.Drills, buf.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
