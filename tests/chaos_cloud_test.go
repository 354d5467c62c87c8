package tests

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/ledger"
)

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
	logs, logger := keepLogs()
	cfg := awsConfig(t)
	s := startStackWith(t, app.DevOptions{Config: cfg, DrillCloud: true, Seed: &seed, Logger: logger})

	var ids []string
	for i, key := range keys {
		sig := awsSignal(fmt.Sprintf("ev-chaos-cloud-%d", i))
		c := sig["credential"].(map[string]any)
		c["id"], c["principal"] = key, fmt.Sprintf("chaos-ci-%d", i)
		ids = append(ids, s.api.submit(t, sig).IncidentID)
	}
	s.api.waitAllContained(t, ids, "faults")
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
		secrets := map[string]string{}
		for _, k := range append(keys, drillcloud.DefaultCompromisedKeyID, drillcloud.DefaultResponderKeyID) {
			c, err := s.Cloud.Credentials(k)
			if err != nil || len(c.SecretAccessKey) < 20 {
				t.Fatalf("no secret for %s: %v", k, err)
			}
			secrets["the secret key of "+k] = c.SecretAccessKey
		}
		secretsInNoRecordOf(t, s, ids, map[string]string{"stack log": logs.String()}, secrets)
	})
}
