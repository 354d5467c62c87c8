package ledger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sever-ir/sever"
)

func TestAppendAssignsSeqPrevHashAndAt(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	var got []Entry
	for i := range 4 {
		e := fact("inc-a", i)
		e.Seq, e.Prev, e.Hash = 99, "forged", "forged" // ignored
		out, added, err := s.Append(ctx, e)
		if err != nil || !added {
			t.Fatalf("Append %d = %v, %v", i, added, err)
		}
		got = append(got, out)
	}
	prev := ""
	for i, e := range got {
		if e.Seq != int64(i+1) || e.Prev != prev || e.Hash != e.ComputeHash() || !hex64.MatchString(e.Hash) {
			t.Fatalf("entry %d = seq %d prev %q hash %q", i, e.Seq, e.Prev, e.Hash)
		}
		if e.At.Location() != time.UTC || !e.At.After(day1) {
			t.Fatalf("entry %d at %v; want the store's clock in UTC", i, e.At)
		}
		prev = e.Hash
	}
	// A caller's own time is kept, in UTC.
	own := time.Date(2026, 3, 13, 23, 59, 59, 5, time.FixedZone("EST", -5*3600))
	e := fact("inc-a", 5)
	e.At = own
	out, _, err := s.Append(ctx, e)
	if err != nil || !out.At.Equal(own) || out.At.Location() != time.UTC {
		t.Fatalf("Append with at = %v, %v", out.At, err)
	}
	got = append(got, out)
	stored, err := s.Entries(ctx, "inc-a")
	if err != nil || !reflect.DeepEqual(stored, got) {
		t.Fatalf("Entries = %+v, %v\nwant %+v", stored, err, got)
	}
	mustVerify(t, s, "inc-a")
}

func TestAppendIsIdempotent(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	first, added, err := s.Append(ctx, fact("inc-a", 0))
	if err != nil || !added {
		t.Fatal(added, err)
	}
	// A retry, even with a different time or detail, returns the stored entry.
	retry := fact("inc-a", 0)
	retry.Result = "something else"
	again, added, err := s.Append(ctx, retry)
	if err != nil || added || !reflect.DeepEqual(again, first) {
		t.Fatalf("retry = %+v, %v, %v; want the first entry and false", again, added, err)
	}
	// The same key in another incident is another fact.
	if _, added, err := s.Append(ctx, fact("inc-b", 0)); err != nil || !added {
		t.Fatalf("other incident = %v, %v", added, err)
	}
	if es, _ := s.Entries(ctx, "inc-a"); len(es) != 1 {
		t.Fatalf("%d entries; want 1", len(es))
	}
}

func TestAppendConcurrent(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	const workers, perWorker, incidents = 6, 20, 3
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	added := make(chan string, workers*perWorker)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				// Workers 2k and 2k+1 append the same facts: every fact arrives twice.
				n := (w/2)*perWorker + i
				e := fact(fmt.Sprintf("inc-%d", n%incidents), n)
				out, ok, err := s.Append(ctx, e)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					added <- out.Incident + "/" + out.Key
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	close(added)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for k := range added {
		if seen[k] {
			t.Fatalf("%s added twice", k)
		}
		seen[k] = true
	}
	if want := workers / 2 * perWorker; len(seen) != want {
		t.Fatalf("%d facts added; want %d", len(seen), want)
	}
	total := 0
	for i := range incidents {
		es, err := s.Entries(ctx, fmt.Sprintf("inc-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		for j, e := range es {
			if e.Seq != int64(j+1) {
				t.Fatalf("inc-%d entry %d has seq %d", i, j, e.Seq)
			}
		}
		total += len(es)
	}
	if total != len(seen) {
		t.Fatalf("%d entries stored; want %d", total, len(seen))
	}
	if brk, err := s.VerifyAll(ctx); brk != nil || err != nil {
		t.Fatalf("VerifyAll = %v, %v", brk, err)
	}
}

func TestAppendRejectsAndWritesNothing(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	e := fact("inc-a", 0)
	e.Detail = map[string]string{"token": "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"}
	_, added, err := s.Append(ctx, e)
	var se *sever.Error
	if added || !errors.As(err, &se) || se.Field != "detail.token" {
		t.Fatalf("Append = %v, %v; want invalid detail.token", added, err)
	}
	if ids, err := s.Incidents(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("Incidents = %v, %v; want none", ids, err)
	}
}

func TestAppendNormalizesFreeText(t *testing.T) {
	s, _ := newStore(t)
	e := fact("inc-a", 3)
	e.Result = "AccessDenied:\n\tnot authorized\x00" + strings.Repeat("x", 2*MaxResultRunes)
	out, _, err := s.Append(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.Result, "AccessDenied:  not authorized ") || !strings.HasSuffix(out.Result, "…") ||
		len([]rune(out.Result)) != MaxResultRunes {
		t.Fatalf("result = %q", out.Result)
	}
	mustVerify(t, s, "inc-a")
}

func TestStoreSurvivesReopen(t *testing.T) {
	sqliteOnly(t)
	path := filepath.Join(t.TempDir(), "ledger.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s, 3, "inc-a")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("ledger file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The retried fact is still known; new facts continue the chain.
	if _, added, err := s.Append(context.Background(), fact("inc-a", 2)); err != nil || added {
		t.Fatalf("retry after reopen = %v, %v", added, err)
	}
	e, added, err := s.Append(context.Background(), fact("inc-a", 3))
	if err != nil || !added || e.Seq != 4 {
		t.Fatalf("append after reopen = seq %d, %v, %v", e.Seq, added, err)
	}
	mustVerify(t, s, "inc-a")
}

func TestEntriesAreAppendOnly(t *testing.T) {
	s, _ := newStore(t)
	fill(t, s, 2, "inc-a")
	db := current.raw(t, s, false)
	stmts := []string{`UPDATE entries SET kind = 'signal'`, `DELETE FROM entries`}
	if db.pg {
		stmts = append(stmts, `TRUNCATE entries`)
	}
	for _, q := range stmts {
		if _, err := db.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s = %v; want append-only", q, err)
		}
	}
}

func TestOpenRejects(t *testing.T) {
	sqliteOnly(t)
	dir := t.TempDir()
	for _, p := range []string{"", ":memory:", "file:x.db", filepath.Join(dir, "a?b"), dir} {
		if s, err := Open(p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
	// A file of another schema version is refused.
	path := filepath.Join(dir, "old.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.db.Exec(`UPDATE meta SET v = '0' WHERE k = 'schema'`)
	s.Close()
	if s, err := Open(path); err == nil || !strings.Contains(err.Error(), "schema version") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open(old schema) = %v", err)
	}
}

func TestDayHeads(t *testing.T) {
	s, c := newStore(t)
	ctx := context.Background()
	var hashes []string
	add := func(inc string, i int) Entry {
		e, _, err := s.Append(ctx, fact(inc, i))
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, e.Hash)
		return e
	}
	add("inc-a", 0)
	add("inc-b", 0)
	add("inc-a", 1)
	h1, err := s.DayHead(ctx, day1.Add(5*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// The day head recomputes by hand from the entry hashes.
	want := ""
	for _, h := range hashes {
		want = chainHash(want, h)
	}
	if h1 != (DayHead{Day: "2026-03-14", PrevHead: "", Head: want, First: 1, Last: 3, LastIncident: "inc-a", LastSeq: 2}) {
		t.Fatalf("day head = %+v; want head %s", h1, want)
	}
	if _, err := s.DayHead(ctx, day1.Add(24*time.Hour)); err == nil {
		t.Fatal("DayHead of an empty day succeeded")
	}
	c.set(day1.Add(24 * time.Hour))
	e := add("inc-b", 1)
	h2, err := s.DayHead(ctx, e.At)
	if err != nil || h2.PrevHead != h1.Head || h2.Head != chainHash(h1.Head, e.Hash) || h2.First != 4 {
		t.Fatalf("day 2 head = %+v, %v", h2, err)
	}
	// The clock steps back over midnight: the entry joins the latest day, and the
	// first day's head does not change.
	c.set(day1.Add(2 * time.Hour))
	e = add("inc-a", 2)
	if h, _ := s.DayHead(ctx, day1); h != h1 {
		t.Fatalf("day 1 head moved to %+v", h)
	}
	if h, _ := s.DayHead(ctx, day1.Add(24*time.Hour)); h.Last != 5 || h.Head != chainHash(h2.Head, e.Hash) {
		t.Fatalf("day 2 head = %+v", h)
	}
	days, err := s.Days(ctx)
	if err != nil || len(days) != 2 {
		t.Fatalf("Days = %v, %v", days, err)
	}
	if brk, err := s.VerifyAll(ctx); brk != nil || err != nil {
		t.Fatalf("VerifyAll = %v, %v", brk, err)
	}
	ids, err := s.Incidents(ctx)
	if err != nil || !reflect.DeepEqual(ids, []string{"inc-a", "inc-b"}) {
		t.Fatalf("Incidents = %v, %v", ids, err)
	}
}

// A batch is appended as its entries would be one by one, in one transaction: a
// key seen before (in the ledger or earlier in the batch) is a no-op, and a refused
// entry fails the batch, names its index and writes nothing.
func TestAppendBatch(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	if _, _, err := s.Append(ctx, fact("inc-a", 0)); err != nil {
		t.Fatal(err)
	}
	batch := []Entry{fact("inc-a", 0), fact("inc-a", 1), fact("inc-b", 0), fact("inc-a", 1), fact("inc-a", 2)}
	out, err := s.AppendBatch(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	var added []bool
	for _, a := range out {
		added = append(added, a.Added)
	}
	if want := []bool{false, true, true, false, true}; !reflect.DeepEqual(added, want) {
		t.Fatalf("added = %v, want %v", added, want)
	}
	if out[3].Entry.Hash != out[1].Entry.Hash || out[4].Entry.Prev != out[1].Entry.Hash || out[4].Entry.Seq != 3 {
		t.Fatalf("batch entries not chained in order: %+v", out)
	}
	mustVerify(t, s, "inc-a")
	mustVerify(t, s, "inc-b")

	bad := fact("inc-c", 1)
	bad.Detail = map[string]string{"token": "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"}
	_, err = s.AppendBatch(ctx, []Entry{fact("inc-c", 0), bad})
	be, ok := errors.AsType[*BatchError](err)
	var se *sever.Error
	if !ok || be.Index != 1 || !errors.As(err, &se) || se.Field != "detail.token" || strings.Contains(err.Error(), "ghp_") {
		t.Fatalf("AppendBatch with a secret = %v; want a BatchError for entry 1 naming detail.token", err)
	}
	if es, err := s.Entries(ctx, "inc-c"); err != nil || len(es) != 0 {
		t.Fatalf("refused batch wrote %d entries (%v); want none", len(es), err)
	}
}

func BenchmarkAppendBatch(b *testing.B) {
	s, _ := newStore(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		batch := make([]Entry, 8)
		for j := range batch {
			batch[j] = fact(fmt.Sprintf("inc-%d", i%100), i*8+j)
		}
		if _, err := s.AppendBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkAppend(b *testing.B) {
	s, _ := newStore(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, _, err := s.Append(ctx, fact(fmt.Sprintf("inc-%d", i%100), i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// TestTwoStoresAppendOneIncident is two workers on two hosts appending to one
// incident at once, through separate connections (pools) to one ledger: every fact is
// recorded once, in one chain without gaps that verifies, whichever worker appended
// it, and a replayed append, by either, is a no-op.
func TestTwoStoresAppendOneIncident(t *testing.T) {
	const perWorker = 500
	a, c := newStore(t)
	b := current.again(t, a)
	b.now = c.now
	ctx := context.Background()
	type result struct {
		e     Entry
		added bool
	}
	results := make([][]result, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for w, s := range []*Store{a, b} {
		wg.Go(func() {
			for i := range perWorker {
				n := w*perWorker + i
				e := fact("inc-shared", n)
				e.Key = fmt.Sprintf("%s/worker-%d", e.Key, n)
				out, added, err := s.Append(ctx, e)
				if err != nil {
					errs[w] = fmt.Errorf("worker %d append %d: %w", w, i, err)
					return
				}
				results[w] = append(results[w], result{out, added})
				if i%50 == 0 {
					// An activity retried after a lost answer, on the other host.
					other := []*Store{a, b}[1-w]
					again, added, err := other.Append(ctx, e)
					if err != nil || added || again.Hash != out.Hash || again.Seq != out.Seq {
						errs[w] = fmt.Errorf("worker %d replay of %d = seq %d added %v, %v; want seq %d, not added", w, i, again.Seq, added, err, out.Seq)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	bySeq := map[int64]Entry{}
	for w := range results {
		for _, r := range results[w] {
			if !r.added {
				t.Fatalf("worker %d: %s not added", w, r.e.Key)
			}
			if _, dup := bySeq[r.e.Seq]; dup {
				t.Fatalf("seq %d assigned twice", r.e.Seq)
			}
			bySeq[r.e.Seq] = r.e
		}
	}
	for _, s := range []*Store{a, b} {
		es, err := s.Entries(ctx, "inc-shared")
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 2*perWorker {
			t.Fatalf("%d entries; want %d", len(es), 2*perWorker)
		}
		for i, e := range es {
			if e.Seq != int64(i+1) || !reflect.DeepEqual(e, bySeq[e.Seq]) {
				t.Fatalf("entry %d: seq %d, %+v; want what the appender was given back", i, e.Seq, e)
			}
		}
		if brk, err := s.VerifyAll(ctx); brk != nil || err != nil {
			t.Fatalf("VerifyAll = %v, %v", brk, err)
		}
	}
}
