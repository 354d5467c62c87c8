package awsact

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
)

// sessionLookback is how far back session_owner reads CloudTrail by default: STS
// sessions last at most 36 hours (GetSessionToken), role sessions at most 12.
const sessionLookback = 48 * time.Hour

// sessionTrailPages bounds the CloudTrail pages read per region to find a session's
// issuer: every event made with the key names the same issuer, so one is enough.
const sessionTrailPages = 2

// SessionArgs are the arguments of aws.sts.session_owner, aws.iam.revoke_role_sessions
// and aws.iam.delete_role_revoke_policy.
type SessionArgs struct {
	Account  string   `json:"account"`
	Regions  []string `json:"regions"`
	Lookback string   `json:"lookback"` // Go duration; default 48h
	Reason   string   `json:"reason"`
}

// issuer is the principal that an STS session belongs to.
type issuer struct {
	Kind    string // "role" or "user"
	Name    string // role or user name, without path
	Session string // role session name; "" for user sessions
}

func (i issuer) String() string { return i.Kind + " " + i.Name }

// sessionTarget is a temporary key resolved to its account and issuer.
type sessionTarget struct {
	c       *Clients
	actor   identity
	account string
	keyID   string
	issuer  issuer
	source  string // "cloudtrail" or "signal"
}

// checkSessionType refuses credentials that are not STS sessions: the role or user
// of a long-term key is the key's owner, found another way (resolveKey).
func checkSessionType(in sever.ActionInput) error {
	if in.Credential.Type != sever.CredAWSTemporaryCredentials {
		return activities.Permanent(activities.ErrUnsupported, fmt.Sprintf("%s: credential type %s is not AWS temporary credentials (want %s)",
			in.Action, in.Credential.Type, sever.CredAWSTemporaryCredentials), nil)
	}
	if !strings.HasPrefix(in.Credential.ID, "ASIA") {
		return activities.Permanent(activities.ErrInvalidArgument, fmt.Sprintf("%s: credential id %q is not a temporary access key id (ASIA…)",
			in.Action, in.Credential.ID), nil)
	}
	return nil
}

// checkKeyOrSession accepts what CloudTrail can be searched by: an access key id or
// a session's.
func checkKeyOrSession(in sever.ActionInput) error {
	if in.Credential.Type == sever.CredAWSTemporaryCredentials {
		return checkSessionType(in)
	}
	return checkType(in)
}

// issuerFromPrincipal reads the issuer from a signal's principal: an assumed-role ARN
// (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION), a role ARN
// (arn:aws:iam::ACCOUNT:role/PATH/ROLE) or a user ARN. Anything else yields false.
func issuerFromPrincipal(p string) (issuer, bool) {
	parts := strings.SplitN(p, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return issuer{}, false
	}
	res := parts[5]
	switch {
	case parts[2] == "sts" && strings.HasPrefix(res, "assumed-role/"):
		role, session, ok := strings.Cut(strings.TrimPrefix(res, "assumed-role/"), "/")
		if !ok || role == "" || session == "" || strings.Contains(role, ":") {
			return issuer{}, false
		}
		return issuer{Kind: "role", Name: role, Session: session}, true
	case parts[2] == "iam" && strings.HasPrefix(res, "role/"):
		name := res[strings.LastIndex(res, "/")+1:]
		return issuer{Kind: "role", Name: name}, name != "" && !strings.Contains(name, ":")
	case parts[2] == "iam" && strings.HasPrefix(res, "user/"):
		name := res[strings.LastIndex(res, "/")+1:]
		return issuer{Kind: "user", Name: name}, name != "" && !strings.Contains(name, ":")
	}
	return issuer{}, false
}

// issuerFromEvent reads the issuer of the session that made a CloudTrail event, from
// the record's userIdentity: an AssumedRole's sessionContext.sessionIssuer (else its
// ARN), or an IAMUser's userName for GetSessionToken sessions. keyID must match the
// record's access key id, so an event about another key never names the issuer.
func issuerFromEvent(record, keyID string) (issuer, bool) {
	var ev struct {
		UserIdentity struct {
			Type           string `json:"type"`
			Arn            string `json:"arn"`
			UserName       string `json:"userName"`
			AccessKeyID    string `json:"accessKeyId"`
			SessionContext struct {
				SessionIssuer struct {
					Type     string `json:"type"`
					Arn      string `json:"arn"`
					UserName string `json:"userName"`
				} `json:"sessionIssuer"`
			} `json:"sessionContext"`
		} `json:"userIdentity"`
	}
	if json.Unmarshal([]byte(record), &ev) != nil {
		return issuer{}, false
	}
	id := ev.UserIdentity
	if id.AccessKeyID != keyID {
		return issuer{}, false
	}
	switch id.Type {
	case "AssumedRole":
		fromARN, ok := issuerFromPrincipal(id.Arn)
		si := id.SessionContext.SessionIssuer
		if si.Type == "Role" && si.UserName != "" && !strings.ContainsAny(si.UserName, "/:") {
			// The assumed-role ARN holds the session name; the issuer is authoritative for the role.
			if ok && fromARN.Kind == "role" && !strings.EqualFold(fromARN.Name, si.UserName) {
				return issuer{}, false
			}
			return issuer{Kind: "role", Name: si.UserName, Session: fromARN.Session}, true
		}
		return fromARN, ok && fromARN.Kind == "role"
	case "IAMUser":
		if id.UserName != "" && !strings.ContainsAny(id.UserName, "/:") {
			return issuer{Kind: "user", Name: id.UserName}, true
		}
	}
	return issuer{}, false
}

// resolveSession decodes the arguments and finds the account and the issuer of a
// temporary key. The account is AWS's answer (sts:GetAccessKeyInfo, see keyAccount). The issuer is CloudTrail's when
// it has events made with the key; a signal's principal that contradicts it refuses the
// action with ErrIdentityMismatch. Without events, the signal's principal is used, as
// GuardDuty's resource.accessKeyDetails names it: for a session only CloudTrail or the
// finding know the role.
func (a *Activities) resolveSession(ctx context.Context, in sever.ActionInput) (sessionTarget, SessionArgs, error) {
	var args SessionArgs
	if err := activities.DecodeArgs(in.Action, in.Args, &args); err != nil {
		return sessionTarget{}, args, err
	}
	t, err := a.findSession(ctx, in, args)
	return t, args, err
}

// subject names the issuer and account of the temporary key, for summaries.
func (t sessionTarget) subject() string {
	return fmt.Sprintf("%s in account %s", t.issuer, t.account)
}

// findSession is resolveSession once the arguments are decoded.
func (a *Activities) findSession(ctx context.Context, in sever.ActionInput, args SessionArgs) (sessionTarget, error) {
	if err := checkSessionType(in); err != nil {
		return sessionTarget{}, err
	}
	lookback, err := duration(in.Action, "lookback", args.Lookback, sessionLookback)
	if err != nil {
		return sessionTarget{}, err
	}
	account, err := a.keyAccount(ctx, in, args.Account)
	if err != nil {
		return sessionTarget{}, err
	}
	c, id, err := a.clients(ctx, in.Action, account, "")
	if err != nil {
		return sessionTarget{}, err
	}
	t := sessionTarget{c: c, actor: id, account: account, keyID: in.Credential.ID}
	fromTrail, found, err := a.sessionIssuer(ctx, in, account, args.Regions, lookback)
	if err != nil {
		return sessionTarget{}, err
	}
	fromSignal, signalOK := issuerFromPrincipal(in.Credential.Principal)
	switch {
	case found && signalOK && (fromTrail.Kind != fromSignal.Kind || !strings.EqualFold(fromTrail.Name, fromSignal.Name)):
		return sessionTarget{}, activities.Permanent(ErrIdentityMismatch, fmt.Sprintf(
			"%s: CloudTrail shows key %s used by a session of %s in account %s, but the signal's principal names %s; refusing to act on a contradicted identity",
			in.Action, t.keyID, fromTrail, account, fromSignal), nil)
	case found:
		t.issuer, t.source = fromTrail, "cloudtrail"
		if t.issuer.Session == "" && signalOK {
			t.issuer.Session = fromSignal.Session
		}
	case signalOK:
		t.issuer, t.source = fromSignal, "signal"
	default:
		return sessionTarget{}, activities.Permanent(activities.ErrNotFound, fmt.Sprintf(
			"%s: no CloudTrail event in account %s within %s names the issuer of key %s, and the signal names no role or user ARN",
			in.Action, account, lookback, t.keyID), nil)
	}
	return t, nil
}

// sessionIssuer is trailIssuer remembered per key. AWS fixes a session's issuer
// when it issues the key, so once CloudTrail has named it the answer cannot
// change. That CloudTrail has no event with the key is remembered for
// trailSilence only: CloudTrail delivers events minutes after the call, so an
// answer of none from a few seconds ago is as good as a new one, and the
// revocation step that follows session-owner spends none of the account's two
// LookupEvents a second, which evidence paging also needs.
func (a *Activities) sessionIssuer(ctx context.Context, in sever.ActionInput, account string, regions []string, lookback time.Duration) (issuer, bool, error) {
	k := account + "/" + in.Credential.ID
	now := a.now()
	a.mu.Lock()
	a.initCaches()
	ans, ok := a.keyIssuers.get(k)
	a.mu.Unlock()
	if ok && (ans.found || now.Sub(ans.at) < trailSilence) {
		return ans.issuer, ans.found, nil
	}
	is, found, err := a.trailIssuer(ctx, in, account, regions, lookback)
	if err != nil {
		return is, found, err
	}
	a.mu.Lock()
	a.keyIssuers.put(k, trailAnswer{issuer: is, found: found, at: now})
	a.mu.Unlock()
	return is, found, nil
}

// trailAnswer is what CloudTrail said, at a time, about the issuer of a key.
type trailAnswer struct {
	issuer issuer
	found  bool
	at     time.Time
}

// trailSilence is how long sessionIssuer trusts CloudTrail's "no event with this
// key": well inside its delivery delay of minutes.
const trailSilence = 30 * time.Second

// trailIssuer reads the first events made with the key in each region until one names
// its issuer.
func (a *Activities) trailIssuer(ctx context.Context, in sever.ActionInput, account string, regions []string, lookback time.Duration) (issuer, bool, error) {
	start := a.now().Add(-lookback).Truncate(time.Second)
	for _, region := range a.regions(account, regions) {
		c, _, err := a.clients(ctx, in.Action, account, region)
		if err != nil {
			return issuer{}, false, err
		}
		lim := a.limiter(account, c.Region)
		p := cloudtrail.NewLookupEventsPaginator(c.CloudTrail, &cloudtrail.LookupEventsInput{
			LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyAccessKeyId, AttributeValue: aws.String(in.Credential.ID)}},
			StartTime:        aws.Time(start), MaxResults: aws.Int32(50),
		})
		for page := 0; page < sessionTrailPages && p.HasMorePages(); page++ {
			// The revocation waits on this lookup: it goes before evidence paging.
			if err := lim.Wait(ctx, true); err != nil {
				return issuer{}, false, fmt.Errorf("%s: cloudtrail:LookupEvents rate limit: %w", in.Action, err)
			}
			out, err := p.NextPage(ctx)
			if err != nil {
				return issuer{}, false, classify(in.Action, "cloudtrail:LookupEvents", fmt.Sprintf("key %s in %s %s", in.Credential.ID, account, c.Region), err)
			}
			for _, e := range out.Events {
				if is, ok := issuerFromEvent(aws.ToString(e.CloudTrailEvent), in.Credential.ID); ok {
					return is, true, nil
				}
			}
		}
	}
	return issuer{}, false, nil
}

func (t sessionTarget) values() sever.Values {
	out := sever.Values{"account": t.account, "principal_type": t.issuer.Kind, "principal": t.issuer.Name, "source": t.source}
	if t.issuer.Kind == "role" {
		out["role"] = t.issuer.Name
		out["role_arn"] = "arn:aws:iam::" + t.account + ":role/" + t.issuer.Name
	}
	if t.issuer.Session != "" {
		out["session_name"] = t.issuer.Session
	}
	// EC2 names the role session of instance credentials after the instance.
	if s := t.issuer.Session; t.issuer.Kind == "role" && strings.HasPrefix(s, "i-") && len(s) > 2 {
		out["instance_id"] = s
	}
	return out
}

// SessionOwner finds the role (or user) behind a temporary key and confirms it exists.
// It changes nothing. Verified means the issuer was found and exists.
func (a *Activities) SessionOwner(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	t, _, err := a.resolveSession(ctx, in)
	if err != nil {
		return sever.ActionResult{}, err
	}
	subject := t.subject()
	var policies []string
	if t.issuer.Kind == "role" {
		p := iam.NewListRolePoliciesPaginator(t.c.IAM, &iam.ListRolePoliciesInput{RoleName: aws.String(t.issuer.Name)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return sever.ActionResult{}, classify(in.Action, "iam:ListRolePolicies", subject, err)
			}
			policies = append(policies, page.PolicyNames...)
		}
	} else {
		p := iam.NewListUserPoliciesPaginator(t.c.IAM, &iam.ListUserPoliciesInput{UserName: aws.String(t.issuer.Name)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return sever.ActionResult{}, classify(in.Action, "iam:ListUserPolicies", subject, err)
			}
			policies = append(policies, page.PolicyNames...)
		}
	}
	out := t.values()
	out["inline_policies"] = append([]string{}, policies...)
	summary := fmt.Sprintf("temporary key %s is a session of %s (from %s)", t.keyID, subject, t.source)
	if id, ok := out["instance_id"]; ok {
		summary += fmt.Sprintf("; EC2 instance credentials of %s", id)
	}
	return sever.ActionResult{Verified: true, Actor: t.actor.ARN, Summary: summary, Output: out}, nil
}

// RevokeRoleSessions denies every session of the temporary key's issuer that was issued
// before the cut-off (when the step was first scheduled), with the AWSRevokeOlderSessions
// inline policy, and reads it back. A policy with a later cut-off is left alone.
func (a *Activities) RevokeRoleSessions(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	t, args, err := a.resolveSession(ctx, in)
	if err != nil {
		return sever.ActionResult{}, err
	}
	cutoff := a.firstScheduled(ctx).Truncate(time.Second)
	r, changed, verified, err := a.revokeOne(ctx, in.Action, t.c, t.account, t.issuer.Kind, t.issuer.Name, cutoff)
	if err != nil {
		return sever.ActionResult{}, err
	}
	out := t.values()
	out["cutoff"] = cutoff.Format(time.RFC3339)
	out["policy"] = RevokePolicyName
	if back, ok := r["cutoff"]; ok {
		out["policy_cutoff"] = back
	}
	if args.Reason != "" {
		out["reason"] = args.Reason
	}
	summary := fmt.Sprintf("sessions of %s issued before %s denied (%s) in account %s; key %s was one of them",
		t.issuer, cutoff.Format(time.RFC3339), RevokePolicyName, t.account, t.keyID)
	if !changed {
		summary = "already in place: " + summary
	}
	if !verified {
		summary += "; read-back does not show the policy"
	}
	return sever.ActionResult{Enforcement: sever.EnterpriseEnforced, Verified: verified, Actor: t.actor.ARN, Changed: changed,
		Summary: summary, Output: out}, nil
}

// DeleteRoleRevokePolicy removes AWSRevokeOlderSessions from the temporary key's issuer:
// the compensation of RevokeRoleSessions. A policy of that name that is not a session
// revocation is someone else's and is refused with ErrForbidden.
func (a *Activities) DeleteRoleRevokePolicy(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	t, args, err := a.resolveSession(ctx, in)
	if err != nil {
		return sever.ActionResult{}, err
	}
	subject := t.subject()
	get := func() (string, bool, error) {
		raw, found, err := getInline(ctx, t.c, t.issuer.Kind, t.issuer.Name)
		if err != nil {
			return "", false, classify(in.Action, "iam:Get"+cases(t.issuer.Kind)+"Policy", subject, err)
		}
		return raw, found, nil
	}
	raw, found, err := get()
	if err != nil {
		return sever.ActionResult{}, err
	}
	out := t.values()
	out["policy"] = RevokePolicyName
	if args.Reason != "" {
		out["reason"] = args.Reason
	}
	if found {
		cut, ok := revokeCutoff(raw)
		if !ok {
			return sever.ActionResult{}, activities.Permanent(activities.ErrForbidden, fmt.Sprintf(
				"%s: the %s policy on %s is not a session revocation; leaving it in place", in.Action, RevokePolicyName, subject), nil)
		}
		out["deleted_cutoff"] = cut.Format(time.RFC3339)
		err = deleteNamedInline(ctx, t.c, t.issuer.Kind, t.issuer.Name, RevokePolicyName)
		// NoSuchEntity here means an earlier attempt deleted it and lost the response.
		if err != nil && !isCode(err, "NoSuchEntity") {
			return sever.ActionResult{}, classify(in.Action, "iam:Delete"+cases(t.issuer.Kind)+"Policy", subject, err)
		}
	}
	verified, err := readBack(ctx, func() (bool, error) {
		_, found, err := get()
		return !found, err
	})
	if err != nil {
		return sever.ActionResult{}, err
	}
	summary := fmt.Sprintf("deleted %s from %s", RevokePolicyName, subject)
	if !found {
		summary = fmt.Sprintf("%s has no %s policy", subject, RevokePolicyName)
	}
	return sever.ActionResult{Enforcement: sever.EnterpriseEnforced, Verified: verified, Actor: t.actor.ARN, Changed: found,
		Summary: summary, Output: out}, nil
}

// getInline reads the AWSRevokeOlderSessions document of a user or role; found is false
// when the policy (or the principal: Put and Delete tell them apart) is missing.
func getInline(ctx context.Context, c *Clients, kind, name string) (raw string, found bool, err error) {
	return getNamedInline(ctx, c, kind, name, RevokePolicyName)
}
