package githubact

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
	"github.com/sever-ir/sever/drillcloud"
)

type fixture struct {
	twin   *drillcloud.GitHubTwin
	acts   *Activities
	secret string
}

// newFixture starts a GitHub twin with alert acme/api#7 for a live ghp_ token.
func newFixture(t *testing.T, secretType, prefix string) *fixture {
	t.Helper()
	twin, err := drillcloud.NewGitHubTwin()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(twin)
	t.Cleanup(srv.Close)
	secret := twin.NewToken(prefix, "octocat")
	twin.AddAlert("acme", "api", 7, secretType, secret)
	return &fixture{twin: twin, secret: secret, acts: &Activities{BaseURL: srv.URL, AppID: twin.AppID,
		InstallationID: twin.InstallationID, PrivateKey: StaticKey(twin.PrivateKeyPEM()), HTTP: srv.Client()}}
}

func input(action, id string, args sever.Values) sever.ActionInput {
	return sever.ActionInput{IncidentID: "inc-1", StepID: "revoke", Action: action, IdempotencyKey: "k",
		Credential: sever.Credential{Provider: "github", Type: sever.CredGitHubToken, ID: id}, Args: args}
}

// noSecret fails when secret appears in what an action returned.
func noSecret(t *testing.T, secret string, res sever.ActionResult, err error) {
	t.Helper()
	b, _ := json.Marshal(res)
	if strings.Contains(string(b), secret) {
		t.Fatalf("result carries the secret: %s", b)
	}
	if err != nil && strings.Contains(fmt.Sprintf("%v %+v", err, err), secret) {
		t.Fatalf("error carries the secret: %v", err)
	}
}

func errType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type()
	}
	return ""
}

func TestRevokeAlertToken(t *testing.T) {
	for _, prefix := range []string{"ghp_", "github_pat_", "gho_", "ghu_", "ghr_"} {
		t.Run(prefix, func(t *testing.T) {
			f := newFixture(t, "github_personal_access_token", prefix)
			ctx := context.Background()
			in := input(sever.ActionGitHubRevokeAlertToken, "acme/api/secret-scanning/7", nil)

			res, err := f.acts.RevokeAlertToken(ctx, in)
			noSecret(t, f.secret, res, err)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Changed || !res.Verified || res.Enforcement != sever.EnterpriseEnforced {
				t.Fatalf("first revoke = %+v, want changed, verified, enterprise_enforced", res)
			}
			if !f.twin.TokenRevoked(f.secret) {
				t.Fatal("the twin does not show the token revoked")
			}
			// A retry after a lost response finds the token inactive and sends nothing.
			res, err = f.acts.RevokeAlertToken(ctx, in)
			noSecret(t, f.secret, res, err)
			if err != nil || res.Changed || !res.Verified {
				t.Fatalf("second revoke = %+v, %v; want unchanged and verified", res, err)
			}
			if n := f.twin.Calls("revoke"); n != 1 {
				t.Errorf("revocation API called %d times, want 1", n)
			}
		})
	}
}

func TestRevokeAlertTokenRefuses(t *testing.T) {
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(otherKey)}))
	for _, tc := range []struct {
		name       string
		secretType string
		prefix     string
		id         string
		credType   sever.CredentialType
		edit       func(*Activities)
		want       string
	}{
		{name: "aws key in a github alert", secretType: "aws_access_key_id", prefix: "AKIA", id: "acme/api/secret-scanning/7", want: "Unsupported"},
		{name: "installation token is not revocable", secretType: "github_app_installation_access_token", prefix: "ghs_", id: "acme/api/secret-scanning/7", want: "Unsupported"},
		{name: "not a github token incident", prefix: "ghp_", id: "acme/api/secret-scanning/7", credType: sever.CredAWSAccessKey, want: "Unsupported"},
		{name: "id is not an alert", prefix: "ghp_", id: "acme/api/7", want: "InvalidArgument"},
		{name: "unknown alert", prefix: "ghp_", id: "acme/api/secret-scanning/8", want: "NotFound"},
		{name: "no app configured", prefix: "ghp_", id: "acme/api/secret-scanning/7", edit: func(a *Activities) { a.AppID = "" }, want: "AccessDenied"},
		{name: "jwt signed with another key", prefix: "ghp_", id: "acme/api/secret-scanning/7", edit: func(a *Activities) { a.PrivateKey = StaticKey(otherPEM) }, want: "AccessDenied"},
		{name: "private key is not PEM", prefix: "ghp_", id: "acme/api/secret-scanning/7", edit: func(a *Activities) { a.PrivateKey = StaticKey("nope") }, want: "AccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, cmpOr(tc.secretType, "github_personal_access_token"), tc.prefix)
			if tc.edit != nil {
				tc.edit(f.acts)
			}
			in := input(sever.ActionGitHubRevokeAlertToken, tc.id, nil)
			if tc.credType != "" {
				in.Credential.Type = tc.credType
			}
			res, err := f.acts.RevokeAlertToken(context.Background(), in)
			noSecret(t, f.secret, res, err)
			if got := errType(err); got != tc.want {
				t.Fatalf("error = %v (type %q), want type %q", err, got, tc.want)
			}
			if f.twin.TokenRevoked(f.secret) || f.twin.Calls("revoke") != 0 {
				t.Fatal("a refused action revoked the token")
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestResolveAlertAfterContainment(t *testing.T) {
	f := newFixture(t, "github_personal_access_token", "ghp_")
	ctx := context.Background()
	id := "acme/api/secret-scanning/7"

	// Before the token is revoked the alert stays open: resolving it would hide a live token.
	res, err := f.acts.ResolveAlert(ctx, input(sever.ActionGitHubResolveAlert, id, nil))
	noSecret(t, f.secret, res, err)
	if got := errType(err); got != ErrNotRevoked {
		t.Fatalf("resolve before revoke: %v (type %q), want %q", err, got, ErrNotRevoked)
	}
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) && ae.NonRetryable() {
		t.Fatal("resolve before revoke must be retried, not given up")
	}
	if st, _, _ := f.twin.Alert("acme", "api", 7); st != "open" {
		t.Fatalf("alert state = %q, want open", st)
	}

	if _, err := f.acts.RevokeAlertToken(ctx, input(sever.ActionGitHubRevokeAlertToken, id, nil)); err != nil {
		t.Fatal(err)
	}
	for i, wantChanged := range []bool{true, false} {
		res, err := f.acts.ResolveAlert(ctx, input(sever.ActionGitHubResolveAlert, id, sever.Values{"reason": "drill"}))
		noSecret(t, f.secret, res, err)
		if err != nil || !res.Verified || res.Changed != wantChanged {
			t.Fatalf("resolve #%d = %+v, %v; want verified, changed=%v", i+1, res, err, wantChanged)
		}
	}
	if st, resol, _ := f.twin.Alert("acme", "api", 7); st != "resolved" || resol != "revoked" {
		t.Fatalf("alert = %s/%s, want resolved/revoked", st, resol)
	}
	if n := f.twin.Calls("patch_alert"); n != 1 {
		t.Errorf("alert patched %d times, want 1", n)
	}
}

func TestAlertStatus(t *testing.T) {
	f := newFixture(t, "github_personal_access_token", "ghp_")
	ctx := context.Background()
	id := "acme/api/secret-scanning/7"
	check := func(expect string, want bool) {
		t.Helper()
		res, err := f.acts.AlertStatus(ctx, input(sever.ActionGitHubAlertStatus, id, sever.Values{"expect": expect}))
		noSecret(t, f.secret, res, err)
		if err != nil || res.Verified != want {
			t.Fatalf("status expect %q = %+v, %v; want verified=%v", expect, res, err, want)
		}
	}
	check("revoked", false)
	check("", false)
	if _, err := f.acts.RevokeAlertToken(ctx, input(sever.ActionGitHubRevokeAlertToken, id, nil)); err != nil {
		t.Fatal(err)
	}
	check("revoked", true)
	check("resolved", false)
	if _, err := f.acts.AlertStatus(ctx, input(sever.ActionGitHubAlertStatus, id, sever.Values{"expect": "gone"})); errType(err) != "InvalidArgument" {
		t.Fatalf("expect gone: %v, want InvalidArgument", err)
	}
}

func TestParseAlertID(t *testing.T) {
	for _, tc := range []struct {
		id    string
		owner string
		repo  string
		n     int
		ok    bool
	}{
		{"acme/api/secret-scanning/7", "acme", "api", 7, true},
		{"octo-org/my.repo_x/secret-scanning/12345", "octo-org", "my.repo_x", 12345, true},
		{"acme/api/secret-scanning/0", "", "", 0, false},
		{"acme/api/secret-scanning/07", "", "", 0, false},
		{"acme/api/secret-scanning/-1", "", "", 0, false},
		{"acme/api/code-scanning/7", "", "", 0, false},
		{"acme/../secret-scanning/7", "", "", 0, false},
		{"ac/me/api/secret-scanning/7", "", "", 0, false},
		{"AKIAIOSFODNN7EXAMPLE", "", "", 0, false},
		{"acme/api%2f/secret-scanning/7", "", "", 0, false},
		{"", "", "", 0, false},
	} {
		owner, repo, n, err := ParseAlertID(tc.id)
		if (err == nil) != tc.ok || owner != tc.owner || repo != tc.repo || n != tc.n {
			t.Errorf("ParseAlertID(%q) = %q, %q, %d, %v; want %q, %q, %d, ok=%v", tc.id, owner, repo, n, err, tc.owner, tc.repo, tc.n, tc.ok)
		}
	}
}

// FuzzParseAlertID: a credential id comes from a webhook; whatever it is, a parsed
// alert must round-trip to the same id, so it names no other repository's alert.
func FuzzParseAlertID(f *testing.F) {
	for _, s := range []string{"acme/api/secret-scanning/7", "a/b/secret-scanning/1", "a//secret-scanning/1", "../x/secret-scanning/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		owner, repo, n, err := ParseAlertID(id)
		if err != nil {
			return
		}
		if got := (alertRef{Owner: owner, Repo: repo, Number: n}).String(); got != id {
			t.Fatalf("ParseAlertID(%q) round-trips to %q", id, got)
		}
		if strings.ContainsAny(owner+repo, "/%?#") || repo == "." || repo == ".." {
			t.Fatalf("ParseAlertID(%q) yields an unsafe path element", id)
		}
	})
}

// TestAlertAWSKeyID: only an AWS access key ID ever leaves AlertAWSKeyID; any other
// secret fails ErrNotAWSKeyID without being quoted.
func TestAlertAWSKeyID(t *testing.T) {
	f := newFixture(t, "github_personal_access_token", "ghp_")
	f.twin.AddAlert("acme", "api", 8, "aws_access_key_id", "AKIADRILLEXPOSED0001")
	f.twin.AddAlert("acme", "api", 9, "aws_temporary_access_key_id", "ASIADRILLSESSION0001")
	f.twin.AddAlert("acme", "api", 10, "aws_access_key_id", "AKIA-not-a-key-id-at-all")
	tests := []struct {
		name     string
		repo     string
		number   int
		want     string
		wantType string
	}{
		{"long-term key ID", "acme/api", 8, "AKIADRILLEXPOSED0001", ""},
		{"temporary key ID", "acme/api", 9, "ASIADRILLSESSION0001", ""},
		{"github token is never returned", "acme/api", 7, "", ErrNotAWSKeyID},
		{"malformed key ID", "acme/api", 10, "", ErrNotAWSKeyID},
		{"missing alert", "acme/api", 99, "", activities.ErrNotFound},
		{"bad repository", "acme", 8, "", activities.ErrInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.acts.AlertAWSKeyID(context.Background(), tc.repo, tc.number)
			if got != tc.want || errType(err) != tc.wantType || (tc.wantType == "") != (err == nil) {
				t.Fatalf("AlertAWSKeyID(%s, %d) = %q, %v (type %q); want %q, type %q", tc.repo, tc.number, got, err, errType(err), tc.want, tc.wantType)
			}
			noSecret(t, f.secret, sever.ActionResult{}, err)
		})
	}
	if _, err := (&Activities{}).AlertAWSKeyID(context.Background(), "acme/api", 8); errType(err) != activities.ErrAccessDenied {
		t.Errorf("without an App: %v, want %s", err, activities.ErrAccessDenied)
	}
}
