package tests

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack/slacktest"

	"github.com/sever-ir/sever/config"
)

// slackCall is one chat.postMessage or chat.update the Slack test server received.
type slackCall struct {
	method string
	form   url.Values
	// posted is the ts the server answered with.
	posted string
}

func (c slackCall) ts() string { return c.posted }

// slackServer is slack-go's test server with chat.postMessage and chat.update served
// by handlers that record what the real slack-go client sent.
type slackServer struct {
	*slacktest.Server
	mu    sync.Mutex
	calls []slackCall
}

// extra adds routes (Socket Mode's) to the same server.
func newSlackServer(t *testing.T, extra ...func(slacktest.Customize)) *slackServer {
	s := &slackServer{}
	chat := func(method string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			form, _ := url.ParseQuery(string(body))
			s.mu.Lock()
			ts := form.Get("ts")
			if ts == "" {
				ts = fmt.Sprintf("1796000000.%06d", len(s.calls)+1)
			}
			s.calls = append(s.calls, slackCall{method, form, ts})
			s.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": form.Get("channel"), "ts": ts})
		}
	}
	s.Server = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", chat("chat.postMessage"))
		c.Handle("/chat.update", chat("chat.update"))
		for _, f := range extra {
			f(c)
		}
	})
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// approvalPost is the posted approval request (the message with buttons), if any.
// slackConfig is a config under apiApprovalRunbook whose approvals go to channel
// C0SOC of srv, approved by the SOC leads named.
func slackConfig(t *testing.T, srv *slackServer, leads ...string) *config.Config {
	t.Setenv("SEVER_E2E_SLACK_BOT", "xoxb-e2e-not-a-real-token")
	cfg := runbookConfig(t, "token-approval.yaml", apiApprovalRunbook)
	cfg.Approvers.Groups = map[string][]string{"soc-leads": leads}
	cfg.Slack.BotToken = "env:SEVER_E2E_SLACK_BOT"
	cfg.Slack.Channel = "C0SOC"
	cfg.Slack.APIURL = srv.GetAPIURL()
	return cfg
}

// waitApprovalPost enrols c, opens its incident with a signal, and waits until
// its disable step waits for an approval and the request is posted to Slack.
func (srv *slackServer) waitApprovalPost(t *testing.T, s *stack, c cred, eventID string) (submitJSON, slackCall) {
	t.Helper()
	s.enrol(t, c.id)
	sub := s.api.submit(t, nativeSignal(c, eventID))
	s.api.waitIncident(t, sub.IncidentID, "approval requested", func(i incidentJSON) bool {
		_, posted := srv.approvalPost()
		return i.step("disable").Status == "waiting_approval" && posted
	})
	post, _ := srv.approvalPost()
	return sub, post
}

func (s *slackServer) approvalPost() (slackCall, bool) {
	for _, c := range s.find("chat.postMessage") {
		if strings.Contains(c.form.Get("blocks"), `"actions"`) {
			return c, true
		}
	}
	return slackCall{}, false
}

// notice finds the notice whose fallback text starts with prefix.
func (s *slackServer) notice(prefix string) (slackCall, bool) {
	for _, c := range s.find("chat.postMessage") {
		if strings.HasPrefix(c.form.Get("text"), prefix) {
			return c, true
		}
	}
	return slackCall{}, false
}

func (s *slackServer) find(method string) []slackCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []slackCall
	for _, c := range s.calls {
		if c.method == method {
			out = append(out, c)
		}
	}
	return out
}

// TestSlackApproval drives an approval the way Slack would: the workflow posts a
// Block Kit request through the real slack-go client, a click on its Approve button
// arrives signed at /slack/interactivity, the step runs, and the request is replaced
// with the outcome. Forged and replayed clicks change nothing.
func TestSlackApproval(t *testing.T) {
	slackSrv := newSlackServer(t)
	cfg := slackConfig(t, slackSrv, "U0ALICE", "U0CAROL")
	s := startStack(t, cfg)
	secret, err := os.ReadFile(filepath.Join(cfg.DataDir, "slack-signing-secret"))
	if err != nil {
		t.Fatalf("sever dev made no signing secret: %v", err)
	}

	c := tokenCred("acme-internal", "tok-slack-1")
	sub, post := slackSrv.waitApprovalPost(t, s, c, "ev-slack-1")
	if post.form.Get("channel") != "C0SOC" || !strings.Contains(post.form.Get("blocks"), c.id) {
		t.Fatalf("approval request = %v", post.form)
	}
	click := func(user, ts string) []byte {
		return []byte("payload=" + url.QueryEscape(string(approveClick(t, post, user, ts))))
	}
	send := func(body []byte, sig string, at time.Time) int {
		t.Helper()
		r, _ := http.NewRequest(http.MethodPost, s.URL+"/slack/interactivity", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		ts := strconv.FormatInt(at.Unix(), 10)
		if sig == "" {
			mac := hmac.New(sha256.New, bytes.TrimSpace(secret))
			mac.Write([]byte("v0:" + ts + ":"))
			mac.Write(body)
			sig = "v0=" + hex.EncodeToString(mac.Sum(nil))
		}
		r.Header.Set("X-Slack-Request-Timestamp", ts)
		r.Header.Set("X-Slack-Signature", sig)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	if got := send(click("U0ALICE", "1.1"), "v0="+strings.Repeat("0", 64), time.Now()); got != http.StatusUnauthorized {
		t.Errorf("forged signature: %d, want 401", got)
	}
	if got := send(click("U0ALICE", "1.2"), "", time.Now().Add(-6*time.Minute)); got != http.StatusUnauthorized {
		t.Errorf("expired timestamp: %d, want 401", got)
	}
	if inc, _ := s.api.mustIncident(t, sub.IncidentID); inc.step("disable").Status != "waiting_approval" {
		t.Fatalf("step %s after refused clicks", inc.step("disable").Status)
	}
	body := click("U0ALICE", "1.3")
	if got := send(body, "", time.Now()); got != http.StatusOK {
		t.Fatalf("signed click: %d", got)
	}
	inc := s.api.waitIncident(t, sub.IncidentID, "contained", func(i incidentJSON) bool { return i.Status == "contained" })
	if got := send(body, "", time.Now()); got != http.StatusOK { // Slack expects its ack; nothing happens
		t.Errorf("replayed click: %d", got)
	}
	_, raw := s.api.mustIncident(t, sub.IncidentID)
	var full struct {
		Steps []struct {
			Approvals []struct{ Approver, Channel string } `json:"approvals"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(raw, &full); err != nil || len(full.Steps[0].Approvals) != 1 {
		t.Fatalf("approvals = %s (%v)", raw, err)
	}
	if a := full.Steps[0].Approvals[0]; a.Approver != "U0ALICE" || a.Channel != "slack-http" {
		t.Errorf("recorded approval = %+v", a)
	}
	if st := inc.step("disable"); !st.Verified {
		t.Errorf("disable not verified: %+v", st)
	}
	waitFor(t, "the request replaced with its outcome", func() error {
		for _, u := range slackSrv.find("chat.update") {
			if u.form.Get("ts") == post.ts() && !strings.Contains(u.form.Get("blocks"), `"actions"`) {
				return nil
			}
		}
		return errNotYet
	})
	// The incident's notices: one parent message, the rest in its thread.
	waitFor(t, "the contained notice", func() error {
		if _, ok := slackSrv.notice(":white_check_mark: Contained"); ok {
			return nil
		}
		return errNotYet
	})
	opened, ok := slackSrv.notice(":rotating_light: Incident opened")
	if !ok || opened.form.Get("thread_ts") != "" || opened.form.Get("channel") != "C0SOC" || !strings.Contains(opened.form.Get("text"), c.id) {
		t.Fatalf("opened notice = %v", opened.form)
	}
	contained, _ := slackSrv.notice(":white_check_mark: Contained")
	if got := contained.form.Get("thread_ts"); got == "" || got != opened.ts() {
		t.Errorf("contained notice thread_ts = %q; want the opened notice's ts %q", got, opened.ts())
	}
}

// approveClick is the block_actions payload Slack sends when user presses the
// Approve button of a posted request: action id, value and block id from the post.
func approveClick(t *testing.T, post slackCall, user, ts string) []byte {
	t.Helper()
	var blocks []struct {
		Type     string `json:"type"`
		BlockID  string `json:"block_id"`
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	if err := json.Unmarshal([]byte(post.form.Get("blocks")), &blocks); err != nil {
		t.Fatal(err)
	}
	var blockID, actionID, value string
	for _, b := range blocks {
		if b.Type == "actions" {
			blockID, actionID, value = b.BlockID, b.Elements[0].ActionID, b.Elements[0].Value
		}
	}
	if !strings.Contains(actionID, "approve") {
		t.Fatalf("first button is %q, want the approve button", actionID)
	}
	p, _ := json.Marshal(map[string]any{
		"type": "block_actions", "team": map[string]any{"id": "T0ACME"}, "api_app_id": "A0SEVER",
		"user":    map[string]any{"id": user, "team_id": "T0ACME"},
		"actions": []any{map[string]any{"type": "button", "action_id": actionID, "block_id": blockID, "value": value, "action_ts": ts}},
	})
	return p
}

// TestSlackSocketMode takes the approval click over Socket Mode, as a team without a
// public endpoint would: sever opens the connection with its app-level token, the
// click arrives as an envelope, is acked, and the step runs.
func TestSlackSocketMode(t *testing.T) {
	envelopes := make(chan []byte, 1)
	acks := make(chan string, 4)
	var appAuth string
	var mu sync.Mutex
	slackSrv := newSlackServer(t, func(c slacktest.Customize) {
		c.Handle("/apps.connections.open", func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			appAuth = r.Header.Get("Authorization")
			mu.Unlock()
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "url": "ws://" + r.Host + "/socket"})
		})
		c.Handle("/socket", slacktest.Websocket(func(conn *websocket.Conn) {
			_ = conn.WriteJSON(map[string]any{"type": "hello", "num_connections": 1})
			for env := range envelopes {
				if err := conn.WriteMessage(websocket.TextMessage, env); err != nil {
					return
				}
				var ack struct {
					EnvelopeID string `json:"envelope_id"`
				}
				if err := conn.ReadJSON(&ack); err != nil {
					return
				}
				acks <- ack.EnvelopeID
			}
		}))
	})
	// Closed after the stack stops and before the server does (cleanups run
	// last-registered first), so the websocket handler returns.
	t.Cleanup(func() { close(envelopes) })

	t.Setenv("SEVER_E2E_SLACK_APP", "xapp-1-e2e-not-a-real-token")
	cfg := slackConfig(t, slackSrv, "U0ALICE")
	cfg.Slack.AppToken = "env:SEVER_E2E_SLACK_APP"
	s := startStack(t, cfg)

	c := tokenCred("acme-internal", "tok-socket-1")
	sub, post := slackSrv.waitApprovalPost(t, s, c, "ev-socket-1")
	payload := approveClick(t, post, "U0ALICE", "2.1")
	env, _ := json.Marshal(map[string]any{"envelope_id": "env-1", "type": "interactive",
		"accepts_response_payload": false, "payload": json.RawMessage(payload)})
	envelopes <- env
	select {
	case id := <-acks:
		if id != "env-1" {
			t.Errorf("acked %q", id)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the envelope was never acked")
	}
	s.api.waitIncident(t, sub.IncidentID, "contained", func(i incidentJSON) bool { return i.Status == "contained" })
	_, raw := s.api.mustIncident(t, sub.IncidentID)
	if !strings.Contains(string(raw), `"channel":"slack-socket"`) || !strings.Contains(string(raw), `"approver":"U0ALICE"`) {
		t.Errorf("the approval is not recorded as U0ALICE over slack-socket: %s", raw)
	}
	mu.Lock()
	defer mu.Unlock()
	if appAuth != "Bearer xapp-1-e2e-not-a-real-token" {
		t.Errorf("apps.connections.open was called with %q, want the app-level token", appAuth)
	}
}
