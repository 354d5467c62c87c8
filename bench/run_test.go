package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// A small run of every phase on the embedded stack: each side runs what it says
// (the floors their sums and ledger batches, the engine its runbook, checked by the
// phases themselves), nothing fails, and the report has a figure for every side.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded stack")
	}
	t.Chdir("..") // the bench reads the policy from the repository root
	o, err := parseFlags([]string{"-quick", "-out", "", "-n", "3", "-warmup", "1", "-count", "4", "-conc", "2",
		"-storm", "40", "-storm-creds", "4", "-storm-conc", "4", "-parked", "5,10", "-aws", "2", "-aws-conc", "3",
		"-families", "1", "-flood", "0", "-settle", "10ms"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var log bytes.Buffer
	rep, err := run(ctx, o, &log)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	if rep.ErrorCount != 0 {
		t.Fatalf("%d errors: %s\n%s", rep.ErrorCount, strings.Join(rep.Errors, "\n"), log.String())
	}
	l := rep.Latency
	if l.Floor.Count != 3 || l.APIFloor.Count != 3 || l.Engine.Count != 3 {
		t.Errorf("latency samples: floor %d, api floor %d, engine %d, want 3 each", l.Floor.Count, l.APIFloor.Count, l.Engine.Count)
	}
	if len(rep.Throughput) != 1 {
		t.Fatalf("%d throughput levels, want 1", len(rep.Throughput))
	}
	lv := rep.Throughput[0]
	if lv.FloorRate <= 0 || lv.APIFloorRate <= 0 || lv.EngineRate <= 0 || lv.Ratio <= 0 || lv.APIRatio <= 0 {
		t.Errorf("throughput: floor %v, api floor %v, engine %v, ratios %v and %v", lv.FloorRate, lv.APIFloorRate, lv.EngineRate, lv.Ratio, lv.APIRatio)
	}
	if st := rep.Storm; st == nil || !st.Accounted || st.APIFloorRate <= 0 {
		t.Errorf("storm: %+v", st)
	}
	if a := rep.AWSConcurrent; a == nil || a.Applied != 3 {
		t.Errorf("aws at once: %+v", a)
	}
	if p := rep.Parked; p == nil || p.Parked != 10 {
		t.Errorf("parked: %+v", p)
	}
	var md bytes.Buffer
	rep.markdown(&md)
	for _, want := range []string{"(a+) API floor", "Beside the API floor (a+)", "API floor (a+, each SignalWithStart"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}
