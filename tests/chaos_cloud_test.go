package tests

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/temporalproto"

	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/ledger"
)

// lockedBuffer keeps every log line (the secret scan must see all of them).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestChaosDrillCloudFaults contains stolen keys while the drill cloud throttles 30%
// of calls, fails 10% with a 500 and drops 5% of responses after applying them. Every
// incident is contained, no key is deactivated twice, every ledger verifies, and
// afterwards no secret key material of the drill cloud appears in workflow
// histories, logs, ledgers, evidence or reports.
func TestChaosDrillCloudFaults(t *testing.T) {
	n := chaosIncidents(t)
	seed := drillcloud.DefaultSeed()
	var keys []string
	for i := range n {
		user, key := fmt.Sprintf("chaos-ci-%d", i), fmt.Sprintf("AKIACHAOS%011d", i)
		seed.Accounts[0].Users = append(seed.Accounts[0].Users, drillcloud.SeedUser{Name: user, Keys: []drillcloud.SeedKey{{ID: key}}})
		keys = append(keys, key)
	}
	seed.RandSeed = 7
	seed.Faults = append(seed.Faults,
		drillcloud.Fault{Kind: drillcloud.FaultThrottle, Probability: 0.30},
		drillcloud.Fault{Kind: drillcloud.FaultServerError, Probability: 0.10},
		drillcloud.Fault{Kind: drillcloud.FaultDropResponse, Probability: 0.05})
	logs := &lockedBuffer{}
	cfg := newConfig(t)
	cfg.Runbooks.Policy = filepath.Join("..", "runbooks", "policy", "aws-preapproved.yaml")
	s := startStackWith(t, app.DevOptions{Config: cfg, DrillCloud: true, Seed: &seed,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})

	var ids []string
	for i, key := range keys {
		sig := awsSignal(fmt.Sprintf("ev-chaos-cloud-%d", i))
		c := sig["credential"].(map[string]any)
		c["id"], c["principal"] = key, fmt.Sprintf("chaos-ci-%d", i)
		ids = append(ids, s.api.submit(t, sig).IncidentID)
	}
	for _, id := range ids {
		deadline := time.Now().Add(3 * time.Minute)
		for {
			inc, _, err := s.api.incident(id)
			if err == nil && inc.Status != "open" {
				if inc.Status != "contained" {
					t.Errorf("%s: %s (%s): %s", id, inc.Status, inc.Reason, stepStates(inc))
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still open after 3 minutes of faults", id)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	s.Cloud.ClearFaults()
	for _, key := range keys {
		if k, _ := s.Cloud.Key(key); k.Status != "Inactive" {
			t.Errorf("key %s is %s", key, k.Status)
		}
	}
	// Each key changed once, however many times the call was retried.
	if got := s.Cloud.Applied("UpdateAccessKey"); got != n {
		t.Errorf("UpdateAccessKey applied %d times for %d keys", got, n)
	}
	faults := 0
	for _, e := range s.Cloud.Calls() {
		if e.ErrorCode != "" {
			faults++
		}
	}
	t.Logf("%d incidents contained through %d failed calls out of %d", n, faults, len(s.Cloud.Calls()))

	l, err := ledger.Open(filepath.Join(cfg.DataDir, ledger.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	waitFor(t, "every incident's status in the ledger", func() error {
		for _, id := range ids {
			entries, err := l.Entries(context.Background(), id)
			if err != nil {
				return err
			}
			if len(entries) == 0 || entries[len(entries)-1].Detail["status"] != "contained" {
				return errNotYet
			}
		}
		return nil
	})
	if brk, err := l.VerifyAll(context.Background()); err != nil || brk != nil {
		t.Fatalf("ledger verify: %v %+v", err, brk)
	}

	t.Run("secret scan", func(t *testing.T) {
		var secrets []string
		for _, k := range append(keys, drillcloud.DefaultCompromisedKeyID, drillcloud.DefaultResponderKeyID) {
			c, err := s.Cloud.Credentials(k)
			if err != nil || len(c.SecretAccessKey) < 20 {
				t.Fatalf("no secret for %s: %v", k, err)
			}
			secrets = append(secrets, c.SecretAccessKey)
		}
		var corpus []struct{ where, text string }
		add := func(where string, b []byte) { corpus = append(corpus, struct{ where, text string }{where, string(b)}) }
		add("stack log", []byte(logs.String()))
		ctx := context.Background()
		for _, id := range ids {
			it := s.Client.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for it.HasNext() {
				ev, err := it.Next()
				if err != nil {
					t.Fatal(err)
				}
				b, _ := temporalproto.CustomJSONMarshalOptions{}.Marshal(ev)
				add("history of "+id, b)
			}
			for _, f := range []string{"md", "json", "html", "ocsf"} {
				code, body := get(t, s, "/v1/incidents/"+id+"/report?format="+f, true)
				if code != 200 {
					t.Fatalf("report %s %s: %d", id, f, code)
				}
				add("report "+f+" of "+id, []byte(body))
			}
		}
		// The data dir holds the ledgers, the evidence and the token store.
		_ = filepath.WalkDir(cfg.DataDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.Contains(path, "temporal") {
				return nil // Temporal's own database is covered by the histories above
			}
			b, err := os.ReadFile(path)
			if err == nil {
				add(path, b)
			}
			return nil
		})
		for _, c := range corpus {
			for _, sec := range secrets {
				if strings.Contains(c.text, sec) {
					t.Errorf("secret key material found in %s", c.where)
				}
			}
		}
		t.Logf("scanned %d documents for %d secrets", len(corpus), len(secrets))
	})
}
