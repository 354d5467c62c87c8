package azureact

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
	"github.com/sever-ir/sever/activities/internal/acttest"
	"github.com/sever-ir/sever/drillcloud"
)

// fixture is an Azure twin with sever's privileged application, a victim
// application with two secrets, and an Azure OpenAI account.
type fixture struct {
	twin             *drillcloud.AzureTwin
	hc               *http.Client
	acts             *Activities
	appID            string
	keyID, secret    string // the leaked secret
	otherKeyID       string
	account          string
	key1, key2       string
	severID, severSK string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	twin := drillcloud.NewAzureTwin()
	srv := httptest.NewServer(twin)
	t.Cleanup(srv.Close)
	f := &fixture{twin: twin, hc: drillcloud.AzureClient(srv.URL)}
	var err error
	f.severID = twin.AddApp("sever", true)
	if _, f.severSK, err = twin.AddSecret(f.severID, "sever"); err != nil {
		t.Fatal(err)
	}
	f.appID = twin.AddApp("payments-batch", false)
	if f.keyID, f.secret, err = twin.AddSecret(f.appID, "ci"); err != nil {
		t.Fatal(err)
	}
	if f.otherKeyID, _, err = twin.AddSecret(f.appID, "prod"); err != nil {
		t.Fatal(err)
	}
	f.account, f.key1, f.key2 = twin.AddOpenAIAccount("rg-ml", "acme-openai")
	cred, err := SecretCredential(twin.TenantID, f.severID, f.severSK, f.hc)
	if err != nil {
		t.Fatal(err)
	}
	f.acts = &Activities{Credential: cred, HTTP: f.hc}
	return f
}

func (f *fixture) secretInput(action string, args sever.Values) sever.ActionInput {
	return sever.ActionInput{IncidentID: "inc-1", StepID: "s", Action: action, IdempotencyKey: "k", Args: args,
		Credential: sever.Credential{Provider: "azure", Type: sever.CredAzureAppSecret, ID: f.appID + "/" + f.keyID}}
}

func (f *fixture) accountInput(action string, args sever.Values) sever.ActionInput {
	return sever.ActionInput{IncidentID: "inc-1", StepID: "s", Action: action, IdempotencyKey: "k", Args: args,
		Credential: sever.Credential{Provider: "azure", Type: sever.CredAzureOpenAIKey, ID: f.account}}
}

// noSecret fails when any secret appears in what an action returned.
func (f *fixture) noSecret(t *testing.T, res sever.ActionResult, err error) {
	t.Helper()
	b, _ := json.Marshal(res)
	for _, s := range []string{f.secret, f.severSK, f.key1, f.key2} {
		if strings.Contains(string(b), s) {
			t.Fatalf("result carries a secret: %s", b)
		}
		if err != nil && strings.Contains(fmt.Sprintf("%v %+v", err, err), s) {
			t.Fatalf("error carries a secret: %v", err)
		}
	}
}

func errType(err error) (string, bool) {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type(), ae.NonRetryable()
	}
	return "", false
}

// TestRemovePassword: the leaked secret is removed and read back gone, the other
// secret stays, a second run is a verified no-op, and the attacker's next token
// request with the secret is refused.
func TestRemovePassword(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := drillcloud.AzureAttackSecret(ctx, f.hc, f.twin.TenantID, f.appID, f.secret); err != nil {
		t.Fatalf("attacker before containment: %v, want a token", err)
	}
	res, err := f.acts.RemovePassword(ctx, f.secretInput(sever.ActionAzureEntraRemovePassword, sever.Values{"reason": "leak"}))
	f.noSecret(t, res, err)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified || !res.Changed || res.Enforcement != sever.EnterpriseEnforced {
		t.Errorf("%+v; want verified, changed, enterprise_enforced", res)
	}
	// Run again without an earlier attempt's word that it sent the removal, the
	// step cannot tell its own removal from a secret it never saw.
	res, err = f.acts.RemovePassword(ctx, f.secretInput(sever.ActionAzureEntraRemovePassword, sever.Values{"reason": "leak"}))
	f.noSecret(t, res, err)
	if typ, nonRetryable := errType(err); typ != activities.ErrNotFound || !nonRetryable {
		t.Errorf("second run without the marker: %+v %v; want a permanent NotFound", res, err)
	}
	if f.twin.SecretPresent(f.appID, f.keyID) || !f.twin.SecretPresent(f.appID, f.otherKeyID) {
		t.Error("the twin does not show exactly the leaked secret removed")
	}
	var ref *drillcloud.AzureRefusal
	if err := drillcloud.AzureAttackSecret(ctx, f.hc, f.twin.TenantID, f.appID, f.secret); !errors.As(err, &ref) || ref.Code != "AADSTS7000215" {
		t.Errorf("attacker after containment: %v, want AADSTS7000215", err)
	}
	for _, tc := range []struct {
		expect string
		want   bool
	}{{"", true}, {"absent", true}, {"present", false}} {
		res, err := f.acts.PasswordStatus(ctx, f.secretInput(sever.ActionAzureEntraPasswordStatus, sever.Values{"expect": tc.expect}))
		if err != nil || res.Verified != tc.want {
			t.Errorf("status expect %q: %+v %v; want verified %v", tc.expect, res, err, tc.want)
		}
	}
}

// TestOpenAILocalAuth: disabling key authentication refuses the attacker's key,
// reads back, is idempotent, and the compensation lets the key work again.
func TestOpenAILocalAuth(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := drillcloud.AzureAttackOpenAIKey(ctx, f.hc, "acme-openai", f.key1); err != nil {
		t.Fatalf("attacker before containment: %v", err)
	}
	for i, wantChanged := range []bool{true, false} {
		res, err := f.acts.DisableLocalAuth(ctx, f.accountInput(sever.ActionAzureOpenAIDisableLocalAuth, nil))
		f.noSecret(t, res, err)
		if err != nil || !res.Verified || res.Changed != wantChanged || res.Enforcement != sever.EnterpriseEnforced {
			t.Fatalf("disable run %d: %+v %v", i, res, err)
		}
	}
	var ref *drillcloud.AzureRefusal
	if err := drillcloud.AzureAttackOpenAIKey(ctx, f.hc, "acme-openai", f.key2); !errors.As(err, &ref) || ref.Code != "AuthenticationTypeDisabled" {
		t.Errorf("attacker after containment: %v, want AuthenticationTypeDisabled", err)
	}
	for _, tc := range []struct {
		expect string
		want   bool
	}{{"", true}, {"disabled", true}, {"enabled", false}} {
		res, err := f.acts.LocalAuthStatus(ctx, f.accountInput(sever.ActionAzureOpenAILocalAuthStatus, sever.Values{"expect": tc.expect}))
		if err != nil || res.Verified != tc.want {
			t.Errorf("status expect %q: %+v %v; want verified %v", tc.expect, res, err, tc.want)
		}
	}
	res, err := f.acts.EnableLocalAuth(ctx, f.accountInput(sever.ActionAzureOpenAIEnableLocalAuth, nil))
	if err != nil || !res.Verified || !res.Changed || f.twin.LocalAuthDisabled(f.account) {
		t.Fatalf("enable: %+v %v", res, err)
	}
	if err := drillcloud.AzureAttackOpenAIKey(ctx, f.hc, "acme-openai", f.key1); err != nil {
		t.Errorf("key after compensation: %v, want accepted", err)
	}
}

// TestRegenerateKey: each choice regenerates exactly those keys, the old ones are
// refused, and no key appears in the result.
func TestRegenerateKey(t *testing.T) {
	for _, tc := range []struct {
		key                string
		key1Dead, key2Dead bool
	}{{"", true, true}, {"both", true, true}, {"key1", true, false}, {"key2", false, true}} {
		t.Run("key="+tc.key, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			res, err := f.acts.RegenerateKey(ctx, f.accountInput(sever.ActionAzureOpenAIRegenerateKey, sever.Values{"key": tc.key}))
			f.noSecret(t, res, err)
			if err != nil || !res.Verified || !res.Changed {
				t.Fatalf("regenerate: %+v %v", res, err)
			}
			for _, k := range []struct {
				v    string
				dead bool
			}{{f.key1, tc.key1Dead}, {f.key2, tc.key2Dead}} {
				err := drillcloud.AzureAttackOpenAIKey(ctx, f.hc, "acme-openai", k.v)
				if (err != nil) != k.dead {
					t.Errorf("old key refused = %v, want %v", err, k.dead)
				}
			}
		})
	}
}

// TestEvidence: the sign-in logs and the activity log are read, counted and
// hashed, and never carry a secret.
func TestEvidence(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_ = drillcloud.AzureAttackSecret(ctx, f.hc, f.twin.TenantID, f.appID, f.secret)
	_ = drillcloud.AzureAttackSecret(ctx, f.hc, f.twin.TenantID, f.appID, "wrong")
	res, err := f.acts.SignInLogs(ctx, f.secretInput(sever.ActionAzureEntraSignIns, sever.Values{"lookback": "1h"}))
	f.noSecret(t, res, err)
	if err != nil || !res.Verified || res.Output["sign_ins"] != 2 || res.Output["with_key"] != 1 || len(res.Evidence) != 1 || len(res.Evidence[0].SHA256) != 64 {
		t.Errorf("sign-in logs: %+v %v", res, err)
	}
	if _, err := f.acts.DisableLocalAuth(ctx, f.accountInput(sever.ActionAzureOpenAIDisableLocalAuth, nil)); err != nil {
		t.Fatal(err)
	}
	res, err = f.acts.ActivityLog(ctx, f.accountInput(sever.ActionAzureActivityLog, nil))
	f.noSecret(t, res, err)
	if err != nil || res.Output["events"] != 1 || len(res.Evidence) != 1 {
		t.Errorf("activity log: %+v %v", res, err)
	}
}

// TestFaults: throttling and outages are retryable errors of stable types, a
// dropped connection is retryable, and the next attempt succeeds.
func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		op, action string
		status     int
		wantType   string
	}{
		{"get_application", sever.ActionAzureEntraRemovePassword, 429, ErrThrottled},
		{"remove_password", sever.ActionAzureEntraRemovePassword, 503, ErrUnavailable},
		{"remove_password", sever.ActionAzureEntraRemovePassword, 0, ""},
		{"patch_account", sever.ActionAzureOpenAIDisableLocalAuth, 500, ErrUnavailable},
		{"get_account", sever.ActionAzureOpenAIDisableLocalAuth, 429, ErrThrottled},
		{"regenerate_key", sever.ActionAzureOpenAIRegenerateKey, 503, ErrUnavailable},
		{"list_keys", sever.ActionAzureOpenAIRegenerateKey, 0, ""},
		{"sign_ins", sever.ActionAzureEntraSignIns, 503, ErrUnavailable},
		{"activity_log", sever.ActionAzureActivityLog, 429, ErrThrottled},
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.op, tc.status), func(t *testing.T) {
			f := newFixture(t)
			in := f.accountInput(tc.action, nil)
			if tc.action == sever.ActionAzureEntraRemovePassword || tc.action == sever.ActionAzureEntraSignIns {
				in = f.secretInput(tc.action, nil)
			}
			run := map[string]func(context.Context, sever.ActionInput) (sever.ActionResult, error){
				sever.ActionAzureEntraRemovePassword:    f.acts.RemovePassword,
				sever.ActionAzureOpenAIDisableLocalAuth: f.acts.DisableLocalAuth,
				sever.ActionAzureOpenAIRegenerateKey:    f.acts.RegenerateKey,
				sever.ActionAzureEntraSignIns:           f.acts.SignInLogs,
				sever.ActionAzureActivityLog:            f.acts.ActivityLog,
			}[tc.action]
			f.twin.FailNext(tc.op, tc.status)
			res, err := run(context.Background(), in)
			f.noSecret(t, res, err)
			typ, final := errType(err)
			if err == nil || final || typ != tc.wantType {
				t.Fatalf("with the fault: %v (type %q, non-retryable %v); want retryable %q", err, typ, final, tc.wantType)
			}
			res, err = run(context.Background(), in)
			if err != nil || !res.Verified {
				t.Fatalf("the retry: %+v %v", res, err)
			}
		})
	}
}

// TestRefusals: wrong credential types, malformed ids, unknown resources, bad
// arguments and a principal without rights fail permanently with stable types.
func TestRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	victim, err := SecretCredential(f.twin.TenantID, f.appID, f.secret, f.hc)
	if err != nil {
		t.Fatal(err)
	}
	weak := &Activities{Credential: victim, HTTP: f.hc}
	ghost := "00000000-0000-4000-8000-000000000000"
	withID := func(in sever.ActionInput, id string) sever.ActionInput { in.Credential.ID = id; return in }
	withType := func(in sever.ActionInput, typ sever.CredentialType) sever.ActionInput {
		in.Credential.Type = typ
		return in
	}
	for _, tc := range []struct {
		name string
		run  func() (sever.ActionResult, error)
		want string
	}{
		{"type", func() (sever.ActionResult, error) {
			return f.acts.RemovePassword(ctx, withType(f.secretInput(sever.ActionAzureEntraRemovePassword, nil), sever.CredAzureOpenAIKey))
		}, activities.ErrUnsupported},
		{"secret id", func() (sever.ActionResult, error) {
			return f.acts.RemovePassword(ctx, withID(f.secretInput(sever.ActionAzureEntraRemovePassword, nil), f.appID))
		}, activities.ErrInvalidArgument},
		{"account id", func() (sever.ActionResult, error) {
			return f.acts.DisableLocalAuth(ctx, withID(f.accountInput(sever.ActionAzureOpenAIDisableLocalAuth, nil), "/subscriptions/x/accounts/y"))
		}, activities.ErrInvalidArgument},
		{"unknown app", func() (sever.ActionResult, error) {
			return f.acts.PasswordStatus(ctx, withID(f.secretInput(sever.ActionAzureEntraPasswordStatus, nil), ghost+"/"+f.keyID))
		}, activities.ErrNotFound},
		{"unknown account", func() (sever.ActionResult, error) {
			return f.acts.LocalAuthStatus(ctx, withID(f.accountInput(sever.ActionAzureOpenAILocalAuthStatus, nil), strings.Replace(f.account, "acme-openai", "nope", 1)))
		}, activities.ErrNotFound},
		{"expect", func() (sever.ActionResult, error) {
			return f.acts.PasswordStatus(ctx, f.secretInput(sever.ActionAzureEntraPasswordStatus, sever.Values{"expect": "gone"}))
		}, activities.ErrInvalidArgument},
		{"key", func() (sever.ActionResult, error) {
			return f.acts.RegenerateKey(ctx, f.accountInput(sever.ActionAzureOpenAIRegenerateKey, sever.Values{"key": "key3"}))
		}, activities.ErrInvalidArgument},
		{"unknown arg", func() (sever.ActionResult, error) {
			return f.acts.RemovePassword(ctx, f.secretInput(sever.ActionAzureEntraRemovePassword, sever.Values{"secret": "x"}))
		}, activities.ErrInvalidArgument},
		{"lookback", func() (sever.ActionResult, error) {
			return f.acts.SignInLogs(ctx, f.secretInput(sever.ActionAzureEntraSignIns, sever.Values{"lookback": "forever"}))
		}, activities.ErrInvalidArgument},
		{"no rights", func() (sever.ActionResult, error) {
			return weak.RemovePassword(ctx, f.secretInput(sever.ActionAzureEntraRemovePassword, nil))
		}, activities.ErrAccessDenied},
		{"refused credential", func() (sever.ActionResult, error) {
			bad, _ := SecretCredential(f.twin.TenantID, f.severID, "not-the-secret", f.hc)
			return (&Activities{Credential: bad, HTTP: f.hc}).DisableLocalAuth(ctx, f.accountInput(sever.ActionAzureOpenAIDisableLocalAuth, nil))
		}, activities.ErrAccessDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := tc.run()
			f.noSecret(t, res, err)
			if typ, final := errType(err); typ != tc.want || !final {
				t.Errorf("err = %v (type %q, non-retryable %v); want permanent %s", err, typ, final, tc.want)
			}
		})
	}
	if !f.twin.SecretPresent(f.appID, f.keyID) || f.twin.LocalAuthDisabled(f.account) {
		t.Error("a refused call changed the twin")
	}
}

func TestParseIDs(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"11111111-2222-4333-8444-555555555555/66666666-7777-4888-9999-aaaaaaaaaaaa", true},
		{"11111111-2222-4333-8444-555555555555", false},
		{"11111111-2222-4333-8444-555555555555/x", false},
		{"a/b/c", false},
	} {
		if _, _, err := ParseAppSecretID(tc.id); (err == nil) != tc.ok {
			t.Errorf("ParseAppSecretID(%q) = %v", tc.id, err)
		}
	}
	for _, tc := range []struct {
		id, name string
		ok       bool
	}{
		{"/subscriptions/3f2e1d0c-9b8a-4765-8432-10fedcba9876/resourceGroups/rg-ml/providers/Microsoft.CognitiveServices/accounts/acme-openai", "acme-openai", true},
		{"/SUBSCRIPTIONS/3F2E1D0C-9B8A-4765-8432-10FEDCBA9876/resourcegroups/rg/providers/microsoft.cognitiveservices/ACCOUNTS/a1", "a1", true},
		{"/subscriptions/3f2e1d0c-9b8a-4765-8432-10fedcba9876/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/x1", "", false},
		{"/subscriptions/3f2e1d0c-9b8a-4765-8432-10fedcba9876/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a1/listKeys", "", false},
		{"/subscriptions/3f2e1d0c-9b8a-4765-8432-10fedcba9876/resourceGroups/../providers/Microsoft.CognitiveServices/accounts/a1", "", false},
	} {
		ac, err := ParseAccountID(tc.id)
		if (err == nil) != tc.ok || ac.Name != tc.name {
			t.Errorf("ParseAccountID(%q) = %+v, %v", tc.id, ac, err)
		}
	}
}

// FuzzParseIDs: credential ids come from signals; a parsed id must round-trip to
// a path without separators or query characters of its own.
func FuzzParseIDs(f *testing.F) {
	f.Add("11111111-2222-4333-8444-555555555555/66666666-7777-4888-9999-aaaaaaaaaaaa")
	f.Add("/subscriptions/3f2e1d0c-9b8a-4765-8432-10fedcba9876/resourceGroups/rg-ml/providers/Microsoft.CognitiveServices/accounts/acme-openai")
	f.Fuzz(func(t *testing.T, id string) {
		if app, key, err := ParseAppSecretID(id); err == nil {
			if !guidRE.MatchString(app) || !guidRE.MatchString(key) {
				t.Fatalf("%q parsed to %q %q", id, app, key)
			}
		}
		if ac, err := ParseAccountID(id); err == nil {
			for _, s := range []string{ac.Subscription, ac.ResourceGroup, ac.Name} {
				if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/?#%'") {
					t.Fatalf("%q parsed to %+v", id, ac)
				}
			}
			if again, err := ParseAccountID(ac.ID()); err != nil || again != ac {
				t.Fatalf("%q does not round-trip: %+v %v", id, again, err)
			}
		}
	})
}

// A retry of the attempt that sent the removal finds the secret gone and is a
// verified no-op; a secret that was never listed (a mistyped key id) fails
// NotFound instead of passing for contained.
func TestRemovePasswordRetry(t *testing.T) {
	for _, tc := range []struct {
		name        string
		keyID       func(f *fixture) string
		removed     bool // removed by an earlier attempt
		heartbeat   bool // that attempt recorded it sent the removal
		wantErr     string
		wantChanged bool
	}{
		{name: "first attempt", keyID: func(f *fixture) string { return f.keyID }, wantChanged: true},
		{name: "retry of the attempt that sent it", keyID: func(f *fixture) string { return f.keyID }, removed: true, heartbeat: true},
		{name: "gone without an earlier attempt", keyID: func(f *fixture) string { return f.keyID }, removed: true, wantErr: activities.ErrNotFound},
		{name: "mistyped key id", keyID: func(*fixture) string { return "00000000-0000-0000-0000-000000000000" }, wantErr: activities.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			env := acttest.Suite().NewTestActivityEnvironment()
			f.acts.Register(env)
			in := f.secretInput(sever.ActionAzureEntraRemovePassword, sever.Values{"reason": "leak"})
			in.Credential.ID = f.appID + "/" + tc.keyID(f)
			if tc.removed {
				if _, err := f.acts.RemovePassword(context.Background(), in); err != nil {
					t.Fatal(err)
				}
			}
			if tc.heartbeat {
				env.SetHeartbeatDetails(removeProgress + in.Credential.ID)
			}
			v, err := env.ExecuteActivity(in.Action, in)
			if got, _ := errType(err); got != tc.wantErr {
				t.Fatalf("%v (type %q), want %q", err, got, tc.wantErr)
			}
			if err != nil {
				return
			}
			var res sever.ActionResult
			if err := v.Get(&res); err != nil || !res.Verified || res.Changed != tc.wantChanged {
				t.Errorf("%+v %v; want verified, changed %v", res, err, tc.wantChanged)
			}
		})
	}
}
