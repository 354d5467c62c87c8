package adapters

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/sever-ir/sever"
)

// OCSF leaves resource_details.type to the producer. These are the names the
// producers of the credential families beside AWS give them, lower-cased: the
// vendor's own asset type (Cloud Asset Inventory, ARM, Microsoft Graph) and the
// Terraform resource type a SIEM rule that works from an inventory is likely to
// copy. Generic names ("ServiceAccountKey", "API Key", "Client Secret") count
// only when cloud.provider says whose they are (ocsfGenericTypes).
var ocsfFamilyTypes = map[string]sever.CredentialType{
	"iam.googleapis.com/serviceaccountkey": sever.CredGCPServiceAccountKey,
	"google_service_account_key":           sever.CredGCPServiceAccountKey,
	"apikeys.googleapis.com/key":           sever.CredGoogleAPIKey,
	"google_apikeys_key":                   sever.CredGoogleAPIKey,
	"microsoft.graph.passwordcredential":   sever.CredAzureAppSecret,
	"microsoft.cognitiveservices/accounts": sever.CredAzureOpenAIKey,
	"azurerm_cognitive_account":            sever.CredAzureOpenAIKey,
	"vault_token":                          sever.CredVaultToken,
	"vault token":                          sever.CredVaultToken,
	"hashicorp vault token":                sever.CredVaultToken,
}

// ocsfGenericTypes are resource types that name a family only together with
// cloud.provider (normalised by ocsfCloud).
var ocsfGenericTypes = map[string]map[string]sever.CredentialType{
	"gcp": {
		"serviceaccountkey": sever.CredGCPServiceAccountKey, "service account key": sever.CredGCPServiceAccountKey,
		"apikey": sever.CredGoogleAPIKey, "api key": sever.CredGoogleAPIKey,
	},
	"azure": {
		"clientsecret": sever.CredAzureAppSecret, "client secret": sever.CredAzureAppSecret,
		"applicationsecret": sever.CredAzureAppSecret, "application secret": sever.CredAzureAppSecret,
		"cognitiveservicesaccount": sever.CredAzureOpenAIKey, "azure openai": sever.CredAzureOpenAIKey,
	},
	"vault": {"token": sever.CredVaultToken},
}

var (
	// googleAPIKeyName is a Google API key's resource name, as gcpact reads it.
	googleAPIKeyName = regexp.MustCompile(`^projects/([a-z][a-z0-9.:-]{3,61}[a-z0-9]|[0-9]{1,20})/locations/global/keys/([A-Za-z0-9-]{1,64})$`)
	// azureAccountID is a Cognitive Services account's ARM resource id, as
	// azureact reads it, optionally followed by a sub-resource (a deployment),
	// which names the same account. Segment names match case-insensitively, as
	// in ARM.
	azureAccountID = regexp.MustCompile(`(?i)^/subscriptions/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/resourceGroups/([-\w._()]{1,90})/providers/Microsoft\.CognitiveServices/accounts/([A-Za-z0-9][A-Za-z0-9_.-]{1,63})(/[^?#]*)?$`)
	// googleAPIKeyString is the shape of a Google API key's key string, a secret.
	googleAPIKeyString = regexp.MustCompile(`AIza[0-9A-Za-z_-]{35}`)
)

// azureAccount returns the canonical ARM resource id of the Cognitive Services
// account id names (the form azureact.Account.ID writes: subscription lower-case,
// segment names in ARM's case, group and account as given), and whether id names
// one.
func azureAccount(id string) (string, bool) {
	m := azureAccountID.FindStringSubmatch(strings.TrimSpace(id))
	if m == nil || strings.HasSuffix(m[2], ".") {
		return "", false
	}
	return "/subscriptions/" + strings.ToLower(m[1]) + "/resourceGroups/" + m[2] +
		"/providers/Microsoft.CognitiveServices/accounts/" + m[3], true
}

// ocsfCloud normalises cloud.provider (and a product vendor) to the provider
// names of sever's credentials.
func ocsfCloud(p string) string {
	switch strings.ToLower(strings.TrimSpace(p)) {
	case "gcp", "google", "google cloud", "google cloud platform", "google llc":
		return "gcp"
	case "azure", "microsoft azure", "microsoft":
		return "azure"
	case "hashicorp", "hashicorp vault", "vault":
		return "vault"
	}
	return ""
}

// isCredentialVendor reports whether vendor (metadata.product.vendor_name) is
// the vendor of the credential's provider: a finding Google raised about a Google
// key is the vendor's own detection.
func isCredentialVendor(vendor, provider string) bool {
	return provider != "" && provider != "aws" && ocsfCloud(vendor) == provider
}

// ocsfFamilyOf returns the credential type resource r names, or "" when it names
// none of the families beside AWS. A Google full resource name of a key names its
// family whatever the type says; an ARM id of a Cognitive Services account does
// when the type is absent or another Microsoft.CognitiveServices type (a
// deployment).
func ocsfFamilyOf(r ocsfResource, provider, vendor string) sever.CredentialType {
	t := strings.ToLower(strings.TrimSpace(r.Type))
	if ft, ok := ocsfFamilyTypes[t]; ok {
		return ft
	}
	uid := strings.TrimSpace(r.UID)
	switch {
	case strings.HasPrefix(uid, "//iam.googleapis.com/") && strings.Contains(uid, "/keys/"):
		return sever.CredGCPServiceAccountKey
	case strings.HasPrefix(uid, "//apikeys.googleapis.com/"):
		return sever.CredGoogleAPIKey
	}
	// An ARM id names the account of any resource below it, but an account is
	// the credential only when the resource is the account or one of its parts:
	// a finding about an app that calls the account is not about its keys.
	if _, ok := azureAccount(uid); ok && (t == "" || strings.HasPrefix(t, "microsoft.cognitiveservices/")) {
		return sever.CredAzureOpenAIKey
	}
	cloud := ocsfCloud(provider)
	if cloud == "" {
		cloud = ocsfCloud(vendor)
	}
	return ocsfGenericTypes[cloud][t]
}

// unprocessable is a finding sever understands but whose credential it cannot
// name in the form its runbooks act on: 422, naming the field.
func unprocessable(field, format string, args ...any) *sever.Error {
	return sever.Errorf(sever.EUNPROCESSABLE, field, format, args...)
}

// ocsfFamilyCredential reads the credential of type t from resource r (at path)
// in the form the runbooks of that type act on, the same form the family's own
// adapter writes. Values are never quoted back: a key string pasted into a uid
// must not reach an answer or a log.
func ocsfFamilyCredential(t sever.CredentialType, r ocsfResource, path string) (sever.Credential, error) {
	field := path + ".uid"
	uid := strings.TrimSpace(r.UID)
	if uid == "" {
		return sever.Credential{}, unprocessable(field, "%s is a %s resource but has no uid; sever needs %s", path, t, ocsfWant[t])
	}
	if len(uid) > maxID+64 {
		return sever.Credential{}, unprocessable(field, "%s is longer than %d characters", field, maxID+64)
	}
	bad := func() error {
		return unprocessable(field, "%s does not name a %s: want %s", field, t, ocsfWant[t])
	}
	switch t {
	case sever.CredGCPServiceAccountKey:
		k := strings.TrimPrefix(uid, "//iam.googleapis.com/")
		m := gcpKeyName.FindStringSubmatch(k)
		if m == nil {
			return sever.Credential{}, bad()
		}
		project := m[1]
		if project == "-" {
			project = ""
		}
		return sever.Credential{Provider: "gcp", Type: t, ID: k, Principal: m[2], Account: project}, nil
	case sever.CredGoogleAPIKey:
		if googleAPIKeyString.MatchString(uid) {
			return sever.Credential{}, unprocessable(field, "%s holds what has the shape of a Google API key string, a secret sever never takes: "+
				"send the key's resource name (projects/<project>/locations/global/keys/<key id>)", field)
		}
		k := strings.TrimPrefix(uid, "//apikeys.googleapis.com/")
		m := googleAPIKeyName.FindStringSubmatch(k)
		if m == nil {
			return sever.Credential{}, bad()
		}
		return sever.Credential{Provider: "gcp", Type: t, ID: k, Account: m[1]}, nil
	case sever.CredAzureOpenAIKey:
		id, ok := azureAccount(uid)
		if !ok {
			return sever.Credential{}, bad()
		}
		sub := strings.ToLower(strings.Split(id, "/")[2])
		return sever.Credential{Provider: "azure", Type: t, ID: id, Account: sub}, nil
	case sever.CredAzureAppSecret:
		app, key, _ := strings.Cut(uid, "/")
		if key == "" {
			key = ocsfDataString(r.Data, "keyId")
		}
		if !entraGUID.MatchString(app) {
			return sever.Credential{}, bad()
		}
		if key == "" {
			return sever.Credential{}, unprocessable(field, "%s names application %s but not which of its secrets (want <appId>/<keyId>, or data.keyId); "+
				"sever removes one secret, never every secret of an application on a guess", field, strings.ToLower(app))
		}
		if !entraGUID.MatchString(key) {
			return sever.Credential{}, bad()
		}
		return sever.Credential{Provider: "azure", Type: t, ID: strings.ToLower(app) + "/" + strings.ToLower(key)}, nil
	case sever.CredVaultToken:
		if isVaultToken(uid) {
			return sever.Credential{}, unprocessable(field, "%s has the shape of a Vault token, not of its accessor; sever never takes the token", field)
		}
		if !vaultAccessor.MatchString(uid) {
			return sever.Credential{}, bad()
		}
		return sever.Credential{Provider: "vault", Type: t, ID: uid}, nil
	}
	return sever.Credential{}, bad()
}

// ocsfWant says what a resource of each family must hold in its uid.
var ocsfWant = map[sever.CredentialType]string{
	sever.CredGCPServiceAccountKey: "the key's resource name, [//iam.googleapis.com/]projects/<project>/serviceAccounts/<email>/keys/<key id>",
	sever.CredGoogleAPIKey:         "the key's resource name, [//apikeys.googleapis.com/]projects/<project>/locations/global/keys/<key id>",
	sever.CredAzureOpenAIKey:       "the account's ARM resource id, /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.CognitiveServices/accounts/<name>",
	sever.CredAzureAppSecret:       "<application (client) id>/<secret key id>, two GUIDs",
	sever.CredVaultToken:           "the token's accessor (never the token)",
}

// ocsfDataString reads a string field of a resource's data (an object, or a JSON
// string holding one, as Security Hub writes it); "" when absent.
func ocsfDataString(data json.RawMessage, key string) string {
	var m map[string]any
	if !ocsfData(data, &m) {
		return ""
	}
	s, _ := m[key].(string)
	return strings.TrimSpace(s)
}

// ocsfPostureCheck reports whether status_code is a compliance check's result,
// as Prowler writes it in the Detection Findings it emits.
func ocsfPostureCheck(code string) bool {
	switch strings.ToUpper(strings.TrimSpace(code)) {
	case "PASS", "FAIL", "MANUAL":
		return true
	}
	return false
}
