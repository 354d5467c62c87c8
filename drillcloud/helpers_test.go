package drillcloud

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// startCloud starts a cloud on a free loopback port and closes it with the
// test.
func startCloud(t *testing.T, seed Seed, opts ...Option) *Cloud {
	t.Helper()
	c, err := New(seed, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := c.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

func defaultCloud(t *testing.T, opts ...Option) *Cloud {
	t.Helper()
	return startCloud(t, DefaultSeed(), opts...)
}

func cfgFor(t *testing.T, c *Cloud, keyID string) aws.Config {
	t.Helper()
	cfg, err := c.AWSConfig(context.Background(), keyID)
	if err != nil {
		t.Fatalf("AWSConfig(%s): %v", keyID, err)
	}
	return cfg
}

// noRetry makes each SDK call exactly one HTTP request.
func noRetry(cfg aws.Config) aws.Config {
	cfg.RetryMaxAttempts = 1
	return cfg
}

func iamFor(t *testing.T, c *Cloud, keyID string) *iam.Client {
	return iam.NewFromConfig(cfgFor(t, c, keyID))
}

func stsFor(t *testing.T, c *Cloud, keyID string) *sts.Client {
	return sts.NewFromConfig(cfgFor(t, c, keyID))
}

func s3From(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

// errCode returns the AWS error code of err, or "" for nil and "<non-API>"
// for transport errors.
func errCode(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return "<non-API: " + err.Error() + ">"
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func lastCall(t *testing.T, c *Cloud, op string) Event {
	t.Helper()
	calls := c.Calls()
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i].Operation == op {
			return calls[i]
		}
	}
	t.Fatalf("no %s call in the log", op)
	return Event{}
}

// asErr is errors.As with a test-friendly name.
func asErr[T any](err error, target *T) bool {
	return errors.As(err, target)
}
