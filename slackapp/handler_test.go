package slackapp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/service"
)

const (
	testSecret   = "8f742231b10e8888abcd99yyyzzz85a5"
	testTeam     = "T0TEAM"
	testUser     = "U012AB3CD"
	testActionTS = "1782908000.123456"
)

// sign computes Slack's v0 signature: v0= + hex(HMAC-SHA256(secret, "v0:" + ts + ":" + body)).
func sign(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// clickSpec describes a block_actions payload; zero fields take the defaults.
type clickSpec struct {
	req         ApprovalRequest
	actionID    string // default: the button's
	value       string // default: the button's
	blockID     string // default: the actions block's
	user, team  string
	actionTS    string
	typ         string
	responseURL string
	appID       string
}

// payload builds the callback JSON Slack sends when the approve (or deny) button of
// the real ApprovalMessage is pressed.
func (c clickSpec) payload(t *testing.T, approve bool) []byte {
	t.Helper()
	_, blocks := ApprovalMessage(c.req)
	var act *slack.ActionBlock
	for _, b := range blocks {
		if a, ok := b.(*slack.ActionBlock); ok {
			act = a
		}
	}
	btn := act.Elements.ElementSet[1].(*slack.ButtonBlockElement)
	if approve {
		btn = act.Elements.ElementSet[0].(*slack.ButtonBlockElement)
	}
	or := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	p := map[string]any{
		"type":       or(c.typ, "block_actions"),
		"team":       map[string]any{"id": or(c.team, testTeam), "domain": "acme"},
		"user":       map[string]any{"id": or(c.user, testUser), "username": "alice", "team_id": or(c.team, testTeam)},
		"api_app_id": or(c.appID, "A0SEVER"),
		"token":      "legacy-verification-token",
		"container":  map[string]any{"type": "message", "message_ts": "1782900000.000100", "channel_id": "C0APPROVALS"},
		"trigger_id": "123.456.abc",
		"channel":    map[string]any{"id": "C0APPROVALS", "name": "sec-approvals"},
		"message":    map[string]any{"type": "message", "ts": "1782900000.000100", "text": "approval"},
		"response_url": or(c.responseURL,
			"https://hooks.slack.com/actions/T0TEAM/1/secretpart"),
		"actions": []any{map[string]any{
			"type": "button", "action_id": or(c.actionID, btn.ActionID), "block_id": or(c.blockID, act.BlockID),
			"text": map[string]any{"type": "plain_text", "text": "Approve"}, "value": or(c.value, btn.Value),
			"style": "primary", "action_ts": or(c.actionTS, testActionTS),
		}},
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func formBody(payload []byte) []byte {
	return []byte("payload=" + url.QueryEscape(string(payload)))
}

// signedRequest is a POST as Slack sends it, signed at ts with secret.
func signedRequest(body []byte, secret string, ts time.Time) *http.Request {
	r := httptest.NewRequest(http.MethodPost, InteractivityPath, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sts := strconv.FormatInt(ts.Unix(), 10)
	r.Header.Set("X-Slack-Request-Timestamp", sts)
	r.Header.Set("X-Slack-Signature", sign(secret, sts, body))
	return r
}

type decideCall struct {
	ID  string
	Req service.DecideRequest
}

// fakeDecider records calls; fn decides what each returns (default: running).
type fakeDecider struct {
	mu    sync.Mutex
	calls []decideCall
	fn    func(ctx context.Context, n int, id string, r service.DecideRequest) (service.DecideResult, error)
}

func (f *fakeDecider) Decide(ctx context.Context, id string, r service.DecideRequest) (service.DecideResult, error) {
	f.mu.Lock()
	f.calls = append(f.calls, decideCall{ID: id, Req: r})
	n := len(f.calls)
	f.mu.Unlock()
	if f.fn != nil {
		return f.fn(ctx, n, id, r)
	}
	return service.DecideResult{IncidentID: id, Step: r.Step, Status: string(sever.StepRunning)}, nil
}

func (f *fakeDecider) Calls() []decideCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]decideCall(nil), f.calls...)
}

// responseSink stands in for Slack's response_url endpoint.
type responseSink struct {
	*httptest.Server
	got chan map[string]any
}

func newResponseSink(t *testing.T) *responseSink {
	t.Helper()
	s := &responseSink{got: make(chan map[string]any, 16)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want POST application/json", http.StatusBadRequest)
		} else if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
		s.got <- m
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s
}

// messages returns what was posted so far (call after Handler.Wait).
func (s *responseSink) messages() []map[string]any {
	var out []map[string]any
	for {
		select {
		case m := <-s.got:
			out = append(out, m)
		default:
			return out
		}
	}
}

func newTestHandler(d Decider, logs io.Writer) *Handler {
	return &Handler{
		SigningSecret:    testSecret,
		Decider:          d,
		Logger:           slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		AllowResponseURL: func(u *url.URL) bool { return u.Scheme == "http" && u.Hostname() == "127.0.0.1" },
	}
}

func TestInteractivity(t *testing.T) {
	req := testRequest()
	refused := func(code, msg string) func(context.Context, int, string, service.DecideRequest) (service.DecideResult, error) {
		return func(context.Context, int, string, service.DecideRequest) (service.DecideResult, error) {
			return service.DecideResult{}, sever.Errorf(code, "", "%s", msg)
		}
	}
	now := time.Now()
	bigPayload := clickSpec{req: req}.payload(t, true)
	oversized := append(formBody(bigPayload), []byte("&pad="+strings.Repeat("x", MaxBodyBytes))...)

	tests := []struct {
		name      string
		spec      clickSpec
		approve   bool
		body      []byte // overrides the click's form body
		secret    string // signing secret of the request (default testSecret)
		at        time.Time
		method    string
		mutate    func(*http.Request)
		handler   func(*Handler)
		decide    func(context.Context, int, string, service.DecideRequest) (service.DecideResult, error)
		status    int
		wantCall  *service.DecideRequest
		wantReply string // substring of the ephemeral reply; "" means no reply
	}{
		{name: "approve", approve: true, status: 200,
			wantCall: &service.DecideRequest{Step: req.StepID, Approve: true, ArgsSHA256: req.ArgsSHA256, Approver: testUser,
				Channel: "slack-http", IdempotencyKey: "slack-T0TEAM." + testActionTS + "." + testUser},
			wantReply: "Your approval of step `disable_key` in incident `inc-aws-0123456789abcdef0123` was recorded; the step runs now."},
		// The button carries its request's nonce, so the workflow can refuse a click on
		// an escalated request or on one of an earlier run of the incident.
		{name: "approve with nonce", approve: true, status: 200, spec: clickSpec{req: withNonceReq(req)},
			wantCall: &service.DecideRequest{Step: req.StepID, Approve: true, ArgsSHA256: req.ArgsSHA256, Approver: testUser,
				Channel: "slack-http", Nonce: testNonce, IdempotencyKey: "slack-T0TEAM." + testActionTS + "." + testUser},
			wantReply: "was recorded"},
		{name: "deny", approve: false, status: 200,
			decide: func(_ context.Context, _ int, id string, r service.DecideRequest) (service.DecideResult, error) {
				return service.DecideResult{IncidentID: id, Step: r.Step, Status: "skipped"}, nil
			},
			wantCall: &service.DecideRequest{Step: req.StepID, Approve: false, ArgsSHA256: req.ArgsSHA256, Approver: testUser,
				Channel: "slack-http", IdempotencyKey: "slack-T0TEAM." + testActionTS + "." + testUser},
			wantReply: "Your denial of step `disable_key`"},
		{name: "quorum pending", approve: true, status: 200,
			decide: func(_ context.Context, _ int, id string, r service.DecideRequest) (service.DecideResult, error) {
				return service.DecideResult{IncidentID: id, Step: r.Step, Status: "waiting_approval", Remaining: 1}, nil
			},
			wantCall:  &service.DecideRequest{Step: req.StepID, Approve: true, ArgsSHA256: req.ArgsSHA256, Approver: testUser, Channel: "slack-http", IdempotencyKey: "slack-T0TEAM." + testActionTS + "." + testUser},
			wantReply: "1 more approval(s) needed"},
		{name: "mapped identity", approve: true, status: 200,
			handler: func(h *Handler) {
				h.Identities = func(u, team string) (string, bool) { return "alice@example.com", u == testUser && team == testTeam }
			},
			wantCall: &service.DecideRequest{Step: req.StepID, Approve: true, ArgsSHA256: req.ArgsSHA256, Approver: "alice@example.com",
				Channel: "slack-http", IdempotencyKey: "slack-T0TEAM." + testActionTS + "." + testUser},
			wantReply: "was recorded"},
		{name: "unmapped identity", approve: true, status: 200,
			handler:   func(h *Handler) { h.Identities = func(string, string) (string, bool) { return "", false } },
			wantReply: "not mapped to a sever approver"},
		{name: "other team", approve: true, spec: clickSpec{team: "T0OTHER"}, status: 200,
			handler:   func(h *Handler) { h.TeamID = testTeam },
			wantReply: "this Slack workspace may not decide"},
		{name: "allowed team", approve: true, status: 200,
			handler:   func(h *Handler) { h.TeamID, h.AppID = testTeam, "A0SEVER" },
			wantCall:  &service.DecideRequest{Step: req.StepID, Approve: true, ArgsSHA256: req.ArgsSHA256, Approver: testUser, Channel: "slack-http", IdempotencyKey: "slack-T0TEAM." + testActionTS + "." + testUser},
			wantReply: "was recorded"},
		{name: "other app", approve: true, spec: clickSpec{appID: "A0OTHER"}, status: 200,
			handler:   func(h *Handler) { h.AppID = "A0SEVER" },
			wantReply: "another Slack app"},
		{name: "refused conflict", approve: true, status: 200,
			decide:    refused(sever.ECONFLICT, "decide: U012AB3CD may not decide step disable_key (approvers: U045EF6GH)"),
			wantCall:  &service.DecideRequest{Step: req.StepID, Approve: true, ArgsSHA256: req.ArgsSHA256, Approver: testUser, Channel: "slack-http", IdempotencyKey: "slack-T0TEAM." + testActionTS + "." + testUser},
			wantReply: "Your decision was not recorded: decide: U012AB3CD may not decide step disable_key (approvers: U045EF6GH)"},
		{name: "refused not found", approve: false, status: 200,
			decide:    refused(sever.ENOTFOUND, "incident inc-aws-0123456789abcdef0123 not found or no longer open"),
			wantCall:  &service.DecideRequest{Step: req.StepID, Approve: false, ArgsSHA256: req.ArgsSHA256, Approver: testUser, Channel: "slack-http", IdempotencyKey: "slack-T0TEAM." + testActionTS + "." + testUser},
			wantReply: "not found or no longer open"},
		{name: "internal error", approve: true, status: 200,
			decide: func(context.Context, int, string, service.DecideRequest) (service.DecideResult, error) {
				return service.DecideResult{}, io.ErrUnexpectedEOF
			},
			wantCall:  &service.DecideRequest{Step: req.StepID, Approve: true, ArgsSHA256: req.ArgsSHA256, Approver: testUser, Channel: "slack-http", IdempotencyKey: "slack-T0TEAM." + testActionTS + "." + testUser},
			wantReply: "could not be recorded right now"},

		{name: "forged signature", approve: true, secret: "not-the-secret", status: 401},
		{name: "missing signature", approve: true, status: 401, mutate: func(r *http.Request) { r.Header.Del("X-Slack-Signature") }},
		{name: "missing timestamp", approve: true, status: 401, mutate: func(r *http.Request) { r.Header.Del("X-Slack-Request-Timestamp") }},
		{name: "signature without v0", approve: true, status: 401, mutate: func(r *http.Request) {
			r.Header.Set("X-Slack-Signature", strings.TrimPrefix(r.Header.Get("X-Slack-Signature"), "v0="))
		}},
		{name: "tampered body", approve: true, status: 401, mutate: func(r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			b = bytes.Replace(b, []byte(testUser), []byte("U0MALLORY"), 1)
			r.Body = io.NopCloser(bytes.NewReader(b))
		}},
		{name: "expired timestamp", approve: true, at: now.Add(-6 * time.Minute), status: 401},
		{name: "future timestamp", approve: true, at: now.Add(6 * time.Minute), status: 401},
		{name: "handler clock disagrees", approve: true, status: 401,
			handler: func(h *Handler) { h.Now = func() time.Time { return time.Now().Add(10 * time.Minute) } }},
		{name: "no signing secret", approve: true, status: 401, handler: func(h *Handler) { h.SigningSecret = "" }},

		{name: "wrong action id", approve: true, spec: clickSpec{actionID: "some_other_button"}, status: 400},
		{name: "action and value disagree", approve: true, spec: clickSpec{actionID: ActionDeny}, status: 400},
		{name: "block id mismatch", approve: true, spec: clickSpec{blockID: BlockID("inc-other", "disable_key")}, status: 400},
		{name: "bad value", approve: true, spec: clickSpec{value: `{"v":1,"incident":"inc-1"}`}, status: 400},
		{name: "not block_actions", approve: true, spec: clickSpec{typ: "view_submission"}, status: 400},
		{name: "malformed payload", body: []byte("payload=%7Bnot-json"), status: 400},
		{name: "missing payload", body: []byte("foo=bar"), status: 400},
		{name: "bad form", body: []byte("payload=%zz"), status: 400},
		{name: "oversized body", body: oversized, status: 400},
		{name: "GET", approve: true, method: http.MethodGet, status: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := newResponseSink(t)
			spec := tt.spec
			if spec.req.IncidentID == "" {
				spec.req = req
			}
			spec.responseURL = sink.URL + "/actions/T0TEAM/1/secret"
			body := tt.body
			if body == nil {
				body = formBody(spec.payload(t, tt.approve))
			}
			secret, at := tt.secret, tt.at
			if secret == "" {
				secret = testSecret
			}
			if at.IsZero() {
				at = time.Now()
			}
			d := &fakeDecider{fn: tt.decide}
			var logs bytes.Buffer
			h := newTestHandler(d, &syncWriter{w: &logs})
			if tt.handler != nil {
				tt.handler(h)
			}
			r := signedRequest(body, secret, at)
			if tt.method != "" {
				r.Method = tt.method
			}
			if tt.mutate != nil {
				tt.mutate(r)
			}
			w := httptest.NewRecorder()
			start := time.Now()
			h.ServeHTTP(w, r)
			if el := time.Since(start); el > 2900*time.Millisecond {
				t.Errorf("ack took %v", el)
			}
			h.Wait()

			if w.Code != tt.status {
				t.Fatalf("status %d, want %d (body %q)", w.Code, tt.status, w.Body.String())
			}
			calls := d.Calls()
			switch {
			case tt.wantCall == nil && len(calls) != 0:
				t.Errorf("Decide called: %+v", calls)
			case tt.wantCall != nil && len(calls) != 1:
				t.Errorf("Decide called %d times, want once", len(calls))
			case tt.wantCall != nil:
				if calls[0].ID != req.IncidentID || calls[0].Req != *tt.wantCall {
					t.Errorf("Decide(%q, %+v)\nwant (%q, %+v)", calls[0].ID, calls[0].Req, req.IncidentID, *tt.wantCall)
				}
			}
			msgs := sink.messages()
			if tt.wantReply == "" {
				if len(msgs) != 0 {
					t.Errorf("unexpected ephemeral replies: %v", msgs)
				}
			} else {
				if len(msgs) != 1 {
					t.Fatalf("want one ephemeral reply, got %v", msgs)
				}
				m := msgs[0]
				if m["response_type"] != "ephemeral" || m["replace_original"] != false || !strings.Contains(m["text"].(string), tt.wantReply) {
					t.Errorf("reply %v, want ephemeral containing %q", m, tt.wantReply)
				}
			}
			for _, secretish := range []string{testSecret, "/actions/T0TEAM", "secretpart", "legacy-verification-token"} {
				if strings.Contains(logs.String(), secretish) {
					t.Errorf("logs contain %q:\n%s", secretish, logs.String())
				}
			}
		})
	}
}

func TestInteractivityReplay(t *testing.T) {
	req := testRequest()
	sink := newResponseSink(t)
	d := &fakeDecider{}
	h := newTestHandler(d, io.Discard)
	body := formBody(clickSpec{req: req, responseURL: sink.URL + "/r"}.payload(t, true))
	first := signedRequest(body, testSecret, time.Now())

	send := func(r *http.Request) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	clone := func(r *http.Request) *http.Request {
		c := httptest.NewRequest(http.MethodPost, InteractivityPath, bytes.NewReader(body))
		c.Header = r.Header.Clone()
		return c
	}

	if w := send(first); w.Code != 200 || w.Body.Len() != 0 {
		t.Fatalf("first: %d %q", w.Code, w.Body.String())
	}
	// The identical request again (a captured request replayed within the window).
	w := send(clone(first))
	if w.Code != 200 {
		t.Fatalf("replay: status %d", w.Code)
	}
	var ack map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &ack); err != nil || ack["response_type"] != "ephemeral" || ack["replace_original"] != false ||
		!strings.Contains(ack["text"].(string), "already processed") {
		t.Errorf("replay ack %q (%v)", w.Body.String(), err)
	}
	// The same click re-signed a second later (different signature, same action).
	if w := send(signedRequest(body, testSecret, time.Now().Add(time.Second))); w.Code != 200 || !strings.Contains(w.Body.String(), "already processed") {
		t.Errorf("re-signed click: %d %q", w.Code, w.Body.String())
	}
	h.Wait()
	if n := len(d.Calls()); n != 1 {
		t.Errorf("Decide called %d times, want once", n)
	}
	if n := len(sink.messages()); n != 1 {
		t.Errorf("%d ephemeral replies, want 1 (the first click's)", n)
	}

	// A new click by the same person (new action_ts) is a new request.
	body2 := formBody(clickSpec{req: req, responseURL: sink.URL + "/r", actionTS: "1782908001.000001"}.payload(t, true))
	if w := send(signedRequest(body2, testSecret, time.Now())); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("second click: %d %q", w.Code, w.Body.String())
	}
	h.Wait()
	if calls := d.Calls(); len(calls) != 2 || calls[1].Req.IdempotencyKey != "slack-T0TEAM.1782908001.000001."+testUser {
		t.Errorf("calls %+v", calls)
	}
}

// A Decide that does not finish before the acknowledgement deadline is acked at
// once and retried in the background with the same idempotency key.
func TestInteractivitySlowDecide(t *testing.T) {
	req := testRequest()
	sink := newResponseSink(t)
	d := &fakeDecider{fn: func(ctx context.Context, n int, id string, r service.DecideRequest) (service.DecideResult, error) {
		if n == 1 {
			<-ctx.Done()
			return service.DecideResult{}, &sever.Error{Code: sever.EUNAVAILABLE, Message: "the workflow service is unavailable; retry"}
		}
		return service.DecideResult{IncidentID: id, Step: r.Step, Status: "running"}, nil
	}}
	h := newTestHandler(d, io.Discard)
	h.DecideTimeout = 100 * time.Millisecond
	body := formBody(clickSpec{req: req, responseURL: sink.URL + "/r"}.payload(t, true))
	w := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(w, signedRequest(body, testSecret, time.Now()))
	if el := time.Since(start); w.Code != 200 || el > time.Second {
		t.Fatalf("ack %d after %v", w.Code, el)
	}
	h.Wait()
	calls := d.Calls()
	if len(calls) != 2 || calls[0].Req != calls[1].Req {
		t.Fatalf("want the same request twice, got %+v", calls)
	}
	msgs := sink.messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0]["text"].(string), "was recorded; the step runs now") {
		t.Errorf("replies %v", msgs)
	}
}

// The default Decide deadline leaves room under Slack's 3 seconds.
func TestInteractivityAckDeadline(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the default decide timeout")
	}
	d := &fakeDecider{fn: func(ctx context.Context, n int, _ string, _ service.DecideRequest) (service.DecideResult, error) {
		<-ctx.Done()
		return service.DecideResult{}, ctx.Err()
	}}
	h := newTestHandler(d, io.Discard)
	h.FollowUpTimeout = 10 * time.Millisecond
	body := formBody(clickSpec{req: testRequest()}.payload(t, true))
	w := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(w, signedRequest(body, testSecret, time.Now()))
	el := time.Since(start)
	if w.Code != 200 || el > 2900*time.Millisecond || el < DefaultDecideTimeout {
		t.Errorf("ack %d after %v", w.Code, el)
	}
	h.Wait()
}

func TestDefaultResponseURLPolicy(t *testing.T) {
	h := &Handler{}
	for raw, want := range map[string]bool{
		"https://hooks.slack.com/actions/T1/2/x": true,
		"https://slack.com/x":                    true,
		"http://hooks.slack.com/actions/T1/2/x":  false,
		"https://hooks.slack.com.evil.io/x":      false,
		"https://evilslack.com/x":                false,
		"https://u:p@hooks.slack.com/x":          false,
		"http://127.0.0.1:8080/x":                false,
	} {
		u, _ := url.Parse(raw)
		if got := h.allowResponseURL(u); got != want {
			t.Errorf("allowResponseURL(%s) = %v, want %v", raw, got, want)
		}
	}
}

func TestReplayCache(t *testing.T) {
	t0 := time.Unix(1_782_900_000, 0)
	c := NewReplayCache(time.Minute, 3)
	steps := []struct {
		key  string
		at   time.Duration
		want bool
	}{
		{"a", 0, false},
		{"a", 10 * time.Second, true},
		{"b", 20 * time.Second, false},
		{"a", 59 * time.Second, true},
		{"a", 61 * time.Second, false}, // expired, recorded afresh
		{"b", 79 * time.Second, true},
		{"b", 81 * time.Second, false},
		{"c", 82 * time.Second, false},
		{"d", 83 * time.Second, false},
		{"e", 84 * time.Second, false}, // capacity 3: the oldest ("a") goes
		{"a", 85 * time.Second, false},
		{"e", 86 * time.Second, true},
	}
	for i, s := range steps {
		if got := c.Seen(s.key, t0.Add(s.at)); got != s.want {
			t.Errorf("step %d: Seen(%q, +%v) = %v, want %v", i, s.key, s.at, got, s.want)
		}
	}
	if c.Len() > 3 {
		t.Errorf("cache holds %d keys, capacity 3", c.Len())
	}

	// Concurrent first uses of one key: exactly one wins.
	c = NewReplayCache(0, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	fresh := 0
	for range 32 {
		wg.Go(func() {
			if !c.Seen("k", t0) {
				mu.Lock()
				fresh++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if fresh != 1 {
		t.Errorf("%d goroutines saw a fresh key, want 1", fresh)
	}
}

// syncWriter serializes writes from the handler's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func FuzzParseInteraction(f *testing.F) {
	req := testRequest()
	_, blocks := ApprovalMessage(req)
	act := blocks[len(blocks)-1].(*slack.ActionBlock)
	btn := act.Elements.ElementSet[0].(*slack.ButtonBlockElement)
	good, _ := json.Marshal(map[string]any{"type": "block_actions", "team": map[string]any{"id": "T1"}, "user": map[string]any{"id": "U1"},
		"response_url": "https://hooks.slack.com/actions/x",
		"actions":      []any{map[string]any{"action_id": btn.ActionID, "block_id": act.BlockID, "value": btn.Value, "action_ts": "1.2", "type": "button"}}})
	f.Add(formBody(good))
	f.Add([]byte("payload=%7B%22type%22%3A%22block_actions%22%2C%22actions%22%3A%5B%5D%7D"))
	f.Add([]byte("payload=" + url.QueryEscape(`{"type":"block_actions","state":{"values":{"b":{"a":{"type":"x"}}}},"actions":[{"block_id":"x","action_id":"sever_approve","value":"{}"}]}`)))
	f.Add([]byte("payload=null"))
	f.Add([]byte("payload=%7B%22actions%22%3A%5Bnull%5D%7D"))
	f.Add([]byte("%zz"))
	f.Fuzz(func(t *testing.T, body []byte) {
		cb, err := parsePayload(body)
		if err != nil {
			return
		}
		c, err := clickFrom(&cb)
		if err != nil {
			return
		}
		if !isSHA256Hex(c.ArgsSHA256) || !validID(c.Incident) || !validID(c.Step) || !validID(c.UserID) || !validID(c.ActionTS) {
			t.Fatalf("accepted a click with bad fields: %+v", c)
		}
		if c.Approve != (c.Decision == DecisionApprove) {
			t.Fatalf("decision %q but approve=%v", c.Decision, c.Approve)
		}
		if a := cb.ActionCallback.BlockActions[0]; a.BlockID != BlockID(c.Incident, c.Step) {
			t.Fatalf("block id %q accepted for %s/%s", a.BlockID, c.Incident, c.Step)
		}
	})
}

const testNonce = "0123456789abcdef0123456789abcdef"

func withNonceReq(r ApprovalRequest) ApprovalRequest {
	r.Nonce = testNonce
	return r
}
