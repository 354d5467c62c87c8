package devserver

import (
	"sync/atomic"
	"time"

	"go.temporal.io/server/common/dynamicconfig"
)

// saCacheTTL is how long each Temporal service keeps the search attributes it
// read (the server's cacheRefreshInterval), plus a margin.
const saCacheTTL = 61 * time.Second

// devConfig is the embedded server's dynamic config: the static settings of
// dynamicConfig, and whether every use of search attributes re-reads them from
// the database (system.forceSearchAttributesCacheRefreshOnRead).
//
// `temporal server start-dev` keeps that re-read on for good, so an attribute
// added at run time is usable at once. It costs a read and decode of the
// cluster metadata on every workflow start, search attribute upsert, visibility
// write and history page (1-3 % of the CPU of an incident, measured), and
// sever's attributes never change while it runs: they are in the namespace
// before the server starts (a new database) or added right after (an older
// database, reconcileNamespace). So the re-read stays on only until the
// namespace is settled: off at once when nothing was added, and one cache
// lifetime after an addition, when no service can hold a list from before it.
// An attribute someone adds by hand later shows up within a minute, as on any
// Temporal server.
type devConfig struct {
	static    dynamicconfig.StaticClient
	refreshSA atomic.Bool
	timer     atomic.Pointer[time.Timer]
}

func newDevConfig() *devConfig {
	c := &devConfig{static: dynamicConfig()}
	c.refreshSA.Store(true)
	return c
}

// GetValue implements dynamicconfig.Client. The server asks on every use (the
// client does not notify), so a change applies at once.
func (c *devConfig) GetValue(key dynamicconfig.Key) []dynamicconfig.ConstrainedValue {
	if key == dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key() {
		return []dynamicconfig.ConstrainedValue{{Value: c.refreshSA.Load()}}
	}
	return c.static.GetValue(key)
}

// settle ends the re-reads once the namespace's search attributes are final:
// now when reconcileNamespace added none, else after saCacheTTL.
func (c *devConfig) settle(added bool) { c.settleAfter(added, saCacheTTL) }

func (c *devConfig) settleAfter(added bool, ttl time.Duration) {
	if !added {
		c.refreshSA.Store(false)
		return
	}
	c.timer.Store(time.AfterFunc(ttl, func() { c.refreshSA.Store(false) }))
}

// stop cancels a pending settle.
func (c *devConfig) stop() {
	if t := c.timer.Load(); t != nil {
		t.Stop()
	}
}
