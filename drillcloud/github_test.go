package drillcloud

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever/activities/githubact"
)

// The twin exchanges an App JWT for an installation token only as GitHub does:
// RS256 under the App's key, issued by the App, unexpired, for at most ten minutes.
func TestGitHubTwinInstallationToken(t *testing.T) {
	g, err := NewGitHubTwin()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sign := func(key *rsa.PrivateKey, iss string, at time.Time) string {
		j, err := githubact.SignAppJWT(key, iss, at)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	good := sign(g.key, g.AppID, now)
	parts := strings.Split(good, ".")
	claims := `{"iat":` + itoa(now.Unix()) + `,"exp":` + itoa(now.Add(time.Hour).Unix()) + `,"iss":"` + g.AppID + `"}`
	edited := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + "." + parts[2]
	signing := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(claims))
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(nil, g.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	longLived := signing + "." + base64.RawURLEncoding.EncodeToString(sig)
	for _, tc := range []struct {
		name, path, jwt string
		want            int
	}{
		{"valid", "/app/installations/" + g.InstallationID + "/access_tokens", good, http.StatusCreated},
		{"another key", "/app/installations/" + g.InstallationID + "/access_tokens", sign(other, g.AppID, now), http.StatusUnauthorized},
		{"another app", "/app/installations/" + g.InstallationID + "/access_tokens", sign(g.key, "1", now), http.StatusUnauthorized},
		{"expired", "/app/installations/" + g.InstallationID + "/access_tokens", sign(g.key, g.AppID, now.Add(-20*time.Minute)), http.StatusUnauthorized},
		{"claims edited", "/app/installations/" + g.InstallationID + "/access_tokens", edited, http.StatusUnauthorized},
		{"valid for an hour", "/app/installations/" + g.InstallationID + "/access_tokens", longLived, http.StatusUnauthorized},
		{"not a jwt", "/app/installations/" + g.InstallationID + "/access_tokens", "ghp_x", http.StatusUnauthorized},
		{"another installation", "/app/installations/1/access_tokens", good, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+tc.path, nil)
			req.Header.Set("Authorization", "Bearer "+tc.jwt)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

// A token is refused by /user once revoked, and alerts need an installation token.
func TestGitHubTwinRevocation(t *testing.T) {
	g, err := NewGitHubTwin()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	tok := g.NewToken("ghp_", "octocat")
	g.AddAlert("acme", "api", 1, "github_personal_access_token", tok)
	call := func(method, path, auth, body string) int {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	steps := []struct {
		name               string
		method, path, auth string
		body               string
		want               int
	}{
		{"token works", http.MethodGet, "/user", tok, "", http.StatusOK},
		{"alert needs an installation token", http.MethodGet, "/repos/acme/api/secret-scanning/alerts/1", tok, "", http.StatusUnauthorized},
		{"empty revocation", http.MethodPost, "/credentials/revoke", "", `{"credentials":[]}`, http.StatusUnprocessableEntity},
		{"revoke", http.MethodPost, "/credentials/revoke", "", `{"credentials":["` + tok + `"]}`, http.StatusAccepted},
		{"token refused", http.MethodGet, "/user", tok, "", http.StatusUnauthorized},
		{"revoke again", http.MethodPost, "/credentials/revoke", "", `{"credentials":["` + tok + `"]}`, http.StatusAccepted},
	}
	for _, st := range steps {
		if got := call(st.method, st.path, st.auth, st.body); got != st.want {
			t.Fatalf("%s: %d, want %d", st.name, got, st.want)
		}
	}
	if !g.TokenRevoked(tok) || g.validity(tok) != "inactive" {
		t.Fatal("token not revoked")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
