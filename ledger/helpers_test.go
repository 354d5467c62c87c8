package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sever-ir/sever"
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

// newStore opens a ledger in a temp dir with a clock that starts at day1 and moves a
// millisecond per append.
func newStore(t testing.TB) (*Store, *clock) {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
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

// tamper runs SQL against the ledger file through its own connection, as someone with
// write access to the file would, after dropping the append-only triggers.
func tamper(t testing.TB, s *Store, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", s.Path()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stmts = append([]string{`DROP TRIGGER IF EXISTS entries_no_update`, `DROP TRIGGER IF EXISTS entries_no_delete`}, stmts...)
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
