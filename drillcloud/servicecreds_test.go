package drillcloud

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// bearerOnce makes one InvokeModel call with a Bedrock API key and reports
// whether it succeeded.
func bearerOnce(t *testing.T, c *Cloud, credID string) AttackerStats {
	t.Helper()
	a, err := c.StartAttacker(ctx(t), AttackerConfig{KeyID: credID, Rate: 1000, MaxAttempts: 1, KeepTrying: true})
	if err != nil {
		t.Fatal(err)
	}
	<-a.Done()
	return a.Stats()
}

// A long-term Bedrock API key is an IAM service-specific credential: it works as a
// bearer token on the Bedrock runtime until set Inactive (or its user is denied
// bedrock:CallWithBearerToken), and the call log names its id, never the key.
func TestBedrockAPIKeyBearerAuth(t *testing.T) {
	for _, tc := range []struct {
		name    string
		contain func(t *testing.T, c *Cloud, id string, api *iam.Client)
	}{
		{"deactivated", func(t *testing.T, c *Cloud, id string, api *iam.Client) {
			if _, err := api.UpdateServiceSpecificCredential(ctx(t), &iam.UpdateServiceSpecificCredentialInput{
				UserName: aws.String("BedrockAPIKey-x1"), ServiceSpecificCredentialId: aws.String(id), Status: iamtypes.StatusTypeInactive}); err != nil {
				t.Fatal(err)
			}
		}},
		{"bearer calls denied", func(t *testing.T, c *Cloud, id string, api *iam.Client) {
			doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"bedrock:CallWithBearerToken","Resource":"*"}]}`
			if _, err := api.PutUserPolicy(ctx(t), &iam.PutUserPolicyInput{UserName: aws.String("BedrockAPIKey-x1"),
				PolicyName: aws.String("DenyBearer"), PolicyDocument: aws.String(doc)}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultCloud(t)
			id, err := c.CreateBedrockAPIKey("BedrockAPIKey-x1")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(id, "ACCA") {
				t.Fatalf("credential id %q; want ACCA…", id)
			}
			secret, _ := c.BedrockAPIKeyValue(id)
			if st := bearerOnce(t, c, id); st.Successes != 1 {
				t.Fatalf("first bearer call: %+v", st)
			}
			api := iamFor(t, c, DefaultResponderKeyID)
			out, err := api.ListServiceSpecificCredentials(ctx(t), &iam.ListServiceSpecificCredentialsInput{
				AllUsers: aws.Bool(true), ServiceName: aws.String(BedrockServiceName)})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.ServiceSpecificCredentials) != 1 || aws.ToString(out.ServiceSpecificCredentials[0].UserName) != "BedrockAPIKey-x1" ||
				out.ServiceSpecificCredentials[0].Status != iamtypes.StatusTypeActive {
				t.Fatalf("ListServiceSpecificCredentials(AllUsers) = %+v", out.ServiceSpecificCredentials)
			}
			tc.contain(t, c, id, api)
			if st := bearerOnce(t, c, id); st.Successes != 0 || st.Denials != 1 {
				t.Fatalf("bearer call after containment: %+v", st)
			}
			for _, ev := range c.Calls() {
				if strings.Contains(ev.AccessKeyID, secret) || strings.Contains(ev.Principal, secret) {
					t.Fatalf("call log holds the bearer key: %+v", ev)
				}
			}
			if ev := lastCall(t, c, "InvokeModel"); ev.AccessKeyID != id {
				t.Errorf("InvokeModel logged key %q; want the credential id %s", ev.AccessKeyID, id)
			}
		})
	}
}
