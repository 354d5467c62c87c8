// Package drilltest starts a drill cloud for one test, on a loopback port, and
// closes it when the test ends.
package drilltest

import (
	"testing"

	"github.com/sever-ir/sever/drillcloud"
)

// Start starts a drill cloud seeded with seed; its address is the cloud's URL().
func Start(t testing.TB, seed drillcloud.Seed, opts ...drillcloud.Option) *drillcloud.Cloud {
	t.Helper()
	cloud, err := drillcloud.New(seed, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cloud.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cloud.Close() })
	return cloud
}
