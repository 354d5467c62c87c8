package awsact

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
)

// useExposedKey makes n IAM calls with the exposed key, as an attacker would, so that
// CloudTrail has something to show.
func useExposedKey(t *testing.T, d *drill, n int) {
	t.Helper()
	cfg, err := d.cloud.AWSConfig(t.Context(), exposedKey)
	if err != nil {
		t.Fatal(err)
	}
	c := iam.NewFromConfig(cfg)
	for range n {
		if _, err := c.ListAccessKeys(t.Context(), &iam.ListAccessKeysInput{}); err != nil {
			t.Fatalf("attacker call: %v", err)
		}
	}
}

func TestLookupEvents(t *testing.T) {
	d := newDrill(t)
	useExposedKey(t, d, 3)
	res, err := d.exec(input(sever.ActionAWSLookupEvents, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified || res.Output["events"] != float64(3) || len(res.Evidence) != 1 || len(res.Evidence[0].SHA256) != 64 {
		t.Fatalf("lookup = %+v", res)
	}
	if names := res.Output["event_names"].([]any); len(names) != 1 || names[0] != "iam.amazonaws.com:ListAccessKeys" {
		t.Errorf("event names = %v", names)
	}
	// The same history hashes the same.
	again := d.mustExec(input(sever.ActionAWSLookupEvents, nil))
	if again.Output["events"] != float64(3) {
		t.Errorf("second lookup = %+v", again.Output)
	}
}

// More events than one page, in two regions, paced at CloudTrail's 2 requests per
// second: every page is read and the drill cloud never throttles.
func TestLookupEventsPaginatesWithinRate(t *testing.T) {
	if testing.Short() {
		t.Skip("paced at 2 requests per second")
	}
	d := newDrill(t)
	d.acts.Regions = []string{"us-east-1", "eu-west-1"}
	useExposedKey(t, d, 120)
	start := time.Now()
	res, err := d.exec(input(sever.ActionAWSLookupEvents, nil))
	if err != nil {
		t.Fatal(err)
	}
	if res.Output["events"] != float64(120) {
		t.Fatalf("events = %v; want 120 (all pages)", res.Output["events"])
	}
	var lookups, throttled int
	for _, e := range d.cloud.Calls() {
		if e.Operation == "LookupEvents" {
			lookups++
			if strings.Contains(e.ErrorCode, "Throttl") {
				throttled++
			}
		}
	}
	if lookups < 4 || throttled > 0 {
		t.Errorf("LookupEvents calls %d, throttled %d; want at least 3 pages in us-east-1 and one in eu-west-1, none throttled", lookups, throttled)
	}
	// 3 pages in one account-region at 2/s with a burst of 1 take at least a second.
	if el := time.Since(start); el < time.Second {
		t.Errorf("took %v; the rate limit was not applied", el)
	}
	res, err = d.exec(input(sever.ActionAWSLookupEvents, sever.Values{"max_events": 60}))
	if err != nil || res.Output["events"] != float64(60) || res.Output["truncated"] != true {
		t.Errorf("max_events 60: %+v, %v", res.Output, err)
	}
}

func TestLookupEventsErrors(t *testing.T) {
	t.Run("AccessDenied", func(t *testing.T) {
		d := newDrill(t, denyResponder("cloudtrail:LookupEvents"))
		_, err := d.exec(input(sever.ActionAWSLookupEvents, nil))
		wantPermanent(t, err, "AccessDenied", "cloudtrail:LookupEvents", exposedKey)
	})
	t.Run("ThrottledRetried", func(t *testing.T) {
		d := newDrill(t)
		d.fault(drillcloud.Fault{Service: "cloudtrail", Operation: "LookupEvents", Kind: drillcloud.FaultThrottle, Count: 1})
		res, err := d.exec(input(sever.ActionAWSLookupEvents, nil))
		if err != nil || !res.Verified {
			t.Fatalf("lookup = %+v, %v", res, err)
		}
	})
	t.Run("BadArgs", func(t *testing.T) {
		d := newDrill(t)
		_, err := d.exec(input(sever.ActionAWSLookupEvents, sever.Values{"lookback": "3 days"}))
		wantPermanent(t, err, "InvalidArgument", "lookback")
		_, err = d.exec(input(sever.ActionAWSLookupEvents, sever.Values{"max_events": 100000}))
		wantPermanent(t, err, "InvalidArgument", "max_events")
	})
}

func TestSnapshotVolume(t *testing.T) {
	d := newDrill(t)
	in := input(sever.ActionAWSSnapshotVolume, sever.Values{"volume_id": drillcloud.DefaultVolumeID})
	res, err := d.exec(in)
	if err != nil {
		t.Fatal(err)
	}
	snaps := d.cloud.Snapshots()
	if !res.Verified || !res.Changed || len(snaps) != 1 || res.Output["snapshot_id"] != snaps[0].ID || len(res.Evidence) != 1 {
		t.Fatalf("snapshot = %+v; drill snapshots %+v", res, snaps)
	}
	if s := snaps[0]; s.Tags[tagIdempotencyKey] != in.IdempotencyKey || s.Tags[tagIncident] != in.IncidentID || s.VolumeID != drillcloud.DefaultVolumeID {
		t.Errorf("snapshot tags = %v", s.Tags)
	}
	res = d.mustExec(in)
	if res.Changed || res.Output["snapshot_id"] != snaps[0].ID || len(d.cloud.Snapshots()) != 1 {
		t.Fatalf("second snapshot = %+v; want the first one found", res)
	}
}

func TestSnapshotVolumeFaults(t *testing.T) {
	t.Run("DroppedResponse", func(t *testing.T) {
		d := newDrill(t)
		d.fault(drillcloud.Fault{Service: "ec2", Operation: "CreateSnapshot", Kind: drillcloud.FaultDropResponse, Count: 1})
		in := input(sever.ActionAWSSnapshotVolume, sever.Values{"volume_id": drillcloud.DefaultVolumeID})
		_, err := d.exec(in)
		wantRetryable(t, err, "ec2:CreateSnapshot", drillcloud.DefaultVolumeID)
		res := d.mustExec(in)
		if res.Changed || len(d.cloud.Snapshots()) != 1 || d.cloud.Applied("ec2:CreateSnapshot") != 1 {
			t.Fatalf("retry = %+v; snapshots %d", res, len(d.cloud.Snapshots()))
		}
	})
	t.Run("Throttled", func(t *testing.T) {
		d := newDrill(t)
		d.fault(drillcloud.Fault{Service: "ec2", Operation: "CreateSnapshot", Kind: drillcloud.FaultThrottle, Count: 1})
		in := input(sever.ActionAWSSnapshotVolume, sever.Values{"volume_id": drillcloud.DefaultVolumeID})
		_, err := d.exec(in)
		wantRetryable(t, err, "ec2:CreateSnapshot")
		if res := d.mustExec(in); !res.Changed || len(d.cloud.Snapshots()) != 1 {
			t.Fatalf("retry = %+v", res)
		}
	})
	t.Run("UnknownVolume", func(t *testing.T) {
		d := newDrill(t)
		_, err := d.exec(input(sever.ActionAWSSnapshotVolume, sever.Values{"volume_id": "vol-0000000000000dead"}))
		wantPermanent(t, err, "NotFound", "ec2:CreateSnapshot", "vol-0000000000000dead")
	})
	t.Run("AccessDenied", func(t *testing.T) {
		d := newDrill(t, denyResponder("ec2:CreateSnapshot"))
		_, err := d.exec(input(sever.ActionAWSSnapshotVolume, sever.Values{"volume_id": drillcloud.DefaultVolumeID}))
		wantPermanent(t, err, "AccessDenied", "ec2:CreateSnapshot")
	})
}

func TestStoreEvidence(t *testing.T) {
	d := newDrill(t)
	d.acts.EvidenceBucket = drillcloud.DefaultEvidenceBucket
	useExposedKey(t, d, 2)
	in := input(sever.ActionAWSStoreEvidence, nil)
	res, obj := d.storeEvidence(in)
	sum := sha256.Sum256(obj.Data)
	if !res.Verified || !res.Changed || len(res.Evidence) != 1 || res.Evidence[0].SHA256 != hex.EncodeToString(sum[:]) ||
		!strings.HasPrefix(res.Evidence[0].URI, "s3://"+drillcloud.DefaultEvidenceBucket+"/") {
		t.Fatalf("store = %+v", res)
	}
	if obj.LockMode != "COMPLIANCE" || obj.RetainUntil.Before(time.Now().Add(364*24*time.Hour)) || obj.ChecksumAlgo != "SHA256" {
		t.Errorf("object lock %s until %v, checksum %s", obj.LockMode, obj.RetainUntil, obj.ChecksumAlgo)
	}
	var b bundle
	if err := json.Unmarshal(obj.Data, &b); err != nil {
		t.Fatal(err)
	}
	if b.IncidentID != in.IncidentID || len(b.Signals) != 1 || b.IAM == nil || b.IAM.KeyStatus != "Active" ||
		b.CloudTrail == nil || len(b.CloudTrail.Events) != 2 || len(b.Gaps) != 0 {
		t.Errorf("bundle = %s", obj.Data)
	}
	// The retry finds the object instead of writing a second version.
	again := d.mustExec(in)
	if again.Changed || !again.Verified || again.Evidence[0].SHA256 != res.Evidence[0].SHA256 {
		t.Fatalf("second store = %+v", again)
	}
	if n := len(d.cloud.ObjectVersions(drillcloud.DefaultEvidenceBucket, res.Output["key"].(string))); n != 1 {
		t.Errorf("%d versions; want 1", n)
	}
}

func TestStoreEvidenceFaults(t *testing.T) {
	t.Run("DroppedResponse", func(t *testing.T) {
		d := newDrill(t)
		d.acts.EvidenceBucket = drillcloud.DefaultEvidenceBucket
		d.fault(drillcloud.Fault{Service: "s3", Operation: "PutObject", Kind: drillcloud.FaultDropResponse, Count: 1})
		in := input(sever.ActionAWSStoreEvidence, sever.Values{"include": []any{"signals"}})
		_, err := d.exec(in)
		wantRetryable(t, err, "s3:PutObject")
		res := d.mustExec(in)
		if res.Changed || !res.Verified || d.cloud.Applied("s3:PutObject") != 1 {
			t.Fatalf("retry = %+v, applied %d", res, d.cloud.Applied("s3:PutObject"))
		}
	})
	t.Run("GapsRecordedNotFatal", func(t *testing.T) {
		d := newDrill(t, denyResponder("cloudtrail:LookupEvents"))
		d.acts.EvidenceBucket = drillcloud.DefaultEvidenceBucket
		res, err := d.exec(input(sever.ActionAWSStoreEvidence, nil))
		if err != nil {
			t.Fatal(err)
		}
		obj, _ := d.cloud.Object(drillcloud.DefaultEvidenceBucket, res.Output["key"].(string))
		if !strings.Contains(string(obj.Data), "cloudtrail: ") || !strings.Contains(string(obj.Data), "AccessDenied") {
			t.Errorf("bundle does not state its gap: %s", obj.Data)
		}
	})
	tests := []struct {
		name    string
		opts    []drillOption
		bucket  string
		args    sever.Values
		errType string
		want    []string
	}{
		{"NoBucket", nil, "", nil, "InvalidArgument", []string{"aws.evidence_bucket"}},
		{"UnknownBucket", nil, "no-such-bucket", sever.Values{"include": []any{"signals"}}, "NotFound", []string{"no-such-bucket"}},
		{"AccessDenied", []drillOption{denyResponder("s3:PutObject")}, drillcloud.DefaultEvidenceBucket, sever.Values{"include": []any{"signals"}},
			"AccessDenied", []string{"s3:PutObject", drillcloud.DefaultEvidenceBucket}},
		{"BadInclude", nil, drillcloud.DefaultEvidenceBucket, sever.Values{"include": []any{"memory"}}, "InvalidArgument", []string{"memory"}},
		{"BadRetention", nil, drillcloud.DefaultEvidenceBucket, sever.Values{"retention": "forever"}, "InvalidArgument", []string{"retention"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDrill(t, tt.opts...)
			d.acts.EvidenceBucket = tt.bucket
			_, err := d.exec(input(sever.ActionAWSStoreEvidence, tt.args))
			wantPermanent(t, err, tt.errType, tt.want...)
		})
	}
}

func TestBedrockLoggingState(t *testing.T) {
	d := newDrill(t)
	res, err := d.exec(input(sever.ActionAWSBedrockLogging, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified || res.Output["logging_off"] != false || !strings.Contains(res.Summary, "on in us-east-1") {
		t.Fatalf("logging = %+v", res)
	}
	res = d.mustExec(input(sever.ActionAWSBedrockLogging, sever.Values{"regions": []any{"us-east-1", "eu-west-1"}}))
	if res.Verified || !strings.Contains(res.Summary, "OFF in eu-west-1") {
		t.Fatalf("logging in two regions = %+v", res)
	}
	d2 := newDrill(t, denyResponder("bedrock:GetModelInvocationLoggingConfiguration"))
	_, err = d2.exec(input(sever.ActionAWSBedrockLogging, nil))
	wantPermanent(t, err, "AccessDenied", "bedrock:GetModelInvocationLoggingConfiguration")
}

// storeEvidence runs in, an aws.s3.store_evidence step, and returns its result
// and the object it names in the drill cloud's evidence bucket.
func (d *drill) storeEvidence(in sever.ActionInput) (sever.ActionResult, drillcloud.ObjectInfo) {
	d.t.Helper()
	res := d.mustExec(in)
	key, _ := res.Output["key"].(string)
	obj, ok := d.cloud.Object(drillcloud.DefaultEvidenceBucket, key)
	if !ok {
		d.t.Fatalf("no object %q; result %+v", key, res)
	}
	return res, obj
}
