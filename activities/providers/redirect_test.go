package providers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestAdminKeyStaysOnItsHost is issue 12.7: Go strips Authorization on a
// cross-host redirect but copies custom headers such as X-Api-Key, so a provider
// endpoint (or anything in the path to it) that answers with a redirect to
// another host would receive the admin key. A cross-host redirect is refused
// instead, permanently, and the other host sees no request with a key.
func TestAdminKeyStaysOnItsHost(t *testing.T) {
	const key = "sk-ant-admin01-redirect-test-0123456789"
	var mu sync.Mutex
	var leaked []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		for _, h := range []string{"X-Api-Key", "Authorization"} {
			if v := r.Header.Get(h); v != "" {
				leaked = append(leaked, h)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer other.Close()
	// Another port on another name: another origin to the client.
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)

	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/cross-307":
			http.Redirect(w, r, otherURL+"/v1/stolen", http.StatusTemporaryRedirect)
		case "/v1/cross-302":
			http.Redirect(w, r, otherURL+"/v1/stolen", http.StatusFound)
		case "/v1/same-then-cross":
			http.Redirect(w, r, "/v1/cross-302", http.StatusFound)
		case "/v1/same":
			http.Redirect(w, r, "/v1/ok", http.StatusFound)
		case "/v1/ok":
			if r.Header.Get("X-Api-Key") != key && r.Header.Get("Authorization") != "Bearer "+key {
				http.Error(w, `{"error":{"type":"authentication_error","message":"no key"}}`, http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer provider.Close()

	for _, tc := range []struct {
		name, provider, path string
		client               *http.Client
		wantOK               bool
	}{
		{"anthropic X-Api-Key, 307", providerAnthropic, "/v1/cross-307", nil, false},
		{"anthropic X-Api-Key, 302", providerAnthropic, "/v1/cross-302", nil, false},
		{"anthropic X-Api-Key, same host first", providerAnthropic, "/v1/same-then-cross", nil, false},
		{"anthropic X-Api-Key, the caller's own client", providerAnthropic, "/v1/cross-307", &http.Client{}, false},
		{"openai Authorization, 307", providerOpenAI, "/v1/cross-307", nil, false},
		{"openai Authorization, the caller's own client", providerOpenAI, "/v1/cross-302", &http.Client{}, false},
		{"anthropic, same-host redirect keeps working", providerAnthropic, "/v1/same", nil, true},
		{"openai, same-host redirect keeps working", providerOpenAI, "/v1/same", &http.Client{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			leaked = nil
			mu.Unlock()
			a := &Activities{HTTP: tc.client}
			x, err := a.newAPI(context.Background(), tc.provider+".test", tc.provider, provider.URL, "", StaticKey(key))
			if err != nil {
				t.Fatal(err)
			}
			r, err := x.call(context.Background(), "get", "key_x", "POST", tc.path, map[string]string{"a": "b"})
			mu.Lock()
			got := append([]string(nil), leaked...)
			mu.Unlock()
			if len(got) > 0 {
				t.Fatalf("the other host received %v", got)
			}
			if tc.wantOK {
				if err != nil || r.status != http.StatusOK {
					t.Fatalf("same-host redirect: reply %+v, err %v", r, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("cross-host redirect followed: reply %d %s", r.status, r.body)
			}
			wantPermanent(t, err, "InvalidArgument", "redirect", "another host")
			if strings.Contains(err.Error(), key) {
				t.Errorf("error holds the key: %v", err)
			}
		})
	}
}
