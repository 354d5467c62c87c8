// Package awsact holds the AWS containment actions: who owns a leaked access key, whether
// AWS already quarantined it, deactivating (and, after rotation, deleting) it, revoking
// sessions issued before containment, rotating the secrets that held it, and collecting
// evidence (CloudTrail events, EBS snapshots, Object Lock copies in S3, Bedrock logging).
//
// Every action that changes state reads the current state first and only writes what is
// missing, so a retry after "the call succeeded but the response was lost" does nothing
// twice. Calls that change state are never retried by the SDK itself: Temporal retries the
// activity, which reads again. Enterprise actions read their change back and are verified
// only when the read-back shows the control in place.
package awsact

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"go.temporal.io/sdk/activity"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/inventory"
)

// VendorActor is the actor of record for what AWS did on its own.
const VendorActor = "vendor:aws"

// cloudTrailRate is LookupEvents' documented limit per account and region.
const cloudTrailRate = 2

// Activities holds the clients, the inventory and the evidence settings of the AWS
// actions. Build it with New or FromConfig; the zero value is not usable.
type Activities struct {
	Clients   ClientSource
	Inventory *inventory.Inventory // nil = none
	// Regions are where evidence is read (CloudTrail, Bedrock); AccountRegions overrides
	// them per account. Empty = the home region only.
	Regions        []string
	AccountRegions map[string][]string
	// Accounts are the accounts sever acts in besides the one its ambient credentials
	// belong to; key_owner refuses keys of any other account.
	Accounts          []string
	EvidenceBucket    string
	EvidenceRetention time.Duration
	EvidenceLockMode  string // COMPLIANCE or GOVERNANCE
	// Now is the clock for evidence timestamps and retention; default time.Now.
	Now func() time.Time

	// mu guards the caches below, each bounded (see lru.go) and made on first use.
	mu          sync.Mutex
	identities  *lru[string, identity]      // by account asked for ("" = ambient)
	keyAccounts *lru[string, string]        // access key id → account, as sts:GetAccessKeyInfo said
	keyUsers    *lru[string, string]        // access key id → IAM user, as GetAccessKeyLastUsed said
	keyIssuers  *lru[string, trailAnswer]   // account/temporary key id → its issuer, as CloudTrail said
	limiters    *lru[string, *trailLimiter] // by account/region
}

// ErrIdentityMismatch is the error type of an action refused because a value the
// signal or the step supplied (an account, a user) contradicts what AWS says about
// the key. It is permanent: retrying asks AWS the same question.
const ErrIdentityMismatch = "IdentityMismatch"

// initCaches makes the caches on first use; a.mu must be held.
func (a *Activities) initCaches() {
	if a.identities == nil {
		a.identities = newLRU[string, identity](maxCachedIdentities)
		a.keyAccounts = newLRU[string, string](maxCachedKeys)
		a.keyUsers = newLRU[string, string](maxCachedKeys)
		a.keyIssuers = newLRU[string, trailAnswer](maxCachedKeys)
		a.limiters = newLRU[string, *trailLimiter](maxCachedLimiters)
	}
}

// identity is sever's own principal in an account.
type identity struct {
	Account string
	ARN     string
}

// New returns the activities over a client source.
func New(clients ClientSource, inv *inventory.Inventory) *Activities {
	return &Activities{Clients: clients, Inventory: inv,
		EvidenceRetention: config.DefaultEvidenceRetention, EvidenceLockMode: config.DefaultEvidenceLockMode}
}

// FromConfig builds the activities from sever.yaml's aws section: a Factory over the
// standard credential chain and per-account roles, the evidence settings, and the
// inventory (nil for none). res resolves aws-sm: external ids; nil means a Resolver
// over the same ambient credentials.
func FromConfig(c config.AWSConfig, inv *inventory.Inventory, res config.SecretResolver) *Activities {
	f := FactoryFromConfig(c, res)
	if res == nil {
		f.o.Resolver = Resolver{Clients: f}
	}
	a := New(f, inv)
	a.Regions = c.Regions
	a.AccountRegions = map[string][]string{}
	for _, acct := range c.Accounts {
		a.Accounts = append(a.Accounts, acct.ID)
		if r := c.AccountRegions(acct); len(r) > 0 {
			a.AccountRegions[acct.ID] = r
		}
	}
	a.EvidenceBucket = c.EvidenceBucket
	if c.EvidenceRetention > 0 {
		a.EvidenceRetention = c.EvidenceRetention
	}
	if c.EvidenceLockMode != "" {
		a.EvidenceLockMode = c.EvidenceLockMode
	}
	return a
}

// Register registers the AWS actions under their catalog names.
func (a *Activities) Register(r activities.Registrar) {
	activities.Register(r, sever.ActionAWSKeyOwner, a.KeyOwner)
	activities.Register(r, sever.ActionAWSVendorQuarantine, a.DetectVendorQuarantine)
	activities.Register(r, sever.ActionAWSDeactivateKey, a.DeactivateAccessKey)
	activities.Register(r, sever.ActionAWSActivateKey, a.ActivateAccessKey)
	activities.Register(r, sever.ActionAWSDeleteKey, a.DeleteAccessKey)
	activities.Register(r, sever.ActionAWSRevokeSessions, a.RevokeSessions)
	activities.Register(r, sever.ActionAWSKeyStatus, a.KeyStatus)
	activities.Register(r, sever.ActionAWSRotateSecret, a.RotateSecret)
	activities.Register(r, sever.ActionAWSLookupEvents, a.LookupEvents)
	activities.Register(r, sever.ActionAWSSnapshotVolume, a.SnapshotVolume)
	activities.Register(r, sever.ActionAWSStoreEvidence, a.StoreEvidence)
	activities.Register(r, sever.ActionAWSBedrockLogging, a.BedrockLoggingState)
	activities.Register(r, sever.ActionAWSSessionOwner, a.SessionOwner)
	activities.Register(r, sever.ActionAWSRevokeRoleSessions, a.RevokeRoleSessions)
	activities.Register(r, sever.ActionAWSDeleteRoleRevokePolicy, a.DeleteRoleRevokePolicy)
	activities.Register(r, sever.ActionAWSServiceCredentialOwner, a.ServiceCredentialOwner)
	activities.Register(r, sever.ActionAWSDeactivateServiceCredential, a.DeactivateServiceCredential)
	activities.Register(r, sever.ActionAWSActivateServiceCredential, a.ActivateServiceCredential)
	activities.Register(r, sever.ActionAWSContainShortTermBedrockKeys, a.ContainShortTermKeys)
	activities.Register(r, sever.ActionAWSReleaseShortTermBedrockKeys, a.ReleaseShortTermKeys)
	activities.Register(r, sever.ActionAWSInstanceEvidence, a.InstanceEvidence)
}

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now().UTC()
	}
	return time.Now().UTC()
}

// checkType refuses credentials that are not AWS access keys: the IAM calls would act on
// whatever key id happens to match, or fail obscurely.
func checkType(in sever.ActionInput) error {
	if in.Credential.Type != sever.CredAWSAccessKey {
		return activities.Permanent(activities.ErrUnsupported,
			fmt.Sprintf("%s: credential type %s is not an AWS access key (want %s)", in.Action, in.Credential.Type, sever.CredAWSAccessKey), nil)
	}
	if strings.TrimSpace(in.Credential.ID) == "" {
		return activities.Permanent(activities.ErrInvalidArgument, in.Action+": credential id (the access key id) is empty", nil)
	}
	return nil
}

// clients returns the clients for an account and region together with sever's identity
// there. It refuses when the credentials it would act with belong to another account:
// acting on user "ci-deployer" of the wrong account is worse than not acting.
func (a *Activities) clients(ctx context.Context, action, account, region string) (*Clients, identity, error) {
	c, err := a.Clients.Clients(ctx, account, region)
	if err != nil {
		return nil, identity{}, fmt.Errorf("%s: account %s: %w", action, orAmbient(account), err)
	}
	id, err := a.identity(ctx, action, account, c)
	if err != nil {
		return nil, identity{}, err
	}
	if account != "" && id.Account != account {
		return nil, identity{}, activities.Permanent(activities.ErrAccessDenied, fmt.Sprintf(
			"%s: sever has no credentials for account %s (its credentials belong to %s); add the account with a role_arn to aws.accounts",
			action, account, id.Account), nil)
	}
	return c, id, nil
}

func orAmbient(account string) string {
	if account == "" {
		return "(ambient credentials)"
	}
	return account
}

// identity is sts:GetCallerIdentity, cached per account: it is sever's actor of record
// on every result, and it does not change while the worker runs.
func (a *Activities) identity(ctx context.Context, action, account string, c *Clients) (identity, error) {
	return cached(a, func() *lru[string, identity] { return a.identities }, account, func() (identity, error) {
		out, err := c.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return identity{}, classify(action, "sts:GetCallerIdentity", "for account "+orAmbient(account), err)
		}
		return identity{Account: aws.ToString(out.Account), ARN: aws.ToString(out.Arn)}, nil
	})
}

// cached is the value of k in the cache of a that pick chooses, else what fetch
// finds, remembered once found. a.mu is held only around the cache, never
// around fetch's AWS call; two callers that miss at once both fetch, and both
// find the same answer.
func cached[V any](a *Activities, pick func() *lru[string, V], k string, fetch func() (V, error)) (V, error) {
	a.mu.Lock()
	a.initCaches()
	c := pick()
	v, ok := c.get(k)
	a.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := fetch()
	if err != nil {
		return v, err
	}
	a.mu.Lock()
	c.put(k, v)
	a.mu.Unlock()
	return v, nil
}

// ours reports whether sever acts in account: a configured account, or the one its
// ambient credentials belong to.
func (a *Activities) ours(ctx context.Context, action, account string) (bool, error) {
	if slices.Contains(a.Accounts, account) {
		return true, nil
	}
	c, err := a.Clients.Clients(ctx, "", "")
	if err != nil {
		return false, fmt.Errorf("%s: ambient credentials: %w", action, err)
	}
	id, err := a.identity(ctx, action, "", c)
	if err != nil {
		return false, err
	}
	return id.Account == account, nil
}

// keyAccount finds the account of an access key from AWS, with sts:GetAccessKeyInfo
// (cached; key ids never move between accounts), never from what the signal says: a
// signal naming another account would point sever's actions, and its credentials, at
// that account. A value supplied by the step's argument, the credential's account or
// its principal's ARN must agree; one that contradicts AWS refuses the action with
// ErrIdentityMismatch.
func (a *Activities) keyAccount(ctx context.Context, in sever.ActionInput, explicit string) (string, error) {
	acct, err := a.lookupKeyAccount(ctx, in.Action, in.Credential.ID)
	if err != nil {
		return "", err
	}
	for _, s := range []struct{ from, v string }{
		{"the step's account argument", explicit},
		{"the signal's credential account", in.Credential.Account},
		{"the signal's principal ARN", arnAccount(in.Credential.Principal)},
	} {
		if s.v != "" && s.v != acct {
			return "", activities.Permanent(ErrIdentityMismatch, fmt.Sprintf(
				"%s: key %s belongs to account %s (sts:GetAccessKeyInfo), but %s names account %s; refusing to act on a contradicted identity",
				in.Action, in.Credential.ID, acct, s.from, s.v), nil)
		}
	}
	return acct, nil
}

func (a *Activities) lookupKeyAccount(ctx context.Context, action, keyID string) (string, error) {
	return cached(a, func() *lru[string, string] { return a.keyAccounts }, keyID, func() (string, error) {
		c, err := a.Clients.Clients(ctx, "", "")
		if err != nil {
			return "", fmt.Errorf("%s: ambient credentials: %w", action, err)
		}
		out, err := c.STS.GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(keyID)})
		if err != nil {
			return "", classify(action, "sts:GetAccessKeyInfo", "key "+keyID, err)
		}
		acct := aws.ToString(out.Account)
		if acct == "" {
			return "", activities.Permanent(activities.ErrNotFound,
				fmt.Sprintf("%s: sts:GetAccessKeyInfo named no account for key %s", action, keyID), nil)
		}
		return acct, nil
	})
}

// arnAccount returns the account field of an ARN, or "".
func arnAccount(s string) string {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) == 6 && parts[0] == "arn" {
		return parts[4]
	}
	return ""
}

// principalUser returns the IAM user name a principal names: "ci-deployer",
// "user/ci-deployer" or "arn:aws:iam::111122223333:user/path/ci-deployer". Roles and
// assumed roles are not users; they yield "".
func principalUser(p string) string {
	if p == "" {
		return ""
	}
	if strings.HasPrefix(p, "arn:") {
		parts := strings.SplitN(p, ":", 6)
		if len(parts) != 6 || parts[2] != "iam" || !strings.HasPrefix(parts[5], "user/") {
			return ""
		}
		p = parts[5]
	}
	if rest, ok := strings.CutPrefix(p, "user/"); ok {
		p = rest
	}
	if strings.Contains(p, ":") {
		return ""
	}
	return p[strings.LastIndex(p, "/")+1:]
}

// regions returns where evidence is read for account: the argument, the account's own
// list, the configured list, else the home region of the clients.
func (a *Activities) regions(account string, explicit []string) []string {
	switch {
	case len(explicit) > 0:
		return explicit
	case len(a.AccountRegions[account]) > 0:
		return a.AccountRegions[account]
	case len(a.Regions) > 0:
		return a.Regions
	}
	return []string{""}
}

// limiter returns the shared CloudTrail rate limiter for an account and region, so
// concurrent incidents in one worker stay inside the 2 requests per second together.
func (a *Activities) limiter(account, region string) *trailLimiter {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.initCaches()
	key := account + "/" + region
	l, ok := a.limiters.get(key)
	if !ok {
		l = newTrailLimiter(cloudTrailRate)
		a.limiters.put(key, l)
	}
	return l
}

// firstScheduled is when the first attempt of this activity was scheduled: stable across
// retries, so a cut-off derived from it is the same on every attempt. Outside an activity
// (direct calls in tests and tools) it is now.
func (a *Activities) firstScheduled(ctx context.Context) time.Time {
	if activity.IsActivity(ctx) {
		if t := activity.GetInfo(ctx).ScheduledTime; !t.IsZero() {
			return t.UTC()
		}
	}
	return a.now()
}

// exposedSince is the earliest moment the incident's signals say the key was exposed.
// The summary covers every signal; the sample in in.Signals only the first and latest.
func exposedSince(in sever.ActionInput) (time.Time, bool) {
	var first time.Time
	if sum := in.SignalSummary; sum != nil && sum.ExposedSince != nil {
		first = *sum.ExposedSince
	}
	for _, s := range in.Signals {
		for _, t := range []time.Time{s.ObservedAt, s.ReceivedAt} {
			if !t.IsZero() && (first.IsZero() || t.Before(first)) {
				first = t
			}
		}
	}
	return first.UTC(), !first.IsZero()
}
