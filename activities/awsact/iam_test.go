package awsact

import (
	"encoding/base32"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/internal/awserr"
)

func TestKeyOwner(t *testing.T) {
	d := newDrill(t)
	res := d.mustExec(input(sever.ActionAWSKeyOwner, nil))
	if !res.Verified || res.Output["account"] != account || res.Output["user"] != exposedUser || res.Output["status"] != "Active" {
		t.Fatalf("key_owner = %+v", res)
	}
	if res.Actor != "arn:aws:iam::"+account+":user/"+drillcloud.DefaultResponderUser {
		t.Errorf("actor = %q; want sever-responder's ARN", res.Actor)
	}
	if res.Enforcement != "" || res.Changed {
		t.Errorf("read-only action recorded enforcement %q / changed %v", res.Enforcement, res.Changed)
	}
	// A signal that names the wrong principal is reported, not trusted.
	res = d.mustExec(withCred(input(sever.ActionAWSKeyOwner, nil), func(c *sever.Credential) { c.Principal = "someone-else" }))
	if res.Output["reported_principal"] != "someone-else" || !strings.Contains(res.Summary, "someone-else") {
		t.Errorf("mismatched principal not reported: %+v", res)
	}
}

func TestKeyOwnerRefusesOtherAccounts(t *testing.T) {
	d := newDrill(t)
	tests := []struct {
		name    string
		in      sever.ActionInput
		errType string
		want    []string
	}{
		{"ExpectedAccountDiffers", input(sever.ActionAWSKeyOwner, sever.Values{"account": "444455556666"}), "NotFound",
			[]string{exposedKey, "belongs to account " + account + ", not 444455556666"}},
		{"UnknownKeyOfOurAccount", withCred(input(sever.ActionAWSKeyOwner, nil), func(c *sever.Credential) { c.ID = ownKeyID(t) }), "NotFound",
			[]string{"iam:GetAccessKeyLastUsed", "NoSuchEntity"}},
		{"MalformedKey", withCred(input(sever.ActionAWSKeyOwner, nil), func(c *sever.Credential) { c.ID = "AKIA-not-a-key" }), "InvalidArgument",
			[]string{"sts:GetAccessKeyInfo", "AKIA-not-a-key"}},
		{"WrongCredentialType", withCred(input(sever.ActionAWSKeyOwner, nil), func(c *sever.Credential) { c.Type = sever.CredGenericToken }), "Unsupported",
			[]string{"generic_token"}},
		{"UnknownArgument", input(sever.ActionAWSKeyOwner, sever.Values{"acount": "x"}), "InvalidArgument", []string{"acount"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.exec(tt.in)
			wantPermanent(t, err, tt.errType, tt.want...)
		})
	}
}

// ownKeyID is a well-formed key id that no user has, of the drill account.
func ownKeyID(t *testing.T) string {
	t.Helper()
	return keyIDOf(111122223333)
}

// keyIDOf is a well-formed key id of account: like AWS, the drill cloud reads the
// account out of bits 7..46 of the base32-decoded id.
func keyIDOf(account uint64) string {
	n := account << 7
	var b [10]byte
	for i := 0; i < 6; i++ {
		b[i] = byte(n >> (40 - 8*i))
	}
	return "AKIA" + base32.StdEncoding.EncodeToString(b[:])
}

func TestDetectVendorQuarantine(t *testing.T) {
	for _, arn := range []string{"", drillcloud.QuarantinePolicyARN, drillcloud.QuarantinePolicyV2ARN, drillcloud.QuarantinePolicyV4ARN} {
		name := "None"
		if arn != "" {
			name = arn[strings.LastIndex(arn, "/")+1:]
		}
		t.Run(name, func(t *testing.T) {
			d := newDrill(t, withSeed(func(s *drillcloud.Seed) {
				if arn != "" {
					u := user(s, exposedUser)
					u.AttachedPolicies = append(u.AttachedPolicies, arn)
				}
			}))
			res := d.mustExec(input(sever.ActionAWSVendorQuarantine, nil))
			if arn == "" {
				if res.Enforcement != "" || res.Verified || !strings.Contains(res.Summary, "no AWS quarantine policy observed") {
					t.Fatalf("no quarantine: %+v; want no enforcement", res)
				}
				return
			}
			if res.Enforcement != sever.VendorEnforced || !res.Verified || res.Actor != VendorActor || !strings.Contains(res.Summary, name) {
				t.Fatalf("quarantine %s: %+v; want vendor_enforced by %s", name, res, VendorActor)
			}
			// Observed, never detached.
			if got := d.cloud.AttachedPolicies(exposedUser); len(got) != 1 || got[0] != arn {
				t.Errorf("attached policies after observing = %v", got)
			}
		})
	}
}

func TestDeactivateAndActivate(t *testing.T) {
	d := newDrill(t)
	res := d.mustExec(input(sever.ActionAWSDeactivateKey, sever.Values{"reason": "leaked in a public repo"}))
	if !res.Verified || !res.Changed || res.Enforcement != sever.EnterpriseEnforced || res.Output["status"] != "Inactive" ||
		res.Output["previous_status"] != "Active" || res.Output["user"] != exposedUser {
		t.Fatalf("deactivate = %+v", res)
	}
	if k, _ := d.cloud.Key(exposedKey); k.Status != "Inactive" {
		t.Fatalf("drill cloud key status = %s", k.Status)
	}
	// Running it again is a no-op.
	res = d.mustExec(input(sever.ActionAWSDeactivateKey, nil))
	if !res.Verified || res.Changed || !strings.Contains(res.Summary, "already Inactive") {
		t.Fatalf("second deactivate = %+v; want verified no-op", res)
	}
	if n := d.calls("iam", "UpdateAccessKey"); n != 1 {
		t.Errorf("UpdateAccessKey sent %d times; want 1", n)
	}
	res = d.mustExec(input(sever.ActionAWSKeyStatus, sever.Values{"expect": "inactive"}))
	if !res.Verified || res.Output["status"] != "inactive" {
		t.Errorf("key_status = %+v", res)
	}
	res = d.mustExec(input(sever.ActionAWSActivateKey, sever.Values{"reason": "false positive"}))
	if !res.Verified || !res.Changed || res.Output["status"] != "Active" {
		t.Fatalf("activate = %+v", res)
	}
	res = d.mustExec(input(sever.ActionAWSKeyStatus, nil))
	if res.Verified || res.Output["status"] != "active" {
		t.Errorf("key_status after activate = %+v; want unverified active", res)
	}
	if d.cloud.Applied("iam:UpdateAccessKey") != 2 {
		t.Errorf("applied UpdateAccessKey = %d; want 2", d.cloud.Applied("iam:UpdateAccessKey"))
	}
}

// The drill cloud applies the change and then drops the connection: the attempt fails
// with a retryable error, and the retry reads the key, finds it inactive, and sends
// nothing.
func TestDeactivateAfterDroppedResponse(t *testing.T) {
	d := newDrill(t)
	d.fault(drillcloud.Fault{Service: "iam", Operation: "UpdateAccessKey", Kind: drillcloud.FaultDropResponse, Count: 1})
	_, err := d.exec(input(sever.ActionAWSDeactivateKey, nil))
	wantRetryable(t, err, "iam:UpdateAccessKey", exposedKey)
	res := d.mustExec(input(sever.ActionAWSDeactivateKey, nil))
	if !res.Verified || res.Changed {
		t.Fatalf("retry = %+v; want verified, unchanged", res)
	}
	if a, n := d.cloud.Applied("iam:UpdateAccessKey"), d.calls("iam", "UpdateAccessKey"); a != 1 || n != 1 {
		t.Errorf("UpdateAccessKey applied %d, sent %d; want 1 and 1", a, n)
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	t.Run("ReadsRetriedBySDK", func(t *testing.T) {
		d := newDrill(t)
		d.fault(drillcloud.Fault{Service: "iam", Operation: "ListAccessKeys", Kind: drillcloud.FaultThrottle, Count: 2})
		d.fault(drillcloud.Fault{Service: "sts", Operation: "GetAccessKeyInfo", Kind: drillcloud.FaultServerError, Count: 1})
		res := d.mustExec(input(sever.ActionAWSDeactivateKey, nil))
		if !res.Verified || !res.Changed {
			t.Fatalf("deactivate = %+v", res)
		}
	})
	t.Run("MutationLeftToTemporal", func(t *testing.T) {
		d := newDrill(t)
		d.fault(drillcloud.Fault{Service: "iam", Operation: "UpdateAccessKey", Kind: drillcloud.FaultThrottle, Count: 1})
		_, err := d.exec(input(sever.ActionAWSDeactivateKey, nil))
		wantRetryable(t, err, "iam:UpdateAccessKey", "Throttling")
		res := d.mustExec(input(sever.ActionAWSDeactivateKey, nil))
		if !res.Verified || !res.Changed || d.cloud.Applied("iam:UpdateAccessKey") != 1 {
			t.Fatalf("retry = %+v, applied %d", res, d.cloud.Applied("iam:UpdateAccessKey"))
		}
	})
	t.Run("PersistentThrottlingStaysRetryable", func(t *testing.T) {
		d := newDrill(t, withSDKAttempts(2))
		d.fault(drillcloud.Fault{Service: "iam", Operation: "ListAccessKeys", Kind: drillcloud.FaultThrottle})
		_, err := d.exec(input(sever.ActionAWSKeyStatus, nil))
		wantRetryable(t, err, "iam:ListAccessKeys", exposedUser)
	})
}

func TestIAMPermanentErrors(t *testing.T) {
	tests := []struct {
		name    string
		opts    []drillOption
		in      sever.ActionInput
		errType string
		want    []string
	}{
		{"ResponderLacksPermission", []drillOption{denyResponder("iam:UpdateAccessKey")}, input(sever.ActionAWSDeactivateKey, nil),
			"AccessDenied", []string{"iam:UpdateAccessKey", exposedKey, exposedUser, account}},
		{"ResponderCannotListKeys", []drillOption{denyResponder("iam:ListAccessKeys")}, input(sever.ActionAWSKeyStatus, nil),
			"AccessDenied", []string{"iam:ListAccessKeys", exposedUser}},
		{"ResponderCannotRevoke", []drillOption{denyResponder("iam:PutUserPolicy")}, input(sever.ActionAWSRevokeSessions, nil),
			"AccessDenied", []string{"iam:PutUserPolicy", "user " + exposedUser}},
		{"UnknownKeyOfKnownUser", nil, withCred(input(sever.ActionAWSDeactivateKey, nil), func(c *sever.Credential) {
			c.ID, c.Account, c.Principal = unknownKey, account, "arn:aws:iam::"+account+":user/"+exposedUser
		}), "NotFound", []string{unknownKey, "iam:GetAccessKeyLastUsed", "no such key"}},
		{"UnknownKeyUnknownUser", nil, withCred(input(sever.ActionAWSDeactivateKey, nil), func(c *sever.Credential) {
			c.ID, c.Account = unknownKey, account
		}), "NotFound", []string{"iam:GetAccessKeyLastUsed", unknownKey}},
		// A user or account that contradicts what AWS says about the key is refused
		// (see TestSuppliedIdentityNeverWins), not looked up.
		{"UnknownUser", nil, input(sever.ActionAWSKeyStatus, sever.Values{"user": "nobody", "account": account}),
			ErrIdentityMismatch, []string{"names user nobody"}},
		{"AccountArgumentContradictsTheKey", nil, input(sever.ActionAWSDeactivateKey, sever.Values{"account": "444455556666"}),
			ErrIdentityMismatch, []string{"names account 444455556666"}},
		{"KeyOfAnAccountWithoutCredentials", nil, withCred(input(sever.ActionAWSDeactivateKey, nil), func(c *sever.Credential) {
			c.ID = keyIDOf(444455556666)
		}), "AccessDenied", []string{"no credentials for account 444455556666"}},
		{"BadExpect", nil, input(sever.ActionAWSKeyStatus, sever.Values{"expect": "revoked"}), "InvalidArgument", []string{"revoked"}},
		{"DeleteActiveKey", nil, input(sever.ActionAWSDeleteKey, sever.Values{"secrets": []any{}}), "Forbidden", []string{"Active", "deactivate it first"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDrill(t, tt.opts...)
			_, err := d.exec(tt.in)
			wantPermanent(t, err, tt.errType, tt.want...)
		})
	}
}

func TestKeyStatusAbsent(t *testing.T) {
	d := newDrill(t)
	in := withCred(input(sever.ActionAWSKeyStatus, sever.Values{"expect": "absent"}), func(c *sever.Credential) {
		c.ID, c.Principal, c.Account = unknownKey, exposedUser, account
	})
	res := d.mustExec(in)
	if !res.Verified || res.Output["status"] != "absent" {
		t.Fatalf("key_status absent = %+v", res)
	}
	// Without a principal, AWS no longer names the user of a deleted key.
	res = d.mustExec(withCred(in, func(c *sever.Credential) { c.Principal = "" }))
	if !res.Verified || res.Output["status"] != "absent" {
		t.Fatalf("key_status absent, no principal = %+v", res)
	}
	_, err := d.exec(withCred(input(sever.ActionAWSKeyStatus, nil), func(c *sever.Credential) { c.ID, c.Account = unknownKey, account }))
	wantPermanent(t, err, "NotFound", unknownKey)
}

func TestDeleteAccessKey(t *testing.T) {
	t.Run("RefusesWhenNothingSaysWhichSecretsHoldIt", func(t *testing.T) {
		d := newDrill(t)
		d.mustExec(input(sever.ActionAWSDeactivateKey, nil))
		_, err := d.exec(input(sever.ActionAWSDeleteKey, nil))
		wantPermanent(t, err, "Forbidden", "nothing says which secrets hold key "+exposedKey)
		if _, ok := d.cloud.Key(exposedKey); !ok {
			t.Fatal("key deleted despite the refusal")
		}
	})
	t.Run("DeletesWhenNoSecretHoldsIt", func(t *testing.T) {
		d := newDrill(t)
		d.mustExec(input(sever.ActionAWSDeactivateKey, nil))
		d.fault(drillcloud.Fault{Service: "iam", Operation: "DeleteAccessKey", Kind: drillcloud.FaultDropResponse, Count: 1})
		_, err := d.exec(input(sever.ActionAWSDeleteKey, sever.Values{"secrets": []any{}}))
		wantRetryable(t, err, "iam:DeleteAccessKey")
		res := d.mustExec(input(sever.ActionAWSDeleteKey, sever.Values{"secrets": []any{}}))
		if !res.Verified || res.Changed || res.Output["status"] != "absent" {
			t.Fatalf("delete retry = %+v", res)
		}
		if _, ok := d.cloud.Key(exposedKey); ok || d.cloud.Applied("iam:DeleteAccessKey") != 1 {
			t.Fatalf("key still there or deleted %d times", d.cloud.Applied("iam:DeleteAccessKey"))
		}
		res = d.mustExec(input(sever.ActionAWSKeyStatus, sever.Values{"expect": "absent", "user": exposedUser}))
		if !res.Verified {
			t.Errorf("key_status absent after delete = %+v", res)
		}
	})
}

func TestRevokeSessions(t *testing.T) {
	d := newDrill(t, withSeed(func(s *drillcloud.Seed) {
		s.Accounts[0].Roles = append(s.Accounts[0].Roles, drillcloud.SeedRole{Name: "ci-deploy-role", Created: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
	}))
	res := d.mustExec(input(sever.ActionAWSRevokeSessions, nil))
	if !res.Verified || !res.Changed || res.Enforcement != sever.EnterpriseEnforced {
		t.Fatalf("revoke = %+v", res)
	}
	doc, ok := d.cloud.UserPolicy(exposedUser, RevokePolicyName)
	cutoff, parsed := revokeCutoff(doc)
	if !ok || !parsed || time.Since(cutoff) > time.Minute || !strings.Contains(doc, `"aws:TokenIssueTime"`) {
		t.Fatalf("stored policy = %q (cut-off %v)", doc, cutoff)
	}
	// Same step again (a retry): the policy in place already covers the cut-off.
	res = d.mustExec(input(sever.ActionAWSRevokeSessions, nil))
	if !res.Verified || res.Changed {
		t.Fatalf("second revoke = %+v; want verified no-op", res)
	}
	if n := d.calls("iam", "PutUserPolicy"); n != 1 {
		t.Errorf("PutUserPolicy sent %d times; want 1", n)
	}

	// Roles, with the response of the write lost.
	d.fault(drillcloud.Fault{Service: "iam", Operation: "PutRolePolicy", Kind: drillcloud.FaultDropResponse, Count: 1})
	in := input(sever.ActionAWSRevokeSessions, sever.Values{"roles": []any{"ci-deploy-role"}})
	_, err := d.exec(in)
	wantRetryable(t, err, "iam:PutRolePolicy", "role ci-deploy-role")
	res = d.mustExec(in)
	if !res.Verified || res.Changed {
		t.Fatalf("role revoke retry = %+v", res)
	}
	if _, ok := d.cloud.RolePolicy("ci-deploy-role", RevokePolicyName); !ok || d.cloud.Applied("iam:PutRolePolicy") != 1 {
		t.Errorf("role policy missing or applied %d times", d.cloud.Applied("iam:PutRolePolicy"))
	}
	_, err = d.exec(input(sever.ActionAWSRevokeSessions, sever.Values{"roles": []any{"no-such-role"}}))
	wantPermanent(t, err, "NotFound", "iam:PutRolePolicy", "no-such-role")
}

// A session the attacker minted before containment stops working once the revoke
// policy is in place on the role it assumed.
func TestRevokeSessionsDeniesOlderSessions(t *testing.T) {
	issued := time.Now().UTC().Add(-time.Hour)
	d := newDrill(t, withSeed(func(s *drillcloud.Seed) {
		s.Accounts[0].Roles = append(s.Accounts[0].Roles, drillcloud.SeedRole{Name: "ci-deploy-role", Created: issued,
			Sessions: []drillcloud.SeedSession{{ID: "ASIADRILLATTACKER001", Issued: issued}}})
	}))
	cfg, err := d.cloud.AWSConfig(t.Context(), "ASIADRILLATTACKER001")
	if err != nil {
		t.Fatal(err)
	}
	attacker := iam.NewFromConfig(cfg)
	list := &iam.ListRolePoliciesInput{RoleName: aws.String("ci-deploy-role")}
	if _, err := attacker.ListRolePolicies(t.Context(), list); err != nil {
		t.Fatalf("attacker's session before revocation: %v", err)
	}
	d.mustExec(input(sever.ActionAWSRevokeSessions, sever.Values{"roles": []any{"ci-deploy-role"}}))
	_, err = attacker.ListRolePolicies(t.Context(), list)
	if code, _ := awserr.Code(err); code != "AccessDenied" {
		t.Fatalf("attacker's session after revocation: %v; want AccessDenied", err)
	}
}
