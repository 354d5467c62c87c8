package tests

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sever-ir/sever/ledger"
	"github.com/sever-ir/sever/service"
)

// The embedded server is stopped while an incident waits for its approval and
// started again on the same data dir: the incident resumes from the SQLite file,
// still waiting, takes the approval and is contained.
func TestRestartMidIncident(t *testing.T) {
	cfg := runbookConfig(t, "token-approval.yaml", apiApprovalRunbook)
	cfg.Approvers.Groups = map[string][]string{"soc-leads": {"U0LEAD"}}
	c := tokenCred("acme-internal", "tok-restart-mid")

	first := startStack(t, cfg)
	first.enrol(t, c.id)
	sub := first.api.submit(t, nativeSignal(c, "ev-restart-mid"))
	first.api.waitApproval(t, sub.IncidentID, "the approval request", "disable")
	first.stop()

	second := startStack(t, cfg)
	inc, _ := second.api.mustIncident(t, sub.IncidentID)
	if inc.Status != "open" || inc.step("disable").Status != "waiting_approval" {
		t.Fatalf("after the restart: %s, disable %s; want open and still waiting", inc.Status, inc.step("disable").Status)
	}
	// The lead approves from the CLI (the dev token raised the incident and may not).
	if _, err := second.Engine.Decide(context.Background(), sub.IncidentID, service.DecideRequest{
		Step: "disable", Approve: true, Approver: "U0LEAD", Channel: "cli"}); err != nil {
		t.Fatalf("approve after the restart: %v", err)
	}
	inc = second.api.waitIncident(t, sub.IncidentID, "contained", func(i incidentJSON) bool { return i.Status != "open" })
	if inc.Status != "contained" || !inc.step("disable").Verified {
		t.Fatalf("incident %s (%s): %s", inc.Status, inc.Reason, stepStates(inc))
	}
	l, err := ledger.Open(filepath.Join(cfg.DataDir, ledger.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	waitFor(t, "the ledger", func() error {
		entries, err := l.Entries(context.Background(), sub.IncidentID)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Detail["status"] == "contained" {
				return nil
			}
		}
		return errNotYet
	})
	if brk, err := l.Verify(context.Background(), sub.IncidentID); err != nil || brk != nil {
		t.Fatalf("ledger verify: %v %+v", err, brk)
	}
}
