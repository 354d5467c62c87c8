package awsact

import (
	"context"
	"slices"
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
// Urgent callers reserve their turn as rate.Limiter.Wait does. Others queue in the
// order they arrived, and only the first of them tries for a token: it takes one only
// when one is free now and no urgent caller is waiting, and otherwise sleeps until
// the next token (or until the last urgent caller is served). They never hold a
// reservation in the future, so an urgent caller queues behind other urgent callers
// and at most the token already in flight; and with hundreds of evidence lookups
// queued on one account and region, none loses the race for every token until its
// activity times out.
type trailLimiter struct {
	lim *rate.Limiter

	mu     sync.Mutex
	urgent int
	served chan struct{} // closed when urgent drops to zero
	// queue holds the other callers in arrival order; each one's channel is closed
	// when it becomes first.
	queue []chan struct{}
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
	turn := l.join()
	defer l.leave(turn)
	// Counted once queued, so a test that waits for the count knows the order.
	l.deferred.Add(1)
	defer l.deferred.Add(-1)
	select {
	case <-turn:
	case <-ctx.Done():
		return ctx.Err()
	}
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

// join queues a caller that is not urgent and returns the channel closed when it is
// first in the queue.
func (l *trailLimiter) join() chan struct{} {
	turn := make(chan struct{})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queue = append(l.queue, turn)
	if len(l.queue) == 1 {
		close(turn)
	}
	return turn
}

// leave takes a caller out of the queue, served or given up, and hands the first
// place on when it held it.
func (l *trailLimiter) leave(turn chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := slices.Index(l.queue, turn)
	if i < 0 {
		return
	}
	l.queue = slices.Delete(l.queue, i, i+1)
	if i == 0 && len(l.queue) > 0 {
		close(l.queue[0])
	}
}
