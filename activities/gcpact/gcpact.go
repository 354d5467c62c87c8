// Package gcpact holds the Google Cloud service-account key actions: disabling a
// key (reversible), reading it back, observing whether Google already disabled it
// as exposed, enabling it again as compensation, and reading the Cloud Audit Logs
// entries made with it as evidence; and the Google API key actions: deleting a key
// (restorable for 30 days), reading it back and restoring it.
//
// The actions speak Google's own clients (google.golang.org/api iam/v1,
// logging/v2 and apikeys/v2) with the standard credential chain (Application Default
// Credentials) unless Options say otherwise; the drill cloud points them at its
// twin with a service-account key whose token_uri is the twin's token endpoint.
// An incident names the key by its resource name; the key's private half is
// never an input, an output or in an error.
package gcpact

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/temporal"
	apikeys "google.golang.org/api/apikeys/v2"
	"google.golang.org/api/googleapi"
	iam "google.golang.org/api/iam/v1"
	logging "google.golang.org/api/logging/v2"
	"google.golang.org/api/option"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
)

// Error types of failures Temporal retries.
const (
	ErrThrottled   = "GCPThrottled"
	ErrUnavailable = "GCPUnavailable"
)

// Google's serviceAccountKeyDisableReason values, and the extended status Google
// sets on a key it detected as exposed.
const (
	DisableReasonUserInitiated      = "SERVICE_ACCOUNT_KEY_DISABLE_REASON_USER_INITIATED"
	DisableReasonExposed            = "SERVICE_ACCOUNT_KEY_DISABLE_REASON_EXPOSED"
	DisableReasonCompromiseDetected = "SERVICE_ACCOUNT_KEY_DISABLE_REASON_COMPROMISE_DETECTED"
	ExtendedStatusKeyExposed        = "SERVICE_ACCOUNT_KEY_EXTENDED_STATUS_KEY_EXPOSED"
)

// disableReasons maps the runbook's disable_reason to Google's enum.
var disableReasons = map[string]string{
	"":                    DisableReasonUserInitiated,
	"user_initiated":      DisableReasonUserInitiated,
	"exposed":             DisableReasonExposed,
	"compromise_detected": DisableReasonCompromiseDetected,
}

// DefaultPrincipal is the actor recorded when sever acts with Application Default
// Credentials and Principal is not set.
const DefaultPrincipal = "gcp:application-default-credentials"

// Activities holds how sever reaches Google Cloud. The zero value uses Application
// Default Credentials and Google's endpoints. Safe for concurrent use.
type Activities struct {
	// Options are passed to every Google API client (endpoint, credentials); none
	// means ADC and Google's endpoints.
	Options []option.ClientOption
	// Principal names who sever acts as, for the ledger; "" = DefaultPrincipal.
	Principal string
	// Now is the clock of the audit-log lookback; nil = time.Now.
	Now func() time.Time

	mu      sync.Mutex
	iam     *iam.Service
	logging *logging.Service
	apikeys *apikeys.Service
}

// Register registers the GCP actions under their catalog names.
func (a *Activities) Register(r activities.Registrar) {
	activities.Register(r, sever.ActionGCPDisableKey, a.DisableKey)
	activities.Register(r, sever.ActionGCPEnableKey, a.EnableKey)
	activities.Register(r, sever.ActionGCPKeyStatus, a.KeyStatus)
	activities.Register(r, sever.ActionGCPObserveExposure, a.ObserveExposure)
	activities.Register(r, sever.ActionGCPAuditEvents, a.AuditEvents)
	activities.Register(r, sever.ActionGCPDeleteAPIKey, a.DeleteAPIKey)
	activities.Register(r, sever.ActionGCPUndeleteAPIKey, a.UndeleteAPIKey)
	activities.Register(r, sever.ActionGCPAPIKeyStatus, a.APIKeyStatus)
}

func (a *Activities) actor() string {
	if a.Principal != "" {
		return a.Principal
	}
	return DefaultPrincipal
}

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// iamService builds the IAM client once.
func (a *Activities) iamService(ctx context.Context, action string) (*iam.Service, error) {
	return client(ctx, a, &a.iam, iam.NewService, action,
		"build the IAM client (Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS, gcloud auth application-default login, or the metadata server)")
}

func (a *Activities) loggingService(ctx context.Context, action string) (*logging.Service, error) {
	return client(ctx, a, &a.logging, logging.NewService, action, "build the Cloud Logging client (Application Default Credentials)")
}

// client returns *kept, building it with build on first use; a failure is not
// kept, so credentials that appear later are picked up by the next attempt. A
// failure is AccessDenied, what names the client for the error.
func client[S any](ctx context.Context, a *Activities, kept **S,
	build func(context.Context, ...option.ClientOption) (*S, error), action, what string) (*S, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if *kept != nil {
		return *kept, nil
	}
	// The client outlives this call: it must not inherit the activity's deadline.
	s, err := build(context.WithoutCancel(ctx), a.Options...)
	if err != nil {
		return nil, activities.Permanent(activities.ErrAccessDenied, action+": "+what, err)
	}
	*kept = s
	return s, nil
}

// KeyName is a service-account key's resource name, split.
type KeyName struct {
	Project, ServiceAccount, KeyID string
}

func (k KeyName) String() string {
	return "projects/" + k.Project + "/serviceAccounts/" + k.ServiceAccount + "/keys/" + k.KeyID
}

// Google's own limits: project ids are 6 to 30 lower-case letters, digits and
// hyphens (legacy ones carry a "domain:" prefix; "-" lets Google find the project),
// service accounts are named by e-mail or numeric unique id, key ids are hex.
var (
	keyNameRE = regexp.MustCompile(`^projects/([a-z][a-z0-9.:-]{3,61}[a-z0-9]|-)/serviceAccounts/([A-Za-z0-9][A-Za-z0-9._@-]{0,253})/keys/([0-9a-fA-F]{1,64})$`)
	keyIDRE   = regexp.MustCompile(`^[0-9a-fA-F]{1,64}$`)
	saEmailRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}@([a-z][a-z0-9.:-]{3,61}[a-z0-9])\.iam\.gserviceaccount\.com$`)
)

// fullNamePrefix is how Cloud Audit Logs and Security Command Center write a
// key's name.
const fullNamePrefix = "//iam.googleapis.com/"

// ParseKeyName reads a key's resource name, "projects/<p>/serviceAccounts/<sa>/keys/<id>",
// also in its "//iam.googleapis.com/" full form.
func ParseKeyName(s string) (KeyName, error) {
	m := keyNameRE.FindStringSubmatch(strings.TrimPrefix(s, fullNamePrefix))
	if m == nil {
		return KeyName{}, fmt.Errorf("%q is not a service-account key name (projects/<project>/serviceAccounts/<email or id>/keys/<key id>)", s)
	}
	return KeyName{Project: m[1], ServiceAccount: m[2], KeyID: m[3]}, nil
}

// KeyNameOf names the key an incident's credential is: its id is the key's
// resource name, or a bare key id with the service account's e-mail as principal
// and the project as account.
func KeyNameOf(c sever.Credential) (KeyName, error) {
	if keyIDRE.MatchString(c.ID) {
		if c.Principal == "" {
			return KeyName{}, fmt.Errorf("credential id %q is a bare key id and names no service account (set principal to its e-mail)", c.ID)
		}
		project := c.Account
		if project == "" {
			project = "-"
		}
		return ParseKeyName("projects/" + project + "/serviceAccounts/" + c.Principal + "/keys/" + c.ID)
	}
	return ParseKeyName(c.ID)
}

// project is the project whose audit logs hold the key's use: the name's, else
// the one in the service account's e-mail, else the credential's account.
func (k KeyName) project(c sever.Credential) string {
	if k.Project != "-" {
		return k.Project
	}
	if m := saEmailRE.FindStringSubmatch(k.ServiceAccount); m != nil {
		return m[1]
	}
	return c.Account
}

// begin decodes the arguments and names the incident's key.
func (a *Activities) begin(in sever.ActionInput, args any) (KeyName, error) {
	if args != nil {
		if err := activities.DecodeArgs(in.Action, in.Args, args); err != nil {
			return KeyName{}, err
		}
	} else if err := activities.DecodeArgs(in.Action, in.Args, &struct{}{}); err != nil {
		return KeyName{}, err
	}
	if in.Credential.Type != sever.CredGCPServiceAccountKey {
		return KeyName{}, activities.Permanent(activities.ErrUnsupported, fmt.Sprintf("%s: credential type %s is not a Google Cloud service-account key (want %s)",
			in.Action, in.Credential.Type, sever.CredGCPServiceAccountKey), nil)
	}
	k, err := KeyNameOf(in.Credential)
	if err != nil {
		return KeyName{}, activities.Permanent(activities.ErrInvalidArgument, in.Action, err)
	}
	return k, nil
}

// classify turns a failed call into an error of a stable type: 429 and 5xx are
// retried, other statuses are permanent, and transport or token failures are
// retried. Only Google's message is quoted, bounded; no request of these actions
// carries a secret.
func classify(action, op string, err error) error {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return fmt.Errorf("%s: %s: %w", action, op, err)
	}
	msg := ge.Message
	if len(msg) > 200 {
		msg = msg[:200]
	}
	text := fmt.Sprintf("%s: %s: Google answered %d %q", action, op, ge.Code, msg)
	switch {
	case ge.Code == 429:
		return retryableErr(ErrThrottled, text)
	case ge.Code >= 500:
		return retryableErr(ErrUnavailable, text)
	case ge.Code == 401 || ge.Code == 403:
		return activities.Permanent(activities.ErrAccessDenied, text, nil)
	case ge.Code == 404:
		return activities.Permanent(activities.ErrNotFound, text, nil)
	}
	return activities.Permanent(activities.ErrInvalidArgument, text, nil)
}

// classifyErr is classify for a call that may have succeeded: nil stays nil.
func classifyErr(action, op string, err error) error {
	if err == nil {
		return nil
	}
	return classify(action, op, err)
}

// changeKey disables (disabled) or enables key k with call unless key, the first
// read, shows it so already, then reads it back. The heartbeat marker and the
// errors name the change ("disabled <key>", "disable key <key>").
func (a *Activities) changeKey(ctx context.Context, action string, s *iam.Service, k KeyName, key *iam.ServiceAccountKey,
	disabled bool, call func() error) (sever.ActionResult, *iam.ServiceAccountKey, error) {
	verb := "enable"
	if disabled {
		verb = "disable"
	}
	res, back, err := change[*iam.ServiceAccountKey]{action: action, what: "key " + k.String(), marker: verb + "d " + k.String(),
		inPlace: func(key *iam.ServiceAccountKey) bool { return key.Disabled == disabled },
		apply:   func() error { return classifyErr(action, verb+" key "+k.String(), call()) },
		read:    func() (*iam.ServiceAccountKey, error) { return a.getKey(ctx, s, k) },
	}.run(ctx, a.actor(), key)
	if err != nil {
		return sever.ActionResult{}, nil, err
	}
	res.Output = facts(k, back)
	return res, back, nil
}

// change is one reversible change of a resource's state (disable and enable,
// delete and undelete). It is applied only when a first read shows it is not in
// place, so a retry never acts twice, and verified by reading the resource back:
// the actions share this so that they cannot drift apart in either respect.
type change[T any] struct {
	action string // the action, for errors
	what   string // the resource, for errors: "key projects/…"
	marker string // the heartbeat recorded once applied; "" records none
	// inPlace reports whether a read shows the change made.
	inPlace func(T) bool
	// apply makes the change; its error is already classified.
	apply func() error
	// read reads the resource; its error is classified here.
	read func() (T, error)
}

// run applies c unless before, the first read, shows it in place, then reads the
// resource back. The result is enterprise enforced, Changed when c was applied
// and Verified when the read-back shows it in place.
func (c change[T]) run(ctx context.Context, actor string, before T) (sever.ActionResult, T, error) {
	var zero T
	res := sever.ActionResult{Enforcement: sever.EnterpriseEnforced, Actor: actor}
	if !c.inPlace(before) {
		if err := c.apply(); err != nil {
			return sever.ActionResult{}, zero, err
		}
		res.Changed = true
		if c.marker != "" {
			activities.RecordHeartbeat(ctx, c.marker)
		}
	}
	back, err := c.read()
	if err != nil {
		return sever.ActionResult{}, zero, classify(c.action, "read back "+c.what, err)
	}
	res.Verified = c.inPlace(back)
	return res, back, nil
}

func isNotFound(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == 404
}

// readKey builds the IAM client and reads key k, the first read of an action.
func (a *Activities) readKey(ctx context.Context, action string, k KeyName) (*iam.Service, *iam.ServiceAccountKey, error) {
	s, err := a.iamService(ctx, action)
	if err != nil {
		return nil, nil, err
	}
	key, err := a.getKey(ctx, s, k)
	if err != nil {
		return nil, nil, classify(action, "get key "+k.String(), err)
	}
	return s, key, nil
}

// getKey reads the key (keys.get). The answer never holds private key data.
func (a *Activities) getKey(ctx context.Context, s *iam.Service, k KeyName) (*iam.ServiceAccountKey, error) {
	key, err := s.Projects.ServiceAccounts.Keys.Get(k.String()).Context(ctx).Do()
	if err != nil {
		return nil, err
	}
	key.PrivateKeyData = ""
	return key, nil
}

// exposed reports whether Google marks the key exposed.
func exposed(key *iam.ServiceAccountKey) bool {
	return slices.ContainsFunc(key.ExtendedStatus, func(e *iam.ExtendedStatus) bool {
		return e != nil && e.Key == ExtendedStatusKeyExposed
	})
}

// facts is what the actions report about a key.
func facts(k KeyName, key *iam.ServiceAccountKey) sever.Values {
	v := sever.Values{"key": k.String(), "state": "absent"}
	if key == nil {
		return v
	}
	var ext []string
	for _, e := range key.ExtendedStatus {
		if e != nil {
			ext = append(ext, e.Key)
		}
	}
	v["state"] = "enabled"
	if key.Disabled {
		v["state"] = "disabled"
	}
	v["disabled"] = key.Disabled
	v["disable_reason"] = key.DisableReason
	v["extended_status"] = ext
	v["key_origin"] = key.KeyOrigin
	v["key_type"] = key.KeyType
	v["valid_before"] = key.ValidBeforeTime
	return v
}

// DisableArgs are the arguments of gcp.iam.disable_service_account_key.
type DisableArgs struct {
	Reason string `json:"reason"`
	// DisableReason is sent to Google: user_initiated (default), exposed or
	// compromise_detected.
	DisableReason string `json:"disable_reason"`
}

// DisableKey is gcp.iam.disable_service_account_key. It reads the key first and
// disables it only when it is enabled, so a retry never acts twice; then it reads
// the key back and is verified when Google reports it disabled.
func (a *Activities) DisableKey(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args DisableArgs
	k, err := a.begin(in, &args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	reason, ok := disableReasons[args.DisableReason]
	if !ok {
		return sever.ActionResult{}, activities.Permanent(activities.ErrInvalidArgument,
			fmt.Sprintf("%s: disable_reason %q is not user_initiated, exposed or compromise_detected", in.Action, args.DisableReason), nil)
	}
	s, key, err := a.readKey(ctx, in.Action, k)
	if err != nil {
		return sever.ActionResult{}, err
	}
	res, back, err := a.changeKey(ctx, in.Action, s, k, key, true, func() error {
		req := &iam.DisableServiceAccountKeyRequest{ServiceAccountKeyDisableReason: reason}
		_, err := s.Projects.ServiceAccounts.Keys.Disable(k.String(), req).Context(ctx).Do()
		return err
	})
	if err != nil {
		return sever.ActionResult{}, err
	}
	switch {
	case !res.Changed && exposed(back):
		res.Summary = fmt.Sprintf("key %s already disabled (Google marks it exposed); not disabled again", k)
	case !res.Changed:
		res.Summary = fmt.Sprintf("key %s already disabled; not disabled again", k)
	default:
		res.Summary = fmt.Sprintf("key %s disabled; Google reports it %s", k, res.Output["state"])
	}
	return res, nil
}

// ReasonArgs are the arguments of gcp.iam.enable_service_account_key.
type ReasonArgs struct {
	Reason string `json:"reason"`
}

// EnableKey is gcp.iam.enable_service_account_key, the compensation of a false
// positive: it enables a disabled key and reads it back. It refuses a key Google
// itself marks exposed: undoing sever's containment must not undo Google's.
func (a *Activities) EnableKey(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args ReasonArgs
	k, err := a.begin(in, &args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	s, key, err := a.readKey(ctx, in.Action, k)
	if err != nil {
		return sever.ActionResult{}, err
	}
	if exposed(key) {
		return sever.ActionResult{}, activities.Permanent(activities.ErrForbidden, fmt.Sprintf(
			"%s: key %s: Google marks it exposed (%s); not enabling it, create a new key instead", in.Action, k, ExtendedStatusKeyExposed), nil)
	}
	res, _, err := a.changeKey(ctx, in.Action, s, k, key, false, func() error {
		_, err := s.Projects.ServiceAccounts.Keys.Enable(k.String(), &iam.EnableServiceAccountKeyRequest{}).Context(ctx).Do()
		return err
	})
	if err != nil {
		return sever.ActionResult{}, err
	}
	res.Summary = fmt.Sprintf("key %s enabled again", k)
	if !res.Changed {
		res.Summary = fmt.Sprintf("key %s already enabled; not enabled again", k)
	}
	return res, nil
}

// StatusArgs are the arguments of gcp.iam.service_account_key_status.
type StatusArgs struct {
	// Expect is disabled (default), enabled or absent.
	Expect string `json:"expect"`
}

// KeyStatus is gcp.iam.service_account_key_status: verified when the key's state
// matches expect. A key Google does not find is absent.
func (a *Activities) KeyStatus(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args StatusArgs
	k, err := a.begin(in, &args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	expect, err := activities.Expect(in.Action, args.Expect, "disabled", "enabled", "absent")
	if err != nil {
		return sever.ActionResult{}, err
	}
	s, err := a.iamService(ctx, in.Action)
	if err != nil {
		return sever.ActionResult{}, err
	}
	key, err := a.getKey(ctx, s, k)
	if err != nil && !isNotFound(err) {
		return sever.ActionResult{}, classify(in.Action, "get key "+k.String(), err)
	}
	out := facts(k, key)
	return sever.ActionResult{Verified: out["state"] == expect, Actor: a.actor(), Output: out,
		Summary: fmt.Sprintf("key %s is %s (expected %s)", k, out["state"], expect)}, nil
}

// ObserveExposure is gcp.iam.observe_key_exposure: it records vendor_enforced
// only when Google disabled the key as exposed (extendedStatus KEY_EXPOSED, which
// only Google sets), vendor_notified when Google marks it exposed but left it
// enabled, and nothing otherwise. It never changes the key.
func (a *Activities) ObserveExposure(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	k, err := a.begin(in, nil)
	if err != nil {
		return sever.ActionResult{}, err
	}
	_, key, err := a.readKey(ctx, in.Action, k)
	if err != nil {
		return sever.ActionResult{}, err
	}
	res := sever.ActionResult{Actor: a.actor(), Output: facts(k, key)}
	switch {
	case exposed(key) && key.Disabled:
		res.Enforcement, res.Verified, res.Actor = sever.VendorEnforced, true, "google"
		res.Summary = fmt.Sprintf("Google disabled key %s as exposed", k)
	case exposed(key):
		res.Enforcement, res.Actor = sever.VendorNotified, "google"
		res.Summary = fmt.Sprintf("Google marks key %s exposed but left it enabled", k)
	default:
		res.Summary = fmt.Sprintf("Google has not marked key %s exposed", k)
	}
	return res, nil
}

// AuditArgs are the arguments of gcp.logging.audit_events.
type AuditArgs struct {
	// Lookback is how far back to read (Go duration, default 24h, at most 720h).
	Lookback string `json:"lookback"`
	// MaxEvents bounds the entries read (default 500, at most 5000).
	MaxEvents int `json:"max_events"`
}

// AuditEvents is gcp.logging.audit_events: it lists the Cloud Audit Logs entries
// whose caller authenticated with the key, in the key's project, and records their
// count, methods, caller addresses and SHA-256 as evidence. Read-only.
func (a *Activities) AuditEvents(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args AuditArgs
	k, err := a.begin(in, &args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	lookback := 24 * time.Hour
	if args.Lookback != "" {
		if lookback, err = time.ParseDuration(args.Lookback); err != nil || lookback <= 0 || lookback > 720*time.Hour {
			return sever.ActionResult{}, activities.Permanent(activities.ErrInvalidArgument,
				fmt.Sprintf("%s: lookback %q is not a duration between 0 and 720h", in.Action, args.Lookback), nil)
		}
	}
	maxEvents := args.MaxEvents
	if maxEvents == 0 {
		maxEvents = 500
	}
	if maxEvents < 0 || maxEvents > 5000 {
		return sever.ActionResult{}, activities.Permanent(activities.ErrInvalidArgument,
			fmt.Sprintf("%s: max_events %d is not between 1 and 5000", in.Action, args.MaxEvents), nil)
	}
	project := k.project(in.Credential)
	if project == "" || project == "-" {
		return sever.ActionResult{}, activities.Permanent(activities.ErrInvalidArgument,
			fmt.Sprintf("%s: key %s names no project whose audit logs to read (set the credential's account)", in.Action, k), nil)
	}
	s, err := a.loggingService(ctx, in.Action)
	if err != nil {
		return sever.ActionResult{}, err
	}
	since := a.now().Add(-lookback).UTC()
	req := &logging.ListLogEntriesRequest{
		ResourceNames: []string{"projects/" + project},
		Filter: fmt.Sprintf(`protoPayload.authenticationInfo.serviceAccountKeyName:"/keys/%s" AND timestamp>="%s"`,
			k.KeyID, since.Format(time.RFC3339)),
		OrderBy:  "timestamp asc",
		PageSize: int64(min(maxEvents, 1000)),
	}
	var entries []*logging.LogEntry
	truncated := false
	op := "list audit log entries of key " + k.String()
	for {
		resp, err := s.Entries.List(req).Context(ctx).Do()
		if err != nil {
			return sever.ActionResult{}, classify(in.Action, op, err)
		}
		entries = append(entries, resp.Entries...)
		if len(entries) >= maxEvents {
			truncated = len(entries) > maxEvents || resp.NextPageToken != ""
			entries = entries[:maxEvents]
			break
		}
		if resp.NextPageToken == "" {
			break
		}
		req.PageToken = resp.NextPageToken
		activities.RecordHeartbeat(ctx, fmt.Sprintf("%d audit log entries read", len(entries)))
	}
	body, err := json.Marshal(entries)
	if err != nil {
		return sever.ActionResult{}, fmt.Errorf("%s: %s: encode entries: %w", in.Action, op, err)
	}
	methods, ips := map[string]bool{}, map[string]bool{}
	first, last := "", ""
	for _, e := range entries {
		var p struct {
			MethodName      string `json:"methodName"`
			RequestMetadata struct {
				CallerIP string `json:"callerIp"`
			} `json:"requestMetadata"`
		}
		_ = json.Unmarshal(e.ProtoPayload, &p)
		if p.MethodName != "" {
			methods[p.MethodName] = true
		}
		if p.RequestMetadata.CallerIP != "" {
			ips[p.RequestMetadata.CallerIP] = true
		}
		if first == "" || e.Timestamp < first {
			first = e.Timestamp
		}
		if e.Timestamp > last {
			last = e.Timestamp
		}
	}
	out := sever.Values{"key": k.String(), "project": project, "count": len(entries), "truncated": truncated,
		"methods": bounded(methods, 50), "caller_ips": bounded(ips, 50), "first": first, "last": last, "since": since.Format(time.RFC3339)}
	return sever.ActionResult{Verified: true, Actor: a.actor(), Output: out,
		Summary:  fmt.Sprintf("%d audit log entries made with key %s since %s", len(entries), k, since.Format(time.RFC3339)),
		Evidence: []sever.Artifact{{Name: "gcp-audit-" + k.KeyID + ".json", SHA256: sever.SHA256Hex(body), Size: int64(len(body))}}}, nil
}

// bounded returns at most n of set's members, sorted.
func bounded(set map[string]bool, n int) []string {
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	slices.Sort(out)
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// retryableErr is an error of a stable type that Temporal retries.
func retryableErr(errType, msg string) error { return temporal.NewApplicationError(msg, errType) }
