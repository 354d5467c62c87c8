package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/workflows"
)

// benchRunbook is the name of the runbook the engine runs: N sever.noop steps in a
// chain. A no-op changes no state, so it cannot be a containment step: the runbook
// ends, every step succeeded, with the status benchEnd ("no containment step ran"),
// written by the same memo upsert as "contained" would be.
const benchRunbook = "bench-noop-chain"

// benchEnd is the status an incident of the bench runbook ends its runbook with.
const benchEnd = sever.IncidentFailed

// writeRunbook writes the bench runbook into dir. Priority 100 makes it win over the
// built-in generic_token runbook (priority 0).
func writeRunbook(dir string, steps int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\nversion: \"1\"\n", benchRunbook)
	fmt.Fprintf(&b, "description: Benchmark runbook, %d sever.noop steps in a chain.\n", steps)
	b.WriteString("match:\n  credential_types: [generic_token]\n  priority: 100\nsteps:\n")
	for i := 1; i <= steps; i++ {
		fmt.Fprintf(&b, "  - id: s%d\n    action: sever.noop\n    args: {note: step %d}\n", i, i)
		if i > 1 {
			fmt.Fprintf(&b, "    needs: [s%d]\n", i-1)
		}
	}
	return os.WriteFile(filepath.Join(dir, benchRunbook+".yaml"), []byte(b.String()), 0o600)
}

// engineRunner drives incidents through the real HTTP API.
type engineRunner struct {
	c      client.Client // only to watch the incident's history (see waitHistory)
	http   *http.Client
	url    string
	token  string
	wait   string // "history" or "poll"
	pollIv time.Duration
	async  bool // POST with Prefer: respond-async
}

// on is a copy of the runner that talks to another stack.
func (e *engineRunner) on(d *app.Dev) *engineRunner {
	c := *e
	c.c, c.url, c.token = d.Client, d.URL, d.DevToken
	return &c
}

type submitResult struct {
	IncidentID string `json:"incident_id"`
	SignalID   string `json:"signal_id"`
	Status     string `json:"status"`
}

// run posts one signal about a fresh generic_token and waits until the incident's
// runbook has ended. The clock starts just before the POST.
func (e *engineRunner) run(ctx context.Context, credID string) (sample, error) {
	body, err := signalBody(credID)
	if err != nil {
		return sample{}, err
	}
	t0 := time.Now()
	var sub submitResult
	prefer := ""
	if e.async {
		prefer = "respond-async"
	}
	if err := e.doPrefer(ctx, http.MethodPost, "/v1/signals", prefer, body, http.StatusAccepted, &sub); err != nil {
		return sample{}, fmt.Errorf("engine %s: submit: %w", credID, err)
	}
	s := sample{accepted: time.Since(t0), submit: sub.Status}
	var status sever.IncidentStatus
	switch e.wait {
	case "poll":
		status, err = e.waitPoll(ctx, sub.IncidentID, t0, &s)
	default:
		status, err = e.waitHistory(ctx, sub.IncidentID, t0, &s)
	}
	s.total = time.Since(t0)
	if err != nil {
		return s, fmt.Errorf("engine %s: %w", sub.IncidentID, err)
	}
	if status != benchEnd {
		return s, fmt.Errorf("engine %s: runbook ended %s, want %s", sub.IncidentID, status, benchEnd)
	}
	return s, nil
}

// waitHistory returns when the workflow has recorded the end of the runbook: the memo
// upsert that moves "status" from open to contained or failed. It looks once with a
// describe (ended); while the runbook runs on, it long-polls the incident's event
// history, the same mechanism the floor's Get uses for the close event, which adds no
// polling interval: the server answers as soon as new events are written.
// The incident itself does not complete (it holds for late signals), so there is no
// close event to wait for.
func (e *engineRunner) waitHistory(ctx context.Context, id string, t0 time.Time, s *sample) (sever.IncidentStatus, error) {
	if st, err := e.ended(ctx, id, t0); err != nil || st != "" {
		return st, err
	}
	var status sever.IncidentStatus
	err := watch(ctx, e.c, id, func(ev *historypb.HistoryEvent) (bool, error) {
		switch ev.GetEventType() {
		case enums.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			if err := fresh(ev.GetEventTime().AsTime(), t0); err != nil {
				return true, err
			}
		case enums.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			if s.firstStep == 0 {
				s.firstStep = ev.GetEventTime().AsTime().Sub(t0)
			}
		case enums.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
			st, err := endStatus(ev.GetWorkflowPropertiesModifiedEventAttributes().GetUpsertedMemo().GetFields())
			if err != nil || st != "" {
				status = st
				return true, err
			}
		case enums.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, enums.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
			enums.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, enums.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
			enums.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED, enums.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
			return true, fmt.Errorf("workflow ended (%s) before its runbook did", ev.GetEventType())
		}
		return false, nil
	})
	switch {
	case errors.Is(err, errHistoryEnded):
		return "", errors.New("history ended without a runbook outcome")
	case err != nil:
		return "", fmt.Errorf("history: %w", err)
	}
	return status, nil
}

// ended looks once at the incident's status in its memo, which DescribeWorkflowExecution
// reads from the server's cached state, and returns it if the runbook has ended ("" if
// not). A runbook whose steps all run in the workflow task that answers the POST (the
// bench runbook's) has ended by the time the answer arrives; reading its whole history
// to see that (the 16 KB start event first) would bill sever for the bench's own
// watching, while the floor's Get reads the close event alone.
func (e *engineRunner) ended(ctx context.Context, id string, t0 time.Time) (sever.IncidentStatus, error) {
	d, err := e.c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return "", fmt.Errorf("describe: %w", err)
	}
	info := d.GetWorkflowExecutionInfo()
	if err := fresh(info.GetStartTime().AsTime(), t0); err != nil {
		return "", err
	}
	return endStatus(info.GetMemo().GetFields())
}

// fresh checks that an incident started with the signal posted at t0: one already
// open for the credential would answer with its old status at once, and every
// iteration must open a new one.
func fresh(started, t0 time.Time) error {
	if started.Before(t0.Add(-time.Second)) {
		return fmt.Errorf("incident started at %s, before this signal: not a fresh incident", started.Format(time.RFC3339Nano))
	}
	return nil
}

// endStatus is the runbook's outcome in a memo's "status" field: "" while the
// incident is open, or when the memo does not set it.
func endStatus(memo map[string]*commonpb.Payload) (sever.IncidentStatus, error) {
	p := memo[workflows.MemoStatus]
	if p == nil {
		return "", nil
	}
	var st sever.IncidentStatus
	if err := converter.GetDefaultDataConverter().FromPayload(p, &st); err != nil {
		return "", fmt.Errorf("memo status: %w", err)
	}
	if st == sever.IncidentOpen {
		return "", nil
	}
	return st, nil
}

// waitPoll reads GET /v1/incidents/{id} every pollIv until the status leaves open.
// Its first-step time is the step's started_at (workflow time when the step was
// dispatched), a little earlier than the activity start that -wait history reports.
// Each read costs a describe and a query; the interval adds up to pollIv.
func (e *engineRunner) waitPoll(ctx context.Context, id string, t0 time.Time, s *sample) (sever.IncidentStatus, error) {
	t := time.NewTicker(e.pollIv)
	defer t.Stop()
	for {
		var inc sever.Incident
		if err := e.do(ctx, http.MethodGet, "/v1/incidents/"+id, nil, http.StatusOK, &inc); err != nil {
			return "", err
		}
		if s.firstStep == 0 {
			for _, st := range inc.Steps {
				if st.StartedAt != nil {
					s.firstStep = st.StartedAt.Sub(t0)
					break
				}
			}
		}
		if inc.Status != sever.IncidentOpen {
			return inc.Status, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-t.C:
		}
	}
}

// incident reads an incident through the API (for the sanity check, never timed).
func (e *engineRunner) incident(ctx context.Context, id string) (*sever.Incident, error) {
	var inc sever.Incident
	if err := e.do(ctx, http.MethodGet, "/v1/incidents/"+id, nil, http.StatusOK, &inc); err != nil {
		return nil, err
	}
	return &inc, nil
}

func (e *engineRunner) do(ctx context.Context, method, path string, body []byte, want int, out any) error {
	return e.doPrefer(ctx, method, path, "", body, want, out)
}

// doPrefer sends a request with an HTTP Prefer header ("" for none).
func (e *engineRunner) doPrefer(ctx context.Context, method, path, prefer string, body []byte, want int, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.url+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	if prefer != "" {
		req.Header.Set("Prefer", prefer)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, out)
}

// checkIncident makes sure the engine ran what the benchmark means to measure: the
// bench runbook, every step succeeded under the auto policy rule, and nothing else
// ended it.
func checkIncident(inc *sever.Incident, steps int) error {
	if inc.Runbook.Name != benchRunbook {
		return fmt.Errorf("incident %s ran runbook %q, want %q", inc.ID, inc.Runbook.Name, benchRunbook)
	}
	if inc.Status != benchEnd || inc.Reason != "no containment step ran" {
		return fmt.Errorf("incident %s is %s (%s), want %s (no containment step ran)", inc.ID, inc.Status, inc.Reason, benchEnd)
	}
	if len(inc.Steps) != steps {
		return fmt.Errorf("incident %s has %d steps, want %d", inc.ID, len(inc.Steps), steps)
	}
	for _, st := range inc.Steps {
		if st.Status != sever.StepSucceeded || st.Action != sever.ActionNoop {
			return fmt.Errorf("incident %s step %s: %s %s (%s)", inc.ID, st.ID, st.Action, st.Status, st.Error)
		}
	}
	return nil
}
