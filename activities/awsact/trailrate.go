package awsact

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// trailLimiter shares CloudTrail's LookupEvents budget of one account and region
// (2 requests per second) among every incident a worker runs, and lets the lookups a
// containment step waits on go first. Evidence collection pages through events and
// can spend the budget for many seconds; the lookup that finds which role or user
// issued a temporary key is what stands between a stolen session and its revocation.
//
// Urgent callers reserve their turn as rate.Limiter.Wait does. Others take a token
// only when one is free now and no urgent caller is waiting, and otherwise sleep
// until the next token (or until the last urgent caller is served): they never hold
// a reservation in the future, so an urgent caller queues behind other urgent callers
// and at most the token already in flight.
type trailLimiter struct {
	lim *rate.Limiter

	mu     sync.Mutex
	urgent int
	served chan struct{} // closed when urgent drops to zero
	// deferred counts the other callers waiting (tests read it to know they wait).
	deferred atomic.Int64
}

func newTrailLimiter(r rate.Limit) *trailLimiter {
	return &trailLimiter{lim: rate.NewLimiter(r, 1), served: make(chan struct{})}
}

// Wait blocks until the caller may send one LookupEvents request, or ctx ends.
func (l *trailLimiter) Wait(ctx context.Context, urgent bool) error {
	if urgent {
		l.mu.Lock()
		l.urgent++
		l.mu.Unlock()
		defer func() {
			l.mu.Lock()
			if l.urgent--; l.urgent == 0 {
				close(l.served)
				l.served = make(chan struct{})
			}
			l.mu.Unlock()
		}()
		return l.lim.Wait(ctx)
	}
	l.deferred.Add(1)
	defer l.deferred.Add(-1)
	for {
		l.mu.Lock()
		waiting, served := l.urgent > 0, l.served
		l.mu.Unlock()
		if waiting {
			select {
			case <-served:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		r := l.lim.Reserve()
		d := r.Delay()
		if d == 0 {
			return nil
		}
		r.Cancel() // give the token back: an urgent caller may need it first
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}
