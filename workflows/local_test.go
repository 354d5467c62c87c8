package workflows

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/sever-ir/sever"
)

// A read-only step of at most localStepMaxTimeout, and a read-back, run as local
// activities on runs of localStepsBundle and later; a mutating step, a longer read,
// and every step of a run of an older bundle get an activity task. The outcome is
// the same either way.
func TestReadOnlyStepsRunLocal(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mutating  bool
		timeout   time.Duration
		bundle    string // "" for a new run
		wantLocal bool
	}{
		{name: "read-only", timeout: 10 * time.Second, wantLocal: true},
		{name: "read-only at the bound", timeout: localStepMaxTimeout, wantLocal: true},
		{name: "read-only, default timeout", wantLocal: true},
		{name: "longer read", timeout: localStepMaxTimeout + time.Second},
		{name: "mutating", mutating: true, timeout: 10 * time.Second},
		{name: "read-only, run of the local-steps bundle", timeout: 10 * time.Second, bundle: localStepsBundle, wantLocal: true},
		{name: "read-only, run of the local-ledger bundle", timeout: 10 * time.Second, bundle: localLedgerBundle},
		{name: "read-only, run of the december bundle", timeout: 10 * time.Second, bundle: decemberBundle},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			if tc.bundle != "" {
				runOfBundle(env, tc.bundle)
			}
			(&recorder{}).register(env, "test.a", "test.status")
			var mu sync.Mutex
			var local, tasks []string
			env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []any) {
				mu.Lock()
				defer mu.Unlock()
				local = append(local, info.ActivityType.Name)
			})
			env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
				mu.Lock()
				defer mu.Unlock()
				tasks = append(tasks, info.ActivityType.Name)
			})
			a := step("a", "test.a")
			a.Timeout = sever.Duration(tc.timeout)
			a.Mutating = tc.mutating
			a.Containment = tc.mutating
			a.Verify = &sever.VerifySpec{Action: "test.status"}
			inc := runIncident(t, env, input(a), signal("s1", "e1"))

			if st := inc.Steps[0]; st.Status != sever.StepSucceeded || !st.Verified {
				t.Fatalf("step = %s verified %v (%s)", st.Status, st.Verified, st.Error)
			}
			mu.Lock()
			defer mu.Unlock()
			ranLocal := func(name string) bool {
				for _, n := range local {
					if n == name {
						return true
					}
				}
				return false
			}
			if got := ranLocal("test.a"); got != tc.wantLocal {
				t.Errorf("step ran local %v, want %v (local %v, activity tasks %v)", got, tc.wantLocal, local, tasks)
			}
			// The read-back is local whenever the run has local steps and the step's
			// timeout allows it, mutating step or not.
			wantVerifyLocal := (tc.bundle == "" || tc.bundle == localStepsBundle) && tc.timeout <= localStepMaxTimeout
			if got := ranLocal("test.status"); got != wantVerifyLocal {
				t.Errorf("read-back ran local %v, want %v (local %v, activity tasks %v)", got, wantVerifyLocal, local, tasks)
			}
		})
	}
}
