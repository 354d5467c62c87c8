package providers

import (
	"strings"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
)

// otherProject is a second project of the drill organization, without keys.
const otherProject = "proj_Other01"

func withOtherProject() drillOption {
	return withSeed(func(s *drillcloud.Seed) {
		org := &s.Providers.OpenAI.Organizations[0]
		org.Projects = append(org.Projects, drillcloud.SeedOpenAIProject{ID: otherProject, Name: "other"})
	})
}

// invOpenAIIn lists the default OpenAI key in project p.
func invOpenAIIn(p string) string {
	return strings.Replace(invOpenAI, "account: "+project, "account: "+p, 1)
}

// The inventory says the key lives in project (the default one); the signal names
// another project of the same organization as the credential's account. The revoke
// asks that other project, gets 404, and takes the inventory's word that the key
// existed as proof it is gone: verified, enterprise_enforced, while the key is still
// active in the project the inventory names.
func TestOpenAIRevokeActsWhereTheInventoryPutsTheKey(t *testing.T) {
	d := newDrill(t, withInventory(invOpenAI), withOtherProject())
	in := withCred(openAIInput(sever.ActionOpenAIRevokeKey, nil), func(c *sever.Credential) { c.Account = otherProject })
	res, err := d.exec(in)
	if err == nil && res.Verified && res.Enforcement == sever.EnterpriseEnforced && d.keyStatus(oaKey) == "active" {
		t.Fatalf("revoke asked project %s, found nothing, and recorded %q verified %s (%q), while key %s is still active in %s, where the inventory puts it",
			otherProject, res.Output["status"], res.Enforcement, res.Summary, oaKey, project)
	}
}

// When the inventory and the signal name different projects, sever asks both: the
// key is revoked where it is, and it is absent only when neither project has it.
// An inventory entry vouches for a key's existence only in its own project.
func TestOpenAIProjectDisagreementNeverClaimsAbsenceFromTheWrongProject(t *testing.T) {
	tests := []struct {
		name         string
		inventory    string // the inventory's project for the key
		signal       string // the credential's account
		stepProject  string
		vendorDelete bool // the key was deleted before sever acted

		wantErr      string // a permanent error type, or ""
		wantChanged  bool
		wantProject  string // where sever found or looked for the key
		wantKey      string // the drill cloud's status of the key afterwards
		wantSummary  []string
		wantObserved sever.Enforcement // observe_key_status's enforcement
	}{
		{name: "signal names another project: acted where the inventory puts the key",
			inventory: project, signal: otherProject,
			wantChanged: true, wantProject: project, wantKey: "deleted",
			wantSummary: []string{"in project " + project, otherProject, "asked both"}},
		{name: "stale inventory: acted where the signal puts the key",
			inventory: otherProject, signal: project,
			wantChanged: true, wantProject: project, wantKey: "deleted",
			wantSummary: []string{"in project " + project, otherProject, "asked both"}},
		{name: "deleted before sever acted, absent from both projects (no notice: not credited)",
			inventory: project, signal: otherProject, vendorDelete: true,
			wantProject: project, wantKey: "deleted",
			wantSummary: []string{"already gone", "the inventory lists it in project " + project, "asked both"}},
		{name: "the step's project is not the inventory's: a 404 there is NotFound",
			inventory: project, signal: otherProject, stepProject: otherProject,
			wantErr: "NotFound", wantKey: "active"},
		{name: "inventory of another project vouches for nothing",
			inventory: otherProject, signal: project, stepProject: project, vendorDelete: true,
			wantErr: "NotFound", wantKey: "deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDrill(t, withInventory(invOpenAIIn(tt.inventory)), withOtherProject())
			if tt.vendorDelete {
				if err := d.cloud.VendorDisableProviderKey(drillcloud.ProviderOpenAI, oaKey); err != nil {
					t.Fatal(err)
				}
			}
			var args sever.Values
			if tt.stepProject != "" {
				args = sever.Values{"project": tt.stepProject}
			}
			cred := func(c *sever.Credential) { c.Account = tt.signal }
			if tt.wantErr == "" {
				obs := d.mustExec(withCred(openAIInput(sever.ActionOpenAIObserveKey, args), cred))
				if obs.Enforcement != tt.wantObserved {
					t.Fatalf("observe = %s (%q), want %q", obs.Enforcement, obs.Summary, tt.wantObserved)
				}
			}
			res, err := d.exec(withCred(openAIInput(sever.ActionOpenAIRevokeKey, args), cred))
			if tt.wantErr != "" {
				wantPermanent(t, err, tt.wantErr, "nothing shows this one existed")
			} else {
				if err != nil {
					t.Fatalf("revoke: %v", err)
				}
				if !res.Verified || res.Enforcement != sever.EnterpriseEnforced || res.Changed != tt.wantChanged || res.Output["project"] != tt.wantProject {
					t.Fatalf("revoke = verified %v, %s, changed %v, project %v (%q)", res.Verified, res.Enforcement, res.Changed, res.Output["project"], res.Summary)
				}
				for _, s := range tt.wantSummary {
					if !strings.Contains(res.Summary, s) {
						t.Errorf("summary %q does not say %q", res.Summary, s)
					}
				}
			}
			if got := d.keyStatus(oaKey); got != tt.wantKey {
				t.Fatalf("key is %s, want %s", got, tt.wantKey)
			}
		})
	}
}

// key_status must not call a key absent because the signal's project lacks it.
func TestOpenAIKeyStatusAsksTheInventorysProjectToo(t *testing.T) {
	d := newDrill(t, withInventory(invOpenAI), withOtherProject())
	res := d.mustExec(withCred(openAIInput(sever.ActionOpenAIKeyStatus, nil), func(c *sever.Credential) { c.Account = otherProject }))
	if res.Verified || res.Output["status"] != statusPresent || res.Output["project"] != project || res.Output["other_project"] != otherProject {
		t.Fatalf("key_status = verified %v, %v (%q)", res.Verified, res.Output, res.Summary)
	}
}

// Anthropic keys are read and disabled by id across the organization: a signal
// whose account names another workspace or organization changes neither where sever
// looks nor what it claims, and an unknown key is NotFound, never "already disabled".
func TestAnthropicDisableIgnoresTheSignalsAccount(t *testing.T) {
	tests := []struct {
		name    string
		account string
		id      string
		wantErr string
	}{
		{name: "another workspace", account: "wrkspc_Other01", id: anKey},
		{name: "another organization", account: "org-elsewhere", id: anKey},
		{name: "unknown key", account: "wrkspc_Other01", id: "apikey_NoSuchKey01", wantErr: "NotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDrill(t)
			in := withCred(anthropicInput(sever.ActionAnthropicDisableKey, nil), func(c *sever.Credential) { c.Account, c.ID = tt.account, tt.id })
			res, err := d.exec(in)
			if tt.wantErr != "" {
				wantPermanent(t, err, tt.wantErr)
				if got := d.keyStatus(anKey); got != statusActive {
					t.Fatalf("default key is %s", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !res.Verified || !res.Changed || d.keyStatus(anKey) != statusInactive {
				t.Fatalf("disable = verified %v, changed %v (%q); key %s", res.Verified, res.Changed, res.Summary, d.keyStatus(anKey))
			}
		})
	}
}
