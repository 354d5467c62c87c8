package drillcloud

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// fastRetry keeps the SDK's standard retry rules but without backoff, so
// retried faults do not slow the tests down.
func fastRetry(cfg aws.Config) aws.Config {
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	}
	return cfg
}

func deactivateInput() *iam.UpdateAccessKeyInput {
	return &iam.UpdateAccessKeyInput{UserName: aws.String(DefaultCompromisedUser), AccessKeyId: aws.String(DefaultCompromisedKeyID), Status: types.StatusTypeInactive}
}

func opEvents(c *Cloud, op string) []Event {
	var out []Event
	for _, e := range c.Calls() {
		if e.Operation == op {
			out = append(out, e)
		}
	}
	return out
}

func TestFaultKinds(t *testing.T) {
	cases := []struct {
		name      string
		fault     Fault
		retry     bool
		wantCode  string // error the caller finally sees
		wantCalls int    // UpdateAccessKey requests that reached the cloud
	}{
		{"throttle without retry", Fault{Service: "iam", Operation: "UpdateAccessKey", Kind: FaultThrottle, Count: 1}, false, "Throttling", 1},
		{"throttle retried", Fault{Service: "iam", Operation: "UpdateAccessKey", Kind: FaultThrottle, Count: 1}, true, "", 2},
		{"server error without retry", Fault{Service: "iam", Operation: "UpdateAccessKey", Kind: FaultServerError, Count: 1}, false, "ServiceFailure", 1},
		{"server error retried", Fault{Service: "iam", Operation: "UpdateAccessKey", Kind: FaultServerError, Count: 2}, true, "", 3},
		{"drop response retried", Fault{Service: "iam", Operation: "UpdateAccessKey", Kind: FaultDropResponse, Count: 1}, true, "", 2},
		{"fault for another key", Fault{Service: "iam", Operation: "UpdateAccessKey", KeyID: DefaultCompromisedKeyID, Kind: FaultThrottle}, false, "", 1},
		{"fault for another operation", Fault{Service: "iam", Operation: "DeleteAccessKey", Kind: FaultThrottle}, false, "", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultCloud(t)
			if err := c.InjectFault(tc.fault); err != nil {
				t.Fatal(err)
			}
			cfg := cfgFor(t, c, DefaultResponderKeyID)
			if tc.retry {
				cfg = fastRetry(cfg)
			} else {
				cfg = noRetry(cfg)
			}
			_, err := iam.NewFromConfig(cfg).UpdateAccessKey(ctx(t), deactivateInput())
			if got := errCode(err); got != tc.wantCode {
				t.Fatalf("error %q, want %q (%v)", got, tc.wantCode, err)
			}
			evs := opEvents(c, "UpdateAccessKey")
			if len(evs) != tc.wantCalls {
				t.Fatalf("%d calls reached the cloud, want %d", len(evs), tc.wantCalls)
			}
			k, _ := c.Key(DefaultCompromisedKeyID)
			wantStatus := "Inactive"
			if tc.wantCode != "" {
				wantStatus = "Active"
			}
			if k.Status != wantStatus {
				t.Fatalf("key status %s, want %s", k.Status, wantStatus)
			}
			// However many attempts, the change is applied at most once.
			if n := c.Applied("UpdateAccessKey"); (tc.wantCode == "" && n != 1) || (tc.wantCode != "" && n != 0) {
				t.Fatalf("applied %d times", n)
			}
			if tc.fault.Kind == FaultDropResponse {
				if evs[0].Fault != FaultDropResponse || !evs[0].Applied || evs[1].Applied || evs[1].Fault != "" {
					t.Fatalf("drop events = %+v / %+v", evs[0], evs[1])
				}
			}
			if len(c.PendingFaults()) != 0 && tc.fault.Count > 0 {
				t.Fatalf("count-limited fault still pending: %+v", c.PendingFaults())
			}
		})
	}
}

func TestFaultLatency(t *testing.T) {
	c := defaultCloud(t)
	if err := c.InjectFault(Fault{Service: "sts", Kind: FaultLatency, Latency: 150 * time.Millisecond, Count: 1}); err != nil {
		t.Fatal(err)
	}
	cli := stsFor(t, c, DefaultResponderKeyID)
	start := time.Now()
	if _, err := cli.GetCallerIdentity(ctx(t), nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("call took %v, want >= 150ms", d)
	}
	if ev := lastCall(t, c, "GetCallerIdentity"); ev.Fault != FaultLatency {
		t.Fatalf("fault = %q", ev.Fault)
	}
	start = time.Now()
	if _, err := cli.GetCallerIdentity(ctx(t), nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("second call took %v; the Count=1 latency fault should be spent", d)
	}
}

// TestFaultProbabilityIsSeeded checks that the same RandSeed hits the same
// calls, so a flaky drill can be replayed.
func TestFaultProbabilityIsSeeded(t *testing.T) {
	pattern := func() string {
		seed := DefaultSeed()
		seed.RandSeed = 42
		seed.Faults = []Fault{{Service: "sts", Operation: "GetCallerIdentity", Kind: FaultThrottle, Probability: 0.5}}
		c := startCloud(t, seed)
		cli := sts.NewFromConfig(noRetry(cfgFor(t, c, DefaultResponderKeyID)))
		var b strings.Builder
		for range 30 {
			if _, err := cli.GetCallerIdentity(ctx(t), nil); err != nil {
				if errCode(err) != "Throttling" {
					t.Fatalf("unexpected %v", err)
				}
				b.WriteByte('T')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	a, b := pattern(), pattern()
	if a != b {
		t.Fatalf("same seed, different hits:\n%s\n%s", a, b)
	}
	if n := strings.Count(a, "T"); n == 0 || n == len(a) {
		t.Fatalf("probability 0.5 hit %d of %d calls", n, len(a))
	}
}

func TestInjectFaultValidation(t *testing.T) {
	c := defaultCloud(t)
	for _, f := range []Fault{
		{Kind: "explode"},
		{Kind: FaultThrottle, Service: "dynamodb"},
		{Kind: FaultThrottle, Count: -1},
		{Kind: FaultThrottle, Probability: 1.5},
		{Kind: FaultLatency},
	} {
		if err := c.InjectFault(f); err == nil {
			t.Errorf("InjectFault(%+v) succeeded", f)
		}
	}
}

// A denied permission answers AccessDenied on every attempt, retries included,
// applies nothing, and works again once granted; a denial for another key or
// operation does not fire.
func TestDenyAndGrantPermission(t *testing.T) {
	cases := []struct {
		name          string
		service, op   string
		key           string
		wantCode      string
		wantGrantLift int
	}{
		{"denied to sever's key", "iam", "UpdateAccessKey", DefaultResponderKeyID, "AccessDenied", 1},
		{"denied to every caller", "IAM", "UpdateAccessKey", "", "AccessDenied", 1},
		{"denied to another key", "iam", "UpdateAccessKey", DefaultCompromisedKeyID, "", 1},
		{"another operation denied", "iam", "DeleteAccessKey", "", "", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultCloud(t)
			if err := c.DenyPermission(tc.service, tc.op, tc.key); err != nil {
				t.Fatal(err)
			}
			cli := iam.NewFromConfig(fastRetry(cfgFor(t, c, DefaultResponderKeyID)))
			_, err := cli.UpdateAccessKey(ctx(t), deactivateInput())
			if got := errCode(err); got != tc.wantCode {
				t.Fatalf("error %q, want %q (%v)", got, tc.wantCode, err)
			}
			if tc.wantCode == "" {
				return
			}
			if !strings.Contains(err.Error(), "is not authorized to perform: iam:UpdateAccessKey") {
				t.Errorf("message %v does not name the permission", err)
			}
			if n := c.Applied("UpdateAccessKey"); n != 0 {
				t.Fatalf("denied call applied %d times", n)
			}
			if ev := lastCall(t, c, "UpdateAccessKey"); ev.Fault != FaultAccessDenied {
				t.Errorf("call log fault %q, want %q", ev.Fault, FaultAccessDenied)
			}
			if n := c.GrantPermission(tc.service, tc.op, tc.key); n != tc.wantGrantLift {
				t.Fatalf("grant lifted %d denials, want %d", n, tc.wantGrantLift)
			}
			if _, err := cli.UpdateAccessKey(ctx(t), deactivateInput()); err != nil {
				t.Fatalf("after the grant: %v", err)
			}
			if k, _ := c.Key(DefaultCompromisedKeyID); k.Status != "Inactive" {
				t.Fatalf("key %s after the grant, want Inactive", k.Status)
			}
		})
	}
	if err := defaultCloud(t).DenyPermission("iam", "", ""); err == nil {
		t.Error("a denial without an operation was accepted")
	}
}
