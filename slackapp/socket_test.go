package slackapp

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
)

const testAppToken = "xapp-1-A0SEVER-0000-secret-app-token"

func TestRunSocketMode(t *testing.T) {
	req := testRequest()
	sink := newResponseSink(t)
	payload := clickSpec{req: req, responseURL: sink.URL + "/r"}.payload(t, true)
	envelope, _ := json.Marshal(map[string]any{"envelope_id": "env-1", "type": "interactive",
		"accepts_response_payload": false, "payload": json.RawMessage(payload)})

	acks := make(chan string, 8)
	var authMu sync.Mutex
	var openAuth string
	srv := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/apps.connections.open", func(w http.ResponseWriter, r *http.Request) {
			authMu.Lock()
			openAuth = r.Header.Get("Authorization")
			authMu.Unlock()
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "url": "ws://" + r.Host + "/socket"})
		})
		c.Handle("/socket", slacktest.Websocket(func(conn *websocket.Conn) {
			_ = conn.WriteJSON(map[string]any{"type": "hello", "num_connections": 1})
			// The same envelope twice: Slack redelivers when it misses an ack.
			for range 2 {
				if err := conn.WriteMessage(websocket.TextMessage, envelope); err != nil {
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
			for { // hold the connection until the client goes
				if _, _, err := conn.ReadMessage(); err != nil {
					return
				}
			}
		}))
	})
	srv.Start()
	defer srv.Stop()

	d := &fakeDecider{}
	h := newTestHandler(d, io.Discard)
	client := slack.New(testBotToken, slack.OptionAPIURL(srv.GetAPIURL()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- RunSocketMode(ctx, testAppToken, client, h) }()

	for i := range 2 {
		select {
		case id := <-acks:
			if id != "env-1" {
				t.Errorf("ack %d for envelope %q", i, id)
			}
		case <-ctx.Done():
			t.Fatal("no ack")
		}
	}
	// Both envelopes are acknowledged, and the handler starts an envelope's processing
	// in the same step as its ack; RunSocketMode returns only once every processing it
	// started has finished. So once it has returned, a (wrong) second decision has had
	// every chance to show up, and the count below is final.
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("RunSocketMode returned %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunSocketMode did not return after cancel")
	}
	h.Wait()

	authMu.Lock()
	if openAuth != "Bearer "+testAppToken {
		t.Errorf("apps.connections.open with %q, want the app-level token", openAuth)
	}
	authMu.Unlock()
	calls := d.Calls()
	if len(calls) != 1 {
		t.Fatalf("Decide called %d times, want once (redelivered envelope is a replay)", len(calls))
	}
	got := calls[0]
	if got.ID != req.IncidentID || got.Req.Channel != ChannelSocket || got.Req.Approver != testUser || !got.Req.Approve ||
		got.Req.ArgsSHA256 != req.ArgsSHA256 || got.Req.IdempotencyKey != "slack-T0TEAM."+testActionTS+"."+testUser {
		t.Errorf("Decide(%q, %+v)", got.ID, got.Req)
	}
	if msgs := sink.messages(); len(msgs) != 1 || !strings.Contains(msgs[0]["text"].(string), "was recorded") {
		t.Errorf("replies %v", msgs)
	}
}

func TestRunSocketModeArguments(t *testing.T) {
	ctx := context.Background()
	client := slack.New(testBotToken)
	for name, run := range map[string]func() error{
		"bot token":  func() error { return RunSocketMode(ctx, testBotToken, client, &Handler{}) },
		"no token":   func() error { return RunSocketMode(ctx, "", client, &Handler{}) },
		"no client":  func() error { return RunSocketMode(ctx, testAppToken, nil, &Handler{}) },
		"no handler": func() error { return RunSocketMode(ctx, testAppToken, client, nil) },
	} {
		err := run()
		if err == nil {
			t.Errorf("%s: want an error", name)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error leaks a token: %v", name, err)
		}
	}
}
