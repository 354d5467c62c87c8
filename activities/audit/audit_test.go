package audit

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/sever-ir/sever/contract"
	"github.com/sever-ir/sever/ledger"
)

func open(t *testing.T, name string) *ledger.Store {
	t.Helper()
	l, err := ledger.Open(filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestAppendIsIdempotentSeparatesDrillsAndRecordsRefusals(t *testing.T) {
	prod, drill := open(t, "ledger.db"), open(t, "drill.db")
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	(&Activities{Ledger: prod, Drill: drill}).Register(env)
	at := time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC)
	in := contract.LedgerAppendInput{IncidentID: "inc-1", Facts: []contract.LedgerFact{
		{At: at, Kind: contract.FactSignal, Actor: "siem", Key: "1/signal/s1"},
		// A secret pasted into a summary must not reach the ledger.
		{At: at, Kind: contract.FactStepOutcome, Step: "disable", Result: "key sk-ant-api03-" + strings.Repeat("x", 40), Key: "1/step/disable/outcome"},
	}}
	for i, want := range []contract.LedgerAppendResult{{Appended: 2}, {Existing: 2}} {
		v, err := env.ExecuteActivity(contract.ActivityLedgerAppend, in)
		if err != nil {
			t.Fatal(err)
		}
		var got contract.LedgerAppendResult
		if err := v.Get(&got); err != nil || got != want {
			t.Fatalf("batch %d = %+v, %v; want %+v", i, got, err, want)
		}
	}
	entries, _ := prod.Entries(context.Background(), "inc-1")
	if len(entries) != 2 || !strings.HasPrefix(entries[1].Result, "fact refused by the ledger") || strings.Contains(entries[1].Result, "sk-ant") {
		t.Fatalf("entries = %+v", entries)
	}
	in.Drill = true
	if _, err := env.ExecuteActivity(contract.ActivityLedgerAppend, in); err != nil {
		t.Fatal(err)
	}
	if d, _ := drill.Entries(context.Background(), "inc-1"); len(d) != 2 {
		t.Errorf("drill ledger has %d entries, want 2", len(d))
	}
}
