package tests

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/app"
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
		{"closer is a lead", []string{"U0LEAD"}, "succeeded", tokenstore.Active},
		{"closer is not a lead", []string{"U0SOMEONEELSE"}, "refused", tokenstore.Inactive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := newConfig(t)
			use := twoPeople(t, cfg)
			cfg.Approvers.Groups = map[string][]string{"soc-leads": tc.leads}
			s := startStack(t, cfg)
			siem, _ := use(s)
			c := tokenCred("acme-internal", "tok-fp-1")
			s.enrol(t, c.id)
			sub := siem.submit(t, nativeSignal(c, "ev-fp-1"))
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
			if tc.want == "succeeded" && (len(got.Approvals) != 1 || got.Approvals[0].Approver != "U0LEAD" || got.Approvals[0].Channel != "close") {
				t.Errorf("approvals = %+v; the closing lead's decision is recorded", got.Approvals)
			}
			tok, err := s.Tokens.Get(c.id)
			if err != nil || tok.Status != tc.tokenNow {
				t.Errorf("token is %s (%v), want %s", tok.Status, err, tc.tokenNow)
			}
		})
	}
}

// holdAfterChange keeps one action running after it made its change, as an action
// still reading its change back would be, until the incident's close reaches it
// through its heartbeats. Then it answers with its result, or (answer false) with
// the cancellation, so the workflow never hears what it did.
type holdAfterChange struct {
	action  string
	answer  bool
	applied chan struct{} // closed once the change is made
	once    sync.Once
}

// execute runs an activity through next, holding h's action after its change.
func (h *holdAfterChange) execute(ctx context.Context, in *interceptor.ExecuteActivityInput, next interceptor.ActivityInboundInterceptor) (any, error) {
	info := activity.GetInfo(ctx)
	if info.ActivityType.Name != h.action || info.Attempt > 1 {
		return next.ExecuteActivity(ctx, in)
	}
	res, err := next.ExecuteActivity(ctx, in)
	if err != nil {
		return res, err
	}
	h.once.Do(func() { close(h.applied) })
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if h.answer && errors.Is(ctx.Err(), context.Canceled) {
				return res, nil
			}
			return nil, ctx.Err()
		case <-tick.C:
			activity.RecordHeartbeat(ctx)
		}
	}
}

// Closed as a false positive while its containment step runs, after the step has
// disabled the token: the step is recorded as applied, whether the action answers
// after the close or the close hides its answer (then the read-back tells), and the
// compensation re-enables the token. Before, the step was recorded "failed:
// canceled", nothing was undone, and the token stayed disabled.
func TestFalsePositiveCloseDuringContainmentStep(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answer  bool
		history string // written with -update
	}{
		{"the action answers after the close", true, ""},
		{"the close hides the action's answer", false, "incident-close-during-step.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := newConfig(t)
			use := twoPeople(t, cfg)
			hold := &holdAfterChange{action: sever.ActionTokenDisable, answer: tc.answer, applied: make(chan struct{})}
			s := startStackWith(t, app.DevOptions{Config: cfg, Interceptors: []interceptor.WorkerInterceptor{&aroundActivities{around: hold.execute}}})
			siem, _ := use(s)
			c := tokenCred("acme-internal", "tok-fp-mid-step")
			s.enrol(t, c.id)
			sub := siem.submit(t, nativeSignal(c, "ev-fp-mid-step"))
			select {
			case <-hold.applied:
			case <-time.After(20 * time.Second):
				t.Fatal("the disable step never made its change")
			}
			if tok, err := s.Tokens.Get(c.id); err != nil || tok.Status != tokenstore.Inactive {
				t.Fatalf("token is %s (%v) while the step runs, want %s", tok.Status, err, tokenstore.Inactive)
			}
			s.api.closeFalsePositive(t, sub.IncidentID, "fixture token, not a real leak")
			inc := s.api.waitIncident(t, sub.IncidentID, "closed", func(i incidentJSON) bool { return i.Status == "closed" })

			_, raw := s.api.mustIncident(t, sub.IncidentID)
			var full struct {
				Steps []struct {
					ID, Status, Summary, Error string
					Output                     map[string]any `json:"output"`
				} `json:"steps"`
				Compensations []struct{ ID, Status, Error string } `json:"compensations"`
			}
			if err := json.Unmarshal(raw, &full); err != nil {
				t.Fatal(err)
			}
			for _, st := range full.Steps {
				if st.ID == "disable" && (st.Status != "succeeded" || st.Output["outcome"] != "applied" || !strings.Contains(st.Summary, "canceled by close")) {
					t.Errorf("disable step = %+v; want succeeded, applied, saying the close canceled it", st)
				}
			}
			if d := inc.step("disable"); !d.Verified {
				t.Errorf("disable step not verified: %+v", d)
			}
			if len(full.Compensations) != 1 || full.Compensations[0].ID != "disable.compensate" || full.Compensations[0].Status != "succeeded" {
				t.Errorf("compensations = %+v; want disable undone", full.Compensations)
			}
			if tok, err := s.Tokens.Get(c.id); err != nil || tok.Status != tokenstore.Active {
				t.Errorf("token is %s (%v) after the false-positive close, want %s", tok.Status, err, tokenstore.Active)
			}
			if *update && tc.history != "" {
				writeHistory(t, s, sub.IncidentID, tc.history)
			}
		})
	}
}
