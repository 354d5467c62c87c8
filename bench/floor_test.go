package main

import (
	"testing"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TestBareWorkflowSchedulesEachStepOnce checks that the floor runs each step
// once, as the kind of activity it stands for: a floor that also scheduled a
// regular activity for a local step would do work sever does not, and every
// ratio against it would flatter sever.
func TestBareWorkflowSchedulesEachStepOnce(t *testing.T) {
	tests := []struct {
		local             []bool
		wantRegular, want int
	}{
		{[]bool{false, false, false}, 3, 0},
		{[]bool{true, false, true}, 1, 2},
		{[]bool{true, true, true, true}, 0, 4},
	}
	for _, tt := range tests {
		var s testsuite.WorkflowTestSuite
		env := s.NewTestWorkflowEnvironment()
		c := &stepCounter{}
		env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{c}})
		env.RegisterActivity(BareActivity)
		env.ExecuteWorkflow(BareWorkflow, tt.local)
		if err := env.GetWorkflowError(); err != nil {
			t.Fatalf("%v: %v", tt.local, err)
		}
		var sum int
		if err := env.GetWorkflowResult(&sum); err != nil {
			t.Fatalf("%v: result: %v", tt.local, err)
		}
		if n := len(tt.local); sum != n*(n+1)/2 {
			t.Errorf("%v: sum %d, want %d", tt.local, sum, n*(n+1)/2)
		}
		if c.regular != tt.wantRegular || c.local != tt.want {
			t.Errorf("%v: %d activities and %d local activities scheduled, want %d and %d",
				tt.local, c.regular, c.local, tt.wantRegular, tt.want)
		}
	}
}

// stepCounter counts the activities and local activities a workflow schedules.
type stepCounter struct {
	interceptor.WorkerInterceptorBase
	regular, local int
}

func (c *stepCounter) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &stepCounterInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, c: c}
}

type stepCounterInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	c *stepCounter
}

func (i *stepCounterInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return i.Next.Init(&stepCounterOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}, c: i.c})
}

type stepCounterOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	c *stepCounter
}

func (o *stepCounterOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	o.c.regular++
	return o.Next.ExecuteActivity(ctx, activityType, args...)
}

func (o *stepCounterOutbound) ExecuteLocalActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	o.c.local++
	return o.Next.ExecuteLocalActivity(ctx, activityType, args...)
}
