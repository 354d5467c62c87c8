package refusal

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sever-ir/sever/ledger"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type counts struct {
	mu                 sync.Mutex
	counted, aggregate map[string]int
}

func (c *counts) count(r string) { c.mu.Lock(); defer c.mu.Unlock(); c.counted[r]++ }
func (c *counts) agg(r string)   { c.mu.Lock(); defer c.mu.Unlock(); c.aggregate[r]++ }

func newRecorder(t *testing.T) (*Recorder, *ledger.Store, *ledger.Store, *fakeClock, *counts) {
	t.Helper()
	dir := t.TempDir()
	prod, err := ledger.Open(filepath.Join(dir, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	drill, err := ledger.Open(filepath.Join(dir, "drill.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prod.Close(); drill.Close() })
	clock := &fakeClock{t: time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)}
	c := &counts{counted: map[string]int{}, aggregate: map[string]int{}}
	r := &Recorder{Ledger: func() Appender { return prod }, Drill: func() Appender { return drill },
		Counted: c.count, Aggregated: c.agg, Now: clock.now}
	return r, prod, drill, clock, c
}

func refusedEntries(t *testing.T, l *ledger.Store) []ledger.Entry {
	t.Helper()
	ids, err := l.Incidents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []ledger.Entry
	for _, id := range ids {
		es, err := l.Entries(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.Kind == ledger.KindRefusedDecision {
				out = append(out, e)
			}
		}
	}
	return out
}

// Every kind of refusal is on the record with who, what and why, in the chain of
// the incident it named (forged requests in the security chain), drills apart.
func TestEveryReasonRecorded(t *testing.T) {
	cases := []Refusal{
		{Reason: Outsider, Incident: "inc-1", Step: "disable", Who: "U0OUTSIDER", Channel: "slack-http", What: "approve", Why: "U0OUTSIDER may not decide step disable"},
		{Reason: SelfApproval, Incident: "inc-1", Step: "disable", Who: "analyst", Channel: "api", What: "approve", Why: "analyst raised this incident"},
		{Reason: WrongArguments, Incident: "inc-1", Step: "disable", Who: "U1", Channel: "cli", What: "approve", Why: "different arguments"},
		{Reason: AfterDeadline, Incident: "inc-1", Step: "disable", Who: "U1", Channel: "cli", What: "approve", Why: "deadline has passed"},
		{Reason: AfterQuorum, Incident: "inc-1", Step: "disable", Who: "U2", Channel: "cli", What: "deny", Why: "already approved"},
		{Reason: StaleRequest, Incident: "inc-1", Step: "disable", Who: "U1", Channel: "slack-http", What: "approve", Why: "earlier request"},
		{Reason: ForgedSignature, Who: "203.0.113.9:4411", Channel: "slack-http", What: "slack interactivity request", Why: "invalid signature"},
		{Reason: Replay, Incident: "inc-1", Step: "disable", Who: "U1", Channel: "slack-http", What: "approve", Why: "already processed"},
		{Reason: Outsider, Incident: "drill-inc-2", Step: "disable", Who: "U9", Channel: "drill", What: "approve", Why: "not an approver", Drill: true},
	}
	r, prod, drill, _, c := newRecorder(t)
	for _, f := range cases {
		r.Refused(context.Background(), f)
	}
	got := map[string]ledger.Entry{}
	for _, e := range append(refusedEntries(t, prod), refusedEntries(t, drill)...) {
		got[e.Incident+"/"+e.Detail["reason"]+"/"+e.Actor] = e
	}
	for _, f := range cases {
		inc := f.Incident
		if inc == "" {
			inc = SecurityChain
		}
		e, ok := got[inc+"/"+f.Reason+"/"+f.Who]
		if !ok {
			t.Errorf("%s by %s in %s: not in the ledger (%d entries)", f.Reason, f.Who, inc, len(got))
			continue
		}
		if e.Result != f.Why || e.Step != f.Step || e.Detail["channel"] != f.Channel || e.Detail["what"] != f.What {
			t.Errorf("%s: entry %+v, want why %q step %q channel %q what %q", f.Reason, e, f.Why, f.Step, f.Channel, f.What)
		}
	}
	if es := refusedEntries(t, drill); len(es) != 1 || es[0].Incident != "drill-inc-2" {
		t.Errorf("drill ledger holds %+v, want only the drill refusal", es)
	}
	if c.counted[Outsider] != 2 || c.counted[ForgedSignature] != 1 {
		t.Errorf("counted %v", c.counted)
	}
	if brk, err := prod.VerifyAll(context.Background()); err != nil || brk != nil {
		t.Errorf("ledger verify: %v %+v", err, brk)
	}
}

// A flood of 10,000 forged requests keeps the ledger bounded, from one source or
// from many, and every request is still counted; the next window records again.
func TestFloodKeepsLedgerBounded(t *testing.T) {
	const flood = 10000
	cases := []struct {
		name     string
		who      func(i int) string
		maxIndiv int
	}{
		{"OneSource", func(int) string { return "203.0.113.9:4411" }, DefaultPerSource},
		{"ManySources", func(i int) string { return "203.0.113.9:" + strconv.Itoa(1024+i) }, DefaultPerWindow},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, prod, _, clock, c := newRecorder(t)
			for i := range flood {
				r.Refused(context.Background(), Refusal{Reason: ForgedSignature, Who: tc.who(i), Channel: "slack-http",
					What: "slack interactivity request", Why: "invalid signature"})
			}
			r.Flush(context.Background())
			es := refusedEntries(t, prod)
			indiv, summarized := 0, 0
			for _, e := range es {
				if n, ok := e.Detail["count"]; ok {
					k, _ := strconv.Atoi(n)
					summarized += k
				} else {
					indiv++
				}
			}
			if limit := DefaultPerWindow + DefaultMaxKeys + 1; len(es) > limit {
				t.Errorf("%d ledger entries for %d refusals, want at most %d", len(es), flood, limit)
			}
			if indiv != tc.maxIndiv {
				t.Errorf("%d refusals written one by one, want %d", indiv, tc.maxIndiv)
			}
			if indiv+summarized != flood {
				t.Errorf("%d written + %d summarized, want all %d accounted for", indiv, summarized, flood)
			}
			if c.counted[ForgedSignature] != flood || c.aggregate[ForgedSignature] != flood-indiv {
				t.Errorf("metrics counted %d, aggregated %d; want %d and %d", c.counted[ForgedSignature], c.aggregate[ForgedSignature], flood, flood-indiv)
			}
			// A new window records the source again.
			clock.add(DefaultWindow)
			r.Refused(context.Background(), Refusal{Reason: ForgedSignature, Who: tc.who(0)})
			if n := len(refusedEntries(t, prod)); n != len(es)+1 {
				t.Errorf("after the window: %d entries, want %d", n, len(es)+1)
			}
		})
	}
}

// The window rolls on the next refusal as well as on Flush: the summary of the
// past window is written then.
func TestWindowRollWritesSummary(t *testing.T) {
	r, prod, _, clock, _ := newRecorder(t)
	for range 5 {
		r.Refused(context.Background(), Refusal{Reason: Replay, Incident: "inc-1", Step: "disable", Who: "U1"})
	}
	clock.add(2 * DefaultWindow)
	r.Refused(context.Background(), Refusal{Reason: Replay, Incident: "inc-1", Step: "disable", Who: "U1"})
	var summary *ledger.Entry
	es := refusedEntries(t, prod)
	for i := range es {
		if es[i].Detail["count"] != "" {
			summary = &es[i]
		}
	}
	if summary == nil || summary.Detail["count"] != fmt.Sprint(5-DefaultPerSource) || summary.Incident != "inc-1" {
		t.Fatalf("summary %+v, want %d folded replays of inc-1", summary, 5-DefaultPerSource)
	}
	if len(es) != DefaultPerSource+2 {
		t.Errorf("%d entries, want %d own, one summary, one in the new window", len(es), DefaultPerSource)
	}
}

// Without a ledger (the API process before one is open) refusals are counted only;
// a nil recorder does nothing.
func TestNoLedger(t *testing.T) {
	c := &counts{counted: map[string]int{}, aggregate: map[string]int{}}
	r := &Recorder{Counted: c.count}
	r.Refused(context.Background(), Refusal{Reason: Outsider, Incident: "inc-1", Who: "U9"})
	r.Flush(context.Background())
	if c.counted[Outsider] != 1 {
		t.Errorf("counted %v", c.counted)
	}
	var nilRec *Recorder
	nilRec.Refused(context.Background(), Refusal{Reason: Outsider})
	nilRec.Flush(context.Background())
}
