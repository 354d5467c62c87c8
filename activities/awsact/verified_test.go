package awsact

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
)

// withCloud passes options to the drill cloud.
func withCloud(opts ...drillcloud.Option) drillOption {
	return func(d *drillSetup) { d.cloudOpts = append(d.cloudOpts, opts...) }
}

// A snapshot is evidence only once EBS says it is complete: a pending one may still
// fail, so it is recorded but not verified. Retries read the state again.
func TestSnapshotVerifiedOnlyWhenCompleted(t *testing.T) {
	tests := []struct {
		name         string
		delay        time.Duration
		action       string
		in           func() sever.ActionInput
		wantVerified bool
	}{
		{"volume pending", time.Hour, sever.ActionAWSSnapshotVolume, volumeInput, false},
		{"volume completed", 0, sever.ActionAWSSnapshotVolume, volumeInput, true},
		{"instance pending", time.Hour, sever.ActionAWSInstanceEvidence, instanceInput, false},
		{"instance completed", 0, sever.ActionAWSInstanceEvidence, instanceInput, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDrill(t, withCloud(drillcloud.WithSnapshotDelay(tc.delay)))
			in := tc.in()
			for _, attempt := range []string{"first", "retry"} {
				res := d.mustExec(in)
				if res.Verified != tc.wantVerified {
					t.Fatalf("%s: verified %v, want %v; result %+v", attempt, res.Verified, tc.wantVerified, res)
				}
				if !tc.wantVerified && !strings.Contains(res.Summary, "not verified") {
					t.Errorf("%s: summary %q does not say the snapshot is not verified", attempt, res.Summary)
				}
			}
		})
	}
}

func volumeInput() sever.ActionInput {
	return input(sever.ActionAWSSnapshotVolume, sever.Values{"volume_id": drillcloud.DefaultVolumeID})
}

func instanceInput() sever.ActionInput {
	return sessionInput(sever.ActionAWSInstanceEvidence, instanceSessionARN, nil)
}

// store_evidence is verified by S3's own SHA-256 checksum of the object, never by
// the metadata sever wrote: a later version of the object whose metadata repeats a
// hash S3 does not confirm must read back as not verified.
func TestStoreEvidenceVerifiedByS3Checksum(t *testing.T) {
	tests := []struct {
		name string
		// put writes a new version of the evidence object, as someone other than
		// the first attempt might have.
		put          func(in *s3.PutObjectInput, body []byte)
		wantVerified bool
	}{
		{"intact", nil, true},
		{"metadata contradicts S3's checksum", func(in *s3.PutObjectInput, body []byte) {
			sum := sha256.Sum256(body)
			in.ChecksumAlgorithm, in.ChecksumSHA256 = s3types.ChecksumAlgorithmSha256, aws.String(base64.StdEncoding.EncodeToString(sum[:]))
			in.Metadata = map[string]string{"sha256": strings.Repeat("0", 64)}
		}, false},
		{"no SHA-256 checksum in S3", func(in *s3.PutObjectInput, body []byte) {
			sum := sha256.Sum256(body)
			in.ChecksumAlgorithm = s3types.ChecksumAlgorithmCrc32
			in.Metadata = map[string]string{"sha256": hex.EncodeToString(sum[:])}
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDrill(t)
			d.acts.EvidenceBucket = drillcloud.DefaultEvidenceBucket
			in := input(sever.ActionAWSStoreEvidence, sever.Values{"include": []any{"signals"}})
			first := d.mustExec(in)
			if !first.Verified || !first.Changed {
				t.Fatalf("first store = %+v", first)
			}
			if tc.put != nil {
				key := first.Output["key"].(string)
				body := []byte(`{"format":"not what sever wrote"}`)
				put := &s3.PutObjectInput{Bucket: aws.String(drillcloud.DefaultEvidenceBucket), Key: aws.String(key),
					Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
					ObjectLockMode: s3types.ObjectLockModeCompliance, ObjectLockRetainUntilDate: aws.Time(time.Now().Add(400 * 24 * time.Hour))}
				tc.put(put, body)
				cfg, err := d.cloud.AWSConfig(t.Context(), responderKey)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).PutObject(t.Context(), put); err != nil {
					t.Fatalf("put the later version: %v", err)
				}
			}
			again := d.mustExec(in)
			if again.Changed || again.Verified != tc.wantVerified {
				t.Fatalf("retry: changed %v verified %v, want unchanged and verified %v; %+v", again.Changed, again.Verified, tc.wantVerified, again)
			}
			if !tc.wantVerified && !strings.Contains(again.Summary, "not verified") {
				t.Errorf("summary %q does not say the evidence is not verified", again.Summary)
			}
		})
	}
}
