package app

import (
	"context"
	"sync"

	"github.com/sever-ir/sever/engine"
	"github.com/sever-ir/sever/internal/refusal"
)

// refusals is the process's recorder of refused decisions. It writes to the ledger
// the worker writes to, looked up at each refusal: the SQLite file of this host, or
// PostgreSQL with database.url, so `sever serve` on another host records into the
// same shared ledger (Serve opens it). Until a ledger is open, refusals are counted
// in /metrics and logged only.
type refusals struct {
	once sync.Once
	rec  *refusal.Recorder
	stop context.CancelFunc
	done chan struct{}
}

// Refusals returns the recorder of refused decisions, built and started (a flush
// at the end of every window) on first use; Close flushes and stops it.
func (p *Parts) Refusals() *refusal.Recorder {
	p.refusals.once.Do(func() {
		p.refusals.rec = &refusal.Recorder{
			Ledger: func() refusal.Appender {
				if l := p.Ledger; l != nil {
					return l
				}
				return nil
			},
			Drill: func() refusal.Appender {
				if l := p.DrillLedger; l != nil {
					return l
				}
				return nil
			},
			Counted: p.Metrics.DecisionRefused, Aggregated: p.Metrics.DecisionRefusedAggregated, Logger: p.Logger,
		}
		ctx, cancel := context.WithCancel(context.Background())
		p.refusals.stop, p.refusals.done = cancel, make(chan struct{})
		go func() {
			defer close(p.refusals.done)
			p.refusals.rec.Run(ctx)
		}()
	})
	return p.refusals.rec
}

// stopRefusals writes the summaries still pending and stops the recorder, before
// the ledgers close.
func (p *Parts) stopRefusals() {
	if p.refusals.stop != nil {
		p.refusals.stop()
		<-p.refusals.done
	}
}

// ledgerReader is the engine's read access to the ledgers, for the refused attempts
// in reports; nil until the ledger is open.
func (p *Parts) ledgerReader(drill bool) engine.LedgerReader {
	l := p.Ledger
	if drill {
		l = p.DrillLedger
	}
	if l == nil {
		return nil
	}
	return l
}
