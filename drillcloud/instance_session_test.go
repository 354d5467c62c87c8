package drillcloud

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestInstanceSessionRevoked walks the default seed's EC2 instance credentials
// through containment: the stolen ASIA key works, CloudTrail names the role
// behind it, AWSRevokeOlderSessions on the role refuses its next call, and
// deleting the policy (the compensation) lets it through again.
func TestInstanceSessionRevoked(t *testing.T) {
	c := defaultCloud(t)
	ctx := ctx(t)
	stolen := s3.NewFromConfig(noRetry(cfgFor(t, c, DefaultInstanceSessionID)), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := stolen.ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
		t.Fatalf("stolen instance credentials before revocation: %v", err)
	}

	ct := cloudtrail.NewFromConfig(cfgFor(t, c, DefaultResponderKeyID))
	out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyAccessKeyId, AttributeValue: aws.String(DefaultInstanceSessionID)}}})
	if err != nil || len(out.Events) == 0 {
		t.Fatalf("LookupEvents by the session key = %+v, %v", out, err)
	}
	var rec struct {
		UserIdentity struct {
			Type           string `json:"type"`
			Arn            string `json:"arn"`
			SessionContext struct {
				SessionIssuer struct{ Type, Arn, UserName string } `json:"sessionIssuer"`
			} `json:"sessionContext"`
		} `json:"userIdentity"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.Events[0].CloudTrailEvent)), &rec); err != nil {
		t.Fatal(err)
	}
	wantRole := "arn:aws:iam::" + DefaultAccountID + ":role/" + DefaultInstanceRole
	if id := rec.UserIdentity; id.Type != "AssumedRole" || id.SessionContext.SessionIssuer.Arn != wantRole ||
		id.SessionContext.SessionIssuer.UserName != DefaultInstanceRole || id.SessionContext.SessionIssuer.Type != "Role" ||
		id.Arn != "arn:aws:sts::"+DefaultAccountID+":assumed-role/"+DefaultInstanceRole+"/"+DefaultInstanceID {
		t.Fatalf("CloudTrail userIdentity = %+v; want the session of %s", id, wantRole)
	}

	responder := iamFor(t, c, DefaultResponderKeyID)
	doc := fmt.Sprintf(revokeDocFmt, time.Now().UTC().Format(time.RFC3339))
	if _, err := responder.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(DefaultInstanceRole),
		PolicyName: aws.String("AWSRevokeOlderSessions"), PolicyDocument: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
	if _, err := stolen.ListBuckets(ctx, &s3.ListBucketsInput{}); errCode(err) != "AccessDenied" {
		t.Fatalf("stolen instance credentials after revocation: %v; want AccessDenied", err)
	}

	tests := []struct {
		name     string
		wantCode string
	}{
		{"delete the revocation", ""},
		{"delete it again", "NoSuchEntity"},
	}
	for _, tt := range tests {
		_, err := responder.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(DefaultInstanceRole),
			PolicyName: aws.String("AWSRevokeOlderSessions")})
		if errCode(err) != tt.wantCode {
			t.Fatalf("%s: DeleteRolePolicy = %v; want %q", tt.name, err, tt.wantCode)
		}
	}
	if _, ok := c.RolePolicy(DefaultInstanceRole, "AWSRevokeOlderSessions"); ok {
		t.Fatal("policy still on the role after DeleteRolePolicy")
	}
	if _, err := stolen.ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
		t.Fatalf("instance credentials after the revocation was deleted: %v", err)
	}
	if _, err := responder.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String(DefaultCompromisedUser),
		PolicyName: aws.String("AWSRevokeOlderSessions")}); errCode(err) != "NoSuchEntity" {
		t.Fatalf("DeleteUserPolicy of a missing policy = %v; want NoSuchEntity", err)
	}
}
