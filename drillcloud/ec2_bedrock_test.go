package drillcloud

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	brtypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func ec2For(t *testing.T, c *Cloud, keyID string) *ec2.Client {
	return ec2.NewFromConfig(noRetry(cfgFor(t, c, keyID)))
}

func snapshotInput(incident string) *ec2.CreateSnapshotInput {
	return &ec2.CreateSnapshotInput{
		VolumeId:    aws.String(DefaultVolumeID),
		Description: aws.String("sever evidence " + incident),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot, Tags: []types.Tag{
			{Key: aws.String("sever:incident"), Value: aws.String(incident)},
			{Key: aws.String("sever:step"), Value: aws.String("snapshot")},
		}}},
	}
}

func TestEC2Operations(t *testing.T) {
	c := defaultCloud(t, WithSnapshotDelay(time.Hour))
	cli := ec2For(t, c, DefaultResponderKeyID)
	ctx := ctx(t)

	t.Run("DescribeVolumes", func(t *testing.T) {
		out, err := cli.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{DefaultVolumeID}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Volumes) != 1 || aws.ToInt32(out.Volumes[0].Size) != 8 || aws.ToString(out.Volumes[0].AvailabilityZone) != "us-east-1a" ||
			len(out.Volumes[0].Tags) != 1 || aws.ToString(out.Volumes[0].Tags[0].Value) != "ci-runner-root" {
			t.Fatalf("volumes = %+v", out.Volumes)
		}
		out, err = cli.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []types.Filter{{Name: aws.String("tag:Name"), Values: []string{"ci-*"}}}})
		if err != nil || len(out.Volumes) != 1 {
			t.Fatalf("by tag wildcard = %+v, %v", out, err)
		}
		_, err = cli.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{"vol-0000000000000dead"}})
		if errCode(err) != "InvalidVolume.NotFound" {
			t.Fatalf("unknown volume: %v", err)
		}
	})

	var snapID string
	t.Run("CreateSnapshot", func(t *testing.T) {
		out, err := cli.CreateSnapshot(ctx, snapshotInput("inc-1"))
		if err != nil {
			t.Fatal(err)
		}
		snapID = aws.ToString(out.SnapshotId)
		if !strings.HasPrefix(snapID, "snap-") || out.State != types.SnapshotStatePending || aws.ToString(out.VolumeId) != DefaultVolumeID ||
			aws.ToString(out.OwnerId) != DefaultAccountID || len(out.Tags) != 2 || out.StartTime == nil {
			t.Fatalf("snapshot = %+v", out)
		}
		if s := c.Snapshots(); len(s) != 1 || s[0].Tags["sever:incident"] != "inc-1" {
			t.Fatalf("stored = %+v", s)
		}
		_, err = cli.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String("vol-0000000000000dead")})
		if errCode(err) != "InvalidVolume.NotFound" {
			t.Fatalf("unknown volume: %v", err)
		}
		bad := snapshotInput("x")
		bad.TagSpecifications[0].ResourceType = types.ResourceTypeVolume
		if _, err := cli.CreateSnapshot(ctx, bad); errCode(err) != "InvalidParameterValue" {
			t.Fatalf("wrong resource type: %v", err)
		}
		if _, err := cli.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(DefaultVolumeID), DryRun: aws.Bool(true)}); errCode(err) != "DryRunOperation" {
			t.Fatalf("dry run: %v", err)
		}
	})

	t.Run("DescribeSnapshots", func(t *testing.T) {
		if _, err := cli.CreateSnapshot(ctx, snapshotInput("inc-2")); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name string
			in   *ec2.DescribeSnapshotsInput
			want int
		}{
			{"all mine", &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}}, 2},
			{"by tag", &ec2.DescribeSnapshotsInput{Filters: []types.Filter{{Name: aws.String("tag:sever:incident"), Values: []string{"inc-1"}}}}, 1},
			{"by id", &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snapID}}, 1},
			{"by volume and status", &ec2.DescribeSnapshotsInput{Filters: []types.Filter{
				{Name: aws.String("volume-id"), Values: []string{DefaultVolumeID}}, {Name: aws.String("status"), Values: []string{"pending"}}}}, 2},
			{"no match", &ec2.DescribeSnapshotsInput{Filters: []types.Filter{{Name: aws.String("tag:sever:incident"), Values: []string{"inc-9"}}}}, 0},
		}
		for _, tc := range cases {
			out, err := cli.DescribeSnapshots(ctx, tc.in)
			if err != nil || len(out.Snapshots) != tc.want {
				t.Fatalf("%s: %d snapshots, %v; want %d", tc.name, len(out.Snapshots), err, tc.want)
			}
		}
		_, err := cli.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{"snap-00000000000000000"}})
		if errCode(err) != "InvalidSnapshot.NotFound" {
			t.Fatalf("unknown snapshot: %v", err)
		}
		var pages int
		p := ec2.NewDescribeSnapshotsPaginator(cli, &ec2.DescribeSnapshotsInput{MaxResults: aws.Int32(5)})
		for p.HasMorePages() {
			if _, err := p.NextPage(ctx); err != nil {
				t.Fatal(err)
			}
			pages++
		}
		if pages != 1 {
			t.Fatalf("%d pages", pages)
		}
	})
}

func TestSnapshotDropResponseIsNotIdempotent(t *testing.T) {
	c := defaultCloud(t)
	if err := c.InjectFault(Fault{Service: "ec2", Operation: "CreateSnapshot", Kind: FaultDropResponse, Count: 1}); err != nil {
		t.Fatal(err)
	}
	cli := ec2.NewFromConfig(fastRetry(cfgFor(t, c, DefaultResponderKeyID)))
	if _, err := cli.CreateSnapshot(ctx(t), snapshotInput("inc-1")); err != nil {
		t.Fatal(err)
	}
	// Like EC2, CreateSnapshot has no idempotency token: a blind retry after a
	// lost response makes a second snapshot. Callers must tag and look first.
	if n := len(c.Snapshots()); n != 2 || c.Applied("CreateSnapshot") != 2 {
		t.Fatalf("%d snapshots, %d applied", n, c.Applied("CreateSnapshot"))
	}
}

func TestBedrockOperations(t *testing.T) {
	c := defaultCloud(t)
	br := bedrock.NewFromConfig(noRetry(cfgFor(t, c, DefaultResponderKeyID)))
	ctx := ctx(t)

	out, err := br.GetModelInvocationLoggingConfiguration(ctx, &bedrock.GetModelInvocationLoggingConfigurationInput{})
	if err != nil {
		t.Fatal(err)
	}
	if out.LoggingConfig == nil || out.LoggingConfig.CloudWatchConfig == nil || aws.ToString(out.LoggingConfig.CloudWatchConfig.LogGroupName) != "/aws/bedrock/invocations" ||
		!aws.ToBool(out.LoggingConfig.TextDataDeliveryEnabled) {
		t.Fatalf("logging = %+v", out.LoggingConfig)
	}

	// The attacker switches logging off, then invokes a model.
	attacker := bedrock.NewFromConfig(noRetry(cfgFor(t, c, DefaultCompromisedKeyID)))
	if _, err := attacker.DeleteModelInvocationLoggingConfiguration(ctx, &bedrock.DeleteModelInvocationLoggingConfigurationInput{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.BedrockLogging(DefaultRegion); ok {
		t.Fatal("logging still on")
	}
	out, err = br.GetModelInvocationLoggingConfiguration(ctx, &bedrock.GetModelInvocationLoggingConfigurationInput{})
	if err != nil || out.LoggingConfig != nil {
		t.Fatalf("after delete = %+v, %v", out, err)
	}
	a, err := c.StartAttacker(ctx, AttackerConfig{KeyID: DefaultCompromisedKeyID, Operations: []string{AttackInvokeModel}, MaxAttempts: 1, Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	<-a.Done()
	if st := a.Stats(); st.Successes != 1 {
		t.Fatalf("invoke = %+v", st)
	}
	inv := c.Invocations()
	if len(inv) != 1 || inv[0].Logged || inv[0].ModelID != defaultAttackerModelID || inv[0].KeyID != DefaultCompromisedKeyID {
		t.Fatalf("invocations = %+v", inv)
	}

	// sever turns logging back on.
	put := &bedrock.PutModelInvocationLoggingConfigurationInput{LoggingConfig: &brtypes.LoggingConfig{
		S3Config:                &brtypes.S3Config{BucketName: aws.String("bedrock-logs"), KeyPrefix: aws.String("inv/")},
		TextDataDeliveryEnabled: aws.Bool(true),
	}}
	if _, err := br.PutModelInvocationLoggingConfiguration(ctx, put); err != nil {
		t.Fatal(err)
	}
	cfg, ok := c.BedrockLogging(DefaultRegion)
	var m map[string]any
	if !ok || json.Unmarshal([]byte(cfg), &m) != nil || m["s3Config"].(map[string]any)["bucketName"] != "bedrock-logs" {
		t.Fatalf("stored config = %s", cfg)
	}
	if _, err := br.PutModelInvocationLoggingConfiguration(ctx, put); err != nil {
		t.Fatal(err)
	}
	if n := c.Applied("PutModelInvocationLoggingConfiguration"); n != 1 {
		t.Fatalf("applied %d times", n)
	}
	ev := lastCall(t, c, "DeleteModelInvocationLoggingConfiguration")
	if ev.AccessKeyID != DefaultCompromisedKeyID || !ev.Applied || ev.EventSource != "bedrock.amazonaws.com" {
		t.Fatalf("delete logged as %+v", ev)
	}
}

func TestInvokeModelShapes(t *testing.T) {
	c := defaultCloud(t)
	for _, model := range []string{"anthropic.claude-3-haiku-20240307-v1:0", "amazon.titan-text-express-v1", "meta.llama3-8b-instruct-v1:0", "arn:aws:bedrock:us-east-1:111122223333:inference-profile/x"} {
		a, err := c.StartAttacker(ctx(t), AttackerConfig{KeyID: DefaultCompromisedKeyID, Operations: []string{AttackInvokeModel}, MaxAttempts: 1, ModelID: model})
		if err != nil {
			t.Fatal(err)
		}
		<-a.Done()
		if st := a.Stats(); st.Successes != 1 {
			t.Fatalf("%s: %+v", model, st.ByOperation)
		}
		if got := c.Invocations(); got[len(got)-1].ModelID != model || !got[len(got)-1].Logged {
			t.Fatalf("%s: recorded %+v", model, got[len(got)-1])
		}
	}
	if !bytes.Contains([]byte(lastCall(t, c, "InvokeModel").Action), []byte("bedrock:InvokeModel")) {
		t.Fatal("InvokeModel not evaluated as bedrock:InvokeModel")
	}
}
