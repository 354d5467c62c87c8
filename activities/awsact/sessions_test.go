package awsact

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
)

// Names of the default seed's EC2 instance credentials.
const (
	sessionKey   = drillcloud.DefaultInstanceSessionID
	instanceRole = drillcloud.DefaultInstanceRole
	instanceID   = drillcloud.DefaultInstanceID
)

var instanceSessionARN = "arn:aws:sts::" + account + ":assumed-role/" + instanceRole + "/" + instanceID

// sessionInput is input for the temporary key, with the signal's principal.
func sessionInput(action, principal string, args sever.Values) sever.ActionInput {
	in := input(action, args)
	in.Credential = sever.Credential{Provider: "aws", Type: sever.CredAWSTemporaryCredentials, ID: sessionKey, Principal: principal}
	in.Signals[0].Credential = in.Credential
	return in
}

// useSession makes one call with the stolen session, so CloudTrail has an event of it.
func (d *drill) useSession(key string) error {
	d.t.Helper()
	cfg, err := d.cloud.AWSConfig(d.t.Context(), key)
	if err != nil {
		d.t.Fatal(err)
	}
	cfg.RetryMaxAttempts = 1
	_, err = s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).ListBuckets(d.t.Context(), &s3.ListBucketsInput{})
	return err
}

func TestSessionOwner(t *testing.T) {
	tests := []struct {
		name       string
		used       bool // the attacker used the key, so CloudTrail knows the session
		principal  string
		cred       func(c *sever.Credential)
		wantSource string
		wantErr    string
	}{
		{name: "from the signal's assumed-role ARN", principal: instanceSessionARN, wantSource: "signal"},
		{name: "from the signal's role ARN", principal: "arn:aws:iam::" + account + ":role/ec2/" + instanceRole, wantSource: "signal"},
		{name: "from CloudTrail", used: true, wantSource: "cloudtrail"},
		{name: "CloudTrail agrees with the signal", used: true, principal: instanceSessionARN, wantSource: "cloudtrail"},
		{name: "signal contradicts CloudTrail", used: true, principal: "arn:aws:sts::" + account + ":assumed-role/admin/x", wantErr: ErrIdentityMismatch},
		{name: "nobody names the issuer", wantErr: "NotFound"},
		{name: "signal names another account", principal: "arn:aws:sts::999988887777:assumed-role/" + instanceRole + "/" + instanceID, wantErr: ErrIdentityMismatch},
		{name: "role does not exist", principal: "arn:aws:sts::" + account + ":assumed-role/gone-role/s", wantErr: "NotFound"},
		{name: "an access key is not a session", cred: func(c *sever.Credential) { c.Type = sever.CredAWSAccessKey }, wantErr: "Unsupported"},
		{name: "a long-term key id is not a session", cred: func(c *sever.Credential) { c.ID = exposedKey }, wantErr: "InvalidArgument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDrill(t)
			if tt.used {
				if err := d.useSession(sessionKey); err != nil {
					t.Fatal(err)
				}
			}
			in := sessionInput(sever.ActionAWSSessionOwner, tt.principal, nil)
			if tt.cred != nil {
				in = withCred(in, tt.cred)
			}
			res, err := d.exec(in)
			if tt.wantErr != "" {
				wantPermanent(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out := res.Output
			if !res.Verified || res.Changed || out["role"] != instanceRole || out["account"] != account || out["source"] != tt.wantSource ||
				out["role_arn"] != "arn:aws:iam::"+account+":role/"+instanceRole {
				t.Fatalf("session_owner = %+v", res)
			}
			if tt.principal != "" && strings.Contains(tt.principal, "assumed-role") || tt.used {
				if out["instance_id"] != instanceID {
					t.Errorf("instance_id = %v; want %s", out["instance_id"], instanceID)
				}
			}
		})
	}
}

func TestRevokeRoleSessions(t *testing.T) {
	d := newDrill(t)
	if err := d.useSession(sessionKey); err != nil {
		t.Fatalf("stolen session before containment: %v", err)
	}
	revoke := sessionInput(sever.ActionAWSRevokeRoleSessions, "", sever.Values{"reason": "exposed"})

	// The write's response is lost: the retry reads the policy and does not write again.
	d.fault(drillcloud.Fault{Service: "iam", Operation: "PutRolePolicy", Kind: drillcloud.FaultDropResponse, Count: 1})
	_, err := d.exec(revoke)
	wantRetryable(t, err, "iam:PutRolePolicy", "role "+instanceRole)
	res := d.mustExec(revoke)
	if !res.Verified || res.Changed || res.Enforcement != sever.EnterpriseEnforced || res.Output["role"] != instanceRole {
		t.Fatalf("revoke retry = %+v", res)
	}
	doc, ok := d.cloud.RolePolicy(instanceRole, RevokePolicyName)
	cutoff, parsed := revokeCutoff(doc)
	if !ok || !parsed || time.Since(cutoff) > time.Minute || d.cloud.Applied("iam:PutRolePolicy") != 1 {
		t.Fatalf("role policy %q (cut-off %v), applied %d times", doc, cutoff, d.cloud.Applied("iam:PutRolePolicy"))
	}
	// The IAM console's "Revoke active sessions" document, exactly.
	want := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":%q}}}]}`,
		cutoff.Format(time.RFC3339))
	if doc != want {
		t.Errorf("policy document\n got %s\nwant %s", doc, want)
	}
	if err := d.useSession(sessionKey); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("stolen session after containment: %v; want AccessDenied", err)
	}

	// The compensation deletes it, and a second run finds nothing to do.
	undo := sessionInput(sever.ActionAWSDeleteRoleRevokePolicy, "", sever.Values{"reason": "false positive"})
	for i, wantChanged := range []bool{true, false} {
		res = d.mustExec(undo)
		if !res.Verified || res.Changed != wantChanged {
			t.Fatalf("delete_role_revoke_policy run %d = %+v", i+1, res)
		}
	}
	if _, ok := d.cloud.RolePolicy(instanceRole, RevokePolicyName); ok {
		t.Fatal("policy still on the role after the compensation")
	}
	if err := d.useSession(sessionKey); err != nil {
		t.Fatalf("session after the compensation: %v", err)
	}
}

func TestRevokeRoleSessionsKeepsLaterCutoff(t *testing.T) {
	later := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
	laterDoc, err := revokeDocument(later)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		existing    string
		wantChanged bool
		wantCutoff  func(time.Time) bool
	}{
		{"later cut-off kept", laterDoc, false, func(c time.Time) bool { return c.Equal(later) }},
		{"earlier cut-off raised", mustRevokeDoc(t, time.Now().Add(-24*time.Hour)), true, func(c time.Time) bool { return time.Since(c) < time.Minute }},
		{"other document of that name replaced", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}`, true,
			func(c time.Time) bool { return time.Since(c) < time.Minute }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDrill(t, withSeed(func(s *drillcloud.Seed) {
				s.Accounts[0].Roles[0].InlinePolicies = map[string]string{RevokePolicyName: tt.existing}
			}))
			res := d.mustExec(sessionInput(sever.ActionAWSRevokeRoleSessions, instanceSessionARN, nil))
			doc, _ := d.cloud.RolePolicy(instanceRole, RevokePolicyName)
			got, _ := revokeCutoff(doc)
			if !res.Verified || res.Changed != tt.wantChanged || !tt.wantCutoff(got) {
				t.Fatalf("revoke = %+v; policy cut-off %v", res, got)
			}
		})
	}
}

// A policy named AWSRevokeOlderSessions that is not a session revocation is not
// sever's to delete.
func TestDeleteRoleRevokePolicyRefusesOtherPolicies(t *testing.T) {
	other := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}`
	d := newDrill(t, withSeed(func(s *drillcloud.Seed) {
		s.Accounts[0].Roles[0].InlinePolicies = map[string]string{RevokePolicyName: other}
	}))
	_, err := d.exec(sessionInput(sever.ActionAWSDeleteRoleRevokePolicy, instanceSessionARN, nil))
	wantPermanent(t, err, "Forbidden", "not a session revocation")
	if doc, ok := d.cloud.RolePolicy(instanceRole, RevokePolicyName); !ok || doc != other {
		t.Fatalf("policy after refusal = %q, %v", doc, ok)
	}
}

func mustRevokeDoc(t *testing.T, cutoff time.Time) string {
	t.Helper()
	doc, err := revokeDocument(cutoff)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestIssuerFromEvent(t *testing.T) {
	tests := []struct {
		name, record string
		want         issuer
		ok           bool
	}{
		{"assumed role with issuer", `{"userIdentity":{"type":"AssumedRole","accessKeyId":"ASIAX","arn":"arn:aws:sts::1:assumed-role/r/i-1","sessionContext":{"sessionIssuer":{"type":"Role","userName":"r","arn":"arn:aws:iam::1:role/p/r"}}}}`,
			issuer{"role", "r", "i-1"}, true},
		{"assumed role, ARN only", `{"userIdentity":{"type":"AssumedRole","accessKeyId":"ASIAX","arn":"arn:aws:sts::1:assumed-role/r/s"}}`, issuer{"role", "r", "s"}, true},
		{"issuer contradicts ARN", `{"userIdentity":{"type":"AssumedRole","accessKeyId":"ASIAX","arn":"arn:aws:sts::1:assumed-role/r/s","sessionContext":{"sessionIssuer":{"type":"Role","userName":"other"}}}}`, issuer{}, false},
		{"user session", `{"userIdentity":{"type":"IAMUser","accessKeyId":"ASIAX","userName":"ci"}}`, issuer{"user", "ci", ""}, true},
		{"another key", `{"userIdentity":{"type":"IAMUser","accessKeyId":"ASIAY","userName":"ci"}}`, issuer{}, false},
		{"root", `{"userIdentity":{"type":"Root","accessKeyId":"ASIAX"}}`, issuer{}, false},
		{"not JSON", `{`, issuer{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := issuerFromEvent(tt.record, "ASIAX")
			if got != tt.want || ok != tt.ok {
				t.Fatalf("issuerFromEvent = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// FuzzIssuerFromEvent: CloudTrail records and signal principals are outside input.
// Whatever they hold, an issuer found has a kind and a plain name, and never panics.
func FuzzIssuerFromEvent(f *testing.F) {
	f.Add(`{"userIdentity":{"type":"AssumedRole","accessKeyId":"ASIAX","arn":"arn:aws:sts::1:assumed-role/r/i-1"}}`, "arn:aws:iam::1:role/a/b")
	f.Add(`{"userIdentity":{"type":"IAMUser","accessKeyId":"ASIAX","userName":"ci"}}`, "arn:aws:sts::1:assumed-role//")
	f.Fuzz(func(t *testing.T, record, principal string) {
		check := func(from string, is issuer, ok bool) {
			if ok && (is.Kind != "role" && is.Kind != "user" || is.Name == "" || strings.ContainsAny(is.Name, "/:")) {
				t.Fatalf("issuer %+v from %s %q / %q", is, from, record, principal)
			}
		}
		is, ok := issuerFromEvent(record, "ASIAX")
		check("event", is, ok)
		is, ok = issuerFromPrincipal(principal)
		check("principal", is, ok)
	})
}

// TestSessionIssuerRemembered pins what the revocation after session-owner asks
// CloudTrail, whose LookupEvents budget (2 a second) evidence paging shares: an
// issuer CloudTrail named is never asked again, for it cannot change; "no event"
// is trusted for trailSilence only, since events arrive minutes late and may
// then contradict the signal.
func TestSessionIssuerRemembered(t *testing.T) {
	for _, tc := range []struct {
		name      string
		used      bool          // CloudTrail has an event made with the key
		later     time.Duration // how long after session-owner the revocation runs
		wantCalls int           // LookupEvents calls of both steps together
	}{
		{name: "issuer found", used: true, later: time.Hour, wantCalls: 1},
		{name: "no event, just now", later: trailSilence - time.Second, wantCalls: 1},
		{name: "no event, long ago", later: trailSilence + time.Second, wantCalls: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDrill(t)
			if tc.used {
				if err := d.useSession(sessionKey); err != nil {
					t.Fatal(err)
				}
			}
			now := time.Now()
			d.acts.Now = func() time.Time { return now }
			d.mustExec(sessionInput(sever.ActionAWSSessionOwner, instanceSessionARN, nil))
			now = now.Add(tc.later)
			res := d.mustExec(sessionInput(sever.ActionAWSRevokeRoleSessions, instanceSessionARN, sever.Values{"reason": "exposed"}))
			if !res.Verified || res.Output["role"] != instanceRole {
				t.Fatalf("revoke = %+v", res)
			}
			if got := d.calls("cloudtrail", "LookupEvents"); got != tc.wantCalls {
				t.Errorf("LookupEvents calls = %d, want %d", got, tc.wantCalls)
			}
		})
	}
}

// TestSessionIssuerLateEventContradicts shows why "no event" is not kept for
// long: a CloudTrail event delivered later that names another role than the
// signal stops the revocation.
func TestSessionIssuerLateEventContradicts(t *testing.T) {
	d := newDrill(t)
	now := time.Now()
	d.acts.Now = func() time.Time { return now }
	// The signal names a role the seed lacks: with no CloudTrail event yet,
	// session-owner takes the signal's word and finds no such role.
	wrong := "arn:aws:sts::" + account + ":assumed-role/admin/x"
	_, err := d.exec(sessionInput(sever.ActionAWSSessionOwner, wrong, nil))
	wantPermanent(t, err, "NotFound")
	if err := d.useSession(sessionKey); err != nil {
		t.Fatal(err)
	}
	now = now.Add(trailSilence + time.Second)
	_, err = d.exec(sessionInput(sever.ActionAWSRevokeRoleSessions, wrong, sever.Values{"reason": "exposed"}))
	wantPermanent(t, err, ErrIdentityMismatch)
}
