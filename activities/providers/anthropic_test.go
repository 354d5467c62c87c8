package providers

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
)

func TestAnthropicDisableAndEnable(t *testing.T) {
	d := newDrill(t)
	a := d.attack(anKey)

	res := d.mustExec(anthropicInput(sever.ActionAnthropicDisableKey, sever.Values{"reason": "leaked"}))
	if res.Enforcement != sever.EnterpriseEnforced || !res.Verified || !res.Changed ||
		!strings.HasPrefix(res.Actor, "anthropic-admin-key:sha256:") {
		t.Fatalf("disable = %+v", res)
	}
	out := res.Output
	if out["status"] != "inactive" || out["previous_status"] != "active" || out["reason"] != "leaked" || out["key_id"] != anKey ||
		!strings.HasPrefix(out["key_hint"].(string), "sk-ant-api03-") {
		t.Fatalf("output = %v", out)
	}
	if got := d.keyStatus(anKey); got != "inactive" {
		t.Fatalf("key is %s in the drill cloud", got)
	}
	if n := d.cloud.Applied("anthropic:UpdateAPIKey"); n != 1 {
		t.Fatalf("UpdateAPIKey applied %d times", n)
	}
	// The key's holder is refused from now on.
	d.waitRefused(a, "disabled")

	v := d.mustExec(anthropicInput(sever.ActionAnthropicKeyStatus, sever.Values{"expect": "inactive"}))
	if !v.Verified || v.Output["status"] != "inactive" {
		t.Fatalf("key_status = %+v", v)
	}
	if v := d.mustExec(anthropicInput(sever.ActionAnthropicKeyStatus, sever.Values{"expect": "active"})); v.Verified {
		t.Fatalf("key_status expect active = %+v", v)
	}

	res = d.mustExec(anthropicInput(sever.ActionAnthropicEnableKey, sever.Values{"reason": "false positive"}))
	if !res.Verified || !res.Changed || res.Output["status"] != "active" {
		t.Fatalf("enable = %+v", res)
	}
	if got := d.keyStatus(anKey); got != "active" {
		t.Fatalf("key is %s after enable", got)
	}
	// Again: a no-op that is still read back.
	res = d.mustExec(anthropicInput(sever.ActionAnthropicEnableKey, nil))
	if !res.Verified || res.Changed || d.cloud.Applied("anthropic:UpdateAPIKey") != 2 {
		t.Fatalf("second enable = %+v", res)
	}
}

// The answer to the write is lost after the provider applied it. The retry reads
// first, finds the key inactive, sends nothing, and still records the change as this
// step's own.
func TestAnthropicDisableAfterDroppedResponse(t *testing.T) {
	d := newDrill(t)
	d.fault(drillcloud.Fault{Service: "anthropic", Operation: "UpdateAPIKey", Kind: drillcloud.FaultDropResponse, Count: 1})
	in := anthropicInput(sever.ActionAnthropicDisableKey, nil)
	_, err := d.exec(in)
	wantRetryable(t, err, in.Action, anKey)
	res := d.mustExec(in)
	if !res.Verified || !res.Changed || !strings.Contains(res.Summary, "earlier attempt") {
		t.Fatalf("retry = %+v", res)
	}
	if n := d.cloud.Applied("anthropic:UpdateAPIKey"); n != 1 {
		t.Fatalf("UpdateAPIKey applied %d times, want once", n)
	}
	if n := d.calls("anthropic", "UpdateAPIKey"); n != 1 {
		t.Fatalf("UpdateAPIKey sent %d times, want once", n)
	}
}

// A retry on another worker knows of the lost write from the heartbeat the first
// attempt recorded before it wrote.
func TestAnthropicRetryOnAnotherWorker(t *testing.T) {
	d := newDrill(t)
	in := anthropicInput(sever.ActionAnthropicDisableKey, nil)
	if err := d.cloud.VendorDisableProviderKey(drillcloud.ProviderAnthropic, anKey); err != nil {
		t.Fatal(err)
	}
	other := &Activities{Anthropic: d.acts.Anthropic, PollInterval: d.acts.PollInterval}
	env := d.newEnv(other)
	env.SetHeartbeatDetails(writeIntent{KeyID: anKey, Change: "inactive"})
	res, err := execIn(env, in)
	if err != nil || !res.Changed || !strings.Contains(res.Summary, "earlier attempt") {
		t.Fatalf("retry on another worker = %+v, %v", res, err)
	}
}

func TestAnthropicErrors(t *testing.T) {
	t.Run("429 is retried after Retry-After", func(t *testing.T) {
		d := newDrill(t)
		d.fault(drillcloud.Fault{Service: "anthropic", Operation: "GetAPIKey", Kind: drillcloud.FaultThrottle, Count: 1})
		_, err := d.exec(anthropicInput(sever.ActionAnthropicDisableKey, nil))
		wantRetryable(t, err, "anthropic.disable_api_key: anthropic get API key "+anKey+": HTTP 429 (rate_limit_error)")
		var app *temporal.ApplicationError
		if !errors.As(err, &app) || app.Type() != ErrThrottled || app.NextRetryDelay() != time.Second {
			t.Fatalf("throttle error = %#v", err)
		}
		if res := d.mustExec(anthropicInput(sever.ActionAnthropicDisableKey, nil)); !res.Verified {
			t.Fatalf("after the throttle = %+v", res)
		}
	})
	t.Run("5xx is retried", func(t *testing.T) {
		d := newDrill(t)
		d.fault(drillcloud.Fault{Service: "anthropic", Operation: "UpdateAPIKey", Kind: drillcloud.FaultServerError, Count: 1})
		_, err := d.exec(anthropicInput(sever.ActionAnthropicDisableKey, nil))
		wantRetryable(t, err, "HTTP 500 (api_error)")
		if got := d.keyStatus(anKey); got != "active" {
			t.Fatalf("key is %s after a 500", got)
		}
	})
	t.Run("401 is permanent", func(t *testing.T) {
		d := newDrill(t, withActs(func(a *Activities) { a.Anthropic.AdminKey = StaticKey("sk-ant-admin01-wrongwrongwrongwrong") }))
		_, err := d.exec(anthropicInput(sever.ActionAnthropicDisableKey, nil))
		wantPermanent(t, err, "AccessDenied", "anthropic.disable_api_key", anKey, "HTTP 401 (authentication_error)")
		if strings.Contains(err.Error(), "wrongwrong") {
			t.Fatalf("error repeats the admin key: %v", err)
		}
	})
	t.Run("an API key is not an admin key", func(t *testing.T) {
		d := newDrill(t)
		v, _ := d.cloud.ProviderKeyValue(anKey)
		d.acts.Anthropic.AdminKey = StaticKey(v)
		_, err := d.exec(anthropicInput(sever.ActionAnthropicKeyStatus, nil))
		wantPermanent(t, err, "AccessDenied", "HTTP 403 (permission_error)")
		d.noKeyMaterial(sever.ActionResult{}, err)
	})
	t.Run("unknown key is NotFound", func(t *testing.T) {
		d := newDrill(t)
		in := withCred(anthropicInput(sever.ActionAnthropicDisableKey, nil), func(c *sever.Credential) { c.ID = "apikey_01NoSuchKey" })
		_, err := d.exec(in)
		wantPermanent(t, err, "NotFound", "apikey_01NoSuchKey", "HTTP 404")
	})
	t.Run("archived keys stay archived", func(t *testing.T) {
		d := newDrill(t, withSeed(func(s *drillcloud.Seed) { s.Providers.Anthropic.Organizations[0].Keys[0].Status = "archived" }))
		_, err := d.exec(anthropicInput(sever.ActionAnthropicEnableKey, nil))
		wantPermanent(t, err, "Forbidden", "archived")
		// Disabling an archived key is already done.
		if res := d.mustExec(anthropicInput(sever.ActionAnthropicDisableKey, nil)); !res.Verified || res.Changed {
			t.Fatalf("disable archived = %+v", res)
		}
	})
	t.Run("not configured", func(t *testing.T) {
		d := newDrill(t, withActs(func(a *Activities) { a.Anthropic = nil }))
		_, err := d.exec(anthropicInput(sever.ActionAnthropicDisableKey, nil))
		wantPermanent(t, err, "AccessDenied", "providers.anthropic.admin_key")
	})
}

func TestAnthropicBadInput(t *testing.T) {
	d := newDrill(t)
	const value = "sk-ant-api03-ThisIsWhatAScannerFoundNotAnId"
	for _, tc := range []struct {
		name    string
		in      sever.ActionInput
		errType string
		want    string
	}{
		{"key value as id", withCred(anthropicInput(sever.ActionAnthropicDisableKey, nil), func(c *sever.Credential) { c.ID = value }),
			"InvalidArgument", "a key value, not a key id"},
		{"not a key id", withCred(anthropicInput(sever.ActionAnthropicDisableKey, nil), func(c *sever.Credential) { c.ID = "../../v1/x" }),
			"InvalidArgument", "not a key id of the form apikey_"},
		{"OpenAI credential", withCred(anthropicInput(sever.ActionAnthropicDisableKey, nil), func(c *sever.Credential) { c.Type = sever.CredOpenAIAPIKey }),
			"Unsupported", "openai_api_key is not supported"},
		{"unknown argument", anthropicInput(sever.ActionAnthropicDisableKey, sever.Values{"status": "inactive"}), "InvalidArgument", "unknown field"},
		{"bad expect", anthropicInput(sever.ActionAnthropicKeyStatus, sever.Values{"expect": "gone"}), "InvalidArgument", `expect "gone"`},
		{"bad wait", anthropicInput(sever.ActionAnthropicObserveKey, sever.Values{"wait": "forever"}), "InvalidArgument", `wait "forever"`},
		{"observe with a key value", withCred(anthropicInput(sever.ActionAnthropicObserveKey, nil), func(c *sever.Credential) { c.ID = value }),
			"InvalidArgument", "a key value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.exec(tc.in)
			wantPermanent(t, err, tc.errType, tc.want)
			if strings.Contains(err.Error(), "ThisIsWhatAScannerFound") {
				t.Fatalf("error repeats the key value: %v", err)
			}
		})
	}
	if n := len(d.cloud.Calls()); n != 0 {
		t.Fatalf("bad input reached the provider %d times", n)
	}
}

// Anthropic disabled the key before sever acted and said so: the observe step records
// it as the provider's action, and the enterprise's disable is an idempotent no-op that its own
// read-back still verifies.
func TestAnthropicProviderDisabledFirst(t *testing.T) {
	d := newDrill(t)
	if err := d.cloud.VendorDisableProviderKey(drillcloud.ProviderAnthropic, anKey); err != nil {
		t.Fatal(err)
	}
	obs := d.mustExec(withNotice(anthropicInput(sever.ActionAnthropicObserveKey, nil)))
	if obs.Enforcement != sever.VendorEnforced || !obs.Verified || obs.Actor != VendorAnthropic || obs.Output["status"] != "inactive" {
		t.Fatalf("observe = %+v", obs)
	}
	res := d.mustExec(anthropicInput(sever.ActionAnthropicDisableKey, nil))
	if res.Enforcement != sever.EnterpriseEnforced || !res.Verified || res.Changed || res.Output["already_in_place"] != true ||
		!strings.Contains(res.Summary, "already inactive before sever acted") {
		t.Fatalf("disable = %+v", res)
	}
	if n := d.calls("anthropic", "UpdateAPIKey"); n != 1 { // the provider's own
		t.Fatalf("%d UpdateAPIKey events, want only the provider's", n)
	}
}

func TestAnthropicObserve(t *testing.T) {
	t.Run("active key: nothing observed", func(t *testing.T) {
		d := newDrill(t)
		res := d.mustExec(anthropicInput(sever.ActionAnthropicObserveKey, nil))
		if res.Enforcement != "" || res.Verified || res.Output["status"] != "active" || res.Output["observed"] != true {
			t.Fatalf("observe = %+v", res)
		}
	})
	t.Run("polls until the provider acts", func(t *testing.T) {
		d := newDrill(t)
		reads := d.vendorActsAfterFirstRead(drillcloud.ProviderAnthropic, anKey)
		res := d.mustExec(withNotice(anthropicInput(sever.ActionAnthropicObserveKey, sever.Values{"wait": "10s", "interval": "100ms"})))
		if res.Enforcement != sever.VendorEnforced || !res.Verified || reads() < 2 {
			t.Fatalf("observe with wait = %+v after %d reads; want vendor_enforced seen by a later read", res, reads())
		}
	})
	t.Run("sever's own change is not the provider's", func(t *testing.T) {
		d := newDrill(t)
		d.mustExec(anthropicInput(sever.ActionAnthropicDisableKey, nil))
		res := d.mustExec(anthropicInput(sever.ActionAnthropicObserveKey, nil))
		if res.Enforcement != "" || res.Verified || res.Output["disabled_by"] != "sever" {
			t.Fatalf("observe after sever's disable = %+v", res)
		}
	})
	t.Run("unreadable provider: reported, not failed", func(t *testing.T) {
		d := newDrill(t, withActs(func(a *Activities) { a.Anthropic.AdminKey = StaticKey("sk-ant-admin01-wrongwrongwrongwrong") }))
		res := d.mustExec(anthropicInput(sever.ActionAnthropicObserveKey, nil))
		if res.Enforcement != "" || res.Verified || res.Output["observed"] != false || !strings.Contains(res.Summary, "HTTP 401") {
			t.Fatalf("observe with a bad admin key = %+v", res)
		}
	})
	t.Run("transient errors are read through", func(t *testing.T) {
		d := newDrill(t)
		d.fault(drillcloud.Fault{Service: "anthropic", Operation: "GetAPIKey", Kind: drillcloud.FaultServerError, Count: 2})
		res := d.mustExec(anthropicInput(sever.ActionAnthropicObserveKey, nil))
		if res.Output["observed"] != true || d.calls("anthropic", "GetAPIKey") != 3 {
			t.Fatalf("observe through two 500s = %+v", res)
		}
	})
	t.Run("not configured", func(t *testing.T) {
		d := newDrill(t, withActs(func(a *Activities) { a.Anthropic = nil }))
		res := d.mustExec(anthropicInput(sever.ActionAnthropicObserveKey, nil))
		if res.Output["observed"] != false || !strings.Contains(res.Summary, "providers.anthropic.admin_key") {
			t.Fatalf("observe without an admin key = %+v", res)
		}
	})
}

// After a false positive is undone, a later disable by the provider is the provider's.
func TestAnthropicObserveAfterReenable(t *testing.T) {
	d := newDrill(t)
	d.mustExec(anthropicInput(sever.ActionAnthropicDisableKey, nil))
	d.mustExec(anthropicInput(sever.ActionAnthropicEnableKey, nil))
	if err := d.cloud.VendorDisableProviderKey(drillcloud.ProviderAnthropic, anKey); err != nil {
		t.Fatal(err)
	}
	if res := d.mustExec(withNotice(anthropicInput(sever.ActionAnthropicObserveKey, nil))); res.Enforcement != sever.VendorEnforced {
		t.Fatalf("observe = %+v", res)
	}
}
