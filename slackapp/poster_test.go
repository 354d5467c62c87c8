package slackapp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"

	"github.com/sever-ir/sever"
)

const testBotToken = "xoxb-test-0000-secret-bot-token"

// chatCall is one chat.postMessage or chat.update the fake Slack received.
type chatCall struct {
	Method string
	Form   url.Values
	Auth   string
}

// fakeSlack is slacktest's server with our own chat.postMessage (slacktest does not
// record those) and chat.update (slacktest has none). fail makes both answer
// {"ok":false,"error":fail}.
type fakeSlack struct {
	*slacktest.Server
	mu    sync.Mutex
	calls []chatCall
	fail  string
}

func newFakeSlack(t *testing.T) *fakeSlack {
	t.Helper()
	f := &fakeSlack{}
	chat := func(method string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			form, err := url.ParseQuery(string(body))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			f.mu.Lock()
			f.calls = append(f.calls, chatCall{Method: method, Form: form, Auth: r.Header.Get("Authorization")})
			fail := f.fail
			f.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			if fail != "" {
				_, _ = fmt.Fprintf(w, `{"ok":false,"error":%q}`, fail)
				return
			}
			ts := form.Get("ts")
			if ts == "" {
				ts = "1782900000.000100"
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": form.Get("channel"), "ts": ts, "text": form.Get("text")})
		}
	}
	f.Server = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", chat("chat.postMessage"))
		c.Handle("/chat.update", chat("chat.update"))
	})
	f.Start()
	t.Cleanup(f.Stop)
	return f
}

func (f *fakeSlack) Calls() []chatCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]chatCall(nil), f.calls...)
}

func (f *fakeSlack) client() *slack.Client {
	return slack.New(testBotToken, slack.OptionAPIURL(f.GetAPIURL()))
}

func decodeBlocks(t *testing.T, s string) []slack.Block {
	t.Helper()
	var b slack.Blocks
	if err := json.Unmarshal([]byte(s), &b); err != nil {
		t.Fatalf("blocks %q: %v", s, err)
	}
	return b.BlockSet
}

func hasButtons(blocks []slack.Block) bool {
	for _, b := range blocks {
		if _, ok := b.(*slack.ActionBlock); ok {
			return true
		}
	}
	return false
}

func TestPosterRequestAndMarkDecided(t *testing.T) {
	fs := newFakeSlack(t)
	p := &Poster{Client: fs.client(), Channel: "C0APPROVALS"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := destructiveRequest()

	channel, ts, err := p.RequestApproval(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if channel != "C0APPROVALS" || ts != "1782900000.000100" {
		t.Fatalf("RequestApproval = %q, %q", channel, ts)
	}
	at := testDeadline.Add(-time.Minute)
	d := Decided{Approved: true, At: at, Decisions: []sever.Decision{{StepID: r.StepID, Approve: true, Approver: "U012AB3CD", Channel: ChannelHTTP, At: at}}}
	if err := p.MarkDecided(ctx, channel, ts, r, d); err != nil {
		t.Fatal(err)
	}
	if err := p.MarkExpired(ctx, channel, ts, r, Expired{OnTimeout: "deny", At: at}); err != nil {
		t.Fatal(err)
	}
	n := Notice{IncidentID: r.IncidentID, Kind: "step_failed", Credential: r.Credential, Status: sever.IncidentOpen,
		StepID: "disable", Action: r.Action, Text: "Key AKIAEXAMPLE0000000001 disabled <!channel>"}
	if _, nts, err := p.PostNotice(ctx, "", ts, n); err != nil || nts == "" {
		t.Fatal(nts, err)
	}

	calls := fs.Calls()
	if len(calls) != 4 {
		t.Fatalf("want 4 calls, got %d", len(calls))
	}
	wantText, wantBlocks := ApprovalMessage(r)
	post := calls[0]
	if post.Method != "chat.postMessage" || post.Form.Get("channel") != "C0APPROVALS" || post.Form.Get("text") != wantText {
		t.Errorf("postMessage: %s %v", post.Method, post.Form)
	}
	got := decodeBlocks(t, post.Form.Get("blocks"))
	if len(got) != len(wantBlocks) || !hasButtons(got) {
		t.Errorf("posted %d blocks (buttons %v), want %d with buttons", len(got), hasButtons(got), len(wantBlocks))
	}
	want, _ := json.Marshal(wantBlocks)
	if post.Form.Get("blocks") != string(want) {
		t.Errorf("posted blocks differ from ApprovalMessage:\n got %s\nwant %s", post.Form.Get("blocks"), want)
	}

	for i, name := range []string{"decided", "expired"} {
		up := calls[1+i]
		if up.Method != "chat.update" || up.Form.Get("channel") != channel || up.Form.Get("ts") != ts {
			t.Errorf("%s update: %s %v", name, up.Method, up.Form)
		}
		if hasButtons(decodeBlocks(t, up.Form.Get("blocks"))) {
			t.Errorf("%s update still has buttons", name)
		}
	}
	unhtml := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace
	if decided := unhtml(calls[1].Form.Get("blocks")); !strings.Contains(decided, "*Approved*") || !strings.Contains(decided, "<@U012AB3CD> approved via slack-http") {
		t.Errorf("decided update does not say who approved: %s", calls[1].Form.Get("blocks"))
	}
	if !strings.Contains(calls[2].Form.Get("blocks"), "Approval expired") {
		t.Errorf("expired update: %s", calls[2].Form.Get("blocks"))
	}
	notice := calls[3]
	if notice.Form.Get("thread_ts") != ts || notice.Form.Get("channel") != "C0APPROVALS" ||
		!strings.Contains(notice.Form.Get("text"), "Key AKIAEXAMPLE0000000001 disabled &lt;!channel&gt;") ||
		mrkdwnContains(decodeBlocks(t, notice.Form.Get("blocks")), "<!channel>") {
		t.Errorf("notice: %v", notice.Form)
	}
}

func TestPosterErrors(t *testing.T) {
	fs := newFakeSlack(t)
	fs.fail = "channel_not_found"
	ctx := context.Background()
	p := &Poster{Client: fs.client(), Channel: "C0MISSING"}
	r := testRequest()
	bad := r
	bad.ArgsSHA256 = ""

	tests := []struct {
		name string
		call func() error
		want []string
	}{
		{"post", func() error { _, _, err := p.RequestApproval(ctx, r); return err }, []string{"chat.postMessage", "C0MISSING", "channel_not_found", r.IncidentID}},
		{"update", func() error { return p.MarkDecided(ctx, "C0OTHER", "1.2", r, Decided{}) }, []string{"chat.update", "C0OTHER", "channel_not_found"}},
		{"notice", func() error {
			_, _, err := p.PostNotice(ctx, "", "1.2", Notice{IncidentID: "inc-x", Kind: "opened"})
			return err
		}, []string{"chat.postMessage", "C0MISSING", "1.2", "inc-x"}},
		{"notice kind", func() error {
			_, _, err := p.PostNotice(ctx, "", "", Notice{IncidentID: "inc-x", Kind: "bogus"})
			return err
		}, []string{"unknown kind", "bogus"}},
		{"invalid request", func() error { _, _, err := p.RequestApproval(ctx, bad); return err }, []string{"args_sha256"}},
		{"no ts", func() error { return p.MarkDecided(ctx, "C0OTHER", "", r, Decided{}) }, []string{"timestamp is required"}},
		{"no channel", func() error { _, _, err := (&Poster{Client: p.Client}).RequestApproval(ctx, r); return err }, []string{"no channel"}},
		{"no client", func() error {
			_, _, err := (&Poster{Channel: "C1"}).PostNotice(ctx, "", "", Notice{IncidentID: "inc-x", Kind: "opened"})
			return err
		}, []string{"no Slack client"}},
		{"no client group", func() error { _, err := (&Poster{Channel: "C1"}).GroupMembers(ctx, "S1"); return err }, []string{"no Slack client", "S1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if strings.Contains(err.Error(), testBotToken) || strings.Contains(err.Error(), "xoxb-") {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
}
