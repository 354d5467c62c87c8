package drill

import (
	"bytes"
	"context"
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
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"

	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/internal/app"
)

// slackRecorder is slack-go's test server recording chat.postMessage and
// chat.update as the real client sent them.
type slackRecorder struct {
	*slacktest.Server
	mu    sync.Mutex
	posts []url.Values
}

func newSlackRecorder(t *testing.T) *slackRecorder {
	s := &slackRecorder{}
	chat := func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		s.mu.Lock()
		ts := form.Get("ts")
		if ts == "" {
			ts = fmt.Sprintf("1796000000.%06d", len(s.posts)+1)
			form.Set("posted_ts", ts)
			s.posts = append(s.posts, form)
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": form.Get("channel"), "ts": ts})
	}
	s.Server = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", chat)
		c.Handle("/chat.update", chat)
	})
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// requests are the posted approval requests (messages with buttons).
func (s *slackRecorder) requests() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []url.Values
	for _, f := range s.posts {
		if strings.Contains(f.Get("blocks"), `"actions"`) {
			out = append(out, f)
		}
	}
	return out
}

// announcements records which steps the drill has seen waiting for people (its
// "asked in Slack" progress lines), so the simulated person answers a request only
// once it is on the drill's clock, as any human slower than a poll would.
type announcements struct {
	mu    sync.Mutex
	steps map[string]bool
	next  io.Writer
}

var askedLine = regexp.MustCompile(`T\+\s*[0-9.]+s\s+(\S+)\s+asked in Slack`)

func (a *announcements) Write(p []byte) (int, error) {
	a.mu.Lock()
	for _, m := range askedLine.FindAllStringSubmatch(string(p), -1) {
		a.steps[m[1]] = true
	}
	a.mu.Unlock()
	return a.next.Write(p)
}

func (a *announcements) asked(step string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.steps[step]
}

var requestStep = regexp.MustCompile(`, step ([a-z0-9-]+)\)`)

// human plays a person in the approver group: every approval request posted to
// the channel is clicked Approve by user, signed as Slack signs it, once.
func human(ctx context.Context, t *testing.T, slack *slackRecorder, seen *announcements, apiURL string, secret []byte, user string) {
	clicked := map[string]bool{}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, post := range slack.requests() {
			ts := post.Get("posted_ts")
			m := requestStep.FindStringSubmatch(post.Get("text"))
			if clicked[ts] || m == nil || !seen.asked(m[1]) {
				continue
			}
			clicked[ts] = true
			if !strings.HasPrefix(post.Get("text"), "[DRILL] ") {
				t.Errorf("approval request not marked DRILL: %q", post.Get("text"))
			}
			var blocks []struct {
				Type     string `json:"type"`
				BlockID  string `json:"block_id"`
				Elements []struct {
					ActionID string `json:"action_id"`
					Value    string `json:"value"`
				} `json:"elements"`
			}
			if err := json.Unmarshal([]byte(post.Get("blocks")), &blocks); err != nil {
				t.Errorf("blocks: %v", err)
				continue
			}
			for _, b := range blocks {
				if b.Type != "actions" {
					continue
				}
				p, _ := json.Marshal(map[string]any{
					"type": "block_actions", "team": map[string]any{"id": "T0ACME"}, "api_app_id": "A0SEVER",
					"user":    map[string]any{"id": user, "team_id": "T0ACME"},
					"actions": []any{map[string]any{"type": "button", "action_id": b.Elements[0].ActionID, "block_id": b.BlockID, "value": b.Elements[0].Value, "action_ts": ts}},
				})
				body := []byte("payload=" + url.QueryEscape(string(p)))
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, apiURL+"/slack/interactivity", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				now := strconv.FormatInt(time.Now().Unix(), 10)
				mac := hmac.New(sha256.New, secret)
				mac.Write([]byte("v0:" + now + ":"))
				mac.Write(body)
				req.Header.Set("X-Slack-Request-Timestamp", now)
				req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// A drill with --approvers slack: the approval requests go to the Slack channel
// marked DRILL, a real person's click decides them and their time to decide is
// measured; when nobody answers, each person who could have is an
// approval_expired in the drill report.
func TestDrillWithSlackApprovers(t *testing.T) {
	for _, tc := range []struct {
		name, scenario string
		click          bool
		wantOutcome    string
	}{
		{"a person approves", `name: people-approve
signals: [{at: 0s, source: siem, origin: enterprise, kind: credential_exposed, severity: critical}]
objectives: {expect_status: contained, contained_within: 60s, no_expired_approvals: true}
`, true, "approved"},
		{"nobody shows up", `name: people-no-show
approval_deadline: 1s
signals: [{at: 0s, source: siem, origin: enterprise, kind: credential_exposed, severity: critical}]
objectives: {expect_status: failed, expect_approval_expired: true}
`, false, "approval_expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := Parse(tc.name+".yaml", []byte(tc.scenario))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			slack := newSlackRecorder(t)
			t.Setenv("SEVER_DRILL_TEST_SLACK_BOT", "xoxb-drill-test-not-a-real-token")
			cfg := config.Default()
			cfg.DataDir = t.TempDir()
			cfg.HTTP.Listen = "127.0.0.1:0"
			cfg.Temporal.UIPort = 0
			cfg.Slack.BotToken = "env:SEVER_DRILL_TEST_SLACK_BOT"
			cfg.Slack.Channel = "C0SOC"
			cfg.Slack.APIURL = slack.GetAPIURL()
			cfg.Approvers.Groups = map[string][]string{"soc-leads": {"U0ALICE"}}
			d, err := app.StartDev(ctx, app.DevOptions{Config: cfg, DrillCloud: true})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Stop()
			secret, err := os.ReadFile(filepath.Join(cfg.DataDir, "slack-signing-secret"))
			if err != nil {
				t.Fatalf("no signing secret: %v", err)
			}
			hctx, stopHuman := context.WithCancel(ctx)
			var wg sync.WaitGroup
			seen := &announcements{steps: map[string]bool{}, next: &lineWriter{t: t}}
			if tc.click {
				wg.Add(1)
				go func() { defer wg.Done(); human(hctx, t, slack, seen, d.URL, bytes.TrimSpace(secret), "U0ALICE") }()
			}
			res, err := Run(ctx, sc, Options{Dev: d, Approvers: ApproversSlack, Progress: seen})
			stopHuman()
			wg.Wait()
			if err != nil {
				t.Fatal(err)
			}
			var sum bytes.Buffer
			_ = res.Summary(&sum)
			t.Log(sum.String())
			if !res.Passed {
				t.Fatalf("drill failed")
			}
			if len(slack.requests()) == 0 {
				t.Fatal("no approval request reached the Slack channel")
			}
			if res.Approvers != ApproversSlack || len(res.People) == 0 {
				t.Fatalf("people = %+v", res.People)
			}
			for _, p := range res.People {
				if p.Approver != "U0ALICE" || p.Outcome != tc.wantOutcome {
					t.Errorf("person decision = %+v; want U0ALICE %s", p, tc.wantOutcome)
				}
				if tc.click && (p.DecisionSeconds == nil || p.DecidedAt == nil || *p.DecisionSeconds <= 0 || *p.DecidedAt < p.AskedAt) {
					t.Errorf("decision time not measured: %+v", p)
				}
				if !tc.click && p.DecisionSeconds != nil {
					t.Errorf("a no-show has a decision time: %+v", p)
				}
			}
			if len(res.Responders) != 0 {
				t.Errorf("simulated responders joined a people drill: %+v", res.Responders)
			}
			var md bytes.Buffer
			if err := res.Markdown(&md); err != nil || !strings.Contains(md.String(), "## People") || !strings.Contains(md.String(), "U0ALICE") {
				t.Errorf("markdown has no People section (%v)", err)
			}
		})
	}
}

// A people drill refuses to start when nobody could be asked.
func TestSlackApproversNeedSlackAndPeople(t *testing.T) {
	sc, err := Parse("p.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Approvers: "pagerduty"}, "want simulated or slack"},
		{Options{Approvers: ApproversSlack}, "no Slack app"},
		{Options{Approvers: ApproversSlack, Slack: &config.SlackConfig{BotToken: "env:X", Channel: "C1"}}, "soc-leads"},
	} {
		if _, err := Run(context.Background(), sc, tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Run(%+v) = %v; want %q", tc.o.Approvers, err, tc.want)
		}
	}
}
