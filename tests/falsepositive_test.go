package tests

import (
	"encoding/json"
	"testing"

	"github.com/sever-ir/sever/tokenstore"
)

// Closing an incident as a false positive undoes its reversible steps through the
// policy gate: the default policy puts re-enabling a token behind a SOC lead, and the
// lead who closes the incident is that decision.
func TestFalsePositiveCloseUndoesContainment(t *testing.T) {
	for _, tc := range []struct {
		name     string
		leads    []string
		want     string // compensation status
		tokenNow string
	}{
		{"closer is a lead", []string{"dev"}, "succeeded", tokenstore.Active},
		{"closer is not a lead", []string{"U0SOMEONEELSE"}, "refused", tokenstore.Inactive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := newConfig(t)
			cfg.Approvers.Groups = map[string][]string{"soc-leads": tc.leads}
			s := startStack(t, cfg)
			c := tokenCred("acme-internal", "tok-fp-1")
			s.enrol(t, c.id)
			sub := s.api.submit(t, nativeSignal(c, "ev-fp-1"))
			s.api.waitIncident(t, sub.IncidentID, "contained", func(i incidentJSON) bool { return i.Status == "contained" })
			s.api.closeFalsePositive(t, sub.IncidentID, "fixture token, not a real leak")

			var comp []struct {
				ID, Action, Status, Error string
				PolicyRule                string `json:"policy_rule"`
				Approvals                 []struct{ Approver, Channel string }
			}
			s.api.waitIncident(t, sub.IncidentID, "closed with its compensation", func(i incidentJSON) bool {
				_, raw := s.api.mustIncident(t, sub.IncidentID)
				var full struct {
					Compensations json.RawMessage `json:"compensations"`
				}
				_ = json.Unmarshal(raw, &full)
				_ = json.Unmarshal(full.Compensations, &comp)
				return i.Status == "closed" && len(comp) == 1 && comp[0].Status != "running"
			})
			got := comp[0]
			if got.ID != "disable.compensate" || got.Action != "tokenstore.enable_token" || got.Status != tc.want ||
				got.PolicyRule != "token-enable-approval" {
				t.Fatalf("compensation = %+v, want %s under token-enable-approval", got, tc.want)
			}
			if tc.want == "succeeded" && (len(got.Approvals) != 1 || got.Approvals[0].Approver != "dev" || got.Approvals[0].Channel != "close") {
				t.Errorf("approvals = %+v; the closing lead's decision is recorded", got.Approvals)
			}
			tok, err := s.Tokens.Get(c.id)
			if err != nil || tok.Status != tc.tokenNow {
				t.Errorf("token is %s (%v), want %s", tok.Status, err, tc.tokenNow)
			}
		})
	}
}
