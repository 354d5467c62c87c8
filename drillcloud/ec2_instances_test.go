package drillcloud

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// TestEC2DescribeInstances reads the default instance (the one behind the seeded
// instance credentials) through the SDK: its volumes and instance profile are what
// forensics of stolen instance credentials snapshots and records.
func TestEC2DescribeInstances(t *testing.T) {
	c := defaultCloud(t)
	cli := ec2For(t, c, DefaultResponderKeyID)
	ctx := ctx(t)
	wantProfile := "arn:aws:iam::" + DefaultAccountID + ":instance-profile/" + DefaultInstanceProfile
	cases := []struct {
		name     string
		in       *ec2.DescribeInstancesInput
		wantIDs  []string
		wantCode string
	}{
		{"by id", &ec2.DescribeInstancesInput{InstanceIds: []string{DefaultInstanceID}}, []string{DefaultInstanceID}, ""},
		{"by instance-id filter", &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("instance-id"), Values: []string{DefaultInstanceID}}}},
			[]string{DefaultInstanceID}, ""},
		{"filter matching nothing", &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("instance-id"), Values: []string{"i-0000000000000dead"}}}},
			nil, ""},
		{"all", &ec2.DescribeInstancesInput{}, []string{DefaultInstanceID}, ""},
		{"unknown id", &ec2.DescribeInstancesInput{InstanceIds: []string{"i-0000000000000dead"}}, nil, "InvalidInstanceID.NotFound"},
		{"dry run", &ec2.DescribeInstancesInput{InstanceIds: []string{DefaultInstanceID}, DryRun: aws.Bool(true)}, nil, "DryRunOperation"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := cli.DescribeInstances(ctx, tc.in)
			if tc.wantCode != "" {
				if errCode(err) != tc.wantCode {
					t.Fatalf("error = %v, want %s", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []types.Instance
			for _, r := range out.Reservations {
				if aws.ToString(r.OwnerId) != DefaultAccountID {
					t.Errorf("reservation owner = %q", aws.ToString(r.OwnerId))
				}
				got = append(got, r.Instances...)
			}
			if len(got) != len(tc.wantIDs) {
				t.Fatalf("instances = %+v, want %v", got, tc.wantIDs)
			}
			for i, in := range got {
				if aws.ToString(in.InstanceId) != tc.wantIDs[i] {
					t.Fatalf("instance %d = %q, want %q", i, aws.ToString(in.InstanceId), tc.wantIDs[i])
				}
				if in.IamInstanceProfile == nil || aws.ToString(in.IamInstanceProfile.Arn) != wantProfile ||
					!strings.HasPrefix(aws.ToString(in.IamInstanceProfile.Id), "AIPA") {
					t.Errorf("instance profile = %+v, want %s", in.IamInstanceProfile, wantProfile)
				}
				if len(in.BlockDeviceMappings) != 1 || in.BlockDeviceMappings[0].Ebs == nil ||
					aws.ToString(in.BlockDeviceMappings[0].Ebs.VolumeId) != DefaultVolumeID ||
					aws.ToString(in.BlockDeviceMappings[0].DeviceName) != aws.ToString(in.RootDeviceName) {
					t.Errorf("block devices = %+v, root %q", in.BlockDeviceMappings, aws.ToString(in.RootDeviceName))
				}
				if in.State == nil || in.State.Name != types.InstanceStateNameRunning {
					t.Errorf("state = %+v", in.State)
				}
			}
		})
	}
}

// TestParseSeedInstanceErrors checks that an instance attaches only seeded volumes and
// names a role only with a profile, so a drill cannot describe an instance whose
// volume cannot be snapshotted.
func TestParseSeedInstanceErrors(t *testing.T) {
	const head = "accounts:\n  - id: \"111122223333\"\n    roles: [{name: r}]\n    volumes: [{id: vol-0000000000000001}]\n    instances:\n"
	cases := []struct{ name, yaml, want string }{
		{"bad id", head + "      - id: x-1\n", "invalid instance id"},
		{"duplicate id", head + "      - id: i-0000000000000001\n      - id: i-0000000000000001\n", "duplicate instance id"},
		{"unknown volume", head + "      - {id: i-0000000000000001, volumes: [vol-00000000000000ff]}\n", "is not a seeded volume"},
		{"volume twice", head + "      - {id: i-0000000000000001, volumes: [vol-0000000000000001]}\n      - {id: i-0000000000000002, volumes: [vol-0000000000000001]}\n",
			"attached to another instance"},
		{"volume in another region", head + "      - {id: i-0000000000000001, region: eu-west-1, volumes: [vol-0000000000000001]}\n", "is not a seeded volume in eu-west-1"},
		{"role without profile", head + "      - {id: i-0000000000000001, role: r}\n", "needs an instance_profile"},
		{"bad profile name", head + "      - {id: i-0000000000000001, instance_profile: \"a b\"}\n", "invalid instance profile name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { seedRejects(t, tc.yaml, tc.want) })
	}
	if _, err := ParseSeed([]byte(head + "      - {id: i-0000000000000001, volumes: [vol-0000000000000001], instance_profile: p, role: r}\n")); err != nil {
		t.Fatalf("valid instance: %v", err)
	}
}
