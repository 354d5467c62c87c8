package tests

import (
	"context"
	"crypto/ed25519"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/ledger"
)

// TestLedgerRecordsTheIncident checks that what the incident did reaches the ledger
// through the workflow's own activity, in order, once each, verifiable, and without
// the API token that submitted the signals.
func TestLedgerRecordsTheIncident(t *testing.T) {
	cfg := newConfig(t)
	cfg.Ledger.Anchors.File = filepath.Join(t.TempDir(), "anchors.jsonl") // outside the data dir
	s := startStack(t, cfg)
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
	// The worker anchored the incident's head at its close, signed with the key sever
	// dev keeps in the data dir, and the ledger agrees with every checkpoint.
	key, err := app.LedgerSigningKey(context.Background(), cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	// The activity appends the closing entry, then writes its checkpoint: wait for
	// the checkpoint rather than race it.
	var cps []ledger.Checkpoint
	waitFor(t, "a checkpoint of the incident's head at its close", func() error {
		cps, err = ledger.ReadAnchors(context.Background(), key.Public().(ed25519.PublicKey), &ledger.FileSink{Path: cfg.Ledger.Anchors.File})
		if err != nil {
			return err
		}
		for _, c := range cps {
			if c.Scope == ledger.ScopeIncident && c.Heads[0].Incident == sub.IncidentID && c.Heads[0].Seq == entries[len(entries)-1].Seq {
				return nil
			}
		}
		return errNotYet
	})
	if brks, err := l.CompareAnchors(context.Background(), cps); err != nil || len(brks) > 0 {
		t.Fatalf("compare with the checkpoints: %v %v", brks, err)
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
