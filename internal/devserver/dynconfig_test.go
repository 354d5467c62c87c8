package devserver

import (
	"testing"
	"time"

	"go.temporal.io/server/common/dynamicconfig"
)

func forced(c *devConfig) bool {
	v := c.GetValue(dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key())
	return len(v) == 1 && v[0].Value == true
}

func TestDevConfigSettles(t *testing.T) {
	c := newDevConfig()
	if !forced(c) {
		t.Fatal("search attributes not re-read while the namespace is being reconciled")
	}
	if v := c.GetValue(dynamicconfig.TransferProcessorMaxPollRPS.Key()); len(v) != 1 || v[0].Value != 1000 {
		t.Errorf("static setting %s = %v, want 1000", dynamicconfig.TransferProcessorMaxPollRPS.Key(), v)
	}

	c.settleAfter(false, time.Hour)
	if forced(c) {
		t.Error("still re-reading search attributes after a boot that added none")
	}

	c = newDevConfig()
	c.settleAfter(true, 20*time.Millisecond)
	if !forced(c) {
		t.Error("stopped re-reading at once after adding search attributes; a service may still hold the old list")
	}
	deadline := time.Now().Add(10 * time.Second)
	for forced(c) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if forced(c) {
		t.Error("still re-reading search attributes after the cache lifetime")
	}

	c = newDevConfig()
	c.settleAfter(true, 20*time.Millisecond)
	c.stop()
	time.Sleep(50 * time.Millisecond)
	if !forced(c) {
		t.Error("a stopped server's settle timer still fired")
	}
}

func TestSettleAfterFreshStart(t *testing.T) {
	s, err := Start(t.Context(), Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if forced(s.config) {
		t.Error("a fresh data dir (attributes created with the namespace) still re-reads them on every use")
	}
}
