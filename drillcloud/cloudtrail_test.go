package drillcloud

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func ctFor(t *testing.T, c *Cloud, keyID string) *cloudtrail.Client {
	return cloudtrail.NewFromConfig(noRetry(cfgFor(t, c, keyID)))
}

func byKey(key string) []types.LookupAttribute {
	return []types.LookupAttribute{{AttributeKey: types.LookupAttributeKeyAccessKeyId, AttributeValue: aws.String(key)}}
}

func TestLookupEvents(t *testing.T) {
	c := defaultCloud(t, WithLookupEventsRate(1000, 1000))
	ctx := ctx(t)
	attacker := stsFor(t, c, DefaultCompromisedKeyID)
	for range 5 {
		if _, err := attacker.GetCallerIdentity(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	// A refused call is an event too.
	if _, err := iamFor(t, c, DefaultResponderKeyID).UpdateAccessKey(ctx, deactivateInput()); err != nil {
		t.Fatal(err)
	}
	_, _ = sts.NewFromConfig(noRetry(cfgFor(t, c, DefaultCompromisedKeyID))).GetCallerIdentity(ctx, nil)

	ct := ctFor(t, c, DefaultResponderKeyID)

	t.Run("paginate by AccessKeyId", func(t *testing.T) {
		var events []types.Event
		p := cloudtrail.NewLookupEventsPaginator(ct, &cloudtrail.LookupEventsInput{LookupAttributes: byKey(DefaultCompromisedKeyID), MaxResults: aws.Int32(2)})
		pages := 0
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			events = append(events, page.Events...)
		}
		if len(events) != 6 || pages != 3 {
			t.Fatalf("%d events in %d pages, want 6 in 3", len(events), pages)
		}
		newest := events[0]
		if aws.ToString(newest.EventName) != "GetCallerIdentity" || aws.ToString(newest.Username) != DefaultCompromisedUser ||
			aws.ToString(newest.EventSource) != "sts.amazonaws.com" || aws.ToString(newest.ReadOnly) != "true" {
			t.Fatalf("newest = %+v", newest)
		}
		for i := 1; i < len(events); i++ {
			if events[i].EventTime.After(*events[i-1].EventTime) {
				t.Fatalf("events not newest first at %d", i)
			}
		}
		var ce map[string]any
		if err := json.Unmarshal([]byte(aws.ToString(newest.CloudTrailEvent)), &ce); err != nil {
			t.Fatal(err)
		}
		if ce["errorCode"] != "InvalidClientTokenId" || ce["sourceIPAddress"] != "127.0.0.1" ||
			ce["userIdentity"].(map[string]any)["accessKeyId"] != DefaultCompromisedKeyID {
			t.Fatalf("CloudTrailEvent = %v", ce)
		}
	})

	t.Run("by EventName and Username", func(t *testing.T) {
		out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []types.LookupAttribute{
			{AttributeKey: types.LookupAttributeKeyEventName, AttributeValue: aws.String("UpdateAccessKey")}}})
		if err != nil || len(out.Events) != 1 || aws.ToString(out.Events[0].Username) != DefaultResponderUser {
			t.Fatalf("by name = %+v, %v", out, err)
		}
		if len(out.Events[0].Resources) != 1 || aws.ToString(out.Events[0].Resources[0].ResourceName) != DefaultCompromisedKeyID {
			t.Fatalf("resources = %+v", out.Events[0].Resources)
		}
		out, err = ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []types.LookupAttribute{
			{AttributeKey: types.LookupAttributeKeyUsername, AttributeValue: aws.String(DefaultCompromisedUser)}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Events) != 6 {
			t.Fatalf("by user = %d events", len(out.Events))
		}
	})

	t.Run("time range and region", func(t *testing.T) {
		future := time.Now().Add(time.Hour)
		out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{StartTime: aws.Time(future), EndTime: aws.Time(future.Add(time.Hour))})
		if err != nil || len(out.Events) != 0 {
			t.Fatalf("future window = %+v, %v", out, err)
		}
		west := cloudtrail.NewFromConfig(noRetry(cfgFor(t, c, DefaultResponderKeyID)), func(o *cloudtrail.Options) { o.Region = "eu-west-1" })
		out, err = west.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: byKey(DefaultCompromisedKeyID)})
		if err != nil || len(out.Events) != 0 {
			t.Fatalf("other region = %d events, %v", len(out.Events), err)
		}
	})

	t.Run("invalid input", func(t *testing.T) {
		cases := []struct {
			in   *cloudtrail.LookupEventsInput
			want string
		}{
			{&cloudtrail.LookupEventsInput{LookupAttributes: append(byKey("a"), byKey("b")...)}, "InvalidLookupAttributesException"},
			{&cloudtrail.LookupEventsInput{LookupAttributes: []types.LookupAttribute{{AttributeKey: "Colour", AttributeValue: aws.String("x")}}}, "InvalidLookupAttributesException"},
			{&cloudtrail.LookupEventsInput{MaxResults: aws.Int32(51)}, "InvalidMaxResultsException"},
			{&cloudtrail.LookupEventsInput{StartTime: aws.Time(time.Now()), EndTime: aws.Time(time.Now().Add(-time.Hour))}, "InvalidTimeRangeException"},
			{&cloudtrail.LookupEventsInput{NextToken: aws.String("garbage")}, "InvalidNextTokenException"},
		}
		for _, tc := range cases {
			if _, err := ct.LookupEvents(ctx, tc.in); errCode(err) != tc.want {
				t.Errorf("%+v: %v, want %s", tc.in, err, tc.want)
			}
		}
	})

	t.Run("quarantine denies LookupEvents to the exposed user", func(t *testing.T) {
		seed := DefaultSeed()
		seed.Accounts[0].Users[0].AttachedPolicies = []string{QuarantinePolicyV2ARN}
		c2 := startCloud(t, seed)
		if _, err := ctFor(t, c2, DefaultCompromisedKeyID).LookupEvents(ctx, &cloudtrail.LookupEventsInput{}); errCode(err) != "AccessDeniedException" {
			t.Fatalf("quarantined LookupEvents: %v", err)
		}
		if _, err := ctFor(t, c2, DefaultResponderKeyID).LookupEvents(ctx, &cloudtrail.LookupEventsInput{}); err != nil {
			t.Fatalf("responder LookupEvents: %v", err)
		}
	})
}

func TestLookupEventsThrottling(t *testing.T) {
	c := defaultCloud(t)
	ctx := ctx(t)
	ct := ctFor(t, c, DefaultResponderKeyID)
	var codes []string
	for range 4 {
		_, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
		codes = append(codes, errCode(err))
	}
	// Burst of 2, then 2 per second: back-to-back calls 3 and 4 are throttled.
	if codes[0] != "" || codes[1] != "" || codes[2] != "ThrottlingException" {
		t.Fatalf("codes = %q", codes)
	}
	// Another region has its own budget.
	west := cloudtrail.NewFromConfig(noRetry(cfgFor(t, c, DefaultResponderKeyID)), func(o *cloudtrail.Options) { o.Region = "eu-west-1" })
	if _, err := west.LookupEvents(ctx, &cloudtrail.LookupEventsInput{}); err != nil {
		t.Fatalf("other region: %v", err)
	}
	// The budget refills at 2 per second.
	waitFor(t, "token refill", 2*time.Second, func() bool {
		_, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
		return err == nil
	})
	throttled := 0
	for _, e := range opEvents(c, "LookupEvents") {
		if e.ErrorCode == "ThrottlingException" {
			throttled++
		}
	}
	if throttled < 2 {
		t.Fatalf("%d throttled LookupEvents logged, want >= 2", throttled)
	}
}
