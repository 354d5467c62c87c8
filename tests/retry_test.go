package tests

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sever-ir/sever/ledger"
)

var updateRetry = flag.Bool("update-retry", false, "regenerate testdata/histories/incident-step-retried-v1.json")

// TestRecordRetriedHistory writes the history of an incident whose containment
// step fails permanently (the token is not enrolled: NotFound), is retried once the
// token is enrolled, is contained, and is closed: the retry path's replay test.
//
// incident-step-failed-v0.json beside it is the same failure without the retry,
// recorded with the workflow code from before the retry-step change (commit
// e656c52); it cannot be regenerated with today's code, and proves that such a
// run, failed and held, still replays.
func TestRecordRetriedHistory(t *testing.T) {
	if !*updateRetry {
		t.Skip("records a history only with -update-retry")
	}
	s := startStack(t, newConfig(t))
	c := tokenCred("acme-internal", "svc-history-step-retried")
	sub := s.api.submit(t, nativeSignal(c, "evt-history-step-retried"))
	inc := s.api.waitIncident(t, sub.IncidentID, "the failure", func(inc incidentJSON) bool { return inc.Status != "open" })
	if inc.Status != "failed" {
		t.Fatalf("status %s (%s), want failed", inc.Status, inc.Reason)
	}
	s.enrol(t, c.id)
	resp := s.api.mustSend(t, req{method: http.MethodPost, path: "/v1/incidents/" + sub.IncidentID + "/retry",
		body: mustJSON(t, map[string]any{"step": "disable", "reason": "token enrolled"})})
	if resp.status != http.StatusAccepted {
		t.Fatalf("retry: %d %s", resp.status, resp.body)
	}
	inc = s.api.waitContained(t, sub.IncidentID)
	s.api.closeIncident(t, sub.IncidentID, "contained after a retry; history for replay")
	// Earlier recordings are kept as incident-step-retried-vN.json.
	writeHistory(t, s, sub.IncidentID, "incident-step-retried.json")
}

// The "Done means" case: a containment step fails because the drill cloud denies
// sever's role the permission (AccessDenied, permanent), the incident ends failed
// and holds; once the permission is granted, a retry runs the step again, the key
// is deactivated and read back, the incident is contained, and the ledger keeps
// both attempts and who asked for the second.
func TestRetryAfterPermissionGranted(t *testing.T) {
	s := startAWSStack(t)
	ctx := context.Background()
	if err := s.Cloud.DenyPermission("iam", "UpdateAccessKey", ""); err != nil {
		t.Fatal(err)
	}
	sub := s.api.submit(t, awsSignal("ev-aws-retry-1"))
	inc := s.api.waitIncident(t, sub.IncidentID, "the failure", func(i incidentJSON) bool { return i.Status != "open" })
	if inc.Status != "failed" || inc.step("deactivate").Status != "failed" || !strings.Contains(inc.step("deactivate").Error, "AccessDenied") {
		t.Fatalf("incident %s (%s), want failed by AccessDenied: %s", inc.Status, inc.Reason, stepStates(inc))
	}
	retry := func(body map[string]any) *response {
		return s.api.mustSend(t, req{method: http.MethodPost, path: "/v1/incidents/" + sub.IncidentID + "/retry", body: mustJSON(t, body)})
	}
	// Refusals name the problem, and change nothing.
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		want   string
	}{
		{"UnknownStep", map[string]any{"step": "nope"}, http.StatusNotFound, `has no step \"nope\"`},
		{"NotFailed", map[string]any{"step": "capture"}, http.StatusConflict, "is succeeded, not failed"},
		{"NoStep", map[string]any{"reason": "x"}, http.StatusBadRequest, "step is required"},
		{"UnknownField", map[string]any{"step": "deactivate", "force": true}, http.StatusBadRequest, "force"},
	} {
		if resp := retry(tc.body); resp.status != tc.status || !strings.Contains(string(resp.body), tc.want) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, resp.status, resp.body, tc.status, tc.want)
		}
	}
	if n := s.Cloud.GrantPermission("iam", "UpdateAccessKey", ""); n != 1 {
		t.Fatalf("grant lifted %d denials", n)
	}
	resp := retry(map[string]any{"step": "deactivate", "reason": "granted iam:UpdateAccessKey to sever's role"})
	if resp.status != http.StatusAccepted {
		t.Fatalf("retry: %d %s", resp.status, resp.body)
	}
	got := decode[map[string]any](t, "retry", resp)
	if got["attempt"] != float64(2) {
		t.Errorf("retry answered %s, want attempt 2", resp.body)
	}
	inc = s.api.waitContained(t, sub.IncidentID)
	requireKeyDeactivated(t, s, inc)

	l, err := ledger.Open(filepath.Join(s.Config.DataDir, ledger.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	waitFor(t, "both attempts in the ledger", func() error {
		entries, err := l.Entries(ctx, sub.IncidentID)
		if err != nil {
			return err
		}
		var failedOutcome, retried, succeeded bool
		for _, e := range entries {
			switch {
			case e.Kind == ledger.KindStepOutcome && e.Step == "deactivate" && e.Detail["status"] == "failed":
				failedOutcome = true
			case e.Kind == ledger.KindStepRetry && e.Step == "deactivate" && e.Detail["attempt"] == "2" && e.Actor != "":
				retried = true
			case e.Kind == ledger.KindStepOutcome && e.Step == "deactivate" && e.Detail["status"] == "succeeded" &&
				strings.Contains(e.Key, "/attempt/2/"):
				succeeded = true
			}
		}
		if !failedOutcome || !retried || !succeeded {
			return fmt.Errorf("%w: failed %v, retry %v, second attempt %v", errNotYet, failedOutcome, retried, succeeded)
		}
		return nil
	})
	if brk, err := l.Verify(ctx, sub.IncidentID); err != nil || brk != nil {
		t.Fatalf("ledger verify: %v %+v", err, brk)
	}
	// A closed incident takes no retry.
	s.api.closeIncident(t, sub.IncidentID, "contained after the retry")
	if resp := retry(map[string]any{"step": "deactivate"}); resp.status != http.StatusConflict || !strings.Contains(string(resp.body), "closed") {
		t.Errorf("retry of a closed incident: %d %s, want 409 saying closed", resp.status, resp.body)
	}
}
