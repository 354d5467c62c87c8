package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/contract"
	"github.com/sever-ir/sever/workflows"
)

var (
	update    = flag.Bool("update", false, "regenerate testdata/histories from a real run of the stack")
	updateCAN = flag.Bool("update-can", false, "regenerate only the continue-as-new histories (incident-*-can-*.json)")
	// The intake history is recorded on its own: regenerating the others would
	// replace histories of the SignalWithStart path that incidents in flight have.
	updateIntake = flag.Bool("update-intake", false, "regenerate only the history of the intake update (incident-intake-update.json)")
)

const historyDir = "testdata/histories"

// Histories of real incidents, committed, must replay against the current workflow
// code: a change that would break incidents in flight (a new command, a reordered
// activity, a renamed signal) fails here, without a server. With -update the
// histories are first regenerated from a real run of the stack.
func TestReplayCommittedHistory(t *testing.T) {
	if *update {
		generateHistories(t)
	}
	if *update || *updateCAN {
		generateCANHistories(t)
	}
	if *update || *updateIntake {
		generateIntakeHistory(t)
	}
	files, err := filepath.Glob(filepath.Join(historyDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"incident-contained.json", "incident-closed-mid-approval.json", "incident-false-positive.json",
		"incident-parked-can-run1.json", "incident-parked-can-run2.json", "incident-intake-update.json"} {
		if _, err := os.Stat(filepath.Join(historyDir, want)); err != nil {
			t.Errorf("missing history %s (regenerate with -update): %v", want, err)
		}
	}
	// Histories the current code records carry one version marker, the bundle's:
	// each change of its own would cost a marker and a search-attribute upsert.
	for _, name := range []string{"incident-contained.json", "incident-closed-mid-approval.json", "incident-false-positive.json",
		"incident-parked-can-run1.json", "incident-intake-update.json", "incident-step-retried.json"} {
		if got := versionMarkers(t, filepath.Join(historyDir, name)); !slices.Equal(got, []string{workflows.CurrentChange}) {
			t.Errorf("%s: version markers %q, want only %q", name, got, workflows.CurrentChange)
		}
	}
	// The engine starts incidents with LocalLedger when the ledger has no S3 copy, as
	// in these runs: their facts go through local activities, never an activity task.
	for _, name := range []string{"incident-contained.json", "incident-false-positive.json", "incident-intake-update.json"} {
		local, tasks := 0, 0
		for _, e := range readHistory(t, filepath.Join(historyDir, name)) {
			if e.GetMarkerRecordedEventAttributes().GetMarkerName() == "LocalActivity" {
				local++
			}
			if e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == contract.ActivityLedgerAppend {
				tasks++
			}
		}
		if local == 0 || tasks != 0 {
			t.Errorf("%s: %d local activities, %d ledger activity tasks; want the ledger written by local activities", name, local, tasks)
		}
	}
	// Read-only steps of at most 30 s and read-backs run as local activities: the
	// only activity tasks left are the steps that change state.
	for _, name := range []string{"incident-contained.json", "incident-intake-update.json"} {
		var tasks []string
		for _, e := range readHistory(t, filepath.Join(historyDir, name)) {
			if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
				if typ := a.GetActivityType().GetName(); !sever.Catalog[typ].Mutating {
					tasks = append(tasks, typ)
				}
			}
		}
		if len(tasks) > 0 {
			t.Errorf("%s: read-only actions %v got activity tasks; want local activities", name, tasks)
		}
	}
	logger := sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			checkHistoryShape(t, file)
			r := sdkworker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(workflows.Incident, workflow.RegisterOptions{Name: workflows.IncidentWorkflow})
			if err := r.ReplayWorkflowHistoryFromJSONFile(logger, file); err != nil {
				t.Fatalf("replay %s: %v", file, err)
			}
			if continuedAsNew(file) {
				return // the run has no result; it replayed to the same continue-as-new
			}
			// Determinism aside, the replayed run must end where the recorded one did.
			// The SDK's replayer keeps the result; its public interface does not say so.
			rr, ok := r.(interface {
				GetWorkflowResult(id string, ptr any) error
			})
			if !ok {
				t.Fatalf("the SDK's replayer (%T) no longer offers GetWorkflowResult", r)
			}
			var replayed workflows.IncidentResult
			if err := rr.GetWorkflowResult("", &replayed); err != nil {
				t.Fatalf("result of the replay: %v", err)
			}
			if got, want := outcome(replayed), outcome(recordedResult(t, file)); got != want {
				t.Errorf("the replayed incident ends differently from the recorded one (if the change is "+
					"intended, regenerate with -update):\nreplayed %s\nrecorded %s", got, want)
			}
		})
	}

	// The replayer must be able to fail: a workflow that does nothing does not match
	// a history that scheduled activities.
	t.Run("replayer detects a different workflow", func(t *testing.T) {
		r := sdkworker.NewWorkflowReplayer()
		r.RegisterWorkflowWithOptions(func(ctx workflow.Context, in workflows.IncidentInput) (workflows.IncidentResult, error) {
			return workflows.IncidentResult{}, nil
		}, workflow.RegisterOptions{Name: workflows.IncidentWorkflow})
		if err := r.ReplayWorkflowHistoryFromJSONFile(logger, filepath.Join(historyDir, "incident-contained.json")); err == nil {
			t.Fatal("a do-nothing workflow replayed the contained incident's history without error")
		}
	})
}

// readHistory reads the events of a history file written as the Temporal CLI
// writes them.
func readHistory(t *testing.T, file string) []*historypb.HistoryEvent {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	return h.GetEvents()
}

// versionMarkers lists the change IDs of a history's version markers, in order.
func versionMarkers(t *testing.T, file string) []string {
	t.Helper()
	var ids []string
	for _, e := range readHistory(t, file) {
		m := e.GetMarkerRecordedEventAttributes()
		if m == nil || m.GetMarkerName() != "Version" {
			continue
		}
		var id string
		if err := converter.GetDefaultDataConverter().FromPayloads(m.GetDetails()["change-id"], &id); err != nil {
			t.Fatalf("%s: change id of event %d: %v", file, e.GetEventId(), err)
		}
		ids = append(ids, id)
	}
	return ids
}

// recordedResult is the incident a history's run completed with.
func recordedResult(t *testing.T, file string) workflows.IncidentResult {
	t.Helper()
	events := readHistory(t, file)
	var res workflows.IncidentResult
	payloads := events[len(events)-1].GetWorkflowExecutionCompletedEventAttributes().GetResult()
	if err := converter.GetDefaultDataConverter().FromPayloads(payloads, &res); err != nil {
		t.Fatalf("%s: decode the run's result: %v", file, err)
	}
	return res
}

// outcome summarises how an incident ended: its status, every step's status,
// enforcement and verification, and its signal counts.
func outcome(r workflows.IncidentResult) string {
	inc := r.Incident
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q signals=%d duplicates=%d", inc.Status, inc.Reason, len(inc.Signals), inc.Duplicates)
	for _, st := range inc.Steps {
		fmt.Fprintf(&b, " %s=%s/%s/verified=%v", st.ID, st.Status, st.Enforcement, st.Verified)
	}
	return b.String()
}

// checkHistoryShape makes sure a history file is what its name says: a completed
// Incident run that scheduled activities.
func checkHistoryShape(t *testing.T, file string) {
	t.Helper()
	events := readHistory(t, file)
	if len(events) < 2 {
		t.Fatalf("%s has %d events", file, len(events))
	}
	if got := events[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName(); got != workflows.IncidentWorkflow {
		t.Errorf("%s: workflow type %q, want %q", file, got, workflows.IncidentWorkflow)
	}
	want := enums.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
	if continuedAsNew(file) {
		want = enums.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
	}
	if last := events[len(events)-1].GetEventType(); last != want {
		t.Errorf("%s: last event %v, want %v", file, last, want)
	}
	activities := 0
	for _, e := range events {
		if e.GetEventType() == enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED {
			activities++
		}
	}
	if activities == 0 {
		t.Errorf("%s scheduled no activity", file)
	}
}

// continuedAsNew reports whether a history file is of a run that continued as new
// (its name says so: incident-*-can-run1.json), not one that completed.
func continuedAsNew(file string) bool {
	return strings.Contains(filepath.Base(file), "-can-") && strings.HasSuffix(file, "-run1.json")
}

// generateCANHistories runs an incident that continues as new while its
// containment step waits for approval, with signals arriving during the
// continue-as-new, and writes both runs: run 1 ends continued-as-new, run 2 starts
// from the carried state and is closed.
func generateCANHistories(t *testing.T) {
	cfg := runbookConfig(t, "e2e-approval-hold.yaml", approvalRunbook)
	s := startStack(t, cfg)
	if err := os.MkdirAll(historyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := tokenCred("acme-internal", "svc-history-parked-can")
	s.enrol(t, c.id)
	credential := sever.Credential{Provider: c.provider, Type: sever.CredGenericToken, ID: c.id, Principal: "svc-e2e"}
	rb, err := s.Library.Select(credential.Type, sever.KindAnomalousUsage)
	if err != nil || rb.Name != "e2e-approval-hold" {
		t.Fatalf("runbook for the parked incident: %v (err %v)", rb, err)
	}
	id := sever.IncidentID(credential)
	sig := func(i int) sever.Signal {
		ev := fmt.Sprintf("evt-history-can-%d", i)
		return sever.Signal{ID: sever.SignalID("e2e-siem", ev, ""), Source: "e2e-siem", SourceEventID: ev,
			Origin: sever.OriginEnterprise, Kind: sever.KindAnomalousUsage, ObservedAt: time.Now().UTC(),
			ReceivedAt: time.Now().UTC(), Credential: credential, Severity: "high", Summary: "token used from a new network",
			Receipt: fmt.Sprintf("rcpt-can-%d", i), Reporter: "dev"}
	}
	// The engine's own input, with a continue-as-new after three signal deliveries.
	in := workflows.IncidentInput{IncidentID: id, Credential: credential, Runbook: *rb, Policy: *s.Policy,
		Hold: sever.Duration(time.Hour), ContinueAsNewAfter: 3, LocalLedger: true}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := s.Client.SignalWithStartWorkflow(ctx, id, workflows.SignalChannel, sig(0),
		client.StartWorkflowOptions{ID: id, TaskQueue: s.Config.Temporal.TaskQueue}, workflows.IncidentWorkflow, in)
	if err != nil {
		t.Fatal(err)
	}
	s.api.waitApproval(t, id, "the approval request", "disable")
	for i := 1; i <= 5; i++ {
		if err := s.Client.SignalWorkflow(ctx, id, "", workflows.SignalChannel, sig(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the second run", func() error {
		d, err := s.Client.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			return err
		}
		if d.GetWorkflowExecutionInfo().GetExecution().GetRunId() == run.GetRunID() {
			return errNotYet
		}
		return nil
	})
	inc := s.api.waitIncident(t, id, "every signal in the next run", func(inc incidentJSON) bool { return len(inc.Signals) == 6 })
	if st := inc.step("disable"); st.Status != "waiting_approval" {
		t.Fatalf("after continue-as-new the step is %s, want still waiting_approval", st.Status)
	}
	s.api.closeIncident(t, id, "false alarm, closed after continue-as-new")
	writeRunHistory(t, s, id, run.GetRunID(), "incident-parked-can-run1.json")
	writeHistory(t, s, id, "incident-parked-can-run2.json")
}

// generateIntakeHistory runs an incident whose every signal came by the
// synchronous POST, so by the intake update (Update-With-Start for the first):
// a new signal, the same event resent, a late signal from the vendor. It checks
// that the history shows the update path, then closes the incident and writes it.
func generateIntakeHistory(t *testing.T) {
	s := startStack(t, newConfig(t))
	if err := os.MkdirAll(historyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := tokenCred("acme-internal", "svc-history-intake")
	s.enrol(t, c.id)
	sub := s.api.submit(t, nativeSignal(c, "evt-history-intake-1"))
	if sub.Status != "recorded" {
		t.Fatalf("first signal answered %q, want recorded", sub.Status)
	}
	if dup := s.api.submit(t, nativeSignal(c, "evt-history-intake-1")); dup.Status != "duplicate" || !dup.Duplicate {
		t.Fatalf("resent event answered %+v, want duplicate", dup)
	}
	s.api.waitContained(t, sub.IncidentID)
	late := nativeSignal(c, "vendor-notice-intake-1")
	late["source"], late["origin"], late["kind"] = "acme-issuer", "vendor", "vendor_action"
	if l := s.api.submit(t, late); l.Status != "recorded" {
		t.Fatalf("late signal answered %q, want recorded", l.Status)
	}
	s.api.closeIncident(t, sub.IncidentID, "token rotated")
	writeHistory(t, s, sub.IncidentID, "incident-intake-update.json")

	updates := 0
	for _, e := range readHistory(t, filepath.Join(historyDir, "incident-intake-update.json")) {
		if a := e.GetWorkflowExecutionUpdateAcceptedEventAttributes(); a != nil &&
			a.GetAcceptedRequest().GetInput().GetName() == workflows.UpdateSignal {
			updates++
		}
	}
	if updates != 3 {
		t.Fatalf("the history shows %d intake updates, want 3 (first, resend, late)", updates)
	}
}

// approvalRunbook is the runbook the mid-approval history runs: containment waits
// for a human, for anomalous_usage signals only, so the built-in still handles
// credential_exposed in the same stack.
const approvalRunbook = `name: e2e-approval-hold
version: "1"
description: Capture evidence, then disable the token once a human approves.
match:
  credential_types: [generic_token]
  signal_kinds: [anomalous_usage]
  priority: 10
steps:
  - id: capture
    action: sever.evidence.capture_signals
    args: {label: intake}
  - id: disable
    action: tokenstore.disable_token
    needs: [capture]
    approval:
      approvers: [U0E2EHOLD]
      deadline: 1h
      on_timeout: deny
    verify:
      action: tokenstore.token_status
      args: {expect: inactive}
`

// generateHistories runs two incidents on a real stack and writes their histories:
// one contained (with a duplicate and a late vendor signal) and then closed, one
// closed while its containment step waited for approval.
func generateHistories(t *testing.T) {
	cfg := runbookConfig(t, "e2e-approval-hold.yaml", approvalRunbook)
	// A SIEM raises the incidents and a SOC lead closes them: the false positive's
	// undo needs a lead who did not raise it.
	use := twoPeople(t, cfg)
	s := startStack(t, cfg)
	siem, _ := use(s)
	if err := os.MkdirAll(historyDir, 0o755); err != nil {
		t.Fatal(err)
	}

	contained := tokenCred("acme-internal", "svc-history-contained")
	s.enrol(t, contained.id)
	sub := siem.submit(t, nativeSignal(contained, "evt-history-1"))
	if dup := siem.submit(t, nativeSignal(contained, "evt-history-1")); !dup.Duplicate {
		t.Fatalf("resent event not a duplicate: %+v", dup)
	}
	s.api.waitContained(t, sub.IncidentID)
	late := nativeSignal(contained, "vendor-notice-1")
	late["source"], late["origin"], late["kind"] = "acme-issuer", "vendor", "vendor_action"
	siem.submit(t, late)
	s.api.waitIncident(t, sub.IncidentID, "the late signal", func(inc incidentJSON) bool { return len(inc.Signals) == 2 })
	s.api.closeIncident(t, sub.IncidentID, "token rotated")
	writeHistory(t, s, sub.IncidentID, "incident-contained.json")

	held := tokenCred("acme-internal", "svc-history-held")
	s.enrol(t, held.id)
	sig := nativeSignal(held, "evt-history-2")
	sig["kind"] = "anomalous_usage"
	sub = siem.submit(t, sig)
	s.api.waitApproval(t, sub.IncidentID, "the approval request", "disable")
	s.api.closeIncident(t, sub.IncidentID, "false alarm, closed before approval")
	inc := s.api.waitIncident(t, sub.IncidentID, "closed", func(inc incidentJSON) bool { return inc.Status == "closed" })
	if st := inc.step("disable"); st.Status != "skipped" || st.EndedAt == nil {
		t.Fatalf("disable step of the incident closed mid-approval: %s, ended %v; want skipped and ended", st.Status, st.EndedAt)
	}
	writeHistory(t, s, sub.IncidentID, "incident-closed-mid-approval.json")

	fp := tokenCred("acme-internal", "svc-history-false-positive")
	s.enrol(t, fp.id)
	sub = siem.submit(t, nativeSignal(fp, "evt-history-3"))
	s.api.waitIncident(t, sub.IncidentID, "containment", func(inc incidentJSON) bool { return inc.Status == "contained" })
	s.api.closeFalsePositive(t, sub.IncidentID, "test token in a fixture")
	// The history is there to replay a compensation: it must have run.
	s.api.waitIncident(t, sub.IncidentID, "the undo", func(inc incidentJSON) bool {
		_, raw := s.api.mustIncident(t, sub.IncidentID)
		var full struct {
			Compensations []struct{ Status string } `json:"compensations"`
		}
		_ = json.Unmarshal(raw, &full)
		return inc.Status == "closed" && len(full.Compensations) == 1 && full.Compensations[0].Status == "succeeded"
	})
	writeHistory(t, s, sub.IncidentID, "incident-false-positive.json")
}

// writeHistory waits for the incident's run to complete and writes its history in
// the JSON form the SDK's replayer reads (Temporal's protojson, as the CLI writes it).
func writeHistory(t *testing.T, s *stack, id, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Client.GetWorkflow(ctx, id, "").Get(ctx, nil); err != nil {
		t.Fatalf("incident %s did not complete: %v", id, err)
	}
	writeRunHistory(t, s, id, "", name)
}

// writeRunHistory writes the history of one run (runID "" for the latest), which
// has ended.
func writeRunHistory(t *testing.T, s *stack, id, runID, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h := &historypb.History{}
	it := s.Client.GetWorkflowHistory(ctx, id, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		h.Events = append(h.Events, e)
	}
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	// Secrets never appear in histories. Payloads are base64 in the file; look at
	// them decoded (Temporal's shorthand form) for the API token.
	readable, err := temporalproto.CustomJSONMarshalOptions{
		Metadata: map[string]any{commonpb.EnablePayloadShorthandMetadataKey: true}}.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readable, []byte(`"reporter":"`)) {
		t.Fatalf("the decoded history of %s does not show its signals; the secret scan would be blind", id)
	}
	if len(s.tokens) == 0 {
		t.Fatal("the stack has no API tokens to look for")
	}
	for _, tok := range s.tokens {
		if bytes.Contains(readable, []byte(tok)) {
			t.Fatalf("the history of %s contains an API token", id)
		}
	}
	back, err := client.HistoryFromJSON(bytes.NewReader(b), client.HistoryJSONOptions{})
	if err != nil || !proto.Equal(back, h) {
		t.Fatalf("history of %s does not read back as written (err %v)", id, err)
	}
	path := filepath.Join(historyDir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s: %d events, %d bytes", path, len(h.Events), len(b))
}
