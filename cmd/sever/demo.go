package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/report"
	"github.com/sever-ir/sever/service"
)

// Demo responder: a simulated SOC lead, recorded as such (channel "drill"), who
// answers approval requests after a short delay.
const (
	demoApprover      = "simulated:demo-soc-lead"
	demoApproverGroup = "soc-leads"
	demoApproveDelay  = 750 * time.Millisecond
)

// runDemo runs the AWS runbook against the drill cloud: an attacker keeps using a
// stolen access key, a SIEM reports it, a simulated SOC lead approves, and the demo
// follows the incident until the key is deactivated and verified, then says how many
// of the attacker's calls still succeeded after the signal arrived.
func runDemo(ctx context.Context, d *app.Dev, w io.Writer) error {
	if d.Cloud == nil {
		return fmt.Errorf("demo: needs the drill cloud (run without --drill-cloud=false)")
	}
	if d.DevToken == "" {
		return fmt.Errorf("demo: needs the dev token; this config sets its own intake tokens")
	}
	// The simulated lead may approve this demo's steps: the policy names the group.
	groups := maps.Clone(d.Engine.ApproverGroups)
	if groups == nil {
		groups = map[string][]string{}
	}
	groups[demoApproverGroup] = append(slices.Clone(groups[demoApproverGroup]), demoApprover)
	d.Engine.ApproverGroups = groups

	key := drillcloud.DefaultCompromisedKeyID
	attacker, err := d.Cloud.StartAttacker(ctx, drillcloud.AttackerConfig{KeyID: key, Rate: 10,
		Operations: []string{"s3:ListBuckets", "bedrock:InvokeModel"}, KeepTrying: true})
	if err != nil {
		return fmt.Errorf("demo: start attacker: %w", err)
	}
	defer attacker.Stop()
	fmt.Fprintf(w, "\n▶ demo: an attacker calls S3 and Bedrock with stolen key %s (drill cloud %s)\n", key, d.Cloud.URL())
	time.Sleep(500 * time.Millisecond)

	body, _ := json.Marshal(map[string]any{
		"source": "demo-siem", "source_event_id": fmt.Sprintf("demo-%d", time.Now().UnixNano()), "origin": "enterprise",
		"kind": "credential_exposed", "observed_at": time.Now().UTC().Format(time.RFC3339),
		"severity": "critical", "summary": "CI deploy key found in a public repository; Bedrock calls from an unknown IP",
		"credential": map[string]any{"provider": "aws", "type": "aws_access_key", "id": key,
			"principal": drillcloud.DefaultCompromisedUser, "account": drillcloud.DefaultAccountID},
	})
	var sub struct {
		IncidentID string `json:"incident_id"`
		SignalID   string `json:"signal_id"`
		Status     string `json:"status"`
	}
	c := &apiClient{base: d.URL, token: d.DevToken}
	start := time.Now()
	if err := c.do(ctx, http.MethodPost, "/v1/signals", bytes.NewReader(body), &sub); err != nil {
		return fmt.Errorf("demo: submit signal: %w", err)
	}
	fmt.Fprintf(w, "  SIEM signal accepted: incident %s (%s)\n", sub.IncidentID, sub.Status)
	seen := map[string]sever.StepStatus{}
	asked := map[string]time.Time{}
	for {
		var inc sever.Incident
		if err := c.do(ctx, http.MethodGet, "/v1/incidents/"+sub.IncidentID, nil, &inc); err != nil {
			return fmt.Errorf("demo: read incident: %w", err)
		}
		for _, st := range inc.Steps {
			if seen[st.ID] != st.Status {
				seen[st.ID] = st.Status
				fmt.Fprintf(w, "  %6.0fms  %-18s %-38s %s%s\n", float64(time.Since(start).Microseconds())/1000,
					st.ID, st.Action, st.Status, report.StepNote(st))
			}
			if st.Status != sever.StepWaitingApproval {
				continue
			}
			if _, ok := asked[st.ID]; !ok {
				asked[st.ID] = time.Now()
			}
			if time.Since(asked[st.ID]) >= demoApproveDelay {
				delete(asked, st.ID)
				asked[st.ID] = time.Now().Add(time.Hour) // once
				if _, err := d.Engine.Decide(ctx, inc.ID, service.DecideRequest{Step: st.ID, Approve: true,
					Approver: demoApprover, Channel: "drill", Reason: "demo: simulated SOC lead approves",
					IdempotencyKey: inc.ID + "/" + st.ID + "/demo"}); err != nil {
					return fmt.Errorf("demo: simulated approval of %s: %w", st.ID, err)
				}
				fmt.Fprintf(w, "  %6.0fms  %-18s approved by %s (simulated, channel drill)\n",
					float64(time.Since(start).Microseconds())/1000, st.ID, demoApprover)
			}
		}
		if inc.Status != sever.IncidentOpen {
			// Give the attacker's next call a chance to meet the deactivated key.
			time.Sleep(300 * time.Millisecond)
			stats := attacker.Stats()
			fmt.Fprintf(w, "\n■ incident %s is %s after %s", inc.ID, inc.Status, time.Since(start).Round(time.Millisecond))
			if inc.Reason != "" {
				fmt.Fprintf(w, " (%s)", inc.Reason)
			}
			fmt.Fprintln(w)
			printSteps(w, &inc)
			k, _ := d.Cloud.Key(key)
			fmt.Fprintf(w, "\nKey %s is %s in the drill cloud. The attacker made %d calls: %d succeeded, %d after the signal arrived; %d refused.\n",
				key, k.Status, stats.Attempts, stats.Successes, attacker.SuccessesAfter(start), stats.Denials)
			fmt.Fprintf(w, "It stays open for late signals until %s; see `sever incidents show %s` or the web UI at %s/.\n",
				inc.HoldUntil.Format(time.RFC3339), inc.ID, d.URL)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
