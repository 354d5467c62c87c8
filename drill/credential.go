package drill

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
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
	// vendorDisable does what the vendor does on its own when it finds the
	// credential leaked (a signal's vendor_disables), and says what that was for
	// the progress log; nil when the drill cloud's vendor does nothing of the kind.
	vendorDisable func(cloud *drillcloud.Cloud, c Credential) (string, error)
	// attack starts an attacker holding the credential; nil is the drill cloud's
	// AWS and model-provider attacker, which knows the credential by its id.
	attack func(ctx context.Context, cloud *drillcloud.Cloud, c Credential, cfg drillcloud.AttackerConfig) (*drillcloud.Attacker, error)
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
	sever.CredGCPServiceAccountKey: familyKind(family{typ: sever.CredGCPServiceAccountKey, provider: "gcp",
		account: drillcloud.DefaultGCPProject, accountRE: gcpProjectRE, accountWhat: "a Google Cloud project id",
		idRE: gcpKeyNameRE, idWhat: "a service-account key's resource name (projects/P/serviceAccounts/E/keys/K)",
		create: func(cloud *drillcloud.Cloud, c Credential) (string, error) {
			g := cloud.GCP()
			if g.Project != c.Account {
				return "", fmt.Errorf("account: the drill cloud's Google Cloud project is %s, not %s", g.Project, c.Account)
			}
			id, err := g.NewKey(g.WorkloadEmail())
			return g.KeyName(id), err
		},
		exists: func(cloud *drillcloud.Cloud, c Credential) bool {
			_, ok := cloud.GCP().KeyState(gcpKeyID(c.ID))
			return ok && cloud.GCP().KeyName(gcpKeyID(c.ID)) == c.ID
		},
		principal: func(c Credential) string {
			if m := gcpKeyNameRE.FindStringSubmatch(c.ID); m != nil {
				return m[2]
			}
			return ""
		},
		vendorDisable: func(cloud *drillcloud.Cloud, c Credential) (string, error) {
			return "Google marks key " + c.ID + " exposed and disables it itself", cloud.GCP().VendorExposeKey(gcpKeyID(c.ID))
		},
	}),
	sever.CredGoogleAPIKey: familyKind(family{typ: sever.CredGoogleAPIKey, provider: "gcp",
		account: drillcloud.DefaultGCPProject, accountRE: gcpProjectRE, accountWhat: "a Google Cloud project id",
		idRE: googleAPIKeyNameRE, idWhat: "an API key's resource name (projects/P/locations/global/keys/K), never the key string",
		create: func(cloud *drillcloud.Cloud, c Credential) (string, error) {
			g := cloud.GCP()
			if g.Project != c.Account {
				return "", fmt.Errorf("account: the drill cloud's Google Cloud project is %s, not %s", g.Project, c.Account)
			}
			uid, _ := g.NewAPIKey("drill-gemini")
			return g.APIKeyName(uid), nil
		},
	}),
	sever.CredAzureAppSecret: familyKind(family{typ: sever.CredAzureAppSecret, provider: "azure",
		account: drillcloud.DefaultAzureTenantID, accountRE: azureGUIDRE, accountWhat: "the Entra tenant id (a GUID)",
		idRE: azureSecretIDRE, idWhat: "an Entra application secret (application id/secret key id, both GUIDs)",
		create: func(cloud *drillcloud.Cloud, c Credential) (string, error) {
			t := cloud.Azure()
			app := t.AddApp("drill-workload", false)
			keyID, _, err := t.AddSecret(app, "drill")
			return app + "/" + keyID, err
		},
		exists: func(cloud *drillcloud.Cloud, c Credential) bool {
			app, key, _ := strings.Cut(c.ID, "/")
			return cloud.Azure().SecretPresent(app, key)
		},
	}),
	sever.CredAzureOpenAIKey: familyKind(family{typ: sever.CredAzureOpenAIKey, provider: "azure",
		account: drillcloud.DefaultAzureSubscriptionID, accountRE: azureGUIDRE, accountWhat: "the Azure subscription id (a GUID)",
		idRE: azureOpenAIIDRE, idWhat: "an Azure OpenAI account's ARM id (/subscriptions/…/providers/Microsoft.CognitiveServices/accounts/NAME)",
		create: func(cloud *drillcloud.Cloud, c Credential) (string, error) {
			id, _, _ := cloud.Azure().AddOpenAIAccount("rg-drill", "drill-openai-"+randomSuffix())
			return id, nil
		},
	}),
	sever.CredVaultToken: familyKind(family{typ: sever.CredVaultToken, provider: "vault",
		accountRE: vaultNamespaceRE, accountWhat: "a Vault namespace path, or empty",
		idRE: vaultAccessorRE, idWhat: "a Vault token accessor (never the token)",
		create: func(cloud *drillcloud.Cloud, c Credential) (string, error) {
			accessor := "drillVaultAccessor-" + randomSuffix()
			cloud.Vault().AddToken(drillcloud.TokenSpec{Accessor: accessor, DisplayName: "ci-deployer", Policies: []string{"deploy"}})
			return accessor, nil
		},
		exists: func(cloud *drillcloud.Cloud, c Credential) bool { return cloud.Vault().TokenLive(c.ID) },
	}),
}

var (
	gcpProjectRE       = regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]$`)
	gcpKeyNameRE       = regexp.MustCompile(`^projects/([a-z][-a-z0-9]{4,28}[a-z0-9])/serviceAccounts/([^/\s]{1,256}@[^/\s]{1,256})/keys/([0-9a-f]{8,64})$`)
	googleAPIKeyNameRE = regexp.MustCompile(`^projects/[a-z][-a-z0-9]{4,28}[a-z0-9]/locations/global/keys/[0-9a-f-]{8,64}$`)
	azureGUIDRE        = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	azureSecretIDRE    = regexp.MustCompile(`^[0-9a-fA-F-]{36}/[0-9a-fA-F-]{36}$`)
	azureOpenAIIDRE    = regexp.MustCompile(`^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[\w.()-]{1,90}/providers/Microsoft\.CognitiveServices/accounts/[A-Za-z0-9-]{2,64}$`)
	vaultAccessorRE    = regexp.MustCompile(`^[A-Za-z0-9-]{8,64}(\.[A-Za-z0-9]{1,32})?$`)
	vaultNamespaceRE   = regexp.MustCompile(`^[A-Za-z0-9_./-]{0,128}$`)
)

// randomSuffix tells apart the credentials drills create in one twin: every
// drill, and every credential of one drill, gets its own.
func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// gcpKeyID is the key id at the end of a service-account key's resource name.
func gcpKeyID(name string) string { return name[strings.LastIndexByte(name, '/')+1:] }

// family describes a credential family beyond AWS and the model providers, each
// with its own twin on the drill cloud (GCP, Azure, Vault).
type family struct {
	typ         sever.CredentialType
	provider    string
	account     string
	accountRE   *regexp.Regexp
	accountWhat string
	idRE        *regexp.Regexp
	idWhat      string
	// create makes a fresh credential in the twin and returns its id: a drill
	// that leaves the id out gets its own, so reruns on one stack never meet a
	// credential an earlier drill contained.
	create func(cloud *drillcloud.Cloud, c Credential) (string, error)
	// exists says the twin holds a live credential with c's id; nil trusts the
	// attacker's start to find out.
	exists        func(cloud *drillcloud.Cloud, c Credential) bool
	principal     func(c Credential) string
	vendorDisable func(cloud *drillcloud.Cloud, c Credential) (string, error)
}

// familyKind is the credKind of a family: the attacker is the drill cloud's
// family attacker (drillcloud.StartFamilyAttacker), whose calls go through the
// family's twin with the real protocol.
func familyKind(f family) *credKind {
	ops := drillcloud.FamilyAttackOps(string(f.typ))
	twinOf := func(cloud *drillcloud.Cloud) bool {
		switch f.provider {
		case "gcp":
			return cloud.GCP() != nil
		case "azure":
			return cloud.Azure() != nil
		case "vault":
			return cloud.Vault() != nil
		}
		return false
	}
	return &credKind{typ: f.typ, provider: f.provider, ops: ops, defaultOps: ops,
		defaultAccount: f.account, accountRE: f.accountRE, accountWhat: f.accountWhat,
		check: func(c Credential) []*FieldError {
			var errs []*FieldError
			if c.ID != "" && !f.idRE.MatchString(c.ID) {
				errs = append(errs, fe("id", "%q is not %s; leave it out to have the drill create one", c.ID, f.idWhat))
			}
			if c.User != "" {
				errs = append(errs, fe("user", "a %s has no IAM user", f.typ))
			}
			return errs
		},
		prepare: func(cloud *drillcloud.Cloud, c Credential) (Credential, error) {
			if !twinOf(cloud) {
				return c, fmt.Errorf("type: the drill cloud serves no %s twin for a %s", f.provider, f.typ)
			}
			if c.ID == "" {
				id, err := f.create(cloud, c)
				if err != nil {
					return c, fmt.Errorf("id: create a %s in the drill cloud: %w", f.typ, err)
				}
				c.ID = id
				return c, nil
			}
			if f.exists != nil && !f.exists(cloud, c) {
				return c, fmt.Errorf("id: %s %s is not live in the drill cloud; leave id out to have the drill create one", f.typ, c.ID)
			}
			return c, nil
		},
		principal: func(c Credential) string {
			if f.principal == nil {
				return ""
			}
			return f.principal(c)
		},
		vendorDisable: f.vendorDisable,
		attack: func(ctx context.Context, cloud *drillcloud.Cloud, c Credential, cfg drillcloud.AttackerConfig) (*drillcloud.Attacker, error) {
			return cloud.StartFamilyAttacker(ctx, string(f.typ), c.ID, cfg)
		},
	}
}

// startAttacker starts an attacker holding c, as its kind attacks.
func startAttacker(ctx context.Context, cloud *drillcloud.Cloud, c Credential, cfg drillcloud.AttackerConfig) (*drillcloud.Attacker, error) {
	k := c.kind()
	if k == nil {
		return nil, errors.New("unknown credential type " + c.Type)
	}
	if k.attack != nil {
		return k.attack(ctx, cloud, c, cfg)
	}
	cfg.KeyID = c.ID
	return cloud.StartAttacker(ctx, cfg)
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
		vendorDisable: func(cloud *drillcloud.Cloud, c Credential) (string, error) {
			return fmt.Sprintf("%s disables key %s itself", provider, c.ID), cloud.VendorDisableProviderKey(provider, c.ID)
		},
	}
}

// CredentialTypes are the types a scenario's credential may have.
var CredentialTypes = []sever.CredentialType{
	sever.CredAWSAccessKey, sever.CredAWSBedrockAPIKey, sever.CredAnthropicAPIKey, sever.CredOpenAIAPIKey,
	sever.CredGCPServiceAccountKey, sever.CredGoogleAPIKey, sever.CredAzureAppSecret, sever.CredAzureOpenAIKey,
	sever.CredVaultToken,
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
var AttackOperations = slices.Concat(awsOps, []string{drillcloud.AttackAnthropicMessages, drillcloud.AttackOpenAIChat},
	drillcloud.FamilyAttackOps(drillcloud.FamilyGCPServiceAccountKey), drillcloud.FamilyAttackOps(drillcloud.FamilyGoogleAPIKey),
	drillcloud.FamilyAttackOps(drillcloud.FamilyAzureAppSecret), drillcloud.FamilyAttackOps(drillcloud.FamilyAzureOpenAIKey),
	drillcloud.FamilyAttackOps(drillcloud.FamilyVaultToken))
