package awsact

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"golang.org/x/time/rate"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
)

// TestSuppliedIdentityNeverWins is issue 12.7: the account and user a signal (or a
// step's argument) names are checked against what AWS says about the key, and a
// contradiction refuses the action before anything is written. Before, the signal's
// principal was taken as the key's user: revoke_sessions denied the sessions of
// whichever user the signal named.
func TestSuppliedIdentityNeverWins(t *testing.T) {
	const other = "444455556666"
	responder := drillcloud.DefaultResponderUser
	tests := []struct {
		name string
		in   sever.ActionInput
		want []string // in the IdentityMismatch error; nil = the action succeeds
	}{
		{"RevokeNamesAnotherUser", withCred(input(sever.ActionAWSRevokeSessions, nil), func(c *sever.Credential) { c.Principal = responder }),
			[]string{"belongs to user " + exposedUser, "names user " + responder}},
		{"RevokeNamesAnotherUserByARN", withCred(input(sever.ActionAWSRevokeSessions, nil), func(c *sever.Credential) {
			c.Principal = "arn:aws:iam::" + account + ":user/ops/" + responder
		}), []string{"names user " + responder}},
		{"RevokeNamesAnotherAccount", withCred(input(sever.ActionAWSRevokeSessions, nil), func(c *sever.Credential) {
			c.Principal = "arn:aws:iam::" + other + ":user/" + exposedUser
		}), []string{"belongs to account " + account, "names account " + other}},
		{"DeactivateNamesAnotherAccount", withCred(input(sever.ActionAWSDeactivateKey, nil), func(c *sever.Credential) { c.Account = other }),
			[]string{"names account " + other}},
		{"DeactivateArgumentNamesAnotherUser", input(sever.ActionAWSDeactivateKey, sever.Values{"user": responder}),
			[]string{"the step's user argument names user " + responder}},
		{"KeyStatusArgumentNamesAnotherAccount", input(sever.ActionAWSKeyStatus, sever.Values{"account": other}),
			[]string{"the step's account argument names account " + other}},
		{"QuarantineNamesAnotherUser", withCred(input(sever.ActionAWSVendorQuarantine, nil), func(c *sever.Credential) { c.Principal = responder }),
			[]string{"names user " + responder}},
		{"LookupEventsNamesAnotherAccount", withCred(input(sever.ActionAWSLookupEvents, nil), func(c *sever.Credential) { c.Account = other }),
			[]string{"names account " + other}},
		// Values that agree with AWS are fine, IAM's case-insensitive names included.
		{"AgreeingValues", withCred(input(sever.ActionAWSRevokeSessions, nil), func(c *sever.Credential) {
			c.Account, c.Principal = account, "arn:aws:iam::"+account+":user/"+exposedUser
		}), nil},
		{"AgreeingUserOtherCase", input(sever.ActionAWSDeactivateKey, sever.Values{"user": "CI-Deployer", "account": account}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDrill(t)
			res, err := d.exec(tt.in)
			if tt.want == nil {
				if err != nil || !res.Verified {
					t.Fatalf("%s = %+v, %v; want verified", tt.in.Action, res, err)
				}
				user := res.Output["user"]
				if _, ok := d.cloud.UserPolicy(exposedUser, RevokePolicyName); ok && tt.in.Action == sever.ActionAWSRevokeSessions {
					user = exposedUser
				}
				if user != exposedUser || res.Output["account"] != account {
					t.Errorf("acted on user %v in account %v; want %s in %s", user, res.Output["account"], exposedUser, account)
				}
				return
			}
			wantPermanent(t, err, ErrIdentityMismatch, append([]string{exposedKey}, tt.want...)...)
			for _, op := range []string{"PutUserPolicy", "UpdateAccessKey", "DeleteAccessKey"} {
				if n := d.cloud.Applied("iam:" + op); n != 0 {
					t.Errorf("iam:%s applied %d times despite the refusal", op, n)
				}
			}
			if _, ok := d.cloud.UserPolicy(responder, RevokePolicyName); ok {
				t.Errorf("sever denied the sessions of %s, whom the signal named", responder)
			}
			if k, _ := d.cloud.Key(exposedKey); k.Status != "Active" {
				t.Errorf("key status = %q after the refusal", k.Status)
			}
		})
	}
}

// TestRevokeSessionsTargetsTheKeysOwner: without users or roles, the user whose
// sessions are revoked is the one AWS says owns the key.
func TestRevokeSessionsTargetsTheKeysOwner(t *testing.T) {
	d := newDrill(t)
	res := d.mustExec(input(sever.ActionAWSRevokeSessions, nil))
	if !res.Verified {
		t.Fatalf("revoke = %+v", res)
	}
	if _, ok := d.cloud.UserPolicy(exposedUser, RevokePolicyName); !ok {
		t.Errorf("no revoke policy on the key's owner %s", exposedUser)
	}
	if _, ok := d.cloud.UserPolicy(drillcloud.DefaultResponderUser, RevokePolicyName); ok {
		t.Errorf("revoke policy on %s, who does not own the key", drillcloud.DefaultResponderUser)
	}
}

// TestCachesAreBounded: account IDs, regions and key IDs reach the caches from
// signals and runbooks; none may grow past its bound.
func TestCachesAreBounded(t *testing.T) {
	t.Run("Factory", func(t *testing.T) {
		f := NewFactory(FactoryOptions{MaxCachedClients: 3,
			LoadBase: func(context.Context) (aws.Config, error) { return aws.Config{Region: "us-east-1"}, nil }})
		var first *Clients
		for i := range 10 {
			c, err := f.Clients(t.Context(), "", fmt.Sprintf("region-%d", i))
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = c
			}
		}
		if n := f.cache.len(); n != 3 {
			t.Errorf("factory caches %d clients; want 3", n)
		}
		if again, _ := f.Clients(t.Context(), "", "region-0"); again == first {
			t.Error("the least recently used clients were kept")
		}
		if n := NewFactory(FactoryOptions{}).o.MaxCachedClients; n != DefaultMaxCachedClients {
			t.Errorf("default bound = %d", n)
		}
	})
	t.Run("Activities", func(t *testing.T) {
		a := New(nil, nil)
		for i := range maxCachedLimiters + 10 {
			a.limiter(fmt.Sprintf("%012d", i), "us-east-1")
		}
		a.mu.Lock()
		a.initCaches()
		for i := range maxCachedKeys + 10 {
			a.keyAccounts.put(fmt.Sprintf("AKIA%016d", i), account)
			a.keyUsers.put(fmt.Sprintf("AKIA%016d", i), exposedUser)
			a.identities.put(fmt.Sprintf("%012d", i), identity{})
		}
		sizes := []int{a.limiters.len(), a.keyAccounts.len(), a.keyUsers.len(), a.identities.len()}
		a.mu.Unlock()
		if want := []int{maxCachedLimiters, maxCachedKeys, maxCachedKeys, maxCachedIdentities}; fmt.Sprint(sizes) != fmt.Sprint(want) {
			t.Errorf("cache sizes = %v; want %v", sizes, want)
		}
	})
	t.Run("LRU", func(t *testing.T) {
		c := newLRU[string, *rate.Limiter](2)
		a, b := rate.NewLimiter(1, 1), rate.NewLimiter(1, 1)
		c.put("a", a)
		c.put("b", b)
		c.get("a") // a is now the most recently used
		c.put("c", rate.NewLimiter(1, 1))
		if _, ok := c.get("b"); ok {
			t.Error("b, the least recently used, was kept")
		}
		if got, ok := c.get("a"); !ok || got != a {
			t.Error("a, used recently, was evicted")
		}
		c.put("a", b)
		if got, _ := c.get("a"); got != b || c.len() != 2 {
			t.Errorf("update: len %d", c.len())
		}
	})
}
