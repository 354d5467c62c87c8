package sever

import "sort"

// Action names of the core actions, stable wire vocabulary that runbooks use.
const (
	ActionNoop            = "sever.noop"
	ActionCaptureSignals  = "sever.evidence.capture_signals"
	ActionNotifyLog       = "sever.notify.log"
	ActionTokenDisable    = "tokenstore.disable_token"
	ActionTokenEnable     = "tokenstore.enable_token"
	ActionTokenStatus     = "tokenstore.token_status"
	ActionTokenVendorSeen = "tokenstore.observe_vendor_state"
)

// Action names of the AWS actions.
const (
	ActionAWSKeyOwner         = "aws.sts.key_owner"
	ActionAWSVendorQuarantine = "aws.iam.detect_vendor_quarantine"
	ActionAWSDeactivateKey    = "aws.iam.deactivate_access_key"
	ActionAWSActivateKey      = "aws.iam.activate_access_key"
	ActionAWSDeleteKey        = "aws.iam.delete_access_key"
	ActionAWSRevokeSessions   = "aws.iam.revoke_sessions"
	ActionAWSKeyStatus        = "aws.iam.key_status"
	ActionAWSRotateSecret     = "aws.secretsmanager.rotate_secret"
	ActionAWSLookupEvents     = "aws.cloudtrail.lookup_events"
	ActionAWSSnapshotVolume   = "aws.ec2.snapshot_volume"
	ActionAWSStoreEvidence    = "aws.s3.store_evidence"
	ActionAWSBedrockLogging   = "aws.bedrock.logging_state"

	// Temporary credentials (aws_temporary_credentials): an STS session is contained
	// through the role (or user) that issued it.
	ActionAWSSessionOwner           = "aws.sts.session_owner"
	ActionAWSRevokeRoleSessions     = "aws.iam.revoke_role_sessions"
	ActionAWSDeleteRoleRevokePolicy = "aws.iam.delete_role_revoke_policy"
	ActionAWSInstanceEvidence       = "aws.ec2.instance_evidence"

	// Amazon Bedrock API keys (aws_bedrock_api_key). A long-term key's credential id is
	// its ServiceSpecificCredentialId (ACCA…); a short-term key's is "short-term:"
	// followed by the ARN of the identity that minted it. The key itself is a secret
	// and is never an id.
	ActionAWSServiceCredentialOwner      = "aws.iam.service_specific_credential_owner"
	ActionAWSDeactivateServiceCredential = "aws.iam.deactivate_service_specific_credential"
	ActionAWSActivateServiceCredential   = "aws.iam.activate_service_specific_credential"
	ActionAWSContainShortTermBedrockKeys = "aws.iam.contain_short_term_bedrock_keys"
	ActionAWSReleaseShortTermBedrockKeys = "aws.iam.release_short_term_bedrock_keys"
)

// Action names of the model-provider actions.
const (
	ActionAnthropicObserveKey = "anthropic.observe_key_status"
	ActionAnthropicDisableKey = "anthropic.disable_api_key"
	ActionAnthropicEnableKey  = "anthropic.enable_api_key"
	ActionAnthropicKeyStatus  = "anthropic.key_status"
	ActionOpenAIObserveKey    = "openai.observe_key_status"
	ActionOpenAIRevokeKey     = "openai.revoke_api_key"
	ActionOpenAIKeyStatus     = "openai.key_status"
)

// Action names of the GitHub secret-scanning actions. The incident's credential id
// is the alert's place, "<owner>/<repo>/secret-scanning/<number>".
const (
	ActionGitHubRevokeAlertToken = "github.secret_scanning.revoke_alert_token"
	ActionGitHubAlertStatus      = "github.secret_scanning.alert_status"
	ActionGitHubResolveAlert     = "github.secret_scanning.resolve_alert"
)

// Action names of the HashiCorp Vault actions. The incident's credential id is the
// token's accessor, never the token: Vault looks a token up and revokes it by its
// accessor, so sever never holds the stolen token.
const (
	ActionVaultLookupAccessor    = "vault.token.lookup_accessor"
	ActionVaultRevokeAccessor    = "vault.token.revoke_accessor"
	ActionVaultAccessorStatus    = "vault.token.accessor_status"
	ActionVaultRevokeLeasePrefix = "vault.sys.revoke_lease_prefix"
	ActionVaultLeasePrefixStatus = "vault.sys.lease_prefix_status"
	ActionVaultAuditEvents       = "vault.audit.lookup_events"
)

// Action names of the Google Cloud service-account key actions. The incident's
// credential id is the key's resource name,
// "projects/<project>/serviceAccounts/<email>/keys/<key id>"; the key's private
// half is never an id and never reaches sever.
const (
	ActionGCPDisableKey      = "gcp.iam.disable_service_account_key"
	ActionGCPEnableKey       = "gcp.iam.enable_service_account_key"
	ActionGCPKeyStatus       = "gcp.iam.service_account_key_status"
	ActionGCPObserveExposure = "gcp.iam.observe_key_exposure"
	ActionGCPAuditEvents     = "gcp.logging.audit_events"
	// The Google API key actions; the credential id is the key's resource name,
	// "projects/<project>/locations/global/keys/<key id>".
	ActionGCPDeleteAPIKey   = "gcp.apikeys.delete_key"
	ActionGCPUndeleteAPIKey = "gcp.apikeys.undelete_key"
	ActionGCPAPIKeyStatus   = "gcp.apikeys.key_status"
)

// Action names of the Azure actions. An azure_app_secret incident's credential id is
// "<application (client) id>/<secret key id>"; an azure_openai_key incident's is the
// account's ARM resource id. Neither is ever the secret.
const (
	ActionAzureEntraSignIns           = "azure.entra.sign_in_logs"
	ActionAzureEntraRemovePassword    = "azure.entra.remove_password"
	ActionAzureEntraPasswordStatus    = "azure.entra.password_status"
	ActionAzureActivityLog            = "azure.monitor.activity_log"
	ActionAzureOpenAIDisableLocalAuth = "azure.cognitiveservices.disable_local_auth"
	ActionAzureOpenAIEnableLocalAuth  = "azure.cognitiveservices.enable_local_auth"
	ActionAzureOpenAIRegenerateKey    = "azure.cognitiveservices.regenerate_key"
	ActionAzureOpenAILocalAuthStatus  = "azure.cognitiveservices.local_auth_status"
)

// Catalog lists every action a runbook may name. The worker registers an activity under
// each name and a test checks that the two agree; the runbook linter rejects names that
// are not here, so a typo fails at lint time, not in the middle of an incident.
var Catalog = map[string]ActionSpec{
	ActionNoop: {Name: ActionNoop, Description: "Does nothing and is never verified; for tests and benchmarks. It cannot be a containment step.",
		Args: []string{"note"}},
	ActionCaptureSignals: {Name: ActionCaptureSignals,
		Description: "Writes the incident's signals to the evidence store and records the artifact's SHA-256.",
		Args:        []string{"label"}},
	ActionNotifyLog: {Name: ActionNotifyLog, Description: "Writes a notice to the operator log.",
		Args: []string{"message"}, Required: []string{"message"}},
	ActionTokenDisable: {Name: ActionTokenDisable, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Sets a token in the enterprise token store to inactive and reads it back.",
		Args:        []string{"store", "reason"}},
	ActionTokenEnable: {Name: ActionTokenEnable, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Re-activates a token in the token store (compensation for a false positive).",
		Args:        []string{"store", "reason"}},
	ActionTokenStatus: {Name: ActionTokenStatus,
		Description: "Reads a token's state from the token store; verified when it matches `expect` (default inactive).",
		Args:        []string{"store", "expect"}},
	ActionTokenVendorSeen: {Name: ActionTokenVendorSeen, Enforcement: VendorEnforced,
		Description: "Observes whether the issuing vendor already disabled the token; records vendor_enforced only when seen.",
		Args:        []string{"store"}},

	ActionAWSKeyOwner: {Name: ActionAWSKeyOwner,
		Description: "Maps an access key to its account (sts:GetAccessKeyInfo) and IAM user; fails NotFound unless the account is one sever acts in.",
		Args:        []string{"account"}},
	ActionAWSVendorQuarantine: {Name: ActionAWSVendorQuarantine, Enforcement: VendorEnforced,
		Description: "Observes whether AWS attached an AWSCompromisedKeyQuarantine policy to the key's user; records vendor_enforced only when seen, never detaches it.",
		Args:        []string{"account", "user"}},
	ActionAWSDeactivateKey: {Name: ActionAWSDeactivateKey, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Sets an IAM access key Inactive (reversible) and reads it back.",
		Args:        []string{"account", "user", "reason"}},
	ActionAWSActivateKey: {Name: ActionAWSActivateKey, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Sets an IAM access key Active again (compensation for a false positive).",
		Args:        []string{"account", "user", "reason"}},
	ActionAWSDeleteKey: {Name: ActionAWSDeleteKey, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Deletes an inactive IAM access key, refusing unless every dependent secret (inventory or `secrets`) was rotated after the exposure.",
		Args:        []string{"account", "user", "secrets", "reason"}},
	ActionAWSRevokeSessions: {Name: ActionAWSRevokeSessions, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Denies every session issued before now to the key's user (or the named users and roles) with the AWSRevokeOlderSessions inline policy, and reads it back.",
		Args:        []string{"account", "users", "roles"}},
	ActionAWSKeyStatus: {Name: ActionAWSKeyStatus,
		Description: "Reads an IAM access key's status; verified when it matches `expect` (inactive, active or absent; default inactive).",
		Args:        []string{"account", "user", "expect"}},
	ActionAWSRotateSecret: {Name: ActionAWSRotateSecret, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Rotates the Secrets Manager secret `secret_id`, or every secret the inventory lists for the credential (RotateSecret when it has a rotation Lambda, else a new AWSPENDING value promoted to AWSCURRENT).",
		Args:        []string{"secret_id", "region", "account"}},
	ActionAWSLookupEvents: {Name: ActionAWSLookupEvents,
		Description: "Reads the key's CloudTrail events (LookupEvents by AccessKeyId) in every configured region and records their SHA-256 as evidence.",
		Args:        []string{"account", "regions", "lookback", "max_events"}},
	ActionAWSSnapshotVolume: {Name: ActionAWSSnapshotVolume,
		Description: "Snapshots an EBS volume for forensics, tagged with the incident; finds the snapshot of an earlier attempt instead of taking a second. Verified only once EBS reports the snapshot completed.",
		Args:        []string{"volume_id", "region", "account", "description"}, Required: []string{"volume_id"}},
	ActionAWSStoreEvidence: {Name: ActionAWSStoreEvidence,
		Description: "Writes an evidence bundle (signals, IAM key state, CloudTrail events) to S3 under Object Lock with a SHA-256 checksum, and records the hash. Verified only when S3's own SHA-256 checksum of the object (HeadObject) matches it and the lock reads back.",
		Args:        []string{"bucket", "prefix", "include", "retention", "account", "region"}},
	ActionAWSBedrockLogging: {Name: ActionAWSBedrockLogging,
		Description: "Reads whether Bedrock model invocation logging is on in each region; verified when it is on everywhere.",
		Args:        []string{"account", "regions"}},
	ActionAWSSessionOwner: {Name: ActionAWSSessionOwner,
		Description: "Finds the role (or user) whose session a temporary key (ASIA…) is: the account from sts:GetAccessKeyInfo, the issuer from CloudTrail events made with the key, else the signal's principal; a signal that contradicts CloudTrail is refused. Records an EC2 instance id when the session name is one.",
		Args:        []string{"account", "regions", "lookback"}},
	ActionAWSRevokeRoleSessions: {Name: ActionAWSRevokeRoleSessions, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Denies every session of the temporary key's role (or user) issued before now with the AWSRevokeOlderSessions inline policy, as the IAM console's \"Revoke active sessions\" does, and reads it back; a later cut-off already there is kept.",
		Args:        []string{"account", "regions", "lookback", "reason"}},
	ActionAWSDeleteRoleRevokePolicy: {Name: ActionAWSDeleteRoleRevokePolicy, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Deletes the AWSRevokeOlderSessions inline policy from the temporary key's role (or user) and reads back that it is gone (compensation for a false positive); refuses a policy of that name that is not a session revocation.",
		Args:        []string{"account", "regions", "lookback", "reason"}},
	ActionAWSInstanceEvidence: {Name: ActionAWSInstanceEvidence,
		Description: "For EC2 instance credentials (a role session named i-…), reads the instance (ec2:DescribeInstances), records its instance profile and volumes, and snapshots each volume, tagged with the incident; a retry finds the snapshots of an earlier attempt. Verified only once EBS reports every snapshot completed.",
		Args:        []string{"instance_id", "region", "account", "regions", "lookback"}},
	ActionAWSServiceCredentialOwner: {Name: ActionAWSServiceCredentialOwner,
		Description: "Finds the IAM user and status of a long-term Bedrock API key (iam:ListServiceSpecificCredentials), or confirms the identity that minted short-term keys exists; a user the signal names that IAM contradicts is refused.",
		Args:        []string{"account", "user"}},
	ActionAWSDeactivateServiceCredential: {Name: ActionAWSDeactivateServiceCredential, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Sets a long-term Bedrock API key (an IAM service-specific credential) Inactive (reversible) and reads it back.",
		Args:        []string{"account", "user", "reason"}},
	ActionAWSActivateServiceCredential: {Name: ActionAWSActivateServiceCredential, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Sets a long-term Bedrock API key Active again (compensation for a false positive) and reads it back.",
		Args:        []string{"account", "user", "reason"}},
	ActionAWSContainShortTermBedrockKeys: {Name: ActionAWSContainShortTermBedrockKeys, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Contains short-term Bedrock API keys on the identity that minted them: an inline Deny of bedrock:CallWithBearerToken (SeverDenyBedrockBearerTokens) and AWSRevokeOlderSessions, both read back.",
		Args:        []string{"account", "reason"}},
	ActionAWSReleaseShortTermBedrockKeys: {Name: ActionAWSReleaseShortTermBedrockKeys, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Deletes SeverDenyBedrockBearerTokens from the minting identity and reads back that it is gone (compensation for a false positive); the session revocation stays.",
		Args:        []string{"account", "reason"}},

	ActionAnthropicObserveKey: {Name: ActionAnthropicObserveKey, Enforcement: VendorEnforced,
		Description: "Reads an Anthropic API key's status through the Admin API (polling up to `wait`); records vendor_enforced only when the key is already inactive or archived and sever did not do it. Never changes the key.",
		Args:        []string{"wait", "interval"}},
	ActionAnthropicDisableKey: {Name: ActionAnthropicDisableKey, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Sets an Anthropic API key inactive through the Admin API (reversible) and reads it back; a key already inactive or archived is left alone and still read back.",
		Args:        []string{"reason"}},
	ActionAnthropicEnableKey: {Name: ActionAnthropicEnableKey, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Sets an Anthropic API key active again (compensation for a false positive); refuses archived keys.",
		Args:        []string{"reason"}},
	ActionAnthropicKeyStatus: {Name: ActionAnthropicKeyStatus,
		Description: "Reads an Anthropic API key's status; verified when it matches `expect` (inactive, which an archived key also satisfies, active or archived; default inactive).",
		Args:        []string{"expect"}},
	ActionOpenAIObserveKey: {Name: ActionOpenAIObserveKey, Enforcement: VendorEnforced,
		Description: "Reads whether an OpenAI project API key still exists (polling up to `wait`); records vendor_enforced only when it is gone, sever did not delete it, and the inventory or an OpenAI notice shows it existed. Never changes the key.",
		Args:        []string{"project", "wait", "interval"}},
	ActionOpenAIRevokeKey: {Name: ActionOpenAIRevokeKey, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "IRREVERSIBLE: deletes an OpenAI project API key through the Admin API (OpenAI has no disable, so there is no compensation) and reads back that it is gone. Policy should require approval.",
		Args:        []string{"project", "reason"}},
	ActionOpenAIKeyStatus: {Name: ActionOpenAIKeyStatus,
		Description: "Reads whether an OpenAI project API key exists; verified when that matches `expect` (absent or present; default absent). Absence counts only once the project is found.",
		Args:        []string{"project", "expect"}},

	ActionGitHubRevokeAlertToken: {Name: ActionGitHubRevokeAlertToken, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "IRREVERSIBLE: fetches the secret-scanning alert with the GitHub App's installation token and sends the GitHub token it found (ghp_, github_pat_, gho_, ghu_, ghr_) to GitHub's credential revocation API, holding the secret only in memory; reads the alert back and is verified when GitHub reports the token inactive. Policy should require approval.",
		Args:        []string{"reason"}},
	ActionGitHubAlertStatus: {Name: ActionGitHubAlertStatus,
		Description: "Reads a secret-scanning alert; verified when its token is inactive (`expect` revoked, the default) or the alert is resolved as revoked (`expect` resolved).",
		Args:        []string{"expect"}},
	ActionGitHubResolveAlert: {Name: ActionGitHubResolveAlert, Mutating: true,
		Description: "Resolves a secret-scanning alert as revoked, refusing while GitHub does not report its token inactive; an alert already resolved is left alone.",
		Args:        []string{"reason"}},

	ActionVaultLookupAccessor: {Name: ActionVaultLookupAccessor,
		Description: "Looks a Vault token up by its accessor (auth/token/lookup-accessor) and records what it can reach: policies, auth path, entity, TTL and expiry, never the token; fails NotFound when Vault does not know the accessor."},
	ActionVaultRevokeAccessor: {Name: ActionVaultRevokeAccessor, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "IRREVERSIBLE: revokes a Vault token, its child tokens and their leases by the token's accessor (auth/token/revoke-accessor) and reads back that the accessor is gone; a retry after Vault revoked it is a no-op. Policy should require approval.",
		Args:        []string{"reason"}},
	ActionVaultAccessorStatus: {Name: ActionVaultAccessorStatus,
		Description: "Looks a Vault token up by its accessor; verified when that matches `expect` (revoked, the accessor is unknown to Vault, or active; default revoked).",
		Args:        []string{"expect"}},
	ActionVaultRevokeLeasePrefix: {Name: ActionVaultRevokeLeasePrefix, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "IRREVERSIBLE: revokes every Vault lease under `prefix` (sys/leases/revoke-prefix, e.g. the dynamic credentials a stolen token minted from aws/creds/deploy) and reads back that none is left (sys/leases/lookup). Policy should require approval.",
		Args:        []string{"prefix", "reason"}, Required: []string{"prefix"}},
	ActionVaultLeasePrefixStatus: {Name: ActionVaultLeasePrefixStatus,
		Description: "Lists the Vault leases under `prefix` (sys/leases/lookup); verified when that matches `expect` (absent or present; default absent).",
		Args:        []string{"prefix", "expect"}, Required: []string{"prefix"}},
	ActionVaultAuditEvents: {Name: ActionVaultAuditEvents,
		Description: "Reads the requests made with a Vault token from a file audit device (read-only): finds the device (sys/audit), hashes the accessor as the device does (sys/audit-hash), and records the matching entries' count, paths and SHA-256 as evidence.",
		Args:        []string{"device", "max_events"}},

	ActionGCPDisableKey: {Name: ActionGCPDisableKey, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Disables a Google Cloud service-account key (projects.serviceAccounts.keys.disable with a serviceAccountKeyDisableReason; reversible) and reads it back with keys.get; a key already disabled is left alone.",
		Args:        []string{"reason", "disable_reason"}},
	ActionGCPEnableKey: {Name: ActionGCPEnableKey, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Enables a service-account key again (compensation for a false positive) and reads it back; refuses a key Google itself marks exposed (extendedStatus KEY_EXPOSED).",
		Args:        []string{"reason"}},
	ActionGCPKeyStatus: {Name: ActionGCPKeyStatus,
		Description: "Reads a service-account key (keys.get); verified when its state matches `expect` (disabled, enabled or absent; default disabled).",
		Args:        []string{"expect"}},
	ActionGCPObserveExposure: {Name: ActionGCPObserveExposure, Enforcement: VendorEnforced,
		Description: "Observes whether Google already disabled the key as exposed (extendedStatus KEY_EXPOSED); records vendor_enforced only when seen, never changes the key.",
	},
	ActionGCPAuditEvents: {Name: ActionGCPAuditEvents,
		Description: "Reads the Cloud Audit Logs entries made with the key (Cloud Logging entries.list by serviceAccountKeyName, read-only) and records their count, methods and SHA-256 as evidence.",
		Args:        []string{"lookback", "max_events"}},
	ActionGCPDeleteAPIKey: {Name: ActionGCPDeleteAPIKey, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Deletes a Google API key (API Keys keys.delete; Google keeps it 30 days, so it is reversible until then) and reads it back with keys.get; a key already deleted is left alone.",
		Args:        []string{"reason"}},
	ActionGCPUndeleteAPIKey: {Name: ActionGCPUndeleteAPIKey, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Restores a deleted Google API key (keys.undelete, within Google's 30 days; compensation for a false positive) and reads it back.",
		Args:        []string{"reason"}},
	ActionGCPAPIKeyStatus: {Name: ActionGCPAPIKeyStatus,
		Description: "Reads a Google API key (keys.get); verified when its state matches `expect` (deleted or active; default deleted).",
		Args:        []string{"expect"}},

	ActionAzureEntraSignIns: {Name: ActionAzureEntraSignIns,
		Description: "Reads the Entra sign-in logs of the application's service principal (Graph auditLogs/signIns, read-only) over `lookback` and records their count, source addresses and SHA-256 as evidence.",
		Args:        []string{"lookback", "max_events"}},
	ActionAzureEntraRemovePassword: {Name: ActionAzureEntraRemovePassword, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "IRREVERSIBLE: removes an Entra application's client secret by its key id (Graph applications/removePassword) and reads the application's passwordCredentials back; a secret already gone is not removed again. Policy should require approval.",
		Args:        []string{"reason"}},
	ActionAzureEntraPasswordStatus: {Name: ActionAzureEntraPasswordStatus,
		Description: "Reads an Entra application's passwordCredentials; verified when the secret's key id matches `expect` (absent or present; default absent). Absence counts only once the application is found.",
		Args:        []string{"expect"}},
	ActionAzureActivityLog: {Name: ActionAzureActivityLog,
		Description: "Reads the Azure activity log of the Azure OpenAI account (Microsoft.Insights management events by resource id, read-only) over `lookback` and records their count, operations and SHA-256 as evidence.",
		Args:        []string{"lookback", "max_events"}},
	ActionAzureOpenAIDisableLocalAuth: {Name: ActionAzureOpenAIDisableLocalAuth, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Sets disableLocalAuth=true on an Azure OpenAI account (ARM), which refuses every API key of the account (reversible), and reads the account back.",
		Args:        []string{"reason"}},
	ActionAzureOpenAIEnableLocalAuth: {Name: ActionAzureOpenAIEnableLocalAuth, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "Sets disableLocalAuth=false on an Azure OpenAI account again (compensation for a false positive) and reads the account back.",
		Args:        []string{"reason"}},
	ActionAzureOpenAIRegenerateKey: {Name: ActionAzureOpenAIRegenerateKey, Mutating: true, Enforcement: EnterpriseEnforced,
		Description: "IRREVERSIBLE: regenerates `key` (key1, key2 or both; default both) of an Azure OpenAI account (ARM regenerateKey) and is verified when listKeys shows every regenerated key changed; keys are compared in memory and never recorded. Policy should require approval.",
		Args:        []string{"key", "reason"}},
	ActionAzureOpenAILocalAuthStatus: {Name: ActionAzureOpenAILocalAuthStatus,
		Description: "Reads an Azure OpenAI account's properties; verified when disableLocalAuth matches `expect` (disabled or enabled; default disabled).",
		Args:        []string{"expect"}},
}

// ActionNames returns the catalog's names in sorted order.
func ActionNames() []string {
	names := make([]string, 0, len(Catalog))
	for n := range Catalog {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
