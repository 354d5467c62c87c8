package awsact

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A containment lookup that arrives while evidence collection waits on the shared
// CloudTrail budget goes before it: at most the token already in flight (and one a
// waiter may take as the urgent caller registers) is spent on evidence first. With a
// plain rate.Limiter every evidence waiter holds a reservation ahead of it.
func TestTrailLimiterServesContainmentFirst(t *testing.T) {
	l := newTrailLimiter(50) // 50/s keeps the test short; the order is what counts
	ctx := context.Background()
	const evidence = 20
	var taken atomic.Int64
	first := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for range evidence {
		wg.Go(func() {
			if err := l.Wait(ctx, false); err != nil {
				t.Error(err)
				return
			}
			taken.Add(1)
			once.Do(func() { close(first) })
		})
	}
	<-first
	// The others now wait for the budget.
	deadline := time.Now().Add(10 * time.Second)
	for l.deferred.Load()+taken.Load() < evidence {
		if time.Now().After(deadline) {
			t.Fatalf("only %d evidence lookups waiting", l.deferred.Load())
		}
		time.Sleep(time.Millisecond)
	}
	before := taken.Load()
	if err := l.Wait(ctx, true); err != nil {
		t.Fatal(err)
	}
	ahead := taken.Load() - before
	wg.Wait()
	if ahead > 2 {
		t.Errorf("%d evidence lookups went ahead of the containment lookup; want at most 2", ahead)
	}
	if got := taken.Load(); got != evidence {
		t.Errorf("%d of %d evidence lookups served", got, evidence)
	}
}

// A waiter whose context ends gives up, urgent or not, and leaves the budget to
// the others.
func TestTrailLimiterCanceled(t *testing.T) {
	l := newTrailLimiter(0.001) // one token, then none for a long time
	if err := l.Wait(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	for _, urgent := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := l.Wait(ctx, urgent); err == nil {
			t.Errorf("Wait(canceled, urgent=%v) = nil, want the context's error", urgent)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.urgent != 0 {
		t.Errorf("urgent = %d after the urgent waiter gave up, want 0", l.urgent)
	}
}

// Evidence lookups are served in the order they arrived: with hundreds queued on one
// account and region (2 a second), a waiter that lost every race could outlive its
// activity's timeout while later arrivals went first.
func TestTrailLimiterServesEvidenceInOrder(t *testing.T) {
	l := newTrailLimiter(100)
	ctx := context.Background()
	if err := l.Wait(ctx, false); err != nil { // spend the burst
		t.Fatal(err)
	}
	const n = 30
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := l.Wait(ctx, false); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		})
		// Each waiter is queued (or served) before the next arrives.
		for {
			mu.Lock()
			served := len(order)
			mu.Unlock()
			if l.deferred.Load()+int64(served) >= int64(i+1) {
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	wg.Wait()
	for i, got := range order {
		if got != i {
			t.Fatalf("served in order %v; want arrival order", order)
		}
	}
}
