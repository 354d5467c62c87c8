package tests

import (
	"context"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/sever-ir/sever/tokenstore"
	"github.com/sever-ir/sever/workflows"
)

// A false-positive close the engine signed stays readable, signature and all, in
// the closed run's history. When the token leaks again, the new incident opens
// under the same ID; a client with raw access to the Temporal frontend that replays
// the old close is refused, because the close names the first incident's opening
// time, and the token the new incident disabled stays disabled.
func TestCloseReplayedOnLaterIncidentRefused(t *testing.T) {
	cfg := newConfig(t)
	use := twoPeople(t, cfg)
	s := startStack(t, cfg)
	siem, _ := use(s)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := tokenCred("acme-internal", "tok-close-replay-1")
	s.enrol(t, c.id)

	first := siem.submit(t, nativeSignal(c, "ev-close-replay-1"))
	s.api.waitIncident(t, first.IncidentID, "contained", func(i incidentJSON) bool { return i.Status == "contained" })
	s.api.closeFalsePositive(t, first.IncidentID, "fixture token, not a real leak")
	if err := s.Client.GetWorkflow(ctx, first.IncidentID, "").Get(ctx, nil); err != nil {
		t.Fatalf("first incident's run: %v", err)
	}
	captured := closeFromHistory(ctx, t, s.Client, first.IncidentID)
	if captured.Signature == "" || captured.OpenedAt.IsZero() {
		t.Fatalf("the engine's close in the history is %+v; want signed and bound to the incident", captured)
	}
	if tok, _ := s.Tokens.Get(c.id); tok.Status != tokenstore.Active {
		t.Fatalf("the false-positive close left the token %s; want it re-enabled", tok.Status)
	}

	second := siem.submit(t, nativeSignal(c, "ev-close-replay-2"))
	if second.IncidentID != first.IncidentID {
		t.Fatalf("the second leak opened %s, not %s: nothing to replay against", second.IncidentID, first.IncidentID)
	}
	s.api.waitIncident(t, second.IncidentID, "second incident contained", func(i incidentJSON) bool { return i.Status == "contained" })
	h, err := s.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: second.IncidentID,
		UpdateName: workflows.UpdateClose, WaitForStage: client.WorkflowUpdateStageCompleted, Args: []any{captured}})
	if err == nil {
		var res workflows.CloseResult
		err = h.Get(ctx, &res)
	}
	if err == nil || !strings.Contains(err.Error(), "stale close") {
		t.Fatalf("the first incident's close replayed on the second: %v; want refused as a stale close", err)
	}
	if tok, _ := s.Tokens.Get(c.id); tok.Status != tokenstore.Inactive {
		t.Errorf("after the replayed close the token is %s; want it still disabled", tok.Status)
	}
	if inc := s.api.waitIncident(t, second.IncidentID, "second incident", func(incidentJSON) bool { return true }); inc.Status != "contained" {
		t.Errorf("second incident is %s after the replayed close; want contained", inc.Status)
	}
}

// closeFromHistory reads the accepted close of the incident's last run, as anyone
// who can read the history can.
func closeFromHistory(ctx context.Context, t *testing.T, c client.Client, id string) workflows.CloseInput {
	t.Helper()
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		req := ev.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest()
		if req.GetInput().GetName() != workflows.UpdateClose {
			continue
		}
		var in workflows.CloseInput
		if err := converter.GetDefaultDataConverter().FromPayloads(req.GetInput().GetArgs(), &in); err != nil {
			t.Fatalf("close in the history of %s: %v", id, err)
		}
		return in
	}
	t.Fatalf("no accepted close in the history of %s", id)
	return workflows.CloseInput{}
}
