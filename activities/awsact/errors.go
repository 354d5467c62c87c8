package awsact

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/sever-ir/sever/activities"
	"github.com/sever-ir/sever/internal/awserr"
)

// Error codes AWS services use for the classes sever tells apart. Anything not listed is
// retryable: throttling, 5xx, timeouts, dropped connections and conflicts such as
// ConcurrentModification all clear up on their own, and Temporal bounds the retries.
var (
	deniedCodes = []string{
		"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess",
		"AuthFailure", "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
		"IncompleteSignature", "MissingAuthenticationToken", "InvalidAccessKeyId", "OptInRequired",
	}
	notFoundCodes = []string{
		"NoSuchEntity", "ResourceNotFoundException", "NoSuchKey", "NoSuchBucket", "NotFound",
		"TrailNotFoundException",
	}
	invalidCodes = []string{
		"ValidationError", "ValidationException", "InvalidParameterValue", "InvalidParameterException",
		"InvalidParameterCombination", "InvalidParameter", "InvalidInput", "InvalidArgument",
		"InvalidRequestException", "MalformedPolicyDocument", "MissingParameter", "InvalidLookupAttributesException",
		"InvalidTimeRangeException", "InvalidMaxResultsException", "InvalidNextTokenException",
		"LimitExceeded", "LimitExceededException", "InvalidBucketName", "InvalidRequest",
		"InvalidObjectState", "ObjectLockConfigurationNotFoundError",
	}
)

// classify turns an SDK error into a stable activity error. op names the AWS operation
// and subject its input (key id, user, secret id), so the step's error says what failed
// on what. AWS error messages carry ARNs and actions, never secret values.
func classify(action, op, subject string, err error) error {
	if err == nil {
		return nil
	}
	what := fmt.Sprintf("%s: %s %s", action, op, subject)
	code, status := awserr.Code(err)
	switch {
	case code != "" && matches(code, deniedCodes):
		return activities.Permanent(activities.ErrAccessDenied, what, apiError(err))
	case code != "" && (matches(code, notFoundCodes) || strings.HasSuffix(code, ".NotFound") || strings.HasSuffix(code, "NotFoundException")):
		return activities.Permanent(activities.ErrNotFound, what, apiError(err))
	case code != "" && (matches(code, invalidCodes) || strings.HasSuffix(code, ".Malformed")):
		return activities.Permanent(activities.ErrInvalidArgument, what, apiError(err))
	case code == "" && status == http.StatusForbidden:
		return activities.Permanent(activities.ErrAccessDenied, what, apiError(err))
	case code == "" && status == http.StatusNotFound:
		return activities.Permanent(activities.ErrNotFound, what, apiError(err))
	}
	return fmt.Errorf("%s: %w", what, err)
}

func matches(code string, list []string) bool {
	for _, c := range list {
		if code == c {
			return true
		}
	}
	return false
}

// apiError is the part of err worth showing: the service's code and message, without the
// SDK's wrapping (request ids and retry counts belong in the operator log).
func apiError(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if msg := ae.ErrorMessage(); msg != "" {
			return fmt.Errorf("%s: %s", ae.ErrorCode(), msg)
		}
		return errors.New(ae.ErrorCode())
	}
	return err
}

// isCode reports whether err is the AWS error code.
func isCode(err error, codes ...string) bool {
	code, _ := awserr.Code(err)
	return code != "" && matches(code, codes)
}
