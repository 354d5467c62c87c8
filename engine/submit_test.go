package engine_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/service"
	"github.com/sever-ir/sever/workflows"
)

// The contain tests' fake takes the intake update the way the workflow does:
// Update-With-Start joins an open incident or starts one with the signal as First.
// The input of its latest start operation is kept beside it (pendingStarts), so
// the contain tests' file needs no change.
func (f *fakeClient) NewWithStartWorkflowOperation(_ client.StartWorkflowOptions, _ any, args ...any) client.WithStartWorkflowOperation {
	pendingStarts.Store(f, args[0].(workflows.IncidentInput))
	return nil
}

// pendingStarts maps a *fakeClient to the input of its latest start operation.
var pendingStarts sync.Map

func (f *fakeClient) UpdateWithStartWorkflow(_ context.Context, o client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, _ := pendingStarts.Load(f)
	in := v.(workflows.IncidentInput)
	s := o.UpdateOptions.Args[0].(sever.Signal)
	res := workflows.SignalResult{Status: workflows.SignalRecorded}
	if _, ok := f.running[in.IncidentID]; !ok {
		f.started = append(f.started, in)
		f.running[in.IncidentID] = in.Runbook.Name
		res.Opened = true
	}
	f.signals = append(f.signals, s)
	return handle{res}, nil
}

func (f *fakeClient) UpdateWorkflow(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.running[o.WorkflowID]; !ok {
		return nil, serviceerror.NewNotFound("no such workflow")
	}
	f.signals = append(f.signals, o.Args[0].(sever.Signal))
	return handle{workflows.SignalResult{Status: workflows.SignalRecorded}}, nil
}

// noRunbook selects no runbook for anything.
type noRunbook struct{}

func (noRunbook) Select(t sever.CredentialType, k sever.SignalKind) (*sever.Runbook, error) {
	return nil, sever.Errorf(sever.EUNPROCESSABLE, "kind", "no runbook for %s %s", t, k)
}

// intakeClient scripts the answer of the intake update and records every call
// the engine makes for a submission.
type intakeClient struct {
	client.Client
	// answer is what the update returns: a result, or an error.
	answer    workflows.SignalResult
	updateErr error
	// running says whether an incident is open (update without start finds it).
	running bool

	mu    sync.Mutex
	calls []string
	first *sever.Signal // the input's First of the Update-With-Start
	sent  []sever.Signal
}

func (c *intakeClient) call(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, name)
}

func (c *intakeClient) NewWithStartWorkflowOperation(_ client.StartWorkflowOptions, _ any, args ...any) client.WithStartWorkflowOperation {
	in := args[0].(workflows.IncidentInput)
	c.first = in.First
	return nil
}

func (c *intakeClient) UpdateWithStartWorkflow(ctx context.Context, o client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	c.call("update-with-start")
	return c.update(ctx, o.UpdateOptions)
}

func (c *intakeClient) UpdateWorkflow(ctx context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	c.call("update")
	if !c.running {
		return nil, serviceerror.NewNotFound("workflow not found")
	}
	return c.update(ctx, o)
}

func (c *intakeClient) update(ctx context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	if o.UpdateName != workflows.UpdateSignal || o.WaitForStage != client.WorkflowUpdateStageCompleted {
		return nil, errors.New("not the intake update")
	}
	if errors.Is(c.updateErr, context.DeadlineExceeded) {
		<-ctx.Done() // no worker answers: the engine's wait runs out
		return nil, ctx.Err()
	}
	if c.updateErr != nil {
		return nil, c.updateErr
	}
	return handle{c.answer}, nil
}

func (c *intakeClient) SignalWorkflow(_ context.Context, _, _, _ string, arg any) error {
	c.call("signal")
	if !c.running {
		return serviceerror.NewNotFound("workflow not found")
	}
	c.sent = append(c.sent, arg.(sever.Signal))
	return nil
}

func (c *intakeClient) SignalWithStartWorkflow(_ context.Context, _, _ string, arg any, _ client.StartWorkflowOptions,
	_ any, _ ...any) (client.WorkflowRun, error) {
	c.call("signal-with-start")
	c.sent = append(c.sent, arg.(sever.Signal))
	return nil, nil
}

func (c *intakeClient) QueryWorkflow(context.Context, string, string, string, ...any) (converter.EncodedValue, error) {
	c.call("query")
	p, err := converter.GetDefaultDataConverter().ToPayloads(workflows.SignalStatus{Known: true})
	if err != nil {
		return nil, err
	}
	return client.NewValue(p), nil
}

// errQuota stands for the API's refusal of a new incident past the caller's quota.
var errQuota = errors.New("incident quota reached")

type handle struct{ res workflows.SignalResult }

func (handle) WorkflowID() string { return "" }
func (handle) RunID() string      { return "" }
func (handle) UpdateID() string   { return "" }
func (h handle) Get(_ context.Context, ptr any) error {
	*(ptr.(*workflows.SignalResult)) = h.res
	return nil
}

// A synchronous submission is one intake update, answered by its result: one
// Update-With-Start joins the open incident or opens one (only a new incident stays
// charged to the quota; past it, an open incident still takes the signal). When the
// update does not answer, the submission is made durable as a signal before the
// caller hears 202 ("queued"); when the workflow refuses it, nothing is resent and
// the caller hears why; an incident on a worker without the update gets the signal
// and the status query, as before. Prefer: respond-async never waits for an update.
func TestSubmitIntake(t *testing.T) {
	t.Parallel()
	unknown := temporal.NewApplicationError("unknown update submit_signal. KnownUpdates=[close decide retry]", "")
	invalid := temporal.NewApplicationError("submit signal: malformed signal: signal \"x\" has no ID or no receipt", "")
	tests := []struct {
		name      string
		async     bool
		running   bool
		noRunbook bool
		answer    workflows.SignalResult
		updateErr error
		want      string // the answer's status, or "error: CODE"
		calls     []string
		resent    bool // the submission reached the incident as a signal too
		overQuota bool // the caller may open no new incident
		charged   int  // new incidents left charged to the caller's quota
	}{
		{name: "recorded by the update", answer: workflows.SignalResult{Status: workflows.SignalRecorded, Opened: true},
			want: "recorded", calls: []string{"update-with-start"}, charged: 1},
		{name: "joins the open incident in one call", running: true, answer: workflows.SignalResult{Status: workflows.SignalRecorded},
			want: "recorded", calls: []string{"update-with-start"}},
		{name: "open incident does not answer in time: resent durably", running: true, updateErr: context.DeadlineExceeded,
			want: "queued", calls: []string{"update-with-start", "signal-with-start"}, resent: true, charged: 1},
		{name: "duplicate by the update", answer: workflows.SignalResult{Status: workflows.SignalDuplicate, Duplicate: true},
			want: "duplicate", calls: []string{"update-with-start"}},
		{name: "no answer in time: resent durably", updateErr: context.DeadlineExceeded,
			want: "queued", calls: []string{"update-with-start", "signal-with-start"}, resent: true, charged: 1},
		{name: "unavailable: resent durably", updateErr: serviceerror.NewUnavailable("frontend restarting"),
			want: "queued", calls: []string{"update-with-start", "signal-with-start"}, resent: true, charged: 1},
		{name: "refused by the validator", updateErr: invalid,
			want: "error: " + sever.EINVALID, calls: []string{"update-with-start"}},
		{name: "worker without the update", updateErr: unknown,
			want: "recorded", calls: []string{"update-with-start", "signal-with-start", "query"}, resent: true, charged: 1},
		{name: "over quota, incident open: joins it", running: true, overQuota: true,
			answer: workflows.SignalResult{Status: workflows.SignalRecorded}, want: "recorded", calls: []string{"update"}},
		{name: "over quota, no incident", overQuota: true,
			want: "error: quota", calls: []string{"update"}},
		{name: "respond-async", async: true, running: true,
			want: "queued", calls: []string{"signal"}, resent: true},
		{name: "no runbook, incident open", noRunbook: true, running: true,
			answer: workflows.SignalResult{Status: workflows.SignalRecorded}, want: "recorded", calls: []string{"update"}},
		{name: "no runbook, no incident", noRunbook: true,
			want: "error: " + sever.EUNPROCESSABLE, calls: []string{"update"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _ := newEngine(t)
			c := &intakeClient{answer: tc.answer, updateErr: tc.updateErr, running: tc.running}
			e.Client, e.StatusWait = c, 50*time.Millisecond
			s := containSignal(awsKey)
			if tc.noRunbook {
				e.Runbooks = noRunbook{}
			}
			charged := 0
			reserve := func() (func(), error) {
				if tc.overQuota {
					return nil, errQuota
				}
				charged++
				return func() { charged-- }, nil
			}
			res, err := e.SubmitSignal(context.Background(), service.SubmitRequest{Signal: s, RespondAsync: tc.async, ReserveOpen: reserve})
			got := res.Status
			if errors.Is(err, errQuota) {
				got, err = "error: quota", nil
			}
			if err != nil {
				var se *sever.Error
				if !errors.As(err, &se) {
					t.Fatalf("error %v is not a *sever.Error", err)
				}
				got = "error: " + se.Code
			}
			if got != tc.want {
				t.Errorf("answer %q (err %v), want %q", got, err, tc.want)
			}
			if !reflect.DeepEqual(c.calls, tc.calls) {
				t.Errorf("calls %v, want %v", c.calls, tc.calls)
			}
			if tc.async || tc.noRunbook {
				tc.charged = charged // not this test's concern
			}
			if charged != tc.charged {
				t.Errorf("%d new incidents charged to the quota, want %d", charged, tc.charged)
			}
			if resent := len(c.sent) > 0; resent != tc.resent {
				t.Errorf("resent %v, want %v", resent, tc.resent)
			}
			for _, r := range c.sent {
				if r.Receipt != s.Receipt || r.ID != s.ID {
					t.Errorf("resent signal %s/%s, want the same submission %s/%s", r.ID, r.Receipt, s.ID, s.Receipt)
				}
			}
			if c.first != nil && (c.first.ID != s.ID || c.first.Receipt != s.Receipt) {
				t.Errorf("the start's First is %s/%s, want the submission %s/%s", c.first.ID, c.first.Receipt, s.ID, s.Receipt)
			}
			if res.Duplicate != (tc.want == "duplicate") {
				t.Errorf("duplicate %v for answer %q", res.Duplicate, got)
			}
		})
	}
}
