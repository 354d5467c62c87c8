package awsact

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
	"github.com/sever-ir/sever/internal/iampolicy"
)

// Amazon Bedrock API keys come in two kinds, told apart by the credential id of an
// aws_bedrock_api_key incident. Neither id is the key: the key is a bearer secret and
// never reaches sever.
//
//   - Long-term keys are IAM service-specific credentials of a user (the console makes
//     a user named BedrockAPIKey-…). The id is the credential's
//     ServiceSpecificCredentialId (ACCA…); they are contained by setting the credential
//     Inactive, reversibly.
//   - Short-term keys (the secret starts "bedrock-api-key-") are presigned with the
//     credentials of the identity that minted them and live at most 12 hours; IAM has no
//     record of them. The id is ShortTermKeyPrefix followed by the ARN of that identity
//     (the signal's principal names the same ARN). They are contained on the identity:
//     a Deny of bedrock:CallWithBearerToken, and for role sessions AWSRevokeOlderSessions.
const (
	// BedrockServiceName is the IAM service name of Bedrock API keys.
	BedrockServiceName = "bedrock.amazonaws.com"
	// ShortTermKeyPrefix starts the credential id of a short-term Bedrock API key.
	ShortTermKeyPrefix = "short-term:"
	// BearerDenyPolicyName is the inline policy that denies bedrock:CallWithBearerToken.
	BearerDenyPolicyName = "SeverDenyBedrockBearerTokens"
	// bearerAction authorises every call made with a Bedrock API key.
	bearerAction = "bedrock:CallWithBearerToken"
)

// secretKeyPrefixes start Bedrock API keys themselves: a credential id that starts
// with one is a leaked secret passed where its id belongs, refused without echoing it.
var secretKeyPrefixes = []string{"bedrock-api-key-", "ABSK"}

// BedrockKeyArgs are the arguments of the Bedrock API key actions.
type BedrockKeyArgs struct {
	Account string `json:"account"`
	User    string `json:"user"`
	Reason  string `json:"reason"`
}

// bedrockKey is a Bedrock API key resolved to what contains it.
type bedrockKey struct {
	c       *Clients
	actor   identity
	account string
	// Long-term keys.
	credID string
	user   string
	status iamtypes.StatusType
	// Short-term keys: the identity that minted them.
	minter issuer
}

func (k bedrockKey) shortTerm() bool { return k.credID == "" }

func (k bedrockKey) String() string {
	if k.shortTerm() {
		return fmt.Sprintf("short-term Bedrock API keys of %s in account %s", k.minter, k.account)
	}
	return fmt.Sprintf("Bedrock API key %s of user %s in account %s", k.credID, k.user, k.account)
}

func (k bedrockKey) values() sever.Values {
	out := sever.Values{"account": k.account}
	if k.shortTerm() {
		out["key_kind"] = "short_term"
		out["principal_type"], out["principal"] = k.minter.Kind, k.minter.Name
		return out
	}
	out["key_kind"] = "long_term"
	out["user"], out["credential_id"] = k.user, k.credID
	if k.status != "" {
		out["status"] = string(k.status)
	}
	return out
}

// parseBedrockKeyID checks the credential of a Bedrock action and returns, for a
// short-term key, the identity that minted it.
func parseBedrockKeyID(in sever.ActionInput) (minter issuer, shortTerm bool, err error) {
	if in.Credential.Type != sever.CredAWSBedrockAPIKey {
		return issuer{}, false, activities.Permanent(activities.ErrUnsupported, fmt.Sprintf("%s: credential type %s is not a Bedrock API key (want %s)",
			in.Action, in.Credential.Type, sever.CredAWSBedrockAPIKey), nil)
	}
	id := strings.TrimSpace(in.Credential.ID)
	for _, p := range secretKeyPrefixes {
		if strings.HasPrefix(id, p) {
			// Never echo it: this is the key itself.
			return issuer{}, false, activities.Permanent(activities.ErrInvalidArgument, fmt.Sprintf(
				"%s: the credential id is a Bedrock API key itself (it starts %q), a secret; send the ServiceSpecificCredentialId (ACCA…) of a long-term key, or %s<ARN of the minting identity> for a short-term one",
				in.Action, p, ShortTermKeyPrefix), nil)
		}
	}
	if arn, ok := strings.CutPrefix(id, ShortTermKeyPrefix); ok {
		is, ok := issuerFromPrincipal(arn)
		if !ok {
			return issuer{}, false, activities.Permanent(activities.ErrInvalidArgument, fmt.Sprintf(
				"%s: credential id %q names no IAM role, assumed role or user ARN after %q", in.Action, id, ShortTermKeyPrefix), nil)
		}
		if p := in.Credential.Principal; p != "" && p != arn {
			return issuer{}, false, activities.Permanent(ErrIdentityMismatch, fmt.Sprintf(
				"%s: credential id names minting identity %s but the signal's principal is %s; refusing to act on a contradicted identity", in.Action, arn, p), nil)
		}
		return is, true, nil
	}
	if !strings.HasPrefix(id, "ACCA") {
		return issuer{}, false, activities.Permanent(activities.ErrInvalidArgument, fmt.Sprintf(
			"%s: credential id %q is neither a service-specific credential id (ACCA…) nor %s<ARN>", in.Action, id, ShortTermKeyPrefix), nil)
	}
	return issuer{}, false, nil
}

// bedrockAccount is the account a Bedrock key is contained in. There is no
// GetAccessKeyInfo for these ids, so the step's argument, the signal's account and
// its principal's ARN must agree; with none of them, sever's own account.
func bedrockAccount(in sever.ActionInput, explicit, minterARN string) (string, error) {
	acct := ""
	for _, s := range []struct{ from, v string }{
		{"the step's account argument", explicit},
		{"the signal's credential account", in.Credential.Account},
		{"the signal's principal ARN", arnAccount(in.Credential.Principal)},
		{"the credential id's ARN", arnAccount(minterARN)},
	} {
		switch {
		case s.v == "":
		case acct == "":
			acct = s.v
		case s.v != acct:
			return "", activities.Permanent(ErrIdentityMismatch, fmt.Sprintf(
				"%s: %s names account %s but another source names %s; refusing to act on a contradicted identity", in.Action, s.from, s.v, acct), nil)
		}
	}
	return acct, nil
}

// bedrockKeyOf decodes a Bedrock key action's arguments and resolves the key they
// and the signal name.
func (a *Activities) bedrockKeyOf(ctx context.Context, in sever.ActionInput) (BedrockKeyArgs, bedrockKey, error) {
	var args BedrockKeyArgs
	if err := activities.DecodeArgs(in.Action, in.Args, &args); err != nil {
		return args, bedrockKey{}, err
	}
	k, err := a.resolveBedrockKey(ctx, in, args)
	return args, k, err
}

// resolveBedrockKey finds the user and status of a long-term key (IAM's answer; a
// user named by the step or the signal that IAM contradicts is refused with
// ErrIdentityMismatch), or the minting identity of short-term keys.
func (a *Activities) resolveBedrockKey(ctx context.Context, in sever.ActionInput, args BedrockKeyArgs) (bedrockKey, error) {
	minter, short, err := parseBedrockKeyID(in)
	if err != nil {
		return bedrockKey{}, err
	}
	minterARN := ""
	if short {
		minterARN = strings.TrimPrefix(strings.TrimSpace(in.Credential.ID), ShortTermKeyPrefix)
	}
	account, err := bedrockAccount(in, args.Account, minterARN)
	if err != nil {
		return bedrockKey{}, err
	}
	c, id, err := a.clients(ctx, in.Action, account, "")
	if err != nil {
		return bedrockKey{}, err
	}
	k := bedrockKey{c: c, actor: id, account: id.Account}
	if short {
		k.minter = minter
		return k, nil
	}
	k.credID = strings.TrimSpace(in.Credential.ID)
	meta, found, err := findServiceCred(ctx, in.Action, c, "", k.credID, k.account)
	if err != nil {
		return bedrockKey{}, err
	}
	if !found {
		return bedrockKey{}, activities.Permanent(activities.ErrNotFound, fmt.Sprintf(
			"%s: no Bedrock service-specific credential %s in account %s", in.Action, k.credID, k.account), nil)
	}
	k.user, k.status = aws.ToString(meta.UserName), meta.Status
	for _, s := range []struct{ from, v string }{
		{"the step's user argument", args.User},
		{"the signal's principal", principalUser(in.Credential.Principal)},
	} {
		if s.v != "" && s.v != k.user {
			return bedrockKey{}, activities.Permanent(ErrIdentityMismatch, fmt.Sprintf(
				"%s: IAM lists credential %s under user %s, but %s names user %s; refusing to act on a contradicted identity",
				in.Action, k.credID, k.user, s.from, s.v), nil)
		}
	}
	return k, nil
}

// findServiceCred lists the Bedrock credentials of user (every user's when "") and
// returns the one with id.
func findServiceCred(ctx context.Context, action string, c *Clients, user, id, account string) (iamtypes.ServiceSpecificCredentialMetadata, bool, error) {
	in := &iam.ListServiceSpecificCredentialsInput{ServiceName: aws.String(BedrockServiceName)}
	subject := "every user in account " + account
	if user == "" {
		in.AllUsers = aws.Bool(true)
	} else {
		in.UserName = aws.String(user)
		subject = fmt.Sprintf("user %s in account %s", user, account)
	}
	for {
		out, err := c.IAM.ListServiceSpecificCredentials(ctx, in)
		if err != nil {
			return iamtypes.ServiceSpecificCredentialMetadata{}, false, classify(action, "iam:ListServiceSpecificCredentials", subject, err)
		}
		for _, m := range out.ServiceSpecificCredentials {
			if aws.ToString(m.ServiceSpecificCredentialId) == id {
				return m, true, nil
			}
		}
		if !out.IsTruncated || aws.ToString(out.Marker) == "" {
			return iamtypes.ServiceSpecificCredentialMetadata{}, false, nil
		}
		in.Marker = out.Marker
	}
}

// ServiceCredentialOwner finds who a Bedrock API key belongs to and changes nothing:
// the user and status of a long-term key, or that the identity that minted short-term
// keys exists. Verified means IAM confirmed it.
func (a *Activities) ServiceCredentialOwner(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	_, k, err := a.bedrockKeyOf(ctx, in)
	if err != nil {
		return sever.ActionResult{}, err
	}
	if k.shortTerm() {
		// The identity must exist for a deny on it to mean anything.
		var err error
		if k.minter.Kind == "role" {
			_, err = k.c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(k.minter.Name)})
		} else {
			_, err = k.c.IAM.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(k.minter.Name)})
		}
		if err != nil {
			return sever.ActionResult{}, classify(in.Action, "iam:Get"+cases(k.minter.Kind), fmt.Sprintf("%s in account %s", k.minter, k.account), err)
		}
	}
	return sever.ActionResult{Verified: true, Actor: k.actor.ARN, Summary: k.String() + " found", Output: k.values()}, nil
}

// DeactivateServiceCredential sets a long-term Bedrock API key Inactive and reads it
// back. Short-term keys have no IAM record: contain them with ContainShortTermKeys.
func (a *Activities) DeactivateServiceCredential(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	return a.setServiceCredStatus(ctx, in, iamtypes.StatusTypeInactive)
}

// ActivateServiceCredential sets a long-term Bedrock API key Active again; the
// compensation of DeactivateServiceCredential.
func (a *Activities) ActivateServiceCredential(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	return a.setServiceCredStatus(ctx, in, iamtypes.StatusTypeActive)
}

func (a *Activities) setServiceCredStatus(ctx context.Context, in sever.ActionInput, want iamtypes.StatusType) (sever.ActionResult, error) {
	args, k, err := a.bedrockKeyOf(ctx, in)
	if err != nil {
		return sever.ActionResult{}, err
	}
	if k.shortTerm() {
		return sever.ActionResult{}, activities.Permanent(activities.ErrUnsupported, fmt.Sprintf(
			"%s: %s have no IAM credential to set %s; use %s", in.Action, k, want, sever.ActionAWSContainShortTermBedrockKeys), nil)
	}
	return statusChange{action: in.Action, op: "iam:UpdateServiceSpecificCredential", what: k, actor: k.actor.ARN,
		before: k.status, want: want, reason: args.Reason,
		update: func() error { return k.setStatus(ctx, want) },
		read:   func() (iamtypes.StatusType, bool, error) { return k.readStatus(ctx, in.Action+" read-back") },
		facts: func(after iamtypes.StatusType) sever.Values {
			k.status = after
			return k.values()
		},
	}.run(ctx)
}

// setStatus is iam:UpdateServiceSpecificCredential of the long-term key.
func (k bedrockKey) setStatus(ctx context.Context, want iamtypes.StatusType) error {
	_, err := k.c.IAM.UpdateServiceSpecificCredential(ctx, &iam.UpdateServiceSpecificCredentialInput{
		UserName: aws.String(k.user), ServiceSpecificCredentialId: aws.String(k.credID), Status: want}, iamOnce)
	return err
}

// readStatus reads the long-term key's status from IAM; found is false once it
// is gone.
func (k bedrockKey) readStatus(ctx context.Context, action string) (status iamtypes.StatusType, found bool, err error) {
	m, found, err := findServiceCred(ctx, action, k.c, k.user, k.credID, k.account)
	return m.Status, found, err
}

// bearerDenyDocument denies every call made with a Bedrock API key.
func bearerDenyDocument() string {
	b, _ := json.Marshal(policyDocument{Version: "2012-10-17", Statement: []policyStatement{{
		Effect: "Deny", Action: iampolicy.StringList{bearerAction}, Resource: iampolicy.StringList{"*"}}}})
	return string(b)
}

// isBearerDeny reports whether an inline policy document denies bearer-token calls
// on every resource without conditions.
func isBearerDeny(raw string) bool {
	stmts, ok := policyStatements(raw)
	if !ok {
		return false
	}
	for _, s := range stmts {
		if s.Effect == "Deny" && len(s.Condition) == 0 && s.plain() && slices.Contains(s.Resource, "*") &&
			(slices.Contains(s.Action, bearerAction) || slices.Contains(s.Action, "bedrock:*") || slices.Contains(s.Action, "*")) {
			return true
		}
	}
	return false
}

// putNamedInline writes an inline policy of a user or role, once: the caller reads
// before it writes and retries the whole step.
func putNamedInline(ctx context.Context, c *Clients, kind, name, policy, doc string) (err error) {
	if kind == "user" {
		_, err = c.IAM.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name),
			PolicyName: aws.String(policy), PolicyDocument: aws.String(doc)}, iamOnce)
	} else {
		_, err = c.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name),
			PolicyName: aws.String(policy), PolicyDocument: aws.String(doc)}, iamOnce)
	}
	return err
}

// deleteNamedInline deletes an inline policy of a user or role, once.
func deleteNamedInline(ctx context.Context, c *Clients, kind, name, policy string) (err error) {
	if kind == "user" {
		_, err = c.IAM.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(policy)}, iamOnce)
	} else {
		_, err = c.IAM.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(policy)}, iamOnce)
	}
	return err
}

// getNamedInline reads an inline policy of a user or role; found is false when it is
// missing.
func getNamedInline(ctx context.Context, c *Clients, kind, name, policy string) (string, bool, error) {
	var raw string
	var err error
	if kind == "user" {
		var out *iam.GetUserPolicyOutput
		if out, err = c.IAM.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(policy)}); err == nil {
			raw = aws.ToString(out.PolicyDocument)
		}
	} else {
		var out *iam.GetRolePolicyOutput
		if out, err = c.IAM.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(policy)}); err == nil {
			raw = aws.ToString(out.PolicyDocument)
		}
	}
	if isCode(err, "NoSuchEntity") {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return raw, true, nil
}

// ContainShortTermKeys contains the short-term Bedrock API keys minted by an
// identity: it puts SeverDenyBedrockBearerTokens (a Deny of
// bedrock:CallWithBearerToken) on the user or role, and AWSRevokeOlderSessions with
// the cut-off of the step's first attempt, then reads both back. Existing controls
// are kept; only what is missing is written.
func (a *Activities) ContainShortTermKeys(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	args, k, err := a.bedrockKeyOf(ctx, in)
	if err != nil {
		return sever.ActionResult{}, err
	}
	if !k.shortTerm() {
		return sever.ActionResult{}, activities.Permanent(activities.ErrUnsupported, fmt.Sprintf(
			"%s: %s is long-term; use %s", in.Action, k, sever.ActionAWSDeactivateServiceCredential), nil)
	}
	kind, name := k.minter.Kind, k.minter.Name
	subject := fmt.Sprintf("%s in account %s", k.minter, k.account)
	hasDeny := func() (bool, error) {
		raw, found, err := getNamedInline(ctx, k.c, kind, name, BearerDenyPolicyName)
		if err != nil {
			return false, classify(in.Action, "iam:Get"+cases(kind)+"Policy", subject, err)
		}
		return found && isBearerDeny(raw), nil
	}
	denied, err := hasDeny()
	if err != nil {
		return sever.ActionResult{}, err
	}
	if !denied {
		doc := bearerDenyDocument()
		if err := putNamedInline(ctx, k.c, kind, name, BearerDenyPolicyName, doc); err != nil {
			return sever.ActionResult{}, classify(in.Action, "iam:Put"+cases(kind)+"Policy", subject, err)
		}
	}
	denyOK, err := readBack(ctx, hasDeny)
	if err != nil {
		return sever.ActionResult{}, err
	}
	cutoff := a.firstScheduled(ctx).Truncate(time.Second)
	r, revChanged, revOK, err := a.revokeOne(ctx, in.Action, k.c, k.account, kind, name, cutoff)
	if err != nil {
		return sever.ActionResult{}, err
	}
	out := k.values()
	out["deny_policy"], out["revoke_policy"], out["cutoff"] = BearerDenyPolicyName, RevokePolicyName, cutoff.Format(time.RFC3339)
	if back, ok := r["cutoff"]; ok {
		out["policy_cutoff"] = back
	}
	if args.Reason != "" {
		out["reason"] = args.Reason
	}
	changed := !denied || revChanged
	verified := denyOK && revOK
	summary := fmt.Sprintf("bearer-token calls denied (%s) and sessions issued before %s revoked (%s) for %s",
		BearerDenyPolicyName, cutoff.Format(time.RFC3339), RevokePolicyName, subject)
	if !changed {
		summary = "already in place: " + summary
	}
	if !verified {
		summary += fmt.Sprintf("; read-back: deny %v, revocation %v", denyOK, revOK)
	}
	return sever.ActionResult{Enforcement: sever.EnterpriseEnforced, Verified: verified, Actor: k.actor.ARN, Changed: changed,
		Summary: summary, Output: out}, nil
}

// ReleaseShortTermKeys deletes SeverDenyBedrockBearerTokens from the minting identity
// and reads back that it is gone: the compensation of ContainShortTermKeys. The
// session revocation is left in place (the keys it covers have expired within 12
// hours; aws.iam.delete_role_revoke_policy-style removal is a separate decision), and a
// policy of that name that is not a bearer deny is someone else's and refused.
func (a *Activities) ReleaseShortTermKeys(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	args, k, err := a.bedrockKeyOf(ctx, in)
	if err != nil {
		return sever.ActionResult{}, err
	}
	if !k.shortTerm() {
		return sever.ActionResult{}, activities.Permanent(activities.ErrUnsupported, fmt.Sprintf(
			"%s: %s is long-term; use %s", in.Action, k, sever.ActionAWSActivateServiceCredential), nil)
	}
	kind, name := k.minter.Kind, k.minter.Name
	subject := fmt.Sprintf("%s in account %s", k.minter, k.account)
	get := func() (string, bool, error) {
		raw, found, err := getNamedInline(ctx, k.c, kind, name, BearerDenyPolicyName)
		if err != nil {
			return "", false, classify(in.Action, "iam:Get"+cases(kind)+"Policy", subject, err)
		}
		return raw, found, nil
	}
	raw, found, err := get()
	if err != nil {
		return sever.ActionResult{}, err
	}
	if found {
		if !isBearerDeny(raw) {
			return sever.ActionResult{}, activities.Permanent(activities.ErrForbidden, fmt.Sprintf(
				"%s: the %s policy on %s is not a bearer-token deny; leaving it in place", in.Action, BearerDenyPolicyName, subject), nil)
		}
		err = deleteNamedInline(ctx, k.c, kind, name, BearerDenyPolicyName)
		// NoSuchEntity here means an earlier attempt deleted it and lost the response.
		if err != nil && !isCode(err, "NoSuchEntity") {
			return sever.ActionResult{}, classify(in.Action, "iam:Delete"+cases(kind)+"Policy", subject, err)
		}
	}
	verified, err := readBack(ctx, func() (bool, error) {
		_, found, err := get()
		return !found, err
	})
	if err != nil {
		return sever.ActionResult{}, err
	}
	out := k.values()
	out["deny_policy"] = BearerDenyPolicyName
	if args.Reason != "" {
		out["reason"] = args.Reason
	}
	summary := fmt.Sprintf("deleted %s from %s", BearerDenyPolicyName, subject)
	if !found {
		summary = fmt.Sprintf("%s has no %s policy", subject, BearerDenyPolicyName)
	}
	return sever.ActionResult{Enforcement: sever.EnterpriseEnforced, Verified: verified, Actor: k.actor.ARN, Changed: found,
		Summary: summary, Output: out}, nil
}
