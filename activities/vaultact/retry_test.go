package vaultact

import (
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities/internal/acttest"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/drillcloud/drilltest"
)

// Vault applies a revocation and its answer is lost: the attempt fails
// retryably (the client does not resend a POST), and Temporal's next attempt
// finds the accessor gone and the heartbeat the first one recorded before
// sending, which says the revocation was its own. Without that heartbeat an accessor Vault does not know is never claimed
// contained. Either way Vault revokes once.
func TestRevokeAccessorAfterLostAnswer(t *testing.T) {
	for _, tc := range []struct {
		name string
		// drop drops the revocation's answer on the wire; otherwise the
		// revocation happened in an earlier attempt that timed out.
		drop, heartbeat bool
		wantErr         string
		wantChanged     bool
	}{
		{name: "answer dropped on the wire", drop: true},
		{name: "retry of the attempt that sent it", heartbeat: true},
		{name: "gone without an earlier attempt", wantErr: "NotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cloud := drilltest.Start(t, drillcloud.DefaultSeed())
			twin, responder := drillcloud.NewVaultTwin("")
			cloud.ServeVault(twin)
			twin.AddToken(drillcloud.TokenSpec{Accessor: drillcloud.DefaultVaultAccessor})
			a := &Activities{Address: cloud.URL(), Token: StaticToken(responder), Getenv: noEnv}
			env := acttest.Suite().NewTestActivityEnvironment()
			a.Register(env)
			in := input(sever.ActionVaultRevokeAccessor, drillcloud.DefaultVaultAccessor, nil)

			if tc.drop {
				if err := cloud.InjectFault(drillcloud.Fault{Service: drillcloud.VaultService, Operation: drillcloud.VaultOpRevokeAccessor,
					Kind: drillcloud.FaultDropResponse, Count: 1}); err != nil {
					t.Fatal(err)
				}
			} else {
				// The earlier attempt's revocation, applied by Vault.
				twin.RevokeByVault(drillcloud.DefaultVaultAccessor)
			}
			if tc.heartbeat {
				env.SetHeartbeatDetails(revokeProgress + drillcloud.DefaultVaultAccessor)
			}
			v, err := env.ExecuteActivity(in.Action, in)
			if tc.drop {
				if err == nil {
					t.Fatal("an attempt whose answer was dropped succeeded")
				}
				// Temporal's retry, with the heartbeat the lost attempt recorded.
				env.SetHeartbeatDetails(revokeProgress + drillcloud.DefaultVaultAccessor)
				v, err = env.ExecuteActivity(in.Action, in)
			}
			if got := errType(err); got != tc.wantErr {
				t.Fatalf("%v (type %q), want %q", err, got, tc.wantErr)
			}
			if err == nil {
				var res sever.ActionResult
				if err := v.Get(&res); err != nil || !res.Verified || res.Changed != tc.wantChanged || res.Enforcement != sever.EnterpriseEnforced {
					t.Errorf("result = %+v, %v; want verified enterprise_enforced, changed %v", res, err, tc.wantChanged)
				}
			}
			if twin.TokenLive(drillcloud.DefaultVaultAccessor) {
				t.Error("the token is live")
			}
			want := 0
			if tc.drop {
				want = 1
			}
			if n := cloud.Applied("vault:" + drillcloud.VaultOpRevokeAccessor); n != want {
				t.Errorf("revocations applied through the API = %d, want %d", n, want)
			}
		})
	}
}
