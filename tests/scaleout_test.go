package tests

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sever-ir/sever/internal/app"
)

// scaleOutRunbook is the generic token runbook with a short step timeout, so a
// worker that dies holding the disable step is noticed in seconds, not minutes.
const scaleOutRunbook = `name: scale-out-token
version: "1"
description: Capture, disable with a short timeout, verify.
match:
  credential_types: [generic_token]
  signal_kinds: [credential_exposed]
  priority: 10
# Short timeouts, so a step held by a killed worker is retried within seconds.
defaults:
  timeout: 3s
  max_attempts: 5
steps:
  - id: capture
    action: sever.evidence.capture_signals
  - id: disable
    action: tokenstore.disable_token
    needs: [capture]
    containment: true
    verify:
      action: tokenstore.token_status
      args: {expect: inactive}
`

// TestScaleOut is production's topology on one machine: sever dev is only the
// cluster; two worker processes and one API process attach to its frontend port.
// One worker is SIGKILLed right after it disabled a token, before Temporal heard of
// it; the other finishes every incident, and no token is disabled twice.
func TestScaleOut(t *testing.T) {
	cfg := newConfig(t)
	rbDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(rbDir, "scale-out.yaml"), []byte(scaleOutRunbook), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Runbooks.Dir = rbDir
	t.Setenv("SEVER_E2E_SCALE_TOKEN", "sever_e2e_scale_out_token_0123456789")
	cfgPath := filepath.Join(t.TempDir(), "sever.yaml")
	yaml := "data_dir: " + cfg.DataDir + "\nrunbooks:\n  dir: " + rbDir + "\n" +
		"intake:\n  tokens:\n    - name: e2e\n      secret: env:SEVER_E2E_SCALE_TOKEN\n      scopes: [signals:write, incidents:read, incidents:write]\n"
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startStackWith(t, app.DevOptions{Config: cfg, NoWorker: true})

	const n = 6
	var creds []cred
	for i := range n {
		c := tokenCred("acme-internal", "tok-scale-"+string(rune('a'+i)))
		s.enrol(t, c.id)
		creds = append(creds, c)
	}
	addrFile := filepath.Join(t.TempDir(), "serve-addr")
	startWorkerProcess(t, s, cfgPath, envRole+"=serve", envServeAddr+"="+addrFile)
	var addr []byte
	waitFor(t, "the API process to listen", func() error {
		var err error
		if addr, err = os.ReadFile(addrFile); err != nil || len(addr) == 0 {
			return errNotYet
		}
		return nil
	})
	api := newAPIClient("http://"+string(addr), "sever_e2e_scale_out_token_0123456789")
	waitFor(t, "the API process to answer", func() error {
		resp, err := api.send(req{method: http.MethodGet, path: "/healthz"})
		if err != nil || resp.status != http.StatusOK {
			return errNotYet
		}
		return nil
	})

	marker := filepath.Join(t.TempDir(), "crashed")
	doomed := startWorkerProcess(t, s, cfgPath, envCrash+"="+crashAfterActivity+"tokenstore.disable_token", envCrashMarker+"="+marker)
	var ids []string
	for i, c := range creds {
		ids = append(ids, api.submit(t, nativeSignal(c, "ev-scale-"+string(rune('a'+i)))).IncidentID)
	}
	doomed.killed(t, 60*time.Second)
	startWorkerProcess(t, s, cfgPath)

	for _, id := range ids {
		inc := api.waitIncident(t, id, "contained by the surviving worker", func(i incidentJSON) bool { return i.Status != "open" })
		if inc.Status != "contained" || !inc.step("disable").Verified {
			t.Errorf("%s: %s (%s), disable %+v", id, inc.Status, inc.Reason, inc.step("disable"))
		}
	}
	requireDisabledOnce(t, s.Tokens, creds)
}
