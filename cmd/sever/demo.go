package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/tokenstore"
)

// runDemo enrols a token in the token store, reports it leaked through the real HTTP
// API, and follows the incident until its runbook has ended.
func runDemo(ctx context.Context, d *app.Dev, w io.Writer) error {
	tokenID := fmt.Sprintf("svc-ci-deploy-%d", time.Now().Unix())
	if err := d.Tokens.Put(tokenstore.Token{ID: tokenID, Owner: "platform-ci"}); err != nil {
		return fmt.Errorf("demo: enrol token: %w", err)
	}
	body, _ := json.Marshal(map[string]any{
		"source": "demo-siem", "source_event_id": "demo-" + tokenID, "origin": "enterprise",
		"kind": "credential_exposed", "observed_at": time.Now().UTC().Format(time.RFC3339),
		"severity": "high", "summary": "CI deploy token found in a public gist",
		"credential": map[string]any{"provider": "acme-internal", "type": "generic_token", "id": tokenID, "principal": "svc-ci-deploy"},
	})
	fmt.Fprintf(w, "\n▶ demo: token %s reported leaked (POST /v1/signals)\n", tokenID)
	var sub struct {
		IncidentID string `json:"incident_id"`
		SignalID   string `json:"signal_id"`
		Status     string `json:"status"`
	}
	c := &apiClient{base: d.URL, token: d.DevToken}
	if d.DevToken == "" {
		return fmt.Errorf("demo: needs the dev token; this config sets its own intake tokens")
	}
	start := time.Now()
	if err := c.do(ctx, http.MethodPost, "/v1/signals", bytes.NewReader(body), &sub); err != nil {
		return fmt.Errorf("demo: submit signal: %w", err)
	}
	fmt.Fprintf(w, "  accepted: incident %s, signal %s (%s)\n", sub.IncidentID, sub.SignalID, sub.Status)
	seen := map[string]sever.StepStatus{}
	for {
		var inc sever.Incident
		if err := c.do(ctx, http.MethodGet, "/v1/incidents/"+sub.IncidentID, nil, &inc); err != nil {
			return fmt.Errorf("demo: read incident: %w", err)
		}
		for _, st := range inc.Steps {
			if seen[st.ID] != st.Status {
				seen[st.ID] = st.Status
				fmt.Fprintf(w, "  %6.0fms  %-16s %-34s %s%s\n", float64(time.Since(start).Microseconds())/1000,
					st.ID, st.Action, st.Status, stepNote(st))
			}
		}
		if inc.Status != sever.IncidentOpen {
			fmt.Fprintf(w, "\n■ incident %s is %s after %s", inc.ID, inc.Status, time.Since(start).Round(time.Millisecond))
			if inc.Reason != "" {
				fmt.Fprintf(w, " (%s)", inc.Reason)
			}
			fmt.Fprintln(w)
			printSteps(w, &inc)
			fmt.Fprintf(w, "\nIt stays open for late signals until %s; see `sever incidents show %s`.\n",
				inc.HoldUntil.Format(time.RFC3339), inc.ID)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func stepNote(st sever.Step) string {
	s := ""
	if st.Enforcement != "" {
		s += "  " + string(st.Enforcement)
	}
	if st.Verified {
		s += "  verified"
	}
	if st.Error != "" && st.Status != sever.StepSucceeded {
		s += "  (" + st.Error + ")"
	}
	return s
}
