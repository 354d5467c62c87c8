package workflows

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/contract"
)

// maxStateJSON is the bound the carried state and the query answer must stay under
// however many signals arrive: an eighth of Temporal's 2 MB payload limit.
const maxStateJSON = 256 << 10

// bigSignal is a distinct signal of about 5 KB.
func bigSignal(i int) sever.Signal {
	s := signal(fmt.Sprintf("flood%d", i), fmt.Sprintf("flood-ev%d", i))
	s.Summary = strings.Repeat("x", 5000)
	s.Reporter = "flooder"
	s.ObservedAt = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	return s
}

// resent is signal i submitted again: the same event, another receipt.
func resent(i int) sever.Signal {
	s := bigSignal(i)
	s.Receipt += "-again"
	return s
}

func jsonSize(t *testing.T, v any) int {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

// A flood of distinct 5 KB signals about one credential keeps the state, the query
// answer and the continue-as-new input small, and still accounts for every signal
// exactly: counted once, repeats counted as duplicates, each written to the ledger.
func TestFloodKeepsStateBounded(t *testing.T) {
	const flood = 3000
	cases := []struct {
		name    string
		resends []int // signals delivered again after the flood
	}{
		{"distinct only", nil},
		{"with resends of kept and evicted signals", []int{0, 1, 100, 1500, flood - 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			(&recorder{}).register(env, "test.a")
			a := step("a", "test.a")
			a.Containment = true
			in := input(a)
			in.ContinueAsNewAfter = 2 * flood // the query is checked first
			var querySize int
			var status SignalStatus
			var queried sever.Incident
			// The test environment queues at most 1,000 callbacks: send in waves,
			// each small enough for one workflow task under the race detector.
			const wave = 100
			for w := 0; w < flood; w += wave {
				env.RegisterDelayedCallback(func() {
					for i := w; i < min(w+wave, flood); i++ {
						env.SignalWorkflow(SignalChannel, bigSignal(i))
					}
				}, time.Duration(w/wave)*time.Second)
			}
			env.RegisterDelayedCallback(func() {
				for _, i := range tc.resends {
					env.SignalWorkflow(SignalChannel, resent(i))
				}
			}, time.Duration(flood/wave+1)*time.Second)
			env.RegisterDelayedCallback(func() {
				v, err := env.QueryWorkflow(QueryState)
				if err != nil {
					t.Errorf("query: %v", err)
					return
				}
				if err := v.Get(&queried); err != nil {
					t.Error(err)
				}
				querySize = jsonSize(t, queried)
				// The status of the last submission about signal 1500, long evicted from
				// the receipts window when resent (or of its only submission).
				s := bigSignal(1500)
				if len(tc.resends) > 0 {
					s = resent(1500)
				}
				v, err = env.QueryWorkflow(QuerySignalStatus, SignalStatusInput{SignalID: s.ID, Receipt: s.Receipt})
				if err != nil {
					t.Errorf("signal status: %v", err)
					return
				}
				_ = v.Get(&status)
				// The first submission of the latest signal is still known as recorded.
				s = bigSignal(flood - 1)
				v, err = env.QueryWorkflow(QuerySignalStatus, SignalStatusInput{SignalID: s.ID, Receipt: s.Receipt})
				var latest SignalStatus
				if err == nil {
					err = v.Get(&latest)
				}
				if err != nil || !latest.Known || latest.Duplicate {
					t.Errorf("status of the latest signal's first submission = %+v (%v), want known, recorded", latest, err)
				}
				env.SetContinueAsNewSuggested(true)
				env.SignalWorkflow(SignalChannel, signal("nudge", "nudge"))
			}, time.Minute)
			env.ExecuteWorkflow(IncidentWorkflow, in)
			next := continuedAsNew(t, env)
			if querySize == 0 || querySize > maxStateJSON {
				t.Errorf("query answer is %d bytes after %d signals of 5 KB; want 1..%d", querySize, flood, maxStateJSON)
			}
			// Without resends, signal 1500's receipt left the window: "queued" is the
			// honest answer. A resend of it is known as a duplicate.
			if want := (SignalStatus{Known: len(tc.resends) > 0, Duplicate: len(tc.resends) > 0}); status != want {
				t.Errorf("status of signal 1500 = %+v, want %+v", status, want)
			}
			sum := queried.SignalSummary
			if sum.Total != flood || queried.Duplicates != len(tc.resends) || queried.SignalCount() != flood {
				t.Errorf("query counts %d signals (%d), %d duplicates; want %d, %d", sum.Total, queried.SignalCount(),
					queried.Duplicates, flood, len(tc.resends))
			}
			if sum.BySource["siem"] != flood || sum.ByOrigin["enterprise"] != flood || sum.Omitted != flood-16 ||
				!sum.Reported("flooder") || sum.Digest == "" {
				t.Errorf("summary = by source %v, by origin %v, omitted %d, reporters %v, digest %q", sum.BySource,
					sum.ByOrigin, sum.Omitted, sum.Reporters, sum.Digest)
			}
			if want := bigSignal(0).ObservedAt; sum.FirstObservedAt == nil || !sum.FirstObservedAt.Equal(want) {
				t.Errorf("first observed %v, want %v", sum.FirstObservedAt, want)
			}
			if len(queried.Signals) != 16 || queried.Signals[0].ID != "flood0" || queried.Signals[15].ID != bigSignal(flood-1).ID {
				t.Errorf("kept %d signals whole, want the first and latest 8", len(queried.Signals))
			}

			if n := jsonSize(t, next); n > maxStateJSON {
				t.Errorf("continue-as-new input is %d bytes, want at most %d", n, maxStateJSON)
			}
			if next.Carry.Dedup == nil || next.Carry.Dedup.len() != flood+1 || len(next.Carry.Recent) > maxRecentReceipts ||
				len(next.Carry.Duplicates) > maxRecentReceipts || len(next.Carry.Duplicates) != min(len(tc.resends), maxRecentReceipts) {
				t.Errorf("carried dedup set / receipts / duplicate receipts not bounded as expected: %v / %d / %d",
					next.Carry.Dedup != nil, len(next.Carry.Recent), len(next.Carry.Duplicates))
			}
			// Every distinct signal reached the ledger (written or carried) once.
			written := map[string]int{}
			for _, k := range append(noticesOf(env).factKeys(), carriedKeys(next.Carry.Facts)...) {
				if id, ok := strings.CutPrefix(k, "signal/"); ok {
					written[id]++
				}
			}
			for i := range flood {
				if id := bigSignal(i).ID; written[id] != 1 {
					t.Fatalf("signal %s in the ledger %d times, want once", id, written[id])
				}
			}
		})
	}
}

func carriedKeys(facts []contract.LedgerFact) []string {
	var keys []string
	for _, f := range facts {
		_, k, _ := strings.Cut(f.Key, "/")
		keys = append(keys, k)
	}
	return keys
}

// slowWriters stands in for the ledger and notice activities. While armed, each call
// delivers a new signal to the workflow before it returns, so the signal arrives in a
// workflow task during the wait for that batch.
type slowWriters struct {
	env   *testsuite.TestWorkflowEnvironment
	mu    sync.Mutex
	armed bool
	sent  []string
	facts []contract.LedgerFact
	next  int
}

func (w *slowWriters) during(kind string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.armed || len(w.sent) >= 40 {
		return
	}
	w.next++
	s := signal(fmt.Sprintf("during-%s-%d", kind, w.next), fmt.Sprintf("during-ev-%s-%d", kind, w.next))
	w.sent = append(w.sent, s.ID)
	w.env.SignalWorkflow(SignalChannel, s)
}

func (w *slowWriters) ledger(_ context.Context, in contract.LedgerAppendInput) (contract.LedgerAppendResult, error) {
	w.during("ledger")
	w.mu.Lock()
	w.facts = append(w.facts, in.Facts...)
	w.mu.Unlock()
	return contract.LedgerAppendResult{Appended: len(in.Facts)}, nil
}

func (w *slowWriters) notice(_ context.Context, in contract.NoticeInput) (contract.NoticeResult, error) {
	w.during("notice")
	return contract.NoticeResult{Posted: true, Channel: "C0SOC", TS: "1.1"}, nil
}

// Signals delivered during every wait inside continue-as-new (the ledger batch and
// the notice in flight, the backlog written because it is too large to carry) are
// all in the next run: none is left in the channel of the run that ended.
func TestContinueAsNewLosesNoSignalDuringItsWaits(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(Incident, workflow.RegisterOptions{Name: IncidentWorkflow})
	w := &slowWriters{env: env}
	env.RegisterActivityWithOptions(w.ledger, activity.RegisterOptions{Name: contract.ActivityLedgerAppend})
	env.RegisterActivityWithOptions(w.notice, activity.RegisterOptions{Name: contract.ActivityNotice})
	(&recorder{}).register(env, "test.a")
	a := step("a", "test.a")
	a.Containment = true
	in := input(a)
	in.Notify = true
	in.ContinueAsNewAfter = 300
	var flood []string
	env.RegisterDelayedCallback(func() {
		w.mu.Lock()
		w.armed = true
		w.mu.Unlock()
		// More than a carry's worth of facts, so the backlog is written first.
		for i := range 300 {
			s := signal(fmt.Sprintf("wave%d", i), fmt.Sprintf("wave-ev%d", i))
			flood = append(flood, s.ID)
			env.SignalWorkflow(SignalChannel, s)
		}
	}, 10*time.Minute)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalChannel, signal("s1", "e1")) }, 0)
	env.ExecuteWorkflow(IncidentWorkflow, in)
	next := continuedAsNew(t, env)
	w.mu.Lock()
	during := append([]string(nil), w.sent...)
	w.mu.Unlock()
	if len(during) == 0 {
		t.Fatal("no signal was delivered during continue-as-new's waits; the test proves nothing")
	}

	// The next run: the carried facts are written, and the query shows every signal.
	env2 := newEnv(t)
	(&recorder{}).register(env2, "test.a")
	var inc sever.Incident
	env2.RegisterDelayedCallback(func() {
		v, err := env2.QueryWorkflow(QueryState)
		if err == nil {
			err = v.Get(&inc)
		}
		if err != nil {
			t.Errorf("query of the next run: %v", err)
		}
		env2.UpdateWorkflow(UpdateClose, "c", &updateCB{t: t}, CloseInput{Reason: "done", By: "bob"})
	}, time.Minute)
	env2.ExecuteWorkflow(IncidentWorkflow, next)
	if err := env2.GetWorkflowError(); err != nil {
		t.Fatalf("next run: %v", err)
	}
	want := 1 + len(flood) + len(during)
	if inc.SignalSummary.Total != want || inc.Runs != 2 {
		t.Errorf("next run shows %d signals in run %d; want %d (%d delivered during continue-as-new) in run 2",
			inc.SignalSummary.Total, inc.Runs, want, len(during))
	}
	written := map[string]int{}
	for _, k := range append(carriedKeys(w.facts), noticesOf(env2).factKeys()...) {
		if id, ok := strings.CutPrefix(k, "signal/"); ok {
			written[id]++
		}
	}
	for _, id := range append(append([]string{"s1"}, flood...), during...) {
		if written[id] != 1 {
			t.Errorf("signal %s written to the ledger %d times across both runs, want once", id, written[id])
		}
	}
}

// An incident parked on an approval continues as new with its gate, and the next
// run resumes the wait: the decision sent to the next run lets the step run once.
// Signals that arrive while parked are written in batches, not an append each.
func TestContinueAsNewWhileParkedOnApproval(t *testing.T) {
	env := newEnv(t)
	rc := &recorder{}
	rc.register(env, "test.a")
	a := step("a", "test.a")
	a.Containment = true
	a.Approval = &sever.ApprovalSpec{Approvers: []string{"alice"}, Quorum: 1, Deadline: sever.Duration(time.Hour)}
	in := input(a)
	in.ContinueAsNewAfter = 25
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalChannel, signal("s1", "e1")) }, 0)
	var mu sync.Mutex
	parked, appends := false, 0
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		mu.Lock()
		defer mu.Unlock()
		if parked && info.ActivityType.Name == contract.ActivityLedgerAppend {
			appends++
		}
	})
	for i := range 30 {
		// A burst: one signal every 200 ms while the step waits for alice.
		env.RegisterDelayedCallback(func() {
			mu.Lock()
			parked = true
			mu.Unlock()
			env.SignalWorkflow(SignalChannel, signal(fmt.Sprintf("parked%d", i), fmt.Sprintf("parked-ev%d", i)))
		}, time.Minute+time.Duration(i)*200*time.Millisecond)
	}
	env.ExecuteWorkflow(IncidentWorkflow, in)
	if appends > 3 {
		t.Errorf("%d ledger appends for the signals that arrived while parked, want them batched (at most 3)", appends)
	}
	next := continuedAsNew(t, env)
	if len(rc.calls) != 0 {
		t.Fatalf("the step ran before approval: %v", rc.calls)
	}
	if n := len(noticesOf(env).requests); n != 1 {
		t.Errorf("%d approval requests posted, want 1", n)
	}
	if st := next.Carry.Incident.Steps[0]; st.Status != sever.StepWaitingApproval || next.Carry.Approvals["a"] == nil {
		t.Fatalf("carried step %s with gate %v, want waiting_approval with its gate", st.Status, next.Carry.Approvals["a"])
	}

	env2 := newEnv(t)
	rc2 := &recorder{}
	rc2.register(env2, "test.a")
	gate := next.Carry.Approvals["a"]
	env2.RegisterDelayedCallback(func() {
		env2.UpdateWorkflow(UpdateDecide, "d", &updateCB{t: t}, DecisionInput{StepID: "a", Approve: true,
			Approver: "alice", Channel: "api", ArgsSHA256: gate.ArgsSHA256, Nonce: gate.Nonce})
	}, time.Minute)
	env2.RegisterDelayedCallback(func() {
		env2.UpdateWorkflow(UpdateClose, "c", &updateCB{t: t}, CloseInput{Reason: "done", By: "bob"})
	}, 2*time.Minute)
	env2.ExecuteWorkflow(IncidentWorkflow, next)
	var res IncidentResult
	if err := env2.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if got := res.Incident.Steps[0]; got.Status != sever.StepSucceeded || len(rc2.calls) != 1 {
		t.Errorf("resumed step %s after %v, want succeeded after one call", got.Status, rc2.calls)
	}
	if n := len(noticesOf(env2).requests); n != 0 {
		t.Errorf("the next run posted %d new approval requests, want none (the carried one stands)", n)
	}
	// The run continued after its 25th delivery; the later ones went to the run
	// that ended in this test environment (a server would deliver them to the next).
	if got := res.Incident.SignalSummary.Total; got != 25 {
		t.Errorf("%d signals after both runs, want the 25 carried", got)
	}
}
