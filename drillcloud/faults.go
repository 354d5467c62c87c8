package drillcloud

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// FaultKind is how an injected fault disturbs a call.
type FaultKind string

const (
	// FaultThrottle answers with the protocol's own throttling error
	// (Throttling, ThrottlingException, SlowDown, RequestLimitExceeded).
	FaultThrottle FaultKind = "throttle"
	// FaultServerError answers with the service's 5xx error.
	FaultServerError FaultKind = "server_error"
	// FaultLatency delays the call by Fault.Latency, then serves it.
	FaultLatency FaultKind = "latency"
	// FaultDropResponse applies the call and then closes the connection
	// without answering: the "succeeded but timed out" case.
	FaultDropResponse FaultKind = "drop_response"
	// FaultAccessDenied answers with the protocol's AccessDenied error, as if the
	// caller's role lacked the permission. DenyPermission arms it until
	// GrantPermission: the "sever's role lacks iam:UpdateAccessKey" case.
	FaultAccessDenied FaultKind = "access_denied"
)

// Fault disturbs matching calls. Empty Service, Operation and KeyID match
// anything. Faults apply to authenticated calls only, before policy checks.
type Fault struct {
	Service   string    `yaml:"service"`   // signing name (iam, sts, s3, …), anthropic or openai
	Operation string    `yaml:"operation"` // API operation, e.g. UpdateAccessKey
	KeyID     string    `yaml:"key_id"`    // access key id (or provider key id) of the caller
	Kind      FaultKind `yaml:"kind"`
	// Count limits the fault to the next Count calls it fires on; zero means
	// it fires until ClearFaults.
	Count int `yaml:"count"`
	// Probability that a matching call is hit, drawn from the cloud's seeded
	// RNG; zero means always.
	Probability float64       `yaml:"probability"`
	Latency     time.Duration `yaml:"latency"`
}

func (f Fault) validate() error {
	if !seedFaultKind[f.Kind] && f.Kind != FaultAccessDenied {
		return fmt.Errorf("fault kind %q: want throttle, server_error, latency, drop_response or access_denied", f.Kind)
	}
	if svc := strings.ToLower(f.Service); svc != "" && services[svc] == nil && !providerServices[svc] {
		return fmt.Errorf("fault service %q is not served by the drill cloud", f.Service)
	}
	if f.Count < 0 {
		return fmt.Errorf("fault count %d must not be negative", f.Count)
	}
	if f.Probability < 0 || f.Probability > 1 {
		return fmt.Errorf("fault probability %v must be within 0..1", f.Probability)
	}
	if f.Kind == FaultLatency && f.Latency <= 0 {
		return errors.New("latency fault needs a positive latency")
	}
	if f.Latency < 0 || f.Latency > 10*time.Minute {
		return fmt.Errorf("fault latency %v must be within 0..10m", f.Latency)
	}
	return nil
}

type activeFault struct {
	Fault
	remaining int // meaningful only when Count > 0
}

// InjectFault adds a fault. Faults are checked in the order they were added.
func (c *Cloud) InjectFault(f Fault) error {
	if err := f.validate(); err != nil {
		return fmt.Errorf("inject fault: %w", err)
	}
	f.Service = strings.ToLower(f.Service)
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	c.faults = append(c.faults, &activeFault{Fault: f, remaining: f.Count})
	return nil
}

// DenyPermission refuses operation of service (signing name, or anthropic or openai)
// with AccessDenied to callers with keyID ("" for any caller) until GrantPermission
// gives it back: a drill of a containment step that fails because sever's role lacks
// a permission, and succeeds on retry once the permission is granted.
func (c *Cloud) DenyPermission(service, operation, keyID string) error {
	if operation == "" {
		return errors.New("deny permission: an operation is required")
	}
	return c.InjectFault(Fault{Service: service, Operation: operation, KeyID: keyID, Kind: FaultAccessDenied})
}

// GrantPermission lifts the denials DenyPermission armed for exactly these
// arguments and reports how many it lifted.
func (c *Cloud) GrantPermission(service, operation, keyID string) int {
	service = strings.ToLower(service)
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	kept, n := c.faults[:0], 0
	for _, f := range c.faults {
		if f.Kind == FaultAccessDenied && f.Service == service && f.Operation == operation && f.KeyID == keyID {
			n++
			continue
		}
		kept = append(kept, f)
	}
	clear(c.faults[len(kept):])
	c.faults = kept
	return n
}

// accessDeniedMessage is the AccessDenied text for a denied permission, worded as
// AWS words a missing identity-policy allow.
func accessDeniedMessage(id *identity, service, op string) string {
	principal := "the caller"
	if id != nil {
		principal = id.arn()
	}
	return fmt.Sprintf("User: %s is not authorized to perform: %s:%s because no identity-based policy allows the %s:%s action",
		principal, service, op, service, op)
}

// ClearFaults removes every fault.
func (c *Cloud) ClearFaults() {
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	c.faults = nil
}

// PendingFaults returns the faults still armed, with Count reduced to what
// is left.
func (c *Cloud) PendingFaults() []Fault {
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	out := make([]Fault, 0, len(c.faults))
	for _, f := range c.faults {
		g := f.Fault
		if g.Count > 0 {
			g.Count = f.remaining
		}
		out = append(out, g)
	}
	return out
}

// pickFaults returns the total latency to add and the first non-latency
// fault that fires for this call.
func (c *Cloud) pickFaults(service, op, keyID string) (time.Duration, FaultKind) {
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	var delay time.Duration
	var kind FaultKind
	kept := c.faults[:0]
	for _, f := range c.faults {
		fires := (kind == "" || f.Kind == FaultLatency) &&
			(f.Service == "" || f.Service == service) &&
			(f.Operation == "" || f.Operation == op) &&
			(f.KeyID == "" || f.KeyID == keyID) &&
			(f.Probability == 0 || c.rng.Float64() < f.Probability)
		if fires {
			if f.Kind == FaultLatency {
				delay += f.Latency
			} else {
				kind = f.Kind
			}
			if f.Count > 0 {
				f.remaining--
			}
		}
		if f.Count == 0 || f.remaining > 0 {
			kept = append(kept, f)
		}
	}
	c.faults = kept
	return delay, kind
}
