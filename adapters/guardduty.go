package adapters

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sever-ir/sever"
)

// guardDutyFinding is the part of a GuardDuty finding (an EventBridge event's
// detail) sever reads.
type guardDutyFinding struct {
	AccountID string `json:"accountId"`
	ID        string `json:"id"`
	Type      string `json:"type"`
	Title     string `json:"title"`
	Severity  number `json:"severity"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
	Resource  struct {
		ResourceType     string `json:"resourceType"`
		AccessKeyDetails *struct {
			AccessKeyID string `json:"accessKeyId"`
			PrincipalID string `json:"principalId"`
			UserName    string `json:"userName"`
			UserType    string `json:"userType"`
		} `json:"accessKeyDetails"`
		InstanceDetails *struct {
			InstanceID string `json:"instanceId"`
		} `json:"instanceDetails"`
	} `json:"resource"`
	Service struct {
		Archived       bool            `json:"archived"`
		EventFirstSeen string          `json:"eventFirstSeen"`
		AdditionalInfo json.RawMessage `json:"additionalInfo"`
	} `json:"service"`
}

// ParseGuardDuty reads a GuardDuty finding as EventBridge delivers it (source
// aws.guardduty). A finding about an IAM user's access key (finding types
// "<purpose>:IAMUser/<name>", key in detail.resource.accessKeyDetails) yields one
// vendor signal, of the kind guardDutyKind gives: abuse_report for Impact findings
// (such as the AI-protection Impact:IAMUser/CostHarvesting and
// Impact:IAMUser/AnomalousModelInvocation, where the key is being spent) and for
// the attack sequence AttackSequence:IAM/CompromisedCredentials,
// anomalous_usage for prompt injection (Impact:IAMUser/PromptInjection.*) and for
// the rest (such as UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS
// and CredentialAccess:IAMUser/AnomalousBehavior). The severity follows GuardDuty's
// bands for its numeric severity.
//
// Ignored: sample findings, archived findings, findings about other resources, and
// Policy findings (account hygiene such as root credential use, not a compromise).
// The source event ID is the finding id, which GuardDuty keeps when it updates a
// finding, at its updatedAt, with a digest of the body (see sourceEventID): an
// update is a new signal in the incident, a resend of it a duplicate.
func ParseGuardDuty(body []byte) (Result, error) {
	ev, sent, err := readEventBridge(body, "aws.guardduty")
	if err != nil {
		return Result{}, err
	}
	var f guardDutyFinding
	if err := unmarshal(ev.Detail, "detail", &f); err != nil {
		return Result{}, err
	}
	if err := checkID("detail.id", f.ID); err != nil {
		return Result{}, err
	}
	if err := required("detail.type", f.Type); err != nil {
		return Result{}, err
	}
	event := clip(f.Type, 128)
	purpose, resource := splitFindingType(f.Type)
	akd := f.Resource.AccessKeyDetails
	switch {
	case isSampleFinding(f):
		return ignored(event, "GuardDuty sample finding %s (generated for testing); no incident", f.ID), nil
	case f.Service.Archived:
		return ignored(event, "GuardDuty finding %s is archived; no incident", f.ID), nil
	case resource != "IAMUser" && !isCredentialAttackSequence(f.Type):
		return ignored(event, "GuardDuty finding type %s is about %s, not an IAM user's access key; no incident", event, or(resource, "an unknown resource")), nil
	case purpose == "Policy":
		return ignored(event, "GuardDuty finding type %s reports account policy hygiene, not a compromised key; no incident", event), nil
	case akd == nil || akd.AccessKeyID == "":
		return ignored(event, "GuardDuty finding %s names no access key (detail.resource.accessKeyDetails.accessKeyId); no incident", f.ID), nil
	}
	if err := checkAccessKeyID("detail.resource.accessKeyDetails.accessKeyId", akd.AccessKeyID); err != nil {
		return Result{}, err
	}
	severity, err := guardDutySeverity(f.Severity)
	if err != nil {
		return Result{}, err
	}
	if err := checkAccount("detail.accountId", f.AccountID); err != nil {
		return Result{}, err
	}
	if len(akd.UserName) > 128 {
		return Result{}, invalid("detail.resource.accessKeyDetails.userName", "detail.resource.accessKeyDetails.userName is longer than 128 characters")
	}
	observed := sent
	for _, t := range []struct{ field, v string }{
		{"detail.service.eventFirstSeen", f.Service.EventFirstSeen},
		{"detail.createdAt", f.CreatedAt},
	} {
		if t.v != "" {
			if observed, err = parseTime(t.field, t.v, time.RFC3339Nano); err != nil {
				return Result{}, err
			}
			break
		}
	}

	// GuardDuty updates a finding in place (same id, new updatedAt and count): each
	// update is a new signal, since it says the key is still being used.
	version := sent
	if f.UpdatedAt != "" {
		if version, err = parseTime("detail.updatedAt", f.UpdatedAt, time.RFC3339Nano); err != nil {
			return Result{}, err
		}
	}

	kind, extraLabels := guardDutyKind(f.Type, purpose)
	who := or(akd.UserName, akd.PrincipalID)
	if akd.UserType != "" && who != "" {
		who += " (" + akd.UserType + ")"
	}
	res := Result{Event: event, Signals: []sever.Signal{{
		Source: SourceGuardDuty, SourceEventID: f.ID, Origin: sever.OriginVendor, Kind: kind,
		ObservedAt: observed, Severity: severity,
		Credential: sever.Credential{Provider: "aws", Type: awsKeyType(akd.AccessKeyID), ID: akd.AccessKeyID,
			Principal: guardDutyPrincipal(f, or(f.AccountID, ev.Account)), Account: or(f.AccountID, ev.Account)},
		Summary: fmt.Sprintf("GuardDuty %s (severity %s) on access key %s of %s: %s",
			f.Type, f.Severity, akd.AccessKeyID, or(who, "an unknown principal"), or(f.Title, "no title")),
		Labels: labels(append([]string{f.Type}, extraLabels...)...),
	}}}
	return finish(res, body, eventKey{version: version})
}

// guardDutyPrincipal names who the key belongs to. For an IAM user's key that is
// the user name. A temporary key of an assumed role (userType AssumedRole, as in
// InstanceCredentialExfiltration findings) is named by its session's ARN, which is
// what the session runbook needs to find the role: userName is the role, and the
// session is the part of principalId after the colon or, for instance
// credentials, the instance ID.
func guardDutyPrincipal(f guardDutyFinding, account string) string {
	akd := f.Resource.AccessKeyDetails
	if awsKeyType(akd.AccessKeyID) != sever.CredAWSTemporaryCredentials || akd.UserType != "AssumedRole" ||
		akd.UserName == "" || account == "" {
		return akd.UserName
	}
	_, session, _ := strings.Cut(akd.PrincipalID, ":")
	if session == "" && f.Resource.InstanceDetails != nil {
		session = f.Resource.InstanceDetails.InstanceID
	}
	if session == "" {
		return "arn:aws:iam::" + account + ":role/" + akd.UserName
	}
	return "arn:aws:sts::" + account + ":assumed-role/" + akd.UserName + "/" + session
}

// attackSequenceCredentials is GuardDuty's attack sequence about one compromised
// AWS credential: a chain of findings and API activity by the key in
// resource.accessKeyDetails. Its resource part is "IAM", not "IAMUser".
const attackSequenceCredentials = "AttackSequence:IAM/CompromisedCredentials"

func isCredentialAttackSequence(t string) bool {
	return t == attackSequenceCredentials || strings.HasPrefix(t, attackSequenceCredentials+".")
}

// guardDutyKind says what a finding type claims about the key that made the calls.
//
//   - AttackSequence:IAM/CompromisedCredentials: GuardDuty correlated several
//     signals into a compromise of the key: abuse_report.
//   - Impact:IAMUser/PromptInjection.*: the content of a model invocation tried to
//     subvert the model. The key that made the call is named, but the finding is
//     about the invocation (often an end user's input passed through an app), not
//     evidence that someone else holds the key: anomalous_usage, labelled
//     model-invocation, so it is recorded on the key's incident without being
//     read as abuse of the key.
//   - Other Impact findings (CostHarvesting, AnomalousModelInvocation…): someone is
//     spending the key: abuse_report.
//   - The rest: anomalous_usage.
func guardDutyKind(findingType, purpose string) (sever.SignalKind, []string) {
	_, name, _ := strings.Cut(findingType, "/")
	switch {
	case isCredentialAttackSequence(findingType):
		return sever.KindAbuseReport, nil
	case purpose == "Impact" && strings.HasPrefix(name, "PromptInjection"):
		return sever.KindAnomalousUsage, []string{"model-invocation"}
	case purpose == "Impact":
		return sever.KindAbuseReport, nil
	}
	return sever.KindAnomalousUsage, nil
}

// splitFindingType splits "ThreatPurpose:ResourceTypeAffected/ThreatFamilyName…".
func splitFindingType(t string) (purpose, resource string) {
	purpose, rest, ok := strings.Cut(t, ":")
	if !ok {
		return "", ""
	}
	resource, _, _ = strings.Cut(rest, "/")
	return purpose, resource
}

// isSampleFinding recognises findings made by CreateSampleFindings, which name
// placeholder resources ("GeneratedFindingAccessKeyId") and must never open an
// incident. GuardDuty marks them in additionalInfo, either directly
// ({"sample": true}) or inside a JSON string ({"value": "{\"sample\":true}"}).
func isSampleFinding(f guardDutyFinding) bool {
	if akd := f.Resource.AccessKeyDetails; akd != nil && strings.HasPrefix(akd.AccessKeyID, "GeneratedFinding") {
		return true
	}
	var info struct {
		Sample json.RawMessage `json:"sample"`
		Value  string          `json:"value"`
	}
	if json.Unmarshal(f.Service.AdditionalInfo, &info) != nil {
		return false
	}
	if string(info.Sample) == "true" {
		return true
	}
	var inner struct {
		Sample bool `json:"sample"`
	}
	return info.Value != "" && json.Unmarshal([]byte(info.Value), &inner) == nil && inner.Sample
}

// guardDutySeverity maps GuardDuty's numeric severity to sever's levels by
// GuardDuty's own bands: low below 4, medium below 7, high below 9, critical from 9.
func guardDutySeverity(n number) (string, error) {
	if n == "" {
		return "", invalid("detail.severity", "detail.severity is required (a number from 0.1 to 10)")
	}
	v, err := strconv.ParseFloat(string(n), 64)
	if err != nil || v <= 0 || v > 10 {
		return "", invalid("detail.severity", "detail.severity must be a number from 0.1 to 10")
	}
	switch {
	case v < 4:
		return "low", nil
	case v < 7:
		return "medium", nil
	case v < 9:
		return "high", nil
	}
	return "critical", nil
}
