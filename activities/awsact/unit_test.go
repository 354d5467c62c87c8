package awsact

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"go.temporal.io/sdk/activity"

	"github.com/sever-ir/sever"
)

func TestClassify(t *testing.T) {
	api := func(code string, fault smithy.ErrorFault) error {
		return fmt.Errorf("operation error: %w", &smithy.GenericAPIError{Code: code, Message: "msg for " + code, Fault: fault})
	}
	status := func(code int) error {
		return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: errors.New("no body")}}
	}
	tests := []struct {
		name    string
		err     error
		errType string // "" = retryable
	}{
		{"AccessDenied", api("AccessDenied", smithy.FaultClient), "AccessDenied"},
		{"AccessDeniedException", api("AccessDeniedException", smithy.FaultClient), "AccessDenied"},
		{"EC2Unauthorized", api("UnauthorizedOperation", smithy.FaultClient), "AccessDenied"},
		{"BadSignature", api("SignatureDoesNotMatch", smithy.FaultClient), "AccessDenied"},
		{"NoSuchEntity", api("NoSuchEntity", smithy.FaultClient), "NotFound"},
		{"ResourceNotFound", api("ResourceNotFoundException", smithy.FaultClient), "NotFound"},
		{"EC2NotFound", api("InvalidVolume.NotFound", smithy.FaultClient), "NotFound"},
		{"NoSuchBucket", api("NoSuchBucket", smithy.FaultClient), "NotFound"},
		{"Validation", api("ValidationError", smithy.FaultClient), "InvalidArgument"},
		{"InvalidParameterValue", api("InvalidParameterValue", smithy.FaultClient), "InvalidArgument"},
		{"MalformedEC2", api("InvalidVolumeID.Malformed", smithy.FaultClient), "InvalidArgument"},
		{"Throttling", api("Throttling", smithy.FaultClient), ""},
		{"ThrottlingException", api("ThrottlingException", smithy.FaultClient), ""},
		{"RequestLimitExceeded", api("RequestLimitExceeded", smithy.FaultClient), ""},
		{"SlowDown", api("SlowDown", smithy.FaultServer), ""},
		{"ServiceFailure", api("ServiceFailure", smithy.FaultServer), ""},
		{"InternalError", api("InternalError", smithy.FaultServer), ""},
		{"ConcurrentModification", api("ConcurrentModification", smithy.FaultClient), ""},
		{"ExpiredToken", api("ExpiredToken", smithy.FaultClient), ""},
		{"Bare403", status(403), "AccessDenied"},
		{"Bare404", status(404), "NotFound"},
		{"Bare503", status(503), ""},
		{"Transport", errors.New("read tcp: connection reset by peer"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify("aws.x", "iam:Op", "key AKIAEXAMPLE", tt.err)
			if !strings.Contains(err.Error(), "aws.x: iam:Op key AKIAEXAMPLE") {
				t.Errorf("message %q does not name the operation and input", err)
			}
			if tt.errType == "" {
				wantRetryable(t, err)
				return
			}
			wantPermanent(t, err, tt.errType)
		})
	}
	if classify("a", "op", "x", nil) != nil {
		t.Error("classify(nil) != nil")
	}
}

func TestPrincipalUser(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "",
		"ci-deployer":      "ci-deployer",
		"user/ci-deployer": "ci-deployer",
		"arn:aws:iam::111122223333:user/ci-deployer":        "ci-deployer",
		"arn:aws:iam::111122223333:user/teams/ci/deployer":  "deployer",
		"arn:aws:iam::111122223333:role/ci":                 "",
		"arn:aws:sts::111122223333:assumed-role/ci/session": "",
		"arn:aws:iam::111122223333":                         "",
	} {
		if got := principalUser(in); got != want {
			t.Errorf("principalUser(%q) = %q, want %q", in, got, want)
		}
	}
	if got := arnAccount("arn:aws:iam::111122223333:user/x"); got != "111122223333" {
		t.Errorf("arnAccount = %q", got)
	}
	if got := arnAccount("ci-deployer"); got != "" {
		t.Errorf("arnAccount(name) = %q", got)
	}
}

func TestRevokeDocumentRoundTrip(t *testing.T) {
	cutoff := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	doc, err := revokeDocument(cutoff)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{doc, strings.NewReplacer("{", "%7B", "}", "%7D", `"`, "%22", ":", "%3A", " ", "%20").Replace(doc)} {
		if got, ok := revokeCutoff(raw); !ok || !got.Equal(cutoff) {
			t.Errorf("revokeCutoff(%s) = %v, %v", raw, got, ok)
		}
	}
	for _, other := range []string{
		`{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2025-06-01T12:00:00Z"}}}}`,
	} {
		if got, ok := revokeCutoff(other); !ok || !got.Equal(cutoff) {
			t.Errorf("single-statement form: %v, %v", got, ok)
		}
	}
	for _, notRevoke := range []string{
		`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2025-06-01T12:00:00Z"}}}]}`,
		`{"Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2025-06-01T12:00:00Z"}}}]}`,
		`{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`,
		`not json`,
	} {
		if _, ok := revokeCutoff(notRevoke); ok {
			t.Errorf("revokeCutoff(%s) counted as revocation", notRevoke)
		}
	}
}

func TestVersionTokenIsStablePerStepAndSecret(t *testing.T) {
	a := versionToken("inc-1/1/rotate", "prod/a")
	if a != versionToken("inc-1/1/rotate", "prod/a") {
		t.Error("not deterministic")
	}
	if a == versionToken("inc-1/1/rotate", "prod/b") || a == versionToken("inc-1/2/rotate", "prod/a") {
		t.Error("collides across secrets or incidents")
	}
	if len(a) != 36 || a[14] != '5' {
		t.Errorf("%q is not a version-5 UUID (Secrets Manager wants 32-64 characters)", a)
	}
}

type registered []string

func (r *registered) RegisterActivityWithOptions(_ any, o activity.RegisterOptions) {
	*r = append(*r, o.Name)
}

// Register serves exactly the catalog's aws.* actions.
func TestRegisterMatchesCatalog(t *testing.T) {
	var got registered
	New(nil, nil).Register(&got)
	var want []string
	for _, n := range sever.ActionNames() {
		if strings.HasPrefix(n, "aws.") {
			want = append(want, n)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("registered %v\ncatalog    %v", got, want)
	}
}
