package drillcloud

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
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
	// Service is an AWS signing name (iam, sts, s3, …), anthropic, openai, or a
	// family twin: gcp, azure, vault or github (see FaultServices).
	Service string `yaml:"service"`
	// Operation is the API operation, e.g. UpdateAccessKey, or a family twin's
	// operation name (see FaultOperations), e.g. keys.disable.
	Operation string `yaml:"operation"`
	// KeyID is the caller: its access key id or provider key id; for the family
	// twins the service-account key id or resource name or e-mail (gcp), the
	// application (client) id or Azure OpenAI account id (azure), the token
	// accessor (vault) or the App id (github), or FaultCallerResponder for
	// sever's own identity with that twin.
	KeyID string    `yaml:"key_id"`
	Kind  FaultKind `yaml:"kind"`
	// Count limits the fault to the next Count calls it fires on; zero means
	// it fires until ClearFaults.
	Count int `yaml:"count"`
	// Probability that a matching call is hit, drawn from the cloud's seeded
	// RNG; zero means always.
	Probability float64       `yaml:"probability"`
	Latency     time.Duration `yaml:"latency"`
}

// FaultCallerResponder as a Fault.KeyID of a family twin (gcp, azure, vault,
// github) matches sever's own identity there, whichever key it holds: the
// responder service account, the privileged application, a token with the
// sever-responder policy, the GitHub App.
const FaultCallerResponder = "sever"

// Family twin services, as Fault.Service names them.
const (
	GCPService    = "gcp"
	AzureService  = "azure"
	GitHubService = "github"
)

// familyFaultOps are the operations of the family twins that faults can name.
var familyFaultOps = map[string][]string{
	GCPService: {GCPOpToken, GCPOpGetKey, GCPOpDisableKey, GCPOpEnableKey, GCPOpGetAccount, GCPOpListEntries,
		GCPOpLookupAPIKey, GCPOpGetAPIKey, GCPOpDeleteAPIKey, GCPOpUndeleteAPIKey, GCPOpGemini},
	AzureService: {AzureOpToken, AzureOpGetApplication, AzureOpRemovePassword, AzureOpSignIns, AzureOpGetAccount,
		AzureOpPatchAccount, AzureOpListKeys, AzureOpRegenerateKey, AzureOpActivityLog, AzureOpChat},
	VaultService: {VaultOpLookupAccessor, VaultOpRevokeAccessor, VaultOpLookupSelf, VaultOpReadSecret, VaultOpCreds,
		VaultOpRevokePrefix, VaultOpListLeases, VaultOpListAudit, VaultOpAuditHash},
	GitHubService: {GitHubOpAccessToken, GitHubOpGetAlert, GitHubOpPatchAlert, GitHubOpRevoke, GitHubOpUser},
}

// FaultServices lists, sorted, every Fault.Service the drill cloud serves.
func FaultServices() []string {
	out := slices.Collect(maps.Keys(services))
	out = append(out, slices.Collect(maps.Keys(providerServices))...)
	out = append(out, slices.Collect(maps.Keys(familyFaultOps))...)
	slices.Sort(out)
	return slices.Compact(out)
}

// FaultOperations lists the operations a fault on family twin service may name,
// or nil for the AWS services and model providers, whose operations are their
// API's own action names.
func FaultOperations(service string) []string {
	return slices.Clone(familyFaultOps[strings.ToLower(service)])
}

func (f Fault) validate() error {
	if !seedFaultKind[f.Kind] && f.Kind != FaultAccessDenied {
		return fmt.Errorf("fault kind %q: want throttle, server_error, latency, drop_response or access_denied", f.Kind)
	}
	svc := strings.ToLower(f.Service)
	if svc != "" && services[svc] == nil && !providerServices[svc] && familyFaultOps[svc] == nil {
		return fmt.Errorf("fault service %q is not served by the drill cloud (one of %s)", f.Service, strings.Join(FaultServices(), ", "))
	}
	if ops := familyFaultOps[svc]; ops != nil && f.Operation != "" && !slices.Contains(ops, f.Operation) {
		return fmt.Errorf("fault operation %q is not an operation of the %s twin (one of %s)", f.Operation, svc, strings.Join(ops, ", "))
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
	fired     int // calls it disturbed
}

// InjectFault adds a fault. Faults are checked in the order they were added.
func (c *Cloud) InjectFault(f Fault) error {
	_, err := c.InjectFaultCounted(f)
	return err
}

// InjectFaultCounted adds a fault as InjectFault does and returns a function
// that reports how many calls the fault has disturbed so far, after it is spent
// or cleared too: a drill reports whether its faults fired.
func (c *Cloud) InjectFaultCounted(f Fault) (fired func() int, err error) {
	if err := f.validate(); err != nil {
		return nil, fmt.Errorf("inject fault: %w", err)
	}
	f.Service = strings.ToLower(f.Service)
	af := &activeFault{Fault: f, remaining: f.Count}
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	c.faults = append(c.faults, af)
	return func() int {
		c.faultMu.Lock()
		defer c.faultMu.Unlock()
		return af.fired
	}, nil
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

// ClearFaults removes every fault, the family twins' own fault queues
// (InjectGCPFault, FailNext) included.
func (c *Cloud) ClearFaults() {
	c.faultMu.Lock()
	c.faults = nil
	c.faultMu.Unlock()
	if g := c.GCP(); g != nil {
		g.clearFaults()
	}
	if az := c.Azure(); az != nil {
		az.clearFaults()
	}
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
// fault that fires for this call. keyIDs are the names of the caller a fault's
// KeyID may use (a key id, its resource name, its account).
func (c *Cloud) pickFaults(service, op string, keyIDs ...string) (time.Duration, FaultKind) {
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	var delay time.Duration
	var kind FaultKind
	kept := c.faults[:0]
	for _, f := range c.faults {
		fires := (kind == "" || f.Kind == FaultLatency) &&
			(f.Service == "" || f.Service == service) &&
			(f.Operation == "" || f.Operation == op) &&
			(f.KeyID == "" || slices.Contains(keyIDs, f.KeyID)) &&
			(f.Probability == 0 || c.rng.Float64() < f.Probability)
		if fires {
			if f.Kind == FaultLatency {
				delay += f.Latency
			} else {
				kind = f.Kind
			}
			f.fired++
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

// wait sleeps for d or until ctx ends: an injected latency.
func wait(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// twinFault applies the cloud's faults to a call of a family twin: it waits out
// the latency faults that fire and returns the first other fault that fires, ""
// for none. c is nil for a twin served on its own, which has no faults.
func (c *Cloud) twinFault(r *http.Request, service, op string, keyIDs ...string) FaultKind {
	if c == nil {
		return ""
	}
	delay, kind := c.pickFaults(service, op, keyIDs...)
	wait(r.Context(), delay)
	if kind == "" && delay > 0 {
		return FaultLatency
	}
	return kind
}

// droppedResponse stands in for the ResponseWriter of a call a drop_response
// fault answers: the twin applies the call and writes its answer here, and
// closeDropped then closes the connection without it.
type droppedResponse struct {
	w http.ResponseWriter
	h http.Header
}

func (d *droppedResponse) Header() http.Header {
	if d.h == nil {
		d.h = http.Header{}
	}
	return d.h
}
func (d *droppedResponse) Write(b []byte) (int, error) { return len(b), nil }
func (d *droppedResponse) WriteHeader(int)             {}

// answerWriter is the writer a call that kind let through answers into: w, or
// for a drop_response fault a droppedResponse. Finish the call with closeDropped.
func answerWriter(w http.ResponseWriter, kind FaultKind) http.ResponseWriter {
	if kind == FaultDropResponse {
		return &droppedResponse{w: w}
	}
	return w
}

// closeDropped closes the connection of a call answerWriter diverted; other
// writers are left alone.
func closeDropped(w http.ResponseWriter) {
	if d, ok := w.(*droppedResponse); ok {
		dropConnection(d.w)
	}
}
