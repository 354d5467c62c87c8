package awsact

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/drillcloud"
)

// A per-service endpoint wins over the base endpoint: with the base pointing nowhere,
// only the overridden services reach the drill cloud.
func TestFactoryEndpointOverrides(t *testing.T) {
	d := newDrill(t)
	f := NewFactory(FactoryOptions{EndpointURL: "http://127.0.0.1:1", MaxAttempts: 1,
		Endpoints: Endpoints{IAM: d.cloud.URL(), STS: d.cloud.URL()},
		LoadBase:  func(ctx context.Context) (aws.Config, error) { return d.cloud.AWSConfig(ctx, responderKey) }})
	c, err := f.Clients(t.Context(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.STS.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("STS with an override: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := c.EC2.DescribeVolumes(ctx, nil); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("EC2 without an override went elsewhere: %v", err)
	}
	again, _ := f.Clients(t.Context(), "", "")
	other, _ := f.Clients(t.Context(), "", "eu-west-1")
	if again != c || other == c || other.Region != "eu-west-1" || c.Region != drillcloud.DefaultRegion {
		t.Errorf("cache: same %v, other region %q vs %q", again == c, other.Region, c.Region)
	}
}

func TestFactoryFromConfig(t *testing.T) {
	cfg, err := config.Parse("sever.yaml", []byte(`aws:
  region: eu-west-1
  regions: [eu-west-1, us-east-1]
  endpoint_url: http://127.0.0.1:4566
  endpoints: {s3: "http://127.0.0.1:9000"}
  s3_use_path_style: true
  accounts:
    - id: "111122223333"
      role_arn: arn:aws:iam::111122223333:role/sever-responder
      regions: [us-west-2]
  evidence_bucket: acme-evidence
  evidence_retention: 48h
  evidence_lock_mode: GOVERNANCE
  max_attempts: 2
`))
	if err != nil {
		t.Fatal(err)
	}
	a := FromConfig(cfg.AWS, nil, nil)
	f := a.Clients.(*Factory)
	if f.o.Region != "eu-west-1" || f.o.EndpointURL != "http://127.0.0.1:4566" || f.o.Endpoints.S3 != "http://127.0.0.1:9000" ||
		!f.o.S3UsePathStyle || f.o.MaxAttempts != 2 || f.o.Accounts["111122223333"].RoleARN != "arn:aws:iam::111122223333:role/sever-responder" {
		t.Errorf("factory options = %+v", f.o)
	}
	if a.EvidenceBucket != "acme-evidence" || a.EvidenceRetention != 48*time.Hour || a.EvidenceLockMode != "GOVERNANCE" {
		t.Errorf("evidence settings = %q %v %q", a.EvidenceBucket, a.EvidenceRetention, a.EvidenceLockMode)
	}
	if got := a.regions("111122223333", nil); strings.Join(got, ",") != "us-west-2" {
		t.Errorf("account regions = %v", got)
	}
	if got := a.regions("444455556666", nil); strings.Join(got, ",") != "eu-west-1,us-east-1" {
		t.Errorf("default regions = %v", got)
	}
	if got := a.regions("", []string{"ap-south-1"}); strings.Join(got, ",") != "ap-south-1" {
		t.Errorf("explicit regions = %v", got)
	}
}

// An account with a role is reached through sts:AssumeRole with sever's ambient
// credentials, and results name the assumed role as the actor.
func TestFactoryAssumesRole(t *testing.T) {
	const role = "arn:aws:iam::" + account + ":role/sever-responder-role"
	d := newDrill(t, withSeed(func(s *drillcloud.Seed) {
		s.Accounts[0].Roles = append(s.Accounts[0].Roles, drillcloud.SeedRole{Name: "sever-responder-role"})
	}))
	f := NewFactory(FactoryOptions{MaxAttempts: 1, Accounts: map[string]AccountAccess{account: {RoleARN: role}},
		LoadBase: func(ctx context.Context) (aws.Config, error) { return d.cloud.AWSConfig(ctx, responderKey) }})
	a := New(f, nil)
	c, id, err := a.clients(t.Context(), "test", account, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(id.ARN, "assumed-role/sever-responder-role/sever") || c.Account != account {
		t.Errorf("actor = %q; want the assumed role", id.ARN)
	}
}
