package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sever-ir/sever/internal/histsize"
	"go.temporal.io/sdk/client"
)

// Flood is what a flood of distinct signals about one credential costs an incident:
// its history (events and bytes over every run, and the largest single payload) and
// how often it continued as new. Bounded state keeps each run's history and its
// largest payload flat however long the flood lasts.
type Flood struct {
	Signals  int `json:"signals"`
	Accepted int `json:"accepted"`
	Shed     int `json:"shed"`
	// Runs of the incident's workflow; ContinueAsNewPer1000 = (Runs-1) per 1,000
	// accepted signals.
	Runs                 int     `json:"runs"`
	ContinueAsNewPer1000 float64 `json:"continue_as_new_per_1000_signals"`
	HistoryEvents        int     `json:"history_events"`
	HistoryBytes         int     `json:"history_bytes"`
	LargestPayloadBytes  int     `json:"largest_payload_bytes"`
	Recorded             int     `json:"recorded"`
	WallS                float64 `json:"wall_s"`
	Errors               int     `json:"errors"`
}

// maxFloodPayload is the target for the largest payload: a quarter of Temporal's
// 2 MB limit.
const maxFloodPayload = 512 << 10

func (b *bench) flood(ctx context.Context) error {
	o := b.o
	fl := &Flood{Signals: o.flood}
	b.rep.Flood = fl
	var errs, accepted, shed atomic.Int64
	fail := func(err error) { errs.Add(1); b.fail(err) }
	credID := b.id("flood", 0)
	pad := strings.Repeat("f", 2000)
	b.pause(ctx)
	b.logf("flood: %d distinct signals about one credential, %d senders", o.flood, o.stormConc)
	start := time.Now()
	var incID atomic.Value
	spread(ctx, min(o.stormConc, 8), o.flood, func(ctx context.Context, i int) error {
		body, _ := json.Marshal(map[string]any{
			"source": "bench-flood", "origin": "enterprise", "kind": "credential_exposed",
			"source_event_id": "flood-" + strconv.Itoa(i), "observed_at": time.Now().UTC().Format(time.RFC3339),
			"summary":    pad,
			"credential": map[string]any{"provider": "bench", "type": "generic_token", "id": credID},
		})
		var sub submitResult
		err := b.eng.doPrefer(ctx, http.MethodPost, "/v1/signals", "respond-async", body, http.StatusAccepted, &sub)
		switch {
		case err == nil:
			accepted.Add(1)
			incID.Store(sub.IncidentID)
		case strings.Contains(err.Error(), " 429 "):
			shed.Add(1) // admission control shed it; not an error of the engine
		default:
			return fmt.Errorf("flood signal %d: %w", i, err)
		}
		return nil
	}, fail)
	fl.Accepted, fl.Shed = int(accepted.Load()), int(shed.Load())
	id, _ := incID.Load().(string)
	if id == "" {
		fl.Errors = int(errs.Load())
		return errors.New("flood: no signal accepted")
	}
	// Every accepted signal is recorded, then the history is measured over all runs.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		inc, err := b.eng.incident(ctx, id)
		if err == nil {
			fl.Recorded = inc.SignalCount()
			if fl.Recorded >= fl.Accepted {
				break
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			fail(fmt.Errorf("flood incident %s: %d of %d accepted signals recorded (%v)", id, fl.Recorded, fl.Accepted, err))
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	fl.WallS = round(time.Since(start).Seconds())
	if err := measureHistory(ctx, b.floor.c, id, fl); err != nil {
		fail(err)
	}
	if fl.Accepted > 0 {
		fl.ContinueAsNewPer1000 = round(float64(fl.Runs-1) * 1000 / float64(fl.Accepted))
	}
	fl.Errors = int(errs.Load())
	b.logf("flood: %d accepted, %d shed, %d runs (%.1f continue-as-new per 1,000), history %d events %d bytes, largest payload %d bytes",
		fl.Accepted, fl.Shed, fl.Runs, fl.ContinueAsNewPer1000, fl.HistoryEvents, fl.HistoryBytes, fl.LargestPayloadBytes)
	return nil
}

// measureHistory adds the figures of every run of the incident to fl.
func measureHistory(ctx context.Context, c client.Client, id string, fl *Flood) error {
	f, err := histsize.Measure(ctx, c, id)
	fl.Runs += f.Runs
	fl.HistoryEvents += f.Events
	fl.HistoryBytes += f.Bytes
	fl.LargestPayloadBytes = max(fl.LargestPayloadBytes, f.LargestPayload)
	return err
}
