package drillcloud

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// vaultClient is the real Vault client pointed at the cloud with token.
func vaultClient(t *testing.T, c *Cloud, token string) *vault.Client {
	t.Helper()
	cfg := vault.DefaultConfig()
	cfg.Address, cfg.MaxRetries = c.URL(), 0
	vc, err := vault.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	vc.SetToken(token)
	return vc
}

func vaultStatus(err error) int {
	var re *vault.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// The Vault twin answers the real client on the drill cloud's listener: lookup
// and revocation by accessor take the token's children and leases along, the
// attacker's next call with the token is refused, privileged paths refuse an
// application token, and the audit device hashes accessors as sys/audit-hash does.
func TestVaultTwinWithRealClient(t *testing.T) {
	c := defaultCloud(t)
	twin, responder := NewVaultTwin(filepath.Join(t.TempDir(), "audit.log"))
	c.ServeVault(twin)
	stolen := twin.AddToken(TokenSpec{Accessor: DefaultVaultAccessor, DisplayName: "ci-deployer", Policies: []string{"deploy"}})
	child := twin.AddToken(TokenSpec{DisplayName: "child", Parent: stolen})
	ctx := context.Background()

	if st, err := VaultAttack(ctx, c.URL(), stolen, true); err != nil || st != http.StatusOK {
		t.Fatalf("attacker before revocation: %d %v, want 200", st, err)
	}
	if n := len(twin.Leases(DefaultVaultLeasePrefix)); n != 1 {
		t.Fatalf("leases after the attacker minted credentials = %d, want 1", n)
	}
	// An application token may not use the responder's paths.
	if _, err := vaultClient(t, c, stolen).Auth().Token().LookupAccessor(DefaultVaultAccessor); vaultStatus(err) != http.StatusForbidden {
		t.Errorf("lookup-accessor with the stolen token: %v, want 403", err)
	}

	vc := vaultClient(t, c, responder)
	sec, err := vc.Auth().Token().LookupAccessor(DefaultVaultAccessor)
	if err != nil || sec.Data["display_name"] != "token-ci-deployer" || sec.Data["id"] != "" {
		t.Fatalf("lookup-accessor = %+v, %v", sec, err)
	}
	if err := vc.Auth().Token().RevokeAccessor(DefaultVaultAccessor); err != nil {
		t.Fatalf("revoke-accessor: %v", err)
	}
	if _, err := vc.Auth().Token().LookupAccessor(DefaultVaultAccessor); vaultStatus(err) != http.StatusBadRequest ||
		!strings.Contains(err.Error(), "invalid accessor") {
		t.Errorf("lookup-accessor after revocation: %v, want 400 invalid accessor", err)
	}
	for name, tok := range map[string]string{"stolen": stolen, "child": child} {
		if st, _ := VaultAttack(ctx, c.URL(), tok, false); st != http.StatusForbidden {
			t.Errorf("%s token after revocation: %d, want 403", name, st)
		}
	}
	if n := len(twin.Leases(DefaultVaultLeasePrefix)); n != 0 {
		t.Errorf("leases of the revoked token = %d, want 0", n)
	}
	if n := c.Applied("vault:" + VaultOpRevokeAccessor); n != 1 {
		t.Errorf("call log shows %d applied revocations, want 1", n)
	}

	// The audit device names the stolen token by the HMAC sys/audit-hash returns.
	h, err := vc.Sys().AuditHash(strings.TrimSuffix(DefaultVaultAuditPath, "/"), DefaultVaultAccessor)
	if err != nil || h != twin.Hash(DefaultVaultAccessor) {
		t.Fatalf("audit-hash = %q, %v", h, err)
	}
	log := twin.AuditLog()
	if !bytes.Contains(log, []byte(h)) || bytes.Contains(log, []byte(stolen)) || bytes.Contains(log, []byte(responder)) {
		t.Error("the audit log must name the token by its HMAC and never hold a token")
	}
	devs, err := vc.Sys().ListAudit()
	if err != nil || devs[DefaultVaultAuditPath] == nil || devs[DefaultVaultAuditPath].Options["file_path"] != twin.AuditFile() {
		t.Errorf("sys/audit = %+v, %v", devs, err)
	}
}

// Injected faults reach Vault calls by service "vault", operation and the
// caller's accessor, answered as Vault answers them.
func TestVaultTwinFaults(t *testing.T) {
	c := defaultCloud(t)
	twin, responder := NewVaultTwin("")
	c.ServeVault(twin)
	twin.AddToken(TokenSpec{Accessor: DefaultVaultAccessor})
	vc := vaultClient(t, c, responder)
	for _, tc := range []struct {
		kind FaultKind
		want int
	}{
		{FaultThrottle, http.StatusTooManyRequests},
		{FaultServerError, http.StatusInternalServerError},
		{FaultAccessDenied, http.StatusForbidden},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			if err := c.InjectFault(Fault{Service: VaultService, Operation: VaultOpRevokeAccessor, Kind: tc.kind, Count: 1}); err != nil {
				t.Fatal(err)
			}
			if err := vc.Auth().Token().RevokeAccessor(DefaultVaultAccessor); vaultStatus(err) != tc.want {
				t.Errorf("revoke-accessor under %s: %v, want %d", tc.kind, err, tc.want)
			}
			if !twin.TokenLive(DefaultVaultAccessor) {
				t.Error("a refused revocation revoked the token")
			}
		})
	}
}
