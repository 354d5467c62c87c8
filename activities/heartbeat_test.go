package activities

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever"
)

type intent struct {
	Change string `json:"change"`
}

// A mutating action heartbeats while it runs, without knowing it: the registration
// does it. A read-only one is registered as it is, so it outlives its heartbeat
// timeout. Each action runs until it has seen a heartbeat, or for 20 heartbeat
// intervals if none comes.
func TestRegisterHeartbeatsMutatingActions(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{sever.ActionTokenDisable, true},
		{sever.ActionAWSDeactivateKey, true},
		{sever.ActionTokenStatus, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			var beats atomic.Int32
			beat := make(chan struct{}, 1)
			env.SetOnActivityHeartbeatListener(func(*activity.Info, converter.EncodedValues) {
				beats.Add(1)
				select {
				case beat <- struct{}{}:
				default:
				}
			})
			Register(env, tt.name, func(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
				select {
				case <-beat:
				case <-time.After(20 * heartbeatEvery(ctx)):
				}
				return sever.ActionResult{Summary: "done"}, nil
			})
			env.ExecuteWorkflow(func(ctx workflow.Context) error {
				ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
					StartToCloseTimeout: time.Minute, HeartbeatTimeout: 30 * time.Millisecond,
				})
				return workflow.ExecuteActivity(ctx, tt.name, sever.ActionInput{Action: tt.name}).Get(ctx, nil)
			})
			err := env.GetWorkflowError()
			var timeout *temporal.TimeoutError
			switch {
			case tt.want && err != nil:
				t.Fatal(err)
			case !tt.want && !(errors.As(err, &timeout) && timeout.TimeoutType() == enumspb.TIMEOUT_TYPE_HEARTBEAT):
				// Not wrapped, the action outlives its heartbeat timeout.
				t.Fatalf("error %v; want a heartbeat timeout", err)
			}
			if got := beats.Load() > 0; got != tt.want {
				t.Errorf("%d heartbeats; want heartbeats %v", beats.Load(), tt.want)
			}
		})
	}
}

// The registration sends no heartbeat of its own before the action records one: the
// SDK sends an attempt's first heartbeat at once and holds the next ones back, so
// the write intent an action records before its write must be that first one.
func TestRegisterFirstHeartbeatIsTheActions(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	var mu sync.Mutex
	var got []intent
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, d converter.EncodedValues) {
		var i intent
		if d.HasValues() {
			if err := d.Get(&i); err != nil {
				t.Errorf("heartbeat details: %v", err)
			}
		}
		mu.Lock()
		got = append(got, i)
		mu.Unlock()
	})
	Register(env, sever.ActionTokenDisable, func(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
		RecordHeartbeat(ctx, intent{Change: "disabled"})
		return sever.ActionResult{}, nil
	})
	if _, err := env.ExecuteActivity(sever.ActionTokenDisable, sever.ActionInput{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Change != "disabled" {
		t.Fatalf("heartbeats = %+v; want only the action's write intent", got)
	}
}

// The registration's heartbeats repeat the previous attempt's details until the
// action records its own: a provider action's write intent must survive them.
func TestHeartbeatingKeepsPreviousAttemptDetails(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.SetHeartbeatDetails(intent{Change: "inactive"})
	beats := make(chan intent, 100)
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, d converter.EncodedValues) {
		var i intent
		if d.HasValues() {
			if err := d.Get(&i); err != nil {
				t.Errorf("heartbeat details: %v", err)
			}
		}
		select {
		case beats <- i:
		default:
		}
	})
	every := func(context.Context) time.Duration { return time.Millisecond }
	fn := heartbeating(func(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
		var prev intent
		if err := activity.GetHeartbeatDetails(ctx, &prev); err != nil || prev.Change != "inactive" {
			t.Errorf("the action sees previous details %+v (%v)", prev, err)
		}
		if first := <-beats; first.Change != "inactive" {
			t.Errorf("first heartbeat %+v; it must repeat the previous attempt's intent", first)
		}
		return sever.ActionResult{}, nil
	}, every, sendHeartbeat)
	env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: "wrapped"})
	if _, err := env.ExecuteActivity("wrapped", sever.ActionInput{}); err != nil {
		t.Fatal(err)
	}
}

// While the action runs, heartbeats go out on the ticker with the latest details it
// recorded; once it has returned, none does.
func TestHeartbeatingBeatsWhileRunningAndStops(t *testing.T) {
	var returned atomic.Bool
	beats := make(chan []any, 100)
	send := func(ctx context.Context, details ...any) {
		if returned.Load() {
			t.Error("heartbeat after the action returned")
		}
		select {
		case beats <- details:
		default:
		}
	}
	every := func(context.Context) time.Duration { return time.Millisecond }
	fn := heartbeating(func(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
		RecordHeartbeat(ctx, intent{Change: "delete"})
		// Wait for two ticker beats that carry the recorded intent.
		for n := 0; n < 2; {
			d := <-beats
			if len(d) == 1 {
				if i, ok := d[0].(intent); ok && i.Change == "delete" {
					n++
				}
			}
		}
		return sever.ActionResult{Summary: "deleted"}, nil
	}, every, send)

	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: "wrapped"})
	v, err := env.ExecuteActivity("wrapped", sever.ActionInput{})
	returned.Store(true)
	if err != nil {
		t.Fatal(err)
	}
	var res sever.ActionResult
	if err := v.Get(&res); err != nil || res.Summary != "deleted" {
		t.Fatalf("result %+v (%v)", res, err)
	}
}

// A mutating action with any other signature is a wiring bug, caught at startup.
func TestRegisterRefusesMutatingActionOfAnotherShape(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	var s testsuite.WorkflowTestSuite
	Register(s.NewTestActivityEnvironment(), sever.ActionTokenDisable, func(ctx context.Context, raw json.RawMessage) error { return nil })
}
