package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever/ledger"
)

// The API floor (a+) is the least a containment product can do per signal on top
// of the floor (a): take the signal as a JSON POST over HTTP and leave a synced
// record of it and of each step in a ledger. It runs the floor's steps, then one
// ledger batch (the signal and each step's outcome) as a local activity through
// the same ledger.Store sever writes with, and nothing else sever does: no
// authentication, policy, update, memo or search attribute, and the workflow
// closes instead of holding for late signals. Against (a) a ratio also charges
// sever for the API and the ledger of record, which no engine in front of
// Temporal can skip; against (a+) it measures sever's engine itself.

// floorLedgerAppend is the name the API floor's ledger activity is registered under.
const floorLedgerAppend = "bench.floor.ledger_append"

// APIFloorInput is the input of APIFloorWorkflow.
type APIFloorInput struct {
	ID    string `json:"id"`
	Local []bool `json:"local"`
}

// APIFloorWorkflow runs the floor's steps, then appends the run's ledger batch.
func APIFloorWorkflow(ctx workflow.Context, in APIFloorInput) (int, error) {
	sum, err := floorSteps(ctx, in.Local)
	if err != nil {
		return sum, err
	}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 30 * time.Second})
	var res FloorLedgerResult
	err = workflow.ExecuteLocalActivity(lctx, floorLedgerAppend, FloorLedgerInput{ID: in.ID, Steps: len(in.Local)}).Get(ctx, &res)
	if err == nil && res.Recorded != len(in.Local)+1 {
		err = fmt.Errorf("ledger batch of %s: %d entries recorded, want %d", in.ID, res.Recorded, len(in.Local)+1)
	}
	return sum, err
}

// FloorLedgerInput is the input of the API floor's ledger activity.
type FloorLedgerInput struct {
	ID    string `json:"id"`
	Steps int    `json:"steps"`
}

// FloorLedgerResult is how many of the batch's entries the ledger holds: a retried
// batch finds them there already (their keys) and adds none.
type FloorLedgerResult struct {
	Recorded int `json:"recorded"`
}

// floorLedger holds the API floor's ledger.
type floorLedger struct {
	store *ledger.Store
}

// Append writes one batch: the signal, then each step's outcome.
func (l *floorLedger) Append(ctx context.Context, in FloorLedgerInput) (FloorLedgerResult, error) {
	es := make([]ledger.Entry, 0, in.Steps+1)
	es = append(es, ledger.Entry{Incident: in.ID, Kind: ledger.KindSignal, Actor: "bench", Key: "signal/" + in.ID})
	for i := 1; i <= in.Steps; i++ {
		step := "s" + strconv.Itoa(i)
		es = append(es, ledger.Entry{Incident: in.ID, Kind: ledger.KindStepOutcome, Actor: "bench", Step: step,
			Action: "bench.noop", Result: "succeeded", Key: "step/" + step + "/outcome"})
	}
	out, err := l.store.AppendBatch(ctx, es)
	if err != nil {
		return FloorLedgerResult{}, fmt.Errorf("floor ledger append %s: %w", in.ID, err)
	}
	return FloorLedgerResult{Recorded: len(out)}, nil
}

// floorSignal is the body the API floor takes: the shape of sever's signal, so
// both sides decode the same JSON.
type floorSignal struct {
	Source        string    `json:"source"`
	Origin        string    `json:"origin"`
	Kind          string    `json:"kind"`
	SourceEventID string    `json:"source_event_id"`
	ObservedAt    time.Time `json:"observed_at"`
	Severity      string    `json:"severity"`
	Credential    struct {
		Provider string `json:"provider"`
		Type     string `json:"type"`
		ID       string `json:"id"`
	} `json:"credential"`
	// Expect is for the storm's sink: how many signals it waits for.
	Expect int `json:"expect,omitempty"`
}

// floorAnswer is the API floor's answer.
type floorAnswer struct {
	ID    string `json:"id"`
	RunID string `json:"run_id"`
}

// apiFloor serves the API floor over HTTP and runs its side of the bench.
type apiFloor struct {
	c     client.Client
	local []bool
	url   string
	http  *http.Client
	srv   *http.Server
}

// startAPIFloor serves the API floor on a loopback port.
func startAPIFloor(c client.Client, local []bool, hc *http.Client) (*apiFloor, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("api floor: %w", err)
	}
	f := &apiFloor{c: c, local: local, url: "http://" + ln.Addr().String(), http: hc}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /floor/runs", f.start)
	mux.HandleFunc("POST /floor/signals", f.signal)
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

func (f *apiFloor) stop() { _ = f.srv.Close() }

// decodeFloorSignal reads a signal body strictly, as sever's API does.
func decodeFloorSignal(w http.ResponseWriter, r *http.Request) (floorSignal, bool) {
	var s floorSignal
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return s, false
	}
	if s.Credential.ID == "" {
		http.Error(w, "credential.id is required", http.StatusBadRequest)
		return s, false
	}
	return s, true
}

func answer(w http.ResponseWriter, a floorAnswer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(a)
}

// start runs APIFloorWorkflow for the signal's credential and answers once it has started.
func (f *apiFloor) start(w http.ResponseWriter, r *http.Request) {
	s, ok := decodeFloorSignal(w, r)
	if !ok {
		return
	}
	run, err := f.c.ExecuteWorkflow(r.Context(), client.StartWorkflowOptions{ID: s.Credential.ID, TaskQueue: floorQueue},
		APIFloorWorkflow, APIFloorInput{ID: s.Credential.ID, Local: f.local})
	if err != nil {
		http.Error(w, "start: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	answer(w, floorAnswer{ID: run.GetID(), RunID: run.GetRunID()})
}

// signal delivers the signal to the credential's sink with SignalWithStart.
func (f *apiFloor) signal(w http.ResponseWriter, r *http.Request) {
	s, ok := decodeFloorSignal(w, r)
	if !ok {
		return
	}
	if s.Expect < 1 {
		http.Error(w, "expect must be at least 1", http.StatusBadRequest)
		return
	}
	run, err := f.c.SignalWithStartWorkflow(r.Context(), s.Credential.ID, "signal", s.SourceEventID,
		client.StartWorkflowOptions{ID: s.Credential.ID, TaskQueue: floorQueue}, SinkWorkflow, s.Expect)
	if err != nil {
		http.Error(w, "signal: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	answer(w, floorAnswer{ID: run.GetID(), RunID: run.GetRunID()})
}

// post sends body to path and decodes the answer.
func (f *apiFloor) post(ctx context.Context, path string, body []byte) (floorAnswer, error) {
	var a floorAnswer
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url+path, bytes.NewReader(body))
	if err != nil {
		return a, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.http.Do(req)
	if err != nil {
		return a, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return a, err
	}
	if resp.StatusCode != http.StatusAccepted {
		return a, fmt.Errorf("POST %s: %s: %s", path, resp.Status, b)
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("POST %s: answer: %w", path, err)
	}
	if a.RunID == "" {
		return a, errors.New("POST " + path + ": answer without a run ID")
	}
	return a, nil
}

// run posts a signal about credID and waits for the workflow's result, as the
// floor waits (Get, a long poll on the close event). The clock starts just before
// the POST.
func (f *apiFloor) run(ctx context.Context, credID string) (sample, error) {
	body, err := signalBody(credID)
	if err != nil {
		return sample{}, err
	}
	t0 := time.Now()
	a, err := f.post(ctx, "/floor/runs", body)
	if err != nil {
		return sample{}, fmt.Errorf("api floor %s: %w", credID, err)
	}
	s := sample{accepted: time.Since(t0)}
	var sum int
	if err := f.c.GetWorkflow(ctx, a.ID, a.RunID).Get(ctx, &sum); err != nil {
		return s, fmt.Errorf("api floor %s: %w", credID, err)
	}
	s.total = time.Since(t0)
	if n := len(f.local); sum != n*(n+1)/2 {
		return s, fmt.Errorf("api floor %s: result %d, want %d", credID, sum, n*(n+1)/2)
	}
	return s, nil
}

// signalBody is a signal about a generic_token credID, as (a+) and (b) post it.
func signalBody(credID string) ([]byte, error) {
	return json.Marshal(map[string]any{
		"source": "bench", "origin": "enterprise", "kind": "credential_exposed",
		"observed_at": time.Now().UTC().Format(time.RFC3339), "severity": "high",
		"credential": map[string]any{"provider": "bench", "type": "generic_token", "id": credID},
	})
}
