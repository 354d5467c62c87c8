package adapters

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sever-ir/sever"
)

// SourceEntra is the source of signals from Microsoft Entra ID Protection's
// service-principal risk detections.
const SourceEntra = "entra"

// entraRiskDetection is the part of a Microsoft Graph servicePrincipalRiskDetection
// (identityProtection/servicePrincipalRiskDetections) sever reads, as a SIEM or a
// Logic App forwards it: one detection per delivery.
type entraRiskDetection struct {
	ID                  string   `json:"id"`
	RiskEventType       string   `json:"riskEventType"`
	RiskState           string   `json:"riskState"`
	RiskLevel           string   `json:"riskLevel"`
	RiskDetail          string   `json:"riskDetail"`
	Source              string   `json:"source"`
	Activity            string   `json:"activity"`
	IPAddress           string   `json:"ipAddress"`
	ActivityDateTime    string   `json:"activityDateTime"`
	DetectedDateTime    string   `json:"detectedDateTime"`
	LastUpdatedDateTime string   `json:"lastUpdatedDateTime"`
	ServicePrincipalID  string   `json:"servicePrincipalId"`
	DisplayName         string   `json:"servicePrincipalDisplayName"`
	AppID               string   `json:"appId"`
	KeyIDs              []string `json:"keyIds"`
}

// entraGUID is the shape of Entra's ids (application ids, key ids).
var entraGUID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// entraKinds maps the risk event types that are about a credential of the
// application to a signal kind. Detections about the application itself
// (maliciousApplication, suspiciousApplication) are not about a key and open no
// incident here.
var entraKinds = map[string]sever.SignalKind{
	"leakedCredentials":                         sever.KindCredentialExposed,
	"investigationsThreatIntelligence":          sever.KindAbuseReport,
	"adminConfirmedServicePrincipalCompromised": sever.KindAbuseReport,
	"suspiciousSignins":                         sever.KindAnomalousUsage,
	"anomalousServicePrincipalActivity":         sever.KindAnomalousUsage,
	"suspiciousAPITraffic":                      sever.KindAnomalousUsage,
}

// entraSeverity maps Entra's risk level; "hidden" (the tenant cannot see it) and
// an absent level count as medium, since the detection itself is a vendor's claim.
var entraSeverity = map[string]string{"low": "low", "medium": "medium", "high": "high", "hidden": "medium", "none": "low", "": "medium"}

// maxEntraKeys bounds the signals one detection yields.
const maxEntraKeys = 16

// ParseEntraRisk reads a Microsoft Entra ID Protection risk detection for a
// service principal (Graph's servicePrincipalRiskDetection). A detection of a
// credential risk (leakedCredentials: credential_exposed; threat intelligence and
// an administrator's confirmed compromise: abuse_report; suspicious sign-ins,
// anomalous activity and API traffic: anomalous_usage) yields one vendor signal per
// key id it names, for the azure_app_secret "<appId>/<keyId>". Microsoft only
// detects: nothing is contained until sever removes the secret.
//
// Ignored: detections that are dismissed, remediated or confirmed safe, that are
// about the application rather than a credential, or that name no key id (sever
// removes one secret, never every secret of an application on a guess). The source
// event ID is the detection id at its lastUpdatedDateTime.
func ParseEntraRisk(body []byte) (Result, error) {
	var d entraRiskDetection
	if err := decodeJSON(body, &d); err != nil {
		return Result{}, err
	}
	if err := checkID("id", d.ID); err != nil {
		return Result{}, err
	}
	if err := required("riskEventType", d.RiskEventType); err != nil {
		return Result{}, err
	}
	event := clip(d.RiskEventType, 64)
	kind, ok := entraKinds[d.RiskEventType]
	state := strings.ToLower(d.RiskState)
	switch {
	case state == "dismissed" || state == "remediated" || state == "confirmedsafe":
		return ignored(event, "Entra risk detection %s is %s; no incident", d.ID, d.RiskState), nil
	case !ok:
		return ignored(event, "Entra risk event type %s is not about a credential of the application; no incident", event), nil
	case len(d.KeyIDs) == 0:
		return ignored(event, "Entra risk detection %s names no key id (keyIds); sever does not remove every secret of an application on a guess; no incident", d.ID), nil
	}
	if !entraGUID.MatchString(d.AppID) {
		return Result{}, invalid("appId", "appId is not an application (client) id (a GUID)")
	}
	if len(d.KeyIDs) > maxEntraKeys {
		return Result{}, invalid("keyIds", "keyIds names more than %d keys", maxEntraKeys)
	}
	severity, ok := entraSeverity[strings.ToLower(d.RiskLevel)]
	if !ok {
		return Result{}, invalid("riskLevel", "riskLevel %q is not low, medium, high, hidden or none", clip(d.RiskLevel, 32))
	}
	if d.ServicePrincipalID != "" && !entraGUID.MatchString(d.ServicePrincipalID) {
		return Result{}, invalid("servicePrincipalId", "servicePrincipalId is not a service principal object id (a GUID)")
	}
	if len(d.DisplayName) > 256 {
		return Result{}, invalid("servicePrincipalDisplayName", "servicePrincipalDisplayName is longer than 256 characters")
	}
	var observed, version time.Time
	for _, t := range []struct {
		field, v string
		into     *time.Time
	}{
		{"activityDateTime", or(d.ActivityDateTime, d.DetectedDateTime), &observed},
		{"lastUpdatedDateTime", or(d.LastUpdatedDateTime, d.DetectedDateTime, d.ActivityDateTime), &version},
	} {
		if t.v == "" {
			return Result{}, invalid(t.field, "%s (or detectedDateTime) is required", t.field)
		}
		v, err := parseTime(t.field, t.v, time.RFC3339Nano)
		if err != nil {
			return Result{}, err
		}
		*t.into = v
	}
	appID := strings.ToLower(d.AppID)
	var keys []string
	for i, k := range d.KeyIDs {
		if !entraGUID.MatchString(k) {
			return Result{}, invalid(fmt.Sprintf("keyIds[%d]", i), "keyIds[%d] is not a key id (a GUID)", i)
		}
		if k = strings.ToLower(k); !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	res := Result{Event: event}
	for _, k := range keys {
		id := d.ID
		if len(keys) > 1 {
			id += "/" + k
		}
		res.Signals = append(res.Signals, sever.Signal{
			Source: SourceEntra, SourceEventID: id, Origin: sever.OriginVendor, Kind: kind,
			ObservedAt: observed, Severity: severity,
			Credential: sever.Credential{Provider: "azure", Type: sever.CredAzureAppSecret, ID: appID + "/" + k,
				Principal: d.ServicePrincipalID},
			Summary: fmt.Sprintf("Entra ID Protection %s (risk %s, %s) on secret %s of application %s (%s)%s",
				d.RiskEventType, or(d.RiskLevel, "unknown"), or(d.RiskState, "atRisk"), k, appID, or(d.DisplayName, "no name"),
				entraFrom(d.IPAddress)),
			Labels: labels(d.RiskEventType, d.Source, d.Activity),
		})
	}
	return finish(res, body, eventKey{version: version})
}

func entraFrom(ip string) string {
	if ip == "" || len(ip) > 64 {
		return ""
	}
	return " from " + ip
}
