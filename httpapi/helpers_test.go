package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/service"
)

// fakeService answers with whatever its function fields say; a call to a method
// without one is a test bug and comes back as an error the test will notice.
type fakeService struct {
	SubmitSignalFunc func(ctx context.Context, s sever.Signal) (service.SubmitResult, error)
	// SubmitFunc, when set, takes the whole request instead of SubmitSignalFunc, for
	// tests of what the request carries beside the signal (the quota, async).
	SubmitFunc        func(ctx context.Context, r service.SubmitRequest) (service.SubmitResult, error)
	ListIncidentsFunc func(ctx context.Context, f service.ListFilter) ([]sever.IncidentSummary, error)
	GetIncidentFunc   func(ctx context.Context, id string) (*sever.Incident, error)
	CloseIncidentFunc func(ctx context.Context, id string, r service.CloseRequest) error
	DecideFunc        func(ctx context.Context, id string, r service.DecideRequest) (service.DecideResult, error)
}

var _ service.Service = (*fakeService)(nil)

var errUnexpectedCall = errors.New("fakeService: unexpected call")

func (f *fakeService) SubmitSignal(ctx context.Context, r service.SubmitRequest) (service.SubmitResult, error) {
	if f.SubmitFunc != nil {
		return f.SubmitFunc(ctx, r)
	}
	if f.SubmitSignalFunc == nil {
		return service.SubmitResult{}, errUnexpectedCall
	}
	return f.SubmitSignalFunc(ctx, r.Signal)
}

func (f *fakeService) ListIncidents(ctx context.Context, fl service.ListFilter) ([]sever.IncidentSummary, error) {
	if f.ListIncidentsFunc == nil {
		return nil, errUnexpectedCall
	}
	return f.ListIncidentsFunc(ctx, fl)
}

func (f *fakeService) GetIncident(ctx context.Context, id string) (*sever.Incident, error) {
	if f.GetIncidentFunc == nil {
		return nil, errUnexpectedCall
	}
	return f.GetIncidentFunc(ctx, id)
}

func (f *fakeService) Decide(ctx context.Context, id string, r service.DecideRequest) (service.DecideResult, error) {
	if f.DecideFunc == nil {
		return service.DecideResult{}, errUnexpectedCall
	}
	return f.DecideFunc(ctx, id, r)
}

func (f *fakeService) CloseIncident(ctx context.Context, id string, r service.CloseRequest) error {
	if f.CloseIncidentFunc == nil {
		return errUnexpectedCall
	}
	return f.CloseIncidentFunc(ctx, id, r)
}

const (
	writerToken = "writer-0123456789abcdef"
	readerToken = "reader-0123456789abcdef"
	closerToken = "closer-0123456789abcdef"
	adminToken  = "admin-0123456789abcdef"
)

var testTokens = []httpapi.Token{
	{Name: "writer", Value: writerToken, Scopes: []string{httpapi.ScopeSignalsWrite}},
	{Name: "reader", Value: readerToken, Scopes: []string{httpapi.ScopeIncidentsRead}},
	{Name: "closer", Value: closerToken, Scopes: []string{httpapi.ScopeIncidentsWrite}},
	{Name: "admin", Value: adminToken},
}

// fixedNow is deliberately not UTC, to show that ReceivedAt is stored in UTC.
var fixedNow = time.Date(2025, 6, 1, 14, 0, 0, 0, time.FixedZone("CEST", 2*3600))

// syncBuffer lets parallel requests log into one buffer under -race.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type api struct {
	h    http.Handler
	logs *syncBuffer
}

func newAPI(t testing.TB, svc service.Service, tweak ...func(*httpapi.Options)) *api {
	t.Helper()
	logs := &syncBuffer{}
	o := httpapi.Options{
		Service: svc,
		Tokens:  testTokens,
		Logger:  slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:     func() time.Time { return fixedNow },
	}
	for _, f := range tweak {
		f(&o)
	}
	s, err := httpapi.New(o)
	if err != nil {
		t.Fatalf("httpapi.New: %v", err)
	}
	return &api{h: s.Handler(), logs: logs}
}

type req struct {
	method, path string
	token        string // "" sends no Authorization header
	contentType  string // "" sends none
	body         string
	header       map[string]string
	chunked      bool // send the body without a Content-Length
}

func (a *api) do(t testing.TB, r req) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader = http.NoBody
	if r.body != "" {
		body = strings.NewReader(r.body)
		if r.chunked {
			body = io.MultiReader(body) // hides the length from httptest.NewRequest
		}
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.contentType != "" {
		hr.Header.Set("Content-Type", r.contentType)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, hr)
	return rec
}

// postSignal sends body to POST /v1/signals with the writer token.
func (a *api) postSignal(t testing.TB, body string) *httptest.ResponseRecorder {
	t.Helper()
	return a.do(t, req{method: "POST", path: "/v1/signals", token: writerToken, contentType: "application/json", body: body})
}

type errorBody struct {
	Error *sever.Error `json:"error"`
}

// apiError decodes the error JSON of rec and fails the test when it is not one.
func apiError(t testing.TB, rec *httptest.ResponseRecorder) *sever.Error {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json; body %s", ct, rec.Body)
	}
	var eb errorBody
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eb); err != nil || eb.Error == nil {
		t.Fatalf("body is not an error JSON (%v): %s", err, rec.Body)
	}
	if eb.Error.Code == "" || eb.Error.Message == "" {
		t.Fatalf("error lacks code or message: %s", rec.Body)
	}
	return eb.Error
}

func decodeJSON[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decoding response %s: %v", rec.Body, err)
	}
	return v
}

// baseSignal is a valid native signal as a map, so cases can change one thing.
func baseSignal() map[string]any {
	return map[string]any{
		"source":          "gitleaks-ci",
		"source_event_id": "evt-42",
		"origin":          "enterprise",
		"kind":            "credential_exposed",
		"observed_at":     "2025-06-01T11:58:00+02:00",
		"credential": map[string]any{
			"provider":  "aws",
			"type":      "aws_access_key",
			"id":        "AKIAIOSFODNN7EXAMPLE",
			"principal": "arn:aws:iam::123456789012:user/ci-deployer",
			"account":   "123456789012",
		},
		"severity": "high",
		"summary":  "key committed to a public repository",
	}
}

// signalJSON is baseSignal after mut, as JSON.
func signalJSON(t testing.TB, mut func(m map[string]any)) string {
	t.Helper()
	m := baseSignal()
	if mut != nil {
		mut(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func cred(m map[string]any) map[string]any { return m["credential"].(map[string]any) }

func acceptAll(_ context.Context, s sever.Signal) (service.SubmitResult, error) {
	return service.SubmitResult{IncidentID: sever.IncidentID(s.Credential), SignalID: s.ID, Status: service.SubmitQueued}, nil
}

// checkServiceRequest checks the answer to a request the API turns into a service
// call: the status first; on a refusal, the error's field and that the service
// was never asked (unless svcErr, the service's own failure, is what refused);
// on success, that the service got want. It reports whether the answer was a
// success, so the caller goes on to check the response body.
func checkServiceRequest[R comparable](t testing.TB, rec *httptest.ResponseRecorder, wantStatus int, wantField string, svcErr error, got *R, want R) bool {
	t.Helper()
	if rec.Code != wantStatus {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, wantStatus, rec.Body)
	}
	if wantStatus != http.StatusOK {
		if e := apiError(t, rec); e.Field != wantField {
			t.Errorf("field = %q, want %q (%s)", e.Field, wantField, e.Message)
		}
		if got != nil && svcErr == nil {
			t.Error("the service was asked despite the error")
		}
		return false
	}
	if got == nil || *got != want {
		t.Errorf("service request = %+v, want %+v", got, want)
	}
	return true
}

// doWant sends r and stops the test unless the answer has the status want.
func (a *api) doWant(t testing.TB, r req, want int) *httptest.ResponseRecorder {
	t.Helper()
	resp := a.do(t, r)
	if resp.Code != want {
		t.Fatalf("status = %d, want %d; body %s", resp.Code, want, resp.Body)
	}
	return resp
}

// orDefault reads a test case's header field: "" means the default, "-" means
// none at all, anything else is itself.
func orDefault(v, def string) string {
	switch v {
	case "":
		return def
	case "-":
		return ""
	}
	return v
}
