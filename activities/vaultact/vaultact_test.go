package vaultact

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
)

// fixture is a Vault twin with a stolen token (DefaultVaultAccessor), a child of
// it, and a lease the stolen token minted, and activities pointed at the twin.
type fixture struct {
	twin          *drillcloud.VaultTwin
	srv           *httptest.Server
	a             *Activities
	stolen, child string
	lease         string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	twin, responder := drillcloud.NewVaultTwin(filepath.Join(t.TempDir(), "audit.log"))
	srv := httptest.NewServer(twin)
	t.Cleanup(srv.Close)
	f := &fixture{twin: twin, srv: srv, a: &Activities{Address: srv.URL, Token: StaticToken(responder), Getenv: noEnv}}
	f.stolen = twin.AddToken(drillcloud.TokenSpec{Accessor: drillcloud.DefaultVaultAccessor, DisplayName: "ci", Policies: []string{"deploy"}})
	f.child = twin.AddToken(drillcloud.TokenSpec{Parent: f.stolen})
	f.lease = twin.AddLease(drillcloud.DefaultVaultLeaseMount, drillcloud.DefaultVaultAccessor)
	return f
}

func noEnv(string) string { return "" }

func input(action, id string, args sever.Values) sever.ActionInput {
	return sever.ActionInput{IncidentID: "inc-t", StepID: "s", Action: action, Args: args,
		Credential: sever.Credential{Provider: "vault", Type: sever.CredVaultToken, ID: id}}
}

func errType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type()
	}
	return ""
}

func TestRevokeAccessor(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		id       string
		cred     sever.CredentialType
		a        func(*fixture) *Activities
		prepare  func(*fixture)
		wantErr  string // error type; "" = success
		wantLive bool   // the stolen token still works afterwards
	}{
		{name: "live token revoked", id: drillcloud.DefaultVaultAccessor},
		{name: "unknown accessor is not claimed contained", id: "NoSuchAccessor0000000000", wantErr: "NotFound", wantLive: true},
		{name: "token already gone before sever acted", id: drillcloud.DefaultVaultAccessor, wantErr: "NotFound",
			prepare: func(f *fixture) { f.twin.RevokeByVault(drillcloud.DefaultVaultAccessor) }},
		{name: "a token as id is refused", id: "hvs.CAESIJ0000000000000000000000", wantErr: "InvalidArgument", wantLive: true},
		{name: "legacy token as id is refused", id: "s.0123456789abcdefABCDEFGH", wantErr: "InvalidArgument", wantLive: true},
		{name: "wrong credential type", id: drillcloud.DefaultVaultAccessor, cred: sever.CredGitHubToken, wantErr: "Unsupported", wantLive: true},
		{name: "no vault configured", id: drillcloud.DefaultVaultAccessor, wantErr: "AccessDenied", wantLive: true,
			a: func(*fixture) *Activities { return &Activities{Getenv: noEnv} }},
		{name: "vault refuses sever's token", id: drillcloud.DefaultVaultAccessor, wantErr: "AccessDenied", wantLive: true,
			a: func(f *fixture) *Activities {
				return &Activities{Address: f.srv.URL, Token: StaticToken("hvs.not-a-live-token"), Getenv: noEnv}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			a := f.a
			if tc.a != nil {
				a = tc.a(f)
			}
			if tc.prepare != nil {
				tc.prepare(f)
			}
			in := input(sever.ActionVaultRevokeAccessor, tc.id, sever.Values{"reason": "leaked"})
			if tc.cred != "" {
				in.Credential.Type = tc.cred
			}
			res, err := a.RevokeAccessor(ctx, in)
			if got := errType(err); got != tc.wantErr {
				t.Fatalf("error %v (type %q), want type %q", err, got, tc.wantErr)
			}
			if err != nil && LooksLikeToken(tc.id) && strings.Contains(err.Error(), tc.id) {
				t.Errorf("the error quotes the token: %v", err)
			}
			if err == nil {
				if !res.Verified || !res.Changed || res.Enforcement != sever.EnterpriseEnforced {
					t.Errorf("result = %+v; want verified, changed, enterprise_enforced", res)
				}
				if res.Output["display_name"] != "token-ci" {
					t.Errorf("output = %v; want the token's facts from before revocation", res.Output)
				}
			}
			if live := f.twin.TokenLive(drillcloud.DefaultVaultAccessor); live != tc.wantLive && tc.prepare == nil {
				t.Errorf("stolen token live = %v, want %v", live, tc.wantLive)
			}
			if !tc.wantLive {
				for name, tok := range map[string]string{"stolen": f.stolen, "child": f.child} {
					if st, _ := drillcloud.VaultAttack(ctx, f.srv.URL, tok, false); st != http.StatusForbidden {
						t.Errorf("attacker with the %s token: %d, want 403", name, st)
					}
				}
				if n := len(f.twin.Leases(drillcloud.DefaultVaultLeasePrefix)); n != 0 {
					t.Errorf("%d leases of the revoked token left", n)
				}
			}
			for _, tok := range []string{f.stolen, f.child} {
				if strings.Contains(res.Summary, tok) || strings.Contains(err2s(err), tok) {
					t.Error("a token reached the result")
				}
			}
		})
	}
}

func err2s(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestAccessorStatus(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	check := func(expect string, want bool) {
		t.Helper()
		res, err := f.a.AccessorStatus(ctx, input(sever.ActionVaultAccessorStatus, drillcloud.DefaultVaultAccessor, sever.Values{"expect": expect}))
		if err != nil || res.Verified != want {
			t.Errorf("expect %s: verified %v, %v; want %v", expect, res.Verified, err, want)
		}
	}
	check("active", true)
	check("revoked", false)
	if _, err := f.a.RevokeAccessor(ctx, input(sever.ActionVaultRevokeAccessor, drillcloud.DefaultVaultAccessor, nil)); err != nil {
		t.Fatal(err)
	}
	check("revoked", true)
	check("active", false)
	if _, err := f.a.AccessorStatus(ctx, input(sever.ActionVaultAccessorStatus, drillcloud.DefaultVaultAccessor, sever.Values{"expect": "gone"})); errType(err) != "InvalidArgument" {
		t.Errorf("expect gone: %v, want InvalidArgument", err)
	}
	if _, err := f.a.LookupAccessor(ctx, input(sever.ActionVaultLookupAccessor, drillcloud.DefaultVaultAccessor, nil)); errType(err) != "NotFound" {
		t.Errorf("lookup of a revoked accessor: %v, want NotFound", err)
	}
}

func TestRevokeLeasePrefix(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		prefix  string
		wantErr string
		left    int // leases left under the default prefix
	}{
		{prefix: drillcloud.DefaultVaultLeasePrefix},
		{prefix: drillcloud.DefaultVaultLeaseMount}, // no trailing slash: "deploy" and anything after it
		{prefix: "aws/creds/other/", left: 1},
		{prefix: "aws/creds/dep", left: 1}, // a path, not a string prefix: deploy/ is not under it
		{prefix: "", wantErr: "InvalidArgument", left: 1},
		{prefix: "aws/", wantErr: "InvalidArgument", left: 1},
		{prefix: "aws", wantErr: "InvalidArgument", left: 1},
		{prefix: "/aws/creds/deploy/", wantErr: "InvalidArgument", left: 1},
		{prefix: "aws/creds/../x/", wantErr: "InvalidArgument", left: 1},
	}
	for _, tc := range tests {
		t.Run(tc.prefix, func(t *testing.T) {
			f := newFixture(t)
			res, err := f.a.RevokeLeasePrefix(ctx, input(sever.ActionVaultRevokeLeasePrefix, drillcloud.DefaultVaultAccessor, sever.Values{"prefix": tc.prefix}))
			if got := errType(err); got != tc.wantErr {
				t.Fatalf("error %v (type %q), want %q", err, got, tc.wantErr)
			}
			if err == nil && !res.Verified {
				t.Errorf("result = %+v, want verified", res)
			}
			if n := len(f.twin.Leases(drillcloud.DefaultVaultLeasePrefix)); n != tc.left {
				t.Errorf("leases left = %d, want %d", n, tc.left)
			}
			if tc.wantErr == "" {
				st, err := f.a.LeasePrefixStatus(ctx, input(sever.ActionVaultLeasePrefixStatus, drillcloud.DefaultVaultAccessor, sever.Values{"prefix": tc.prefix}))
				if err != nil || !st.Verified {
					t.Errorf("lease_prefix_status after revocation: %+v, %v", st, err)
				}
			}
		})
	}
}

// The audit read finds the requests the stolen token made by the device's HMAC
// of its accessor, and copies no token.
func TestAuditEvents(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for range 3 {
		if st, err := drillcloud.VaultAttack(ctx, f.srv.URL, f.stolen, true); err != nil || st != http.StatusOK {
			t.Fatalf("attack: %d %v", st, err)
		}
	}
	res, err := f.a.AuditEvents(ctx, input(sever.ActionVaultAuditEvents, drillcloud.DefaultVaultAccessor, nil))
	if err != nil {
		t.Fatal(err)
	}
	if res.Output["events"] != 6 || len(res.Evidence) != 1 || len(res.Evidence[0].SHA256) != 64 {
		t.Fatalf("result = %+v", res)
	}
	paths, _ := res.Output["paths"].([]string)
	if len(paths) != 2 || paths[0] != "secret/data/app" {
		t.Errorf("paths = %v", res.Output["paths"])
	}
	for _, s := range []string{res.Summary, res.Evidence[0].Name} {
		if strings.Contains(s, f.stolen) {
			t.Error("a token reached the result")
		}
	}
	// Shipped elsewhere: AuditLog names the copy.
	copyPath := filepath.Join(t.TempDir(), "shipped.log")
	if err := os.WriteFile(copyPath, f.twin.AuditLog(), 0o600); err != nil {
		t.Fatal(err)
	}
	a := *f.a
	a.AuditLog = copyPath
	if res2, err := a.AuditEvents(ctx, input(sever.ActionVaultAuditEvents, drillcloud.DefaultVaultAccessor, sever.Values{"max_events": 2})); err != nil ||
		res2.Output["events"] != 2 || res2.Output["truncated"] != true {
		t.Errorf("bounded read of the shipped copy: %+v, %v", res2.Output, err)
	}
	if _, err := f.a.AuditEvents(ctx, input(sever.ActionVaultAuditEvents, drillcloud.DefaultVaultAccessor, sever.Values{"device": "syslog/"})); errType(err) != "NotFound" {
		t.Errorf("unknown device: %v, want NotFound", err)
	}
}

// Vault's answers map to retried or permanent step errors of stable types.
func TestClassify(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   string
		retry  bool
	}{
		{429, `{"errors":["rate limit quota exceeded"]}`, ErrThrottled, true},
		{500, `{"errors":["internal error"]}`, ErrUnavailable, true},
		{503, `{"errors":["Vault is sealed"]}`, ErrUnavailable, true},
		{412, `{"errors":["required index state not present"]}`, ErrUnavailable, true},
		{403, `{"errors":["permission denied"]}`, "AccessDenied", false},
		{400, `{"errors":["missing accessor"]}`, "InvalidArgument", false},
	}
	for _, tc := range tests {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			a := &Activities{Address: srv.URL, Token: StaticToken("hvs.responder"), Getenv: noEnv}
			_, err := a.RevokeAccessor(context.Background(), input(sever.ActionVaultRevokeAccessor, drillcloud.DefaultVaultAccessor, nil))
			var ae *temporal.ApplicationError
			if !errors.As(err, &ae) || ae.Type() != tc.want || ae.NonRetryable() == tc.retry {
				t.Errorf("error %v; want type %s, retryable %v", err, tc.want, tc.retry)
			}
			if strings.Contains(err2s(err), "hvs.responder") {
				t.Error("the error quotes sever's token")
			}
		})
	}
}

// VAULT_ADDR alone configures the actions, as the standard environment does.
func TestStandardEnvironment(t *testing.T) {
	f := newFixture(t)
	env := map[string]string{"VAULT_ADDR": f.srv.URL}
	a := &Activities{Token: f.a.Token, Getenv: func(k string) string { return env[k] }}
	t.Setenv("VAULT_ADDR", f.srv.URL)
	if _, err := a.LookupAccessor(context.Background(), input(sever.ActionVaultLookupAccessor, drillcloud.DefaultVaultAccessor, nil)); err != nil {
		t.Errorf("lookup with VAULT_ADDR: %v", err)
	}
}

func FuzzParseAccessor(f *testing.F) {
	for _, s := range []string{drillcloud.DefaultVaultAccessor, "hvs.x", "s.abc", "2c84f488-4133-1ced-87b3-38fddb2b8c4e", "abc.ns1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		acc, err := ParseAccessor(id)
		if err == nil && (acc != id || LooksLikeToken(id)) {
			t.Fatalf("ParseAccessor(%q) = %q", id, acc)
		}
		if err != nil && LooksLikeToken(id) && len(id) > 2 && strings.Contains(err.Error(), id) {
			t.Fatalf("the error quotes a token-shaped id")
		}
	})
}
