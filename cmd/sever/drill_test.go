package main

import (
	"strings"
	"testing"
)

// Every `sever drill run` keeps its result in the drill ledger of the data dir, and
// `sever drill history` shows one row per run of the scenario, with the trend, as a
// table or as a page with an SVG chart.
func TestDrillRunKeepsHistory(t *testing.T) {
	dir := t.TempDir()
	for i := range 2 {
		_, stderr, err := run(t, "--data-dir", dir, "drill", "run", "bedrock-key-stolen")
		if err != nil {
			t.Fatalf("drill run %d: %v\n%s", i+1, err, stderr)
		}
		if !strings.Contains(stderr, "drill-history/bedrock-key-stolen") {
			t.Errorf("drill run %d did not say where it kept the result:\n%s", i+1, stderr)
		}
	}
	out, _, err := run(t, "--data-dir", dir, "drill", "history", "--scenario", "bedrock-key-stolen")
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "bedrock-key-stolen  ") {
			rows++
		}
	}
	if rows != 2 || !strings.Contains(out, "2 runs; ") {
		t.Errorf("history shows %d rows; want 2:\n%s", rows, out)
	}
	page, _, err := run(t, "--data-dir", dir, "drill", "history", "--format", "html")
	if err != nil || !strings.Contains(page, "<svg") || !strings.Contains(page, "bedrock-key-stolen") {
		t.Errorf("history page (%v) has no chart:\n%.400s", err, page)
	}
	if _, _, err := run(t, "--data-dir", dir, "drill", "run", "bedrock-key-stolen", "--approvers", "carrier-pigeon"); err == nil {
		t.Error("an unknown --approvers was accepted")
	}
}
