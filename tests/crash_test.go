package tests

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/ledger"
)

// TestWorkerKilledAroundLedgerAppend kills the only worker with SIGKILL right around
// the ledger append that follows the runbook's steps: before the facts are written,
// and after they are written but before Temporal learned of it. A second worker
// takes over; the incident completes and the ledger holds each fact exactly once,
// its chain intact.
func TestWorkerKilledAroundLedgerAppend(t *testing.T) {
	for _, where := range []string{"before-ledger", "after-ledger"} {
		t.Run(where, func(t *testing.T) {
			cfg := newConfig(t)
			cfgPath := filepath.Join(t.TempDir(), "sever.yaml")
			if err := os.WriteFile(cfgPath, []byte("data_dir: "+cfg.DataDir+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			s := startStackWith(t, app.DevOptions{Config: cfg, NoWorker: true})
			c := tokenCred("acme-internal", "tok-crash-"+where)
			s.enrol(t, c.id)
			marker := filepath.Join(t.TempDir(), "crashed")
			first := startWorkerProcess(t, s, cfgPath, envCrash+"="+where, envCrashMarker+"="+marker)
			sub := s.api.submit(t, nativeSignal(c, "ev-crash-"+where))
			first.killed(t, 60*time.Second)

			startWorkerProcess(t, s, cfgPath)
			inc := s.api.waitIncident(t, sub.IncidentID, "contained after the crash", func(i incidentJSON) bool { return i.Status != "open" })
			if inc.Status != "contained" {
				t.Fatalf("status %s (%s) after the worker was killed", inc.Status, inc.Reason)
			}

			l, err := ledger.Open(filepath.Join(cfg.DataDir, ledger.FileName))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			var entries []ledger.Entry
			waitFor(t, "the contained status in the ledger", func() error {
				if entries, err = l.Entries(context.Background(), sub.IncidentID); err != nil {
					return err
				}
				for _, e := range entries {
					if e.Detail["status"] == "contained" {
						return nil
					}
				}
				return errNotYet
			})
			seen := map[string]int{}
			for _, e := range entries {
				seen[e.Key]++
			}
			outcomes := 0
			for k, n := range seen {
				if n != 1 {
					t.Errorf("ledger has %d entries for %s", n, k)
				}
				if keyStep(k) != "" {
					outcomes++
				}
			}
			if outcomes != len(inc.Steps) {
				t.Errorf("ledger has %d step outcomes, the incident %d steps", outcomes, len(inc.Steps))
			}
			if brk, err := l.Verify(context.Background(), sub.IncidentID); err != nil || brk != nil {
				t.Fatalf("ledger verify: %v %+v", err, brk)
			}
		})
	}
}

// keyStep returns the step of a step-outcome fact key ("<opened>/step/<id>/outcome").
func keyStep(key string) string {
	parts := strings.Split(key, "/")
	if len(parts) == 4 && parts[1] == "step" && parts[3] == "outcome" {
		return parts[2]
	}
	return ""
}
