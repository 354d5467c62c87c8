package drillcloud

import (
	"context"
	"strings"
	"testing"
)

// A family attacker calls with the stolen credential through its twin and is
// served; once the credential is contained in the twin, the same attacker's
// calls are refused (denials, not errors), and its errors never quote the secret.
func TestFamilyAttackerRefusedAfterContainment(t *testing.T) {
	for _, tc := range []struct {
		typ string
		// setup makes the stolen credential and returns sever's name for it, its
		// secret (to check no error quotes it) and how to contain it in the twin.
		setup func(t *testing.T, c *Cloud) (id, secret string, contain func())
	}{
		{FamilyGCPServiceAccountKey, func(t *testing.T, c *Cloud) (string, string, func()) {
			g := NewGCPTwin("")
			c.ServeGCP(g)
			keyID, err := g.NewKey(g.WorkloadEmail())
			if err != nil {
				t.Fatal(err)
			}
			return g.KeyName(keyID), "PRIVATE KEY", func() {
				if err := g.VendorExposeKey(keyID); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{FamilyGoogleAPIKey, func(t *testing.T, c *Cloud) (string, string, func()) {
			g := NewGCPTwin("")
			c.ServeGCP(g)
			uid, keyString := g.NewAPIKey("gemini")
			return g.APIKeyName(uid), keyString, func() {
				g.mu.Lock()
				g.apiKeys[uid].deleted = g.now()
				g.mu.Unlock()
			}
		}},
		{FamilyAzureAppSecret, func(t *testing.T, c *Cloud) (string, string, func()) {
			az := NewAzureTwin()
			c.ServeAzure(az)
			app := az.AddApp("batch", false)
			keyID, secret, err := az.AddSecret(app, "ci")
			if err != nil {
				t.Fatal(err)
			}
			return app + "/" + keyID, secret, func() {
				az.mu.Lock()
				az.apps[strings.ToLower(app)].Passwords = nil
				az.mu.Unlock()
			}
		}},
		{FamilyAzureOpenAIKey, func(t *testing.T, c *Cloud) (string, string, func()) {
			az := NewAzureTwin()
			c.ServeAzure(az)
			id, key1, _ := az.AddOpenAIAccount("rg", "acme-openai")
			return id, key1, func() {
				az.mu.Lock()
				az.accounts[strings.ToLower(id)].DisableLocalAuth = true
				az.mu.Unlock()
			}
		}},
		{FamilyVaultToken, func(t *testing.T, c *Cloud) (string, string, func()) {
			v, _ := NewVaultTwin("")
			c.ServeVault(v)
			token := v.AddToken(TokenSpec{Accessor: "stolenAccessor01", DisplayName: "ci", Policies: []string{"deploy"}})
			return "stolenAccessor01", token, func() { v.RevokeByVault("stolenAccessor01") }
		}},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			c := defaultCloud(t)
			id, secret, contain := tc.setup(t, c)
			// The attacker is armed once, with its copy of the secret, and calls
			// every operation before and after containment: nothing is timed.
			a, err := c.newFamilyAttacker(tc.typ, id, AttackerConfig{})
			if err != nil {
				t.Fatal(err)
			}
			for _, op := range FamilyAttackOps(tc.typ) {
				if o, msg := a.call(context.Background(), op); o != outcomeSuccess {
					t.Fatalf("%s before containment: outcome %d %s; want success", op, o, msg)
				}
			}
			contain()
			for _, op := range FamilyAttackOps(tc.typ) {
				o, msg := a.call(context.Background(), op)
				if o != outcomeDenied {
					t.Errorf("%s after containment: outcome %d %s; want refused", op, o, msg)
				}
				if strings.Contains(msg, secret) {
					t.Errorf("%s: the refusal quotes the stolen secret", op)
				}
			}
		})
	}
}

// A family attacker refuses what it cannot do: an unknown family, an operation
// the credential does not serve, a credential the twin does not hold.
func TestStartFamilyAttackerErrors(t *testing.T) {
	c := defaultCloud(t)
	g := NewGCPTwin("")
	c.ServeGCP(g)
	for _, tc := range []struct {
		name, typ, id string
		ops           []string
		want          string
	}{
		{"unknown family", "aws_access_key", DefaultCompromisedKeyID, nil, "not a credential family"},
		{"wrong operation", FamilyVaultToken, DefaultVaultAccessor, []string{AttackEntraToken}, "serves"},
		{"no twin", FamilyVaultToken, DefaultVaultAccessor, nil, "no Vault twin"},
		{"no such key", FamilyGCPServiceAccountKey, "projects/drill-project/serviceAccounts/x@y/keys/00ff", nil, "no key"},
		{"not a key name", FamilyGCPServiceAccountKey, "00ff", nil, "not a service-account key name"},
		{"no such api key", FamilyGoogleAPIKey, g.APIKeyName("0000"), nil, "no such API key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.StartFamilyAttacker(context.Background(), tc.typ, tc.id, AttackerConfig{Operations: tc.ops})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("StartFamilyAttacker = %v; want an error containing %q", err, tc.want)
			}
		})
	}
}
