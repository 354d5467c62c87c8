package awsact

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
)

// An AWSRevokeOlderSessions policy that is already on the role (planted by the attacker
// through the stolen session, or left over and edited) denies everything before a
// far-future cut-off, but only when a condition that never holds also holds. The
// read-back must not count it as revocation: the attacker's older session still works.
func TestRevokeSessionsReplacesAConditionallyNeutralisedPolicy(t *testing.T) {
	issued := time.Now().UTC().Add(-time.Hour)
	planted := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*",` +
		`"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2099-01-01T00:00:00Z"},` +
		`"StringEquals":{"aws:PrincipalTag/never":"set"}}}]}`
	d := newDrill(t, withSeed(func(s *drillcloud.Seed) {
		s.Accounts[0].Roles = append(s.Accounts[0].Roles, drillcloud.SeedRole{Name: "ci-deploy-role", Created: issued,
			Sessions:       []drillcloud.SeedSession{{ID: "ASIADRILLATTACKER001", Issued: issued}},
			InlinePolicies: map[string]string{RevokePolicyName: planted}})
	}))
	cfg, err := d.cloud.AWSConfig(t.Context(), "ASIADRILLATTACKER001")
	if err != nil {
		t.Fatal(err)
	}
	attacker := iam.NewFromConfig(cfg)
	list := &iam.ListRolePoliciesInput{RoleName: aws.String("ci-deploy-role")}
	res := d.mustExec(input(sever.ActionAWSRevokeSessions, sever.Values{"roles": []any{"ci-deploy-role"}}))
	_, attackerErr := attacker.ListRolePolicies(t.Context(), list)
	if res.Verified && res.Enforcement == sever.EnterpriseEnforced && attackerErr == nil {
		t.Fatalf("revoke_sessions reported verified, enterprise_enforced (changed=%v, %q) while the attacker's session issued before the cut-off still works",
			res.Changed, res.Summary)
	}
}

// Only a statement exactly like AWS's own revoke policy counts: anything that can
// make IAM skip the deny disqualifies it, however late its cut-off.
func TestRevokeCutoffCountsOnlyAnUnconditionalDenyEverything(t *testing.T) {
	const cut = `"DateLessThan":{"aws:TokenIssueTime":"2099-01-01T00:00:00Z"}`
	far := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		doc    string
		counts bool
	}{
		{"genuine policy", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{` + cut + `}}]}`, true},
		{"genuine policy with a Sid", `{"Statement":[{"Sid":"x","Effect":"Deny","Action":"*","Resource":"*","Condition":{` + cut + `}}]}`, true},
		{"condition under another operator", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{` + cut + `,"StringEquals":{"aws:PrincipalTag/never":"set"}}}]}`, false},
		{"second key under DateLessThan", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2099-01-01T00:00:00Z","aws:CurrentTime":"2000-01-01T00:00:00Z"}}}]}`, false},
		{"NotAction", `{"Statement":[{"Effect":"Deny","Action":"*","NotAction":"*","Resource":"*","Condition":{` + cut + `}}]}`, false},
		{"NotAction alone", `{"Statement":[{"Effect":"Deny","NotAction":"*","Resource":"*","Condition":{` + cut + `}}]}`, false},
		{"NotResource", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","NotResource":"*","Condition":{` + cut + `}}]}`, false},
		{"NotResource alone", `{"Statement":[{"Effect":"Deny","Action":"*","NotResource":"arn:aws:s3:::x","Condition":{` + cut + `}}]}`, false},
		{"Action narrower than everything", `{"Statement":[{"Effect":"Deny","Action":["s3:*"],"Resource":"*","Condition":{` + cut + `}}]}`, false},
		{"Resource narrower than everything", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"arn:aws:s3:::x","Condition":{` + cut + `}}]}`, false},
		{"Allow", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{` + cut + `}}]}`, false},
		{"no condition", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`, false},
		{"neutralised statement next to a genuine one", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{` + cut + `,"Bool":{"aws:SecureTransport":"false"}}},` +
			`{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2098-01-01T00:00:00Z"}}}]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := revokeCutoff(tt.doc)
			if ok != tt.counts {
				t.Fatalf("revokeCutoff counts = %v, want %v (cut-off %v)", ok, tt.counts, got)
			}
			if ok && got.After(far) {
				t.Fatalf("cut-off %v is later than any statement's", got)
			}
		})
	}
}

// A policy of sever's name that does not qualify is overwritten with sever's own,
// and the read-back verifies sever's statement; the genuine policy is kept.
func TestRevokeSessionsOverwritesAPolicyThatDoesNotQualify(t *testing.T) {
	const cut = `"DateLessThan":{"aws:TokenIssueTime":"2099-01-01T00:00:00Z"}`
	tests := []struct {
		name        string
		existing    string
		wantChanged bool
	}{
		{"extra condition key", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{` + cut + `,"StringEquals":{"aws:PrincipalTag/never":"set"}}}]}`, true},
		{"NotResource", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","NotResource":"arn:aws:s3:::x","Condition":{` + cut + `}}]}`, true},
		{"NotAction", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":"s3:GetObject","Resource":"*","Condition":{` + cut + `}}]}`, true},
		{"genuine policy", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{` + cut + `}}]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDrill(t, withSeed(func(s *drillcloud.Seed) {
				s.Accounts[0].Roles[0].InlinePolicies = map[string]string{RevokePolicyName: tt.existing}
			}))
			res := d.mustExec(sessionInput(sever.ActionAWSRevokeRoleSessions, instanceSessionARN, nil))
			doc, _ := d.cloud.RolePolicy(instanceRole, RevokePolicyName)
			if !res.Verified || res.Changed != tt.wantChanged {
				t.Fatalf("revoke = verified %v, changed %v (%q), want changed %v", res.Verified, res.Changed, res.Summary, tt.wantChanged)
			}
			if tt.wantChanged {
				if _, ok := revokeCutoff(doc); !ok || doc == tt.existing {
					t.Fatalf("policy left as %s", doc)
				}
			} else if doc != tt.existing {
				t.Fatalf("genuine policy replaced by %s", doc)
			}
		})
	}
}
