package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/engine"
	"github.com/sever-ir/sever/runbooks"
	"github.com/sever-ir/sever/service"
	"github.com/sever-ir/sever/workflows"
)

// fakeClient is the part of the Temporal client Contain uses; every other method
// panics (the embedded interface is nil), which a test would notice.
type fakeClient struct {
	client.Client
	mu      sync.Mutex
	running map[string]string // workflow ID → pinned runbook
	started []workflows.IncidentInput
	signals []sever.Signal
}

func (f *fakeClient) DescribeWorkflowExecution(_ context.Context, id, _ string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rb, ok := f.running[id]
	if !ok {
		return nil, serviceerror.NewNotFound("no such workflow")
	}
	p, err := converter.GetDefaultDataConverter().ToPayload(rb)
	if err != nil {
		return nil, err
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Type:   &commonpb.WorkflowType{Name: workflows.IncidentWorkflow},
		Status: enums.WORKFLOW_EXECUTION_STATUS_RUNNING,
		Memo:   &commonpb.Memo{Fields: map[string]*commonpb.Payload{workflows.MemoRunbook: p}},
	}}, nil
}

func (f *fakeClient) SignalWorkflow(_ context.Context, id, _, _ string, arg any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.running[id]; !ok {
		return serviceerror.NewNotFound("no such workflow")
	}
	f.signals = append(f.signals, arg.(sever.Signal))
	return nil
}

func (f *fakeClient) SignalWithStartWorkflow(_ context.Context, id, _ string, arg any, _ client.StartWorkflowOptions,
	_ any, args ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in := args[0].(workflows.IncidentInput)
	f.started = append(f.started, in)
	f.signals = append(f.signals, arg.(sever.Signal))
	f.running[id] = in.Runbook.Name
	return nil, nil
}

func (f *fakeClient) QueryWorkflow(context.Context, string, string, string, ...any) (converter.EncodedValue, error) {
	return nil, errors.New("no queries in this fake") // the answer is "queued"
}

// altRunbook also contains AWS access keys, at a lower priority than the built-in,
// so only naming it picks it.
const altRunbook = `name: aws-key-notify-only
version: "1"
match:
  credential_types: [aws_access_key]
  priority: -10
steps:
  - id: notify
    action: sever.notify.log
    args: {message: "contained on demand"}
`

func newEngine(t *testing.T) (*engine.Engine, *fakeClient) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "alt.yaml"), []byte(altRunbook), 0o600); err != nil {
		t.Fatal(err)
	}
	lib, err := runbooks.Load(dir, sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := runbooks.DefaultPolicy(sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	fc := &fakeClient{running: map[string]string{}}
	return &engine.Engine{Client: fc, TaskQueue: "q", Runbooks: lib, Policy: pol, StatusWait: time.Millisecond}, fc
}

func containSignal(c sever.Credential) sever.Signal {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return sever.Signal{ID: "sig-1", Source: "operator:oscar", Origin: sever.OriginEnterprise, Kind: sever.KindCredentialExposed,
		ObservedAt: now, ReceivedAt: now, Credential: c, Reporter: "U0OSCAR", Receipt: "r1"}
}

var awsKey = sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "AKIAIOSFODNN7EXAMPLE"}

func TestContainPinsNamedRunbook(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		runbook     string
		wantRunbook string
	}{
		{name: "library's choice", runbook: "", wantRunbook: "aws-access-key-exposed"},
		{name: "named built-in", runbook: "aws-access-key-exposed", wantRunbook: "aws-access-key-exposed"},
		{name: "named lower-priority runbook", runbook: "aws-key-notify-only", wantRunbook: "aws-key-notify-only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, fc := newEngine(t)
			res, err := e.Contain(context.Background(), service.SubmitRequest{Signal: containSignal(awsKey)}, tc.runbook)
			if err != nil {
				t.Fatal(err)
			}
			if res.IncidentID != sever.IncidentID(awsKey) || len(fc.started) != 1 {
				t.Fatalf("result %+v, %d starts", res, len(fc.started))
			}
			if got := fc.started[0].Runbook.Name; got != tc.wantRunbook {
				t.Errorf("pinned runbook %q, want %q", got, tc.wantRunbook)
			}
			if fc.signals[0].Reporter != "U0OSCAR" {
				t.Errorf("reporter %q", fc.signals[0].Reporter)
			}
		})
	}
}

func TestContainRefusesRunbook(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cred     sever.Credential
		runbook  string
		open     string // runbook of an incident already open for cred, "" for none
		wantCode string
		wantMsg  []string
		notInMsg []string
	}{
		{name: "unknown runbook", cred: awsKey, runbook: "no-such-runbook", wantCode: sever.EUNPROCESSABLE,
			wantMsg: []string{`"no-such-runbook"`, "runbooks that do: aws-access-key-exposed, aws-key-notify-only"}},
		{name: "runbook of another type", cred: awsKey, runbook: "github-token-exposed", wantCode: sever.EUNPROCESSABLE,
			wantMsg: []string{"aws-access-key-exposed, aws-key-notify-only"}, notInMsg: []string{"llm-api-key-abused"}},
		{name: "model key", cred: sever.Credential{Provider: "openai", Type: sever.CredOpenAIAPIKey, ID: "key_1"},
			runbook: "aws-access-key-exposed", wantCode: sever.EUNPROCESSABLE, wantMsg: []string{"runbooks that do: llm-api-key-abused"}},
		{name: "open incident pinned another runbook", cred: awsKey, runbook: "aws-key-notify-only", open: "aws-access-key-exposed",
			wantCode: sever.ECONFLICT, wantMsg: []string{`already open with runbook "aws-access-key-exposed"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, fc := newEngine(t)
			if tc.open != "" {
				fc.running[sever.IncidentID(tc.cred)] = tc.open
			}
			_, err := e.Contain(context.Background(), service.SubmitRequest{Signal: containSignal(tc.cred)}, tc.runbook)
			var se *sever.Error
			if !errors.As(err, &se) || se.Code != tc.wantCode || se.Field != "runbook" {
				t.Fatalf("err = %v; want %s on field runbook", err, tc.wantCode)
			}
			for _, m := range tc.wantMsg {
				if !strings.Contains(se.Message, m) {
					t.Errorf("message %q lacks %q", se.Message, m)
				}
			}
			for _, m := range tc.notInMsg {
				if strings.Contains(se.Message, m) {
					t.Errorf("message %q lists %q", se.Message, m)
				}
			}
			if len(fc.started) != 0 || len(fc.signals) != 0 {
				t.Errorf("a refused containment reached the workflow: %d starts, %d signals", len(fc.started), len(fc.signals))
			}
		})
	}
}

// Joining an open incident with the runbook it pinned (or none) records the signal.
func TestContainJoinsOpenIncident(t *testing.T) {
	t.Parallel()
	for _, rb := range []string{"", "aws-access-key-exposed"} {
		e, fc := newEngine(t)
		fc.running[sever.IncidentID(awsKey)] = "aws-access-key-exposed"
		if _, err := e.Contain(context.Background(), service.SubmitRequest{Signal: containSignal(awsKey)}, rb); err != nil {
			t.Fatalf("runbook %q: %v", rb, err)
		}
		if len(fc.started) != 0 || len(fc.signals) != 1 {
			t.Errorf("runbook %q: %d starts, %d signals; want the signal to join", rb, len(fc.started), len(fc.signals))
		}
	}
}
