package tests

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
)

// An incident survives a restart of the whole stack on the same data dir: same
// state, still open for late signals, and closable.
func TestRestartKeepsIncidents(t *testing.T) {
	cfg := newConfig(t)
	c := tokenCred("acme-internal", "svc-restart-1")

	first := startStack(t, cfg)
	first.enrol(t, c.id)
	sub := first.api.submit(t, nativeSignal(c, "evt-restart-1"))
	before := first.api.waitIncident(t, sub.IncidentID, "containment", func(inc incidentJSON) bool {
		return inc.Status != "open"
	})
	if before.Status != "contained" {
		t.Fatalf("status %s (%s), want contained", before.Status, before.Reason)
	}
	_, rawBefore := first.api.mustIncident(t, sub.IncidentID)
	first.stop()

	second := startStack(t, cfg)
	if second.DevToken != first.DevToken {
		t.Errorf("the dev token changed across the restart")
	}

	t.Run("same incident", func(t *testing.T) {
		after, rawAfter := second.api.mustIncident(t, sub.IncidentID)
		if after.ID != before.ID || after.Status != "contained" || after.Runbook != before.Runbook {
			t.Errorf("after restart: id %s status %s runbook %+v; before: id %s status %s runbook %+v",
				after.ID, after.Status, after.Runbook, before.ID, before.Status, before.Runbook)
		}
		// Compare steps and signals as the wire has them, every field included.
		var b, a struct {
			Steps   []map[string]any `json:"steps"`
			Signals []map[string]any `json:"signals"`
		}
		if err := json.Unmarshal(rawBefore, &b); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(rawAfter, &a); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a.Steps, b.Steps) {
			t.Errorf("steps changed across the restart:\nbefore %v\nafter  %v", b.Steps, a.Steps)
		}
		if !reflect.DeepEqual(a.Signals, b.Signals) {
			t.Errorf("signals changed across the restart:\nbefore %v\nafter  %v", b.Signals, a.Signals)
		}
		found := false
		waitFor(t, "the listing to show the incident", func() error {
			for _, s := range second.api.list(t, "") {
				found = found || s.ID == sub.IncidentID && s.Status == "contained"
			}
			if !found {
				return errNotYet
			}
			return nil
		})
	})

	t.Run("late signal joins", func(t *testing.T) {
		late := nativeSignal(c, "vendor-notice-77")
		late["source"], late["origin"], late["kind"] = "acme-issuer", "vendor", "vendor_action"
		got := second.api.submit(t, late)
		if got.IncidentID != sub.IncidentID || got.Duplicate || got.Status != "recorded" {
			t.Fatalf("late signal = %+v, want recorded in %s", got, sub.IncidentID)
		}
		inc := second.api.waitIncident(t, sub.IncidentID, "the late signal", func(inc incidentJSON) bool {
			return len(inc.Signals) == 2
		})
		ls := inc.Signals[1]
		if ls.ID != got.SignalID || ls.Origin != "vendor" || ls.Kind != "vendor_action" || ls.DelaySeconds <= 0 {
			t.Errorf("late signal recorded as %+v, want vendor_action from vendor with delay_seconds > 0", ls)
		}
		if inc.Signals[0].DelaySeconds != 0 {
			t.Errorf("first signal delay_seconds = %v, want 0", inc.Signals[0].DelaySeconds)
		}
		if inc.Status != "contained" || !reflect.DeepEqual(inc.Steps, before.Steps) {
			t.Errorf("a late signal changed the incident: status %s, steps %s", inc.Status, stepStates(inc))
		}
	})

	t.Run("close", func(t *testing.T) {
		second.api.closeIncident(t, sub.IncidentID, "token rotated, owner informed")
		inc := second.api.waitIncident(t, sub.IncidentID, "closed", func(inc incidentJSON) bool {
			return inc.Status == "closed"
		})
		if len(inc.Signals) != 2 || !reflect.DeepEqual(inc.Steps, before.Steps) {
			t.Errorf("closed incident: %d signals, steps %s", len(inc.Signals), stepStates(inc))
		}
		// A second close has nothing to close; it must not be a server error.
		resp := second.api.mustSend(t, req{method: http.MethodPost, path: "/v1/incidents/" + sub.IncidentID + "/close",
			body: []byte(`{"reason": "again"}`)})
		if resp.status != http.StatusNotFound && resp.status != http.StatusConflict {
			t.Errorf("second close: status %d, want 404 or 409: %s", resp.status, resp.body)
		}
		waitFor(t, "the listing to show the incident closed", func() error {
			for _, s := range second.api.list(t, "?status=closed") {
				if s.ID == sub.IncidentID && !s.Running {
					return nil
				}
			}
			return errNotYet
		})
	})
}
