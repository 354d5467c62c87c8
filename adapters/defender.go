package adapters

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/sever-ir/sever"
)

// SourceDefender is the source of signals from Microsoft Defender for Cloud
// security alerts (Defender for AI services).
const SourceDefender = "defender"

// defenderAlert is the part of a Microsoft Defender for Cloud security alert sever
// reads, in the schema of the Alerts REST API (Microsoft.Security/locations/alerts),
// which is also what continuous export sends to an Event Hub and what a Logic App
// or an Event Grid subscriber forwards when it posts the alert resource as is.
type defenderAlert struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Properties *struct {
		AlertType           string `json:"alertType"`
		SystemAlertID       string `json:"systemAlertId"`
		AlertDisplayName    string `json:"alertDisplayName"`
		Severity            string `json:"severity"`
		Status              string `json:"status"`
		StartTimeUTC        string `json:"startTimeUtc"`
		EndTimeUTC          string `json:"endTimeUtc"`
		TimeGeneratedUTC    string `json:"timeGeneratedUtc"`
		CompromisedEntity   string `json:"compromisedEntity"`
		ProductComponent    string `json:"productComponentName"`
		AlertURI            string `json:"alertUri"`
		ResourceIdentifiers []struct {
			Type            string `json:"type"`
			AzureResourceID string `json:"azureResourceId"`
		} `json:"resourceIdentifiers"`
		// Entities are typed objects; only azure-resource (resourceId) and ip
		// (address) are read.
		Entities []struct {
			Type       string `json:"type"`
			ResourceID string `json:"resourceId"`
			Address    string `json:"address"`
		} `json:"entities"`
		// ExtendedProperties is free text per alert type: never copied.
		ExtendedProperties map[string]any `json:"extendedProperties"`
	} `json:"properties"`
}

// defenderAIKinds maps the Defender for AI services alert types about the use of
// an AI account by someone who should not be using it (Microsoft's "Alerts for AI
// services" reference) to a signal kind. The wallet attacks (someone spending the
// account) and access from an IP Microsoft Threat Intelligence knows as hostile are
// abuse; access from Tor, a suspicious user agent or an access pattern that
// changed are anomalous usage. Whoever calls the account with its key holds the
// key, and Defender does not say which key, so the incident is the account's.
//
// The other AI alerts (jailbreak and prompt-injection attempts, credential theft
// and sensitive data in model responses, phishing URLs, ASCII smuggling,
// anomalous tool invocation, LLM reconnaissance) are about the content an
// application relays, often an end user's input, not about the account's keys;
// AI.Azure_AnomalousOperation.InitialAccess is about a service principal's ARM
// operation. They open no incident here.
var defenderAIKinds = map[string]sever.SignalKind{
	"AI.Azure_DOWDuplicateRequests":          sever.KindAbuseReport,
	"AI.Azure_DOWVolumeAnomaly":              sever.KindAbuseReport,
	"AI.Azure_AccessFromSuspiciousIP":        sever.KindAbuseReport,
	"AI.Azure_AccessFromAnonymizedIP":        sever.KindAnomalousUsage,
	"AI.Azure_AccessFromSuspiciousUserAgent": sever.KindAnomalousUsage,
	"AI.Azure_AccessAnomaly":                 sever.KindAnomalousUsage,
}

// defenderSeverity maps the alert's severity (High, Medium, Low, Informational).
var defenderSeverity = map[string]string{"high": "high", "medium": "medium", "low": "low", "informational": "info", "": "medium"}

// ParseDefender reads one Microsoft Defender for Cloud security alert. A Defender
// for AI services alert about the use of an Azure OpenAI (Cognitive Services)
// account by someone who should not (defenderAIKinds) yields one vendor signal
// for the azure_openai_key named by the account's ARM resource id, from
// properties.resourceIdentifiers (type AzureResource), else an azure-resource
// entity. Defender does not say which of the account's two keys was used, so the
// runbook acts on the account (key authentication off, or both keys
// regenerated).
//
// Ignored: alerts that are resolved or dismissed, Defender's sample alerts, other
// alert types. An alert of a type in defenderAIKinds that names no Cognitive
// Services account is refused (422) naming properties.resourceIdentifiers. The
// source event ID is properties.systemAlertId (else name) at endTimeUtc, so an
// alert Defender extends with later activity is a new signal and a resend is not.
func ParseDefender(body []byte) (Result, error) {
	var a defenderAlert
	if err := decodeJSON(body, &a); err != nil {
		return Result{}, err
	}
	p := a.Properties
	if p == nil {
		return Result{}, invalid("properties", "properties is required (a Defender for Cloud security alert, Microsoft.Security/locations/alerts)")
	}
	if err := required("properties.alertType", p.AlertType); err != nil {
		return Result{}, err
	}
	alertID, idField := or(p.SystemAlertID, a.Name), "properties.systemAlertId"
	if err := checkID(idField, alertID); err != nil {
		return Result{}, err
	}
	event := clip(p.AlertType, 128)
	kind, ok := defenderAIKinds[p.AlertType]
	switch status := strings.ToLower(p.Status); {
	case status == "resolved" || status == "dismissed":
		return ignored(event, "Defender for Cloud alert %s is %s; no incident", clip(alertID, 128), clip(p.Status, 32)), nil
	case strings.HasPrefix(strings.TrimSpace(p.AlertDisplayName), "[SAMPLE ALERT]"):
		return ignored(event, "Defender for Cloud alert %s is a sample alert; no incident", clip(alertID, 128)), nil
	case !ok && strings.HasPrefix(p.AlertType, "AI."):
		return ignored(event, "Defender for AI services alert type %s is about the content an application relays or a service principal, "+
			"not about the use of the account's keys; no incident", event), nil
	case !ok:
		return ignored(event, "Defender for Cloud alert type %s is not a Defender for AI services alert about an account's keys; no incident", event), nil
	}
	severity, ok := defenderSeverity[strings.ToLower(p.Severity)]
	if !ok {
		return Result{}, invalid("properties.severity", "properties.severity %q is not High, Medium, Low or Informational", clip(p.Severity, 32))
	}
	account, field := "", ""
	for i, r := range p.ResourceIdentifiers {
		if id, ok := azureAccount(r.AzureResourceID); ok && strings.EqualFold(r.Type, "AzureResource") {
			account, field = id, fmt.Sprintf("properties.resourceIdentifiers[%d].azureResourceId", i)
			break
		}
	}
	for i, e := range p.Entities {
		if account != "" {
			break
		}
		if id, ok := azureAccount(e.ResourceID); ok && strings.EqualFold(e.Type, "azure-resource") {
			account, field = id, fmt.Sprintf("properties.entities[%d].resourceId", i)
		}
	}
	if account == "" {
		return Result{}, unprocessable("properties.resourceIdentifiers",
			"Defender for AI services alert %s (%s) names no Azure OpenAI (Microsoft.CognitiveServices/accounts) resource in "+
				"properties.resourceIdentifiers (type AzureResource) or an azure-resource entity; sever cannot name the account whose keys to contain",
			clip(alertID, 128), event)
	}
	var observed, version time.Time
	for _, t := range []struct {
		field, v string
		into     *time.Time
	}{
		{"properties.startTimeUtc", or(p.StartTimeUTC, p.TimeGeneratedUTC), &observed},
		{"properties.endTimeUtc", or(p.EndTimeUTC, p.StartTimeUTC, p.TimeGeneratedUTC), &version},
	} {
		if t.v == "" {
			return Result{}, invalid(t.field, "%s (or properties.timeGeneratedUtc) is required", t.field)
		}
		v, err := parseTime(t.field, t.v, time.RFC3339Nano)
		if err != nil {
			return Result{}, err
		}
		*t.into = v
	}
	sub := strings.Split(account, "/")[2]
	summary := fmt.Sprintf("Defender for AI services %s (%s, severity %s) on Azure OpenAI account %s (from %s)%s. "+
		"Defender does not say which key was used, or whether a key was used at all rather than an Entra token",
		p.AlertType, clip(or(p.AlertDisplayName, "no display name"), 256), or(p.Severity, "unknown"), account, field, defenderFrom(p.Entities))
	res := Result{Event: event, Signals: []sever.Signal{{
		Source: SourceDefender, SourceEventID: alertID, Origin: sever.OriginVendor, Kind: kind,
		ObservedAt: observed, Severity: severity,
		Credential: sever.Credential{Provider: "azure", Type: sever.CredAzureOpenAIKey, ID: account, Account: sub},
		Summary:    summary,
		Labels:     labels(p.AlertType, "defender-for-ai"),
		Extra:      meta(p.AlertURI),
	}}}
	return finish(res, body, eventKey{version: version})
}

// defenderFrom names the caller's IP addresses from the alert's ip entities.
func defenderFrom(es []struct {
	Type       string `json:"type"`
	ResourceID string `json:"resourceId"`
	Address    string `json:"address"`
}) string {
	var ips []string
	for _, e := range es {
		if strings.EqualFold(e.Type, "ip") && net.ParseIP(e.Address) != nil && len(ips) < 4 {
			ips = append(ips, e.Address)
		}
	}
	if len(ips) == 0 {
		return ""
	}
	return " from " + strings.Join(ips, ", ")
}
