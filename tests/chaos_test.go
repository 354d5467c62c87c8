package tests

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/ledger"
)

// chaosIncidents is how many incidents the worker-kill chaos runs: a short form in
// `make test`, SEVER_CHAOS_INCIDENTS=20 in `make chaos`.
func chaosIncidents(t *testing.T) int {
	if v := os.Getenv("SEVER_CHAOS_INCIDENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("SEVER_CHAOS_INCIDENTS=%q is not a positive number", v)
		}
		return n
	}
	return 6
}

// TestChaosWorkerKills runs incidents while their worker is SIGKILLed at random
// points (before or after any activity, ledger appends included) and restarted by a
// supervisor, as systemd or Kubernetes would. Every incident is contained, no token
// is disabled twice, and every ledger verifies with each fact once.
func TestChaosWorkerKills(t *testing.T) {
	n := chaosIncidents(t)
	cfg := newConfig(t)
	rbDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(rbDir, "scale-out.yaml"), []byte(scaleOutRunbook), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Runbooks.Dir = rbDir
	cfgPath := filepath.Join(t.TempDir(), "sever.yaml")
	if err := os.WriteFile(cfgPath, []byte("data_dir: "+cfg.DataDir+"\nrunbooks:\n  dir: "+rbDir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startStackWith(t, app.DevOptions{Config: cfg, NoWorker: true})

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	kills := 0
	wg.Go(func() {
		for ctx.Err() == nil {
			p := startWorkerProcess(t, s, cfgPath, envCrash+"="+crashRandom+"0.08")
			select {
			case <-p.done:
				kills++
			case <-ctx.Done():
			}
		}
	})

	var ids []string
	var creds []cred
	for i := range n {
		c := tokenCred("acme-chaos", "tok-chaos-"+strconv.Itoa(i))
		s.enrol(t, c.id)
		creds = append(creds, c)
		ids = append(ids, s.api.submit(t, nativeSignal(c, "ev-chaos-"+strconv.Itoa(i))).IncidentID)
	}
	s.api.waitAllContained(t, ids, "chaos")
	cancel()
	wg.Wait()
	t.Logf("%d incidents contained through %d worker kills", n, kills)

	requireDisabledOnce(t, s.Tokens, creds)
	l, err := ledger.Open(filepath.Join(cfg.DataDir, ledger.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// The last facts are written when the runbook has ended; a killed worker may leave
	// them to the next one for a few seconds.
	for _, id := range ids {
		waitFor(t, "the contained status of "+id+" in the ledger", func() error {
			entries, err := l.Entries(context.Background(), id)
			if err != nil {
				return err
			}
			seen := map[string]bool{}
			for _, e := range entries {
				if seen[e.Key] {
					t.Fatalf("%s: fact %s written twice", id, e.Key)
				}
				seen[e.Key] = true
			}
			for _, e := range entries {
				if e.Detail["status"] == "contained" {
					return nil
				}
			}
			return errNotYet
		})
	}
	if brk, err := l.VerifyAll(context.Background()); err != nil || brk != nil {
		t.Fatalf("ledger verify: %v %+v", err, brk)
	}
}
