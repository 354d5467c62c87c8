package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/httpapi"
)

// vendorBook is a VendorStatusRecorder over a map of known tokens.
type vendorBook struct {
	mu     sync.Mutex
	status map[string]string // token id → vendor status ("" = none reported)
	by     map[string]string
}

func (b *vendorBook) SetVendorStatus(_ context.Context, id, status, by string) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur, ok := b.status[id]
	if !ok {
		return false, sever.Errorf(sever.ENOTFOUND, "id", "token %q is not in the token store", id)
	}
	if cur == status {
		return false, nil
	}
	b.status[id], b.by[id] = status, by
	return true, nil
}

const feedToken = "feed-0123456789abcdef"

// PUT /v1/tokens/{id}/vendor-status takes the issuer's notice only from a token
// that lists tokens:vendor: not from a token with no scope list (every other
// scope), nor a lower scope; an unknown token is 404, a bad status 400 naming
// the field; the reporter is the authenticated token.
func TestVendorStatusRoute(t *testing.T) {
	tokens := append(append([]httpapi.Token(nil), testTokens...),
		httpapi.Token{Name: "acme-feed", Value: feedToken, Scopes: []string{httpapi.ScopeTokensVendor}})
	for _, tc := range []struct {
		name, token, path, body string
		status                  int
		want                    string
		wantStatus, wantBy      string // the book's entry for tok-1 afterwards
		noRecorder              bool
	}{
		{name: "feed reports inactive", token: feedToken, path: "/v1/tokens/tok-1/vendor-status", body: `{"status":"inactive"}`,
			status: http.StatusOK, want: `"changed":true`, wantStatus: "inactive", wantBy: "acme-feed"},
		{name: "feed reports the state on record", token: feedToken, path: "/v1/tokens/tok-2/vendor-status", body: `{"status":"active"}`,
			status: http.StatusOK, want: `"changed":false`, wantStatus: "active"},
		{name: "token without a scope list", token: adminToken, path: "/v1/tokens/tok-1/vendor-status", body: `{"status":"inactive"}`,
			status: http.StatusForbidden, want: "tokens:vendor", wantStatus: "active"},
		{name: "operator scope", token: closerToken, path: "/v1/tokens/tok-1/vendor-status", body: `{"status":"inactive"}`,
			status: http.StatusForbidden, want: "tokens:vendor", wantStatus: "active"},
		{name: "no token", path: "/v1/tokens/tok-1/vendor-status", body: `{"status":"inactive"}`,
			status: http.StatusUnauthorized, wantStatus: "active"},
		{name: "unknown token", token: feedToken, path: "/v1/tokens/nope/vendor-status", body: `{"status":"inactive"}`,
			status: http.StatusNotFound, want: "not in the token store", wantStatus: "active"},
		{name: "bad status", token: feedToken, path: "/v1/tokens/tok-1/vendor-status", body: `{"status":"revoked"}`,
			status: http.StatusBadRequest, want: `"field":"status"`, wantStatus: "active"},
		{name: "unknown field", token: feedToken, path: "/v1/tokens/tok-1/vendor-status", body: `{"status":"inactive","by":"someone-else"}`,
			status: http.StatusBadRequest, want: "by", wantStatus: "active"},
		{name: "bad id", token: feedToken, path: "/v1/tokens/tok%201/vendor-status", body: `{"status":"inactive"}`,
			status: http.StatusBadRequest, want: `"field":"id"`, wantStatus: "active"},
		{name: "no store", token: feedToken, path: "/v1/tokens/tok-1/vendor-status", body: `{"status":"inactive"}`,
			status: http.StatusServiceUnavailable, want: "not available", wantStatus: "active", noRecorder: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			book := &vendorBook{status: map[string]string{"tok-1": "active", "tok-2": "active"}, by: map[string]string{}}
			a := newAPI(t, &fakeService{}, func(o *httpapi.Options) {
				o.Tokens = tokens
				if !tc.noRecorder {
					o.VendorStatus = book
				}
			})
			rec := a.do(t, req{method: "PUT", path: tc.path, token: tc.token, contentType: "application/json", body: tc.body})
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("status %d body %s; want %d containing %q", rec.Code, rec.Body, tc.status, tc.want)
			}
			if book.status["tok-1"] != tc.wantStatus && tc.path == "/v1/tokens/tok-1/vendor-status" {
				t.Errorf("tok-1 vendor status = %q, want %q", book.status["tok-1"], tc.wantStatus)
			}
			if tc.wantBy != "" && book.by["tok-1"] != tc.wantBy {
				t.Errorf("reported by %q, want %q", book.by["tok-1"], tc.wantBy)
			}
		})
	}
}

// TestSecretInPathNeverLogged: the vendor-status route refuses a token's value in
// its path as secret material, and the request log must not then write that value
// itself (the request line is at debug level, which log.level: debug turns on): the
// logged path has the secret replaced by a marker.
func TestSecretInPathNeverLogged(t *testing.T) {
	t.Parallel()
	// A GitLab PAT ([A-Za-z0-9_-], fits the token-id alphabet).
	glpat := fakeKey("gl"+"pat-", keyAlnum, 20)
	a := newAPI(t, &fakeService{}, func(o *httpapi.Options) {
		o.Tokens = append(append([]httpapi.Token(nil), testTokens...),
			httpapi.Token{Name: "acme-feed", Value: feedToken, Scopes: []string{httpapi.ScopeTokensVendor}})
		o.VendorStatus = &vendorBook{status: map[string]string{}, by: map[string]string{}}
	})
	resp := a.do(t, req{method: "PUT", path: "/v1/tokens/" + glpat + "/vendor-status", token: feedToken,
		contentType: "application/json", body: `{"status":"inactive"}`})
	if resp.Code != 400 || !strings.Contains(resp.Body.String(), "secret material") {
		t.Fatalf("status = %d, want 400 refusing secret material in the path; body %s", resp.Code, resp.Body)
	}
	if strings.Contains(resp.Body.String(), glpat) {
		t.Errorf("the answer repeats the secret: %s", resp.Body)
	}
	logs := a.logs.String()
	if strings.Contains(logs, glpat[6:]) {
		t.Errorf("the log holds the token value the handler refused as secret material:\n%s", logs)
	}
	if want := `"path":"/v1/tokens/[redacted]/vendor-status"`; !strings.Contains(logs, want) {
		t.Errorf("the request line lacks %s:\n%s", want, logs)
	}
}
