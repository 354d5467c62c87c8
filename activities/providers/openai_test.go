package providers

import (
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
)

func TestOpenAIRevoke(t *testing.T) {
	d := newDrill(t)
	a := d.attack(oaKey)
	if v := d.mustExec(openAIInput(sever.ActionOpenAIKeyStatus, sever.Values{"expect": "present"})); !v.Verified {
		t.Fatalf("key_status present = %+v", v)
	}

	res := d.mustExec(openAIInput(sever.ActionOpenAIRevokeKey, sever.Values{"reason": "leaked"}))
	if res.Enforcement != sever.EnterpriseEnforced || !res.Verified || !res.Changed || !strings.HasPrefix(res.Actor, "openai-admin-key:sha256:") {
		t.Fatalf("revoke = %+v", res)
	}
	out := res.Output
	if out["status"] != "absent" || out["previous_status"] != "present" || out["project"] != project || out["project_source"] != "credential.account" ||
		out["owner_type"] != "user" || !strings.HasPrefix(out["key_hint"].(string), "sk-proj-...") || out["reason"] != "leaked" {
		t.Fatalf("output = %v", out)
	}
	if got := d.keyStatus(oaKey); got != "deleted" {
		t.Fatalf("key is %s in the drill cloud", got)
	}
	d.waitRefused(a, "revoked")
	if v := d.mustExec(openAIInput(sever.ActionOpenAIKeyStatus, nil)); !v.Verified || v.Output["status"] != "absent" {
		t.Fatalf("key_status = %+v", v)
	}
	// The same step again, as a replay would run it: nothing is sent twice.
	res = d.mustExec(openAIInput(sever.ActionOpenAIRevokeKey, nil))
	if !res.Verified || d.cloud.Applied("openai:DeleteProjectAPIKey") != 1 || d.calls("openai", "DeleteProjectAPIKey") != 1 {
		t.Fatalf("second revoke = %+v", res)
	}
}

// The answer to the DELETE is lost after OpenAI applied it. The retry finds the key
// gone, knows its own earlier attempt was about to delete it, and succeeds without a
// second DELETE.
func TestOpenAIRevokeAfterDroppedResponse(t *testing.T) {
	d := newDrill(t)
	d.fault(drillcloud.Fault{Service: "openai", Operation: "DeleteProjectAPIKey", Kind: drillcloud.FaultDropResponse, Count: 1})
	in := openAIInput(sever.ActionOpenAIRevokeKey, nil)
	_, err := d.exec(in)
	wantRetryable(t, err, in.Action, oaKey)
	res := d.mustExec(in)
	if !res.Verified || !res.Changed || !strings.Contains(res.Summary, "earlier attempt") {
		t.Fatalf("retry = %+v", res)
	}
	if n := d.calls("openai", "DeleteProjectAPIKey"); n != 1 {
		t.Fatalf("DELETE sent %d times, want once", n)
	}

	// On another worker, the first attempt's heartbeat carries the same knowledge;
	// without it, a key found gone that nothing vouches for is NotFound.
	other := &Activities{OpenAI: d.acts.OpenAI}
	env := d.newEnv(other)
	if _, err := execIn(env, in); err == nil {
		t.Fatal("revoke of a key nothing vouches for succeeded")
	}
	env.SetHeartbeatDetails(writeIntent{KeyID: oaKey, Scope: project, Change: "delete"})
	if res, err := execIn(env, in); err != nil || !res.Changed || !res.Verified {
		t.Fatalf("retry on another worker = %+v, %v", res, err)
	}
}

func TestOpenAIErrors(t *testing.T) {
	t.Run("429 is retried", func(t *testing.T) {
		d := newDrill(t)
		d.fault(drillcloud.Fault{Service: "openai", Operation: "DeleteProjectAPIKey", Kind: drillcloud.FaultThrottle, Count: 1})
		in := openAIInput(sever.ActionOpenAIRevokeKey, nil)
		_, err := d.exec(in)
		wantRetryable(t, err, "HTTP 429 (rate_limit_exceeded)")
		if got := d.keyStatus(oaKey); got != "active" {
			t.Fatalf("throttled delete changed the key: %s", got)
		}
		if res := d.mustExec(in); !res.Verified || !res.Changed {
			t.Fatalf("after the throttle = %+v", res)
		}
	})
	t.Run("401 is permanent", func(t *testing.T) {
		d := newDrill(t, withActs(func(a *Activities) { a.OpenAI.AdminKey = StaticKey("sk-admin-wrongwrongwrongwrongwrong") }))
		_, err := d.exec(openAIInput(sever.ActionOpenAIRevokeKey, nil))
		wantPermanent(t, err, "AccessDenied", "openai.revoke_api_key", oaKey, project, "HTTP 401 (invalid_api_key)")
		if strings.Contains(err.Error(), "wrongwrong") {
			t.Fatalf("error repeats the admin key: %v", err)
		}
	})
	t.Run("unknown key is NotFound", func(t *testing.T) {
		d := newDrill(t)
		in := withCred(openAIInput(sever.ActionOpenAIRevokeKey, nil), func(c *sever.Credential) { c.ID = "key_NoSuchKey01" })
		_, err := d.exec(in)
		wantPermanent(t, err, "NotFound", "key_NoSuchKey01", project, "nothing shows this one existed")
	})
	t.Run("wrong project is NotFound, never absent", func(t *testing.T) {
		d := newDrill(t)
		for _, action := range []string{sever.ActionOpenAIRevokeKey, sever.ActionOpenAIKeyStatus} {
			in := withCred(openAIInput(action, nil), func(c *sever.Credential) { c.Account = "proj_elsewhere" })
			_, err := d.exec(in)
			wantPermanent(t, err, "NotFound", "project proj_elsewhere (from credential.account)")
		}
		if got := d.keyStatus(oaKey); got != "active" {
			t.Fatalf("key is %s", got)
		}
	})
	t.Run("service account keys are refused by OpenAI", func(t *testing.T) {
		d := newDrill(t, withSeed(func(s *drillcloud.Seed) {
			s.Providers.OpenAI.Organizations[0].Projects[0].Keys[0].Owner = "service_account"
		}))
		_, err := d.exec(openAIInput(sever.ActionOpenAIRevokeKey, nil))
		wantPermanent(t, err, "InvalidArgument", "HTTP 400", "service account")
	})
	t.Run("not configured", func(t *testing.T) {
		d := newDrill(t, withActs(func(a *Activities) { a.OpenAI = nil }))
		_, err := d.exec(openAIInput(sever.ActionOpenAIRevokeKey, nil))
		wantPermanent(t, err, "AccessDenied", "providers.openai.admin_key")
	})
}

func TestOpenAIProject(t *testing.T) {
	d := newDrill(t)
	noAccount := func(action string, args sever.Values) sever.ActionInput {
		return withCred(openAIInput(action, args), func(c *sever.Credential) { c.Account = "" })
	}
	_, err := d.exec(noAccount(sever.ActionOpenAIKeyStatus, nil))
	wantPermanent(t, err, "InvalidArgument", "no OpenAI project for key "+oaKey)

	res := d.mustExec(noAccount(sever.ActionOpenAIKeyStatus, sever.Values{"project": project, "expect": "present"}))
	if !res.Verified || res.Output["project_source"] != "the step's project" {
		t.Fatalf("explicit project = %+v", res)
	}
	_, err = d.exec(noAccount(sever.ActionOpenAIKeyStatus, sever.Values{"project": "my-project"}))
	wantPermanent(t, err, "InvalidArgument", `project "my-project" is not an OpenAI project id`)

	// An organization id where a project belongs is passed over for the default.
	d.acts.OpenAI.Project = project
	in := withCred(openAIInput(sever.ActionOpenAIKeyStatus, sever.Values{"expect": "present"}), func(c *sever.Credential) { c.Account = "org-drill" })
	if res := d.mustExec(in); !res.Verified || res.Output["project_source"] != "providers.openai.project" {
		t.Fatalf("default project = %+v", res)
	}

	d = newDrill(t, withInventory(invOpenAI))
	if res := d.mustExec(noAccount(sever.ActionOpenAIKeyStatus, sever.Values{"expect": "present"})); res.Output["project_source"] != "the inventory's account" {
		t.Fatalf("inventory project = %+v", res)
	}
}

// OpenAI revoked the key before sever acted. With the inventory vouching that the key
// existed, the enterprise's revoke is a verified no-op, but only a notice from OpenAI
// credits OpenAI (the key may be gone by sever's hand in an earlier incident); without
// anything vouching for it, sever claims neither.
func TestOpenAIProviderRevokedFirst(t *testing.T) {
	t.Run("inventory lists the key, no notice: not credited", func(t *testing.T) {
		d := newDrill(t, withInventory(invOpenAI))
		if err := d.cloud.VendorDisableProviderKey(drillcloud.ProviderOpenAI, oaKey); err != nil {
			t.Fatal(err)
		}
		obs := d.mustExec(openAIInput(sever.ActionOpenAIObserveKey, nil))
		if obs.Enforcement != "" || obs.Verified || obs.Actor == VendorOpenAI || obs.Output["corroborated"] != true ||
			obs.Output["revoked_by"] != "unknown" || !strings.Contains(obs.Summary, "not credited to the provider") {
			t.Fatalf("observe = %+v", obs)
		}
		res := d.mustExec(openAIInput(sever.ActionOpenAIRevokeKey, nil))
		if res.Enforcement != sever.EnterpriseEnforced || !res.Verified || res.Changed || res.Output["already_in_place"] != true {
			t.Fatalf("revoke = %+v", res)
		}
		if n := d.calls("openai", "DeleteProjectAPIKey"); n != 1 { // the provider's own
			t.Fatalf("%d DeleteProjectAPIKey events, want only the provider's", n)
		}
	})
	t.Run("a provider notice names the key", func(t *testing.T) {
		d := newDrill(t)
		if err := d.cloud.VendorDisableProviderKey(drillcloud.ProviderOpenAI, oaKey); err != nil {
			t.Fatal(err)
		}
		if obs := d.mustExec(withNotice(openAIInput(sever.ActionOpenAIObserveKey, nil))); obs.Enforcement != sever.VendorEnforced ||
			!obs.Verified || obs.Actor != VendorOpenAI || obs.Output["revoked_by"] != "openai" {
			t.Fatalf("observe = %+v", obs)
		}
	})
	t.Run("nothing vouches for the key", func(t *testing.T) {
		d := newDrill(t)
		if err := d.cloud.VendorDisableProviderKey(drillcloud.ProviderOpenAI, oaKey); err != nil {
			t.Fatal(err)
		}
		obs := d.mustExec(openAIInput(sever.ActionOpenAIObserveKey, nil))
		if obs.Enforcement != "" || obs.Verified || obs.Output["corroborated"] != false {
			t.Fatalf("observe = %+v", obs)
		}
		_, err := d.exec(openAIInput(sever.ActionOpenAIRevokeKey, nil))
		wantPermanent(t, err, "NotFound")
	})
}

func TestOpenAIObserve(t *testing.T) {
	t.Run("present key: nothing observed", func(t *testing.T) {
		d := newDrill(t)
		res := d.mustExec(openAIInput(sever.ActionOpenAIObserveKey, nil))
		if res.Enforcement != "" || res.Verified || res.Output["status"] != "present" {
			t.Fatalf("observe = %+v", res)
		}
	})
	t.Run("sever's own revoke is not the provider's", func(t *testing.T) {
		d := newDrill(t, withInventory(invOpenAI))
		d.mustExec(openAIInput(sever.ActionOpenAIRevokeKey, nil))
		res := d.mustExec(openAIInput(sever.ActionOpenAIObserveKey, nil))
		if res.Enforcement != "" || res.Output["revoked_by"] != "sever" {
			t.Fatalf("observe after sever's revoke = %+v", res)
		}
	})
	t.Run("polls until the provider acts", func(t *testing.T) {
		d := newDrill(t, withInventory(invOpenAI))
		reads := d.vendorActsAfterFirstRead(drillcloud.ProviderOpenAI, oaKey)
		res := d.mustExec(withNotice(openAIInput(sever.ActionOpenAIObserveKey, sever.Values{"wait": "10s", "interval": "100ms"})))
		if res.Enforcement != sever.VendorEnforced || reads() < 2 {
			t.Fatalf("observe with wait = %+v after %d reads; want vendor_enforced seen by a later read", res, reads())
		}
	})
	t.Run("wrong project: reported, not failed", func(t *testing.T) {
		d := newDrill(t)
		in := withCred(openAIInput(sever.ActionOpenAIObserveKey, nil), func(c *sever.Credential) { c.Account = "proj_elsewhere" })
		res := d.mustExec(in)
		if res.Enforcement != "" || res.Output["observed"] != false || !strings.Contains(res.Summary, "proj_elsewhere") {
			t.Fatalf("observe in the wrong project = %+v", res)
		}
	})
	t.Run("no project fails like the revoke would", func(t *testing.T) {
		d := newDrill(t)
		_, err := d.exec(withCred(openAIInput(sever.ActionOpenAIObserveKey, nil), func(c *sever.Credential) { c.Account = "" }))
		wantPermanent(t, err, "InvalidArgument", "no OpenAI project")
	})
}
