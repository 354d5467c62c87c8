package adapters

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/sever-ir/sever"
)

// SourceGCPSCC names the Security Command Center adapter.
const SourceGCPSCC = "gcp-scc"

// sccNotification is a Security Command Center finding notification, as its
// notification config publishes it to Pub/Sub (and as a Pub/Sub push subscription
// delivers it, wrapped in sccPush).
type sccNotification struct {
	NotificationConfigName string      `json:"notificationConfigName"`
	Finding                *sccFinding `json:"finding"`
}

type sccPush struct {
	Message *struct {
		Data        string `json:"data"`
		MessageID   string `json:"messageId"`
		PublishTime string `json:"publishTime"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

// sccFinding is the part of a finding sever reads.
type sccFinding struct {
	Name         string `json:"name"`
	Category     string `json:"category"`
	State        string `json:"state"`
	Mute         string `json:"mute"`
	Severity     string `json:"severity"`
	FindingClass string `json:"findingClass"`
	ResourceName string `json:"resourceName"`
	EventTime    string `json:"eventTime"`
	CreateTime   string `json:"createTime"`
	ExternalURI  string `json:"externalUri"`
	Access       *struct {
		PrincipalEmail        string `json:"principalEmail"`
		ServiceAccountKeyName string `json:"serviceAccountKeyName"`
	} `json:"access"`
	// SourceProperties of a leaked-credentials finding name the key, its account
	// and project, and where it was found; other sources put other things here.
	SourceProperties map[string]any `json:"sourceProperties"`
}

// gcpKeyName is a service-account key's resource name, as gcpact reads it.
var (
	gcpKeyName   = regexp.MustCompile(`^projects/([a-z][a-z0-9.:-]{3,61}[a-z0-9]|-)/serviceAccounts/([A-Za-z0-9][A-Za-z0-9._@-]{0,253})/keys/([0-9a-fA-F]{1,64})$`)
	gcpKeyID     = regexp.MustCompile(`^[0-9a-fA-F]{1,64}$`)
	gcpProjectID = regexp.MustCompile(`^[a-z][a-z0-9.:-]{3,61}[a-z0-9]$`)
	gcpSAEmail   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}@([a-z][a-z0-9.:-]{3,61}[a-z0-9])\.iam\.gserviceaccount\.com$`)
)

// ParseGCPSCC reads a Security Command Center finding notification, either as
// the notification JSON or as a Pub/Sub push delivery of it (message.data in
// base64). A finding that names a service-account key, in access.serviceAccountKeyName
// (Event Threat Detection) or in the sourceProperties of a leaked-credentials
// finding (private_key_identifier with compromised_account or account_name and
// project_identifier), yields one vendor signal about that key: credential_exposed
// when the category says the key leaked, anomalous_usage otherwise.
//
// Ignored: inactive and muted findings, and findings that name no key. The source
// event ID is the finding's name at its eventTime, so an update of the finding is
// a new signal and a resend is not.
func ParseGCPSCC(body []byte) (Result, error) {
	var push sccPush
	if err := decodeJSON(body, &push); err != nil {
		return Result{}, err
	}
	payload, field := body, ""
	if push.Message != nil {
		b, err := base64.StdEncoding.DecodeString(push.Message.Data)
		if err != nil || len(b) == 0 {
			return Result{}, invalid("message.data", "message.data is not the base64 of a finding notification")
		}
		payload, field = b, "message.data"
	}
	var n sccNotification
	if err := decodeJSON(payload, &n); err != nil {
		if se, ok := err.(*sever.Error); ok && field != "" {
			se.Field = joinPath(field, se.Field)
			se.Message = field + ": " + se.Message
		}
		return Result{}, err
	}
	f := n.Finding
	path := joinPath(field, "finding")
	if f == nil {
		return Result{}, invalid(path, "%s is required (a Security Command Center finding notification)", path)
	}
	if err := checkID(path+".name", f.Name); err != nil {
		return Result{}, err
	}
	if err := required(path+".category", f.Category); err != nil {
		return Result{}, err
	}
	event := clip(f.Category, 128)
	switch {
	case f.State != "" && f.State != "ACTIVE":
		return ignored(event, "Security Command Center finding %s is %s; no incident", clip(f.Name, 200), clip(f.State, 32)), nil
	case f.Mute == "MUTED":
		return ignored(event, "Security Command Center finding %s is muted; no incident", clip(f.Name, 200)), nil
	}
	key, keyField, err := sccKey(f, path)
	if err != nil {
		return Result{}, err
	}
	if key == "" {
		return ignored(event, "Security Command Center finding %s (%s) names no service-account key; no incident", clip(f.Name, 200), event), nil
	}
	observed := time.Time{}
	for _, t := range []struct{ field, v string }{{path + ".eventTime", f.EventTime}, {path + ".createTime", f.CreateTime}} {
		if t.v != "" {
			if observed, err = parseTime(t.field, t.v, time.RFC3339Nano); err != nil {
				return Result{}, err
			}
			break
		}
	}
	if observed.IsZero() {
		return Result{}, invalid(path+".eventTime", "%s.eventTime is required", path)
	}
	kind := sever.KindAnomalousUsage
	if c := strings.ToLower(f.Category); strings.Contains(c, "leaked") || strings.Contains(c, "exposed") {
		kind = sever.KindCredentialExposed
	}
	m := gcpKeyName.FindStringSubmatch(key)
	project := m[1]
	if project == "-" {
		project = ""
	}
	where := ""
	if u, _ := f.SourceProperties["url"].(string); safeURL(u) != "" {
		where = " found at " + safeURL(u)
	}
	res := Result{Event: event, Signals: []sever.Signal{{
		Source: SourceGCPSCC, SourceEventID: f.Name, Origin: sever.OriginVendor, Kind: kind,
		ObservedAt: observed, Severity: sccSeverity(f.Severity),
		Credential: sever.Credential{Provider: "gcp", Type: sever.CredGCPServiceAccountKey, ID: key,
			Principal: m[2], Account: project},
		Summary: fmt.Sprintf("Security Command Center %s (severity %s) on service-account key %s (from %s)%s",
			f.Category, or(f.Severity, "unspecified"), key, keyField, where),
		Labels: labels(f.Category, f.FindingClass),
		Extra:  meta(or(f.ExternalURI, stringProp(f.SourceProperties, "url"))),
	}}}
	return finish(res, body, eventKey{version: observed, payload: payload})
}

// sccKey finds the key a finding names and the field it came from. A name that
// is there but malformed is an error; no name at all is "".
func sccKey(f *sccFinding, path string) (key, field string, err error) {
	if f.Access != nil && f.Access.ServiceAccountKeyName != "" {
		field = path + ".access.serviceAccountKeyName"
		k := strings.TrimPrefix(f.Access.ServiceAccountKeyName, "//iam.googleapis.com/")
		if !gcpKeyName.MatchString(k) {
			return "", "", invalid(field, "%s is not a service-account key name (//iam.googleapis.com/projects/<project>/serviceAccounts/<email>/keys/<key id>)", field)
		}
		return k, field, nil
	}
	id := stringProp(f.SourceProperties, "private_key_identifier")
	if id == "" {
		return "", "", nil
	}
	field = path + ".sourceProperties.private_key_identifier"
	if !gcpKeyID.MatchString(id) {
		return "", "", invalid(field, "%s is not a service-account key id (hex)", field)
	}
	account := or(stringProp(f.SourceProperties, "compromised_account"), stringProp(f.SourceProperties, "account_name"))
	if i := strings.LastIndex(account, "/serviceAccounts/"); i >= 0 {
		account = account[i+len("/serviceAccounts/"):]
	}
	sa := gcpSAEmail.FindStringSubmatch(account)
	if sa == nil {
		return "", "", invalid(path+".sourceProperties.compromised_account",
			"%s.sourceProperties names key %s but no service account e-mail (compromised_account or account_name)", path, id)
	}
	project := stringProp(f.SourceProperties, "project_identifier")
	if project == "" {
		project = sa[1]
	}
	if !gcpProjectID.MatchString(project) {
		return "", "", invalid(path+".sourceProperties.project_identifier", "%s.sourceProperties.project_identifier is not a project id", path)
	}
	return "projects/" + project + "/serviceAccounts/" + account + "/keys/" + id, field, nil
}

func stringProp(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return strings.TrimSpace(s)
}

// sccSeverity maps Security Command Center's severity; an unspecified one is
// high, as a key found outside the organisation is.
func sccSeverity(s string) string {
	switch s {
	case "CRITICAL":
		return "critical"
	case "MEDIUM":
		return "medium"
	case "LOW":
		return "low"
	}
	return "high"
}
