package tests

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sever-ir/sever/ledger"
)

// TestLedgerRecordsTheIncident checks that what the incident did reaches the ledger
// through the workflow's own activity, in order, once each, verifiable, and without
// the API token that submitted the signals.
func TestLedgerRecordsTheIncident(t *testing.T) {
	s := startStack(t, newConfig(t))
	c := tokenCred("acme-internal", "tok-ledger-1")
	s.enrol(t, c.id)
	sub := s.api.submit(t, nativeSignal(c, "ev-ledger-1"))
	s.api.submit(t, nativeSignal(c, "ev-ledger-1")) // a resend: one duplicate fact
	s.api.waitIncident(t, sub.IncidentID, "contained", func(i incidentJSON) bool { return i.Status == "contained" })
	s.api.closeIncident(t, sub.IncidentID, "rotated by owner")

	l, err := ledger.Open(filepath.Join(s.Config.DataDir, ledger.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var entries []ledger.Entry
	waitFor(t, "the closing status in the ledger", func() error {
		entries, err = l.Entries(context.Background(), sub.IncidentID)
		if err != nil {
			return err
		}
		if n := len(entries); n == 0 || entries[n-1].Detail["status"] != "closed" {
			return errNotYet
		}
		return nil
	})
	var kinds []string
	for _, e := range entries {
		k := string(e.Kind)
		if e.Step != "" {
			k += ":" + e.Step
		}
		kinds = append(kinds, k)
		if strings.Contains(e.Result+strings.Join(mapValues(e.Detail), " "), s.DevToken) {
			t.Errorf("entry %d carries the API token", e.Seq)
		}
	}
	got := strings.Join(kinds, " ")
	for _, want := range []string{"incident_status", "signal", "duplicate_signal", "policy_decision:disable",
		"step_outcome:disable", "step_outcome:notify"} {
		if !strings.Contains(got, want) {
			t.Errorf("ledger lacks %s: %s", want, got)
		}
	}
	if strings.Count(got, "step_outcome:disable") != 1 || strings.Count(got, "duplicate_signal") != 1 {
		t.Errorf("facts recorded more than once: %s", got)
	}
	for _, e := range entries {
		if e.Kind == ledger.KindStepOutcome && e.Step == "disable" &&
			(e.Enforcement != "enterprise_enforced" || e.Detail["verified"] != "true" || e.PolicyRule != "token-disable-auto") {
			t.Errorf("disable outcome = %+v", e)
		}
	}
	if brk, err := l.VerifyAll(context.Background()); err != nil || brk != nil {
		t.Fatalf("verify: %v %v", brk, err)
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
