package drillcloud

// lookupLocked is what the test accessors share: under c.mu, find the state item
// (nil when there is none) and return view of it, or ok false.
func lookupLocked[P comparable, T any](c *Cloud, find func() P, view func(P) T) (v T, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var none P
	if p := find(); p != none {
		return view(p), true
	}
	return v, false
}

// inlinePolicy returns the inline policy name of the principal find returns.
func (c *Cloud) inlinePolicy(find func() *principal, name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := find(); p != nil {
		d, ok := p.inline[name]
		return d, ok
	}
	return "", false
}
