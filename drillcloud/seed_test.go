package drillcloud

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadSeedExample(t *testing.T) {
	s, err := LoadSeed("testdata/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.RandSeed != 7 || len(s.Accounts) != 2 || len(s.Faults) != 1 || s.Faults[0].Latency != 250*time.Millisecond {
		t.Fatalf("seed = %+v", s)
	}
	c, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := c.Key("AKIADRILLOLDKEY00001"); !ok || k.Status != "Inactive" {
		t.Fatalf("inactive key = %+v %v", k, ok)
	}
	if k, _ := c.Key(DefaultCompromisedKeyID); k.LastUsedSvc != "s3" {
		t.Fatalf("last used = %+v", k)
	}
	creds, err := c.Credentials(DefaultResponderKeyID)
	if err != nil || creds.SecretAccessKey != "responder-secret-not-random-0001" {
		t.Fatalf("responder creds = %+v %v", creds, err)
	}
	if sec, ok := c.Secret(DefaultSecretName); !ok || len(sec.Versions) != 2 || sec.Versions[0].ID != "v1-current" || !sec.RotationEnabled {
		t.Fatalf("secret = %+v", sec)
	}
	if cfg, ok := c.BedrockLogging("us-east-1"); !ok || !strings.Contains(cfg, "bedrock-logs") {
		t.Fatalf("bedrock logging = %s %v", cfg, ok)
	}
	if _, ok := c.Session("ASIADRILLROLESESS001"); !ok {
		t.Fatal("role session missing")
	}
}

func TestParseSeedErrors(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want string
	}{
		{"empty", "", "seed: empty seed"},
		{"unknown top-level field", "accounts: []\nbogus: 1\n", "seed:2: field bogus not found"},
		{"unknown nested field", "accounts:\n  - id: \"111122223333\"\n    users:\n      - name: a\n        kyes: []\n", "seed:5: field kyes not found"},
		{"syntax error", "accounts: [\n", "seed:"},
		{"two documents", "accounts:\n  - id: \"111122223333\"\n---\naccounts: []\n", "single YAML document"},
		{"no accounts", "accounts: []\n", "seed:1: accounts: at least one account"},
		{"bad account id", "accounts:\n  - id: \"12\"\n", "seed:2: accounts[0].id: account id \"12\" must be 12 digits"},
		{"duplicate key", "accounts:\n  - id: \"111122223333\"\n    users:\n      - name: a\n        keys: [{id: AKIADUPLICATE0000001}]\n      - name: b\n        keys:\n          - id: AKIADUPLICATE0000001\n",
			"seed:8: accounts[0].users[1].keys[0].id: duplicate access key id"},
		{"bad key status", "accounts:\n  - id: \"111122223333\"\n    users:\n      - name: a\n        keys:\n          - id: AKIADRILLKEY00000001\n            status: Disabled\n",
			"seed:7: accounts[0].users[0].keys[0].status"},
		{"bad session id", "accounts:\n  - id: \"111122223333\"\n    roles:\n      - name: r\n        sessions:\n          - id: AKIANOTASESSION00001\n            issued: 2024-01-01T00:00:00Z\n",
			"must look like ASIA"},
		{"bad inline policy", "accounts:\n  - id: \"111122223333\"\n    users:\n      - name: a\n        inline_policies:\n          P: '{\"Statement\":[]}x'\n",
			"seed:6: accounts[0].users[0].inline_policies.P"},
		{"two AWSCURRENT", "accounts:\n  - id: \"111122223333\"\n    secrets:\n      - name: s\n        versions:\n          - {value: a, stages: [AWSCURRENT]}\n          - {value: b, stages: [AWSCURRENT]}\n",
			"exactly one version must carry AWSCURRENT"},
		{"object lock without mode", "accounts:\n  - id: \"111122223333\"\n    buckets:\n      - name: bkt\n        object_lock: {days: 1}\n",
			"default retention needs a mode"},
		{"duplicate bucket across accounts", "accounts:\n  - id: \"111122223333\"\n    buckets: [{name: bkt}]\n  - id: \"444455556666\"\n    buckets: [{name: bkt}]\n",
			"bucket names are global"},
		{"bad fault", "accounts:\n  - id: \"111122223333\"\nfaults:\n  - kind: meteor\n", "seed:4: faults[0]: fault kind \"meteor\""},
		{"bad duration", "accounts:\n  - id: \"111122223333\"\nfaults:\n  - kind: latency\n    latency: soon\n", "seed:5:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSeed([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadSeedNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "drill.yaml")
	if err := os.WriteFile(path, []byte("accounts:\n  - id: \"111122223333\"\n    colour: red\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadSeed(path)
	if err == nil || !strings.Contains(err.Error(), path+":3: field colour not found") {
		t.Fatalf("error = %v", err)
	}
	if _, err := LoadSeed(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("missing file error = %v", err)
	}
}

func TestDefaultSeed(t *testing.T) {
	s := DefaultSeed()
	if err := s.validate(); err != nil {
		t.Fatal(err)
	}
	c, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.Key(DefaultCompromisedKeyID)
	b, _ := c.Key(DefaultResponderKeyID)
	if a.UserName != DefaultCompromisedUser || b.UserName != DefaultResponderUser || a.Status != "Active" {
		t.Fatalf("keys = %+v %+v", a, b)
	}
	sec, ok := c.Secret(DefaultSecretName)
	if !ok || !strings.Contains(sec.Versions[0].Value, DefaultCompromisedKeyID) {
		t.Fatalf("secret = %+v", sec)
	}
	// Two clouds from the same seed get different random secrets.
	c2, _ := New(DefaultSeed())
	x, _ := c.Credentials(DefaultCompromisedKeyID)
	y, _ := c2.Credentials(DefaultCompromisedKeyID)
	if x.SecretAccessKey == y.SecretAccessKey || len(x.SecretAccessKey) != 40 {
		t.Fatalf("secrets not random: %q %q", x.SecretAccessKey, y.SecretAccessKey)
	}
}
