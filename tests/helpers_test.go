package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/tokenstore"
)

// Wire shapes, spelled out here from DESIGN.md ("Vocabulary on the wire") rather than
// borrowed from package sever, so that a renamed JSON tag fails these tests instead of
// silently agreeing with itself.

type submitJSON struct {
	IncidentID string `json:"incident_id"`
	SignalID   string `json:"signal_id"`
	Duplicate  bool   `json:"duplicate"`
	Status     string `json:"status"`
}

type errorJSON struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

type credentialJSON struct {
	Provider  string `json:"provider"`
	Type      string `json:"type"`
	ID        string `json:"id"`
	Principal string `json:"principal,omitempty"`
	Account   string `json:"account,omitempty"`
}

type runbookRefJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
}

type signalJSON struct {
	ID            string         `json:"id"`
	Source        string         `json:"source"`
	SourceEventID string         `json:"source_event_id"`
	Origin        string         `json:"origin"`
	Kind          string         `json:"kind"`
	Credential    credentialJSON `json:"credential"`
	ReceivedAt    time.Time      `json:"received_at"`
	DelaySeconds  float64        `json:"delay_seconds"`
	Duplicates    int            `json:"duplicates"`
	Reporter      string         `json:"reporter"`
}

type stepJSON struct {
	ID          string     `json:"id"`
	Action      string     `json:"action"`
	Status      string     `json:"status"`
	Enforcement string     `json:"enforcement"`
	Verified    bool       `json:"verified"`
	Actor       string     `json:"actor"`
	PolicyRule  string     `json:"policy_rule"`
	StartedAt   *time.Time `json:"started_at"`
	EndedAt     *time.Time `json:"ended_at"`
	Error       string     `json:"error"`
}

type incidentJSON struct {
	ID         string         `json:"id"`
	Status     string         `json:"status"`
	Credential credentialJSON `json:"credential"`
	Runbook    runbookRefJSON `json:"runbook"`
	Signals    []signalJSON   `json:"signals"`
	Duplicates int            `json:"duplicate_signals"`
	Steps      []stepJSON     `json:"steps"`
	Reason     string         `json:"reason"`
	OpenedAt   time.Time      `json:"opened_at"`
}

type summaryJSON struct {
	ID         string         `json:"id"`
	Status     string         `json:"status"`
	Credential credentialJSON `json:"credential"`
	Runbook    string         `json:"runbook"`
	Running    bool           `json:"running"`
}

type listJSON struct {
	Incidents []summaryJSON `json:"incidents"`
}

func (inc incidentJSON) step(id string) stepJSON {
	for _, s := range inc.Steps {
		if s.ID == id {
			return s
		}
	}
	return stepJSON{}
}

func (inc incidentJSON) stepIDs() []string {
	var ids []string
	for _, s := range inc.Steps {
		ids = append(ids, s.ID)
	}
	return ids
}

// requireKeys fails unless the JSON object raw has every key in keys.
func requireKeys(t *testing.T, what string, raw json.RawMessage, keys ...string) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: not a JSON object: %v: %s", what, err, raw)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s: missing key %q (has %v)", what, k, sortedKeys(m))
		}
	}
}

func sortedKeys(m map[string]json.RawMessage) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// stack is a running sever dev stack and an HTTP client for its API.
type stack struct {
	*app.Dev
	api *apiClient
	// tokens are the bearer values of the stack's API clients, which must never
	// reach a history.
	tokens []string
	stop   func()
}

// newConfig returns the default config on a fresh data dir with a free API port.
func newConfig(t *testing.T) *config.Config {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Listen = "127.0.0.1:0"
	return cfg
}

// startStack starts the whole stack on cfg and stops it when the test ends. Its log
// goes to a buffer that is printed only when the test fails.
func startStack(t *testing.T, cfg *config.Config) *stack {
	t.Helper()
	return startStackWith(t, app.DevOptions{Config: cfg})
}

// startStackWith starts the stack with o (FrontendPort 0, no UI, a test logger).
func startStackWith(t *testing.T, o app.DevOptions) *stack {
	t.Helper()
	logger := testLogger(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	o.FrontendPort, o.UI = 0, false
	if o.Logger == nil {
		o.Logger = logger
	}
	d, err := app.StartDev(ctx, o)
	if err != nil {
		t.Fatalf("StartDev: %v", err)
	}
	t.Logf("stack up in %v: %s", time.Since(start).Round(time.Millisecond), d.URL)
	var once sync.Once
	s := &stack{Dev: d, api: newAPIClient(d.URL, d.DevToken)}
	if d.DevToken != "" {
		s.tokens = []string{d.DevToken}
	}
	s.stop = func() {
		once.Do(func() {
			start := time.Now()
			if err := d.Stop(); err != nil {
				t.Errorf("Stop: %v", err)
			}
			t.Logf("stack down in %v", time.Since(start).Round(time.Millisecond))
		})
	}
	t.Cleanup(s.stop)
	if d.DevToken == "" && len(o.Config.Intake.Tokens) == 0 && len(o.Config.Operators) == 0 {
		t.Fatal("StartDev gave no dev token for a config without intake tokens")
	}
	return s
}

// twoPeople configures cfg with an intake token, "siem", and a SOC lead, "lead"
// (Slack user U0LEAD, in group soc-leads, every operator scope), instead of the dev
// token. Whoever raises an incident may not approve its actions, undoing them
// included, so a test in which a lead decides on an incident needs someone else to
// raise it. use gives their clients once the stack is up, and makes the lead's the
// stack's own (s.api).
func twoPeople(t *testing.T, cfg *config.Config) (use func(*stack) (siem, lead *apiClient)) {
	t.Helper()
	tokens := map[string]string{"SEVER_E2E_SIEM": "siem-token-0123456789abcdef", "SEVER_E2E_LEAD": "lead-token-0123456789abcdef"}
	setTokens(t, tokens)
	cfg.Approvers.Groups = map[string][]string{"soc-leads": {"U0LEAD"}}
	cfg.Intake.Tokens = []config.IntakeToken{{Name: "siem", Secret: "env:SEVER_E2E_SIEM", Scopes: []string{config.ScopeSignalsWrite}}}
	cfg.Operators = []config.Operator{{Name: "lead", SlackUser: "U0LEAD", Token: "env:SEVER_E2E_LEAD",
		Scopes: []string{config.ScopeSignalsWrite, config.ScopeIncidentsRead, config.ScopeIncidentsWrite, config.ScopeApprovalsWrite}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return func(s *stack) (*apiClient, *apiClient) {
		siem, lead := newAPIClient(s.URL, tokens["SEVER_E2E_SIEM"]), newAPIClient(s.URL, tokens["SEVER_E2E_LEAD"])
		s.api = lead
		s.tokens = append(s.tokens, tokens["SEVER_E2E_SIEM"], tokens["SEVER_E2E_LEAD"])
		return siem, lead
	}
}

// enrol puts a token into the stack's token store, so generic_token runbooks can
// disable it.
func (s *stack) enrol(t *testing.T, id string) {
	t.Helper()
	if err := s.Tokens.Put(tokenstore.Token{ID: id, Owner: "e2e"}); err != nil {
		t.Fatalf("enrol token %s: %v", id, err)
	}
}

// logBuffer keeps the last lines a stack logged.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, strings.TrimRight(string(p), "\n"))
	if len(b.lines) > 500 {
		b.lines = b.lines[len(b.lines)-400:]
	}
	return len(p), nil
}

// testLogger logs at info into a buffer that is printed when the test fails. With
// SEVER_E2E_LOG=debug it logs at debug and is always printed.
func testLogger(t *testing.T) *slog.Logger {
	buf := &logBuffer{}
	level, always := slog.LevelInfo, os.Getenv("SEVER_E2E_LOG") == "debug"
	if always {
		level = slog.LevelDebug
	}
	t.Cleanup(func() {
		if !t.Failed() && !always {
			return
		}
		buf.mu.Lock()
		defer buf.mu.Unlock()
		t.Logf("last %d log lines of the stack:\n%s", len(buf.lines), strings.Join(buf.lines, "\n"))
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: level}))
}

// apiClient talks to the sever API as a user would: net/http and JSON.
type apiClient struct {
	base  string
	token string
	hc    *http.Client
}

func newAPIClient(base, token string) *apiClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return &apiClient{base: base, token: token, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// req is one HTTP request. Auth nil means the client's bearer token; a pointer to
// "" sends no Authorization header.
type req struct {
	method      string
	path        string
	body        []byte
	contentType string
	auth        *string
	header      http.Header // more headers, set last
}

func (c *apiClient) send(r req) (*response, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, c.base+r.path, body)
	if err != nil {
		return nil, err
	}
	if r.body != nil {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	switch {
	case r.auth == nil:
		hr.Header.Set("Authorization", "Bearer "+c.token)
	case *r.auth != "":
		hr.Header.Set("Authorization", *r.auth)
	}
	for k, vs := range r.header {
		for _, v := range vs {
			hr.Header.Add(k, v)
		}
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", r.method, r.path, err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

func (c *apiClient) mustSend(t *testing.T, r req) *response {
	t.Helper()
	resp, err := c.send(r)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jsonBytes is mustJSON for goroutines, where a test may not stop; the values it
// gets are maps of strings and always marshal.
func jsonBytes(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func decode[T any](t *testing.T, what string, resp *response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(resp.body, &v); err != nil {
		t.Fatalf("%s: decode %T: %v: %s", what, v, err, resp.body)
	}
	return v
}

// submit posts a native signal and expects 202.
func (c *apiClient) submit(t *testing.T, sig map[string]any) submitJSON {
	t.Helper()
	resp := c.mustSend(t, req{method: http.MethodPost, path: "/v1/signals", body: mustJSON(t, sig)})
	if resp.status != http.StatusAccepted {
		t.Fatalf("POST /v1/signals: status %d, want 202: %s", resp.status, resp.body)
	}
	requireKeys(t, "POST /v1/signals answer", resp.body, "incident_id", "signal_id", "duplicate", "status")
	return decode[submitJSON](t, "POST /v1/signals", resp)
}

// incident reads GET /v1/incidents/{id}; it returns an error, not a failure, so it
// can be polled.
func (c *apiClient) incident(id string) (incidentJSON, json.RawMessage, error) {
	resp, err := c.send(req{method: http.MethodGet, path: "/v1/incidents/" + id})
	if err != nil {
		return incidentJSON{}, nil, err
	}
	if resp.status != http.StatusOK {
		return incidentJSON{}, nil, fmt.Errorf("GET /v1/incidents/%s: status %d: %s", id, resp.status, resp.body)
	}
	var inc incidentJSON
	if err := json.Unmarshal(resp.body, &inc); err != nil {
		return incidentJSON{}, nil, fmt.Errorf("GET /v1/incidents/%s: %v: %s", id, err, resp.body)
	}
	return inc, resp.body, nil
}

func (c *apiClient) mustIncident(t *testing.T, id string) (incidentJSON, json.RawMessage) {
	t.Helper()
	inc, raw, err := c.incident(id)
	if err != nil {
		t.Fatal(err)
	}
	return inc, raw
}

// waitIncident polls the incident until ok says yes.
func (c *apiClient) waitIncident(t *testing.T, id, what string, ok func(incidentJSON) bool) incidentJSON {
	t.Helper()
	var got incidentJSON
	waitFor(t, what, func() error {
		inc, _, err := c.incident(id)
		if err != nil {
			return err
		}
		got = inc
		if !ok(inc) {
			return fmt.Errorf("incident %s is %s, steps %s, %d signal(s), %d duplicate(s)",
				inc.ID, inc.Status, stepStates(inc), len(inc.Signals), inc.Duplicates)
		}
		return nil
	})
	return got
}

func stepStates(inc incidentJSON) string {
	var parts []string
	for _, s := range inc.Steps {
		parts = append(parts, s.ID+"="+s.Status)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func (c *apiClient) list(t *testing.T, query string) []summaryJSON {
	t.Helper()
	resp := c.mustSend(t, req{method: http.MethodGet, path: "/v1/incidents" + query})
	if resp.status != http.StatusOK {
		t.Fatalf("GET /v1/incidents%s: status %d: %s", query, resp.status, resp.body)
	}
	requireKeys(t, "GET /v1/incidents", resp.body, "incidents")
	l := decode[listJSON](t, "GET /v1/incidents", resp)
	if l.Incidents == nil {
		t.Fatalf("GET /v1/incidents: incidents is null, want a list: %s", resp.body)
	}
	return l.Incidents
}

// closeIncident posts a close with reason and expects 200.
func (c *apiClient) closeIncident(t *testing.T, id, reason string) {
	t.Helper()
	resp := c.mustSend(t, req{method: http.MethodPost, path: "/v1/incidents/" + id + "/close",
		body: mustJSON(t, map[string]any{"reason": reason})})
	if resp.status != http.StatusOK {
		t.Fatalf("close %s: status %d, want 200: %s", id, resp.status, resp.body)
	}
	got := decode[map[string]string](t, "close", resp)
	if got["id"] != id || got["status"] != "closed" {
		t.Fatalf("close %s answered %s", id, resp.body)
	}
}

// closeFalsePositive closes an incident as a false positive, which undoes its
// reversible steps.
func (c *apiClient) closeFalsePositive(t *testing.T, id, reason string) {
	t.Helper()
	resp := c.mustSend(t, req{method: http.MethodPost, path: "/v1/incidents/" + id + "/close",
		body: mustJSON(t, map[string]any{"reason": reason, "false_positive": true})})
	if resp.status != http.StatusOK {
		t.Fatalf("close %s as a false positive: status %d, want 200: %s", id, resp.status, resp.body)
	}
}

// errNotYet is what a waitFor condition returns when there is nothing better to say.
var errNotYet = errors.New("not yet")

// waitFor polls cond every 20 ms until it returns nil, and fails the test with the
// last error after 20 s (after tailscale's tstest.WaitFor).
func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	waitEvery(t, what, 20*time.Millisecond, 20*time.Second, cond)
}

// waitEvery polls cond every interval until it returns nil, and fails the test
// with the last error after timeout.
func waitEvery(t *testing.T, what string, every, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting %v for %s: %v", timeout, what, err)
		}
		time.Sleep(every)
	}
}

// cred is a credential as the native signal schema spells it.
type cred struct {
	provider, typ, id string
}

func tokenCred(provider, id string) cred {
	return cred{provider: provider, typ: "generic_token", id: id}
}

// incidentID is the incident every signal about c lands in.
func (c cred) incidentID() string {
	return sever.IncidentID(sever.Credential{Provider: c.provider, Type: sever.CredentialType(c.typ), ID: c.id})
}

// nativeSignal builds a valid native signal about c.
func nativeSignal(c cred, eventID string) map[string]any {
	sig := map[string]any{
		"source":      "e2e-siem",
		"origin":      "enterprise",
		"kind":        "credential_exposed",
		"observed_at": time.Now().UTC().Format(time.RFC3339),
		"severity":    "high",
		"summary":     "token found in a public paste",
		"credential":  map[string]any{"provider": c.provider, "type": c.typ, "id": c.id, "principal": "svc-e2e"},
	}
	if eventID != "" {
		sig["source_event_id"] = eventID
	}
	return sig
}
