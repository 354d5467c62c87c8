package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever"
)

// Storm is the signal storm: many signals about few credentials must land in exactly
// one incident per credential with every signal accounted for.
type Storm struct {
	Signals     int     `json:"signals"`
	Credentials int     `json:"credentials"`
	Concurrency int     `json:"concurrency"`
	EngineWall  float64 `json:"engine_wall_ms"`
	EngineRate  float64 `json:"engine_signals_per_s"`
	FloorWall   float64 `json:"floor_wall_ms"`
	FloorRate   float64 `json:"floor_signals_per_s"`
	Ratio       float64 `json:"ratio"`
	// The API floor's storm: the same SignalWithStart calls, each made by a JSON
	// POST on loopback (no ledger: sever batches a storm's facts per workflow task,
	// a few hundredths of a millisecond a signal).
	APIFloorWall float64 `json:"api_floor_wall_ms"`
	APIFloorRate float64 `json:"api_floor_signals_per_s"`
	APIRatio     float64 `json:"ratio_api"`
	// Incidents is how many distinct incidents the signals opened; Runs how many
	// workflow runs they have in all (more than Incidents would mean a split).
	Incidents int            `json:"incidents"`
	Recorded  int            `json:"recorded"`
	Answers   map[string]int `json:"answers"`
	Accounted bool           `json:"all_accounted"`
	Errors    int            `json:"errors"`
}

// Parked is the memory of the whole process with many incidents waiting for people,
// measured at several counts of open incidents in the same process so the cost of
// one is a slope, not a guess from a single point.
type Parked struct {
	// Incidents is the largest level asked for; Parked how many of them ended up
	// waiting for approval.
	Incidents int `json:"incidents"`
	Parked    int `json:"parked"`
	// BaseRSSMB and BaseHeapMB are the figures before the phase parked anything
	// (level 0: server, worker, API and the incidents of earlier phases).
	BaseRSSMB  float64       `json:"base_rss_mb"`
	BaseHeapMB float64       `json:"base_go_heap_mb"`
	Levels     []ParkedLevel `json:"levels"`
	// RSSPerKB and HeapPerKB are the least-squares slopes through level 0 and every
	// level: memory per parked incident.
	RSSPerKB  float64 `json:"rss_per_incident_kb"`
	HeapPerKB float64 `json:"go_heap_per_incident_kb"`
	// StickyCache is the worker's sticky workflow cache size during the run: parked
	// incidents beyond it are evicted and replayed when a person decides.
	StickyCache int     `json:"sticky_cache"`
	WallS       float64 `json:"wall_s"`
	PeakRSSMB   float64 `json:"peak_rss_mb"`
	Errors      int     `json:"errors"`
}

// ParkedLevel is the process's memory with Parked incidents waiting.
type ParkedLevel struct {
	Parked int     `json:"parked"`
	RSSMB  float64 `json:"rss_mb"`
	HeapMB float64 `json:"go_heap_mb"`
}

// slope is the least-squares slope of y over x.
func slope(x, y []float64) float64 {
	n := float64(len(x))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range x {
		sx, sy, sxx, sxy = sx+x[i], sy+y[i], sxx+x[i]*x[i], sxy+x[i]*y[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

// memNow collects garbage and reads the process's RSS and Go heap (MB).
func memNow() (rss, heap float64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return procMB("VmRSS"), float64(m.HeapAlloc) / (1 << 20)
}

// parkedRunbook parks each incident on an approval nobody gives during the bench.
const parkedRunbook = "bench-parked"

func writeParkedRunbook(dir string) error {
	rb := `name: ` + parkedRunbook + `
version: "1"
description: Benchmark runbook that waits for an approval nobody gives.
match:
  credential_types: [generic_token]
  signal_kinds: [anomalous_usage]
  priority: 200
steps:
  - id: hold
    action: sever.noop
    approval:
      approvers: [U0BENCHNOBODY]
      deadline: 24h
      on_timeout: deny
`
	return os.WriteFile(filepath.Join(dir, parkedRunbook+".yaml"), []byte(rb), 0o600)
}

// SinkWorkflow is the storm's floor: it does nothing but take signals until it has
// seen expect of them, the least any engine must do with a SignalWithStart.
func SinkWorkflow(ctx workflow.Context, expect int) (int, error) {
	ch := workflow.GetSignalChannel(ctx, "signal")
	n := 0
	for n < expect {
		var v string
		ch.Receive(ctx, &v)
		n++
	}
	return n, nil
}

// spread runs count operations on conc goroutines and returns the wall time.
func spread(ctx context.Context, conc, count int, op func(context.Context, int) error, fail func(error)) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range min(conc, count) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= count || ctx.Err() != nil {
					return
				}
				if err := op(ctx, i); err != nil {
					fail(err)
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

func (b *bench) storm(ctx context.Context) error {
	o := b.o
	st := &Storm{Signals: o.stormSignals, Credentials: o.stormCreds, Concurrency: o.stormConc, Answers: map[string]int{}}
	b.rep.Storm = st
	perCred := o.stormSignals / o.stormCreds
	var errs atomic.Int64
	fail := func(err error) { errs.Add(1); b.fail(err) }

	// Floor: raw SignalWithStart calls, one sink workflow per credential.
	b.pause(ctx)
	b.logf("storm floor: %d SignalWithStart calls on %d workflows", o.stormSignals, o.stormCreds)
	stop := b.cpuProfile("storm-floor")
	wall := spread(ctx, o.stormConc, o.stormSignals, func(ctx context.Context, i int) error {
		id := b.id("storm-a", i%o.stormCreds)
		_, err := b.floor.c.SignalWithStartWorkflow(ctx, id, "signal", strconv.Itoa(i),
			client.StartWorkflowOptions{ID: id, TaskQueue: floorQueue}, SinkWorkflow, perCred)
		return err
	}, fail)
	stop()
	st.FloorWall, st.FloorRate = ms(wall), rate(o.stormSignals, wall)
	// Each sink ends once it has taken its credential's every signal.
	checkSinks := func(side, tag string) {
		for c := range o.stormCreds {
			var n int
			if err := b.floor.c.GetWorkflow(ctx, b.id(tag, c), "").Get(ctx, &n); err != nil || n != perCred {
				fail(fmt.Errorf("storm %s sink %d: %d signals (%v)", side, c, n, err))
			}
		}
	}
	checkSinks("floor", "storm-a")

	// API floor: the same calls, each behind a POST.
	b.pause(ctx)
	b.logf("storm api floor: %d POSTs, each a SignalWithStart on %d workflows", o.stormSignals, o.stormCreds)
	stop = b.cpuProfile("storm-api-floor")
	wall = spread(ctx, o.stormConc, o.stormSignals, func(ctx context.Context, i int) error {
		body, err := stormBody(b.id("storm-a+", i%o.stormCreds), i, perCred)
		if err == nil {
			_, err = b.api.post(ctx, "/floor/signals", body)
		}
		if err != nil {
			return fmt.Errorf("storm api floor signal %d: %w", i, err)
		}
		return nil
	}, fail)
	stop()
	st.APIFloorWall, st.APIFloorRate = ms(wall), rate(o.stormSignals, wall)
	checkSinks("api floor", "storm-a+")

	// Engine: the same count through POST /v1/signals (Prefer: respond-async), each a
	// distinct event.
	b.pause(ctx)
	b.logf("storm engine: %d signals about %d credentials", o.stormSignals, o.stormCreds)
	var mu sync.Mutex
	incidents := map[string]bool{}
	stop = b.cpuProfile("storm-engine")
	wall = spread(ctx, o.stormConc, o.stormSignals, func(ctx context.Context, i int) error {
		body, err := stormBody(b.id("storm-b", i%o.stormCreds), i, 0)
		if err != nil {
			return err
		}
		var sub submitResult
		// A flood's sender does not wait for each signal's dedup answer; the signal is
		// durable once accepted, and the check below accounts for every one.
		if err := b.eng.doPrefer(ctx, http.MethodPost, "/v1/signals", "respond-async", body, http.StatusAccepted, &sub); err != nil {
			return fmt.Errorf("storm signal %d: %w", i, err)
		}
		mu.Lock()
		incidents[sub.IncidentID] = true
		st.Answers[sub.Status]++
		mu.Unlock()
		return nil
	}, fail)
	stop()
	st.EngineWall, st.EngineRate = ms(wall), rate(o.stormSignals, wall)
	st.Ratio, st.APIRatio = ratio(st.EngineRate, st.FloorRate), ratio(st.EngineRate, st.APIFloorRate)
	st.Incidents = len(incidents)

	// Every signal accounted for: each incident records all of its credential's
	// signals (queued answers included), none twice, in one run.
	deadline := time.Now().Add(2 * time.Minute)
	for id := range incidents {
		for {
			inc, err := b.eng.incident(ctx, id)
			if err == nil && inc.SignalCount() == perCred {
				st.Recorded += inc.SignalCount()
				if inc.Runs > 1 || inc.Duplicates != 0 {
					fail(fmt.Errorf("storm incident %s: %d runs, %d duplicates", id, inc.Runs, inc.Duplicates))
				}
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				n := -1
				if inc != nil {
					n = inc.SignalCount()
				}
				fail(fmt.Errorf("storm incident %s: %d of %d signals recorded (%v)", id, n, perCred, err))
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	st.Errors = int(errs.Load())
	st.Accounted = st.Incidents == o.stormCreds && st.Recorded == o.stormSignals && st.Errors == 0
	b.logf("storm: engine %.0f signals/s, floor %.0f/s (%.2f×), api floor %.0f/s (%.2f×); %d incidents, %d of %d signals recorded",
		st.EngineRate, st.FloorRate, st.Ratio, st.APIFloorRate, st.APIRatio, st.Incidents, st.Recorded, o.stormSignals)
	return nil
}

// stormBody is the storm's signal number i about credID; expect is for the API
// floor's sink (0 leaves it out).
func stormBody(credID string, i, expect int) ([]byte, error) {
	m := map[string]any{
		"source": "bench-storm", "origin": "enterprise", "kind": "credential_exposed",
		"source_event_id": "storm-" + strconv.Itoa(i), "observed_at": time.Now().UTC().Format(time.RFC3339),
		"credential": map[string]any{"provider": "bench", "type": "generic_token", "id": credID},
	}
	if expect > 0 {
		m["expect"] = expect
	}
	return json.Marshal(m)
}

func (b *bench) parked(ctx context.Context) error {
	o := b.o
	p := &Parked{Incidents: o.parked[len(o.parked)-1], StickyCache: b.stickyCache}
	b.rep.Parked = p
	var errs atomic.Int64
	fail := func(err error) { errs.Add(1); b.fail(err) }
	b.pause(ctx)
	p.BaseRSSMB, p.BaseHeapMB = memNow()
	p.BaseRSSMB, p.BaseHeapMB = round(p.BaseRSSMB), round(p.BaseHeapMB)
	xs, rss, heap := []float64{0}, []float64{p.BaseRSSMB}, []float64{p.BaseHeapMB}
	start := time.Now()
	from := 0
	for _, level := range o.parked {
		b.logf("parked: %d more incidents waiting for approval (%d in all)", level-from, level)
		p.Parked += b.park(ctx, from, level, fail)
		from = level
		r, h := memNow()
		l := ParkedLevel{Parked: p.Parked, RSSMB: round(r), HeapMB: round(h)}
		p.Levels = append(p.Levels, l)
		xs, rss, heap = append(xs, float64(l.Parked)), append(rss, l.RSSMB), append(heap, l.HeapMB)
		b.logf("parked: %d waiting; RSS %.0f MB, Go heap %.0f MB", l.Parked, l.RSSMB, l.HeapMB)
	}
	p.WallS = round(time.Since(start).Seconds())
	p.PeakRSSMB = procMB("VmHWM")
	p.Errors = int(errs.Load())
	// A slope, not a ratio: the baseline (server, worker, API) is not part of what a
	// parked incident costs.
	p.RSSPerKB, p.HeapPerKB = round(slope(xs, rss)*1024), round(slope(xs, heap)*1024)
	b.logf("parked: %.0f KB RSS, %.0f KB Go heap per incident (sticky cache %d)", p.RSSPerKB, p.HeapPerKB, p.StickyCache)
	return nil
}

// park opens incidents from..to-1 on the parked runbook and waits until each waits
// for its approval; it returns how many do.
func (b *bench) park(ctx context.Context, from, to int, fail func(error)) int {
	n := to - from
	ids := make([]string, n)
	spread(ctx, 20, n, func(ctx context.Context, i int) error {
		body, _ := json.Marshal(map[string]any{
			"source": "bench-parked", "origin": "enterprise", "kind": "anomalous_usage",
			"observed_at": time.Now().UTC().Format(time.RFC3339),
			"credential":  map[string]any{"provider": "bench", "type": "generic_token", "id": b.id("parked", from+i)},
		})
		var sub submitResult
		if err := b.eng.do(ctx, http.MethodPost, "/v1/signals", body, http.StatusAccepted, &sub); err != nil {
			return fmt.Errorf("parked signal %d: %w", from+i, err)
		}
		ids[i] = sub.IncidentID
		return nil
	}, fail)
	var parked atomic.Int64
	spread(ctx, 20, n, func(ctx context.Context, i int) error {
		if ids[i] == "" {
			return nil
		}
		deadline := time.Now().Add(5 * time.Minute)
		for {
			inc, err := b.eng.incident(ctx, ids[i])
			if err == nil && inc.Runbook.Name == parkedRunbook && len(inc.Steps) == 1 && inc.Steps[0].Status == sever.StepWaitingApproval {
				parked.Add(1)
				return nil
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("parked incident %s never waited for approval (%v)", ids[i], err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}, fail)
	return int(parked.Load())
}

// procMB reads a memory figure of this process from /proc/self/status (Linux): the
// bench runs the whole stack (server, worker, API) in this one process.
func procMB(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return round(kb / 1024)
			}
		}
	}
	return 0
}
