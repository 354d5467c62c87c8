package slackapp

import (
	"bytes"
	"context"
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

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/internal/secretscan/secrettest"
	"github.com/sever-ir/sever/service"
)

// fakeContainer records containment requests; fn decides the answer.
type fakeContainer struct {
	mu    sync.Mutex
	calls []httpapi.ContainRequest
	fn    func(r httpapi.ContainRequest) (service.SubmitResult, error)
}

func (f *fakeContainer) Contain(ctx context.Context, r httpapi.ContainRequest) (service.SubmitResult, error) {
	f.mu.Lock()
	f.calls = append(f.calls, r)
	f.mu.Unlock()
	if f.fn != nil {
		return f.fn(r)
	}
	return service.SubmitResult{IncidentID: "inc-aws-0123", SignalID: "sig-1", Status: service.SubmitQueued}, nil
}

const slashOperator = "U0OSCAR"

func slashOperators(user, team string) (Operator, bool) {
	if user == slashOperator && team == testTeam {
		return Operator{Name: "oscar", Approver: "U0OSCAR"}, true
	}
	return Operator{}, false
}

func newSlashHandler(c Container, logs io.Writer) *SlashHandler {
	return &SlashHandler{SigningSecret: testSecret, Container: c, Operators: slashOperators,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

// slashBody is the form Slack posts for `/sever <text>`.
func slashBody(user, team, trigger, text string) []byte {
	v := url.Values{"token": {"deprecated-verification"}, "team_id": {team}, "user_id": {user}, "command": {"/sever"},
		"text": {text}, "trigger_id": {trigger}, "api_app_id": {"A0APP"}, "response_url": {"https://hooks.slack.com/commands/x"}}
	return []byte(v.Encode())
}

func signedSlash(body []byte, secret string, ts time.Time) *http.Request {
	r := signedRequest(body, secret, ts)
	r.URL.Path = SlashPath
	return r
}

func slashReply(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var e ephemeral
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.ResponseType != "ephemeral" {
		t.Fatalf("reply is not an ephemeral message (%v): %s", err, rec.Body)
	}
	return e.Text
}

func TestSlashContain(t *testing.T) {
	c := &fakeContainer{}
	var logs bytes.Buffer
	h := newSlashHandler(c, &logs)
	body := slashBody(slashOperator, testTeam, "1.2.abc",
		"contain aws_access_key AKIAIOSFODNN7EXAMPLE runbook=aws-access-key-exposed account=123456789012 key &amp; token in a &lt;paste&gt;")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, signedSlash(body, testSecret, time.Now()))
	text := slashReply(t, rec)
	if !strings.Contains(text, "inc-aws-0123") || !strings.Contains(text, "someone else must approve") {
		t.Errorf("reply %q", text)
	}
	if len(c.calls) != 1 {
		t.Fatalf("%d Contain calls", len(c.calls))
	}
	got := c.calls[0]
	want := httpapi.ContainRequest{
		Credential: sever.Credential{Type: sever.CredAWSAccessKey, ID: "AKIAIOSFODNN7EXAMPLE", Account: "123456789012"},
		Runbook:    "aws-access-key-exposed", Reason: "key & token in a <paste>",
		Operator: "oscar", Reporter: "U0OSCAR", Channel: httpapi.ContainChannelSlack,
		IdempotencyKey: httpapi.ScopedIdempotencyKey("oscar", "slack-"+testTeam+".1.2.abc"),
		// Slack allows three seconds: the answer is "queued" once the signal is durable.
		RespondAsync: true,
	}
	if got != want {
		t.Errorf("request\n got %+v\nwant %+v", got, want)
	}
}

func TestSlashRefuses(t *testing.T) {
	const secretKey = "sk-ant-api03-Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0"
	// Longer than the 32 characters of a command echoed in a reply: cut first, the
	// detector would not know its prefix.
	githubToken := secrettest.Fake("ghp_", secrettest.Alnum, 36)
	ok := func(user, text string) []byte { return slashBody(user, testTeam, "9.9."+strconv.Itoa(len(text)), text) }
	good := ok(slashOperator, "contain aws_access_key AKIAIOSFODNN7EXAMPLE stolen")
	tests := []struct {
		name       string
		req        func() *http.Request
		handler    func(h *SlashHandler)
		answer     func(httpapi.ContainRequest) (service.SubmitResult, error)
		wantStatus int    // default 200
		wantText   string // in the ephemeral reply
		wantCalls  int
		notInReply string
	}{
		{name: "unsigned", req: func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, SlashPath, bytes.NewReader(good))
			return r
		}, wantStatus: 401},
		{name: "forged signature", req: func() *http.Request { return signedSlash(good, "not-the-secret", time.Now()) }, wantStatus: 401},
		{name: "expired timestamp", req: func() *http.Request { return signedSlash(good, testSecret, time.Now().Add(-6*time.Minute)) }, wantStatus: 401},
		{name: "body changed after signing", req: func() *http.Request {
			r := signedSlash(good, testSecret, time.Now())
			evil := ok("U0MALLORY", "contain aws_access_key AKIAIOSFODNN7EXAMPLE stolen")
			r.Body = io.NopCloser(bytes.NewReader(evil))
			return r
		}, wantStatus: 401},
		{name: "no signing secret", req: func() *http.Request { return signedSlash(good, "", time.Now()) },
			handler: func(h *SlashHandler) { h.SigningSecret = "" }, wantStatus: 401},
		{name: "GET", req: func() *http.Request { return httptest.NewRequest(http.MethodGet, SlashPath, nil) }, wantStatus: 405},
		{name: "user who is not an operator", req: func() *http.Request {
			return signedSlash(ok("U0MALLORY", "contain aws_access_key AKIAIOSFODNN7EXAMPLE stolen"), testSecret, time.Now())
		}, wantText: "not linked to a sever operator"},
		{name: "no operators mapped", req: func() *http.Request { return signedSlash(good, testSecret, time.Now()) },
			handler: func(h *SlashHandler) { h.Operators = nil }, wantText: "not set up"},
		{name: "other workspace", req: func() *http.Request { return signedSlash(good, testSecret, time.Now()) },
			handler: func(h *SlashHandler) { h.TeamID = "T0OTHER" }, wantText: "workspace may not"},
		{name: "other app", req: func() *http.Request { return signedSlash(good, testSecret, time.Now()) },
			handler: func(h *SlashHandler) { h.AppID = "A0OTHER" }, wantText: "another Slack app"},
		{name: "help", req: func() *http.Request { return signedSlash(ok(slashOperator, ""), testSecret, time.Now()) }, wantText: "Usage"},
		{name: "unknown subcommand", req: func() *http.Request {
			return signedSlash(ok(slashOperator, "delete everything"), testSecret, time.Now())
		}, wantText: `unknown command "delete"`},
		{name: "no reason", req: func() *http.Request {
			return signedSlash(ok(slashOperator, "contain aws_access_key AKIAIOSFODNN7EXAMPLE runbook=x"), testSecret, time.Now())
		}, wantText: "a reason is required"},
		{name: "refused by sever", req: func() *http.Request { return signedSlash(good, testSecret, time.Now()) },
			answer: func(httpapi.ContainRequest) (service.SubmitResult, error) {
				return service.SubmitResult{}, sever.Errorf(sever.EUNPROCESSABLE, "runbook", "runbooks that do: aws-access-key-exposed")
			}, wantText: "Not contained: runbooks that do: aws-access-key-exposed", wantCalls: 1},
		{name: "engine failure stays generic", req: func() *http.Request { return signedSlash(good, testSecret, time.Now()) },
			answer: func(httpapi.ContainRequest) (service.SubmitResult, error) {
				return service.SubmitResult{}, io.ErrUnexpectedEOF
			}, wantText: "could not confirm", wantCalls: 1, notInReply: "EOF"},
		{name: "secret typed in the command is not echoed", req: func() *http.Request {
			return signedSlash(ok(slashOperator, "revoke "+secretKey), testSecret, time.Now())
		}, wantText: "unknown command", notInReply: secretKey},
		{name: "secret typed as the command is not echoed in part", req: func() *http.Request {
			return signedSlash(ok(slashOperator, githubToken+" now"), testSecret, time.Now())
		}, wantText: "unknown command", notInReply: githubToken[:20]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeContainer{fn: tc.answer}
			var buf bytes.Buffer
			logs := &syncWriter{w: &buf}
			h := newSlashHandler(c, logs)
			if tc.handler != nil {
				tc.handler(h)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, tc.req())
			want := tc.wantStatus
			if want == 0 {
				want = http.StatusOK
			}
			if rec.Code != want {
				t.Fatalf("status %d, want %d: %s", rec.Code, want, rec.Body)
			}
			if want == http.StatusOK {
				if text := slashReply(t, rec); !strings.Contains(text, tc.wantText) {
					t.Errorf("reply %q lacks %q", text, tc.wantText)
				}
			}
			if len(c.calls) != tc.wantCalls {
				t.Errorf("%d Contain calls, want %d", len(c.calls), tc.wantCalls)
			}
			if tc.notInReply != "" && strings.Contains(rec.Body.String(), tc.notInReply) {
				t.Errorf("%q reached the reply", tc.notInReply)
			}
			if strings.Contains(buf.String(), secretKey) {
				t.Error("the secret reached the log")
			}
		})
	}
}

// A signed command is used once: the same request again, or the same invocation
// (trigger_id) under a fresh signature, is refused with 401.
func TestSlashReplay(t *testing.T) {
	c := &fakeContainer{}
	h := newSlashHandler(c, io.Discard)
	body := slashBody(slashOperator, testTeam, "5.6.xyz", "contain aws_access_key AKIAIOSFODNN7EXAMPLE stolen")
	now := time.Now()
	first := httptest.NewRecorder()
	h.ServeHTTP(first, signedSlash(body, testSecret, now))
	slashReply(t, first)
	for name, r := range map[string]*http.Request{
		"same request":         signedSlash(body, testSecret, now),
		"same trigger re-sent": signedSlash(body, testSecret, now.Add(-time.Second)),
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, rec.Code)
		}
	}
	if len(c.calls) != 1 {
		t.Errorf("%d Contain calls, want 1", len(c.calls))
	}
}

func TestParseContainText(t *testing.T) {
	tests := []struct {
		text    string
		want    httpapi.ContainRequest
		wantErr string
	}{
		{text: "contain github_token ghp_id123 leaked in a gist",
			want: httpapi.ContainRequest{Credential: sever.Credential{Type: "github_token", ID: "ghp_id123"}, Reason: "leaked in a gist"}},
		{text: "  contain generic_token t-1 provider=acme principal=svc-ci   because   it leaked ",
			want: httpapi.ContainRequest{Credential: sever.Credential{Type: "generic_token", ID: "t-1", Provider: "acme", Principal: "svc-ci"},
				Reason: "because it leaked"}},
		{text: "contain openai_api_key key_1 note=prose is the reason",
			want: httpapi.ContainRequest{Credential: sever.Credential{Type: "openai_api_key", ID: "key_1"}, Reason: "note=prose is the reason"}},
		{text: "", wantErr: "usage"},
		{text: "help", wantErr: "usage"},
		{text: "contain aws_access_key", wantErr: "type and an identifier"},
		{text: "contain aws_access_key AKIA runbook=x", wantErr: "reason is required"},
		{text: "close inc-1", wantErr: "unknown command"},
	}
	for _, tc := range tests {
		got, err := parseContainText(tc.text)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: err %v, want %q", tc.text, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q:\n got %+v, %v\nwant %+v", tc.text, got, err, tc.want)
		}
	}
}

func FuzzParseContainText(f *testing.F) {
	for _, s := range []string{"contain aws_access_key AKIA r", "contain a b runbook= x", "help", "contain \x00 \xff =", "contain a b c=d=e f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		r, err := parseContainText(text)
		if err != nil {
			return
		}
		if strings.TrimSpace(r.Reason) == "" || r.Credential.ID == "" || r.Credential.Type == "" {
			t.Fatalf("accepted %q as %+v", text, r)
		}
		if r.Operator != "" || r.Reporter != "" {
			t.Fatalf("the text set who asked: %+v", r)
		}
	})
}

// Over Socket Mode the command's reply is the envelope's acknowledgement, and a
// redelivered envelope is a replay: acknowledged, not run again.
func TestRunSocketModeSlashCommand(t *testing.T) {
	payload, _ := json.Marshal(slack.SlashCommand{TeamID: testTeam, UserID: slashOperator, Command: "/sever",
		Text: "contain aws_access_key AKIAIOSFODNN7EXAMPLE stolen", TriggerID: "7.8.sock", APIAppID: "A0APP"})
	envelope, _ := json.Marshal(map[string]any{"envelope_id": "env-cmd-1", "type": "slash_commands",
		"accepts_response_payload": true, "payload": json.RawMessage(payload)})
	type ack struct {
		EnvelopeID string          `json:"envelope_id"`
		Payload    json.RawMessage `json:"payload"`
	}
	acks := make(chan ack, 4)
	srv := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/apps.connections.open", func(w http.ResponseWriter, r *http.Request) {
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "url": "ws://" + r.Host + "/socket"})
		})
		c.Handle("/socket", slacktest.Websocket(func(conn *websocket.Conn) {
			_ = conn.WriteJSON(map[string]any{"type": "hello", "num_connections": 1})
			for range 2 {
				if err := conn.WriteMessage(websocket.TextMessage, envelope); err != nil {
					return
				}
				var a ack
				if err := conn.ReadJSON(&a); err != nil {
					return
				}
				acks <- a
			}
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					return
				}
			}
		}))
	})
	srv.Start()
	defer srv.Stop()

	c := &fakeContainer{}
	h := newTestHandler(&fakeDecider{}, io.Discard)
	h.Slash = newSlashHandler(c, io.Discard)
	client := slack.New(testBotToken, slack.OptionAPIURL(srv.GetAPIURL()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- RunSocketMode(ctx, testAppToken, client, h) }()
	var got []ack
	for range 2 {
		select {
		case a := <-acks:
			got = append(got, a)
		case <-ctx.Done():
			t.Fatal("no ack")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("RunSocketMode: %v", err)
	}
	replies := 0
	for _, a := range got {
		if a.EnvelopeID != "env-cmd-1" {
			t.Errorf("ack for %q", a.EnvelopeID)
		}
		if len(a.Payload) > 0 && string(a.Payload) != "null" {
			replies++
			var e ephemeral
			if err := json.Unmarshal(a.Payload, &e); err != nil || e.ResponseType != "ephemeral" || !strings.Contains(e.Text, "inc-aws-0123") {
				t.Errorf("reply %s (%v)", a.Payload, err)
			}
		}
	}
	if replies != 1 || len(c.calls) != 1 {
		t.Fatalf("%d replies, %d Contain calls; want one of each (the redelivery is a replay)", replies, len(c.calls))
	}
	if r := c.calls[0]; r.Operator != "oscar" || r.Reporter != "U0OSCAR" || r.Channel != httpapi.ContainChannelSlack {
		t.Errorf("request %+v", r)
	}
}
