package providers

import (
	"net/http"
	"strings"
	"sync"
)

// vendorActsAfterFirstRead makes the provider disable (or delete) key as soon as the
// observer's first read of it has been answered, so the observer can only see the
// vendor's action by polling again: no guess at how long its first read takes. reads
// returns how many reads of the key the observer made.
func (d *drill) vendorActsAfterFirstRead(provider, key string) (reads func() int) {
	var mu sync.Mutex
	n := 0
	d.acts.HTTP = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil || r.Method != http.MethodGet || !strings.Contains(r.URL.Path, key) {
			return resp, err
		}
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			if err := d.cloud.VendorDisableProviderKey(provider, key); err != nil {
				d.t.Errorf("the vendor disables %s: %v", key, err)
			}
		}
		return resp, err
	})}
	return func() int { mu.Lock(); defer mu.Unlock(); return n }
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
