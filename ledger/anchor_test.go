package ledger

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// truncationAttack appends A1 A2 B1 A3 B2 (B is the last incident opened), handing
// each stored entry to put as the ledger activity hands it to its mirror, and then, as
// someone with write access to the file, drops the delete trigger, deletes B,
// truncates A to two entries and patches the incident and day heads to match: the
// attack of issue 12 item 4, which leaves the file internally consistent.
func truncationAttack(t *testing.T, s *Store, put func(Entry)) {
	t.Helper()
	ctx := context.Background()
	for _, f := range []Entry{fact("inc-a", 0), fact("inc-a", 1), fact("inc-b", 0), closed("inc-a"), fact("inc-b", 1)} {
		e, _, err := s.Append(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if put != nil {
			put(e)
		}
	}
	if brk, err := s.VerifyAll(ctx); err != nil || brk != nil {
		t.Fatalf("before the attack: %v %v", brk, err)
	}
	tamper(t, s,
		`DELETE FROM entries WHERE gseq >= 3`,
		`DELETE FROM incidents WHERE incident = 'inc-b'`,
		`UPDATE incidents SET seq = 2, hash = (SELECT hash FROM entries WHERE incident = 'inc-a' AND seq = 2) WHERE incident = 'inc-a'`,
		`UPDATE days SET last = 2, last_incident = 'inc-a', last_seq = 2, head = (SELECT chain FROM entries WHERE gseq = 2)`,
	)
	// Without anchors the file is consistent: the attack the anchors are for.
	if brk, err := s.VerifyAll(ctx); err != nil || brk != nil {
		t.Fatalf("the attack left a break the chain shows on its own: %v %v", brk, err)
	}
}

func closed(incident string) Entry {
	return Entry{Incident: incident, Kind: KindIncidentStatus, Actor: "sever", Key: "status/closed",
		Result: "closed", Detail: map[string]string{"status": "closed"}}
}

// TestTruncationIsDetected runs the truncation attack against a ledger whose
// checkpoints went to an append-only file outside its data dir.
func TestTruncationIsDetected(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// every is the Anchorer's period; anchorAll writes a ledger-wide checkpoint
		// after the last append.
		every     int64
		anchorAll bool
		// wantVerifyAll is the first break VerifyAll reports; wantB what Verify(inc-b) reports.
		wantVerifyAll, wantB string
	}{
		{name: "ledger-wide checkpoint after the last append", every: 100, anchorAll: true,
			wantVerifyAll: "inc-a seq 3: truncated", wantB: "inc-b seq 2: truncated"},
		{name: "every append anchored", every: 1,
			wantVerifyAll: "inc-a seq 3: truncated", wantB: "inc-b seq 2: truncated"},
		// Only the start checkpoint (A1) and A's close: B's entries were never
		// anchored, the window the README describes; A's cut still shows.
		{name: "close checkpoint only", every: 100,
			wantVerifyAll: "inc-a seq 3: truncated", wantB: "no entries for incident"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newStore(t)
			key := testKey(t)
			sink := &FileSink{Path: filepath.Join(t.TempDir(), "anchors.jsonl")} // "external": another dir
			a := &Anchorer{Store: s, Key: key, Sinks: []AnchorSink{sink}, Every: tc.every}
			truncationAttack(t, s, func(e Entry) {
				if err := a.Put(ctx, e); err != nil {
					t.Fatal(err)
				}
				if tc.anchorAll && e.Incident == "inc-b" && e.Seq == 2 {
					if _, err := a.Anchor(ctx, "test"); err != nil {
						t.Fatal(err)
					}
				}
			})
			s.Anchors(key.Public().(ed25519.PublicKey), sink)
			brk, err := s.VerifyAll(ctx)
			if err != nil || brk == nil || !strings.HasPrefix(brk.String(), tc.wantVerifyAll) {
				t.Errorf("VerifyAll = %v, %v; want %q", brk, err, tc.wantVerifyAll)
			} else if !strings.Contains(brk.Detail, "recorded seq 3") || !strings.Contains(brk.Detail, "the ledger ends at seq 2") {
				t.Errorf("VerifyAll detail %q does not name the expected and the found head", brk.Detail)
			}
			brk, err = s.Verify(ctx, "inc-b")
			got := ""
			if brk != nil {
				got = brk.String()
			} else if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, tc.wantB) {
				t.Errorf("Verify(inc-b) = %q, want %q", got, tc.wantB)
			}
			if _, err := s.Export(ctx, "inc-a", key); !errors.Is(err, ErrBehindAnchor) {
				t.Errorf("Export of the truncated inc-a: %v, want ErrBehindAnchor", err)
			}
			// The Anchorer refuses to anchor the cut ledger as if it were whole.
			if _, err := a.Anchor(ctx, "after the attack"); !errors.Is(err, ErrBehindAnchor) {
				t.Errorf("Anchor after the attack: %v, want ErrBehindAnchor", err)
			}
		})
	}
}

// FuzzParseCheckpoint: whatever a sink holds, ParseCheckpoint never panics and accepts
// only checkpoints signed by the trusted key that re-encode to what was signed.
func FuzzParseCheckpoint(f *testing.F) {
	s, _ := newStore(f)
	key := testKey(f)
	fill(f, s, 2, "inc-a", "inc-b")
	for _, inc := range []string{"", "inc-a"} {
		c, err := s.Checkpoint(context.Background(), key, inc, "fuzz")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(c.Marshal())
	}
	f.Add([]byte(`{"format":"sever-ledger-checkpoint/v1","heads":[]}`))
	f.Add([]byte(`[]`))
	pub := key.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := ParseCheckpoint(in, pub)
		if err != nil {
			if !errors.Is(err, ErrBadCheckpoint) {
				t.Fatalf("error %v does not wrap ErrBadCheckpoint", err)
			}
			return
		}
		if !ed25519.Verify(pub, mustMarshal(c.checkpointBody), mustHex(t, c.Signature)) {
			t.Fatal("accepted a checkpoint whose re-encoding the signature does not cover")
		}
		if _, err := ParseCheckpoint(in, nil); !errors.Is(err, ErrNoTrustedKey) {
			t.Fatalf("without a trusted key: %v, want ErrNoTrustedKey", err)
		}
	})
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The checkpoints table of a PostgreSQL ledger is one record every worker extends: a
// checkpoint one host wrote catches a truncation another host's verify looks at.
func TestDatabaseSink(t *testing.T) {
	s, _ := newStore(t)
	sink, ok := s.DatabaseSink()
	if current.name != "postgres" {
		if ok {
			t.Fatal("a SQLite ledger offered a database sink")
		}
		return
	}
	ctx := context.Background()
	key := testKey(t)
	a := &Anchorer{Store: s, Key: key, Sinks: []AnchorSink{sink}, Every: 1}
	truncationAttack(t, s, func(e Entry) {
		if err := a.Put(ctx, e); err != nil {
			t.Fatal(err)
		}
	})
	other := current.again(t, s)
	otherSink, _ := other.DatabaseSink()
	raws, err := otherSink.ReadCheckpoints(ctx)
	if err != nil || len(raws) < 5 || !strings.Contains(raws[0].Where, "checkpoint #1") {
		t.Fatalf("ReadCheckpoints = %d, %v", len(raws), err)
	}
	other.Anchors(key.Public().(ed25519.PublicKey), otherSink)
	if brk, err := other.VerifyAll(ctx); err != nil || brk == nil || brk.Reason != ReasonTruncated {
		t.Fatalf("VerifyAll on the other host = %v, %v; want truncated", brk, err)
	}
	// The sever role cannot take a checkpoint back.
	db := current.raw(t, s, false)
	for _, q := range []string{`DELETE FROM checkpoints`, `UPDATE checkpoints SET body = ''`, `TRUNCATE checkpoints`} {
		if _, err := db.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s = %v; want append-only", q, err)
		}
	}
}
