package awsact

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"go.temporal.io/sdk/temporal"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
	"github.com/sever-ir/sever/internal/awserr"
	"github.com/sever-ir/sever/internal/secretscan"
)

// Defaults and bounds of the evidence actions.
const (
	// defaultLookback is CloudTrail's event history: LookupEvents sees 90 days.
	defaultLookback  = 90 * 24 * time.Hour
	defaultMaxEvents = 1000
	maxMaxEvents     = 10000
	defaultPrefix    = "sever/evidence/"
	// summaryTop bounds the lists in a lookup's output; the full record is in the evidence.
	summaryTop = 20
)

// Evidence bundle parts that store_evidence can include.
const (
	includeSignals    = "signals"
	includeIAM        = "iam"
	includeCloudTrail = "cloudtrail"
)

// Tags sever puts on what it creates, so a retry finds its own earlier work.
const (
	tagIncident       = "sever:incident"
	tagStep           = "sever:step"
	tagIdempotencyKey = "sever:idempotency-key"
	tagCredential     = "sever:credential"
)

func ec2Once(o *ec2.Options) { o.RetryMaxAttempts = 1 }
func s3Once(o *s3.Options)   { o.RetryMaxAttempts = 1 }

// LookupArgs are the arguments of aws.cloudtrail.lookup_events.
type LookupArgs struct {
	Account   string   `json:"account"`
	Regions   []string `json:"regions"`
	Lookback  string   `json:"lookback"`   // Go duration; default 2160h (CloudTrail keeps 90 days)
	MaxEvents int      `json:"max_events"` // default 1000, at most 10000
}

// SnapshotArgs are the arguments of aws.ec2.snapshot_volume.
type SnapshotArgs struct {
	VolumeID    string `json:"volume_id"`
	Region      string `json:"region"`
	Account     string `json:"account"`
	Description string `json:"description"`
}

// StoreArgs are the arguments of aws.s3.store_evidence.
type StoreArgs struct {
	Bucket    string   `json:"bucket"`    // default aws.evidence_bucket
	Prefix    string   `json:"prefix"`    // default sever/evidence/
	Include   []string `json:"include"`   // signals, iam, cloudtrail; default all
	Retention string   `json:"retention"` // Go duration; default aws.evidence_retention
	Account   string   `json:"account"`   // the bucket's account; default sever's own
	Region    string   `json:"region"`    // the bucket's region; default the home region
}

// BedrockArgs are the arguments of aws.bedrock.logging_state.
type BedrockArgs struct {
	Account string   `json:"account"`
	Regions []string `json:"regions"`
}

// trailEvent is one CloudTrail event as recorded in evidence.
type trailEvent struct {
	Region      string `json:"region"`
	EventID     string `json:"event_id"`
	EventName   string `json:"event_name"`
	EventSource string `json:"event_source"`
	EventTime   string `json:"event_time"`
	Username    string `json:"username,omitempty"`
	ReadOnly    string `json:"read_only,omitempty"`
	// Record is CloudTrail's full JSON record, kept verbatim so the hash covers it.
	Record string `json:"record,omitempty"`
}

// trailDoc is what lookup_events hashes and store_evidence stores.
type trailDoc struct {
	AccessKeyID string       `json:"access_key_id"`
	Account     string       `json:"account"`
	Regions     []string     `json:"regions"`
	StartTime   string       `json:"start_time"`
	EndTime     string       `json:"end_time"`
	Truncated   bool         `json:"truncated"`
	Events      []trailEvent `json:"events"`
}

func duration(action, field, s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, activities.Permanent(activities.ErrInvalidArgument,
			fmt.Sprintf("%s: %s %q: want a positive Go duration such as 720h", action, field, s), nil)
	}
	return d, nil
}

// LookupEvents reads every CloudTrail event made with the key in each evidence region,
// paginated and within LookupEvents' 2 requests per second, and records the SHA-256 of
// the canonical event list. The output keeps counts only.
func (a *Activities) LookupEvents(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args LookupArgs
	if err := activities.DecodeArgs(in.Action, in.Args, &args); err != nil {
		return sever.ActionResult{}, err
	}
	if err := checkKeyOrSession(in); err != nil {
		return sever.ActionResult{}, err
	}
	lookback, err := duration(in.Action, "lookback", args.Lookback, defaultLookback)
	if err != nil {
		return sever.ActionResult{}, err
	}
	if args.MaxEvents == 0 {
		args.MaxEvents = defaultMaxEvents
	}
	if args.MaxEvents < 0 || args.MaxEvents > maxMaxEvents {
		return sever.ActionResult{}, activities.Permanent(activities.ErrInvalidArgument,
			fmt.Sprintf("%s: max_events %d: want 1..%d", in.Action, args.MaxEvents, maxMaxEvents), nil)
	}
	account, err := a.keyAccount(ctx, in, args.Account)
	if err != nil {
		return sever.ActionResult{}, err
	}
	doc, actor, err := a.collectEvents(ctx, in, account, args.Regions, lookback, args.MaxEvents)
	if err != nil {
		return sever.ActionResult{}, err
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return sever.ActionResult{}, fmt.Errorf("%s: encode events: %w", in.Action, err)
	}
	out := summarizeEvents(doc)
	summary := fmt.Sprintf("%d CloudTrail events for key %s in %s", len(doc.Events), in.Credential.ID, strings.Join(doc.Regions, ", "))
	if doc.Truncated {
		summary += fmt.Sprintf(" (stopped at max_events %d)", args.MaxEvents)
	}
	return sever.ActionResult{Verified: true, Actor: actor, Summary: summary, Output: out,
		Evidence: []sever.Artifact{{Name: "cloudtrail-" + in.Credential.ID + ".json", SHA256: sever.SHA256Hex(body), Size: int64(len(body))}}}, nil
}

// collectEvents runs LookupEvents by AccessKeyId in each region. Events are sorted, so the
// same history always hashes the same.
func (a *Activities) collectEvents(ctx context.Context, in sever.ActionInput, account string, regions []string, lookback time.Duration, max int) (trailDoc, string, error) {
	// No EndTime on the request: CloudTrail then reads up to now, including events of the
	// current second, which an end truncated to the second would cut off.
	now := a.now()
	start := now.Add(-lookback).Truncate(time.Second)
	doc := trailDoc{AccessKeyID: in.Credential.ID, Account: account, StartTime: start.Format(time.RFC3339),
		EndTime: now.Format(time.RFC3339Nano), Events: []trailEvent{}}
	var actor string
	for _, region := range a.regions(account, regions) {
		c, id, err := a.clients(ctx, in.Action, account, region)
		if err != nil {
			return trailDoc{}, "", err
		}
		actor = id.ARN
		doc.Regions = append(doc.Regions, c.Region)
		lim := a.limiter(account, c.Region)
		p := cloudtrail.NewLookupEventsPaginator(c.CloudTrail, &cloudtrail.LookupEventsInput{
			LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyAccessKeyId, AttributeValue: aws.String(in.Credential.ID)}},
			StartTime:        aws.Time(start), MaxResults: aws.Int32(50),
		})
		for p.HasMorePages() && !doc.Truncated {
			if err := lim.Wait(ctx, false); err != nil {
				return trailDoc{}, "", fmt.Errorf("%s: cloudtrail:LookupEvents rate limit: %w", in.Action, err)
			}
			page, err := p.NextPage(ctx)
			if err != nil {
				return trailDoc{}, "", classify(in.Action, "cloudtrail:LookupEvents", fmt.Sprintf("key %s in %s %s", in.Credential.ID, account, c.Region), err)
			}
			for _, e := range page.Events {
				if len(doc.Events) == max {
					doc.Truncated = true
					break
				}
				ev := trailEvent{Region: c.Region, EventID: aws.ToString(e.EventId), EventName: aws.ToString(e.EventName),
					EventSource: aws.ToString(e.EventSource), Username: aws.ToString(e.Username), ReadOnly: aws.ToString(e.ReadOnly),
					Record: aws.ToString(e.CloudTrailEvent)}
				if e.EventTime != nil {
					ev.EventTime = e.EventTime.UTC().Format(time.RFC3339)
				}
				doc.Events = append(doc.Events, ev)
			}
		}
	}
	sort.SliceStable(doc.Events, func(i, j int) bool {
		x, y := doc.Events[i], doc.Events[j]
		if x.EventTime != y.EventTime {
			return x.EventTime < y.EventTime
		}
		return x.EventID < y.EventID
	})
	return doc, actor, nil
}

// summarizeEvents is the small output of a lookup: counts, the busiest event names and
// the source addresses, each list capped.
func summarizeEvents(doc trailDoc) sever.Values {
	byRegion := map[string]int{}
	byName := map[string]int{}
	ips := map[string]int{}
	for _, e := range doc.Events {
		byRegion[e.Region]++
		byName[e.EventSource+":"+e.EventName]++
		var rec struct {
			SourceIPAddress string `json:"sourceIPAddress"`
		}
		if json.Unmarshal([]byte(e.Record), &rec) == nil && rec.SourceIPAddress != "" {
			ips[rec.SourceIPAddress]++
		}
	}
	out := sever.Values{"events": len(doc.Events), "regions": doc.Regions, "by_region": byRegion,
		"event_names": top(byName), "source_ips": top(ips), "truncated": doc.Truncated}
	if n := len(doc.Events); n > 0 {
		out["first_event_at"], out["last_event_at"] = doc.Events[0].EventTime, doc.Events[n-1].EventTime
	}
	return out
}

// top returns the most frequent keys (ties by name), at most summaryTop.
func top(counts map[string]int) []string {
	keys := slices.Sorted(maps.Keys(counts))
	sort.SliceStable(keys, func(i, j int) bool { return counts[keys[i]] > counts[keys[j]] })
	if len(keys) > summaryTop {
		keys = keys[:summaryTop]
	}
	if keys == nil {
		keys = []string{}
	}
	return keys
}

// evidenceAccount is the account of a step that may run for any credential type: the
// argument (the runbook's, naming where the evidence is, which may be another account
// than the key's), else an AWS key's own account as AWS names it (a contradicting
// signal is refused, see keyAccount), else the credential's account, else sever's
// ambient one.
func (a *Activities) evidenceAccount(ctx context.Context, in sever.ActionInput, explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if (in.Credential.Type == sever.CredAWSAccessKey || in.Credential.Type == sever.CredAWSTemporaryCredentials) && in.Credential.ID != "" {
		return a.keyAccount(ctx, in, "")
	}
	return in.Credential.Account, nil
}

// SnapshotVolume snapshots an EBS volume for forensics. CreateSnapshot has no client
// token, so the snapshot carries the step's idempotency key as a tag and every attempt
// looks for it before taking one.
func (a *Activities) SnapshotVolume(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args SnapshotArgs
	if err := activities.DecodeArgs(in.Action, in.Args, &args); err != nil {
		return sever.ActionResult{}, err
	}
	if args.VolumeID == "" {
		return sever.ActionResult{}, activities.Permanent(activities.ErrInvalidArgument, in.Action+": volume_id is required", nil)
	}
	if in.IdempotencyKey == "" {
		return sever.ActionResult{}, activities.Permanent(activities.ErrInvalidArgument, in.Action+": no idempotency key to tag the snapshot with", nil)
	}
	account, err := a.evidenceAccount(ctx, in, args.Account)
	if err != nil {
		return sever.ActionResult{}, err
	}
	c, id, err := a.clients(ctx, in.Action, account, args.Region)
	if err != nil {
		return sever.ActionResult{}, err
	}
	subject := fmt.Sprintf("volume %s in %s %s", args.VolumeID, orAmbient(account), c.Region)
	snap, changed, err := snapshotOnce(ctx, c, in, args.VolumeID, args.Description, subject)
	if err != nil {
		return sever.ActionResult{}, err
	}
	snapID := aws.ToString(snap.SnapshotId)
	record := sever.Values{"snapshot_id": snapID, "volume_id": args.VolumeID, "account": account, "region": c.Region,
		"state": string(snap.State), "idempotency_key": in.IdempotencyKey}
	if snap.StartTime != nil {
		record["start_time"] = snap.StartTime.UTC().Format(time.RFC3339)
	}
	b, _ := json.Marshal(record) // a map of strings always encodes
	summary := fmt.Sprintf("snapshot %s of %s (%s)", snapID, subject, snap.State)
	if !changed {
		summary = "found the earlier attempt's " + summary
	}
	verified := snapshotComplete(snap)
	if !verified {
		summary += "; not verified until EBS reports it completed"
	}
	uri := fmt.Sprintf("arn:aws:ec2:%s:%s:snapshot/%s", c.Region, id.Account, snapID)
	return sever.ActionResult{Verified: verified, Actor: id.ARN, Changed: changed,
		Summary: summary, Output: record,
		Evidence: []sever.Artifact{{Name: "ebs-snapshot-" + snapID + ".json", URI: uri, SHA256: sever.SHA256Hex(b), Size: int64(len(b))}}}, nil
}

// snapshotComplete reports whether EBS says the snapshot is complete. A pending
// snapshot may still fail, and sever's own request proves nothing about it, so only
// the state EBS reports counts.
func snapshotComplete(s *ec2types.Snapshot) bool {
	return s.State == ec2types.SnapshotStateCompleted
}

// snapshotOnce snapshots one volume, tagged with the step's idempotency key, unless an
// earlier attempt of the step already did: CreateSnapshot has no client token, so the
// tag is what makes a retry find its own snapshot instead of taking a second. Snapshots
// of several volumes by one step share the key and are told apart by volume id.
func snapshotOnce(ctx context.Context, c *Clients, in sever.ActionInput, volumeID, description, subject string) (*ec2types.Snapshot, bool, error) {
	find := func(in *ec2.DescribeSnapshotsInput) (*ec2types.Snapshot, error) {
		out, err := c.EC2.DescribeSnapshots(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, s := range out.Snapshots {
			if aws.ToString(s.VolumeId) == volumeID {
				return &s, nil
			}
		}
		return nil, nil
	}
	snap, err := find(&ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"},
		Filters: []ec2types.Filter{{Name: aws.String("tag:" + tagIdempotencyKey), Values: []string{in.IdempotencyKey}}}})
	if err != nil {
		return nil, false, classify(in.Action, "ec2:DescribeSnapshots", subject, err)
	}
	changed := snap == nil
	if changed {
		desc := description
		if desc == "" {
			desc = fmt.Sprintf("sever incident %s step %s: credential %s", in.IncidentID, in.StepID, in.Credential.ID)
		}
		out, err := c.EC2.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(volumeID), Description: aws.String(desc),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSnapshot, Tags: []ec2types.Tag{
				{Key: aws.String(tagIncident), Value: aws.String(in.IncidentID)},
				{Key: aws.String(tagStep), Value: aws.String(in.StepID)},
				{Key: aws.String(tagIdempotencyKey), Value: aws.String(in.IdempotencyKey)},
				{Key: aws.String(tagCredential), Value: aws.String(in.Credential.ID)},
			}}}}, ec2Once)
		if err != nil {
			return nil, false, classify(in.Action, "ec2:CreateSnapshot", subject, err)
		}
		snap, err = find(&ec2.DescribeSnapshotsInput{SnapshotIds: []string{aws.ToString(out.SnapshotId)}})
		if err != nil {
			return nil, false, classify(in.Action, "ec2:DescribeSnapshots read-back", subject, err)
		}
		if snap == nil {
			snap = &ec2types.Snapshot{SnapshotId: out.SnapshotId, VolumeId: out.VolumeId, State: out.State, StartTime: out.StartTime}
		}
	}
	return snap, changed, nil
}

// bundle is the evidence object store_evidence writes.
type bundle struct {
	Format      string           `json:"format"`
	IncidentID  string           `json:"incident_id"`
	StepID      string           `json:"step_id"`
	Drill       bool             `json:"drill,omitempty"`
	Credential  sever.Credential `json:"credential"`
	CollectedAt string           `json:"collected_at"`
	Collector   string           `json:"collector"`
	Signals     []sever.Signal   `json:"signals,omitempty"`
	// SignalSummary accounts for every signal; Signals is the first and the latest.
	SignalSummary *sever.SignalSummary `json:"signal_summary,omitempty"`
	IAM           *iamState            `json:"iam,omitempty"`
	CloudTrail    *trailDoc            `json:"cloudtrail,omitempty"`
	// Gaps lists what could not be collected (access denied, not found), so the bundle
	// states its own limits instead of looking complete.
	Gaps []string `json:"gaps,omitempty"`
}

// iamState is the key's IAM state at collection time.
type iamState struct {
	Account          string   `json:"account"`
	User             string   `json:"user"`
	KeyStatus        string   `json:"key_status"`
	AttachedPolicies []string `json:"attached_policies"`
	InlinePolicies   []string `json:"inline_policies"`
}

// StoreEvidence writes an evidence bundle to S3 under Object Lock, with a SHA-256 checksum
// S3 verifies on upload, and records the hash. The object key is derived from the step's
// idempotency key, so a retry finds the object of an earlier attempt instead of writing a
// second version.
func (a *Activities) StoreEvidence(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args StoreArgs
	if err := activities.DecodeArgs(in.Action, in.Args, &args); err != nil {
		return sever.ActionResult{}, err
	}
	bucket := cmp(args.Bucket, a.EvidenceBucket)
	if bucket == "" {
		return sever.ActionResult{}, activities.Permanent(activities.ErrInvalidArgument,
			in.Action+": no bucket: set aws.evidence_bucket or the step's bucket argument", nil)
	}
	if in.IdempotencyKey == "" {
		return sever.ActionResult{}, activities.Permanent(activities.ErrInvalidArgument, in.Action+": no idempotency key to name the object by", nil)
	}
	retention, err := duration(in.Action, "retention", args.Retention, a.EvidenceRetention)
	if err != nil {
		return sever.ActionResult{}, err
	}
	include := args.Include
	if len(include) == 0 {
		include = []string{includeSignals, includeIAM, includeCloudTrail}
	}
	for _, part := range include {
		if !slices.Contains([]string{includeSignals, includeIAM, includeCloudTrail}, part) {
			return sever.ActionResult{}, activities.Permanent(activities.ErrInvalidArgument,
				fmt.Sprintf("%s: include %q: want signals, iam or cloudtrail", in.Action, part), nil)
		}
	}
	mode := s3types.ObjectLockMode(cmp(a.EvidenceLockMode, string(s3types.ObjectLockModeCompliance)))
	c, id, err := a.clients(ctx, in.Action, args.Account, args.Region)
	if err != nil {
		return sever.ActionResult{}, err
	}
	prefix := cmp(args.Prefix, defaultPrefix)
	key := path.Join(prefix, safeKey(in.IncidentID), fmt.Sprintf("%s-%s.json", safeKey(in.StepID), sever.SHA256Hex([]byte(in.IdempotencyKey))[:12]))
	subject := fmt.Sprintf("s3://%s/%s", bucket, key)

	head, err := c.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumMode: s3types.ChecksumModeEnabled})
	if err != nil && !isNotFound(err) {
		return sever.ActionResult{}, classify(in.Action, "s3:HeadObject", subject, err)
	}
	changed := err != nil
	var sum string
	var size int64
	var retainUntil time.Time
	if changed {
		body, err := a.buildBundle(ctx, in, include, id.ARN)
		if err != nil {
			return sever.ActionResult{}, err
		}
		digest := sha256.Sum256(body)
		sum, size = hex.EncodeToString(digest[:]), int64(len(body))
		retainUntil = a.now().Add(retention).Truncate(time.Second)
		_, err = c.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
			ContentLength: aws.Int64(size), ContentType: aws.String("application/json"),
			ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256, ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(digest[:])),
			ObjectLockMode: mode, ObjectLockRetainUntilDate: aws.Time(retainUntil),
			Metadata: map[string]string{"sha256": sum, "incident": in.IncidentID}}, s3Once)
		if err != nil {
			return sever.ActionResult{}, classify(in.Action, "s3:PutObject", subject, err)
		}
		if head, err = c.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumMode: s3types.ChecksumModeEnabled}); err != nil {
			return sever.ActionResult{}, classify(in.Action, "s3:HeadObject read-back", subject, err)
		}
	}
	// S3's checksum is the read of state sever did not write: S3 computes it over the
	// bytes it stores. The metadata hash is only sever's claim, from whichever attempt
	// wrote the object, so it decides nothing on its own.
	s3sum := s3SHA256(head)
	if sum == "" {
		claimed := head.Metadata["sha256"]
		sum, size, retainUntil = cmp(s3sum, claimed), aws.ToInt64(head.ContentLength), aws.ToTime(head.ObjectLockRetainUntilDate)
		if claimed != "" && claimed != s3sum {
			s3sum = "" // the object is not the one the earlier attempt wrote
		}
	}
	locked := head.ObjectLockMode == mode && head.ObjectLockRetainUntilDate != nil && !head.ObjectLockRetainUntilDate.Before(retainUntil.Add(-time.Second))
	verified := locked && s3sum != "" && s3sum == sum
	uri := "s3://" + bucket + "/" + key
	if v := aws.ToString(head.VersionId); v != "" {
		uri += "?versionId=" + v
	}
	out := sever.Values{"bucket": bucket, "key": key, "version_id": aws.ToString(head.VersionId), "sha256": sum, "size": size,
		"lock_mode": string(head.ObjectLockMode), "retain_until": aws.ToTime(head.ObjectLockRetainUntilDate).UTC().Format(time.RFC3339)}
	summary := fmt.Sprintf("evidence stored at %s under %s lock until %s", uri, head.ObjectLockMode, out["retain_until"])
	switch {
	case !changed && verified:
		summary = "found the earlier attempt's " + summary
	case !changed:
		summary = "found the earlier attempt's " + summary + "; not verified: S3's own SHA-256 checksum of the object is missing or differs from the hash its metadata claims"
	case !verified:
		summary += "; not verified: the read-back did not show the expected lock and S3's own SHA-256 checksum of the object"
	}
	return sever.ActionResult{Verified: verified, Actor: id.ARN, Changed: changed, Summary: summary, Output: out,
		Evidence: []sever.Artifact{{Name: path.Base(key), URI: uri, SHA256: sum, Size: size}}}, nil
}

// s3SHA256 is the object's SHA-256 as S3 computed it (x-amz-checksum-sha256 of a
// single-part upload, asked for with ChecksumMode ENABLED), in hex; "" when S3 holds
// none. A multipart upload's checksum of checksums does not decode to a SHA-256 and
// counts as none.
func s3SHA256(h *s3.HeadObjectOutput) string {
	if b, err := base64.StdEncoding.DecodeString(aws.ToString(h.ChecksumSHA256)); err == nil && len(b) == sha256.Size {
		return hex.EncodeToString(b)
	}
	return ""
}

func isNotFound(err error) bool {
	code, status := awserr.Code(err)
	return code == "NotFound" || code == "NoSuchKey" || code == "" && status == 404
}

// safeKey keeps object key segments to characters S3 and shells treat plainly.
func safeKey(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}

// buildBundle collects the evidence parts. A permanent failure of one part (no access,
// nothing found) is recorded as a gap; a transient one fails the attempt, since what is
// written under Object Lock cannot be completed later.
func (a *Activities) buildBundle(ctx context.Context, in sever.ActionInput, include []string, collector string) ([]byte, error) {
	b := bundle{Format: "sever.evidence/v1", IncidentID: in.IncidentID, StepID: in.StepID, Drill: in.Drill,
		Credential: in.Credential, CollectedAt: a.now().Format(time.RFC3339), Collector: collector}
	gap := func(part string, err error) error {
		if isPermanent(err) {
			b.Gaps = append(b.Gaps, part+": "+err.Error())
			return nil
		}
		return err
	}
	isAWSKey := in.Credential.Type == sever.CredAWSAccessKey
	for _, part := range include {
		switch {
		case part == includeSignals:
			b.Signals, b.SignalSummary = in.Signals, in.SignalSummary
			if b.Signals == nil {
				b.Signals = []sever.Signal{}
			}
		case part == includeIAM && isAWSKey:
			st, err := a.iamState(ctx, in)
			if err != nil {
				if err := gap(part, err); err != nil {
					return nil, err
				}
				continue
			}
			b.IAM = st
		case part == includeCloudTrail && (isAWSKey || in.Credential.Type == sever.CredAWSTemporaryCredentials):
			account, err := a.keyAccount(ctx, in, "")
			if err == nil {
				var doc trailDoc
				if doc, _, err = a.collectEvents(ctx, in, account, nil, defaultLookback, defaultMaxEvents); err == nil {
					b.CloudTrail = &doc
					continue
				}
			}
			if err := gap(part, err); err != nil {
				return nil, err
			}
		default:
			b.Gaps = append(b.Gaps, fmt.Sprintf("%s: not collected for credential type %s", part, in.Credential.Type))
		}
	}
	body, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("%s: encode evidence: %w", in.Action, err)
	}
	// The object cannot be deleted once locked: redact anything that looks like a
	// live secret (a signal's text, a CloudTrail field) before it is written.
	return secretscan.RedactJSON(append(body, '\n')), nil
}

func isPermanent(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.NonRetryable()
}

func (a *Activities) iamState(ctx context.Context, in sever.ActionInput) (*iamState, error) {
	t, err := a.resolveKey(ctx, in, "", "")
	if err != nil {
		return nil, err
	}
	st := &iamState{Account: t.account, User: t.user, KeyStatus: expectAbsent, AttachedPolicies: []string{}, InlinePolicies: []string{}}
	meta, found, err := a.keyMeta(ctx, in.Action, t)
	if err != nil {
		return nil, err
	}
	if found {
		st.KeyStatus = string(meta.Status)
	}
	ap := iam.NewListAttachedUserPoliciesPaginator(t.c.IAM, &iam.ListAttachedUserPoliciesInput{UserName: aws.String(t.user)})
	for ap.HasMorePages() {
		page, err := ap.NextPage(ctx)
		if err != nil {
			return nil, classify(in.Action, "iam:ListAttachedUserPolicies", "user "+t.user, err)
		}
		for _, p := range page.AttachedPolicies {
			st.AttachedPolicies = append(st.AttachedPolicies, aws.ToString(p.PolicyArn))
		}
	}
	ip := iam.NewListUserPoliciesPaginator(t.c.IAM, &iam.ListUserPoliciesInput{UserName: aws.String(t.user)})
	for ip.HasMorePages() {
		page, err := ip.NextPage(ctx)
		if err != nil {
			return nil, classify(in.Action, "iam:ListUserPolicies", "user "+t.user, err)
		}
		st.InlinePolicies = append(st.InlinePolicies, page.PolicyNames...)
	}
	return st, nil
}

// BedrockLoggingState reads whether model invocation logging is on in each region:
// attackers who abuse a key for model access turn it off to hide their prompts.
func (a *Activities) BedrockLoggingState(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args BedrockArgs
	if err := activities.DecodeArgs(in.Action, in.Args, &args); err != nil {
		return sever.ActionResult{}, err
	}
	account, err := a.evidenceAccount(ctx, in, args.Account)
	if err != nil {
		return sever.ActionResult{}, err
	}
	var regions []sever.Values
	var on, off []string
	var actor string
	for _, region := range a.regions(account, args.Regions) {
		c, id, err := a.clients(ctx, in.Action, account, region)
		if err != nil {
			return sever.ActionResult{}, err
		}
		actor = id.ARN
		out, err := c.Bedrock.GetModelInvocationLoggingConfiguration(ctx, &bedrock.GetModelInvocationLoggingConfigurationInput{})
		if err != nil {
			return sever.ActionResult{}, classify(in.Action, "bedrock:GetModelInvocationLoggingConfiguration", fmt.Sprintf("in %s %s", orAmbient(account), c.Region), err)
		}
		r := sever.Values{"region": c.Region, "enabled": false}
		if lc := out.LoggingConfig; lc != nil && (lc.S3Config != nil || lc.CloudWatchConfig != nil) {
			r["enabled"] = true
			if lc.S3Config != nil {
				r["s3_bucket"] = aws.ToString(lc.S3Config.BucketName)
			}
			if lc.CloudWatchConfig != nil {
				r["log_group"] = aws.ToString(lc.CloudWatchConfig.LogGroupName)
			}
			r["text_data"] = aws.ToBool(lc.TextDataDeliveryEnabled)
			on = append(on, c.Region)
		} else {
			off = append(off, c.Region)
		}
		regions = append(regions, r)
	}
	var summary string
	switch {
	case len(off) == 0:
		summary = "Bedrock model invocation logging is on in " + strings.Join(on, ", ")
	case len(on) == 0:
		summary = "Bedrock model invocation logging is OFF in " + strings.Join(off, ", ")
	default:
		summary = fmt.Sprintf("Bedrock model invocation logging is on in %s and OFF in %s", strings.Join(on, ", "), strings.Join(off, ", "))
	}
	return sever.ActionResult{Verified: len(off) == 0, Actor: actor, Summary: summary,
		Output: sever.Values{"account": account, "regions": regions, "logging_off": len(off) > 0}}, nil
}
