package awsact

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/inventory"
)

// Resolver resolves sever.yaml's aws-sm: secret references (Slack tokens, provider admin
// keys, external ids) with sever's ambient credentials, in the region the ARN names.
// A secret in another account needs a resource policy that lets sever read it.
type Resolver struct {
	Clients ClientSource
}

var _ config.SecretResolver = Resolver{}

// AWSSecret returns the secret string, or one string field of it when jsonKey is set.
// Errors name the ARN, never the value.
func (r Resolver) AWSSecret(ctx context.Context, arn, jsonKey string) (string, error) {
	region, _ := inventory.SecretARNParts(arn)
	c, err := r.Clients.Clients(ctx, "", region)
	if err != nil {
		return "", err
	}
	out, err := c.SecretsManager.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("secretsmanager:GetSecretValue: %w", apiError(err))
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("secret %s holds binary data, not a string", arn)
	}
	if jsonKey == "" {
		return *out.SecretString, nil
	}
	return config.SecretJSONField(*out.SecretString, jsonKey)
}
