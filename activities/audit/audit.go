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
	AppendBatch(ctx context.Context, es []ledger.Entry) ([]ledger.Appended, error)
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

// Append writes a batch of facts in order, in one ledger transaction. Each fact has a
// stable key, so a retried batch appends nothing twice. A fact the ledger refuses (a
// value that looks like secret material) is replaced by an entry that says so, naming
// the field, never the value: the chain keeps a record that something was refused.
//
// With a mirror, the batch's entries are copied right after it is appended, also
// those the ledger already held: a crash between the append and the copies leaves
// the copy behind, and the retry fills it in. A failed copy fails the batch with a
// retryable error; the retry appends nothing and only redoes the copies.
func (a *Activities) Append(ctx context.Context, in contract.LedgerAppendInput) (contract.LedgerAppendResult, error) {
	l, m := a.Ledger, a.Mirror
	if in.Drill && a.Drill != nil {
		l, m = a.Drill, a.DrillMirror
	}
	if l == nil {
		return contract.LedgerAppendResult{}, activities.Permanent(activities.ErrUnsupported, "ledger append: no ledger is configured", nil)
	}
	es := make([]ledger.Entry, len(in.Facts))
	for i, f := range in.Facts {
		es[i] = ledger.Entry{Incident: in.IncidentID, At: f.At, Kind: ledger.Kind(f.Kind), Actor: f.Actor,
			Enforcement: f.Enforcement, PolicyRule: f.PolicyRule, Step: f.Step, Action: f.Action,
			ArgsSHA256: f.ArgsSHA256, Evidence: f.Evidence, Result: f.Result, Detail: f.Detail, Key: f.Key}
	}
	var res contract.LedgerAppendResult
	stored, err := l.AppendBatch(ctx, es)
	// Each refused fact is replaced once; a replacement the ledger refuses too (it
	// never should) fails the batch.
	for replaced := make([]bool, len(es)); err != nil && ctx.Err() == nil; {
		be, ok := errors.AsType[*ledger.BatchError](err)
		if !ok || !isRefusal(be.Err) || be.Index < 0 || be.Index >= len(es) || replaced[be.Index] {
			break
		}
		f := es[be.Index]
		es[be.Index] = ledger.Entry{Incident: in.IncidentID, At: f.At, Kind: f.Kind, Actor: "sever",
			Step: f.Step, Action: f.Action, Key: f.Key, Result: "fact refused by the ledger: " + be.Err.Error()}
		replaced[be.Index] = true
		stored, err = l.AppendBatch(ctx, es)
	}
	if err != nil {
		return res, fmt.Errorf("ledger append %s (%d facts): %w", in.IncidentID, len(es), err)
	}
	for i, st := range stored {
		if m != nil {
			if err := m.Put(ctx, st.Entry); err != nil {
				return res, temporal.NewApplicationErrorWithCause(
					fmt.Sprintf("ledger mirror %s seq %d (%s): %v", in.IncidentID, st.Entry.Seq, es[i].Key, err), ErrMirror, err)
			}
		}
		if st.Added {
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
