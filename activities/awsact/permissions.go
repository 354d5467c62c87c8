package awsact

import (
	"maps"
	"slices"

	"github.com/sever-ir/sever"
)

// Permissions are the IAM actions each registered aws.* action calls, for the least-
// privilege policy of the principal it acts as (deploy/aws/iam-policy.json, and
// `sever config check --deploy`). TestPermissionsMatchTheCode derives the same sets from
// the package's source, so an AWS call added without its permission fails a test rather
// than an incident with AccessDenied.
//
// Not listed: sts:GetCallerIdentity, which AWS allows every principal; sts:AssumeRole on
// the roles of aws.accounts, which the base credentials need, not the roles; and
// secretsmanager:GetSecretValue for the aws-sm: secret references (ResolverPermissions).
// aws.iam.delete_access_key reads the current value of the key's dependent secrets, so
// it needs secretsmanager:GetSecretValue on those secrets.
var Permissions = map[string][]string{
	sever.ActionAWSKeyOwner: {
		"iam:GetAccessKeyLastUsed", "iam:ListAccessKeys", "sts:GetAccessKeyInfo"},
	sever.ActionAWSVendorQuarantine: {
		"iam:GetAccessKeyLastUsed", "iam:ListAttachedUserPolicies", "sts:GetAccessKeyInfo"},
	sever.ActionAWSDeactivateKey: {
		"iam:GetAccessKeyLastUsed", "iam:ListAccessKeys", "iam:UpdateAccessKey", "sts:GetAccessKeyInfo"},
	sever.ActionAWSActivateKey: {
		"iam:GetAccessKeyLastUsed", "iam:ListAccessKeys", "iam:UpdateAccessKey", "sts:GetAccessKeyInfo"},
	sever.ActionAWSDeleteKey: {
		"iam:DeleteAccessKey", "iam:GetAccessKeyLastUsed", "iam:ListAccessKeys",
		"secretsmanager:GetSecretValue", "secretsmanager:ListSecretVersionIds", "sts:GetAccessKeyInfo"},
	sever.ActionAWSRevokeSessions: {
		"iam:GetAccessKeyLastUsed", "iam:GetRolePolicy", "iam:GetUserPolicy", "iam:PutRolePolicy",
		"iam:PutUserPolicy", "sts:GetAccessKeyInfo"},
	sever.ActionAWSKeyStatus: {
		"iam:GetAccessKeyLastUsed", "iam:ListAccessKeys", "sts:GetAccessKeyInfo"},
	// lambda:InvokeFunction: RotateSecret has Secrets Manager invoke the secret's
	// rotation function on the caller's behalf.
	sever.ActionAWSRotateSecret: {
		"lambda:InvokeFunction", "secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue",
		"secretsmanager:RotateSecret", "secretsmanager:UpdateSecretVersionStage", "sts:GetAccessKeyInfo"},
	sever.ActionAWSLookupEvents: {
		"cloudtrail:LookupEvents", "sts:GetAccessKeyInfo"},
	// ec2:CreateTags: the snapshot is created with its idempotency tag.
	sever.ActionAWSSnapshotVolume: {
		"ec2:CreateSnapshot", "ec2:CreateTags", "ec2:DescribeSnapshots", "sts:GetAccessKeyInfo"},
	// s3:PutObjectRetention and s3:GetObjectRetention: the object is written under
	// Object Lock and its lock is read back.
	sever.ActionAWSStoreEvidence: {
		"cloudtrail:LookupEvents", "iam:GetAccessKeyLastUsed", "iam:ListAccessKeys",
		"iam:ListAttachedUserPolicies", "iam:ListUserPolicies", "s3:GetObject", "s3:GetObjectRetention",
		"s3:PutObject", "s3:PutObjectRetention", "sts:GetAccessKeyInfo"},
	sever.ActionAWSBedrockLogging: {
		"bedrock:GetModelInvocationLoggingConfiguration", "sts:GetAccessKeyInfo"},
	sever.ActionAWSSessionOwner: {
		"cloudtrail:LookupEvents", "iam:ListRolePolicies", "iam:ListUserPolicies", "sts:GetAccessKeyInfo"},
	sever.ActionAWSRevokeRoleSessions: {
		"cloudtrail:LookupEvents", "iam:GetRolePolicy", "iam:GetUserPolicy", "iam:PutRolePolicy",
		"iam:PutUserPolicy", "sts:GetAccessKeyInfo"},
	sever.ActionAWSDeleteRoleRevokePolicy: {
		"cloudtrail:LookupEvents", "iam:DeleteRolePolicy", "iam:DeleteUserPolicy", "iam:GetRolePolicy",
		"iam:GetUserPolicy", "sts:GetAccessKeyInfo"},
	sever.ActionAWSServiceCredentialOwner: {
		"iam:GetRole", "iam:GetUser", "iam:ListServiceSpecificCredentials"},
	sever.ActionAWSDeactivateServiceCredential: {
		"iam:ListServiceSpecificCredentials", "iam:UpdateServiceSpecificCredential"},
	sever.ActionAWSActivateServiceCredential: {
		"iam:ListServiceSpecificCredentials", "iam:UpdateServiceSpecificCredential"},
	sever.ActionAWSContainShortTermBedrockKeys: {
		"iam:GetRolePolicy", "iam:GetUserPolicy", "iam:ListServiceSpecificCredentials",
		"iam:PutRolePolicy", "iam:PutUserPolicy"},
	sever.ActionAWSReleaseShortTermBedrockKeys: {
		"iam:DeleteRolePolicy", "iam:DeleteUserPolicy", "iam:GetRolePolicy", "iam:GetUserPolicy",
		"iam:ListServiceSpecificCredentials"},
	sever.ActionAWSInstanceEvidence: {
		"cloudtrail:LookupEvents", "ec2:CreateSnapshot", "ec2:CreateTags", "ec2:DescribeInstances",
		"ec2:DescribeSnapshots", "sts:GetAccessKeyInfo"},
}

// ResolverPermissions are the IAM actions Resolver calls to read an aws-sm: secret
// reference; grant them only on the secrets sever.yaml references.
var ResolverPermissions = []string{"secretsmanager:GetSecretValue"}

// AssumeRolePermissions are what the base credentials need for each account in
// aws.accounts that names a role_arn, granted on those roles.
var AssumeRolePermissions = []string{"sts:AssumeRole"}

// IAMActions returns the sorted union of the IAM actions the named actions call;
// names that are not aws.* actions add nothing.
func IAMActions(actions ...string) []string {
	set := map[string]bool{}
	for _, a := range actions {
		for _, p := range Permissions[a] {
			set[p] = true
		}
	}
	if len(set) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(set))
}
