package main

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"
)

// floorQueue is the task queue of the floor's own worker, apart from sever's.
const floorQueue = "bench-floor"

// BareWorkflow is the floor: trivial activities in sequence, one per entry of
// local, each with a plain ExecuteActivity, or ExecuteLocalActivity where local
// says so, and nothing else (no queries, no memo, no policy, no signals). local
// mirrors how the engine dispatches the steps the floor stands for: it runs a
// read-only step as a local activity (workflows.LocalAction), and a floor of
// activity tasks for them would measure Temporal doing more than sever does.
func BareWorkflow(ctx workflow.Context, local []bool) (int, error) {
	return floorSteps(ctx, local)
}

// floorSteps runs BareActivity once per entry of local, in sequence: as a local
// activity where local says so, else as an activity. It returns the sum of the
// results.
func floorSteps(ctx workflow.Context, local []bool) (int, error) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 30 * time.Second})
	sum := 0
	for i, l := range local {
		var f workflow.Future
		if l {
			f = workflow.ExecuteLocalActivity(lctx, BareActivity, i)
		} else {
			f = workflow.ExecuteActivity(actx, BareActivity, i)
		}
		var out int
		if err := f.Get(ctx, &out); err != nil {
			return sum, err
		}
		sum += out
	}
	return sum, nil
}

// BareActivity does nothing worth mentioning.
func BareActivity(_ context.Context, i int) (int, error) { return i + 1, nil }

// floor runs BareWorkflow through the SDK client.
type floor struct {
	c client.Client
	// local has one entry per step: true for a local activity.
	local []bool
	// history waits by long-polling every event (as the engine side does) instead
	// of Get; it exists to measure what that way of waiting costs.
	history bool
}

// run starts one bare workflow and waits for its result with Get (a long poll on the
// close event). With ttfs it then reads the history, outside the timed span, for the
// start time of the first activity.
func (f *floor) run(ctx context.Context, id string, ttfs bool) (sample, error) {
	t0 := time.Now()
	run, err := f.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: floorQueue}, BareWorkflow, f.local)
	if err != nil {
		return sample{}, fmt.Errorf("floor %s: start: %w", id, err)
	}
	if f.history {
		it := f.c.GetWorkflowHistory(ctx, id, run.GetRunID(), true, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return sample{}, fmt.Errorf("floor %s: history: %w", id, err)
			}
			if ev.GetEventType() == enums.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED {
				break
			}
		}
	}
	var sum int
	if err := run.Get(ctx, &sum); err != nil {
		return sample{}, fmt.Errorf("floor %s: %w", id, err)
	}
	s := sample{total: time.Since(t0)}
	if n := len(f.local); sum != n*(n+1)/2 {
		return s, fmt.Errorf("floor %s: result %d, want %d", id, sum, n*(n+1)/2)
	}
	if ttfs {
		it := f.c.GetWorkflowHistory(ctx, id, run.GetRunID(), false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return s, fmt.Errorf("floor %s: history: %w", id, err)
			}
			if ev.GetEventType() == enums.EVENT_TYPE_ACTIVITY_TASK_STARTED {
				s.firstStep = ev.GetEventTime().AsTime().Sub(t0)
				break
			}
		}
	}
	return s, nil
}

// localCount is how many of the floor's steps are local activities.
func localCount(local []bool) int {
	n := 0
	for _, l := range local {
		if l {
			n++
		}
	}
	return n
}
