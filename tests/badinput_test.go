package tests

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/internal/app"
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

// The intake controls of issue 12 (items 1 and 7) and issue 11 (admission control)
// against the live stack: a drill needs drills:write and a drill cloud, a flood about
// one credential is shed with 429 and Retry-After, a token's incident quota is
// enforced, and an Idempotency-Key is scoped to the token that sent it.
func TestBadInputIntakeControls(t *testing.T) {
	tokens := map[string]string{
		"SEVER_E2E_SENDER":  "sender-token-0123456789abcdef",
		"SEVER_E2E_QUOTA":   "quota-token-0123456789abcdef",
		"SEVER_E2E_DRILLER": "driller-token-0123456789abcdef",
		"SEVER_E2E_ALICE":   "alice-token-0123456789abcdef",
		"SEVER_E2E_CAROL":   "carol-token-0123456789abcdef",
	}
	setTokens(t, tokens)
	ops := []string{config.ScopeSignalsWrite, config.ScopeIncidentsRead, config.ScopeIncidentsWrite, config.ScopeApprovalsWrite}
	cfg := runbookConfig(t, "token-approval.yaml", apiApprovalRunbook)
	cfg.Approvers.Groups = map[string][]string{"soc-leads": {"U0ALICE", "U0CAROL"}}
	cfg.Intake.Tokens = []config.IntakeToken{
		{Name: "sender", Secret: "env:SEVER_E2E_SENDER", Scopes: []string{config.ScopeSignalsWrite}},
		{Name: "quota", Secret: "env:SEVER_E2E_QUOTA", Scopes: []string{config.ScopeSignalsWrite}},
		{Name: "driller", Secret: "env:SEVER_E2E_DRILLER", Scopes: []string{config.ScopeSignalsWrite, config.ScopeDrillsWrite}},
	}
	cfg.Operators = []config.Operator{
		{Name: "alice", SlackUser: "U0ALICE", Token: "env:SEVER_E2E_ALICE", Scopes: ops},
		{Name: "carol", SlackUser: "U0CAROL", Token: "env:SEVER_E2E_CAROL", Scopes: ops},
	}
	cfg.Intake.Limits.PerCredential = config.RateLimit{Rate: 1, Burst: 3}
	cfg.Intake.Limits.Incidents = config.Quota{Count: 2, Window: time.Hour}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	d := startDev(t, app.DevOptions{Config: cfg})
	client := func(env string) *apiClient { return newAPIClient(d.URL, tokens[env]) }
	sender, quota, driller := client("SEVER_E2E_SENDER"), client("SEVER_E2E_QUOTA"), client("SEVER_E2E_DRILLER")
	alice, carol := client("SEVER_E2E_ALICE"), client("SEVER_E2E_CAROL")

	post := func(c *apiClient, sig map[string]any) *response {
		t.Helper()
		return c.mustSend(t, req{method: http.MethodPost, path: "/v1/signals", body: mustJSON(t, sig)})
	}
	refused := func(what string, resp *response, status int, code, field string, msg ...string) {
		t.Helper()
		if resp.status != status {
			t.Fatalf("%s: status %d, want %d: %s", what, resp.status, status, resp.body)
		}
		e := decode[errorJSON](t, what, resp).Error
		if e.Code != code || e.Field != field {
			t.Errorf("%s: error %+v, want code %q field %q", what, e, code, field)
		}
		for _, m := range msg {
			if !strings.Contains(e.Message, m) {
				t.Errorf("%s: message %q does not mention %q", what, e.Message, m)
			}
		}
	}
	notOpened := func(c cred) {
		t.Helper()
		if resp := alice.mustSend(t, req{method: http.MethodGet, path: "/v1/incidents/" + c.incidentID()}); resp.status != http.StatusNotFound {
			t.Errorf("incident of %s: status %d, want 404", c.id, resp.status)
		}
	}

	t.Run("drill without drills:write", func(t *testing.T) {
		c := tokenCred("acme-bad", "svc-drill-noscope")
		sig := nativeSignal(c, "evt-drill-noscope")
		sig["drill"] = true
		refused("signals:write token", post(sender, sig), 403, "forbidden", "drill", `"drills:write"`)
		refused("operator token", post(alice, sig), 403, "forbidden", "drill", `"drills:write"`)
		// Even drills:write cannot start one on a stack whose actions reach real clients.
		refused("drills:write without a drill cloud", post(driller, sig), 403, "forbidden", "drill", "drill cloud")
		if resp := alice.mustSend(t, req{method: http.MethodGet, path: "/v1/incidents/drill-" + c.incidentID()}); resp.status != http.StatusNotFound {
			t.Errorf("drill incident: status %d, want 404", resp.status)
		}
		notOpened(c)
	})

	t.Run("flood past the credential's rate", func(t *testing.T) {
		c := tokenCred("acme-bad", "svc-flood")
		var accepted []string
		var shed *response
		for i := range 10 {
			resp := post(sender, nativeSignal(c, fmt.Sprintf("evt-flood-%d", i)))
			if resp.status == http.StatusAccepted {
				accepted = append(accepted, decode[submitJSON](t, "flood", resp).SignalID)
				continue
			}
			shed = resp
			break
		}
		if shed == nil {
			t.Fatalf("10 signals at once about one credential, all accepted; want 429 past the burst of 3")
		}
		refused("flood", shed, http.StatusTooManyRequests, "too_many_requests", "credential", "too many signals")
		if ra, err := strconv.Atoi(shed.header.Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("Retry-After %q, want whole seconds ≥ 1", shed.header.Get("Retry-After"))
		}
		// Every signal answered 202 is in the incident.
		alice.waitIncident(t, c.incidentID(), "every accepted signal recorded", func(i incidentJSON) bool {
			got := map[string]bool{}
			for _, s := range i.Signals {
				got[s.ID] = true
			}
			for _, id := range accepted {
				if !got[id] {
					return false
				}
			}
			return true
		})
	})

	t.Run("incident quota", func(t *testing.T) {
		q := func(i int) cred { return tokenCred("acme-bad", fmt.Sprintf("svc-quota-%d", i)) }
		for i := range 2 {
			if resp := post(quota, nativeSignal(q(i), "evt-quota")); resp.status != http.StatusAccepted {
				t.Fatalf("incident %d of a quota of 2: %d %s", i+1, resp.status, resp.body)
			}
		}
		resp := post(quota, nativeSignal(q(2), "evt-quota"))
		refused("third incident", resp, http.StatusTooManyRequests, "too_many_requests", "", "incident quota", "quota")
		if ra, err := strconv.Atoi(resp.header.Get("Retry-After")); err != nil || ra < 1 || ra > 3600 {
			t.Errorf("Retry-After %q, want 1..3600 s", resp.header.Get("Retry-After"))
		}
		notOpened(q(2))
		// Joining an open incident is not an opening.
		if resp := post(quota, nativeSignal(q(0), "evt-quota-again")); resp.status != http.StatusAccepted {
			t.Errorf("a signal joining an open incident: %d %s", resp.status, resp.body)
		}
		// Another token has its own quota.
		if resp := post(sender, nativeSignal(q(2), "evt-quota")); resp.status != http.StatusAccepted {
			t.Errorf("another token opening the incident: %d %s", resp.status, resp.body)
		}
	})

	t.Run("Idempotency-Key is per token", func(t *testing.T) {
		c := tokenCred("acme-bad", "svc-idem")
		putToken(t, d.Tokens, c.id)
		// The driller token: sender has used its quota of two openings above.
		sub := driller.submit(t, nativeSignal(c, "evt-idem"))
		alice.waitApproval(t, sub.IncidentID, "waiting for approval", "disable")
		decide := func(who *apiClient, body string) *response {
			return who.mustSend(t, req{method: http.MethodPost, path: "/v1/incidents/" + sub.IncidentID + "/approvals",
				body: []byte(body), header: http.Header{"Idempotency-Key": {"shared-key-1"}}})
		}
		if resp := decide(alice, `{"step":"disable","decision":"approve","reason":"confirmed"}`); resp.status != http.StatusOK {
			t.Fatalf("alice's approval: %d %s", resp.status, resp.body)
		}
		alice.waitIncident(t, sub.IncidentID, "contained", func(i incidentJSON) bool { return i.Status == "contained" })
		// Carol reuses alice's key for a deny of a step that is done: she must get
		// her own answer (refused), not alice's approval replayed to her.
		resp := decide(carol, `{"step":"disable","decision":"deny","reason":"not a leak"}`)
		if resp.status == http.StatusOK {
			t.Fatalf("carol's deny with alice's Idempotency-Key answered 200 (%s): she got alice's answer", resp.body)
		}
		if resp.status != http.StatusConflict {
			t.Errorf("carol's deny: %d %s, want 409", resp.status, resp.body)
		}
		inc, _ := alice.mustIncident(t, sub.IncidentID)
		if s := inc.step("disable"); s.Status != "succeeded" {
			t.Errorf("disable = %+v after carol's late deny", s)
		}
	})
}
