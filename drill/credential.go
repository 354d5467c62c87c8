package drill

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
)

// A drill's credential is one of several kinds of non-human identity the drill cloud
// holds. Everything the runner does with a credential that depends on its kind (what
// a valid one looks like, making it exist, what an attacker does with it, how a
// signal names it, whether a vendor quarantine applies) is in its credKind, so the
// runner and the measures treat every kind alike: an attacker is a drillcloud
// attacker holding the credential, and "the attacker's next call refused" is that
// attacker's own count, whatever the protocol.
type credKind struct {
	typ      sever.CredentialType
	provider string
	// ops are the attack operations the credential serves; defaultOps are used when
	// an attacker names none.
	ops, defaultOps []string
	// defaultAccount fills Credential.Account; accountRE checks it.
	defaultAccount string
	accountRE      *regexp.Regexp
	accountWhat    string
	// check reports what is wrong with c's id and user (field names relative to the
	// credential), nil when nothing.
	check func(c Credential) []*FieldError
	// prepare makes c exist in the drill cloud when the scenario leaves that to the
	// drill (a long-term Bedrock key's id is only known once created), and checks
	// that the cloud holds it. It returns c with its id filled in.
	prepare func(cloud *drillcloud.Cloud, c Credential) (Credential, error)
	// principal is the ARN (or "") a signal names as the credential's principal.
	principal func(c Credential) string
	// quarantinable says an AWS quarantine policy can be attached to the
	// credential's user.
	quarantinable bool
}

var (
	keyIDRE       = regexp.MustCompile(`^AKIA[A-Z0-9]{12,124}$`)
	accountRE     = regexp.MustCompile(`^\d{12}$`)
	serviceCredRE = regexp.MustCompile(`^ACCA[A-Z0-9]{12,124}$`)
	minterARNRE   = regexp.MustCompile(`^arn:aws:(iam::\d{12}:(user|role)/[\w+=,.@/-]{1,512}|sts::\d{12}:assumed-role/[\w+=,.@-]{1,64}/[\w+=,.@-]{1,64})$`)
	anthropicIDRE = regexp.MustCompile(`^apikey_[A-Za-z0-9]{4,128}$`)
	openAIIDRE    = regexp.MustCompile(`^key_[A-Za-z0-9]{4,128}$`)
	providerAcct  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
)

// awsOps are the calls an AWS access key serves.
var awsOps = []string{
	drillcloud.AttackListBuckets, drillcloud.AttackInvokeModel, drillcloud.AttackGetSecretValue,
	drillcloud.AttackGetCallerID, drillcloud.AttackGetSessionToken, drillcloud.AttackCreateAccessKey,
	drillcloud.AttackDescribeVolumes,
}

func fe(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// credKinds are the credential types a drill can steal, by wire type.
var credKinds = map[sever.CredentialType]*credKind{
	sever.CredAWSAccessKey: {
		typ: sever.CredAWSAccessKey, provider: "aws", ops: awsOps,
		defaultOps:     []string{drillcloud.AttackListBuckets, drillcloud.AttackInvokeModel},
		defaultAccount: drillcloud.DefaultAccountID, accountRE: accountRE, accountWhat: "a 12-digit AWS account id",
		quarantinable: true,
		check: func(c Credential) []*FieldError {
			var errs []*FieldError
			switch {
			case c.ID == "":
				errs = append(errs, fe("id", "is required: the access key id (AKIA…) in the drill cloud"))
			case !keyIDRE.MatchString(c.ID):
				errs = append(errs, fe("id", "%q is not an AWS access key id (AKIA followed by 12 or more capital letters and digits)", c.ID))
			}
			if c.User == "" {
				errs = append(errs, fe("user", "is required for a key other than the default seed's %s: the IAM user that owns it", drillcloud.DefaultCompromisedKeyID))
			}
			return errs
		},
		prepare: func(cloud *drillcloud.Cloud, c Credential) (Credential, error) {
			k, ok := cloud.Key(c.ID)
			if !ok {
				return c, fmt.Errorf("id: key %s is not in the drill cloud (see cloud_seed)", c.ID)
			}
			if k.UserName != c.User {
				return c, fmt.Errorf("user: key %s belongs to %s in the drill cloud, not %s", c.ID, k.UserName, c.User)
			}
			return c, nil
		},
		principal: func(c Credential) string { return "arn:aws:iam::" + c.Account + ":user/" + c.User },
	},
	sever.CredAWSBedrockAPIKey: {
		typ: sever.CredAWSBedrockAPIKey, provider: "aws",
		ops: []string{drillcloud.AttackInvokeModel}, defaultOps: []string{drillcloud.AttackInvokeModel},
		defaultAccount: drillcloud.DefaultAccountID, accountRE: accountRE, accountWhat: "a 12-digit AWS account id",
		check: func(c Credential) []*FieldError {
			if arn, ok := strings.CutPrefix(c.ID, drillcloud.ShortTermBedrockKeyIDPrefix); ok {
				var errs []*FieldError
				if !minterARNRE.MatchString(arn) {
					errs = append(errs, fe("id", "%q: a short-term key's id is short-term: and the ARN of the IAM user, role or assumed role that minted it", c.ID))
				} else if acct := strings.Split(arn, ":")[4]; c.Account != "" && acct != c.Account {
					errs = append(errs, fe("account", "%s contradicts the account %s of the minting identity", c.Account, acct))
				}
				if c.User != "" {
					errs = append(errs, fe("user", "a short-term key names its minting identity in the id, not in user"))
				}
				return errs
			}
			var errs []*FieldError
			if c.ID != "" && !serviceCredRE.MatchString(c.ID) {
				errs = append(errs, fe("id", "%q is neither a service-specific credential id (ACCA…) nor short-term:<ARN>; leave it out to create a long-term key for user", c.ID))
			}
			if c.User == "" {
				errs = append(errs, fe("user", "is required for a long-term Bedrock API key: the IAM user that holds it (e.g. BedrockAPIKey-drill)"))
			}
			return errs
		},
		prepare: func(cloud *drillcloud.Cloud, c Credential) (Credential, error) {
			if strings.HasPrefix(c.ID, drillcloud.ShortTermBedrockKeyIDPrefix) {
				// Minting one proves the identity exists and can sign; the key itself
				// is dropped here and minted again for the attacker.
				if _, err := cloud.BedrockAPIKeyValue(c.ID); err != nil {
					return c, fmt.Errorf("id: %w", err)
				}
				return c, nil
			}
			if c.ID == "" {
				id, err := cloud.CreateBedrockAPIKey(c.User)
				if err != nil {
					return c, fmt.Errorf("user: %w", err)
				}
				c.ID = id
				return c, nil
			}
			sc, ok := cloud.ServiceCredential(c.ID)
			switch {
			case !ok:
				return c, fmt.Errorf("id: Bedrock API key %s is not in the drill cloud", c.ID)
			case sc.UserName != c.User:
				return c, fmt.Errorf("user: Bedrock API key %s belongs to %s in the drill cloud, not %s", c.ID, sc.UserName, c.User)
			}
			return c, nil
		},
		principal: func(c Credential) string {
			if arn, ok := strings.CutPrefix(c.ID, drillcloud.ShortTermBedrockKeyIDPrefix); ok {
				return arn
			}
			return "arn:aws:iam::" + c.Account + ":user/" + c.User
		},
	},
	sever.CredAnthropicAPIKey: providerKind(sever.CredAnthropicAPIKey, "anthropic", drillcloud.AttackAnthropicMessages,
		drillcloud.DefaultAnthropicOrgID, anthropicIDRE, "an Anthropic API key id (apikey_…)"),
	sever.CredOpenAIAPIKey: providerKind(sever.CredOpenAIAPIKey, "openai", drillcloud.AttackOpenAIChat,
		drillcloud.DefaultOpenAIProjectID, openAIIDRE, "an OpenAI project API key id (key_…)"),
}

// providerKind is a model-provider API key: its account is the organization
// (Anthropic) or project (OpenAI) the key belongs to, as the runbook reads it.
func providerKind(typ sever.CredentialType, provider, op, defAccount string, idRE *regexp.Regexp, what string) *credKind {
	return &credKind{typ: typ, provider: provider, ops: []string{op}, defaultOps: []string{op},
		defaultAccount: defAccount, accountRE: providerAcct, accountWhat: "the provider's organization or project id",
		check: func(c Credential) []*FieldError {
			var errs []*FieldError
			if !idRE.MatchString(c.ID) {
				errs = append(errs, fe("id", "%q is not %s in the drill cloud", c.ID, what))
			}
			if c.User != "" {
				errs = append(errs, fe("user", "a %s has no IAM user", typ))
			}
			return errs
		},
		prepare: func(cloud *drillcloud.Cloud, c Credential) (Credential, error) {
			if _, ok := cloud.ProviderKey(c.ID); !ok {
				return c, fmt.Errorf("id: %s key %s is not in the drill cloud (see cloud_seed)", provider, c.ID)
			}
			return c, nil
		},
		principal: func(Credential) string { return "" },
	}
}

// CredentialTypes are the types a scenario's credential may have.
var CredentialTypes = []sever.CredentialType{
	sever.CredAWSAccessKey, sever.CredAWSBedrockAPIKey, sever.CredAnthropicAPIKey, sever.CredOpenAIAPIKey,
}

// kind is the credential's kind; nil for an unknown type.
func (c Credential) kind() *credKind {
	return credKinds[sever.CredentialType(cmp.Or(c.Type, string(sever.CredAWSAccessKey)))]
}

// signalCredential is the credential as every signal about it names it.
func signalCredential(c Credential) sever.Credential {
	k := c.kind()
	return sever.Credential{Provider: k.provider, Type: k.typ, ID: c.ID, Principal: k.principal(c), Account: c.Account}
}

// AttackOperations are every call an attacker can make, with some credential.
var AttackOperations = slices.Concat(awsOps, []string{drillcloud.AttackAnthropicMessages, drillcloud.AttackOpenAIChat})
