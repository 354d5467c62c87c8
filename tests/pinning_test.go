package tests

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// waitStep holds a runbook open: a no-op that needs a human nobody asks, with an
// hour to decide. Appended at the end of the built-in's steps, it runs in parallel
// with them, so containment happens but the runbook does not end.
const waitStep = `
  - id: wait
    name: Hold for a human before the runbook ends
    action: sever.noop
    args: {note: slow}
    approval:
      approvers: [U0E2EHOLD]
      deadline: 1h
      on_timeout: deny
`

const extraStep = `
  - id: extra
    name: A step added after the first incident started
    action: sever.noop
    args: {note: extra}
`

// pinnedRunbooks derives two versions of a runbook directory file from the built-in
// generic-token runbook: v1 replaces the built-in (same name, priority 10) and adds
// the wait step; v2 changes the version and adds one more step.
func pinnedRunbooks(t *testing.T) (v1, v2 []byte) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "runbooks", "builtin", "generic-token-exposed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimRight(string(src), "\n") + "\n"
	_, stepsOnward, _ := strings.Cut(s, "\nsteps:\n")
	if !regexp.MustCompile(`(?m)^name: generic-token-exposed$`).MatchString(s) ||
		!regexp.MustCompile(`(?m)^match:\n`).MatchString(s) ||
		stepsOnward == "" || regexp.MustCompile(`(?m)^[^\s#]`).MatchString(stepsOnward) ||
		regexp.MustCompile(`(?m)^  priority:`).MatchString(s) {
		t.Fatalf("the built-in runbook no longer has the shape this test edits (name, match:, steps: last, no priority):\n%s", s)
	}
	s = regexp.MustCompile(`(?m)^match:\n`).ReplaceAllString(s, "match:\n  priority: 10\n")
	s1 := regexp.MustCompile(`(?m)^version: .*$`).ReplaceAllString(s, `version: "1.0.0-e2e"`) + waitStep
	s2 := regexp.MustCompile(`(?m)^version: .*$`).ReplaceAllString(s, `version: "2.0.0-e2e"`) + waitStep + extraStep
	return []byte(s1), []byte(s2)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// An incident keeps the runbook it started with: editing the file changes neither a
// running incident nor one that continues after a restart; only new incidents after
// the restart (which reloads the directory) get the new version.
func TestRunbookPinning(t *testing.T) {
	v1, v2 := pinnedRunbooks(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "generic-token-exposed.yaml")
	if err := os.WriteFile(file, v1, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := newConfig(t)
	cfg.Runbooks.Dir = dir
	c1 := tokenCred("acme-internal", "svc-pin-1")
	c2 := tokenCred("acme-internal", "svc-pin-2")

	first := startStack(t, cfg)
	first.enrol(t, c1.id)
	first.enrol(t, c2.id)
	sub := first.api.submit(t, nativeSignal(c1, "evt-pin-1"))
	held := first.api.waitIncident(t, sub.IncidentID, "the wait step to ask for approval after containment",
		func(inc incidentJSON) bool {
			return inc.step("wait").Status == "waiting_approval" && inc.step("disable").Status == "succeeded"
		})
	wantV1 := runbookRefJSON{Name: "generic-token-exposed", Version: "1.0.0-e2e", SHA256: sha256Hex(v1)}
	wantSteps := []string{"observe-vendor", "capture", "disable", "notify", "wait"}
	if held.Runbook != wantV1 || !slices.Equal(held.stepIDs(), wantSteps) || held.Status != "open" {
		t.Fatalf("incident runs %+v with steps %v, status %s; want %+v with %v, open",
			held.Runbook, held.stepIDs(), held.Status, wantV1, wantSteps)
	}
	if w := held.step("wait"); w.PolicyRule != "evidence-auto" || w.StartedAt != nil {
		t.Errorf("wait step = %+v, want policy_rule evidence-auto and not started", w)
	}

	// Edit the runbook on disk while the incident is in flight.
	if err := os.WriteFile(file, v2, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("edit does not touch the running incident", func(t *testing.T) {
		got := first.api.submit(t, nativeSignal(c1, "evt-pin-2"))
		if got.IncidentID != sub.IncidentID || got.Status != "recorded" {
			t.Fatalf("second signal = %+v, want recorded in %s", got, sub.IncidentID)
		}
		inc := first.api.waitIncident(t, sub.IncidentID, "the second signal", func(inc incidentJSON) bool {
			return len(inc.Signals) == 2
		})
		if inc.Runbook != wantV1 || !slices.Equal(inc.stepIDs(), wantSteps) {
			t.Errorf("after the edit the incident runs %+v with steps %v; want %+v with %v",
				inc.Runbook, inc.stepIDs(), wantV1, wantSteps)
		}
	})

	first.stop()
	second := startStack(t, cfg)

	t.Run("restart keeps the pinned runbook", func(t *testing.T) {
		inc, _ := second.api.mustIncident(t, sub.IncidentID)
		if inc.Runbook != wantV1 || !slices.Equal(inc.stepIDs(), wantSteps) {
			t.Errorf("after the restart the incident runs %+v with steps %v; want %+v with %v",
				inc.Runbook, inc.stepIDs(), wantV1, wantSteps)
		}
		if inc.Status != "open" || inc.step("wait").Status != "waiting_approval" {
			t.Errorf("after the restart: status %s, steps %s; want open and wait still waiting_approval",
				inc.Status, stepStates(inc))
		}
		got := second.api.submit(t, nativeSignal(c1, "evt-pin-3"))
		if got.IncidentID != sub.IncidentID || got.Status != "recorded" {
			t.Fatalf("third signal = %+v, want recorded in %s", got, sub.IncidentID)
		}
		inc, _ = second.api.mustIncident(t, sub.IncidentID)
		if len(inc.Signals) != 3 || inc.Runbook != wantV1 || !slices.Equal(inc.stepIDs(), wantSteps) {
			t.Errorf("after a signal post-restart: %d signals, runbook %+v, steps %v", len(inc.Signals), inc.Runbook, inc.stepIDs())
		}
	})

	t.Run("new credential gets the new file", func(t *testing.T) {
		got := second.api.submit(t, nativeSignal(c2, "evt-pin-new"))
		if got.IncidentID == sub.IncidentID || got.IncidentID != c2.incidentID() || got.Status != "recorded" {
			t.Fatalf("signal for a new credential = %+v, want recorded in %s", got, c2.incidentID())
		}
		inc := second.api.waitApproval(t, got.IncidentID, "the new incident to start its steps", "wait")
		wantV2 := runbookRefJSON{Name: "generic-token-exposed", Version: "2.0.0-e2e", SHA256: sha256Hex(v2)}
		if want := append(slices.Clone(wantSteps), "extra"); inc.Runbook != wantV2 || !slices.Equal(inc.stepIDs(), want) {
			t.Errorf("new incident runs %+v with steps %v; want %+v with %v", inc.Runbook, inc.stepIDs(), wantV2, want)
		}
	})

	t.Run("close mid-approval", func(t *testing.T) {
		second.api.closeIncident(t, sub.IncidentID, "drill over")
		inc := second.api.waitIncident(t, sub.IncidentID, "closed", func(inc incidentJSON) bool {
			return inc.Status == "closed"
		})
		if d := inc.step("disable"); d.Status != "succeeded" || !d.Verified {
			t.Errorf("disable step after close = %+v, want it still succeeded and verified", d)
		}
		if inc.Runbook != wantV1 {
			t.Errorf("closed incident runbook %+v, want %+v", inc.Runbook, wantV1)
		}
		w := inc.step("wait")
		if w.Status != "skipped" || !strings.Contains(w.Error, "incident closed") || w.Enforcement != "" || w.EndedAt == nil {
			t.Errorf("wait step after close = %+v, want skipped because the incident closed, with ended_at", w)
		}
	})
}
