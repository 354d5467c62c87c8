package workflows

import (
	"context"
	"strings"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/sever-ir/sever/contract"
)

// An incident started with LocalLedger writes the same facts, in the same order,
// through a local activity; one without it, or a run of the bundle before the
// local ledger (its history has that bundle's marker), through an activity task.
func TestLedgerAppendLocalOrActivity(t *testing.T) {
	for _, tc := range []struct {
		name      string
		local     bool
		oldBundle bool
		wantLocal bool
	}{
		{name: "local", local: true, wantLocal: true},
		{name: "activity", local: false},
		{name: "local asked, run of the december bundle", local: true, oldBundle: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			if tc.oldBundle {
				runOfBundle(env, decemberBundle)
			}
			(&recorder{}).register(env, "test.a")
			var local, tasks int
			env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []any) {
				if info.ActivityType.Name == contract.ActivityLedgerAppend {
					local++
				}
			})
			env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
				if info.ActivityType.Name == contract.ActivityLedgerAppend {
					tasks++
				}
			})
			a := step("a", "test.a")
			a.Containment = true
			in := input(a)
			in.LocalLedger = tc.local
			runIncident(t, env, in, signal("s1", "e1"), signal("s2", "e2"))

			want := "status/open signal/s1 signal/s2 policy/a step/a/outcome status/contained status/closed"
			if got := strings.Join(noticesOf(env).factKeys(), " "); got != want {
				t.Errorf("ledger facts\n got %s\nwant %s", got, want)
			}
			if tc.wantLocal && (local == 0 || tasks != 0) {
				t.Errorf("%d local appends, %d activity tasks; want local only", local, tasks)
			}
			if !tc.wantLocal && (local != 0 || tasks == 0) {
				t.Errorf("%d local appends, %d activity tasks; want activity tasks only", local, tasks)
			}
		})
	}
}
