// Package awserr reads what an AWS SDK error says about the service's answer.
package awserr

import (
	"errors"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// Code returns the service's error code and the HTTP status, whichever are known:
// a HeadObject 404 has a status and no code, a client-side failure neither.
func Code(err error) (code string, status int) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return code, re.HTTPStatusCode()
	}
	return code, 0
}
