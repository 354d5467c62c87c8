package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A signed bundle is edited so that every ordinary JSON reader (jq, Python, a browser,
// encoding/json into a map) reads a different actor, result and incident than the ones
// that were signed: the forged value sits under the exact key, the signed one after it
// under the same key in another case. encoding/json matches struct fields without
// regard to case and keeps the last, so `sever ledger verify --bundle` checks the
// signed values and says "bundle OK" for a file that reads otherwise.
func TestVerifyBundleRejectsCaseFoldedDuplicateKeys(t *testing.T) {
	dir, bundle := exportedBundle(t)
	// The trusted key: the one export signs with, as it prints it.
	out, _, err := run(t, "ledger", "export", "--data-dir", dir, "--incident", "inc-1", "--out", filepath.Join(dir, "again.json"))
	if err != nil {
		t.Fatal(err)
	}
	pem := out[strings.Index(out, "-----BEGIN"):]
	pub := filepath.Join(dir, "signer.pem")
	if err := os.WriteFile(pub, []byte(pem), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "ledger", "verify", "--bundle", bundle, "--public-key", pub); err != nil {
		t.Fatalf("untouched bundle: %v", err)
	}

	b, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	// Each forged key comes first under its exact name; the signed one follows as "ACTOR" etc.
	s = strings.Replace(s, `"actor": "sever"`, `"actor": "human:ciso@example.com", "ACTOR": "sever"`, 1)
	s = strings.Replace(s, `"incident": "inc-1"`, `"incident": "inc-someone-else", "INCIDENT": "inc-1"`, 1)
	tampered := filepath.Join(dir, "tampered.json")
	if err := os.WriteFile(tampered, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	// What any other reader sees.
	var doc map[string]any
	if err := json.Unmarshal([]byte(s), &doc); err != nil {
		t.Fatal(err)
	}
	first := doc["entries"].([]any)[0].(map[string]any)
	if doc["incident"] != "inc-someone-else" || first["actor"] != "human:ciso@example.com" {
		t.Fatalf("tampering did not take: incident %v, actor %v", doc["incident"], first["actor"])
	}
	stdout, stderr, err := run(t, "ledger", "verify", "--bundle", tampered, "--public-key", pub)
	if err == nil {
		t.Fatalf("ledger verify accepted a bundle that reads as incident %q with actor %q:\nstdout: %s\nstderr: %s",
			doc["incident"], first["actor"], stdout, stderr)
	}
}
