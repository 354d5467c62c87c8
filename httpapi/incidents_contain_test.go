package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/service"
)

// Contain on the plain fake is a test bug, like its other methods without a func.
func (f *fakeService) Contain(context.Context, service.SubmitRequest, string) (service.SubmitResult, error) {
	return service.SubmitResult{}, errUnexpectedCall
}

// containService is a fakeService whose Contain records what it was given.
type containService struct {
	fakeService
	mu      sync.Mutex
	got     []sever.Signal
	runbook []string
	answer  func(ctx context.Context, r service.SubmitRequest, runbook string) (service.SubmitResult, error)
}

func (c *containService) Contain(ctx context.Context, r service.SubmitRequest, runbook string) (service.SubmitResult, error) {
	c.mu.Lock()
	c.got, c.runbook = append(c.got, r.Signal), append(c.runbook, runbook)
	c.mu.Unlock()
	if c.answer != nil {
		return c.answer(ctx, r, runbook)
	}
	return acceptAll(ctx, r.Signal)
}

const oscarToken = "oscar-0123456789abcdef"

// withOscar adds an operator token that may contain and approves as U0OSCAR.
func withOscar(o *httpapi.Options) {
	o.Tokens = append(append([]httpapi.Token(nil), testTokens...), httpapi.Token{
		Name: "oscar", Value: oscarToken, Approver: "U0OSCAR",
		Scopes: []string{httpapi.ScopeIncidentsWrite, httpapi.ScopeIncidentsRead},
	})
}

func containJSON(t testing.TB, mut func(m map[string]any)) string {
	t.Helper()
	m := map[string]any{
		"credential": map[string]any{"type": "aws_access_key", "id": "AKIAIOSFODNN7EXAMPLE", "account": "123456789012"},
		"reason":     "key seen on a paste site",
	}
	if mut != nil {
		mut(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func postContain(t testing.TB, a *api, token, body string, header map[string]string) *http.Response {
	t.Helper()
	rec := a.do(t, req{method: "POST", path: "/v1/incidents", token: token, contentType: "application/json", body: body, header: header})
	return rec.Result()
}

// An operator's containment becomes an enterprise signal whose source is the
// operator and whose reporter is their approval identity, so they cannot approve it.
func TestContainIncidentSubmitsOperatorSignal(t *testing.T) {
	t.Parallel()
	svc := &containService{}
	a := newAPI(t, svc, withOscar)
	body := containJSON(t, func(m map[string]any) { m["runbook"] = "aws-access-key-exposed" })
	rec := a.do(t, req{method: "POST", path: "/v1/incidents", token: oscarToken, contentType: "application/json", body: body})
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"incident_id", "signal_id", "duplicate", "status"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("answer lacks %q: %s", k, rec.Body)
		}
	}
	if len(svc.got) != 1 {
		t.Fatalf("Contain called %d times", len(svc.got))
	}
	s := svc.got[0]
	want := sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "AKIAIOSFODNN7EXAMPLE", Account: "123456789012"}
	switch {
	case svc.runbook[0] != "aws-access-key-exposed":
		t.Errorf("runbook = %q", svc.runbook[0])
	case s.Credential != want:
		t.Errorf("credential = %+v, want %+v", s.Credential, want)
	case s.Source != "operator:oscar" || s.Reporter != "U0OSCAR":
		t.Errorf("source %q reporter %q; want operator:oscar and U0OSCAR", s.Source, s.Reporter)
	case s.Origin != sever.OriginEnterprise || s.Kind != sever.KindCredentialExposed:
		t.Errorf("origin %s kind %s", s.Origin, s.Kind)
	case !strings.Contains(s.Summary, "key seen on a paste site") || !strings.Contains(s.Summary, "oscar"):
		t.Errorf("summary %q lacks the reason or the operator", s.Summary)
	case s.ID == "" || s.Receipt == "" || s.ReceivedAt.IsZero() || s.ObservedAt.IsZero():
		t.Errorf("intake fields not set: %+v", s)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("the signal does not validate: %v", err)
	}
}

func TestContainIncidentRejects(t *testing.T) {
	t.Parallel()
	const anthropicKey = "sk-ant-api03-Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0"
	mismatch := func(context.Context, service.SubmitRequest, string) (service.SubmitResult, error) {
		return service.SubmitResult{}, sever.Errorf(sever.EUNPROCESSABLE, "runbook",
			`runbook "github-token-exposed" does not exist or does not contain a aws_access_key; runbooks that do: aws-access-key-exposed`)
	}
	tests := []struct {
		name       string
		token      string // default oscar
		body       string
		answer     func(context.Context, service.SubmitRequest, string) (service.SubmitResult, error)
		wantStatus int
		wantField  string
		wantMsg    []string
		notInMsg   string
	}{
		{name: "no token", token: "-", body: containJSON(t, nil), wantStatus: 401},
		{name: "token without incidents:write", token: writerToken, body: containJSON(t, nil), wantStatus: 403, wantMsg: []string{"incidents:write"}},
		{name: "read-only token", token: readerToken, body: containJSON(t, nil), wantStatus: 403, wantMsg: []string{"incidents:write"}},
		{name: "reason missing", body: containJSON(t, func(m map[string]any) { delete(m, "reason") }),
			wantStatus: 400, wantField: "reason", wantMsg: []string{"reason is required"}},
		{name: "reason blank", body: containJSON(t, func(m map[string]any) { m["reason"] = " \t " }),
			wantStatus: 400, wantField: "reason", wantMsg: []string{"reason is required"}},
		{name: "reason oversized", body: containJSON(t, func(m map[string]any) { m["reason"] = strings.Repeat("é", 1025) }),
			wantStatus: 400, wantField: "reason", wantMsg: []string{"longer than 1024"}},
		{name: "unknown type", body: containJSON(t, func(m map[string]any) { m["credential"].(map[string]any)["type"] = "ssh_key" }),
			wantStatus: 400, wantField: "credential.type", wantMsg: []string{`unknown credential type "ssh_key"`, "aws_access_key"}},
		{name: "type missing", body: containJSON(t, func(m map[string]any) { delete(m["credential"].(map[string]any), "type") }),
			wantStatus: 400, wantField: "credential.type"},
		{name: "id missing", body: containJSON(t, func(m map[string]any) { delete(m["credential"].(map[string]any), "id") }),
			wantStatus: 400, wantField: "credential.id"},
		{name: "generic token needs a provider", body: containJSON(t, func(m map[string]any) {
			m["credential"] = map[string]any{"type": "generic_token", "id": "tok-1"}
		}), wantStatus: 400, wantField: "credential.provider"},
		{name: "unknown field", body: containJSON(t, func(m map[string]any) { m["drill"] = true }),
			wantStatus: 400, wantField: "drill", wantMsg: []string{"unknown field"}},
		{name: "secret in the reason", body: containJSON(t, func(m map[string]any) { m["reason"] = "leaked " + anthropicKey }),
			wantStatus: 400, wantField: "reason", wantMsg: []string{"never accepts"}, notInMsg: anthropicKey},
		{name: "AWS secret as the id", body: containJSON(t, func(m map[string]any) {
			m["credential"].(map[string]any)["id"] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
		}), wantStatus: 400, wantField: "credential.id", notInMsg: "wJalrXUtnFEMI"},
		{name: "runbook oversized", body: containJSON(t, func(m map[string]any) { m["runbook"] = strings.Repeat("r", 129) }),
			wantStatus: 400, wantField: "runbook"},
		{name: "runbook mismatch", body: containJSON(t, func(m map[string]any) { m["runbook"] = "github-token-exposed" }),
			answer: mismatch, wantStatus: 422, wantField: "runbook", wantMsg: []string{"runbooks that do: aws-access-key-exposed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc := &containService{answer: tc.answer}
			a := newAPI(t, svc, withOscar)
			rec := a.do(t, req{method: "POST", path: "/v1/incidents", token: orDefault(tc.token, oscarToken), contentType: "application/json", body: tc.body})
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantStatus, rec.Body)
			}
			e := apiError(t, rec)
			if tc.wantField != "" && e.Field != tc.wantField {
				t.Errorf("field %q, want %q (%s)", e.Field, tc.wantField, e.Message)
			}
			for _, m := range tc.wantMsg {
				if !strings.Contains(e.Message, m) {
					t.Errorf("message %q lacks %q", e.Message, m)
				}
			}
			if tc.notInMsg != "" && strings.Contains(rec.Body.String(), tc.notInMsg) {
				t.Errorf("the answer echoes the secret: %s", rec.Body)
			}
			if tc.notInMsg != "" && strings.Contains(a.logs.String(), tc.notInMsg) {
				t.Errorf("the log holds the secret")
			}
			if tc.answer == nil && len(svc.got) != 0 {
				t.Errorf("a refused request reached the engine: %+v", svc.got)
			}
		})
	}
}

// A retried request with the same Idempotency-Key is the same source event (the
// incident records it once); the same key from another token is not.
func TestContainIncidentIdempotencyKeyIsPerToken(t *testing.T) {
	t.Parallel()
	svc := &containService{}
	a := newAPI(t, svc, withOscar)
	key := map[string]string{"Idempotency-Key": "contain-1"}
	for _, tok := range []string{oscarToken, oscarToken, adminToken} {
		if resp := postContain(t, a, tok, containJSON(t, nil), key); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if resp := postContain(t, a, oscarToken, containJSON(t, nil), map[string]string{"Idempotency-Key": strings.Repeat("k", 129)}); resp.StatusCode != 400 {
		t.Errorf("oversized Idempotency-Key: status %d, want 400", resp.StatusCode)
	}
	g := svc.got
	if len(g) != 3 {
		t.Fatalf("%d signals", len(g))
	}
	if g[0].SourceEventID == "" || g[0].ID != g[1].ID || g[0].DedupKey() != g[1].DedupKey() {
		t.Errorf("a retry is a new event: %q/%q vs %q/%q", g[0].ID, g[0].SourceEventID, g[1].ID, g[1].SourceEventID)
	}
	if g[2].SourceEventID == g[0].SourceEventID || g[2].DedupKey() == g[0].DedupKey() {
		t.Error("another token's request with the same key is taken for the first token's")
	}
	if strings.Contains(g[0].SourceEventID, "contain-1") {
		t.Errorf("the client's key is used as it is: %q", g[0].SourceEventID)
	}
}

// Containment goes through the admission control of POST /v1/signals: a token's
// incident quota counts the incidents it opens this way too.
func TestContainIncidentAdmission(t *testing.T) {
	t.Parallel()
	svc := &containService{answer: func(ctx context.Context, r service.SubmitRequest, _ string) (service.SubmitResult, error) {
		release, err := r.ReserveIncidentOpen()
		if err != nil {
			return service.SubmitResult{}, err
		}
		_ = release
		return acceptAll(ctx, r.Signal)
	}}
	a := newAPI(t, svc, withOscar, func(o *httpapi.Options) {
		o.Limits = &httpapi.Limits{IncidentsPerToken: 1, IncidentWindow: time.Hour}
	})
	first := containJSON(t, nil)
	second := containJSON(t, func(m map[string]any) { m["credential"].(map[string]any)["id"] = "AKIAIOSFODNN7EXAMPL2" })
	if resp := postContain(t, a, oscarToken, first, nil); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("first: %d", resp.StatusCode)
	}
	resp := postContain(t, a, oscarToken, second, nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second incident: %d (Retry-After %q), want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// Server.Contain serves front ends that authenticate operators themselves (Slack,
// the web form): same checks, the operator's quota, and never without an operator.
func TestServerContain(t *testing.T) {
	t.Parallel()
	svc := &containService{}
	s, err := httpapi.New(httpapi.Options{Service: svc, Tokens: testTokens, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	base := httpapi.ContainRequest{Credential: sever.Credential{Type: sever.CredAnthropicAPIKey, ID: "apikey_01"},
		Reason: "posted in a public channel", Operator: "oscar", Reporter: "U0OSCAR", Channel: httpapi.ContainChannelSlack}
	tests := []struct {
		name      string
		mut       func(*httpapi.ContainRequest)
		wantCode  string
		wantField string
	}{
		{name: "ok"},
		{name: "no operator", mut: func(r *httpapi.ContainRequest) { r.Operator = "" }, wantCode: httpapi.EFORBIDDEN},
		{name: "no reporter", mut: func(r *httpapi.ContainRequest) { r.Reporter = " " }, wantCode: httpapi.EFORBIDDEN},
		{name: "no reason", mut: func(r *httpapi.ContainRequest) { r.Reason = "" }, wantCode: sever.EINVALID, wantField: "reason"},
		{name: "unknown type", mut: func(r *httpapi.ContainRequest) { r.Credential.Type = "x" }, wantCode: sever.EINVALID, wantField: "credential.type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := base
			if tc.mut != nil {
				tc.mut(&r)
			}
			res, err := s.Contain(context.Background(), r)
			if tc.wantCode == "" {
				if err != nil || res.IncidentID == "" {
					t.Fatalf("Contain = %+v, %v", res, err)
				}
				return
			}
			var se *sever.Error
			if !asSeverError(err, &se) || se.Code != tc.wantCode || se.Field != tc.wantField {
				t.Fatalf("err = %v; want code %s field %q", err, tc.wantCode, tc.wantField)
			}
		})
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if len(svc.got) != 1 {
		t.Fatalf("%d signals reached the engine, want 1", len(svc.got))
	}
	g := svc.got[0]
	if g.Credential.Provider != "anthropic" || g.Reporter != "U0OSCAR" || g.Source != "operator:oscar" ||
		!containsString(g.Labels, "channel:slack") {
		t.Errorf("signal = %+v", g)
	}
}

func asSeverError(err error, target **sever.Error) bool {
	se, ok := err.(*sever.Error)
	if ok {
		*target = se
	}
	return ok
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func FuzzDecodeContain(f *testing.F) {
	f.Add([]byte(`{"credential":{"type":"aws_access_key","id":"AKIAIOSFODNN7EXAMPLE"},"reason":"r"}`))
	f.Add([]byte(`{"credential":{"type":"generic_token","id":"t","provider":"p"},"runbook":"x","reason":"é"}`))
	f.Add([]byte(`{"credential":{"type":"openai_api_key","id":"sk-proj-abc"},"reason":""}`))
	f.Add([]byte(`{"credential":null,"reason":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := httpapi.DecodeContain(body)
		if err != nil {
			if _, ok := err.(*sever.Error); !ok {
				t.Fatalf("error is not a *sever.Error: %T %v", err, err)
			}
			return
		}
		if r.Reason == "" || !r.Credential.Type.Valid() || r.Credential.ID == "" || r.Credential.Provider == "" {
			t.Fatalf("accepted an incomplete request: %+v", r)
		}
		if r.Operator != "" || r.Reporter != "" {
			t.Fatalf("the body set who asked: %+v", r)
		}
	})
}

// Every credential type but the generic token has one provider, so an operator
// never has to name it: a type added without its provider here would make
// `sever contain --type T` fail for no reason the operator can see.
func TestContainDefaultsTheProvider(t *testing.T) {
	for _, typ := range sever.CredentialTypes {
		if typ == sever.CredGenericToken {
			continue
		}
		r := httpapi.ContainRequest{Credential: sever.Credential{Type: typ, ID: "id-1"}, Reason: "stolen"}
		if err := httpapi.CheckContain(&r); err != nil || r.Credential.Provider == "" {
			t.Errorf("%s: provider %q, err %v; want it filled in", typ, r.Credential.Provider, err)
		}
	}
}
