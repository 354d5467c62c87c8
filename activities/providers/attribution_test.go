package providers

import (
	"testing"

	"github.com/sever-ir/sever"
)

// Worker A (d.acts) disables the key; the observe step then runs on worker B, a
// fresh Activities over the same admin key (another worker of the pool, or this one
// after a restart). sever's own disable must not be credited to Anthropic.
func TestAnthropicObserveOnOtherWorkerDoesNotCreditVendorForSeversDisable(t *testing.T) {
	d := newDrill(t)
	if res := d.mustExec(anthropicInput(sever.ActionAnthropicDisableKey, nil)); !res.Changed || !res.Verified {
		t.Fatalf("disable = %+v", res)
	}
	other := &Activities{Anthropic: d.acts.Anthropic, PollInterval: d.acts.PollInterval}
	res, err := execIn(d.newEnv(other), anthropicInput(sever.ActionAnthropicObserveKey, nil))
	if err != nil {
		t.Fatal(err)
	}
	if res.Enforcement == sever.VendorEnforced || res.Actor == VendorAnthropic {
		t.Fatalf("observe on another worker credits the provider with sever's own disable: enforcement=%s actor=%s summary=%q",
			res.Enforcement, res.Actor, res.Summary)
	}
}

// The same for OpenAI: sever revoked the key on worker A; worker B's observe
// step, with the inventory listing the key, records OpenAI as having revoked it.
func TestOpenAIObserveOnOtherWorkerDoesNotCreditVendorForSeversRevoke(t *testing.T) {
	d := newDrill(t, withInventory(invOpenAI))
	if res := d.mustExec(openAIInput(sever.ActionOpenAIRevokeKey, nil)); !res.Changed || !res.Verified {
		t.Fatalf("revoke = %+v", res)
	}
	other := &Activities{OpenAI: d.acts.OpenAI, Inventory: d.acts.Inventory, PollInterval: d.acts.PollInterval}
	res, err := execIn(d.newEnv(other), openAIInput(sever.ActionOpenAIObserveKey, nil))
	if err != nil {
		t.Fatal(err)
	}
	if res.Enforcement == sever.VendorEnforced || res.Actor == VendorOpenAI {
		t.Fatalf("observe on another worker credits the provider with sever's own revoke: enforcement=%s actor=%s summary=%q",
			res.Enforcement, res.Actor, res.Summary)
	}
}
