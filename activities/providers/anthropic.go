package providers

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
)

// Anthropic API key states.
const (
	statusActive   = "active"
	statusInactive = "inactive"
	statusArchived = "archived"
)

// anthropicKeyForm is how an Anthropic key id looks, for messages.
const anthropicKeyForm = "apikey_…"

// ObserveArgs are the arguments of anthropic.observe_key_status. Without wait the
// action reads once; with it, it polls every interval (default 1 s) until the key
// shows disabled or the wait is over.
type ObserveArgs struct {
	Wait     string `json:"wait"`
	Interval string `json:"interval"`
}

// KeyChangeArgs are the arguments of anthropic.disable_api_key and enable_api_key.
// The Admin API takes no reason; it is recorded with the step.
type KeyChangeArgs struct {
	Reason string `json:"reason"`
}

// KeyStatusArgs are the arguments of anthropic.key_status: expect is inactive
// (default; an archived key counts), active or archived.
type KeyStatusArgs struct {
	Expect string `json:"expect"`
}

// anthropicKey is the part of the Admin API's key object sever reads. The object
// never carries the key; partial_key_hint is the console's redacted form.
type anthropicKey struct {
	ID             string  `json:"id"`
	Name           string  `json:"name"`
	Status         string  `json:"status"`
	WorkspaceID    *string `json:"workspace_id"`
	PartialKeyHint string  `json:"partial_key_hint"`
	CreatedAt      string  `json:"created_at"`
}

func (k anthropicKey) String() string {
	if k.Name == "" {
		return "Anthropic key " + k.ID
	}
	return fmt.Sprintf("Anthropic key %s (%s)", k.ID, k.Name)
}

func (k anthropicKey) output() sever.Values {
	out := sever.Values{"key_id": k.ID, "name": k.Name, "status": k.Status, "key_hint": k.PartialKeyHint}
	if k.WorkspaceID != nil {
		out["workspace_id"] = *k.WorkspaceID
	}
	return out
}

// disabled reports whether the key no longer authenticates: inactive, or archived
// (which is final).
func disabled(status string) bool { return status == statusInactive || status == statusArchived }

func keyPath(id string) string { return "/v1/organizations/api_keys/" + url.PathEscape(id) }

func (x *api) getAnthropicKey(ctx context.Context, id string) (anthropicKey, error) {
	r, err := x.call(ctx, "get API key", id, "GET", keyPath(id), nil)
	if err != nil {
		return anthropicKey{}, err
	}
	if r.status != 200 {
		return anthropicKey{}, x.classify(r, "get API key", id)
	}
	var k anthropicKey
	return k, x.decode(r, "get API key", id, &k)
}

func (x *api) setAnthropicStatus(ctx context.Context, id, status string) (anthropicKey, error) {
	op := "update API key status=" + status
	r, err := x.call(ctx, op, id, "POST", keyPath(id), map[string]string{"status": status})
	if err != nil {
		return anthropicKey{}, err
	}
	if r.status != 200 {
		return anthropicKey{}, x.classify(r, op, id)
	}
	var k anthropicKey
	return k, x.decode(r, op, id, &k)
}

// AnthropicDisableAPIKey sets the key inactive: reversible, and the containment of
// record. An inactive or archived key is left alone and still read back, so the step
// is verified by the enterprise's own admin credentials either way.
func (a *Activities) AnthropicDisableAPIKey(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	return a.anthropicSetStatus(ctx, in, statusInactive)
}

// AnthropicEnableAPIKey sets the key active again; the compensation of
// AnthropicDisableAPIKey after a false positive. Archived keys cannot come back.
func (a *Activities) AnthropicEnableAPIKey(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	return a.anthropicSetStatus(ctx, in, statusActive)
}

func (a *Activities) anthropicSetStatus(ctx context.Context, in sever.ActionInput, want string) (sever.ActionResult, error) {
	var args KeyChangeArgs
	if err := activities.DecodeArgs(in.Action, in.Args, &args); err != nil {
		return sever.ActionResult{}, err
	}
	if err := checkCredential(in, sever.CredAnthropicAPIKey, anthropicKeyIDRE, anthropicKeyForm); err != nil {
		return sever.ActionResult{}, err
	}
	x, err := a.anthropicAPI(ctx, in.Action)
	if err != nil {
		return sever.ActionResult{}, err
	}
	id := in.Credential.ID
	done := func(s string) bool { return s == want || want == statusInactive && disabled(s) }
	before, err := x.getAnthropicKey(ctx, id)
	if err != nil {
		return sever.ActionResult{}, err
	}
	if want == statusActive && before.Status == statusArchived {
		return sever.ActionResult{}, activities.Permanent(activities.ErrForbidden,
			fmt.Sprintf("%s: %s is archived; Anthropic does not reactivate archived keys", in.Action, before), nil)
	}
	changed := !done(before.Status)
	// An earlier attempt may have sent the change and lost the answer: then the
	// change is this step's, not something found in place.
	earlier := !changed && a.wroteEarlier(ctx, in, "", want)
	if changed {
		a.markWriting(ctx, in, "", want)
		_, err := x.setAnthropicStatus(ctx, id, want)
		if err == nil || !transient(err) {
			a.settled(in)
		}
		if err != nil {
			return sever.ActionResult{}, err
		}
	}
	if earlier {
		a.settled(in)
	}
	after := before
	verified, err := a.readBack(ctx, func() (bool, error) {
		var err error
		after, err = x.getAnthropicKey(ctx, id)
		return done(after.Status), err
	})
	if err != nil {
		return sever.ActionResult{}, err
	}
	switch {
	case want == statusInactive && verified && (changed || earlier):
		a.markOurs(id)
	case want == statusActive && verified:
		// Re-enabled: if it is disabled again later, that was not sever.
		a.forgetOurs(id)
	}
	out := withReason(after.output(), args.Reason)
	out["previous_status"] = before.Status
	var summary string
	switch {
	case changed:
		summary = fmt.Sprintf("set %s %s with the enterprise's admin key", after, want)
	case earlier:
		summary = fmt.Sprintf("%s is %s: an earlier attempt of this step set it and its answer was lost", after, after.Status)
		out["previous_status"] = "unknown (changed by an earlier attempt)"
	case want == statusInactive:
		// Nothing was sent, and the Admin API does not say who disabled the key. The
		// step still stands as the enterprise's own control: its admin read-back, not
		// the provider's word, shows the key cannot be used.
		summary = fmt.Sprintf("%s was already %s before sever acted, so no change was sent; the enterprise's admin read-back confirms it. "+
			"Anthropic does not say who disabled it (see the observe step)", after, before.Status)
		if t, ok := a.ourChange(id); ok {
			summary = fmt.Sprintf("%s was already %s: sever disabled it at %s; the admin read-back confirms it", after, before.Status, t.Format(time.RFC3339))
		}
		out["already_in_place"] = true
	default:
		summary = fmt.Sprintf("%s was already %s; no change sent", after, after.Status)
		out["already_in_place"] = true
	}
	if !verified {
		summary += fmt.Sprintf("; read-back shows %q", after.Status)
	}
	return sever.ActionResult{Enforcement: sever.EnterpriseEnforced, Verified: verified, Actor: x.actor(),
		Changed: changed || earlier, Summary: summary, Output: out}, nil
}

// AnthropicKeyStatus reads the key's status; verified when it is what expect says.
func (a *Activities) AnthropicKeyStatus(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args KeyStatusArgs
	if err := activities.DecodeArgs(in.Action, in.Args, &args); err != nil {
		return sever.ActionResult{}, err
	}
	if args.Expect == "" {
		args.Expect = statusInactive
	}
	if !slices.Contains([]string{statusActive, statusInactive, statusArchived}, args.Expect) {
		return sever.ActionResult{}, activities.Permanent(activities.ErrInvalidArgument,
			fmt.Sprintf("%s: expect %q: want inactive, active or archived", in.Action, args.Expect), nil)
	}
	if err := checkCredential(in, sever.CredAnthropicAPIKey, anthropicKeyIDRE, anthropicKeyForm); err != nil {
		return sever.ActionResult{}, err
	}
	x, err := a.anthropicAPI(ctx, in.Action)
	if err != nil {
		return sever.ActionResult{}, err
	}
	k, err := x.getAnthropicKey(ctx, in.Credential.ID)
	if err != nil {
		return sever.ActionResult{}, err
	}
	ok := k.Status == args.Expect || args.Expect == statusInactive && disabled(k.Status)
	return sever.ActionResult{Verified: ok, Actor: x.actor(), Output: k.output(),
		Summary: fmt.Sprintf("%s is %s (expected %s)", k, k.Status, args.Expect)}, nil
}

// AnthropicObserveKeyStatus looks at the key without touching it. A disabled key is
// recorded as vendor_enforced, with Anthropic as the actor, only when a notice from
// Anthropic in the incident says it acted: the Admin API does not say who disabled a
// key, and this worker's memory of sever's own disables (Activities.ours) misses
// those of other workers and earlier processes, so without that notice the step
// records the state with no enforcement class rather than credit the provider with
// what may be sever's change from an earlier incident.
//
// It never fails because the provider could not be read: the step is evidence, and
// the built-in runbook orders the enterprise's own disable after it, so a failure
// here must not hold containment up. What could not be read is in the summary and
// in output.error; only arguments that the disable would refuse too fail the step.
func (a *Activities) AnthropicObserveKeyStatus(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args ObserveArgs
	if err := activities.DecodeArgs(in.Action, in.Args, &args); err != nil {
		return sever.ActionResult{}, err
	}
	wait, interval, err := parseWait(in.Action, args.Wait, args.Interval)
	if err != nil {
		return sever.ActionResult{}, err
	}
	if err := checkCredential(in, sever.CredAnthropicAPIKey, anthropicKeyIDRE, anthropicKeyForm); err != nil {
		return sever.ActionResult{}, err
	}
	x, err := a.anthropicAPI(ctx, in.Action)
	if err != nil {
		return unobserved(in, err), nil
	}
	id := in.Credential.ID
	var k anthropicKey
	err = a.poll(ctx, wait, interval, func() (bool, error) {
		var err error
		k, err = x.getAnthropicKey(ctx, id)
		return err == nil && disabled(k.Status), err
	})
	if err != nil {
		return unobserved(in, err), nil
	}
	out := k.output()
	out["observed"] = true
	if !disabled(k.Status) {
		return sever.ActionResult{Actor: x.actor(), Output: out, Summary: fmt.Sprintf(
			"%s is %s: Anthropic has not disabled it%s", k, k.Status, waited(wait))}, nil
	}
	if t, ok := a.ourChange(id); ok {
		out["disabled_by"] = "sever"
		return sever.ActionResult{Actor: x.actor(), Output: out, Summary: fmt.Sprintf(
			"%s is %s, but sever disabled it at %s: not the provider's action", k, k.Status, t.Format(time.RFC3339))}, nil
	}
	if !providerSaysItActed(in, providerAnthropic) {
		// No enforcement class: nothing here shows who made the change, and
		// vendor_enforced would credit Anthropic with what may be sever's own.
		out["disabled_by"] = "unknown"
		return sever.ActionResult{Actor: x.actor(), Output: out, Summary: fmt.Sprintf(
			"%s was already %s when this step looked (changed before this step)%s", k, k.Status, unattributed)}, nil
	}
	out["disabled_by"] = "anthropic"
	return sever.ActionResult{Enforcement: sever.VendorEnforced, Verified: true, Actor: VendorAnthropic, Output: out,
		Summary: fmt.Sprintf("%s was already %s when sever looked, before it acted, and a notice from Anthropic says it acted: "+
			"observed as the provider's action, left as it is", k, k.Status)}, nil
}

// poll calls read until it reports true or the wait is over; with no wait it reads once,
// retrying a transient failure a few times. Transient failures while waiting are
// tolerated until the wait is over.
func (a *Activities) poll(ctx context.Context, wait, interval time.Duration, read func() (bool, error)) error {
	if interval <= 0 {
		interval = a.pollInterval(time.Second)
	}
	deadline := time.Now().Add(observeWindow(ctx, wait))
	for try := 0; ; try++ {
		ok, err := read()
		if ok || err != nil && !transient(err) {
			return err
		}
		now := time.Now()
		if wait == 0 && (err == nil || try == 2) || wait > 0 && !now.Before(deadline) {
			return err
		}
		pause := interval
		if wait == 0 {
			pause = time.Duration(try+1) * a.pollInterval(250*time.Millisecond)
		} else if left := deadline.Sub(now); left < pause {
			pause = left
		}
		heartbeat(ctx)
		if err := sleep(ctx, pause); err != nil {
			return err
		}
	}
}

// unobserved is an observe step's result when the provider could not be read.
func unobserved(in sever.ActionInput, err error) sever.ActionResult {
	return sever.ActionResult{Output: sever.Values{"observed": false, "error": err.Error()},
		Summary: "could not read the key's state, so nothing is recorded as the provider's action: " + err.Error()}
}

func waited(wait time.Duration) string {
	if wait <= 0 {
		return ""
	}
	return fmt.Sprintf(" (polled for %s)", wait)
}
