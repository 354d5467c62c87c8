package awsact

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
	"github.com/sever-ir/sever/internal/iampolicy"
)

// QuarantinePolicies are the managed policies AWS attaches to a user whose key it found
// exposed. sever reports them and never detaches them.
var QuarantinePolicies = []string{
	"AWSCompromisedKeyQuarantine", "AWSCompromisedKeyQuarantineV2",
	"AWSCompromisedKeyQuarantineV3", "AWSCompromisedKeyQuarantineV4",
}

// RevokePolicyName is the inline policy that denies sessions issued before a cut-off, the
// same name the IAM console's "Revoke active sessions" uses.
const RevokePolicyName = "AWSRevokeOlderSessions"

// Key states for key_status's expect.
const (
	expectActive   = "active"
	expectInactive = "inactive"
	expectAbsent   = "absent"
)

// iamOnce sends a call that changes state exactly once per activity attempt: if its
// response is lost, the next attempt reads the state again instead of the SDK replaying
// the call blindly.
func iamOnce(o *iam.Options) { o.RetryMaxAttempts = 1 }

// KeyOwnerArgs are the arguments of aws.sts.key_owner.
type KeyOwnerArgs struct {
	// Account is the account the key is expected in; a key elsewhere fails the step.
	Account string `json:"account"`
}

// QuarantineArgs are the arguments of aws.iam.detect_vendor_quarantine.
type QuarantineArgs struct {
	Account string `json:"account"`
	User    string `json:"user"`
}

// KeyChangeArgs are the arguments of aws.iam.deactivate_access_key and activate_access_key.
type KeyChangeArgs struct {
	Account string `json:"account"`
	User    string `json:"user"`
	Reason  string `json:"reason"`
}

// DeleteKeyArgs are the arguments of aws.iam.delete_access_key.
type DeleteKeyArgs struct {
	Account string `json:"account"`
	User    string `json:"user"`
	// Secrets names the Secrets Manager secrets that held the key, instead of the
	// inventory; each must show a value set after the exposure. An empty list is a
	// statement that no secret held it.
	Secrets *[]string `json:"secrets"`
	Reason  string    `json:"reason"`
}

// KeyStatusArgs are the arguments of aws.iam.key_status.
type KeyStatusArgs struct {
	Account string `json:"account"`
	User    string `json:"user"`
	Expect  string `json:"expect"`
}

// RevokeArgs are the arguments of aws.iam.revoke_sessions. Without users and roles, the
// key's own user is the target.
type RevokeArgs struct {
	Account string   `json:"account"`
	Users   []string `json:"users"`
	Roles   []string `json:"roles"`
}

// keyTarget is an access key resolved to its account, user and the clients to reach it.
type keyTarget struct {
	c       *Clients
	actor   identity
	account string
	user    string
	keyID   string
}

func (t keyTarget) String() string {
	return fmt.Sprintf("key %s of user %s in account %s", t.keyID, t.user, t.account)
}

// resolveKey finds the key's account and user from AWS: the account with
// sts:GetAccessKeyInfo and the user with iam:GetAccessKeyLastUsed, which names the
// key's owner. What the signal or the step supplies (an account, the credential's
// principal, a user argument) is checked against them, never used in their place: a
// signal naming another user would otherwise have sever deny that user's sessions.
// A contradiction refuses the action with ErrIdentityMismatch.
func (a *Activities) resolveKey(ctx context.Context, in sever.ActionInput, account, user string) (keyTarget, error) {
	t, gone, err := a.resolveKeyOrGone(ctx, in, account, user)
	if err == nil && gone {
		err = activities.Permanent(activities.ErrNotFound,
			fmt.Sprintf("%s: iam:GetAccessKeyLastUsed key %s: no such key in account %s", in.Action, t.keyID, t.account), nil)
	}
	return t, err
}

// decodeKey decodes in's arguments into args, then resolves the key with the
// account and user they name: those point into args, so they are read once it is
// decoded.
func (a *Activities) decodeKey(ctx context.Context, in sever.ActionInput, args any, account, user *string) (keyTarget, error) {
	if err := activities.DecodeArgs(in.Action, in.Args, args); err != nil {
		return keyTarget{}, err
	}
	return a.resolveKey(ctx, in, *account, *user)
}

// resolveKeyOrGone is resolveKey for callers to whom a key that no longer exists is an
// answer, not an error: gone is true when GetAccessKeyLastUsed no longer knows the key
// and the worker does not remember its owner. t.user is then the supplied user, if
// any, for the record only: nothing is done to it.
func (a *Activities) resolveKeyOrGone(ctx context.Context, in sever.ActionInput, account, user string) (t keyTarget, gone bool, err error) {
	if err := checkType(in); err != nil {
		return keyTarget{}, false, err
	}
	account, err = a.keyAccount(ctx, in, account)
	if err != nil {
		return keyTarget{}, false, err
	}
	c, id, err := a.clients(ctx, in.Action, account, "")
	if err != nil {
		return keyTarget{}, false, err
	}
	t = keyTarget{c: c, actor: id, account: account, keyID: in.Credential.ID}
	supplied := []struct{ from, v string }{
		{"the step's user argument", user},
		{"the signal's credential principal", principalUser(in.Credential.Principal)},
	}
	a.mu.Lock()
	a.initCaches()
	owner, known := a.keyUsers.get(t.keyID)
	a.mu.Unlock()
	if !known {
		out, err := c.IAM.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(t.keyID)})
		if isCode(err, "NoSuchEntity") {
			t.user = cmp(user, principalUser(in.Credential.Principal))
			return t, true, nil
		}
		if err != nil {
			return keyTarget{}, false, classify(in.Action, "iam:GetAccessKeyLastUsed", "key "+t.keyID, err)
		}
		if owner = aws.ToString(out.UserName); owner == "" {
			return keyTarget{}, false, activities.Permanent(activities.ErrNotFound,
				fmt.Sprintf("%s: key %s has no IAM user in account %s", in.Action, t.keyID, account), nil)
		}
		// Remembered so that a retry after the key is deleted still knows whose it was.
		a.mu.Lock()
		a.keyUsers.put(t.keyID, owner)
		a.mu.Unlock()
	}
	// IAM user names are unique regardless of case.
	for _, s := range supplied {
		if s.v != "" && !strings.EqualFold(s.v, owner) {
			return keyTarget{}, false, activities.Permanent(ErrIdentityMismatch, fmt.Sprintf(
				"%s: key %s belongs to user %s in account %s (iam:GetAccessKeyLastUsed), but %s names user %s; refusing to act on a contradicted identity",
				in.Action, t.keyID, owner, account, s.from, s.v), nil)
		}
	}
	t.user = owner
	return t, false, nil
}

// keyMeta reads the key from the user's key list; found is false when the user has no
// such key (never had it, or it was deleted).
func (a *Activities) keyMeta(ctx context.Context, action string, t keyTarget) (meta iamtypes.AccessKeyMetadata, found bool, err error) {
	p := iam.NewListAccessKeysPaginator(t.c.IAM, &iam.ListAccessKeysInput{UserName: aws.String(t.user)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return meta, false, classify(action, "iam:ListAccessKeys", "user "+t.user+" in account "+t.account, err)
		}
		for _, k := range page.AccessKeyMetadata {
			if aws.ToString(k.AccessKeyId) == t.keyID {
				return k, true, nil
			}
		}
	}
	return meta, false, nil
}

func notAKey(action string, t keyTarget) error {
	return activities.Permanent(activities.ErrNotFound,
		fmt.Sprintf("%s: key %s is not a key of user %s in account %s", action, t.keyID, t.user, t.account), nil)
}

// readBack polls until check reports the desired state or the tries run out: IAM is
// eventually consistent, and a change can take a moment to show in reads.
func readBack(ctx context.Context, check func() (bool, error)) (bool, error) {
	delay := 200 * time.Millisecond
	for try := 0; ; try++ {
		ok, err := check()
		if err != nil || ok || try == 4 {
			return ok, err
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// KeyOwner confirms that a reported key is one sever can act on: sts:GetAccessKeyInfo
// names its account (which must be one sever acts in), and iam:GetAccessKeyLastUsed its
// user. Verified means ownership is confirmed.
func (a *Activities) KeyOwner(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args KeyOwnerArgs
	if err := activities.DecodeArgs(in.Action, in.Args, &args); err != nil {
		return sever.ActionResult{}, err
	}
	if err := checkType(in); err != nil {
		return sever.ActionResult{}, err
	}
	keyID := in.Credential.ID
	home, err := a.Clients.Clients(ctx, "", "")
	if err != nil {
		return sever.ActionResult{}, fmt.Errorf("%s: ambient credentials: %w", in.Action, err)
	}
	info, err := home.STS.GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(keyID)})
	if err != nil {
		return sever.ActionResult{}, classify(in.Action, "sts:GetAccessKeyInfo", "key "+keyID, err)
	}
	account := aws.ToString(info.Account)
	if args.Account != "" && args.Account != account {
		return sever.ActionResult{}, activities.Permanent(activities.ErrNotFound,
			fmt.Sprintf("%s: key %s belongs to account %s, not %s", in.Action, keyID, account, args.Account), nil)
	}
	ours, err := a.ours(ctx, in.Action, account)
	if err != nil {
		return sever.ActionResult{}, err
	}
	if !ours {
		return sever.ActionResult{}, activities.Permanent(activities.ErrNotFound, fmt.Sprintf(
			"%s: key %s belongs to account %s, which sever does not act in (add it to aws.accounts)", in.Action, keyID, account), nil)
	}
	c, id, err := a.clients(ctx, in.Action, account, "")
	if err != nil {
		return sever.ActionResult{}, err
	}
	used, err := c.IAM.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(keyID)})
	if err != nil {
		return sever.ActionResult{}, classify(in.Action, "iam:GetAccessKeyLastUsed", "key "+keyID, err)
	}
	user := aws.ToString(used.UserName)
	if user == "" {
		return sever.ActionResult{}, activities.Permanent(activities.ErrNotFound,
			fmt.Sprintf("%s: key %s has no IAM user in account %s", in.Action, keyID, account), nil)
	}
	t := keyTarget{c: c, actor: id, account: account, user: user, keyID: keyID}
	meta, found, err := a.keyMeta(ctx, in.Action, t)
	if err != nil {
		return sever.ActionResult{}, err
	}
	if !found {
		return sever.ActionResult{}, notAKey(in.Action, t)
	}
	out := sever.Values{"account": account, "user": user, "status": string(meta.Status)}
	if meta.CreateDate != nil {
		out["created_at"] = meta.CreateDate.UTC().Format(time.RFC3339)
	}
	if lu := used.AccessKeyLastUsed; lu != nil {
		if lu.LastUsedDate != nil {
			out["last_used_at"] = lu.LastUsedDate.UTC().Format(time.RFC3339)
		}
		out["last_used_service"] = aws.ToString(lu.ServiceName)
		out["last_used_region"] = aws.ToString(lu.Region)
	}
	summary := fmt.Sprintf("key %s belongs to user %s in account %s and is %s", keyID, user, account, meta.Status)
	if p := principalUser(in.Credential.Principal); p != "" && p != user {
		out["reported_principal"] = in.Credential.Principal
		summary += fmt.Sprintf(" (the signal named %s)", in.Credential.Principal)
	}
	if acct := in.Credential.Account; acct != "" && acct != account {
		out["reported_account"] = acct
		summary += fmt.Sprintf(" (the signal named account %s)", acct)
	}
	return sever.ActionResult{Verified: true, Actor: id.ARN, Summary: summary, Output: out}, nil
}

// DetectVendorQuarantine observes whether AWS attached one of its quarantine policies to
// the key's user. AWS is the actor of record for that; sever only looked.
func (a *Activities) DetectVendorQuarantine(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args QuarantineArgs
	t, err := a.decodeKey(ctx, in, &args, &args.Account, &args.User)
	if err != nil {
		return sever.ActionResult{}, err
	}
	var found []string
	p := iam.NewListAttachedUserPoliciesPaginator(t.c.IAM, &iam.ListAttachedUserPoliciesInput{UserName: aws.String(t.user)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return sever.ActionResult{}, classify(in.Action, "iam:ListAttachedUserPolicies", "user "+t.user+" in account "+t.account, err)
		}
		for _, pol := range page.AttachedPolicies {
			name := aws.ToString(pol.PolicyName)
			if name == "" {
				name = aws.ToString(pol.PolicyArn)[strings.LastIndex(aws.ToString(pol.PolicyArn), "/")+1:]
			}
			// Only AWS-managed copies count; a customer policy of the same name is not AWS acting.
			if slices.Contains(QuarantinePolicies, name) && (pol.PolicyArn == nil || strings.Contains(aws.ToString(pol.PolicyArn), ":iam::aws:policy/")) {
				found = append(found, name)
			}
		}
	}
	out := sever.Values{"account": t.account, "user": t.user, "quarantine_policies": found}
	if len(found) == 0 {
		out["quarantine_policies"] = []string{}
		return sever.ActionResult{Actor: t.actor.ARN, Output: out,
			Summary: fmt.Sprintf("no AWS quarantine policy observed on user %s (account %s)", t.user, t.account)}, nil
	}
	return sever.ActionResult{Enforcement: sever.VendorEnforced, Verified: true, Actor: VendorActor, Output: out,
		Summary: fmt.Sprintf("AWS attached %s to user %s (account %s); observed, left in place", strings.Join(found, ", "), t.user, t.account)}, nil
}

// DeactivateAccessKey sets the key Inactive: reversible, and the containment of record.
func (a *Activities) DeactivateAccessKey(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	return a.setKeyStatus(ctx, in, iamtypes.StatusTypeInactive)
}

// ActivateAccessKey sets the key Active again; the compensation of DeactivateAccessKey.
func (a *Activities) ActivateAccessKey(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	return a.setKeyStatus(ctx, in, iamtypes.StatusTypeActive)
}

func (a *Activities) setKeyStatus(ctx context.Context, in sever.ActionInput, want iamtypes.StatusType) (sever.ActionResult, error) {
	var args KeyChangeArgs
	t, err := a.decodeKey(ctx, in, &args, &args.Account, &args.User)
	if err != nil {
		return sever.ActionResult{}, err
	}
	before, found, err := a.keyMeta(ctx, in.Action, t)
	if err != nil {
		return sever.ActionResult{}, err
	}
	if !found {
		return sever.ActionResult{}, notAKey(in.Action, t)
	}
	return statusChange{action: in.Action, op: "iam:UpdateAccessKey", what: t, actor: t.actor.ARN,
		before: before.Status, want: want, reason: args.Reason,
		update: func() error {
			_, err := t.c.IAM.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
				AccessKeyId: aws.String(t.keyID), UserName: aws.String(t.user), Status: want}, iamOnce)
			return err
		},
		read: func() (iamtypes.StatusType, bool, error) {
			m, found, err := a.keyMeta(ctx, in.Action+" read-back", t)
			return m.Status, found, err
		},
		facts: func(after iamtypes.StatusType) sever.Values {
			return sever.Values{"account": t.account, "user": t.user, "status": string(after)}
		},
	}.run(ctx)
}

// KeyStatus reads the key's status; verified when it is what Expect says.
func (a *Activities) KeyStatus(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args KeyStatusArgs
	if err := activities.DecodeArgs(in.Action, in.Args, &args); err != nil {
		return sever.ActionResult{}, err
	}
	if args.Expect == "" {
		args.Expect = expectInactive
	}
	if !slices.Contains([]string{expectActive, expectInactive, expectAbsent}, args.Expect) {
		return sever.ActionResult{}, activities.Permanent(activities.ErrInvalidArgument,
			fmt.Sprintf("%s: expect %q: want active, inactive or absent", in.Action, args.Expect), nil)
	}
	t, gone, err := a.resolveKeyOrGone(ctx, in, args.Account, args.User)
	if err != nil {
		return sever.ActionResult{}, err
	}
	if gone && args.Expect != expectAbsent {
		_, err := a.resolveKey(ctx, in, args.Account, args.User)
		return sever.ActionResult{}, err
	}
	meta, found, err := a.keyMetaUnlessGone(ctx, in.Action, t, gone)
	if err != nil {
		return sever.ActionResult{}, err
	}
	status := expectAbsent
	if found {
		status = strings.ToLower(string(meta.Status))
	} else if args.Expect != expectAbsent {
		return sever.ActionResult{}, notAKey(in.Action, t)
	}
	return sever.ActionResult{Verified: status == args.Expect, Actor: t.actor.ARN,
		Summary: fmt.Sprintf("%s is %s (expected %s)", t, status, args.Expect),
		Output:  sever.Values{"account": t.account, "user": t.user, "status": status}}, nil
}

// statusChange sets a status IAM holds (an access key's, a service-specific
// credential's) to want, unless before already is want, and reads it back. Both
// share it so that they stay idempotent and verified alike.
type statusChange struct {
	action, op string       // the action and the IAM call of update, for errors
	what       fmt.Stringer // the credential, for errors and the summary
	actor      string
	before     iamtypes.StatusType
	want       iamtypes.StatusType
	reason     string
	update     func() error                              // the IAM call; its error is classified here
	read       func() (iamtypes.StatusType, bool, error) // the read-back: status, found
	facts      func(after iamtypes.StatusType) sever.Values
}

// run applies c and reads it back, polling as readBack does; verified when the
// read-back shows want.
func (c statusChange) run(ctx context.Context) (sever.ActionResult, error) {
	changed := c.before != c.want
	if changed {
		if err := c.update(); err != nil {
			return sever.ActionResult{}, classify(c.action, c.op, c.what.String(), err)
		}
	}
	var after iamtypes.StatusType
	verified, err := readBack(ctx, func() (bool, error) {
		status, found, err := c.read()
		after = status
		return found && status == c.want, err
	})
	if err != nil {
		return sever.ActionResult{}, err
	}
	summary := fmt.Sprintf("set %s %s", c.what, c.want)
	if !changed {
		summary = fmt.Sprintf("%s was already %s", c.what, c.want)
	}
	if !verified {
		summary += fmt.Sprintf("; read-back shows %q", after)
	}
	out := c.facts(after)
	out["previous_status"] = string(c.before)
	if c.reason != "" {
		out["reason"] = c.reason
	}
	return sever.ActionResult{Enforcement: sever.EnterpriseEnforced, Verified: verified, Actor: c.actor,
		Summary: summary, Changed: changed, Output: out}, nil
}

// keyMetaUnlessGone is keyMeta of a key resolveKeyOrGone found, not found when it
// is gone.
func (a *Activities) keyMetaUnlessGone(ctx context.Context, action string, t keyTarget, gone bool) (iamtypes.AccessKeyMetadata, bool, error) {
	if gone {
		return iamtypes.AccessKeyMetadata{}, false, nil
	}
	return a.keyMeta(ctx, action, t)
}

// DeleteAccessKey deletes the key for good. Deleting a key that a secret still holds
// breaks whatever reads that secret, and an active key may still be the only thing a
// service works with, so it refuses unless the key is inactive and every dependent
// secret has a value set after the exposure that no longer holds the key.
func (a *Activities) DeleteAccessKey(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args DeleteKeyArgs
	if err := activities.DecodeArgs(in.Action, in.Args, &args); err != nil {
		return sever.ActionResult{}, err
	}
	t, gone, err := a.resolveKeyOrGone(ctx, in, args.Account, args.User)
	if err != nil {
		return sever.ActionResult{}, err
	}
	meta, found, err := a.keyMetaUnlessGone(ctx, in.Action, t, gone)
	if err != nil {
		return sever.ActionResult{}, err
	}
	out := sever.Values{"account": t.account, "user": t.user}
	if !found {
		out["status"] = expectAbsent
		return sever.ActionResult{Enforcement: sever.EnterpriseEnforced, Verified: true, Actor: t.actor.ARN, Output: out,
			Summary: fmt.Sprintf("key %s no longer exists in account %s", t.keyID, t.account)}, nil
	}
	if meta.Status != iamtypes.StatusTypeInactive {
		return sever.ActionResult{}, activities.Permanent(activities.ErrForbidden, fmt.Sprintf(
			"%s: %s is %s; deactivate it first (%s)", in.Action, t, meta.Status, sever.ActionAWSDeactivateKey), nil)
	}
	checked, err := a.checkRotated(ctx, in, args.Secrets, t.account, t.keyID)
	if err != nil {
		return sever.ActionResult{}, err
	}
	out["secrets_checked"] = checked
	_, err = t.c.IAM.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{AccessKeyId: aws.String(t.keyID), UserName: aws.String(t.user)}, iamOnce)
	// NoSuchEntity here means an earlier attempt deleted it and lost the response.
	if err != nil && !isCode(err, "NoSuchEntity") {
		return sever.ActionResult{}, classify(in.Action, "iam:DeleteAccessKey", t.String(), err)
	}
	verified, err := readBack(ctx, func() (bool, error) {
		_, found, err := a.keyMeta(ctx, in.Action+" read-back", t)
		return !found, err
	})
	if err != nil {
		return sever.ActionResult{}, err
	}
	out["status"] = expectAbsent
	if !verified {
		out["status"] = "present"
	}
	if args.Reason != "" {
		out["reason"] = args.Reason
	}
	return sever.ActionResult{Enforcement: sever.EnterpriseEnforced, Verified: verified, Actor: t.actor.ARN, Changed: true,
		Output: out, Summary: fmt.Sprintf("deleted %s after %s showed rotation", t, plural(len(checked), "dependent secret"))}, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// RevokeSessions puts the AWSRevokeOlderSessions inline policy on each target: deny
// everything to sessions whose token was issued before the cut-off. The cut-off is when
// the step was first scheduled, so every retry writes the same document, and a policy
// already there with a later cut-off is left alone.
func (a *Activities) RevokeSessions(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args RevokeArgs
	if err := activities.DecodeArgs(in.Action, in.Args, &args); err != nil {
		return sever.ActionResult{}, err
	}
	type target struct{ kind, name string }
	var targets []target
	var c *Clients
	var actor identity
	var account string
	if len(args.Users) == 0 && len(args.Roles) == 0 {
		t, err := a.resolveKey(ctx, in, args.Account, "")
		if err != nil {
			return sever.ActionResult{}, err
		}
		c, actor, account = t.c, t.actor, t.account
		targets = append(targets, target{"user", t.user})
	} else {
		if err := checkType(in); err != nil {
			return sever.ActionResult{}, err
		}
		var err error
		if account, err = a.keyAccount(ctx, in, args.Account); err != nil {
			return sever.ActionResult{}, err
		}
		if c, actor, err = a.clients(ctx, in.Action, account, ""); err != nil {
			return sever.ActionResult{}, err
		}
		for _, u := range args.Users {
			targets = append(targets, target{"user", u})
		}
		for _, r := range args.Roles {
			targets = append(targets, target{"role", r})
		}
	}
	cutoff := a.firstScheduled(ctx).Truncate(time.Second)
	var results []sever.Values
	changed, verified := false, true
	for _, tg := range targets {
		r, put, ok, err := a.revokeOne(ctx, in.Action, c, account, tg.kind, tg.name, cutoff)
		if err != nil {
			return sever.ActionResult{}, err
		}
		changed = changed || put
		verified = verified && ok
		results = append(results, r)
	}
	names := make([]string, len(targets))
	for i, tg := range targets {
		names[i] = tg.kind + " " + tg.name
	}
	summary := fmt.Sprintf("sessions issued before %s denied for %s in account %s", cutoff.Format(time.RFC3339), strings.Join(names, ", "), account)
	if !changed {
		summary = "already in place: " + summary
	}
	return sever.ActionResult{Enforcement: sever.EnterpriseEnforced, Verified: verified, Actor: actor.ARN, Changed: changed,
		Summary: summary, Output: sever.Values{"account": account, "cutoff": cutoff.Format(time.RFC3339), "principals": results}}, nil
}

// revokeOne puts AWSRevokeOlderSessions with the cut-off on one user or role unless a
// revocation with the same or a later cut-off is already there, and reads it back.
func (a *Activities) revokeOne(ctx context.Context, action string, c *Clients, account, kind, name string, cutoff time.Time) (r sever.Values, changed, verified bool, err error) {
	doc, err := revokeDocument(cutoff)
	if err != nil {
		return nil, false, false, err
	}
	subject := fmt.Sprintf("%s %s in account %s", kind, name, account)
	get := func() (time.Time, bool, error) {
		raw, found, err := getInline(ctx, c, kind, name)
		if err != nil {
			return time.Time{}, false, classify(action, "iam:Get"+cases(kind)+"Policy", subject, err)
		}
		if !found {
			return time.Time{}, false, nil
		}
		t, ok := revokeCutoff(raw)
		return t, ok, nil
	}
	existing, ok, err := get()
	if err != nil {
		return nil, false, false, err
	}
	put := !ok || existing.Before(cutoff)
	if put {
		if err := putNamedInline(ctx, c, kind, name, RevokePolicyName, doc); err != nil {
			return nil, false, false, classify(action, "iam:Put"+cases(kind)+"Policy", subject, err)
		}
	}
	var back time.Time
	ok, err = readBack(ctx, func() (bool, error) {
		t, ok, err := get()
		back = t
		return ok && !t.Before(cutoff), err
	})
	if err != nil {
		return nil, false, false, err
	}
	r = sever.Values{"type": kind, "name": name, "changed": put, "verified": ok}
	if !back.IsZero() {
		r["cutoff"] = back.Format(time.RFC3339)
	}
	return r, put, ok, nil
}

func cases(kind string) string {
	if kind == "user" {
		return "User"
	}
	return "Role"
}

// policyDocument is the part of an IAM policy document revoke_sessions reads and writes.
type policyDocument struct {
	Version   string            `json:"Version"`
	Statement []policyStatement `json:"Statement"`
}

type policyStatement struct {
	Effect    string                       `json:"Effect"`
	Action    iampolicy.StringList         `json:"Action"`
	Resource  iampolicy.StringList         `json:"Resource"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
	// Read only to disqualify a statement: with any of these next to Action or
	// Resource, a statement that looks like sever's deny may match nothing.
	NotAction    json.RawMessage `json:"NotAction,omitempty"`
	NotResource  json.RawMessage `json:"NotResource,omitempty"`
	Principal    json.RawMessage `json:"Principal,omitempty"`
	NotPrincipal json.RawMessage `json:"NotPrincipal,omitempty"`
}

// plain reports whether a statement has none of the elements that narrow or invert
// what its Action and Resource say.
func (s policyStatement) plain() bool {
	return s.NotAction == nil && s.NotResource == nil && s.Principal == nil && s.NotPrincipal == nil
}

func revokeDocument(cutoff time.Time) (string, error) {
	b, err := json.Marshal(policyDocument{Version: "2012-10-17", Statement: []policyStatement{{
		Effect: "Deny", Action: iampolicy.StringList{"*"}, Resource: iampolicy.StringList{"*"},
		Condition: map[string]map[string]string{"DateLessThan": {"aws:TokenIssueTime": cutoff.UTC().Format(time.RFC3339)}},
	}}})
	if err != nil {
		return "", fmt.Errorf("revoke policy: %w", err)
	}
	return string(b), nil
}

// policyStatements reads the statements of an inline policy document, which IAM
// returns URL-encoded (RFC 3986); a single statement may stand without a list.
// ok is false when raw is no policy document.
func policyStatements(raw string) (stmts []policyStatement, ok bool) {
	if dec, err := url.PathUnescape(raw); err == nil && strings.HasPrefix(strings.TrimSpace(raw), "%") {
		raw = dec
	}
	var doc struct {
		Statement json.RawMessage `json:"Statement"`
	}
	if json.Unmarshal([]byte(raw), &doc) != nil {
		return nil, false
	}
	if json.Unmarshal(doc.Statement, &stmts) != nil {
		var one policyStatement
		if json.Unmarshal(doc.Statement, &one) != nil {
			return nil, false
		}
		stmts = []policyStatement{one}
	}
	return stmts, true
}

// revokeCutoff returns the cut-off of a revoke policy that denies everything, or false
// when the document is anything else (then it does not count as revocation and is
// replaced). IAM applies a Deny only when every condition on it holds, so a statement
// counts only when its one condition is the token-issue-time cut-off, with Effect,
// Action and Resource as AWS's own revoke policy has them: anything more (a condition
// that never holds, NotAction, NotResource) can neutralise the deny while keeping a
// far-future cut-off.
func revokeCutoff(raw string) (time.Time, bool) {
	stmts, ok := policyStatements(raw)
	if !ok {
		return time.Time{}, false
	}
	var best time.Time
	for _, s := range stmts {
		if s.Effect != "Deny" || !slices.Equal(s.Action, iampolicy.StringList{"*"}) ||
			!slices.Equal(s.Resource, iampolicy.StringList{"*"}) || !s.plain() || len(s.Condition) != 1 {
			continue
		}
		op := s.Condition["DateLessThan"]
		if len(op) != 1 {
			continue
		}
		v, ok := op["aws:TokenIssueTime"]
		if !ok {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err == nil && t.After(best) {
			best = t
		}
	}
	return best, !best.IsZero()
}
