package adapters

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sever-ir/sever"
)

// ProviderSchema is the value of "schema" in a provider notice; provider-schema.json
// describes the format and README.md how to feed it.
const ProviderSchema = "sever.provider_notice.v1"

// ProviderNotice is a model provider's notice about one of the enterprise's keys,
// in sever's provider schema. A forwarding rule (from the provider's email or
// webhook) writes it; sever never receives the key itself.
type ProviderNotice struct {
	Schema     string       `json:"schema"`
	NoticeID   string       `json:"notice_id"`
	NoticeType string       `json:"notice_type"`
	Provider   string       `json:"provider"`
	ObservedAt string       `json:"observed_at"`
	Key        *ProviderKey `json:"key"`
	Severity   string       `json:"severity,omitempty"`
	Summary    string       `json:"summary,omitempty"`
	URL        string       `json:"url,omitempty"`
}

// ProviderKey identifies the key a notice is about, by the provider's key ID.
type ProviderKey struct {
	ID        string               `json:"id"`
	Type      sever.CredentialType `json:"type,omitempty"`
	Principal string               `json:"principal,omitempty"`
	Account   string               `json:"account,omitempty"`
	// Hint is a redacted fragment a person can recognise the key by ("sk-ant-…AbCd").
	Hint string `json:"hint,omitempty"`
}

// Notice types and the signal kind each becomes.
var providerNoticeKinds = map[string]sever.SignalKind{
	"key_exposed":    sever.KindCredentialExposed,
	"abuse_observed": sever.KindAbuseReport,
	"key_revoked":    sever.KindVendorAction,
}

// ProviderNoticeTypes lists the notice types in a stable order.
var ProviderNoticeTypes = []string{"key_exposed", "abuse_observed", "key_revoked"}

var providerDefaultSeverity = map[string]string{
	"key_exposed":    "high",
	"abuse_observed": "critical",
	"key_revoked":    "info",
}

// providerTypes are the credential types each known provider issues; the first is
// the default when a notice names none. A provider not listed issues generic tokens.
var providerTypes = map[string][]sever.CredentialType{
	"anthropic": {sever.CredAnthropicAPIKey},
	"openai":    {sever.CredOpenAIAPIKey},
	"github":    {sever.CredGitHubToken},
	"aws":       {sever.CredAWSAccessKey, sever.CredAWSBedrockAPIKey, sever.CredAWSTemporaryCredentials},
}

var providerName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

const (
	maxHint            = 24
	maxProviderSummary = 1024
)

// ParseProvider reads a notice in the provider schema. key_exposed becomes a
// vendor credential_exposed signal, abuse_observed an abuse_report, key_revoked
// (the provider disabled or revoked the key itself) a vendor_action. The source
// event ID is "<provider>/<notice_id>" at observed_at, with a digest of the body
// (see sourceEventID), so notice IDs need only be unique per provider. Decoding is strict, as for the native schema: exact field names, no
// unknown or duplicate fields.
func ParseProvider(body []byte) (Result, error) {
	var n ProviderNotice
	if err := decodeJSON(body, &n); err != nil {
		return Result{}, err
	}
	if err := checkNames(body, reflect.TypeFor[ProviderNotice]()); err != nil {
		return Result{}, err
	}
	if n.Schema != ProviderSchema {
		return Result{}, invalid("schema", "schema must be %q", ProviderSchema)
	}
	if !providerName.MatchString(n.Provider) {
		return Result{}, invalid("provider", "provider must be a lower-case name such as anthropic or openai (letters, digits, '-')")
	}
	if err := checkPrintable("notice_id", n.NoticeID); err != nil {
		return Result{}, err
	}
	kind, ok := providerNoticeKinds[n.NoticeType]
	if !ok {
		return Result{}, invalid("notice_type", "notice_type must be one of %s", strings.Join(ProviderNoticeTypes, ", "))
	}
	if err := required("observed_at", n.ObservedAt); err != nil {
		return Result{}, err
	}
	observed, err := parseTime("observed_at", n.ObservedAt, time.RFC3339Nano)
	if err != nil {
		return Result{}, err
	}
	cred, err := providerCredential(n)
	if err != nil {
		return Result{}, err
	}
	severity := providerDefaultSeverity[n.NoticeType]
	if n.Severity != "" {
		if !slices.Contains(sever.Severities, n.Severity) {
			return Result{}, invalid("severity", "severity must be one of %s", strings.Join(sever.Severities, ", "))
		}
		severity = n.Severity
	}
	if utf8.RuneCountInString(n.Summary) > maxProviderSummary {
		return Result{}, invalid("summary", "summary is longer than %d characters", maxProviderSummary)
	}
	var extra *sever.SignalMeta
	if n.URL != "" {
		if extra = meta(n.URL); extra == nil {
			return Result{}, invalid("url", "url must be an http or https URL")
		}
	}
	key := cred.ID
	if n.Key.Hint != "" {
		key += " (" + n.Key.Hint + ")"
	}
	summary := fmt.Sprintf("%s notice %s: key %s", n.Provider, n.NoticeType, key)
	if s := strings.TrimSpace(n.Summary); s != "" {
		summary += ": " + s
	}
	res := Result{Event: n.NoticeType, Signals: []sever.Signal{{
		Source: SourceProvider, SourceEventID: n.Provider + "/" + n.NoticeID, Origin: sever.OriginVendor, Kind: kind,
		ObservedAt: observed, Severity: severity, Credential: cred, Summary: summary,
		Labels: labels("provider:" + n.Provider),
		Extra:  extra,
	}}}
	return finish(res, body, eventKey{version: observed})
}

func providerCredential(n ProviderNotice) (sever.Credential, error) {
	if n.Key == nil {
		return sever.Credential{}, invalid("key", "key is required ({\"id\": the provider's key ID})")
	}
	k := n.Key
	if err := checkPrintable("key.id", k.ID); err != nil {
		return sever.Credential{}, err
	}
	types, known := providerTypes[n.Provider]
	t := k.Type
	switch {
	case t == "" && known && len(types) == 1:
		t = types[0]
	case t == "" && known:
		return sever.Credential{}, invalid("key.type", "key.type is required for provider %s (one of %s)", n.Provider, joinTypes(types))
	case t == "":
		t = sever.CredGenericToken
	case !t.Valid():
		return sever.Credential{}, invalid("key.type", "key.type must be one of %s", typeNames())
	case t != sever.CredGenericToken && !slices.Contains(types, t):
		return sever.Credential{}, invalid("key.type", "key.type %s is not a credential provider %s issues", t, n.Provider)
	}
	if isAWSKeyType(t) {
		if err := checkAccessKeyID("key.id", k.ID); err != nil {
			return sever.Credential{}, err
		}
	}
	if k.Hint != "" {
		// A redacted hint always elides something; a long one or one that elides
		// nothing may be the key itself.
		if utf8.RuneCountInString(k.Hint) > maxHint ||
			!(strings.Contains(k.Hint, "...") || strings.Contains(k.Hint, "…") || strings.Contains(k.Hint, "*")) {
			return sever.Credential{}, invalid("key.hint", "key.hint must be a redacted fragment of at most %d characters "+
				"with the rest elided (\"sk-ant-…AbCd\"); sever never accepts the key itself", maxHint)
		}
	}
	for _, f := range []struct{ field, v string }{{"key.principal", k.Principal}, {"key.account", k.Account}} {
		if strings.IndexFunc(f.v, unicode.IsControl) >= 0 {
			return sever.Credential{}, invalid(f.field, "%s has control characters", f.field)
		}
	}
	return sever.Credential{Provider: n.Provider, Type: t, ID: k.ID, Principal: k.Principal, Account: k.Account}, nil
}

func joinTypes(ts []sever.CredentialType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// checkPrintable checks a required identifier that sever copies into a signal.
func checkPrintable(field, v string) error {
	if err := checkID(field, v); err != nil {
		return err
	}
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return invalid(field, "%s has control characters", field)
	}
	return nil
}
