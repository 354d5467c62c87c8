package adapters

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sever-ir/sever"
)

// GitHub webhook headers.
const (
	GitHubEventHeader     = "X-GitHub-Event"
	GitHubDeliveryHeader  = "X-GitHub-Delivery"
	GitHubSignatureHeader = "X-Hub-Signature-256"
)

// GitHub webhook events sever knows.
const (
	GitHubEventSecretScanning = "secret_scanning_alert"
	GitHubEventPing           = "ping"
)

// GitHubDelivery is what a GitHub webhook delivery carries outside its body.
type GitHubDelivery struct {
	Event string // X-GitHub-Event
	// ID is X-GitHub-Delivery. It is checked but is not the source event ID: it is
	// outside the signature, so anyone holding one signed delivery could resend it
	// under fresh IDs. See ParseGitHub.
	ID string
	// Form is true when the webhook is configured with content type
	// application/x-www-form-urlencoded: the JSON is then the "payload" form value.
	Form bool
	// ReceivedAt is when sever received the delivery. It is the observed time of
	// an alert that carries no time of its own: GitHub's published reopened
	// example has neither created_at nor updated_at. It is never part of the
	// dedup key, so a redelivery stays a duplicate.
	ReceivedAt time.Time
}

// VerifyGitHubSignature checks header, the X-Hub-Signature-256 value, against the
// HMAC-SHA256 of the raw body under the webhook secret. GitHub signs no timestamp
// and not the X-GitHub-Delivery header, so a captured delivery can be replayed,
// under any delivery ID: ParseGitHub derives the source event ID from the signed
// body alone, which makes a replay a duplicate in its incident, not a new signal.
func VerifyGitHubSignature(secret, body []byte, header string) error {
	if len(secret) == 0 {
		return sever.Errorf(sever.EUNAUTHORIZED, GitHubSignatureHeader, "no GitHub webhook secret is configured")
	}
	if header == "" {
		return sever.Errorf(sever.EUNAUTHORIZED, GitHubSignatureHeader, "missing %s header", GitHubSignatureHeader)
	}
	hexSum, ok := strings.CutPrefix(header, "sha256=")
	got, err := hex.DecodeString(hexSum)
	if !ok || err != nil || len(got) != sha256.Size {
		return sever.Errorf(sever.EUNAUTHORIZED, GitHubSignatureHeader, `%s must be "sha256=" and 64 hex digits`, GitHubSignatureHeader)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return sever.Errorf(sever.EUNAUTHORIZED, GitHubSignatureHeader,
			"%s does not match the body; check that the webhook secret matches sever's", GitHubSignatureHeader)
	}
	return nil
}

// SignGitHub returns the X-Hub-Signature-256 value GitHub would send for body.
func SignGitHub(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

var deliveryID = regexp.MustCompile(`^[A-Za-z0-9-]{1,128}$`)

// githubAlertEvent is the part of a secret_scanning_alert payload sever reads. The
// alert never carries the secret value, and sever never wants it (see Secret).
type githubAlertEvent struct {
	Action string `json:"action"`
	Alert  *struct {
		Number                number `json:"number"`
		CreatedAt             string `json:"created_at"`
		UpdatedAt             string `json:"updated_at"`
		HTMLURL               string `json:"html_url"`
		SecretType            string `json:"secret_type"`
		SecretTypeDisplayName string `json:"secret_type_display_name"`
		Validity              string `json:"validity"`
		PubliclyLeaked        bool   `json:"publicly_leaked"`
		// Secret appears in REST API alerts, not in webhooks; a payload that has
		// one was forwarded from the API and is refused.
		Secret *string `json:"secret"`
	} `json:"alert"`
	Repository *struct {
		FullName string `json:"full_name"`
		Private  *bool  `json:"private"`
	} `json:"repository"`
}

// githubSecretTypes maps GitHub secret types to the credential they are. Types not
// listed are generic tokens of an unknown issuer.
var githubSecretTypes = map[string]struct {
	provider string
	typ      sever.CredentialType
}{
	"aws_access_key_id":                    {"aws", sever.CredAWSAccessKey},
	"aws_secret_access_key":                {"aws", sever.CredAWSAccessKey},
	"aws_temporary_access_key_id":          {"aws", sever.CredAWSTemporaryCredentials},
	"aws_session_token":                    {"aws", sever.CredAWSTemporaryCredentials},
	"anthropic_api_key":                    {"anthropic", sever.CredAnthropicAPIKey},
	"anthropic_admin_api_key":              {"anthropic", sever.CredAnthropicAPIKey},
	"openai_api_key":                       {"openai", sever.CredOpenAIAPIKey},
	"github_personal_access_token":         {"github", sever.CredGitHubToken},
	"github_oauth_access_token":            {"github", sever.CredGitHubToken},
	"github_app_installation_access_token": {"github", sever.CredGitHubToken},
	"github_refresh_token":                 {"github", sever.CredGitHubToken},
	"github_test_token":                    {"github", sever.CredGitHubToken},
}

// GitHubAzureOpenAIKeyType is GitHub's secret type of an Azure OpenAI key.
const GitHubAzureOpenAIKeyType = "azure_openai_key"

// GitHubAzureOpenAIUnresolved says why an alert about an Azure OpenAI key keeps the
// alert's place as its credential ID. Azure has no counterpart of Google's
// keys:lookupKey that maps a key to its account, and finding the account by
// comparing the key with every account's keys (listKeys) would put every key of
// every account in sever's memory to name one, so sever does not resolve it.
const GitHubAzureOpenAIUnresolved = "sever cannot resolve an Azure OpenAI key to its account: Azure has no lookup from a key to the account " +
	"it belongs to, and sever does not read every account's keys to find it; the credential ID is the alert's place. " +
	"Contain the account through a Defender for AI services alert (POST /v1/signals/defender), an OCSF finding, or a signal " +
	"naming its ARM resource id (azure_openai_key)"

// GitHubCredentialType returns the provider and credential type of a GitHub secret
// type, and whether it is one sever knows.
func GitHubCredentialType(secretType string) (provider string, t sever.CredentialType, known bool) {
	if m, ok := githubSecretTypes[secretType]; ok {
		return m.provider, m.typ, true
	}
	return "unknown", sever.CredGenericToken, false
}

// ParseGitHub reads a GitHub webhook delivery. secret_scanning_alert with action
// created, reopened or publicly_leaked, or validated when the secret checked
// active, yields one vendor credential_exposed signal. Other actions, other
// events and ping are ignored. The caller verifies the signature first.
//
// The alert carries the secret's type but neither the secret nor the key's ID, so
// the credential ID is the alert's place: "<owner>/<repo>/secret-scanning/<number>".
// The webhook handler resolves an alert about an AWS key ID to that key, and one
// about a Google API key to the key's resource name (Google's keys:lookupKey, with
// the key string held in memory only), through sever's GitHub App when it has one
// (httpapi.GitHubAlerts), so the alert joins the key's incident; otherwise it is not the incident an AWS or provider signal
// about the same key lands in. Severity follows validity (active,
// unknown, inactive) and whether the secret is public (publicly_leaked, or found
// in a public repository).
//
// observed_at is created_at for created, updated_at for later actions, each
// falling back to the other, and the delivery's ReceivedAt when the alert has
// neither (GitHub's published reopened example); see githubAlertTimes.
//
// The source event ID is derived from what the signature covers, never from the
// X-GitHub-Delivery header: "<owner>/<repo>/secret-scanning/<number>/<action>"
// at the alert's updated_at (else created_at, else the zero time) and a digest of
// the payload (see sourceEventID). GitHub's redelivery of a delivery, and a replay of a captured
// one under any delivery ID, is then a duplicate; a new action or a later change
// of the alert is a new signal.
func ParseGitHub(d GitHubDelivery, body []byte) (Result, error) {
	switch d.Event {
	case "":
		return Result{}, invalid(GitHubEventHeader, "missing %s header", GitHubEventHeader)
	case GitHubEventPing:
		return ignored(GitHubEventPing, "ping: the webhook reaches sever; nothing to do"), nil
	case GitHubEventSecretScanning:
	default:
		event := clip(d.Event, 64)
		return ignored(event, "GitHub event %s is not %s (the only event sever reads); no incident; subscribe the webhook to secret scanning alerts only",
			event, GitHubEventSecretScanning), nil
	}
	if !deliveryID.MatchString(d.ID) {
		return Result{}, invalid(GitHubDeliveryHeader, "%s is required: the delivery's GUID (letters, digits and '-', up to 128)", GitHubDeliveryHeader)
	}
	payload := body
	if d.Form {
		form, err := url.ParseQuery(string(body))
		if err != nil || form.Get("payload") == "" {
			return Result{}, invalid("payload", "a form-encoded webhook body needs a payload field holding the JSON")
		}
		payload = []byte(form.Get("payload"))
	}
	var p githubAlertEvent
	if err := decodeJSON(payload, &p); err != nil {
		return Result{}, err
	}
	if err := required("action", p.Action); err != nil {
		return Result{}, err
	}
	event := GitHubEventSecretScanning + "." + clip(p.Action, 64)
	a := p.Alert
	switch {
	case a == nil:
		return Result{}, invalid("alert", "alert is required")
	case a.Secret != nil && *a.Secret != "":
		return Result{}, invalid("alert.secret", "alert.secret carries the secret value; sever never accepts or stores it: "+
			"send GitHub's webhook payload, which has none")
	case p.Repository == nil || strings.TrimSpace(p.Repository.FullName) == "":
		return Result{}, invalid("repository.full_name", "repository.full_name is required")
	case len(p.Repository.FullName) > 140 || strings.Count(p.Repository.FullName, "/") != 1:
		return Result{}, invalid("repository.full_name", `repository.full_name must be "<owner>/<repo>"`)
	}
	alertNo, err := strconv.ParseUint(string(a.Number), 10, 32)
	if err != nil || alertNo == 0 {
		return Result{}, invalid("alert.number", "alert.number is required (a positive whole number)")
	}
	if err := required("alert.secret_type", a.SecretType); err != nil {
		return Result{}, err
	}
	if len(a.SecretType) > 128 {
		return Result{}, invalid("alert.secret_type", "alert.secret_type is longer than 128 characters")
	}
	switch a.Validity {
	case "", "active", "inactive", "unknown":
	default:
		return Result{}, invalid("alert.validity", "alert.validity must be active, inactive or unknown, not %q", clip(a.Validity, 32))
	}
	switch p.Action {
	case "created", "reopened", "publicly_leaked":
	case "validated":
		if a.Validity != "active" {
			return ignored(event, "GitHub validated alert %d in %s as %s; a secret that does not check active opens no incident",
				alertNo, p.Repository.FullName, or(a.Validity, "unknown")), nil
		}
	default:
		return ignored(event, "GitHub secret scanning action %s opens no incident (created, reopened, publicly_leaked and validated-active do)",
			clip(p.Action, 64)), nil
	}

	observed, version, err := githubAlertTimes(p.Action, a.CreatedAt, a.UpdatedAt, d.ReceivedAt)
	if err != nil {
		return Result{}, err
	}

	provider, typ, _ := GitHubCredentialType(a.SecretType)
	public := a.PubliclyLeaked || (p.Repository.Private != nil && !*p.Repository.Private)
	alertID := fmt.Sprintf("%s/secret-scanning/%d", p.Repository.FullName, alertNo)
	facts := []string{"validity " + or(a.Validity, "unknown")}
	if public {
		facts = append(facts, "public")
	}
	name := a.SecretType
	if a.SecretTypeDisplayName != "" {
		name = clip(a.SecretTypeDisplayName, 128) + " (" + a.SecretType + ")"
	}
	summary := fmt.Sprintf("GitHub secret scanning alert %d in %s (%s): %s, %s. The alert names no key ID; "+
		"the credential ID is the alert's place", alertNo, p.Repository.FullName, p.Action, name, strings.Join(facts, ", "))
	if a.SecretType == GitHubAzureOpenAIKeyType {
		summary += ". " + GitHubAzureOpenAIUnresolved
	}
	res := Result{Event: event, Signals: []sever.Signal{{
		Source: SourceGitHub, SourceEventID: alertID + "/" + p.Action, Origin: sever.OriginVendor, Kind: sever.KindCredentialExposed,
		ObservedAt: observed, Severity: githubSeverity(a.Validity, public),
		Credential: sever.Credential{Provider: provider, Type: typ, ID: alertID},
		Summary:    summary,
		Labels:     labels("secret_type:" + a.SecretType),
		Extra:      meta(a.HTMLURL),
	}}}
	return finish(res, body, eventKey{version: version, payload: payload})
}

// githubAlertTimes returns when the alert's news was observed and the version its
// dedup key carries. created uses created_at; later actions are about the alert's
// latest change, so updated_at; each falls back to the other. GitHub's own
// reopened example carries neither, and GitHub does not retry a refused
// delivery, so an alert without a time is observed at its delivery (received)
// rather than refused. The version is the alert's time, or the zero time when it
// has none, never the delivery time: a redelivery of the same body must stay a
// duplicate, and the payload digest in the key still tells two different bodies
// apart.
func githubAlertTimes(action, createdAt, updatedAt string, received time.Time) (observed, version time.Time, err error) {
	var created, updated time.Time
	if createdAt != "" {
		if created, err = parseTime("alert.created_at", createdAt); err != nil {
			return
		}
	}
	if updatedAt != "" {
		if updated, err = parseTime("alert.updated_at", updatedAt); err != nil {
			return
		}
	}
	version = updated
	if version.IsZero() {
		version = created
	}
	observed = updated
	if action == "created" || observed.IsZero() {
		observed = created
	}
	switch {
	case !observed.IsZero():
	case !updated.IsZero():
		observed = updated
	case !received.IsZero():
		observed = received.UTC()
	default:
		err = invalid("alert.created_at", "alert.created_at or alert.updated_at is required when the delivery time is unknown")
	}
	return
}

func githubSeverity(validity string, public bool) string {
	switch {
	case validity == "active" && public:
		return "critical"
	case validity == "active", validity != "inactive" && public:
		return "high"
	case validity == "inactive":
		return "low"
	}
	return "medium"
}
