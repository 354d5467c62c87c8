package ledger

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeScripts returns the shell blocks of README.md marked <!-- test: NAME -->.
func readmeScripts(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range regexp.MustCompile("(?s)<!-- test: (\\w+) -->\n```bash\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = m[2]
	}
	for _, name := range []string{"incident", "day", "bundle"} {
		if out[name] == "" {
			t.Fatalf("README.md has no script %q", name)
		}
	}
	return out
}

func runScript(t *testing.T, script, dir string, env ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// TestReadmeHandVerification runs the README's by-hand checks (sqlite3, jq, sha256sum,
// xxd, openssl) on a real ledger and bundle, before and after tampering.
func TestReadmeHandVerification(t *testing.T) {
	sqliteOnly(t) // the scripts read the SQLite file with sqlite3
	for _, tool := range []string{"bash", "sqlite3", "jq", "sha256sum", "xxd", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	scripts := readmeScripts(t)
	s, c := newStore(t)
	ctx := context.Background()
	fill(t, s, 3, "inc-a", "inc-b")
	tricky := fact("inc-a", 3)
	tricky.Key = "step/tricky/outcome"
	tricky.Result = "quote \" backslash \\ pipe | tab\t <b>&amp; é 日本 🙂 'single'"
	tricky.Detail = map[string]string{"note": "a|b\\c", "é": "ü"}
	if _, _, err := s.Append(ctx, tricky); err != nil {
		t.Fatal(err)
	}
	c.set(day1.Add(24 * time.Hour))
	fill(t, s, 1, "inc-c")
	if _, _, err := s.Append(ctx, fact("inc-a", 9)); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, s, "inc-a")

	dir := t.TempDir()
	key := testKey(t)
	bundle, err := s.Export(ctx, "inc-a", key)
	if err != nil {
		t.Fatal(err)
	}
	bpath := filepath.Join(dir, "bundle.json")
	os.WriteFile(bpath, bundle, 0o600)
	db, inc := "DB="+s.Path(), "INCIDENT=inc-a"

	checks := []struct {
		script string
		env    []string
		want   string
	}{
		{"incident", []string{db, inc}, "incident inc-a: 5 entries OK"},
		{"incident", []string{db, "INCIDENT=inc-b"}, "incident inc-b: 3 entries OK"},
		{"day", []string{db, "DAY=2026-03-14"}, "day 2026-03-14: 7 entries OK"},
		{"day", []string{db, "DAY=2026-03-15"}, "day 2026-03-15: 2 entries OK"},
		{"bundle", []string{"B=" + bpath}, "bundle OK: 5 entries"},
	}
	for _, ck := range checks {
		out, ok := runScript(t, scripts[ck.script], dir, ck.env...)
		if !ok || !strings.Contains(out, ck.want) {
			t.Fatalf("%s %v: ok=%v\n%s", ck.script, ck.env, ok, out)
		}
	}
	// The day head the script prints is the store's.
	h, _ := s.DayHead(ctx, day1)
	if out, _ := runScript(t, scripts["day"], dir, db, "DAY=2026-03-14"); !strings.Contains(out, h.Head) {
		t.Fatalf("day script head differs from DayHead %s:\n%s", h.Head, out)
	}

	// Tampered: each script fails and says where.
	tb := []byte(strings.Replace(string(bundle), `"result": "allow"`, `"result": "deny"`, 1))
	os.WriteFile(filepath.Join(dir, "tampered.json"), tb, 0o600)
	if out, ok := runScript(t, scripts["bundle"], dir, "B="+filepath.Join(dir, "tampered.json")); ok {
		t.Fatalf("bundle script passed a tampered bundle:\n%s", out)
	}
	tamper(t, s, `UPDATE entries SET body = replace(body, '"result":"allow"', '"result":"deny"') WHERE incident = 'inc-a' AND seq = 2`)
	if out, ok := runScript(t, scripts["incident"], dir, db, inc); ok || !strings.Contains(out, "seq 2: edited") {
		t.Fatalf("incident script on an edited entry: ok=%v\n%s", ok, out)
	}
	tamper(t, s, `DELETE FROM entries WHERE incident = 'inc-b' AND seq = 2`)
	if out, ok := runScript(t, scripts["incident"], dir, db, "INCIDENT=inc-b"); ok || !strings.Contains(out, "seq 2: missing") {
		t.Fatalf("incident script on a deleted entry: ok=%v\n%s", ok, out)
	}
	if out, ok := runScript(t, scripts["day"], dir, db, "DAY=2026-03-14"); ok || !strings.Contains(out, "chain breaks") {
		t.Fatalf("day script after a deletion: ok=%v\n%s", ok, out)
	}
}
