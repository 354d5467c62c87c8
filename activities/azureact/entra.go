package azureact

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
)

// guidRE is the shape of Entra's ids (application ids, key ids).
var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// ParseAppSecretID reads "<application (client) id>/<secret key id>", the
// credential id of an azure_app_secret incident. Both are GUIDs; ids are compared
// in lower case, as Entra does.
func ParseAppSecretID(id string) (appID, keyID string, err error) {
	appID, keyID, ok := strings.Cut(id, "/")
	if !ok || !guidRE.MatchString(appID) || !guidRE.MatchString(keyID) {
		return "", "", fmt.Errorf("credential id %q is not <application id>/<secret key id> (two GUIDs)", id)
	}
	return strings.ToLower(appID), strings.ToLower(keyID), nil
}

// application is the part of a Graph application the actions read. Graph also
// returns each secret's hint (its first characters): it is not decoded, so it is
// never recorded.
type application struct {
	ID          string               `json:"id"`
	AppID       string               `json:"appId"`
	DisplayName string               `json:"displayName"`
	Passwords   []passwordCredential `json:"passwordCredentials"`
}

type passwordCredential struct {
	KeyID       string `json:"keyId"`
	DisplayName string `json:"displayName"`
	EndDateTime string `json:"endDateTime"`
}

func (ap *application) has(keyID string) bool {
	return slices.ContainsFunc(ap.Passwords, func(p passwordCredential) bool { return strings.EqualFold(p.KeyID, keyID) })
}

func (ap *application) facts(keyID string) sever.Values {
	return sever.Values{"application_id": ap.AppID, "object_id": ap.ID, "display_name": ap.DisplayName,
		"key_id": keyID, "secret_present": ap.has(keyID), "secrets": len(ap.Passwords)}
}

// appPath addresses an application by its client id, which is what a leaked
// secret travels with (Graph's applications(appId='…') alternate key).
func (s *session) appPath(appID string) string {
	return s.a.graphURL() + "/v1.0/applications(appId='" + url.PathEscape(appID) + "')"
}

func (s *session) getApp(ctx context.Context, appID string) (*application, error) {
	return getJSON(ctx, s, "get application "+appID, s.appPath(appID)+"?$select=id,appId,displayName,passwordCredentials", GraphScope,
		"an application", func(ap *application) bool { return ap.AppID != "" })
}

func (a *Activities) beginApp(ctx context.Context, in sever.ActionInput, args *Args) (*session, string, string, error) {
	s, err := a.begin(ctx, in, sever.CredAzureAppSecret, args)
	if err != nil {
		return nil, "", "", err
	}
	appID, keyID, err := ParseAppSecretID(in.Credential.ID)
	if err != nil {
		return nil, "", "", activities.Permanent(activities.ErrInvalidArgument, in.Action, err)
	}
	return s, appID, keyID, nil
}

// actor names sever's own principal as far as the action knows it.
func actor() string { return "azure:sever" }

// removeProgress is the heartbeat detail recorded just before removePassword is
// sent.
const removeProgress = "azure: removePassword sent for "

// RemovePassword is azure.entra.remove_password. It reads the application and,
// while the secret's key id is among its passwordCredentials, removes it
// (removePassword), then reads the application again: verified when the key id
// is gone. Removal cannot be undone; tokens Entra already issued with the secret
// live until they expire (at most about an hour). A secret absent at the first
// read fails NotFound unless an earlier attempt of the step sent the removal.
func (a *Activities) RemovePassword(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args Args
	s, appID, keyID, err := a.beginApp(ctx, in, &args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	ap, err := s.getApp(ctx, appID)
	if err != nil {
		return sever.ActionResult{}, err
	}
	res := sever.ActionResult{Enforcement: sever.EnterpriseEnforced, Actor: actor()}
	marker := removeProgress + appID + "/" + keyID
	if !ap.has(keyID) && !activities.SentBefore(ctx, marker) {
		// Absent before sever acted: a mistyped key id, another application's
		// secret, or one already removed by someone else. Claiming containment would
		// leave the real secret live behind a verified step.
		return sever.ActionResult{}, activities.Permanent(activities.ErrNotFound, fmt.Sprintf(
			"%s: application %s (%s) lists no secret with key id %s; not claiming containment of a secret sever never saw",
			in.Action, appID, ap.DisplayName, keyID), nil)
	}
	if ap.has(keyID) {
		op := fmt.Sprintf("remove secret %s of application %s", keyID, appID)
		// Recorded before the call: a retry that finds the secret gone knows this
		// step removed it.
		activities.RecordHeartbeat(ctx, marker)
		st, body, err := s.do(ctx, op, http.MethodPost, s.appPath(appID)+"/removePassword", GraphScope, map[string]string{"keyId": keyID})
		if err != nil {
			return sever.ActionResult{}, err
		}
		// 404 here is the secret gone between the read and the removal (another
		// attempt, or an administrator): the read-back decides.
		if st != http.StatusNoContent && st != http.StatusOK && st != http.StatusNotFound {
			return sever.ActionResult{}, s.classify(op, st, body)
		}
		res.Changed = st != http.StatusNotFound
	}
	back, err := s.getApp(ctx, appID)
	if err != nil {
		return sever.ActionResult{}, err
	}
	res.Output = back.facts(keyID)
	res.Verified = !back.has(keyID)
	res.Summary = fmt.Sprintf("secret %s of application %s (%s) removed; Graph no longer lists it", keyID, appID, back.DisplayName)
	switch {
	case !res.Verified:
		res.Summary = fmt.Sprintf("secret %s of application %s still listed after removal", keyID, appID)
	case !res.Changed:
		res.Summary = fmt.Sprintf("secret %s of application %s (%s) not listed; not removed again", keyID, appID, back.DisplayName)
	}
	return res, nil
}

// PasswordStatus is azure.entra.password_status: verified when the secret's key
// id is absent from the application (expect absent, the default) or present.
// Absence counts only once the application is found: a missing application fails
// NotFound rather than passing as a removed secret.
func (a *Activities) PasswordStatus(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args Args
	s, appID, keyID, err := a.beginApp(ctx, in, &args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	expect, err := activities.Expect(in.Action, args.Expect, "absent", "present")
	if err != nil {
		return sever.ActionResult{}, err
	}
	ap, err := s.getApp(ctx, appID)
	if err != nil {
		return sever.ActionResult{}, err
	}
	present := ap.has(keyID)
	state := "absent"
	if present {
		state = "present"
	}
	return sever.ActionResult{Verified: state == expect, Actor: actor(), Output: ap.facts(keyID),
		Summary: fmt.Sprintf("secret %s of application %s is %s", keyID, appID, state)}, nil
}

// signIn is the part of an Entra sign-in event kept as evidence.
type signIn struct {
	ID              string `json:"id"`
	CreatedDateTime string `json:"createdDateTime"`
	AppID           string `json:"appId"`
	IPAddress       string `json:"ipAddress"`
	KeyID           string `json:"servicePrincipalCredentialKeyId"`
	ResourceID      string `json:"resourceId"`
	Status          struct {
		ErrorCode int `json:"errorCode"`
	} `json:"status"`
}

// SignInLogs is azure.entra.sign_in_logs: it reads the service-principal
// sign-ins of the application over the lookback (Graph beta auditLogs/signIns,
// which alone carries service-principal sign-ins; read-only, AuditLog.Read.All)
// and records their SHA-256 as evidence, with the count, the source addresses and
// the sign-ins made with the secret's key id.
func (a *Activities) SignInLogs(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args Args
	s, appID, keyID, err := a.beginApp(ctx, in, &args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	since, max, err := a.window(in.Action, args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	filter := fmt.Sprintf("appId eq '%s' and createdDateTime ge %s and signInEventTypes/any(t: t eq 'servicePrincipal')", appID, since)
	next := s.a.graphURL() + "/beta/auditLogs/signIns?$filter=" + url.QueryEscape(filter) + "&$top=" + fmt.Sprint(min(max, 1000))
	events, truncated, err := readPages[signIn](ctx, s, "read sign-in logs of application "+appID, next, s.a.graphURL(), GraphScope, "sign-ins", max)
	if err != nil {
		return sever.ActionResult{}, err
	}
	slices.SortFunc(events, func(x, y signIn) int { return strings.Compare(x.CreatedDateTime+x.ID, y.CreatedDateTime+y.ID) })
	var ips []string
	withKey := 0
	for _, e := range events {
		if e.IPAddress != "" && !slices.Contains(ips, e.IPAddress) {
			ips = append(ips, e.IPAddress)
		}
		if strings.EqualFold(e.KeyID, keyID) {
			withKey++
		}
	}
	doc, err := json.Marshal(map[string]any{"application_id": appID, "key_id": keyID, "since": since, "sign_ins": events})
	if err != nil {
		return sever.ActionResult{}, fmt.Errorf("%s: encode evidence: %w", in.Action, err)
	}
	summary := fmt.Sprintf("%d service-principal sign-ins of application %s since %s, %d with secret %s, from %d addresses",
		len(events), appID, since, withKey, keyID, len(ips))
	if truncated {
		summary += fmt.Sprintf(" (stopped at max_events %d)", max)
	}
	return sever.ActionResult{Verified: true, Actor: actor(), Summary: summary,
		Output:   sever.Values{"sign_ins": len(events), "with_key": withKey, "ip_addresses": ips, "since": since},
		Evidence: []sever.Artifact{{Name: "entra-sign-ins-" + appID + ".json", SHA256: sever.SHA256Hex(doc), Size: int64(len(doc))}}}, nil
}
