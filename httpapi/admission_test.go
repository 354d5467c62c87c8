package httpapi_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/service"
	"github.com/sever-ir/sever/telemetry"
)

const drillerToken = "driller-0123456789abcdef"

// clock is a settable time for Options.Now, so rate limits refill only when a test
// says so.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// signalRecorder is a service that records what it was given and, like the engine,
// charges the incident quota when a signal opens an incident it has not seen.
type signalRecorder struct {
	mu      sync.Mutex
	signals []sever.Signal
	open    map[string]bool
}

func (r *signalRecorder) submit(ctx context.Context, req service.SubmitRequest) (service.SubmitResult, error) {
	s := req.Signal
	id := sever.IncidentID(s.Credential)
	r.mu.Lock()
	known := r.open[id]
	r.mu.Unlock()
	if !known {
		if _, err := req.ReserveIncidentOpen(); err != nil {
			return service.SubmitResult{}, err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.open == nil {
		r.open = map[string]bool{}
	}
	r.open[id] = true
	r.signals = append(r.signals, s)
	return service.SubmitResult{IncidentID: id, SignalID: s.ID, Status: service.SubmitQueued}, nil
}

func (r *signalRecorder) last() sever.Signal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.signals[len(r.signals)-1]
}

func (r *signalRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.signals)
}

func withDriller(o *httpapi.Options) {
	o.Tokens = append(o.Tokens, httpapi.Token{Name: "driller", Value: drillerToken,
		Scopes: []string{httpapi.ScopeSignalsWrite, httpapi.ScopeDrillsWrite}})
}

// A drill is a capability: only a token with drills:write, and only on a server
// that runs drills, may send "drill": true.
func TestDrillNeedsScope(t *testing.T) {
	t.Parallel()
	drill := signalJSON(t, func(m map[string]any) { m["drill"] = true })
	notDrill := signalJSON(t, func(m map[string]any) { m["drill"] = false })
	tests := []struct {
		name       string
		token      string
		drills     bool
		body       string
		wantStatus int
		wantMsg    string
	}{
		{name: "signals:write only", token: writerToken, drills: true, body: drill, wantStatus: 403, wantMsg: `lacks scope "drills:write"`},
		{name: "drills:write on a server without drills", token: drillerToken, drills: false, body: drill, wantStatus: 403, wantMsg: "drill cloud"},
		{name: "drills:write with drills", token: drillerToken, drills: true, body: drill, wantStatus: 202},
		{name: "all-scope token with drills", token: adminToken, drills: true, body: drill, wantStatus: 202},
		{name: "drill false needs no scope", token: writerToken, drills: false, body: notDrill, wantStatus: 202},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &signalRecorder{}
			a := newAPI(t, &fakeService{SubmitFunc: rec.submit}, withDriller, func(o *httpapi.Options) { o.Drills = tt.drills })
			resp := a.do(t, req{method: "POST", path: "/v1/signals", token: tt.token, contentType: "application/json", body: tt.body})
			if resp.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.Code, tt.wantStatus, resp.Body)
			}
			if tt.wantStatus != 202 {
				e := apiError(t, resp)
				if e.Code != httpapi.EFORBIDDEN || e.Field != "drill" || !strings.Contains(e.Message, tt.wantMsg) {
					t.Errorf("error %+v, want forbidden on field drill mentioning %q", e, tt.wantMsg)
				}
				if rec.count() != 0 {
					t.Error("the refused drill signal reached the service")
				}
				return
			}
			if got := rec.last(); got.Drill != strings.Contains(tt.body, `"drill":true`) {
				t.Errorf("Drill = %v", got.Drill)
			}
		})
	}
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	c := &clock{t: fixedNow}
	rec := &signalRecorder{}
	m, err := telemetry.New(telemetry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	a := newAPI(t, &fakeService{SubmitFunc: rec.submit}, func(o *httpapi.Options) {
		o.Now = c.now
		o.Metrics = m
		o.Limits = &httpapi.Limits{CredentialRate: 1, CredentialBurst: 3, TokenRate: 2, TokenBurst: 6}
	})
	post := func(token string, mut func(map[string]any)) *httptest.ResponseRecorder {
		return a.do(t, req{method: "POST", path: "/v1/signals", token: token, contentType: "application/json",
			body: signalJSON(t, mut)})
	}
	aws := func(m map[string]any) {}
	generic := func(m map[string]any) { cred(m)["type"] = "generic_token"; cred(m)["provider"] = "aws" }
	other := func(id string) func(map[string]any) {
		return func(m map[string]any) { cred(m)["id"] = id }
	}

	steps := []struct {
		name       string
		advance    time.Duration
		token      string
		mut        func(map[string]any)
		wantStatus int
		wantField  string
		wantRetry  string
		wantShed   int // ShedBefore of the accepted signal
	}{
		{name: "burst 1", token: writerToken, mut: aws, wantStatus: 202},
		{name: "burst 2", token: writerToken, mut: aws, wantStatus: 202},
		{name: "burst 3", token: writerToken, mut: aws, wantStatus: 202},
		{name: "past the credential's burst", token: writerToken, mut: aws, wantStatus: 429, wantField: "credential", wantRetry: "1"},
		{name: "still past it", token: adminToken, mut: aws, wantStatus: 429, wantField: "credential", wantRetry: "1"},
		{name: "same key under another type is another credential", token: writerToken, mut: generic, wantStatus: 202},
		{name: "another credential", token: writerToken, mut: other("AKIAI44QH8DHBEXAMPLE"), wantStatus: 202},
		{name: "a third one", token: writerToken, mut: other("AKIAJ55QH8DHBEXAMPLE"), wantStatus: 202},
		{name: "past the token's burst", token: writerToken, mut: other("AKIAK66QH8DHBEXAMPLE"), wantStatus: 429, wantRetry: "1"},
		{name: "another token is not held back; the shed one is reported", token: adminToken, mut: other("AKIAK66QH8DHBEXAMPLE"), wantStatus: 202, wantShed: 1},
		{name: "refilled: reports what was shed", advance: time.Second, token: adminToken, mut: aws, wantStatus: 202, wantShed: 2},
		{name: "the count was reported once", advance: time.Second, token: adminToken, mut: aws, wantStatus: 202, wantShed: 0},
	}
	for _, st := range steps {
		c.advance(st.advance)
		resp := post(st.token, st.mut)
		if resp.Code != st.wantStatus {
			t.Fatalf("%s: status %d, want %d: %s", st.name, resp.Code, st.wantStatus, resp.Body)
		}
		if st.wantStatus == 429 {
			e := apiError(t, resp)
			if e.Code != httpapi.ETOOMANY || e.Field != st.wantField {
				t.Errorf("%s: error %+v, want %s on field %q", st.name, e, httpapi.ETOOMANY, st.wantField)
			}
			if got := resp.Header().Get("Retry-After"); got != st.wantRetry {
				t.Errorf("%s: Retry-After %q, want %q", st.name, got, st.wantRetry)
			}
			continue
		}
		if got := rec.last().ShedBefore; got != st.wantShed {
			t.Errorf("%s: ShedBefore = %d, want %d", st.name, got, st.wantShed)
		}
	}

	exp := a.do(t, req{method: "GET", path: "/metrics"}).Body.String()
	for _, want := range []string{`sever_signals_shed_total{reason="credential_rate"} 2`, `sever_signals_shed_total{reason="token_rate"} 1`} {
		if !strings.Contains(exp, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// A token may open only so many incidents per window; joining an open incident is
// free, and another token has its own quota.
func TestIncidentQuota(t *testing.T) {
	t.Parallel()
	c := &clock{t: fixedNow}
	rec := &signalRecorder{}
	a := newAPI(t, &fakeService{SubmitFunc: rec.submit}, func(o *httpapi.Options) {
		o.Now = c.now
		o.Limits = &httpapi.Limits{IncidentsPerToken: 2, IncidentWindow: time.Hour}
	})
	key := func(id string) func(map[string]any) { return func(m map[string]any) { cred(m)["id"] = id } }
	steps := []struct {
		name       string
		advance    time.Duration
		token      string
		id         string
		wantStatus int
		wantRetry  string
	}{
		{name: "first incident", token: writerToken, id: "AKIAAAAAAAAAAAAAAAAA", wantStatus: 202},
		{name: "second incident", token: writerToken, id: "AKIABBBBBBBBBBBBBBBB", advance: 10 * time.Minute, wantStatus: 202},
		{name: "joining is free", token: writerToken, id: "AKIAAAAAAAAAAAAAAAAA", wantStatus: 202},
		{name: "a third is over the quota", token: writerToken, id: "AKIACCCCCCCCCCCCCCCC", advance: 10 * time.Minute, wantStatus: 429, wantRetry: "2400"},
		{name: "another token opens it", token: adminToken, id: "AKIACCCCCCCCCCCCCCCC", wantStatus: 202},
		{name: "joining an incident another token opened is free", token: writerToken, id: "AKIACCCCCCCCCCCCCCCC", wantStatus: 202},
		{name: "the first opening left the window", token: writerToken, id: "AKIADDDDDDDDDDDDDDDD", advance: 40 * time.Minute, wantStatus: 202},
		{name: "and the window is full again", token: writerToken, id: "AKIAEEEEEEEEEEEEEEEE", wantStatus: 429, wantRetry: "600"},
	}
	for _, st := range steps {
		c.advance(st.advance)
		resp := a.do(t, req{method: "POST", path: "/v1/signals", token: st.token, contentType: "application/json",
			body: signalJSON(t, key(st.id))})
		if resp.Code != st.wantStatus {
			t.Fatalf("%s: status %d, want %d: %s", st.name, resp.Code, st.wantStatus, resp.Body)
		}
		if st.wantStatus == 429 {
			e := apiError(t, resp)
			if e.Code != httpapi.ETOOMANY || !strings.Contains(e.Message, "incident quota") || !strings.Contains(e.Message, "writer") {
				t.Errorf("%s: error %+v, want the quota named", st.name, e)
			}
			if got := resp.Header().Get("Retry-After"); got != st.wantRetry {
				t.Errorf("%s: Retry-After %q, want %q", st.name, got, st.wantRetry)
			}
		}
	}
	// The signal refused by the quota is reported with the credential's next one.
	c.advance(time.Hour)
	resp := a.do(t, req{method: "POST", path: "/v1/signals", token: writerToken, contentType: "application/json",
		body: signalJSON(t, key("AKIAEEEEEEEEEEEEEEEE"))})
	if resp.Code != 202 || rec.last().ShedBefore != 1 {
		t.Errorf("after the window: status %d, ShedBefore %d; want 202 and 1", resp.Code, rec.last().ShedBefore)
	}
}

// An Idempotency-Key belongs to the token that sent it: another token using the same
// key gets its own decision, never the first token's answer.
func TestIdempotencyKeyPerToken(t *testing.T) {
	t.Parallel()
	const id = "inc-acme-0123456789abcdef0123"
	const (
		aliceToken = "alice-0123456789abcdef"
		bobToken   = "bob-0123456789abcdef00"
	)
	var mu sync.Mutex
	keys := map[string]string{} // token name → key the service got
	a := newAPI(t, &fakeService{DecideFunc: func(ctx context.Context, _ string, r service.DecideRequest) (service.DecideResult, error) {
		mu.Lock()
		defer mu.Unlock()
		if prev, ok := keys[httpapi.Principal(ctx)]; ok && prev != r.IdempotencyKey {
			t.Errorf("a retry by %s got key %q, first %q", httpapi.Principal(ctx), r.IdempotencyKey, prev)
		}
		keys[httpapi.Principal(ctx)] = r.IdempotencyKey
		return service.DecideResult{IncidentID: id, Step: r.Step, Status: "running"}, nil
	}}, func(o *httpapi.Options) {
		o.Tokens = append(o.Tokens,
			httpapi.Token{Name: "alice", Value: aliceToken, Scopes: []string{httpapi.ScopeApprovalsWrite}, Approver: "U012AB3CD"},
			httpapi.Token{Name: "bob", Value: bobToken, Scopes: []string{httpapi.ScopeApprovalsWrite}, Approver: "U045EF6GH"})
	})
	for _, tok := range []string{aliceToken, bobToken, aliceToken} {
		resp := a.do(t, req{method: "POST", path: "/v1/incidents/" + id + "/approvals", token: tok, contentType: "application/json",
			body: `{"step":"disable","decision":"approve"}`, header: map[string]string{"Idempotency-Key": "retry-1"}})
		if resp.Code != 200 {
			t.Fatalf("status %d: %s", resp.Code, resp.Body)
		}
	}
	if keys["alice"] == keys["bob"] {
		t.Errorf("alice and bob share the engine key %q", keys["alice"])
	}
	for name, k := range keys {
		if k == "retry-1" || k == "" {
			t.Errorf("%s: the engine got key %q, want one scoped to the token", name, k)
		}
	}
}

func TestLimitsValidated(t *testing.T) {
	t.Parallel()
	for _, l := range []httpapi.Limits{
		{CredentialRate: -1},
		{CredentialRate: 5},
		{TokenRate: 5},
		{IncidentsPerToken: 3},
		{IncidentsPerToken: -1, IncidentWindow: time.Hour},
	} {
		_, err := httpapi.New(httpapi.Options{Service: &fakeService{}, Tokens: testTokens, Limits: &l})
		if err == nil || !strings.Contains(err.Error(), "Limits") {
			t.Errorf("limits %+v: error %v, want one naming Options.Limits", l, err)
		}
	}
}

// TestTokenRefusalSparesCredentialBudget: a signal refused for its token's rate is
// refused before the credential's bucket is asked, so a token over its own rate
// cannot spend the budget of the credentials it names and have other tokens'
// signals about them shed.
func TestTokenRefusalSparesCredentialBudget(t *testing.T) {
	t.Parallel()
	c := &clock{t: fixedNow} // frozen: nothing refills
	a := newAPI(t, &fakeService{SubmitSignalFunc: acceptAll}, func(o *httpapi.Options) {
		o.Now = c.now
		o.Limits = &httpapi.Limits{CredentialRate: 1, CredentialBurst: 3, TokenRate: 1, TokenBurst: 1}
	})
	sig := func(evt string) string {
		return signalJSON(t, func(m map[string]any) { m["source_event_id"] = evt })
	}
	// writer spends its only token-bucket slot: the credential has 2 of 3 left.
	a.doWant(t, req{method: "POST", path: "/v1/signals", token: writerToken, contentType: "application/json", body: sig("w-0")}, 202)
	// writer is now over its own rate: two more from it are refused for the token's
	// rate (no field), and must cost the credential nothing.
	for i := 1; i <= 2; i++ {
		resp := a.doWant(t, req{method: "POST", path: "/v1/signals", token: writerToken, contentType: "application/json", body: sig(fmt.Sprint("w-", i))}, 429)
		if e := apiError(t, resp); e.Field != "" {
			t.Fatalf("writer refusal %d has field %q, want the token-rate refusal: %s", i, e.Field, e.Message)
		}
	}
	// Another token, well within its own rate, about the same credential: two of the
	// credential's three signals were never used by an accepted signal.
	resp := a.do(t, req{method: "POST", path: "/v1/signals", token: adminToken, contentType: "application/json", body: sig("admin-1")})
	if resp.Code != 202 {
		t.Fatalf("admin's signal about the credential = %d, want 202 (only 1 of the credential's burst of 3 was admitted); body %s",
			resp.Code, resp.Body)
	}
}

// TestRefusedFloodKeepsCredentialLimiterState: limiter state is an LRU of
// MaxTracked entries, and only an admitted signal may make or refresh a
// credential's entry. A flood of signals about distinct credentials from one token,
// nine in ten of them refused for the token's rate, therefore cannot push out
// another credential's state: a credential whose bucket is empty stays empty, and
// the count of its shed signals (shed_before) survives.
func TestRefusedFloodKeepsCredentialLimiterState(t *testing.T) {
	t.Parallel()
	c := &clock{t: fixedNow} // frozen until the end: no bucket refills during the flood
	var mu sync.Mutex
	var lastX sever.Signal
	x := sever.Credential{Provider: "aws", Type: "aws_access_key", ID: "AKIAIOSFODNN7EXAMPLE"}
	svc := &fakeService{SubmitFunc: func(ctx context.Context, r service.SubmitRequest) (service.SubmitResult, error) {
		if r.Signal.Credential.ID == x.ID {
			mu.Lock()
			lastX = r.Signal
			mu.Unlock()
		}
		return acceptAll(ctx, r.Signal)
	}}
	a := newAPI(t, svc, func(o *httpapi.Options) { o.Now = c.now }) // default limits
	post := func(token, body string) int {
		return a.do(t, req{method: "POST", path: "/v1/signals", token: token, contentType: "application/json", body: body}).Code
	}
	xSig := func(i int) string {
		return signalJSON(t, func(m map[string]any) { m["source_event_id"] = fmt.Sprint("x-", i) })
	}
	// The admin token uses up credential X's burst; the next one is shed.
	for i := range httpapi.DefaultCredentialBurst {
		if code := post(adminToken, xSig(i)); code != 202 {
			t.Fatalf("signal %d about X = %d, want 202", i, code)
		}
	}
	shed := 0
	if code := post(adminToken, xSig(1000)); code != 429 {
		t.Fatalf("signal past X's burst = %d, want 429", code)
	}
	shed++
	// The attacker: one low-privilege token, MaxTracked signals about distinct credentials.
	refused := 0
	for i := range httpapi.DefaultMaxTracked {
		body := signalJSON(t, func(m map[string]any) {
			m["source_event_id"] = fmt.Sprint("junk-", i)
			cred(m)["provider"], cred(m)["type"], cred(m)["id"] = "acme", "generic_token", fmt.Sprint("junk-", i)
			cred(m)["principal"], cred(m)["account"] = "", ""
		})
		if post(writerToken, body) == 429 {
			refused++
		}
	}
	t.Logf("attacker flood: %d of %d refused with 429", refused, httpapi.DefaultMaxTracked)
	// No time has passed: X's bucket is as empty as it was, so this must be shed.
	if code := post(adminToken, xSig(2000)); code != 429 {
		mu.Lock()
		before := lastX.ShedBefore
		mu.Unlock()
		t.Fatalf("signal about X after the flood = %d, want 429: X's empty bucket was evicted and refilled; "+
			"the accepted signal carries shed_before=%d, want %d", code, before, shed)
	}
	shed++
	// And X cannot take a whole new burst at the same instant.
	extra := 0
	for i := range 300 {
		if post(adminToken, xSig(3000+i)) == 202 {
			extra++
		} else {
			shed++
		}
	}
	if extra > 0 {
		t.Errorf("%d more signals about X accepted at the same instant, past its burst of %d", extra, httpapi.DefaultCredentialBurst)
	}
	// Once X's bucket refills, its next accepted signal reports every one shed.
	c.advance(time.Second)
	if code := post(adminToken, xSig(4000)); code != 202 {
		t.Fatalf("signal about X after its bucket refilled = %d, want 202", code)
	}
	mu.Lock()
	defer mu.Unlock()
	if lastX.ShedBefore != shed {
		t.Errorf("X's next accepted signal has shed_before %d, want %d", lastX.ShedBefore, shed)
	}
}
