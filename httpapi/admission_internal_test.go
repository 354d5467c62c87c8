package httpapi

import (
	"fmt"
	"testing"
	"time"
)

// The limiter maps stay bounded whatever a flood of distinct credentials does: past
// the cap, the least recently admitted key is dropped.
func TestKeyedLimitersCap(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	k := newKeyedLimiters(1, 1, 3)
	for i := range 10 {
		if _, _, ok := k.allow(fmt.Sprint("cred-", i), now); !ok {
			t.Fatalf("cred-%d refused on its first signal", i)
		}
		if n := k.len(); n > 3 {
			t.Fatalf("after %d keys the map holds %d, want at most 3", i+1, n)
		}
	}
	// cred-9 was seen last and is still limited; cred-0 was evicted and starts afresh.
	if _, _, ok := k.allow("cred-9", now); ok {
		t.Error("cred-9 allowed twice within its burst of 1")
	}
	if _, _, ok := k.allow("cred-0", now); !ok {
		t.Error("cred-0 was not evicted")
	}
	// Counting shed signals for new keys in a full map evicts nobody: they are not counted.
	for i := range 10 {
		k.shed(fmt.Sprint("shed-", i))
	}
	if n := k.len(); n != 3 {
		t.Errorf("map holds %d after counting shed signals, want 3", n)
	}
	if _, _, ok := k.allow("cred-9", now); ok {
		t.Error("counting shed signals for other keys evicted cred-9's empty bucket")
	}
	if got := k.take("shed-9"); got != 0 {
		t.Errorf("take(shed-9) = %d in a full map, want 0", got)
	}
}

// Only an admitted signal makes or refreshes a key's state. A refusal leaves the
// order alone, a shed count for a new key takes free room at the back (the first
// to go), and a released token is there again.
func TestKeyedLimitersRefusalsKeepOrder(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	k := newKeyedLimiters(1, 1, 3)
	for _, key := range []string{"a", "b"} {
		if _, _, ok := k.allow(key, now); !ok {
			t.Fatalf("%s refused on its first signal", key)
		}
	}
	// a's bucket is empty: refused, and neither that nor its shed count moves it up.
	if _, _, ok := k.allow("a", now); ok {
		t.Fatal("a allowed twice within its burst of 1")
	}
	k.shed("a")
	k.shed("new") // room for one: at the back, behind a
	if n := k.len(); n != 3 {
		t.Fatalf("map holds %d, want 3", n)
	}
	// c is admitted into the full map: "new" goes first, then a (least recently admitted).
	if _, _, ok := k.allow("c", now); !ok {
		t.Fatal("c refused on its first signal")
	}
	if got := k.take("new"); got != 0 {
		t.Errorf("take(new) = %d after an admitted key needed room, want 0 (it went first)", got)
	}
	if got := k.take("a"); got != 1 {
		t.Errorf("take(a) = %d, want 1: a's state should have outlived the shed-only entry", got)
	}
	if _, _, ok := k.allow("d", now); !ok {
		t.Fatal("d refused on its first signal")
	}
	if _, _, ok := k.allow("a", now); !ok {
		t.Error("a still limited: it was least recently admitted and should have been evicted for d")
	}
	// A released token is back in the bucket.
	release, _, ok := k.allow("e", now)
	if !ok {
		t.Fatal("e refused on its first signal")
	}
	release()
	if _, _, ok := k.allow("e", now); !ok {
		t.Error("e refused after its first token was released")
	}
}

// A quota slot given back (the engine did not open the incident after all) can be
// used again.
func TestReserveOpenRelease(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	a := newAdmission(Limits{IncidentsPerToken: 1, IncidentWindow: time.Hour}, func() time.Time { return now })
	release, err := a.reserveOpen("writer", "inc-a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.reserveOpen("writer", "inc-b"); err == nil {
		t.Fatal("a second opening within the quota of 1 was allowed")
	}
	release()
	if _, err := a.reserveOpen("writer", "inc-b"); err != nil {
		t.Errorf("after release: %v", err)
	}
}

// First signals about one credential that race each other all find no incident and
// ask to open it: the token pays once, or a storm about a handful of credentials
// would use up its quota.
func TestReserveOpenChargesAnIncidentOnce(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	a := newAdmission(Limits{IncidentsPerToken: 2, IncidentWindow: time.Hour}, func() time.Time { return now })
	for i := range 50 {
		if _, err := a.reserveOpen("writer", "inc-a"); err != nil {
			t.Fatalf("opening %d of the same incident: %v", i, err)
		}
	}
	if _, err := a.reserveOpen("writer", "inc-b"); err != nil {
		t.Fatalf("second incident within the quota of 2: %v", err)
	}
	if _, err := a.reserveOpen("writer", "inc-c"); err == nil {
		t.Fatal("a third incident within the quota of 2 was allowed")
	}
	now = now.Add(time.Hour + time.Second)
	if _, err := a.reserveOpen("writer", "inc-c"); err != nil {
		t.Errorf("after the window: %v", err)
	}
}
