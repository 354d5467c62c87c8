package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/sever-ir/sever/internal/refusal"
	"github.com/sever-ir/sever/ledger"
	"github.com/sever-ir/sever/report"
	"github.com/sever-ir/sever/service"
	"github.com/sever-ir/sever/workflows"
)

// RefusalRecorder puts refused decisions on the record (*refusal.Recorder).
type RefusalRecorder interface {
	Refused(ctx context.Context, f refusal.Refusal)
}

// refusedDecision records a decision the workflow's validator, or the worker's
// signature check, refused. The validator leaves no trace in the incident's history,
// so this is where the refusal is seen; err is what Decide got from the Update.
func (e *Engine) refusedDecision(ctx context.Context, id string, r service.DecideRequest, err error) {
	if e.Refusals == nil {
		return
	}
	reason, ok := refusalReason(err)
	if !ok {
		return // not a refusal: the service was unreachable, say
	}
	what := "deny"
	if r.Approve {
		what = "approve"
	}
	why := err.Error()
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		why = app.Message()
	}
	e.Refusals.Refused(context.WithoutCancel(ctx), refusal.Refusal{Reason: reason, Incident: id, Step: r.Step,
		Who: r.Approver, Channel: r.Channel, What: what, Why: why, Drill: strings.HasPrefix(id, "drill-")})
}

// refusalReason reads the reason of a refused Update from its error type.
func refusalReason(err error) (string, bool) {
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		return "", false
	}
	if reason, ok := strings.CutPrefix(app.Type(), workflows.RefusedTypePrefix); ok {
		return reason, true
	}
	if app.Type() == "Forbidden" { // worker.DecisionInterceptor: not signed by the engine
		return refusal.ForgedSignature, true
	}
	return "", false
}

// LedgerReader reads an incident's ledger entries (*ledger.Store).
type LedgerReader interface {
	Entries(ctx context.Context, incident string) ([]ledger.Entry, error)
}

var _ service.RefusalSource = (*Engine)(nil)

// RefusedAttempts reads the refused decisions of an incident from the ledger, for
// its report. Without a ledger it returns none.
func (e *Engine) RefusedAttempts(ctx context.Context, id string) ([]report.RefusedAttempt, error) {
	if e.Ledger == nil {
		return nil, nil
	}
	l := e.Ledger(strings.HasPrefix(id, "drill-"))
	if l == nil {
		return nil, nil
	}
	entries, err := l.Entries(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("refused attempts of %s: %w", id, err)
	}
	var out []report.RefusedAttempt
	for _, en := range entries {
		if en.Kind != ledger.KindRefusedDecision {
			continue
		}
		n, err := strconv.Atoi(en.Detail["count"])
		if err != nil {
			n = 1
		}
		out = append(out, report.RefusedAttempt{At: en.At, Reason: en.Detail["reason"], Who: en.Actor, Step: en.Step,
			Channel: en.Detail["channel"], What: en.Detail["what"], Why: en.Result, Count: n})
	}
	return out, nil
}
