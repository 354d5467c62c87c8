package workflows

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/sever-ir/sever"
)

// submission is one delivery in an intake test: an update (the synchronous path)
// or a signal on the channel (Prefer: respond-async, or the engine's resend).
type submission struct {
	sig    sever.Signal
	update bool
	// want is the update's answer: SignalRecorded, SignalDuplicate, or "rejected".
	want string
}

// seen records the signal IDs the first step's action was given.
type seen struct {
	mu  sync.Mutex
	ids []string
}

func (s *seen) register(env *testsuite.TestWorkflowEnvironment, name string) {
	env.RegisterActivityWithOptions(func(_ context.Context, in sever.ActionInput) (sever.ActionResult, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.ids == nil {
			s.ids = []string{}
			for _, sig := range in.Signals {
				s.ids = append(s.ids, sig.ID)
			}
		}
		return sever.ActionResult{Verified: true}, nil
	}, activity.RegisterOptions{Name: name})
}

// The synchronous intake answers every submission from the update that delivers
// it: recorded or duplicate, exactly as the query used to, with the incident's
// first signal in the start input seen by the runbook's first step, the order of
// submissions kept whichever way each came, and a resent submission not counted
// twice. Malformed updates are rejected and change nothing.
func TestIntakeUpdate(t *testing.T) {
	first := signal("s1", "ev1")
	again := signal("s1", "ev1")
	again.Receipt = "r-s1-again"
	other := cred
	other.ID = "tok-other"
	wrongCred := signal("s9", "ev9")
	wrongCred.Credential = other
	noReceipt := signal("s8", "ev8")
	noReceipt.Receipt = ""
	drill := signal("s7", "ev7")
	drill.Drill = true
	cases := []struct {
		name  string
		subs  []submission
		order []string // the recorded signals' IDs, in order
		dups  int
	}{
		{"the start's own submission answers recorded", []submission{{sig: first, update: true, want: SignalRecorded}},
			[]string{"s1"}, 0},
		{"a resent event is a duplicate", []submission{
			{sig: first, update: true, want: SignalRecorded},
			{sig: again, update: true, want: SignalDuplicate},
		}, []string{"s1"}, 1},
		{"a new event is recorded after the first", []submission{
			{sig: signal("s2", "ev2"), update: true, want: SignalRecorded},
			{sig: again, update: true, want: SignalDuplicate},
		}, []string{"s1", "s2"}, 1},
		{"a signal delivered before an update is recorded first", []submission{
			{sig: signal("s2", "ev2")},
			{sig: signal("s3", "ev3"), update: true, want: SignalRecorded},
			{sig: signal("s4", "ev4")},
		}, []string{"s1", "s2", "s3", "s4"}, 0},
		{"the engine's resend of an update is not counted again", []submission{
			{sig: signal("s2", "ev2"), update: true, want: SignalRecorded},
			{sig: signal("s2", "ev2")},
			{sig: first},
		}, []string{"s1", "s2"}, 0},
		{"the engine's resend of a duplicate is not counted again", []submission{
			{sig: again, update: true, want: SignalDuplicate},
			{sig: again},
		}, []string{"s1"}, 1},
		{"a duplicate's update after its resend is not counted again", []submission{
			{sig: again},
			{sig: again, update: true, want: SignalDuplicate},
		}, []string{"s1"}, 1},
		{"malformed updates are rejected", []submission{
			{sig: wrongCred, update: true, want: "rejected"},
			{sig: noReceipt, update: true, want: "rejected"},
			{sig: drill, update: true, want: "rejected"},
		}, []string{"s1"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			sn := &seen{}
			sn.register(env, "test.a")
			a := step("a", "test.a")
			a.Containment = true
			in := input(a)
			in.First = &first
			got := make([]string, len(tc.subs))
			env.RegisterDelayedCallback(func() {
				for i, s := range tc.subs {
					if !s.update {
						env.SignalWorkflow(SignalChannel, s.sig)
						continue
					}
					env.UpdateWorkflow(UpdateSignal, s.sig.Receipt+"-"+s.sig.ID, &updateCB{t: t,
						reject: func(err error) {
							if !errors.Is(err, ErrSignalMalformed) && !errors.Is(err, ErrSignalOtherCredential) {
								t.Errorf("update %d rejected for another reason: %v", i, err)
							}
							got[i] = "rejected"
						},
						complete: func(v any, err error) {
							if err != nil {
								t.Errorf("update %d: %v", i, err)
								return
							}
							res, ok := v.(SignalResult)
							if !ok {
								t.Errorf("update %d answered %T", i, v)
								return
							}
							got[i] = res.Status
						}}, s.sig)
				}
			}, time.Second)
			inc := runIncident(t, env, in)
			for i, s := range tc.subs {
				if s.update && got[i] != s.want {
					t.Errorf("submission %d (%s): answer %q, want %q", i, s.sig.ID, got[i], s.want)
				}
			}
			var order []string
			for _, s := range inc.Signals {
				order = append(order, s.ID)
			}
			if !slices.Equal(order, tc.order) || inc.Duplicates != tc.dups || inc.SignalSummary.Total != len(tc.order) {
				t.Errorf("recorded %v (total %d) with %d duplicates, want %v with %d",
					order, inc.SignalSummary.Total, inc.Duplicates, tc.order, tc.dups)
			}
			if !slices.Equal(sn.ids, []string{"s1"}) {
				t.Errorf("the first step saw signals %v, want the start's own [s1]", sn.ids)
			}
		})
	}
}

// The receipts of duplicate submissions travel through continue-as-new: the
// engine's resend of one, delivered to the next run, is not counted again.
func TestDuplicateReceiptsCarried(t *testing.T) {
	first := signal("s1", "ev1")
	again := signal("s1", "ev1")
	again.Receipt = "r-s1-again"
	a := step("a", "test.a")
	a.Containment = true
	in := input(a)
	in.First = &first

	env := newEnv(t)
	(&seen{}).register(env, "test.a")
	env.RegisterDelayedCallback(func() {
		env.SetContinueAsNewSuggested(true)
		env.UpdateWorkflow(UpdateSignal, "u-again", &updateCB{t: t}, again)
	}, time.Second)
	env.ExecuteWorkflow(IncidentWorkflow, in)
	next := continuedAsNew(t, env)
	if want := (Receipt{SignalID: again.ID, Receipt: again.Receipt}); !slices.Contains(next.Carry.Duplicates, want) {
		t.Fatalf("carried duplicates %v, want %v among them", next.Carry.Duplicates, want)
	}
	if next.Carry.Incident.Duplicates != 1 {
		t.Fatalf("first run counted %d duplicates, want 1", next.Carry.Incident.Duplicates)
	}

	env = newEnv(t)
	(&seen{}).register(env, "test.a")
	inc := runIncident(t, env, next, again)
	if inc.Duplicates != 1 || inc.SignalSummary.Total != 1 {
		t.Errorf("after the resend: %d duplicates, %d signals; want 1 and 1", inc.Duplicates, inc.SignalSummary.Total)
	}
}
