package drillcloud

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// probe is one read-only call per service, made through the real client.
type probe struct {
	service, op string
	call        func(context.Context, aws.Config) error
}

var probes = []probe{
	{"iam", "ListAccessKeys", func(ctx context.Context, cfg aws.Config) error {
		_, err := iam.NewFromConfig(cfg).ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(DefaultCompromisedUser)})
		return err
	}},
	{"sts", "GetCallerIdentity", func(ctx context.Context, cfg aws.Config) error {
		_, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, nil)
		return err
	}},
	{"secretsmanager", "DescribeSecret", func(ctx context.Context, cfg aws.Config) error {
		_, err := secretsmanager.NewFromConfig(cfg).DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(DefaultSecretName)})
		return err
	}},
	{"cloudtrail", "LookupEvents", func(ctx context.Context, cfg aws.Config) error {
		_, err := cloudtrail.NewFromConfig(cfg).LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(1)})
		return err
	}},
	{"ec2", "DescribeVolumes", func(ctx context.Context, cfg aws.Config) error {
		_, err := ec2.NewFromConfig(cfg).DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
		return err
	}},
	{"s3", "ListBuckets", func(ctx context.Context, cfg aws.Config) error {
		_, err := s3From(cfg).ListBuckets(ctx, &s3.ListBucketsInput{})
		return err
	}},
	{"bedrock", "GetModelInvocationLoggingConfiguration", func(ctx context.Context, cfg aws.Config) error {
		_, err := bedrock.NewFromConfig(cfg).GetModelInvocationLoggingConfiguration(ctx, nil)
		return err
	}},
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// TestRefusalCodesPerProtocol checks that each protocol refuses a dead or
// forged credential with the code AWS uses for it.
func TestRefusalCodesPerProtocol(t *testing.T) {
	seed := DefaultSeed()
	seed.Accounts[0].Users[0].Keys[0].Status = "Inactive"
	c := startCloud(t, seed, WithLookupEventsRate(1000, 1000))
	inactive, _ := c.Credentials(DefaultCompromisedKeyID)
	good, _ := c.Credentials(DefaultResponderKeyID)
	forged := good
	forged.SecretAccessKey = "forged-forged-forged-forged-forged-00000"
	unknown := aws.Credentials{AccessKeyID: "AKIAUNKNOWNKEY000001", SecretAccessKey: forged.SecretAccessKey}
	want := map[string][2]string{ // service -> {invalid key, bad signature}
		"iam":            {"InvalidClientTokenId", "SignatureDoesNotMatch"},
		"sts":            {"InvalidClientTokenId", "SignatureDoesNotMatch"},
		"secretsmanager": {"UnrecognizedClientException", "InvalidSignatureException"},
		"cloudtrail":     {"UnrecognizedClientException", "InvalidSignatureException"},
		"ec2":            {"AuthFailure", "AuthFailure"},
		"s3":             {"InvalidAccessKeyId", "SignatureDoesNotMatch"},
		"bedrock":        {"UnrecognizedClientException", "InvalidSignatureException"},
	}
	for _, p := range probes {
		t.Run(p.service, func(t *testing.T) {
			cases := []struct {
				name  string
				creds aws.Credentials
				code  string
			}{
				{"valid", good, ""},
				{"inactive key", inactive, want[p.service][0]},
				{"unknown key", unknown, want[p.service][0]},
				{"forged signature", forged, want[p.service][1]},
			}
			for _, tc := range cases {
				err := p.call(ctx(t), noRetry(StaticConfig(c.URL(), DefaultRegion, tc.creds)))
				if got := errCode(err); got != tc.code {
					t.Errorf("%s: code %q, want %q (%v)", tc.name, got, tc.code, err)
				}
			}
		})
	}
}

func TestInjectedErrorsPerProtocol(t *testing.T) {
	throttle := map[string]struct {
		code   string
		status int
	}{
		"iam": {"Throttling", 400}, "sts": {"Throttling", 400}, "secretsmanager": {"ThrottlingException", 400},
		"cloudtrail": {"ThrottlingException", 400}, "ec2": {"RequestLimitExceeded", 503}, "s3": {"SlowDown", 503},
		"bedrock": {"ThrottlingException", 429},
	}
	server := map[string]string{
		"iam": "ServiceFailure", "sts": "InternalFailure", "secretsmanager": "InternalServiceError", "cloudtrail": "InternalFailure",
		"ec2": "InternalError", "s3": "InternalError", "bedrock": "InternalServerException",
	}
	c := defaultCloud(t, WithLookupEventsRate(1000, 1000))
	cfg := noRetry(cfgFor(t, c, DefaultResponderKeyID))
	for _, p := range probes {
		t.Run(p.service, func(t *testing.T) {
			for _, kind := range []FaultKind{FaultThrottle, FaultServerError} {
				if err := c.InjectFault(Fault{Service: p.service, Operation: p.op, Kind: kind, Count: 1}); err != nil {
					t.Fatal(err)
				}
				err := p.call(ctx(t), cfg)
				wantCode, wantStatus := throttle[p.service].code, throttle[p.service].status
				if kind == FaultServerError {
					wantCode, wantStatus = server[p.service], 500
				}
				if errCode(err) != wantCode || httpStatus(err) != wantStatus {
					t.Errorf("%s: %q/%d, want %q/%d (%v)", kind, errCode(err), httpStatus(err), wantCode, wantStatus, err)
				}
				// The SDK's standard retryer treats both as retryable.
				if err := p.call(ctx(t), cfg); err != nil {
					t.Errorf("%s: next call failed: %v", kind, err)
				}
			}
		})
	}
}

func TestDropResponseIdempotentJSON(t *testing.T) {
	c := defaultCloud(t)
	if err := c.InjectFault(Fault{Service: "secretsmanager", Operation: "PutSecretValue", Kind: FaultDropResponse, Count: 1}); err != nil {
		t.Fatal(err)
	}
	sm := secretsmanager.NewFromConfig(fastRetry(cfgFor(t, c, DefaultResponderKeyID)))
	// The SDK fills ClientRequestToken once and reuses it on the retry, so the
	// retry finds the version already written.
	out, err := sm.PutSecretValue(ctx(t), &secretsmanager.PutSecretValueInput{SecretId: aws.String(DefaultSecretName),
		SecretString: aws.String(`{"AccessKeyId":"AKIAROTATED"}`), VersionStages: []string{"AWSPENDING"}})
	if err != nil {
		t.Fatal(err)
	}
	evs := opEvents(c, "PutSecretValue")
	if len(evs) != 2 || !evs[0].Applied || evs[0].Fault != FaultDropResponse || evs[1].Applied || c.Applied("PutSecretValue") != 1 {
		t.Fatalf("events = %+v", evs)
	}
	sec, _ := c.Secret(DefaultSecretName)
	if len(sec.Versions) != 2 || sec.Versions[1].ID != aws.ToString(out.VersionId) {
		t.Fatalf("versions = %+v", sec.Versions)
	}
}

// TestQuarantineKeepsDataPlane is the AWS quarantine as drills meet it: the
// key stays active and ListBuckets and InvokeModel keep working while
// escalation is refused.
func TestQuarantineKeepsDataPlane(t *testing.T) {
	c := defaultCloud(t)
	if _, err := iamFor(t, c, DefaultResponderKeyID).AttachUserPolicy(ctx(t), &iam.AttachUserPolicyInput{
		UserName: aws.String(DefaultCompromisedUser), PolicyArn: aws.String(QuarantinePolicyV3ARN)}); err != nil {
		t.Fatal(err)
	}
	a, err := c.StartAttacker(ctx(t), AttackerConfig{KeyID: DefaultCompromisedKeyID, Rate: 200, MaxAttempts: 6,
		Operations: []string{AttackListBuckets, AttackInvokeModel, AttackCreateAccessKey}})
	if err != nil {
		t.Fatal(err)
	}
	<-a.Done()
	st := a.Stats()
	ops := st.ByOperation
	if ops[AttackListBuckets].Successes != 2 || ops[AttackInvokeModel].Successes != 2 || ops[AttackCreateAccessKey].Denials != 2 {
		t.Fatalf("under quarantine: %+v", ops)
	}
	if st.StopReason != "max attempts reached" {
		t.Fatalf("stop reason %q", st.StopReason)
	}
}

// TestRevokeOlderSessionsGetSessionToken is the user flavour: the attacker
// mints a session, the responder deactivates the key (the session survives)
// and puts AWSRevokeOlderSessions on the user; the old session is refused,
// a session minted afterwards with a new key works.
func TestRevokeOlderSessionsGetSessionToken(t *testing.T) {
	c := defaultCloud(t)
	ctx := ctx(t)
	mint := func(keyID string) aws.Config {
		out, err := stsFor(t, c, keyID).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
		if err != nil {
			t.Fatal(err)
		}
		cr := out.Credentials
		return noRetry(StaticConfig(c.URL(), DefaultRegion, aws.Credentials{AccessKeyID: aws.ToString(cr.AccessKeyId),
			SecretAccessKey: aws.ToString(cr.SecretAccessKey), SessionToken: aws.ToString(cr.SessionToken)}))
	}
	old := mint(DefaultCompromisedKeyID)
	listBuckets := func(cfg aws.Config) error {
		_, err := s3From(cfg).ListBuckets(ctx, &s3.ListBucketsInput{})
		return err
	}
	if err := listBuckets(old); err != nil {
		t.Fatal(err)
	}
	admin := iamFor(t, c, DefaultResponderKeyID)
	if _, err := admin.UpdateAccessKey(ctx, deactivateInput()); err != nil {
		t.Fatal(err)
	}
	if err := listBuckets(old); err != nil {
		t.Fatalf("session after key deactivation: %v (AWS keeps it valid)", err)
	}
	cutoff := time.Now().UTC().Format(time.RFC3339Nano)
	if _, err := admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(DefaultCompromisedUser),
		PolicyName: aws.String("AWSRevokeOlderSessions"), PolicyDocument: aws.String(fmt.Sprintf(revokeDocFmt, cutoff))}); err != nil {
		t.Fatal(err)
	}
	if err := listBuckets(old); errCode(err) != "AccessDenied" {
		t.Fatalf("old session: %v, want AccessDenied", err)
	}
	created, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(DefaultCompromisedUser)})
	if err != nil {
		t.Fatal(err)
	}
	fresh := mint(aws.ToString(created.AccessKey.AccessKeyId))
	if err := listBuckets(fresh); err != nil {
		t.Fatalf("session issued after the cut-off: %v", err)
	}
	// The long-term key is not a session: the condition never applies to it.
	if err := listBuckets(noRetry(cfgFor(t, c, aws.ToString(created.AccessKey.AccessKeyId)))); err != nil {
		t.Fatalf("new long-term key: %v", err)
	}
}
