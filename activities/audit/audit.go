// Package audit writes the workflow's facts to the tamper-evident ledger.
package audit

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
	"github.com/sever-ir/sever/contract"
	"github.com/sever-ir/sever/ledger"
)

// Ledger is the part of the ledger store the activity uses.
type Ledger interface {
	Append(ctx context.Context, e ledger.Entry) (ledger.Entry, bool, error)
}

// ErrMirror is the error type of a failed mirror copy. It is retryable: the copy may
// succeed once S3 answers again, and a conflict stays visible on every attempt.
const ErrMirror = "LedgerMirror"

// Mirror keeps a second copy of the ledger (ledger/worm's S3 copy). Put must be
// idempotent: it is called again for entries it may already hold.
type Mirror interface {
	Put(ctx context.Context, e ledger.Entry) error
}

// Activities holds the production ledger and, apart from it, the drill ledger, so
// drill records never mix with production ones, each with an optional mirror (nil =
// none) that receives every entry its ledger holds.
type Activities struct {
	Ledger      Ledger
	Drill       Ledger
	Mirror      Mirror
	DrillMirror Mirror
}

// Register registers the ledger append under its internal name.
func (a *Activities) Register(r activities.Registrar) {
	r.RegisterActivityWithOptions(a.Append, activity.RegisterOptions{Name: contract.ActivityLedgerAppend})
}

// Append writes a batch of facts in order. Each fact has a stable key, so a retried
// batch appends nothing twice. A fact the ledger refuses (a value that looks like
// secret material) is replaced by an entry that says so, naming the field, never the
// value: the chain keeps a record that something was refused.
//
// With a mirror, each entry is copied right after it is appended, before the next
// one, also when the ledger already held it: a crash between the append and the copy
// leaves the copy one entry behind, and the retry fills it in. A failed copy fails
// the batch with a retryable error; the retry appends nothing and only redoes the copy.
func (a *Activities) Append(ctx context.Context, in contract.LedgerAppendInput) (contract.LedgerAppendResult, error) {
	l, m := a.Ledger, a.Mirror
	if in.Drill && a.Drill != nil {
		l, m = a.Drill, a.DrillMirror
	}
	if l == nil {
		return contract.LedgerAppendResult{}, activities.Permanent(activities.ErrUnsupported, "ledger append: no ledger is configured", nil)
	}
	var res contract.LedgerAppendResult
	for _, f := range in.Facts {
		e := ledger.Entry{Incident: in.IncidentID, At: f.At, Kind: ledger.Kind(f.Kind), Actor: f.Actor,
			Enforcement: f.Enforcement, PolicyRule: f.PolicyRule, Step: f.Step, Action: f.Action,
			ArgsSHA256: f.ArgsSHA256, Evidence: f.Evidence, Result: f.Result, Detail: f.Detail, Key: f.Key}
		stored, added, err := l.Append(ctx, e)
		if err != nil && ctx.Err() == nil && isRefusal(err) {
			refused := ledger.Entry{Incident: in.IncidentID, At: f.At, Kind: ledger.Kind(f.Kind), Actor: "sever",
				Step: f.Step, Action: f.Action, Key: f.Key, Result: "fact refused by the ledger: " + err.Error()}
			stored, added, err = l.Append(ctx, refused)
		}
		if err != nil {
			return res, fmt.Errorf("ledger append %s %s: %w", in.IncidentID, f.Key, err)
		}
		if m != nil {
			if err := m.Put(ctx, stored); err != nil {
				return res, temporal.NewApplicationErrorWithCause(
					fmt.Sprintf("ledger mirror %s seq %d (%s): %v", in.IncidentID, stored.Seq, f.Key, err), ErrMirror, err)
			}
		}
		if added {
			res.Appended++
		} else {
			res.Existing++
		}
		activity.RecordHeartbeat(ctx, res.Appended+res.Existing)
	}
	return res, nil
}

// isRefusal tells the ledger's validation refusals (a *sever.Error naming the field)
// from storage trouble, which is worth retrying.
func isRefusal(err error) bool {
	var se *sever.Error
	return errors.As(err, &se)
}
