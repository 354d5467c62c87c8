package ledger

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever"
)

// withDB gives a tamper step direct access to the ledger (triggers off).
func withDB(t testing.TB, s *Store, fn func(db rawDB)) {
	t.Helper()
	fn(current.raw(t, s, true))
}

func dbExec(t testing.TB, db rawDB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func stored(t testing.TB, db rawDB, incident string, seq int64) (row, Entry) {
	t.Helper()
	var r row
	err := db.QueryRow(`SELECT `+rowCols+` FROM entries WHERE incident = ? AND seq = ?`, incident, seq).
		Scan(&r.gseq, &r.incident, &r.seq, &r.key, &r.kind, &r.at, &r.day, &r.prev, &r.hash, &r.chain, &r.body)
	if err != nil {
		t.Fatal(err)
	}
	e, err := decodeEntry([]byte(r.body))
	if err != nil {
		t.Fatal(err)
	}
	return r, e
}

// forged says how carefully a forged entry is made.
type forged struct {
	badPrev bool // link it to something other than the incident's last entry
	chained bool // compute its day-chain value
	head    bool // move the incident head to it
}

// forge inserts an entry the way someone who knows the format would: a correct body
// and hash, linked to the entry before it.
func forge(t testing.TB, db rawDB, incident string, seq int64, f forged) {
	t.Helper()
	_, last := stored(t, db, incident, seq-1)
	e := Entry{Incident: incident, Seq: seq, At: last.At.Add(time.Second), Kind: KindStepOutcome, Actor: "sever",
		Enforcement: sever.EnterpriseEnforced, Step: "rotate", Key: "step/rotate/outcome", Result: "succeeded", Prev: last.ComputeHash()}
	if f.badPrev {
		e.Prev = sha
	}
	e.Hash = e.ComputeHash()
	var gseq int64
	var tipChain, day string
	if err := db.QueryRow(`SELECT gseq, chain, day FROM entries ORDER BY gseq DESC LIMIT 1`).Scan(&gseq, &tipChain, &day); err != nil {
		t.Fatal(err)
	}
	chain := strings.Repeat("0", 64)
	if f.chained {
		chain = chainHash(tipChain, e.Hash)
	}
	dbExec(t, db, `INSERT INTO entries (gseq, incident, seq, key, kind, at, day, prev, hash, chain, body) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
		gseq+1, incident, seq, e.Key, string(e.Kind), formatTime(e.At), day, e.Prev, e.Hash, chain, string(e.Canonical()))
	if f.head {
		dbExec(t, db, `UPDATE incidents SET seq = ?, hash = ? WHERE incident = ?`, seq, e.Hash, incident)
	}
}

// rewrite changes an entry's result and recomputes its hash (and, with chain, its
// day-chain value) as someone who knows the format would.
func rewrite(t testing.TB, db rawDB, incident string, seq int64, chain bool) {
	t.Helper()
	r, e := stored(t, db, incident, seq)
	e.Result = "deny"
	h := e.ComputeHash()
	c := r.chain
	if chain {
		var pred string
		if err := db.QueryRow(`SELECT chain FROM entries WHERE gseq < ? ORDER BY gseq DESC LIMIT 1`, r.gseq).Scan(&pred); err != nil && !errors.Is(err, sql.ErrNoRows) {
			t.Fatal(err)
		}
		c = chainHash(pred, h)
	}
	dbExec(t, db, `UPDATE entries SET body = ?, hash = ?, chain = ? WHERE gseq = ?`, string(e.Canonical()), h, c, r.gseq)
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name     string
		tamper   func(t *testing.T, s *Store)
		verify   string // incident to verify ("" = VerifyAll)
		incident string // want Break.Incident ("" = the verified incident)
		seq      int64
		reason   Reason
		detail   string // substring of Break.Detail
	}{
		{"edit a field in the body", func(t *testing.T, s *Store) {
			tamper(t, s, `UPDATE entries SET body = replace(body, '"result":"allow"', '"result":"deny"') WHERE incident = 'inc-a' AND seq = 2`)
		}, "inc-a", "", 2, ReasonEdited, "hashes to"},
		{"edit a column", func(t *testing.T, s *Store) {
			tamper(t, s, `UPDATE entries SET kind = 'signal' WHERE incident = 'inc-a' AND seq = 4`)
		}, "inc-a", "", 4, ReasonEdited, "column kind"},
		{"edit the hash column only", func(t *testing.T, s *Store) {
			tamper(t, s, `UPDATE entries SET hash = '`+sha+`' WHERE incident = 'inc-a' AND seq = 5`)
		}, "inc-a", "", 5, ReasonEdited, "hashes to"},
		{"rewrite an entry with a recomputed hash", func(t *testing.T, s *Store) {
			withDB(t, s, func(db rawDB) { rewrite(t, db, "inc-a", 3, false) })
		}, "inc-a", "", 3, ReasonDayHead, "not the one sealed"},
		{"rewrite an entry with a recomputed hash and day-chain value", func(t *testing.T, s *Store) {
			withDB(t, s, func(db rawDB) { rewrite(t, db, "inc-a", 3, true) })
		}, "inc-a", "", 3, ReasonDayHead, "entry 4 still links to the original"},
		{"delete an entry", func(t *testing.T, s *Store) {
			tamper(t, s, `DELETE FROM entries WHERE incident = 'inc-a' AND seq = 3`)
		}, "inc-a", "", 3, ReasonDeleted, "entry 3 missing"},
		{"delete the first entry", func(t *testing.T, s *Store) {
			tamper(t, s, `DELETE FROM entries WHERE incident = 'inc-a' AND seq = 1`)
		}, "inc-a", "", 1, ReasonDeleted, "entry 1 missing"},
		{"delete the last entries", func(t *testing.T, s *Store) {
			tamper(t, s, `DELETE FROM entries WHERE incident = 'inc-a' AND seq >= 5`)
		}, "inc-a", "", 5, ReasonDeleted, "entries 5 to 6"},
		{"delete and renumber", func(t *testing.T, s *Store) {
			tamper(t, s, `DELETE FROM entries WHERE incident = 'inc-a' AND seq = 3`,
				`UPDATE entries SET seq = -(seq - 1) WHERE incident = 'inc-a' AND seq > 3`,
				`UPDATE entries SET seq = -seq WHERE incident = 'inc-a' AND seq < 0`,
				`UPDATE incidents SET seq = 5 WHERE incident = 'inc-a'`)
		}, "inc-a", "", 3, ReasonDeleted, "renumbered"},
		{"swap two entries' seq", func(t *testing.T, s *Store) {
			tamper(t, s, `UPDATE entries SET seq = -1 WHERE incident = 'inc-a' AND seq = 2`,
				`UPDATE entries SET seq = 2 WHERE incident = 'inc-a' AND seq = 3`,
				`UPDATE entries SET seq = 3 WHERE incident = 'inc-a' AND seq = -1`)
		}, "inc-a", "", 2, ReasonReordered, "entry 3 is stored at seq 2"},
		{"insert a forged entry with a wrong prev", func(t *testing.T, s *Store) {
			withDB(t, s, func(db rawDB) { forge(t, db, "inc-a", 7, forged{badPrev: true, chained: true, head: true}) })
		}, "inc-a", "", 7, ReasonInserted, "does not follow"},
		{"insert a forged entry linked to the last", func(t *testing.T, s *Store) {
			withDB(t, s, func(db rawDB) { forge(t, db, "inc-a", 7, forged{}) })
		}, "inc-a", "", 7, ReasonInserted, "incident head records 6"},
		{"insert a forged entry and move the incident head", func(t *testing.T, s *Store) {
			withDB(t, s, func(db rawDB) { forge(t, db, "inc-a", 7, forged{head: true}) })
		}, "inc-a", "", 7, ReasonDayHead, "added outside sever"},
		{"insert a forged entry, chained, head moved", func(t *testing.T, s *Store) {
			withDB(t, s, func(db rawDB) { forge(t, db, "inc-a", 7, forged{chained: true, head: true}) })
		}, "inc-a", "", 7, ReasonInserted, "beyond the day head"},
		{"insert in the middle and renumber", func(t *testing.T, s *Store) {
			withDB(t, s, func(db rawDB) {
				dbExec(t, db, `UPDATE entries SET seq = -(seq + 1) WHERE incident = 'inc-a' AND seq >= 3`)
				dbExec(t, db, `UPDATE entries SET seq = -seq WHERE incident = 'inc-a' AND seq < 0`)
				forge(t, db, "inc-a", 3, forged{chained: true})
				dbExec(t, db, `UPDATE incidents SET seq = 7 WHERE incident = 'inc-a'`)
			})
		}, "inc-a", "", 3, ReasonInserted, "two entries claim seq 3"},
		{"move an entry to another incident", func(t *testing.T, s *Store) {
			tamper(t, s, `UPDATE entries SET incident = 'inc-c' WHERE incident = 'inc-a' AND seq = 6`)
		}, "inc-c", "", 6, ReasonInserted, `belongs to incident "inc-a"`},
		{"moved entry is missing from its incident", func(t *testing.T, s *Store) {
			tamper(t, s, `UPDATE entries SET incident = 'inc-c' WHERE incident = 'inc-a' AND seq = 6`)
		}, "inc-a", "", 6, ReasonDeleted, "head records 6"},
		{"delete a whole other incident on the same day", func(t *testing.T, s *Store) {
			tamper(t, s, `DELETE FROM entries WHERE incident = 'inc-b'`, `DELETE FROM incidents WHERE incident = 'inc-b'`)
		}, "inc-a", "", 2, ReasonDayHead, "append #2 before it is missing"},
		{"delete a whole incident, VerifyAll", func(t *testing.T, s *Store) {
			tamper(t, s, `DELETE FROM entries WHERE incident = 'inc-b'`, `DELETE FROM incidents WHERE incident = 'inc-b'`)
		}, "", "inc-a", 2, ReasonDayHead, "missing"},
		{"delete another incident's last entry, VerifyAll", func(t *testing.T, s *Store) {
			tamper(t, s, `DELETE FROM entries WHERE incident = 'inc-b' AND seq = 6`, `UPDATE incidents SET seq = 5, hash = (SELECT hash FROM entries WHERE incident = 'inc-b' AND seq = 5) WHERE incident = 'inc-b'`)
		}, "", "inc-b", 6, ReasonDeleted, "covers appends #1 to #12"},
		{"edit the day head", func(t *testing.T, s *Store) {
			tamper(t, s, `UPDATE days SET head = '`+sha+`'`)
		}, "inc-a", "inc-b", 6, ReasonDayHead, "the day head is"},
		{"edit an incident head", func(t *testing.T, s *Store) {
			tamper(t, s, `UPDATE incidents SET hash = '`+sha+`' WHERE incident = 'inc-a'`)
		}, "inc-a", "", 6, ReasonEdited, "incident head records hash"},
		{"drop the day head", func(t *testing.T, s *Store) {
			tamper(t, s, `DELETE FROM days`)
		}, "inc-a", "inc-a", 1, ReasonDayHead, "no day head"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newStore(t)
			fill(t, s, 6, "inc-a", "inc-b")
			mustVerify(t, s, "inc-a")
			tc.tamper(t, s)
			ctx := context.Background()
			var brk *Break
			var err error
			if tc.verify == "" {
				brk, err = s.VerifyAll(ctx)
			} else {
				brk, err = s.Verify(ctx, tc.verify)
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.incident
			if want == "" {
				want = tc.verify
			}
			if brk == nil || brk.Incident != want || brk.Seq != tc.seq || brk.Reason != tc.reason || !strings.Contains(brk.Detail, tc.detail) {
				t.Fatalf("break = %v; want %s seq %d %s (detail ~ %q)", brk, want, tc.seq, tc.reason, tc.detail)
			}
			if all, err := s.VerifyAll(ctx); err != nil || all == nil {
				t.Fatalf("VerifyAll = %v, %v; want a break", all, err)
			}
			if _, err := s.Export(ctx, tc.verify, testKey(t)); tc.verify != "" && !errors.Is(err, ErrBroken) {
				t.Fatalf("Export of a broken incident = %v; want ErrBroken", err)
			}
		})
	}
}

func TestVerifyUnknownIncident(t *testing.T) {
	s, _ := newStore(t)
	brk, err := s.Verify(context.Background(), "inc-nope")
	var se *sever.Error
	if brk != nil || !errors.As(err, &se) || se.Code != sever.ENOTFOUND {
		t.Fatalf("Verify(unknown) = %v, %v; want not_found", brk, err)
	}
	if brk, err := s.VerifyAll(context.Background()); brk != nil || err != nil {
		t.Fatalf("VerifyAll(empty) = %v, %v", brk, err)
	}
}

func TestVerifyAcrossDays(t *testing.T) {
	s, c := newStore(t)
	ctx := context.Background()
	fill(t, s, 3, "inc-a", "inc-b")
	c.set(day1.Add(24 * time.Hour))
	fill(t, s, 2, "inc-c")
	c.set(day1.Add(48 * time.Hour))
	if _, _, err := s.Append(ctx, fact("inc-a", 7)); err != nil {
		t.Fatal(err)
	}
	if brk, err := s.VerifyAll(ctx); brk != nil || err != nil {
		t.Fatalf("VerifyAll = %v, %v", brk, err)
	}
	days, err := s.Days(ctx)
	if err != nil || len(days) != 3 {
		t.Fatalf("Days = %v, %v; want 3", days, err)
	}
	if days[1].PrevHead != days[0].Head || days[2].PrevHead != days[1].Head || days[1].First != 7 || days[2].First != 9 {
		t.Fatalf("days do not chain: %+v", days)
	}
	// Editing the middle day's link to the first is a day head mismatch.
	tamper(t, s, `UPDATE days SET prev_head = '`+sha+`' WHERE day = '`+days[1].Day+`'`)
	brk, err := s.VerifyAll(ctx)
	if err != nil || brk == nil || brk.Reason != ReasonDayHead || brk.Incident != "inc-c" || brk.Seq != 1 {
		t.Fatalf("VerifyAll = %v, %v; want day_head_mismatch at inc-c seq 1", brk, err)
	}
	// inc-a has no entry on that day: its own verification still passes.
	mustVerify(t, s, "inc-a")
}
