package vaultact

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities/internal/acttest"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/runbooks"
)

// The built-in Vault runbook handles every signal about a vault_token, reads
// before it revokes, makes the revocation the verified containment step of record,
// and its vault.* steps, run in order with their exact arguments against the
// twin as the interpreter calls them (action, then its verify), revoke the token.
func TestBuiltinVaultRunbook(t *testing.T) {
	lib, _ := acttest.Builtin(t)
	rb, ok := lib.Get("vault-token-exposed")
	if !ok {
		t.Fatal("vault-token-exposed not loaded")
	}
	for _, k := range sever.SignalKinds {
		if got, err := lib.Select(sever.CredVaultToken, k); err != nil || got != rb {
			t.Errorf("Select(vault_token, %s) = %v, %v", k, got, err)
		}
	}
	byID := map[string]sever.RunbookStep{}
	for _, st := range rb.Steps {
		byID[st.ID] = st
	}
	rev := byID["revoke"]
	if rev.Action != sever.ActionVaultRevokeAccessor || !rev.Containment || rev.Enforcement != sever.EnterpriseEnforced || rev.Compensate != nil {
		t.Errorf("revoke = %+v; want enterprise-enforced containment, no compensation", rev)
	}
	if !slices.Contains(rev.Needs, "capture") || !slices.Contains(rev.Needs, "lookup") {
		t.Errorf("revoke needs %v; evidence (capture, lookup) must come first", rev.Needs)
	}
	if rev.Verify == nil || rev.Verify.Action != sever.ActionVaultAccessorStatus || rev.Verify.Args["expect"] != "revoked" {
		t.Errorf("revoke.verify = %+v", rev.Verify)
	}
	if a := byID["audit"]; a.Action != sever.ActionVaultAuditEvents || a.Containment || a.OnFailure != sever.FailContinue {
		t.Errorf("audit = %+v; want read-only evidence that never holds up containment", a)
	}

	def, err := runbooks.DefaultPolicy(sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	pre, err := runbooks.LoadPolicy("../../runbooks/policy/aws-preapproved.yaml", sever.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*sever.Policy{def, pre} {
		for _, drill := range []bool{false, true} {
			for _, a := range []string{sever.ActionVaultRevokeAccessor, sever.ActionVaultRevokeLeasePrefix} {
				if d := p.Decide(a, sever.CredVaultToken, drill); d.Mode != sever.ModeApproval {
					t.Errorf("%s: %s (drill=%v) = %+v; irreversible, want approval", p.Name, a, drill, d)
				}
			}
			for _, a := range []string{sever.ActionVaultLookupAccessor, sever.ActionVaultAccessorStatus,
				sever.ActionVaultLeasePrefixStatus, sever.ActionVaultAuditEvents} {
				if d := p.Decide(a, sever.CredVaultToken, drill); d.Mode != sever.ModeAuto {
					t.Errorf("%s: %s (drill=%v) = %+v; read-only, want auto", p.Name, a, drill, d)
				}
			}
		}
	}

	f := newFixture(t)
	ctx := context.Background()
	acts := map[string]func(context.Context, sever.ActionInput) (sever.ActionResult, error){
		sever.ActionVaultLookupAccessor: f.a.LookupAccessor, sever.ActionVaultRevokeAccessor: f.a.RevokeAccessor,
		sever.ActionVaultAccessorStatus: f.a.AccessorStatus, sever.ActionVaultAuditEvents: f.a.AuditEvents,
	}
	for _, st := range rb.Steps {
		if !strings.HasPrefix(st.Action, "vault.") {
			continue
		}
		res, err := acts[st.Action](ctx, input(st.Action, drillcloud.DefaultVaultAccessor, st.Args))
		if err != nil {
			t.Fatalf("step %s: %v", st.ID, err)
		}
		if st.Verify != nil {
			v, err := acts[st.Verify.Action](ctx, input(st.Verify.Action, drillcloud.DefaultVaultAccessor, st.Verify.Args))
			if err != nil || !v.Verified {
				t.Errorf("step %s verify: %+v, %v", st.ID, v, err)
			}
		}
		_ = res
	}
	if f.twin.TokenLive(drillcloud.DefaultVaultAccessor) {
		t.Error("the runbook left the token live")
	}
}
