package slackapp

import (
	"container/list"
	"sync"
	"time"
)

// ReplayCache remembers requests already processed. Slack's signature check accepts
// the same signed request again for five minutes, so the handler records each
// request's signature (and each click's team/action_ts/user) and refuses a second use.
type ReplayCache interface {
	// Seen records key as used at now and reports whether it had already been
	// recorded and has not expired since.
	Seen(key string, now time.Time) bool
}

// DefaultReplayTTL covers Slack's signature window on both sides of the clock: a
// request stamped five minutes in the future stays valid for ten minutes after it
// first arrives. One more minute absorbs clock skew.
const DefaultReplayTTL = 11 * time.Minute

// DefaultReplayCapacity bounds the memory of the default cache. Only Slack can sign
// requests, so filling it takes real clicks; when full the oldest key is dropped
// (the workflow's update ID still dedupes that click).
const DefaultReplayCapacity = 100_000

// MemoryReplayCache is a bounded in-process ReplayCache: a map with TTL expiry and
// eviction of the oldest entry beyond its capacity. It is safe for concurrent use.
// Replicas do not share it; across replicas the Decider's idempotency key (the
// Temporal update ID) is what dedupes a click.
type MemoryReplayCache struct {
	ttl      time.Duration
	capacity int

	mu    sync.Mutex
	order *list.List // of *replayEntry, oldest first
	keys  map[string]*list.Element
}

type replayEntry struct {
	key  string
	seen time.Time
}

// NewReplayCache returns a MemoryReplayCache; ttl ≤ 0 and capacity ≤ 0 mean the defaults.
func NewReplayCache(ttl time.Duration, capacity int) *MemoryReplayCache {
	if ttl <= 0 {
		ttl = DefaultReplayTTL
	}
	if capacity <= 0 {
		capacity = DefaultReplayCapacity
	}
	return &MemoryReplayCache{ttl: ttl, capacity: capacity, order: list.New(), keys: make(map[string]*list.Element)}
}

// Seen implements ReplayCache.
func (c *MemoryReplayCache) Seen(key string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Entries are appended as they arrive, so expired ones sit at the front.
	for e := c.order.Front(); e != nil; e = c.order.Front() {
		ent := e.Value.(*replayEntry)
		if now.Sub(ent.seen) < c.ttl {
			break
		}
		c.order.Remove(e)
		delete(c.keys, ent.key)
	}
	if e, ok := c.keys[key]; ok {
		if now.Sub(e.Value.(*replayEntry).seen) < c.ttl {
			return true
		}
		c.order.Remove(e)
		delete(c.keys, key)
	}
	c.keys[key] = c.order.PushBack(&replayEntry{key: key, seen: now})
	for c.order.Len() > c.capacity {
		e := c.order.Front()
		c.order.Remove(e)
		delete(c.keys, e.Value.(*replayEntry).key)
	}
	return false
}

// Len reports how many keys the cache holds.
func (c *MemoryReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
