package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/sever-ir/sever/ledger"
)

// The API floor runs the floor's steps as the floor does, then leaves one ledger
// batch: the signal and each step, chained and verifiable, and a retried batch
// adds nothing.
func TestAPIFloorWorkflow(t *testing.T) {
	store, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	fl := &floorLedger{store: store}
	local := []bool{true, false, true}
	run := func() (*stepCounter, error) {
		var s testsuite.WorkflowTestSuite
		env := s.NewTestWorkflowEnvironment()
		c := &stepCounter{}
		env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{c}})
		env.RegisterActivity(BareActivity)
		env.RegisterActivityWithOptions(fl.Append, activity.RegisterOptions{Name: floorLedgerAppend})
		env.ExecuteWorkflow(APIFloorWorkflow, APIFloorInput{ID: "cred-1", Local: local})
		if err := env.GetWorkflowError(); err != nil {
			return c, err
		}
		var sum int
		if err := env.GetWorkflowResult(&sum); err != nil {
			return c, err
		}
		if sum != 6 {
			t.Errorf("sum %d, want 6", sum)
		}
		return c, nil
	}
	c, err := run()
	if err != nil {
		t.Fatal(err)
	}
	// Two local steps and the ledger batch, one activity task.
	if c.regular != 1 || c.local != 3 {
		t.Errorf("%d activities and %d local activities scheduled, want 1 and 3", c.regular, c.local)
	}
	check := func() {
		t.Helper()
		es, err := store.Entries(context.Background(), "cred-1")
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range es {
			kinds = append(kinds, string(e.Kind)+":"+e.Step)
		}
		if got, want := strings.Join(kinds, " "), "signal: step_outcome:s1 step_outcome:s2 step_outcome:s3"; got != want {
			t.Errorf("ledger holds %q, want %q", got, want)
		}
		if brk, err := store.Verify(context.Background(), "cred-1"); err != nil || brk != nil {
			t.Errorf("verify: %v, %v", brk, err)
		}
	}
	check()
	if _, err := run(); err != nil {
		t.Fatalf("a second run of the same ID: %v", err)
	}
	check()
}

// The API floor decodes the body as strictly as sever's API and says what is wrong.
func TestAPIFloorRefusesBadBodies(t *testing.T) {
	f := &apiFloor{}
	tests := []struct {
		name, path, body, want string
	}{
		{"unknown field", "/floor/runs", `{"credential":{"id":"x"},"colour":"red"}`, `unknown field "colour"`},
		{"no credential id", "/floor/runs", `{"source":"bench"}`, "credential.id is required"},
		{"not JSON", "/floor/runs", `{`, "body: unexpected EOF"},
		{"sink without expect", "/floor/signals", `{"credential":{"id":"x"}}`, "expect must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, tt.path, strings.NewReader(tt.body))
			if tt.path == "/floor/runs" {
				f.start(w, r)
			} else {
				f.signal(w, r)
			}
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), tt.want) {
				t.Errorf("got %d %q, want 400 with %q", w.Code, w.Body.String(), tt.want)
			}
		})
	}
}
