package tests

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
)

// Bad requests against the live stack get a clear error that names the problem, and
// none of them opens an incident.
func TestBadInput(t *testing.T) {
	s := startStack(t, newConfig(t))

	// Every credential a bad request names; none may end up with an incident.
	credFor := func(name string) cred { return tokenCred("acme-bad", "svc-bad-"+name) }
	signalFor := func(name string) map[string]any { return nativeSignal(credFor(name), "evt-"+name) }
	without := func(name, field string) []byte {
		sig := signalFor(name)
		delete(sig, field)
		return mustJSON(t, sig)
	}
	withCred := func(name, field, value string) []byte {
		sig := signalFor(name)
		sig["credential"].(map[string]any)[field] = value
		return mustJSON(t, sig)
	}
	str := func(s string) *string { return &s }
	// 2 MiB: twice the default limit, and inside a valid signal, so only its size is wrong.
	oversized := signalFor("oversized")
	oversized["summary"] = strings.Repeat("x", 2<<20)

	var credTypes []string
	for _, ct := range sever.CredentialTypes {
		credTypes = append(credTypes, string(ct))
	}

	tests := []struct {
		name       string
		req        req
		wantStatus int
		wantCode   string
		wantField  string
		wantMsg    []string // substrings of error.message
		wantHeader [2]string
	}{
		{
			name:       "malformed JSON",
			req:        req{method: http.MethodPost, path: "/v1/signals", body: []byte(`{"source": "siem", "origin": `)},
			wantStatus: 400, wantCode: "invalid",
		},
		{
			name:       "not JSON at all",
			req:        req{method: http.MethodPost, path: "/v1/signals", body: []byte(`source=siem`)},
			wantStatus: 400, wantCode: "invalid",
		},
		{
			name:       "missing source",
			req:        req{method: http.MethodPost, path: "/v1/signals", body: without("nosource", "source")},
			wantStatus: 400, wantCode: "invalid", wantField: "source", wantMsg: []string{"source is required"},
		},
		{
			name:       "missing observed_at",
			req:        req{method: http.MethodPost, path: "/v1/signals", body: without("noobserved", "observed_at")},
			wantStatus: 400, wantCode: "invalid", wantField: "observed_at", wantMsg: []string{"observed_at is required"},
		},
		{
			name:       "missing credential id",
			req:        req{method: http.MethodPost, path: "/v1/signals", body: withCred("noid", "id", "")},
			wantStatus: 400, wantCode: "invalid", wantField: "credential.id", wantMsg: []string{"credential.id is required"},
		},
		{
			name:       "unknown credential type",
			req:        req{method: http.MethodPost, path: "/v1/signals", body: withCred("badtype", "type", "ssh_key")},
			wantStatus: 422, wantCode: "unprocessable", wantField: "credential.type",
			wantMsg: append([]string{`"ssh_key"`}, credTypes...),
		},
		{
			name:       "unknown field",
			req:        req{method: http.MethodPost, path: "/v1/signals", body: withCred("unknownfield", "owner", "bob")},
			wantStatus: 400, wantCode: "invalid", wantField: "credential.owner",
		},
		{
			name: "secret value instead of an id",
			req: req{method: http.MethodPost, path: "/v1/signals",
				body: withCred("secret", "id", "sk-ant-api03-"+strings.Repeat("A", 40))},
			wantStatus: 400, wantCode: "invalid", wantField: "credential.id", wantMsg: []string{"never accepts or stores"},
		},
		{
			name:       "wrong content type",
			req:        req{method: http.MethodPost, path: "/v1/signals", body: mustJSON(t, signalFor("ctype")), contentType: "text/plain"},
			wantStatus: 415, wantCode: "unsupported_media_type",
		},
		{
			name:       "no token",
			req:        req{method: http.MethodPost, path: "/v1/signals", body: mustJSON(t, signalFor("notoken")), auth: str("")},
			wantStatus: 401, wantCode: "unauthorized", wantHeader: [2]string{"WWW-Authenticate", `Bearer realm="sever"`},
		},
		{
			name: "bad token",
			req: req{method: http.MethodPost, path: "/v1/signals", body: mustJSON(t, signalFor("badtoken")),
				auth: str("Bearer sever_dev_0000000000000000000000000000000000000000")},
			wantStatus: 401, wantCode: "unauthorized", wantMsg: []string{"invalid bearer token"},
			wantHeader: [2]string{"WWW-Authenticate", `error="invalid_token"`},
		},
		{
			name:       "bad token on a read",
			req:        req{method: http.MethodGet, path: "/v1/incidents", auth: str("Bearer " + strings.Repeat("z", 40))},
			wantStatus: 401, wantCode: "unauthorized",
		},
		{
			name:       "basic auth instead of bearer",
			req:        req{method: http.MethodGet, path: "/v1/incidents", auth: str("Basic ZGV2OmRldg==")},
			wantStatus: 401, wantCode: "unauthorized",
		},
		{
			name:       "oversized body (2 MiB)",
			req:        req{method: http.MethodPost, path: "/v1/signals", body: mustJSON(t, oversized)},
			wantStatus: 413, wantCode: "too_large", wantMsg: []string{"larger than 1048576 bytes"},
		},
		{
			name:       "unknown incident",
			req:        req{method: http.MethodGet, path: "/v1/incidents/" + credFor("never-reported").incidentID()},
			wantStatus: 404, wantCode: "not_found", wantMsg: []string{credFor("never-reported").incidentID()},
		},
		{
			name:       "invalid incident id",
			req:        req{method: http.MethodGet, path: "/v1/incidents/inc%20bad"},
			wantStatus: 400, wantCode: "invalid", wantField: "id",
		},
		{
			name: "close without reason",
			req: req{method: http.MethodPost, path: "/v1/incidents/" + credFor("close").incidentID() + "/close",
				body: []byte(`{}`)},
			wantStatus: 400, wantCode: "invalid", wantField: "reason", wantMsg: []string{"reason is required"},
		},
		{
			name: "close with a blank reason",
			req: req{method: http.MethodPost, path: "/v1/incidents/" + credFor("close").incidentID() + "/close",
				body: []byte(`{"reason": "   "}`)},
			wantStatus: 400, wantCode: "invalid", wantField: "reason",
		},
		{
			name: "close an unknown incident",
			req: req{method: http.MethodPost, path: "/v1/incidents/" + credFor("close").incidentID() + "/close",
				body: []byte(`{"reason": "cleanup"}`)},
			wantStatus: 404, wantCode: "not_found",
		},
		{
			name:       "unknown status filter",
			req:        req{method: http.MethodGet, path: "/v1/incidents?status=burning"},
			wantStatus: 400, wantCode: "invalid", wantField: "status",
		},
		{
			name:       "wrong method",
			req:        req{method: http.MethodDelete, path: "/v1/signals"},
			wantStatus: 405, wantCode: "method_not_allowed",
		},
		{
			name:       "no such route",
			req:        req{method: http.MethodGet, path: "/v1/nothing-here"},
			wantStatus: 404, wantCode: "not_found",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := s.api.mustSend(t, tt.req)
			if resp.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.status, tt.wantStatus, resp.body)
			}
			if ct := resp.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			requireKeys(t, "body", resp.body, "error")
			e := decode[errorJSON](t, "error body", resp).Error
			if e.Code != tt.wantCode || e.Field != tt.wantField || e.Message == "" {
				t.Errorf("error = %+v, want code %q field %q and a message", e, tt.wantCode, tt.wantField)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(e.Message, m) {
					t.Errorf("message %q does not mention %q", e.Message, m)
				}
			}
			if h := tt.wantHeader; h[0] != "" && !strings.Contains(resp.header.Get(h[0]), h[1]) {
				t.Errorf("%s: %q, want it to contain %q", h[0], resp.header.Get(h[0]), h[1])
			}
			if strings.Contains(string(resp.body), s.DevToken) {
				t.Error("the error repeats the API token")
			}
		})
	}

	t.Run("nothing was created", func(t *testing.T) {
		if l := s.api.list(t, ""); len(l) != 0 {
			t.Errorf("GET /v1/incidents lists %d incident(s) after only bad requests: %+v", len(l), l)
		}
		// The listing trails the workflows; a lookup by id does not.
		for _, name := range []string{"nosource", "noobserved", "noid", "badtype", "unknownfield", "secret",
			"ctype", "notoken", "badtoken", "oversized", "close"} {
			id := credFor(name).incidentID()
			resp := s.api.mustSend(t, req{method: http.MethodGet, path: "/v1/incidents/" + id})
			if resp.status != http.StatusNotFound {
				t.Errorf("incident for %s: status %d, want 404: %s", name, resp.status, resp.body)
			}
		}
	})

	t.Run("healthz", func(t *testing.T) {
		resp := s.api.mustSend(t, req{method: http.MethodGet, path: "/healthz", auth: str("")})
		if resp.status != http.StatusOK || strings.TrimSpace(string(resp.body)) != `{"status":"ok"}` {
			t.Errorf("GET /healthz: %d %s", resp.status, resp.body)
		}
		// And the stack still takes a good signal after all that.
		c := credFor("afterwards")
		s.enrol(t, c.id)
		sub := s.api.submit(t, nativeSignal(c, "evt-afterwards"))
		if sub.Status != "recorded" {
			t.Errorf("good signal after the bad ones: %+v", sub)
		}
	})
}
