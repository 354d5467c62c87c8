package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sever-ir/sever/internal/histsize"
	"github.com/sever-ir/sever/ledger"
)

// maxFloodPayload is a quarter of Temporal's 2 MB payload limit.
const maxFloodPayload = 512 << 10

// TestFloodOfDistinctSignalsDoesNotWedgeTheIncident is issue 11's end-to-end check:
// 10,000 distinct ~5 KB signals about one credential from 8 concurrent senders
// (Prefer: respond-async), then a genuine signal and a close. The incident still
// answers, its largest history payload stays under a quarter of Temporal's 2 MB limit,
// and the ledger holds every signal answered 202 exactly once. Signals answered 429
// were shed by admission control and are not counted (nor retried).
func TestFloodOfDistinctSignalsDoesNotWedgeTheIncident(t *testing.T) {
	if testing.Short() {
		t.Skip("the flood sends 10,000 signals through the whole stack; skipped with -short")
	}
	const (
		total   = 10000
		senders = 8
	)
	began := time.Now()
	s := startStack(t, newConfig(t))
	c := tokenCred("acme-internal", "tok-flood-1")
	s.enrol(t, c.id)
	summary := strings.Repeat("token seen in a public paste; ", 66)
	labels := make([]string, 32)
	for i := range labels {
		labels[i] = fmt.Sprintf("flood-%02d-%s", i, strings.Repeat("x", 50))
	}

	var (
		next     atomic.Int64
		mu       sync.Mutex
		accepted = map[string]bool{} // signal IDs answered 202
		shed     int
		other    []string
		incID    string
	)
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= total {
					return
				}
				sig := nativeSignal(c, "flood-"+strconv.Itoa(i))
				sig["summary"], sig["labels"] = summary, labels
				code, body, err := postAsync(s.api, jsonBytes(sig))
				mu.Lock()
				switch {
				case err != nil:
					other = append(other, err.Error())
				case code == http.StatusAccepted:
					var sub submitJSON
					if err := json.Unmarshal(body, &sub); err != nil || sub.SignalID == "" {
						other = append(other, fmt.Sprintf("202 answer %s: %v", body, err))
					} else {
						accepted[sub.SignalID] = true
						incID = sub.IncidentID
					}
				case code == http.StatusTooManyRequests:
					shed++
				default:
					other = append(other, fmt.Sprintf("status %d: %.200s", code, body))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("flood sent in %v: %d accepted, %d shed (429), %d other", time.Since(began).Round(time.Millisecond),
		len(accepted), shed, len(other))
	if len(other) > 0 {
		t.Fatalf("%d signals answered neither 202 nor 429, first: %s", len(other), other[0])
	}
	if len(accepted) == 0 {
		t.Fatal("no flood signal was accepted")
	}
	if incID != c.incidentID() {
		t.Fatalf("flood landed in %s, want %s", incID, c.incidentID())
	}

	// A genuine signal still gets in (admission control may ask it to wait).
	genuine := nativeSignal(c, "genuine-after-flood")
	var gsub submitJSON
	waitForLong(t, "the genuine signal accepted", 2*time.Minute, func() error {
		resp, err := s.api.send(req{method: http.MethodPost, path: "/v1/signals", body: jsonBytes(genuine)})
		if err != nil {
			return err
		}
		if resp.status != http.StatusAccepted {
			return fmt.Errorf("status %d: %.200s", resp.status, resp.body)
		}
		return json.Unmarshal(resp.body, &gsub)
	})
	accepted[gsub.SignalID] = true

	var inc incidentJSON
	waitForLong(t, "every accepted signal recorded", 3*time.Minute, func() error {
		resp, err := s.api.send(req{method: http.MethodGet, path: "/v1/incidents/" + incID})
		if err != nil {
			return err
		}
		if resp.status != http.StatusOK {
			return fmt.Errorf("GET: status %d: %.300s", resp.status, resp.body)
		}
		var got struct {
			incidentJSON
			Summary struct {
				Total int `json:"total"`
			} `json:"signal_summary"`
		}
		if err := json.Unmarshal(resp.body, &got); err != nil {
			return err
		}
		inc = got.incidentJSON
		if got.Summary.Total < len(accepted) {
			return fmt.Errorf("%d of %d accepted signals recorded", got.Summary.Total, len(accepted))
		}
		return nil
	})
	s.api.closeIncident(t, incID, "flood drained; token rotated")

	// The ledger holds every accepted signal exactly once.
	l, err := ledger.Open(filepath.Join(s.Config.DataDir, ledger.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	seen := map[string]int{}
	waitForLong(t, "the closing status in the ledger", 3*time.Minute, func() error {
		entries, err := l.Entries(context.Background(), incID)
		if err != nil {
			return err
		}
		if n := len(entries); n == 0 || entries[n-1].Detail["status"] != "closed" {
			return errNotYet
		}
		clear(seen)
		for _, e := range entries {
			if e.Kind == ledger.KindSignal {
				seen[e.Detail["signal_id"]]++
			}
		}
		return nil
	})
	missing, twice := 0, 0
	for id := range accepted {
		switch seen[id] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	if missing > 0 || twice > 0 || len(seen) != len(accepted) {
		t.Errorf("ledger: %d accepted signals missing, %d more than once, %d signal facts for %d accepted",
			missing, twice, len(seen), len(accepted))
	}

	// The largest payload in any run's history stays under a quarter of the limit.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f, err := histsize.Measure(ctx, s.Client, incID)
	if err != nil {
		t.Fatal(err)
	}
	runs, events, largest := f.Runs, f.Events, f.LargestPayload
	t.Logf("incident %s: status %s, %d runs, %d history events, largest payload %d bytes (limit %d); test took %v",
		incID, inc.Status, runs, events, largest, maxFloodPayload, time.Since(began).Round(time.Second))
	if largest > maxFloodPayload {
		t.Errorf("largest history payload %d bytes, want at most %d (a quarter of 2 MB)", largest, maxFloodPayload)
	}
}

// postAsync posts a signal with Prefer: respond-async.
func postAsync(c *apiClient, body []byte) (int, []byte, error) {
	hr, err := http.NewRequest(http.MethodPost, c.base+"/v1/signals", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Authorization", "Bearer "+c.token)
	hr.Header.Set("Prefer", "respond-async")
	resp, err := c.hc.Do(hr)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// waitForLong is waitFor with a longer timeout, for work proportional to a flood.
func waitForLong(t *testing.T, what string, timeout time.Duration, cond func() error) {
	t.Helper()
	waitEvery(t, what, 200*time.Millisecond, timeout, cond)
}
