package awsact

import "container/list"

// Default bounds of the worker's caches. Account IDs, regions and key IDs reach
// them from signals and runbook arguments, so without a bound a long-running worker
// fed many distinct values grows without end. An evicted entry costs one more AWS
// read (or, for a client, one more credential exchange), never a wrong answer.
const (
	// DefaultMaxCachedClients bounds Factory's clients per (account, region).
	DefaultMaxCachedClients = 64
	// maxCachedIdentities bounds sever's own identity per account.
	maxCachedIdentities = 64
	// maxCachedKeys bounds what is remembered per access key (account, owner).
	maxCachedKeys = 4096
	// maxCachedLimiters bounds the CloudTrail rate limiters per (account, region).
	maxCachedLimiters = 256
)

// lru is a map that holds at most max entries and evicts the least recently used
// one to make room. Not safe for concurrent use: its owner's mutex guards it. The
// zero value is not usable; see newLRU.
type lru[K comparable, V any] struct {
	max   int
	order *list.List // of *lruEntry[K, V], most recently used first
	items map[K]*list.Element
}

type lruEntry[K comparable, V any] struct {
	key K
	val V
}

func newLRU[K comparable, V any](max int) *lru[K, V] {
	return &lru[K, V]{max: max, order: list.New(), items: map[K]*list.Element{}}
}

func (c *lru[K, V]) get(k K) (V, bool) {
	e, ok := c.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry[K, V]).val, true
}

func (c *lru[K, V]) put(k K, v V) {
	if e, ok := c.items[k]; ok {
		e.Value.(*lruEntry[K, V]).val = v
		c.order.MoveToFront(e)
		return
	}
	c.items[k] = c.order.PushFront(&lruEntry[K, V]{key: k, val: v})
	for c.order.Len() > max(c.max, 1) {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.items, oldest.Value.(*lruEntry[K, V]).key)
	}
}

func (c *lru[K, V]) len() int { return c.order.Len() }
