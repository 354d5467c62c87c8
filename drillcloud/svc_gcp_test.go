package drillcloud

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// signAssertion makes a JWT bearer assertion as Google's client libraries do.
func signAssertion(t testing.TB, key *rsa.PrivateKey, kid, iss, aud string, iat, exp int64) string {
	t.Helper()
	enc := base64.RawURLEncoding
	head, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid})
	claims, _ := json.Marshal(map[string]any{"iss": iss, "aud": aud, "scope": "https://www.googleapis.com/auth/cloud-platform", "iat": iat, "exp": exp})
	signing := enc.EncodeToString(head) + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + enc.EncodeToString(sig)
}

// The token endpoint grants a token only to an assertion signed by an enabled key
// of its issuer, for this endpoint, short-lived; a disabled key's tokens stop
// working at once.
func TestGCPTokenEndpoint(t *testing.T) {
	g := NewGCPTwin("")
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	id, err := g.NewKey(g.WorkloadEmail())
	if err != nil {
		t.Fatal(err)
	}
	k := g.keys[id]
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	aud := srv.URL + GCPTokenPath
	now := time.Now().Unix()
	post := func(form url.Values) (int, map[string]any) {
		resp, err := http.PostForm(srv.URL+GCPTokenPath, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	grant := func(a string) url.Values {
		return url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {a}}
	}
	for _, tc := range []struct {
		name string
		form url.Values
		want int
	}{
		{"valid", grant(signAssertion(t, k.priv, id, g.WorkloadEmail(), aud, now, now+3600)), 200},
		{"valid without kid", grant(signAssertion(t, k.priv, "", g.WorkloadEmail(), aud, now, now+3600)), 200},
		{"forged signature", grant(signAssertion(t, other, id, g.WorkloadEmail(), aud, now, now+3600)), 400},
		{"another issuer", grant(signAssertion(t, k.priv, id, g.ResponderEmail(), aud, now, now+3600)), 400},
		{"expired", grant(signAssertion(t, k.priv, id, g.WorkloadEmail(), aud, now-7200, now-3600)), 400},
		{"too long-lived", grant(signAssertion(t, k.priv, id, g.WorkloadEmail(), aud, now, now+7200)), 400},
		{"other audience", grant(signAssertion(t, k.priv, id, g.WorkloadEmail(), "https://example.com/token", now, now+3600)), 400},
		{"not a JWT", grant("a.b"), 400},
		{"wrong grant", url.Values{"grant_type": {"client_credentials"}}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, out := post(tc.form)
			if st != tc.want {
				t.Fatalf("status %d %v, want %d", st, out, tc.want)
			}
			if st == 200 && !strings.HasPrefix(out["access_token"].(string), "ya29.") {
				t.Errorf("answer %v", out)
			}
		})
	}
	_, out := post(grant(signAssertion(t, k.priv, id, g.WorkloadEmail(), aud, now, now+3600)))
	tok, _ := out["access_token"].(string)
	call := func() int {
		r, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/projects/-/serviceAccounts/"+g.WorkloadEmail(), nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("X-Goog-Api-Client", "gl-go/test")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := call(); st != 200 {
		t.Fatalf("call with a fresh token: %d", st)
	}
	if err := g.VendorExposeKey(id); err != nil {
		t.Fatal(err)
	}
	if st := call(); st != 401 {
		t.Errorf("call with a disabled key's token: %d, want 401", st)
	}
	if st, _ := post(grant(signAssertion(t, k.priv, id, g.WorkloadEmail(), aud, now, now+3600))); st != 400 {
		t.Errorf("token for a disabled key: %d, want 400", st)
	}
}

// The drill cloud sends Google's calls to the GCP twin on its one listener, and the
// attacker uses Google's own client with the stolen key file.
func TestGCPTwinOnCloudListener(t *testing.T) {
	c := startCloud(t, DefaultSeed())
	g := NewGCPTwin("")
	c.ServeGCP(g)
	id, err := g.NewKey(g.WorkloadEmail())
	if err != nil {
		t.Fatal(err)
	}
	file, err := g.KeyFile(id, c.URL())
	if err != nil {
		t.Fatal(err)
	}
	if err := GCPAttackerCall(context.Background(), c.URL(), file); err != nil {
		t.Fatalf("attacker call: %v", err)
	}
	if g.Calls(GCPOpToken) != 1 || g.Calls(GCPOpGetAccount) != 1 {
		t.Errorf("token %d, get %d calls", g.Calls(GCPOpToken), g.Calls(GCPOpGetAccount))
	}
	g.InjectGCPFault(GCPOpGetAccount, 503, 1)
	if err := GCPAttackerCall(context.Background(), c.URL(), file); err == nil || errors.Is(err, ErrGCPRefused) {
		t.Errorf("attacker call during an outage: %v; want an error that is no refusal", err)
	}
	_ = g.VendorExposeKey(id)
	if err := GCPAttackerCall(context.Background(), c.URL(), file); !errors.Is(err, ErrGCPRefused) {
		t.Errorf("attacker call with a disabled key: %v; want refused", err)
	}
	// An API key's Gemini call reaches the twin by its x-goog-api-key header.
	uid, keyString := g.NewAPIKey("gemini")
	if err := GCPAPIKeyAttackerCall(c.URL(), keyString); err != nil {
		t.Fatalf("Gemini call with a live API key: %v", err)
	}
	if err := GCPAPIKeyAttackerCall(c.URL(), keyString+"x"); !errors.Is(err, ErrGCPRefused) {
		t.Errorf("Gemini call with a wrong key: %v; want refused", err)
	}
	if g.Calls(GCPOpGemini) != 2 || g.APIKeyDeleted(uid) {
		t.Errorf("gemini calls %d", g.Calls(GCPOpGemini))
	}
}

// FuzzGCPTokenRequest: whatever the token endpoint is sent, it answers without
// panicking, grants nothing unsigned, and never echoes the assertion.
func FuzzGCPTokenRequest(f *testing.F) {
	g := NewGCPTwin("")
	id, err := g.NewKey(g.WorkloadEmail())
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now().Unix()
	f.Add("urn:ietf:params:oauth:grant-type:jwt-bearer", signAssertion(f, g.keys[id].priv, id, g.WorkloadEmail(), "http://x"+GCPTokenPath, now, now+600))
	f.Add("urn:ietf:params:oauth:grant-type:jwt-bearer", "eyJhbGciOiJSUzI1NiJ9.e30.AAAA")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, grantType, assertion string) {
		body := url.Values{"grant_type": {grantType}, "assertion": {assertion}}.Encode()
		r := httptest.NewRequest(http.MethodPost, GCPTokenPath, strings.NewReader(body))
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		if w.Code == 200 && !strings.Contains(assertion, ".") {
			t.Fatalf("granted a token for %q", assertion)
		}
		if len(assertion) > 8 && strings.Contains(w.Body.String(), assertion) {
			t.Fatalf("the answer echoes the assertion")
		}
	})
}
