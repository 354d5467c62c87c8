package drillcloud

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// invokeWithBearer calls InvokeModel with tok as a bearer token and returns the
// HTTP status and AWS error type ("" on success).
func invokeWithBearer(t *testing.T, c *Cloud, tok string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), http.MethodPost, c.URL()+"/model/"+defaultAttackerModelID+"/invoke",
		bytes.NewReader([]byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":8,"messages":[]}`)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	code, _, _ := strings.Cut(resp.Header.Get("X-Amzn-Errortype"), ":")
	return resp.StatusCode, code
}

const bearerDenyDoc = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"bedrock:CallWithBearerToken","Resource":"*"}]}`

func revokeOlderDoc(cutoff time.Time) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":%q}}}]}`,
		cutoff.UTC().Format(time.RFC3339))
}

// A short-term Bedrock API key is a presigned request of the identity that
// minted it: it works as a bearer token until that identity is denied
// bedrock:CallWithBearerToken or, for a role session, its older sessions are
// revoked, which is how the aws-bedrock-api-key-exposed runbook contains keys
// IAM cannot list. AWSRevokeOlderSessions never touches keys minted with a
// long-term access key, as in AWS.
func TestShortTermBedrockKeyContainedOnMintingIdentity(t *testing.T) {
	userARN := "arn:aws:iam::" + DefaultAccountID + ":user/" + DefaultCompromisedUser
	roleARN := "arn:aws:iam::" + DefaultAccountID + ":role/" + DefaultInstanceRole
	assumedARN := "arn:aws:sts::" + DefaultAccountID + ":assumed-role/" + DefaultInstanceRole + "/" + DefaultInstanceID
	for _, tc := range []struct {
		name, id   string
		signer     string
		policyOn   func(api *iam.Client) error
		wantDenied bool
	}{
		{name: "user, bearer deny", id: "short-term:" + userARN, signer: DefaultCompromisedKeyID, wantDenied: true,
			policyOn: func(api *iam.Client) error {
				_, err := api.PutUserPolicy(ctx(t), &iam.PutUserPolicyInput{UserName: aws.String(DefaultCompromisedUser),
					PolicyName: aws.String("SeverDenyBedrockBearerTokens"), PolicyDocument: aws.String(bearerDenyDoc)})
				return err
			}},
		{name: "user, revoke older sessions leaves it", id: "short-term:" + userARN, signer: DefaultCompromisedKeyID, wantDenied: false,
			policyOn: func(api *iam.Client) error {
				_, err := api.PutUserPolicy(ctx(t), &iam.PutUserPolicyInput{UserName: aws.String(DefaultCompromisedUser),
					PolicyName: aws.String("AWSRevokeOlderSessions"), PolicyDocument: aws.String(revokeOlderDoc(time.Now().Add(time.Minute)))})
				return err
			}},
		{name: "role, bearer deny", id: "short-term:" + roleARN, signer: DefaultInstanceSessionID, wantDenied: true,
			policyOn: func(api *iam.Client) error {
				_, err := api.PutRolePolicy(ctx(t), &iam.PutRolePolicyInput{RoleName: aws.String(DefaultInstanceRole),
					PolicyName: aws.String("SeverDenyBedrockBearerTokens"), PolicyDocument: aws.String(bearerDenyDoc)})
				return err
			}},
		{name: "assumed role, revoke older sessions", id: "short-term:" + assumedARN, signer: DefaultInstanceSessionID, wantDenied: true,
			policyOn: func(api *iam.Client) error {
				_, err := api.PutRolePolicy(ctx(t), &iam.PutRolePolicyInput{RoleName: aws.String(DefaultInstanceRole),
					PolicyName: aws.String("AWSRevokeOlderSessions"), PolicyDocument: aws.String(revokeOlderDoc(time.Now().Add(time.Minute)))})
				return err
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultCloud(t)
			tok, err := c.BedrockAPIKeyValue(tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(tok, ShortTermBedrockKeyPrefix) {
				t.Fatalf("short-term key does not start %q", ShortTermBedrockKeyPrefix)
			}
			if st := bearerOnce(t, c, tc.id); st.Successes != 1 {
				t.Fatalf("first bearer call: %+v", st)
			}
			ev := lastCall(t, c, "InvokeModel")
			if ev.AccessKeyID != tc.signer {
				t.Errorf("InvokeModel logged key %q; want the signing credential %s", ev.AccessKeyID, tc.signer)
			}
			if err := tc.policyOn(iamFor(t, c, DefaultResponderKeyID)); err != nil {
				t.Fatal(err)
			}
			st := bearerOnce(t, c, tc.id)
			if tc.wantDenied && (st.Successes != 0 || st.Denials != 1) {
				t.Fatalf("bearer call after containment: %+v", st)
			}
			if !tc.wantDenied && st.Successes != 1 {
				t.Fatalf("bearer call refused by a control that does not apply: %+v", st)
			}
			if status, code := invokeWithBearer(t, c, tok); tc.wantDenied && code != "AccessDeniedException" {
				t.Errorf("the attacker's earlier key after containment: %d %s; want AccessDeniedException", status, code)
			}
			for _, ev := range c.Calls() {
				for _, f := range []string{ev.AccessKeyID, ev.Principal, ev.ErrorMsg, fmt.Sprint(ev.RequestParameters)} {
					if strings.Contains(f, tok) || strings.Contains(f, strings.TrimPrefix(tok, ShortTermBedrockKeyPrefix)) {
						t.Fatalf("call log holds the short-term key: %+v", ev)
					}
				}
			}
		})
	}
}

// Short-term keys are refused as AWS refuses them: expired, longer than 12 h,
// tampered with, for another region, or signed with a key that no longer works.
func TestShortTermBedrockKeyRefusals(t *testing.T) {
	now := time.Now().UTC()
	for _, tc := range []struct {
		name     string
		tok      func(t *testing.T, c *Cloud) string
		wantCode string
	}{
		{"valid", func(t *testing.T, c *Cloud) string {
			tok, _ := c.MintShortTermBedrockKey(DefaultCompromisedKeyID, "", time.Hour)
			return tok
		}, ""},
		{"expired", func(t *testing.T, c *Cloud) string {
			tok, _ := c.mintShortTerm(DefaultCompromisedKeyID, DefaultRegion, time.Hour, now.Add(-2*time.Hour))
			return tok
		}, "ExpiredTokenException"},
		{"longer than 12 hours", func(t *testing.T, c *Cloud) string {
			tok, _ := c.mintShortTerm(DefaultCompromisedKeyID, DefaultRegion, 13*time.Hour, now)
			return tok
		}, "UnrecognizedClientException"},
		{"signed in the future", func(t *testing.T, c *Cloud) string {
			tok, _ := c.mintShortTerm(DefaultCompromisedKeyID, DefaultRegion, time.Hour, now.Add(time.Hour))
			return tok
		}, "InvalidSignatureException"},
		{"other region", func(t *testing.T, c *Cloud) string {
			tok, _ := c.MintShortTermBedrockKey(DefaultCompromisedKeyID, "eu-west-1", time.Hour)
			return tok
		}, "InvalidSignatureException"},
		{"tampered", func(t *testing.T, c *Cloud) string {
			tok, _ := c.MintShortTermBedrockKey(DefaultCompromisedKeyID, "", time.Hour)
			raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(tok, ShortTermBedrockKeyPrefix))
			forged := strings.Replace(string(raw), "X-Amz-Expires=3600", "X-Amz-Expires=3601", 1)
			return ShortTermBedrockKeyPrefix + base64.StdEncoding.EncodeToString([]byte(forged))
		}, "InvalidSignatureException"},
		{"not base64", func(t *testing.T, c *Cloud) string { return ShortTermBedrockKeyPrefix + "!!!" }, "UnrecognizedClientException"},
		{"signing key deactivated", func(t *testing.T, c *Cloud) string {
			tok, _ := c.MintShortTermBedrockKey(DefaultCompromisedKeyID, "", time.Hour)
			if _, err := iamFor(t, c, DefaultResponderKeyID).UpdateAccessKey(ctx(t), &iam.UpdateAccessKeyInput{
				UserName: aws.String(DefaultCompromisedUser), AccessKeyId: aws.String(DefaultCompromisedKeyID), Status: "Inactive"}); err != nil {
				t.Fatal(err)
			}
			return tok
		}, "UnrecognizedClientException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultCloud(t)
			tok := tc.tok(t, c)
			status, code := invokeWithBearer(t, c, tok)
			if code != tc.wantCode {
				t.Fatalf("InvokeModel = %d %q; want %q", status, code, tc.wantCode)
			}
		})
	}
}

// FuzzDecodeShortTermKey: whatever a bearer token holds, decoding neither
// panics nor quotes it in an error.
func FuzzDecodeShortTermKey(f *testing.F) {
	f.Add(ShortTermBedrockKeyPrefix + base64.StdEncoding.EncodeToString([]byte("bedrock.amazonaws.com/?Action=CallWithBearerToken&Version=1")))
	f.Add(ShortTermBedrockKeyPrefix + "AAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		_, err := decodeShortTermKey(tok)
		if err != nil && len(tok) > len(ShortTermBedrockKeyPrefix)+8 && strings.Contains(err.Error(), strings.TrimPrefix(tok, ShortTermBedrockKeyPrefix)) {
			t.Fatalf("error quotes the key: %v", err)
		}
	})
}
