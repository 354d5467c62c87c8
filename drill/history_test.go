package drill

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever/ledger"
)

func fptr(v float64) *float64 { return &v }

// historyResult is a drill result as Run makes one, with the figures history keeps.
func historyResult(name string, start time.Time, first, approval, contained *float64, passed bool) *Result {
	return &Result{Scenario: ScenarioRef{Name: name, SHA256: strings.Repeat("a", 64)}, Passed: passed,
		StartedAt: start, EndedAt: start.Add(5 * time.Second), DurationSeconds: 5, Approvers: ApproversSimulated,
		Metrics: Metrics{TimeToFirstAction: first, TimeToApproval: approval, TimeToVerifiedContainment: contained, Incidents: 1}}
}

// Two runs of one scenario are two entries on its history chain in the ledger, and
// two rows of the history with the trend between them; recording a result twice
// keeps one; other scenarios have chains of their own.
func TestDrillHistory(t *testing.T) {
	ctx := context.Background()
	l, err := ledger.Open(filepath.Join(t.TempDir(), "drill-ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	runs := []*Result{
		historyResult("provider-never", t0, fptr(0.5), fptr(2.0), fptr(6.25), true),
		historyResult("provider-never", t0.Add(24*time.Hour), fptr(0.4), fptr(1.0), fptr(3.5), true),
		historyResult("approval-missed", t0, fptr(0.1), nil, nil, true),
	}
	for _, r := range runs {
		if _, err := Record(ctx, l, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Record(ctx, l, runs[1]); err != nil { // a retried record
		t.Fatal(err)
	}
	if brk, err := l.Verify(ctx, HistoryPrefix+"provider-never"); err != nil || brk != nil {
		t.Fatalf("history chain does not verify: %v %+v", err, brk)
	}

	for _, tc := range []struct {
		scenario  string
		wantChain []string
		wantRuns  []int
	}{
		{"provider-never", []string{"provider-never"}, []int{2}},
		{"", []string{"approval-missed", "provider-never"}, []int{1, 2}},
		{"never-run", []string{"never-run"}, []int{0}},
	} {
		hs, err := ReadHistory(ctx, l, tc.scenario)
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != len(tc.wantChain) {
			t.Fatalf("ReadHistory(%q) = %d scenarios; want %v", tc.scenario, len(hs), tc.wantChain)
		}
		for i, h := range hs {
			if h.Scenario != tc.wantChain[i] || len(h.Runs) != tc.wantRuns[i] {
				t.Errorf("ReadHistory(%q)[%d] = %s with %d runs; want %s with %d", tc.scenario, i, h.Scenario, len(h.Runs), tc.wantChain[i], tc.wantRuns[i])
			}
		}
	}

	hs, _ := ReadHistory(ctx, l, "provider-never")
	r1, r2 := hs[0].Runs[0], hs[0].Runs[1]
	if *r1.VerifiedContainment != 6.25 || *r2.VerifiedContainment != 3.5 || *r2.Approval != 1 || !r2.StartedAt.Equal(t0.Add(24*time.Hour)) {
		t.Errorf("runs read back = %+v, %+v", r1, r2)
	}
	var table bytes.Buffer
	if err := HistoryTable(&table, hs); err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(table.String(), "\n") {
		if strings.HasPrefix(line, "provider-never  ") {
			rows++
		}
	}
	if rows != 2 || !strings.Contains(table.String(), "verified containment 6.250s → 3.500s (-2.750s, better)") {
		t.Errorf("history table has %d rows:\n%s", rows, table.String())
	}
	var page bytes.Buffer
	if err := HistoryHTML(&page, hs); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(page.String(), "<polyline"); n != 3 || !strings.Contains(page.String(), "<svg") {
		t.Errorf("history page has %d polylines; want one per measure", n)
	}

	// A scenario that never contained draws no line, and the run report charts the
	// history it is given.
	res := runs[1]
	res.History = &hs[0]
	var report bytes.Buffer
	if err := res.HTML(&report); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(report.String(), `id="history"`) || !strings.Contains(report.String(), "<polyline") {
		t.Error("the drill report does not chart the scenario's history")
	}
	missed, _ := ReadHistory(ctx, l, "approval-missed")
	if svg := string(TrendSVG(missed[0])); strings.Contains(svg, "<polyline") || !strings.Contains(svg, "<circle") {
		t.Errorf("one run with one measure: %s", svg)
	}
}
