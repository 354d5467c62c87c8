// Package core holds the actions that need no outside service: evidence capture of
// the incident's signals, operator notices, and a no-op for tests and benchmarks.
package core

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"

	"go.temporal.io/sdk/activity"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
)

// EvidenceStore keeps artifacts and returns their hashes.
type EvidenceStore interface {
	Put(incident, name string, b []byte) (sever.Artifact, error)
}

// Activities holds the clients of the core actions.
type Activities struct {
	Evidence EvidenceStore
	Logger   *slog.Logger
}

// Register registers every core action under its catalog name.
func (a *Activities) Register(r activities.Registrar) {
	activities.Register(r, sever.ActionNoop, a.Noop)
	activities.Register(r, sever.ActionNotifyLog, a.NotifyLog)
	activities.Register(r, sever.ActionCaptureSignals, a.CaptureSignals)
}

// NoopArgs are the arguments of sever.noop.
type NoopArgs struct {
	Note string `json:"note"`
}

// Noop does nothing and succeeds. It is never verified: there is no state to read
// back, and a verified no-op would let a runbook end "contained" having done nothing.
func (a *Activities) Noop(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args NoopArgs
	if err := activities.DecodeArgs(in.Action, in.Args, &args); err != nil {
		return sever.ActionResult{}, err
	}
	return sever.ActionResult{Summary: args.Note}, nil
}

// NotifyArgs are the arguments of sever.notify.log.
type NotifyArgs struct {
	Message string `json:"message"`
}

// NotifyLog writes a notice about the incident to the operator log.
func (a *Activities) NotifyLog(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args NotifyArgs
	if err := activities.DecodeArgs(in.Action, in.Args, &args); err != nil {
		return sever.ActionResult{}, err
	}
	if args.Message == "" {
		return sever.ActionResult{}, activities.Permanent(activities.ErrInvalidArgument, in.Action+": message is required", nil)
	}
	a.logger().Info("incident notice", "incident", in.IncidentID, "step", in.StepID,
		"credential_type", in.Credential.Type, "credential_id", in.Credential.ID, "message", args.Message)
	// A notice controls nothing, so there is nothing to verify.
	return sever.ActionResult{Summary: "logged: " + args.Message}, nil
}

// CaptureArgs are the arguments of sever.evidence.capture_signals.
type CaptureArgs struct {
	Label string `json:"label"`
}

// signalsEvidence is the artifact's content: what was known when the step ran.
type signalsEvidence struct {
	Incident   string           `json:"incident"`
	Step       string           `json:"step"`
	Credential sever.Credential `json:"credential"`
	Label      string           `json:"label,omitempty"`
	Signals    []sever.Signal   `json:"signals"`
	// Summary accounts for every signal; Signals holds the first and the latest
	// (each is in the ledger whole).
	Summary *sever.SignalSummary `json:"signal_summary,omitempty"`
}

// CaptureSignals writes the signals known to the incident as an evidence artifact and
// returns its SHA-256. The content is a pure function of the input, so a retry
// rewrites the same artifact.
func (a *Activities) CaptureSignals(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args CaptureArgs
	if err := activities.DecodeArgs(in.Action, in.Args, &args); err != nil {
		return sever.ActionResult{}, err
	}
	b, err := json.MarshalIndent(signalsEvidence{Incident: in.IncidentID, Step: in.StepID,
		Credential: in.Credential, Label: args.Label, Signals: in.Signals, Summary: in.SignalSummary}, "", "  ")
	if err != nil {
		return sever.ActionResult{}, activities.Permanent(activities.ErrInvalidArgument, in.Action+": encode signals", err)
	}
	art, err := a.Evidence.Put(in.IncidentID, "signals-"+in.StepID, b)
	if err != nil {
		return sever.ActionResult{}, err // disk trouble may pass; let the retry policy decide
	}
	activity.GetLogger(ctx).Debug("evidence captured", "incident", in.IncidentID, "sha256", art.SHA256)
	return sever.ActionResult{
		Enforcement: sever.EnterpriseEnforced, Verified: true, Actor: "sever",
		Summary:  "captured " + strconv.Itoa(capturedSignals(in)) + " signal(s) as evidence",
		Evidence: []sever.Artifact{art}, Changed: true,
	}, nil
}

func (a *Activities) logger() *slog.Logger {
	if a.Logger == nil {
		return slog.Default()
	}
	return a.Logger
}

// capturedSignals is how many signals the evidence accounts for: the summary's
// total when the incident sent one, else the signals listed.
func capturedSignals(in sever.ActionInput) int {
	if in.SignalSummary != nil {
		return max(in.SignalSummary.Total, len(in.Signals))
	}
	return len(in.Signals)
}
