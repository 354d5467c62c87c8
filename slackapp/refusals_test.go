package slackapp

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sever-ir/sever/internal/refusal"
	"github.com/sever-ir/sever/ledger"
)

type refusalLog struct {
	mu   sync.Mutex
	seen []refusal.Refusal
}

func (l *refusalLog) Refused(_ context.Context, f refusal.Refusal) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = append(l.seen, f)
}

// checkOne checks that exactly one refusal is on the record, with a why, and that
// it is want but for the why (whose wording is free).
func (l *refusalLog) checkOne(t *testing.T, want refusal.Refusal) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.seen) != 1 {
		t.Fatalf("%d refusals recorded, want 1: %+v", len(l.seen), l.seen)
	}
	got := l.seen[0]
	if got.Why == "" {
		t.Errorf("refusal without a why: %+v", got)
	}
	got.Why = ""
	if got != want {
		t.Errorf("recorded %+v, want %+v", got, want)
	}
}

// The requests the handler refuses itself are put on the record with who, what and
// why; a forged request names no incident, because its body is not trusted.
func TestRefusedRequestsRecorded(t *testing.T) {
	req := testRequest()
	sink := newResponseSink(t)
	body := formBody(clickSpec{req: req, responseURL: sink.URL + "/r"}.payload(t, true))
	cases := []struct {
		name    string
		handler func(h *Handler)
		send    func(h *Handler) *http.Request
		reqs    int
		want    refusal.Refusal
	}{
		{"ForgedSignature", nil, func(*Handler) *http.Request { return signedRequest(body, "not-the-secret", time.Now()) }, 1,
			refusal.Refusal{Reason: refusal.ForgedSignature, Who: "192.0.2.1:1234", Channel: ChannelHTTP, What: "slack interactivity request"}},
		{"ExpiredSignature", nil, func(*Handler) *http.Request { return signedRequest(body, testSecret, time.Now().Add(-time.Hour)) }, 1,
			refusal.Refusal{Reason: refusal.ForgedSignature, Who: "192.0.2.1:1234", Channel: ChannelHTTP, What: "slack interactivity request"}},
		{"Replay", nil, func(*Handler) *http.Request { return signedRequest(body, testSecret, time.Now()) }, 2,
			refusal.Refusal{Reason: refusal.Replay, Incident: req.IncidentID, Step: req.StepID, Who: testUser, Channel: ChannelHTTP, What: "approve"}},
		{"OtherWorkspace", func(h *Handler) { h.TeamID = "T0OTHER" }, func(*Handler) *http.Request { return signedRequest(body, testSecret, time.Now()) }, 1,
			refusal.Refusal{Reason: refusal.Outsider, Incident: req.IncidentID, Step: req.StepID, Who: testUser, Channel: ChannelHTTP, What: "approve"}},
		{"UnmappedUser", func(h *Handler) { h.Identities = func(string, string) (string, bool) { return "", false } },
			func(*Handler) *http.Request { return signedRequest(body, testSecret, time.Now()) }, 1,
			refusal.Refusal{Reason: refusal.Outsider, Incident: req.IncidentID, Step: req.StepID, Who: testUser, Channel: ChannelHTTP, What: "approve"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log := &refusalLog{}
			h := newTestHandler(&fakeDecider{}, io.Discard)
			h.Refusals = log
			if tc.handler != nil {
				tc.handler(h)
			}
			for range tc.reqs {
				h.ServeHTTP(httptest.NewRecorder(), tc.send(h))
			}
			h.Wait()
			log.checkOne(t, tc.want)
		})
	}
}

// A flood of 10,000 forged requests keeps the ledger bounded: the source gets a few
// entries of its own and one summary that counts the rest.
func TestForgedFloodKeepsLedgerBounded(t *testing.T) {
	const flood = 10000
	l, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	counted := 0
	rec := &refusal.Recorder{Ledger: func() refusal.Appender { return l }, Counted: func(string) { counted++ }}
	h := newTestHandler(&fakeDecider{}, io.Discard)
	h.Refusals = rec
	body := formBody(clickSpec{req: testRequest()}.payload(t, true))
	for i := range flood {
		r := signedRequest(body, "forger-"+strconv.Itoa(i), time.Now())
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("forged request %d: %d", i, w.Code)
		}
	}
	rec.Flush(context.Background())
	es, err := l.Entries(context.Background(), refusal.SecurityChain)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, e := range es {
		n := 1
		if c := e.Detail["count"]; c != "" {
			n, _ = strconv.Atoi(c)
		}
		total += n
	}
	if len(es) > refusal.DefaultPerSource+1 || total != flood || counted != flood {
		t.Errorf("%d ledger entries accounting for %d refusals, %d counted; want at most %d entries for all %d",
			len(es), total, counted, refusal.DefaultPerSource+1, flood)
	}
}

// A forged or replayed slash command is on the record like a forged click: a
// containment request is as much an attempt to steer sever as an approval.
func TestSlashRefusalsRecorded(t *testing.T) {
	body := slashBody(slashOperator, testTeam, "7.8.xyz", "contain aws_access_key AKIAIOSFODNN7EXAMPLE stolen")
	now := time.Now()
	cases := []struct {
		name string
		send []*http.Request
		want refusal.Refusal
	}{
		{"ForgedSignature", []*http.Request{signedSlash(body, "not-the-secret", now)},
			refusal.Refusal{Reason: refusal.ForgedSignature, Who: "192.0.2.1:1234", Channel: ChannelHTTP, What: "slack command"}},
		{"Replay", []*http.Request{signedSlash(body, testSecret, now), signedSlash(body, testSecret, now)},
			refusal.Refusal{Reason: refusal.Replay, Who: slashOperator, Channel: ChannelHTTP, What: "slack command"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log := &refusalLog{}
			h := newSlashHandler(&fakeContainer{}, io.Discard)
			h.Refusals = log
			for _, r := range tc.send {
				h.ServeHTTP(httptest.NewRecorder(), r)
			}
			log.checkOne(t, tc.want)
		})
	}
}
