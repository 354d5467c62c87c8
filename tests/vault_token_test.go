package tests

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/ledger"
)

// vaultTestPolicy pre-approves the Vault actions, as a drill policy would, so the
// test needs no approver; the built-in policy asks a SOC lead to approve the
// revocation (vaultact.TestBuiltinVaultRunbook).
const vaultTestPolicy = `name: vault-e2e
version: "1"
rules:
  - id: evidence-auto
    actions: ["sever.evidence.*", "sever.notify.*"]
    mode: auto
  - id: vault-auto
    actions: ["vault.*"]
    mode: auto
`

// TestVaultTokenRevoked: a Vault audit entry a SIEM flagged, posted to
// /v1/signals/vault-audit, names a stolen token by its accessor and opens an
// incident on the built-in runbook; the audit device's entries
// made with the token are read as evidence, the token is revoked by accessor with
// sever's own Vault token and read back, the attacker's next call with it is
// refused and the dynamic credentials it minted are revoked with it, the ledger
// records the revocation as enterprise_enforced and verified, and neither the
// stolen token nor sever's is in any log line, workflow history, report, ledger or
// other file of the data dir.
func TestVaultTokenRevoked(t *testing.T) {
	logs, logger := keepLogs()
	s := startDrillStack(t, policyConfig(t, vaultTestPolicy), logger)
	twin := s.Cloud.Vault()
	if twin == nil || s.Vault == nil {
		t.Fatal("sever dev serves no Vault twin on its drill cloud")
	}
	stolen, ok := twin.TokenOf(drillcloud.DefaultVaultAccessor)
	if !ok {
		t.Fatal("the drill Vault has no compromised token")
	}
	responder, err := s.Vault.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The attacker cashes the token in: a KV read and dynamic AWS credentials.
	for range 2 {
		if st, err := drillcloud.VaultAttack(ctx, s.Cloud.URL(), stolen, true); err != nil || st != http.StatusOK {
			t.Fatalf("attacker before containment: %d %v, want 200", st, err)
		}
	}
	if n := len(twin.Leases(drillcloud.DefaultVaultLeasePrefix)); n != 2 {
		t.Fatalf("the attacker holds %d leases, want 2", n)
	}

	// The SIEM forwards the audit entry it flagged (an hmac_accessor=false device).
	entry := fmt.Sprintf(`{"time":%q,"type":"response",`+
		`"auth":{"client_token":"hmac-sha256:00ff","accessor":%q,"display_name":"token-ci-deployer","policies":["default","deploy"],"token_type":"service"},`+
		`"request":{"id":"c1a0b7a2-4f3e-11ef-9a1b-0242ac120002","operation":"read","path":%q,"remote_address":"203.0.113.66"}}`,
		time.Now().UTC().Format(time.RFC3339Nano), drillcloud.DefaultVaultAccessor, drillcloud.DefaultVaultLeaseMount)
	resp := s.api.mustSend(t, req{method: http.MethodPost, path: "/v1/signals/vault-audit", body: []byte(entry)})
	if resp.status != http.StatusAccepted {
		t.Fatalf("POST /v1/signals/vault-audit: %d %s", resp.status, resp.body)
	}
	answer := decode[struct {
		Signals []submitJSON `json:"signals"`
	}](t, "vault-audit answer", resp)
	if len(answer.Signals) != 1 || answer.Signals[0].IncidentID == "" {
		t.Fatalf("vault-audit answered %s; want one signal", resp.body)
	}
	sub := answer.Signals[0]
	inc := s.api.waitIncident(t, sub.IncidentID, "the token revoked and verified", func(inc incidentJSON) bool {
		return inc.Status == "contained" && inc.step("notify").Status == "succeeded" && inc.step("audit").Status == "succeeded"
	})
	if inc.Credential.Type != "vault_token" || inc.Runbook.Name != "vault-token-exposed" {
		t.Errorf("incident = %+v, runbook %+v", inc.Credential, inc.Runbook)
	}
	if st := inc.step("revoke"); !st.Verified || st.Enforcement != "enterprise_enforced" || !strings.HasPrefix(st.Actor, "vault-token:") {
		t.Errorf("revoke step = %+v; want verified, enterprise_enforced, by sever's Vault token", st)
	}
	audit := s.api.stepDetail(t, sub.IncidentID, "audit")
	if ev, _ := audit.Output["events"].(float64); ev < 4 {
		t.Errorf("audit step found %v entries made with the token, want the attacker's 4: %+v", audit.Output["events"], audit)
	}

	// The attacker's next call with the token is refused; what it minted is gone.
	if st, err := drillcloud.VaultAttack(ctx, s.Cloud.URL(), stolen, false); err != nil || st != http.StatusForbidden {
		t.Errorf("attacker after containment: %d %v, want 403", st, err)
	}
	if n := len(twin.Leases(drillcloud.DefaultVaultLeasePrefix)); n != 0 {
		t.Errorf("%d leases of the revoked token left", n)
	}
	if n := s.Cloud.Applied("vault:" + drillcloud.VaultOpRevokeAccessor); n != 1 {
		t.Errorf("revocations applied = %d, want 1", n)
	}

	outcomes := ledgerOutcomes(t, filepath.Join(s.Config.DataDir, ledger.FileName), inc)
	if e := outcomes["revoke"]; e.Enforcement != "enterprise_enforced" || e.Detail["verified"] != "true" {
		t.Errorf("ledger revoke: enforcement %q verified %q", e.Enforcement, e.Detail["verified"])
	}

	// Neither token is in any record: stack log, workflow history, reports, data dir.
	secretsInNoRecord(t, s, sub.IncidentID, map[string]string{"stack log": logs.String()},
		map[string]string{"the stolen Vault token": stolen, "sever's Vault token": responder})
}
