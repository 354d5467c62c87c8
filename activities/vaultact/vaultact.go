// Package vaultact holds the HashiCorp Vault actions: looking a token up by its
// accessor, revoking it (with its child tokens and their leases), revoking the
// leases under a prefix, reading each back, and reading the requests a token made
// from a file audit device as evidence.
//
// An incident about a Vault token names the token's accessor, never the token:
// Vault looks tokens up and revokes them by accessor, so sever never holds the
// stolen token. A credential id with the shape of a token is refused without
// being echoed. The actions speak to Vault with its own Go client
// (github.com/hashicorp/vault/api), configured from the standard VAULT_*
// environment (VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_CACERT, …)
// unless Activities says otherwise.
package vaultact

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	vault "github.com/hashicorp/vault/api"
	"go.temporal.io/sdk/temporal"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
)

// Error types of failures Temporal retries.
const (
	ErrThrottled   = "VaultThrottled"
	ErrUnavailable = "VaultUnavailable"
	// ErrNotRevoked is a read-back that still finds the token or leases: Vault
	// revokes leases asynchronously after revoke-prefix returns.
	ErrNotRevoked = "VaultNotRevoked"
)

// TokenSource returns the Vault token sever authenticates with. It is called
// once per action, so a renewed token is picked up without a restart.
type TokenSource func(ctx context.Context) (string, error)

// StaticToken is a TokenSource for a token already in hand (the drill cloud's).
func StaticToken(v string) TokenSource {
	return func(context.Context) (string, error) { return v, nil }
}

// Activities holds how sever reaches Vault. Unset fields fall back to the
// client's standard environment: VAULT_ADDR for the address, VAULT_TOKEN (or the
// token helper's file) for the token. With neither an address nor VAULT_ADDR,
// Vault is not configured and every action fails AccessDenied naming it.
type Activities struct {
	// Address is Vault's address; "" = VAULT_ADDR.
	Address string
	// Token authenticates sever; nil = the client's own (VAULT_TOKEN).
	Token TokenSource
	// AuditLog is where vault.audit.lookup_events reads a file audit device's log
	// (a copy shipped to the worker); "" = the device's own file_path.
	AuditLog string
	// HTTP is the client of every call; nil = the Vault client's default, which
	// honours VAULT_CACERT and the other TLS settings.
	HTTP *http.Client
	// Getenv reads the environment; nil = os.Getenv. Tests replace it.
	Getenv func(string) string
}

// Register registers the Vault actions under their catalog names.
func (a *Activities) Register(r activities.Registrar) {
	activities.Register(r, sever.ActionVaultLookupAccessor, a.LookupAccessor)
	activities.Register(r, sever.ActionVaultRevokeAccessor, a.RevokeAccessor)
	activities.Register(r, sever.ActionVaultAccessorStatus, a.AccessorStatus)
	activities.Register(r, sever.ActionVaultRevokeLeasePrefix, a.RevokeLeasePrefix)
	activities.Register(r, sever.ActionVaultLeasePrefixStatus, a.LeasePrefixStatus)
	activities.Register(r, sever.ActionVaultAuditEvents, a.AuditEvents)
}

// Args are the arguments of the Vault actions.
type Args struct {
	Reason string `json:"reason"`
	// Expect is what the status actions verify: revoked or active for a token
	// (default revoked), absent or present for leases (default absent).
	Expect string `json:"expect"`
	// Prefix is a lease prefix, e.g. "aws/creds/deploy/".
	Prefix string `json:"prefix"`
	// Device is the audit device's path, e.g. "file/"; "" = the first file device.
	Device string `json:"device"`
	// MaxEvents bounds the audit entries read back (default 1000).
	MaxEvents int `json:"max_events"`
}

// Vault accessors are 24 base62 characters (with ".<namespace id>" in a
// namespace) or, from older versions, UUIDs.
var accessorRE = regexp.MustCompile(`^[A-Za-z0-9-]{8,64}(\.[A-Za-z0-9]{1,32})?$`)

// tokenPrefixes are the prefixes of Vault token values: service, batch and
// recovery tokens, current and legacy.
var tokenPrefixes = []string{"hvs.", "hvb.", "hvr.", "s.", "b.", "r."}

// LooksLikeToken reports whether id has the shape of a Vault token rather than
// an accessor, so a token put where an accessor belongs is refused unquoted.
func LooksLikeToken(id string) bool {
	for _, p := range tokenPrefixes {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}

// ParseAccessor checks that id is a Vault token accessor. Errors never quote an
// id that looks like a token.
func ParseAccessor(id string) (string, error) {
	switch {
	case LooksLikeToken(id):
		return "", errors.New("credential id has the shape of a Vault token, not of its accessor; a token must never be an id (name the token by its accessor)")
	case !accessorRE.MatchString(id):
		return "", fmt.Errorf("credential id %q is not a Vault token accessor", id)
	}
	return id, nil
}

// session is one action call's client.
type session struct {
	action string
	c      *vault.Client
}

func (a *Activities) getenv(k string) string {
	if a != nil && a.Getenv != nil {
		return a.Getenv(k)
	}
	return os.Getenv(k)
}

func (a *Activities) actor() string { return "vault-token:sever" }

// begin checks the incident's credential and builds a Vault client.
func (a *Activities) begin(ctx context.Context, in sever.ActionInput, args *Args) (*session, string, error) {
	if err := activities.DecodeArgs(in.Action, in.Args, args); err != nil {
		return nil, "", err
	}
	if in.Credential.Type != sever.CredVaultToken {
		return nil, "", activities.Permanent(activities.ErrUnsupported, fmt.Sprintf("%s: credential type %s is not a Vault token (want %s)",
			in.Action, in.Credential.Type, sever.CredVaultToken), nil)
	}
	acc, err := ParseAccessor(in.Credential.ID)
	if err != nil {
		return nil, "", activities.Permanent(activities.ErrInvalidArgument, in.Action, err)
	}
	s, err := a.client(ctx, in.Action)
	return s, acc, err
}

func (a *Activities) client(ctx context.Context, action string) (*session, error) {
	if a == nil || (a.Address == "" && a.getenv(vault.EnvVaultAddress) == "") {
		return nil, activities.Permanent(activities.ErrAccessDenied,
			action+": sever has no Vault (set VAULT_ADDR and VAULT_TOKEN for the worker)", nil)
	}
	cfg := vault.DefaultConfig()
	if cfg.Error != nil {
		return nil, activities.Permanent(activities.ErrInvalidArgument, action+": Vault client settings (VAULT_*)", cfg.Error)
	}
	if a.Address != "" {
		cfg.Address = a.Address
	}
	if a.HTTP != nil {
		cfg.HttpClient = a.HTTP
	}
	// Temporal retries the step; the client's own retries would hide throttling
	// and outages from the step's record.
	cfg.MaxRetries = 0
	if cfg.Timeout == 0 || cfg.Timeout > 30*time.Second {
		cfg.Timeout = 30 * time.Second
	}
	c, err := vault.NewClient(cfg)
	if err != nil {
		return nil, activities.Permanent(activities.ErrInvalidArgument, action+": Vault client", err)
	}
	if a.Token != nil {
		tok, err := a.Token(ctx)
		if err != nil {
			// The resolver's error names the reference, never the value.
			return nil, fmt.Errorf("%s: resolve the Vault token: %w", action, err)
		}
		c.SetToken(tok)
	}
	if c.Token() == "" {
		return nil, activities.Permanent(activities.ErrAccessDenied, action+": sever has no Vault token (set VAULT_TOKEN for the worker)", nil)
	}
	return &session{action: action, c: c}, nil
}

// classify turns a Vault client error into a step error: 429 and 5xx (and
// transport failures) are retried, the rest are permanent. Vault's error strings
// are quoted, bounded; they name paths and policies, never tokens.
func (s *session) classify(op string, err error) error {
	var re *vault.ResponseError
	if !errors.As(err, &re) {
		return fmt.Errorf("%s: %s: %w", s.action, op, err)
	}
	msg := strings.Join(re.Errors, "; ")
	if re.RawError {
		msg = "(unparsable error body)"
	}
	if len(msg) > 200 {
		msg = msg[:200]
	}
	text := fmt.Sprintf("%s: %s: Vault answered %d %q", s.action, op, re.StatusCode, msg)
	switch {
	case re.StatusCode == http.StatusTooManyRequests:
		return temporal.NewApplicationError(text, ErrThrottled)
	case re.StatusCode >= 500, re.StatusCode == http.StatusPreconditionFailed:
		// 412: a performance standby not yet caught up; 503: sealed or standby.
		return temporal.NewApplicationError(text, ErrUnavailable)
	case re.StatusCode == http.StatusUnauthorized, re.StatusCode == http.StatusForbidden:
		return activities.Permanent(activities.ErrAccessDenied, text, nil)
	case re.StatusCode == http.StatusNotFound, isInvalidAccessor(re):
		return activities.Permanent(activities.ErrNotFound, text, nil)
	}
	return activities.Permanent(activities.ErrInvalidArgument, text, nil)
}

// isInvalidAccessor is Vault's answer to lookup-accessor and revoke-accessor for
// an accessor it does not know: a revoked or expired token, or none at all.
func isInvalidAccessor(re *vault.ResponseError) bool {
	return re.StatusCode == http.StatusBadRequest && slices.ContainsFunc(re.Errors, func(e string) bool {
		return strings.Contains(e, "invalid accessor")
	})
}

func notFound(err error) bool {
	var re *vault.ResponseError
	return errors.As(err, &re) && (isInvalidAccessor(re) || re.StatusCode == http.StatusNotFound)
}

// lookup returns the token's facts, or nil when Vault does not know the accessor.
func (s *session) lookup(ctx context.Context, acc string) (sever.Values, error) {
	sec, err := s.c.Auth().Token().LookupAccessorWithContext(ctx, acc)
	if notFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, s.classify("lookup-accessor "+acc, err)
	}
	if sec == nil || sec.Data == nil {
		return nil, fmt.Errorf("%s: lookup-accessor %s: Vault answered no data", s.action, acc)
	}
	return tokenFacts(acc, sec.Data), nil
}

// tokenFacts keeps what a lookup says about a token that is safe to record: never
// its id (Vault blanks it for lookup-accessor, and sever drops it regardless).
func tokenFacts(acc string, d map[string]any) sever.Values {
	out := sever.Values{"accessor": acc}
	for _, k := range []string{"display_name", "policies", "path", "entity_id", "expire_time", "ttl",
		"creation_time", "orphan", "type", "num_uses", "renewable", "explicit_max_ttl"} {
		if v, ok := d[k]; ok && v != nil {
			out[k] = v
		}
	}
	return out
}

// LookupAccessor is vault.token.lookup_accessor: what the token can reach
// (policies, auth path, entity, TTL). It fails NotFound when Vault does not know
// the accessor, so a typo does not pass for a token already gone.
func (a *Activities) LookupAccessor(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args Args
	s, acc, err := a.begin(ctx, in, &args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	facts, err := s.lookup(ctx, acc)
	if err != nil {
		return sever.ActionResult{}, err
	}
	if facts == nil {
		return sever.ActionResult{}, activities.Permanent(activities.ErrNotFound, fmt.Sprintf(
			"%s: Vault does not know accessor %s: the token was revoked or expired, or the accessor is of another Vault or namespace", in.Action, acc), nil)
	}
	return sever.ActionResult{Actor: a.actor(), Output: facts,
		Summary: fmt.Sprintf("Vault token %s (%v) is live with policies %v", acc, facts["display_name"], facts["policies"])}, nil
}

// revokeProgress is the heartbeat detail recorded just before revoke-accessor
// is sent, so a retry that finds the accessor gone knows this step revoked it.
const revokeProgress = "vault: revoke-accessor sent for "

// RevokeAccessor is vault.token.revoke_accessor. It looks the token up, revokes it
// by accessor (Vault takes its child tokens and their leases along), and looks it
// up again: verified when Vault no longer knows the accessor. A retry that finds
// the accessor gone after an earlier attempt sent the revocation is verified
// without sending it again; an accessor Vault never knew fails NotFound rather
// than pass for contained. Revocation cannot be undone.
func (a *Activities) RevokeAccessor(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args Args
	s, acc, err := a.begin(ctx, in, &args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	before, err := s.lookup(ctx, acc)
	if err != nil {
		return sever.ActionResult{}, err
	}
	res := sever.ActionResult{Enforcement: sever.EnterpriseEnforced, Actor: a.actor()}
	if before == nil {
		if !activities.SentBefore(ctx, revokeProgress+acc) {
			return sever.ActionResult{}, activities.Permanent(activities.ErrNotFound, fmt.Sprintf(
				"%s: Vault does not know accessor %s: the token was revoked or expired before sever acted, or the accessor is of another Vault or namespace; not claiming containment",
				in.Action, acc), nil)
		}
		res.Verified, res.Output = true, sever.Values{"accessor": acc, "lookup": "invalid accessor"}
		res.Summary = fmt.Sprintf("Vault token %s was revoked by an earlier attempt; Vault no longer knows its accessor", acc)
		return res, nil
	}
	activities.RecordHeartbeat(ctx, revokeProgress+acc)
	if err := s.c.Auth().Token().RevokeAccessorWithContext(ctx, acc); err != nil && !notFound(err) {
		return sever.ActionResult{}, s.classify("revoke-accessor "+acc, err)
	}
	res.Changed = true
	after, err := s.lookup(ctx, acc)
	if err != nil {
		return sever.ActionResult{}, err
	}
	if after != nil {
		return sever.ActionResult{}, temporal.NewApplicationError(fmt.Sprintf(
			"%s: Vault still knows accessor %s after revoke-accessor", in.Action, acc), ErrNotRevoked)
	}
	before["lookup_after"] = "invalid accessor"
	res.Verified, res.Output = true, before
	res.Summary = fmt.Sprintf("Vault token %s (%v, policies %v) revoked with its child tokens and leases; Vault no longer knows its accessor",
		acc, before["display_name"], before["policies"])
	return res, nil
}

// AccessorStatus is vault.token.accessor_status: verified when Vault no longer
// knows the accessor (expect revoked, the default) or still does (expect active).
func (a *Activities) AccessorStatus(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args Args
	s, acc, err := a.begin(ctx, in, &args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	expect, err := activities.Expect(in.Action, args.Expect, "revoked", "active")
	if err != nil {
		return sever.ActionResult{}, err
	}
	facts, err := s.lookup(ctx, acc)
	if err != nil {
		return sever.ActionResult{}, err
	}
	state := "active"
	if facts == nil {
		state, facts = "revoked", sever.Values{"accessor": acc, "lookup": "invalid accessor"}
	}
	facts["state"] = state
	return sever.ActionResult{Verified: state == expect, Actor: a.actor(), Output: facts,
		Summary: fmt.Sprintf("Vault token %s: %s", acc, state)}, nil
}

// CheckLeasePrefix refuses a lease prefix that would reach beyond one secrets
// mount: revoke-prefix of "" or "aws/" revokes every lease there is, or every
// lease of a whole engine.
func CheckLeasePrefix(p string) error {
	switch {
	case p == "":
		return errors.New("prefix is required")
	case len(p) > 512:
		return errors.New("prefix is longer than 512 characters")
	case strings.HasPrefix(p, "/"), strings.Contains(p, "//"), strings.Contains(p, ".."),
		strings.ContainsAny(p, "?#%\\ \t\r\n"):
		return fmt.Errorf("prefix %q is not a Vault lease path", p)
	case strings.Count(strings.TrimSuffix(p, "/"), "/") < 1:
		return fmt.Errorf("prefix %q names a whole secrets engine; name a role or path below it (e.g. aws/creds/deploy/)", p)
	}
	return nil
}

// leaseDir is a lease prefix as Vault reads it: a path of lease ids, whatever
// the trailing slash ("aws/creds/deploy" covers aws/creds/deploy/…, never
// aws/creds/deploy-old/…).
func leaseDir(prefix string) string { return strings.TrimSuffix(prefix, "/") + "/" }

// leasesUnder counts the live leases under dir (sys/leases/lookup lists one
// level, as Vault's LIST does: lease ids and sub-paths).
func (s *session) leasesUnder(ctx context.Context, dir string) (int, []string, error) {
	sec, err := s.c.Logical().ListWithContext(ctx, "sys/leases/lookup/"+dir)
	if err != nil {
		var re *vault.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return 0, nil, nil
		}
		return 0, nil, s.classify("list leases under "+dir, err)
	}
	if sec == nil || sec.Data == nil {
		return 0, nil, nil
	}
	raw, _ := sec.Data["keys"].([]any)
	var keys []string
	for _, k := range raw {
		if ks, ok := k.(string); ok {
			keys = append(keys, ks)
		}
	}
	sample := keys
	if len(sample) > 20 {
		sample = sample[:20]
	}
	return len(keys), sample, nil
}

// RevokeLeasePrefix is vault.sys.revoke_lease_prefix: it revokes every lease under
// the prefix and lists the prefix again; verified when none is left. Vault
// revokes leases in the background, so leases still listed are retried
// (ErrNotRevoked), not reported as contained.
func (a *Activities) RevokeLeasePrefix(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args Args
	if err := activities.DecodeArgs(in.Action, in.Args, &args); err != nil {
		return sever.ActionResult{}, err
	}
	if err := CheckLeasePrefix(args.Prefix); err != nil {
		return sever.ActionResult{}, activities.Permanent(activities.ErrInvalidArgument, in.Action, err)
	}
	s, err := a.client(ctx, in.Action)
	if err != nil {
		return sever.ActionResult{}, err
	}
	dir := leaseDir(args.Prefix)
	n, _, err := s.leasesUnder(ctx, dir)
	if err != nil {
		return sever.ActionResult{}, err
	}
	res := sever.ActionResult{Enforcement: sever.EnterpriseEnforced, Actor: a.actor()}
	if n > 0 {
		activities.RecordHeartbeat(ctx, "vault: revoke-prefix sent for "+dir)
		if err := s.c.Sys().RevokePrefixWithContext(ctx, dir); err != nil {
			return sever.ActionResult{}, s.classify("revoke-prefix "+dir, err)
		}
		res.Changed = true
	}
	left, sample, err := s.leasesUnder(ctx, dir)
	if err != nil {
		return sever.ActionResult{}, err
	}
	if left > 0 {
		return sever.ActionResult{}, temporal.NewApplicationError(fmt.Sprintf(
			"%s: %d leases still under %s after revoke-prefix (e.g. %v)", in.Action, left, dir, sample), ErrNotRevoked)
	}
	res.Verified = true
	res.Output = sever.Values{"prefix": dir, "leases_before": n, "leases_after": 0}
	res.Summary = fmt.Sprintf("%d Vault leases under %s revoked; none left", n, dir)
	if n == 0 {
		res.Summary = fmt.Sprintf("no Vault leases under %s; nothing to revoke", dir)
	}
	return res, nil
}

// LeasePrefixStatus is vault.sys.lease_prefix_status: verified when no lease is
// left under the prefix (expect absent, the default) or some are (expect present).
func (a *Activities) LeasePrefixStatus(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args Args
	if err := activities.DecodeArgs(in.Action, in.Args, &args); err != nil {
		return sever.ActionResult{}, err
	}
	if err := CheckLeasePrefix(args.Prefix); err != nil {
		return sever.ActionResult{}, activities.Permanent(activities.ErrInvalidArgument, in.Action, err)
	}
	expect, err := activities.Expect(in.Action, args.Expect, "absent", "present")
	if err != nil {
		return sever.ActionResult{}, err
	}
	s, err := a.client(ctx, in.Action)
	if err != nil {
		return sever.ActionResult{}, err
	}
	dir := leaseDir(args.Prefix)
	n, sample, err := s.leasesUnder(ctx, dir)
	if err != nil {
		return sever.ActionResult{}, err
	}
	ok := (n == 0) == (expect == "absent")
	return sever.ActionResult{Verified: ok, Actor: a.actor(),
		Output:  sever.Values{"prefix": dir, "leases": n, "sample": sample},
		Summary: fmt.Sprintf("%d Vault leases or lease paths under %s", n, dir)}, nil
}

// maxAuditBytes bounds how much of an audit log one action reads.
const maxAuditBytes = 512 << 20

// AuditEvents is vault.audit.lookup_events: read-only evidence of what the token
// did. It finds the file audit device (sys/audit), has Vault hash the accessor as
// that device does (sys/audit-hash), and reads the device's log for entries made
// with the token. It records their count, paths, operations, source addresses
// and time span, and the SHA-256 of the matching lines; the lines themselves,
// which hold HMACs of the token, are not copied.
func (a *Activities) AuditEvents(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args Args
	s, acc, err := a.begin(ctx, in, &args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	maxEvents := args.MaxEvents
	if maxEvents <= 0 {
		maxEvents = 1000
	}
	devs, err := s.c.Sys().ListAuditWithContext(ctx)
	if err != nil {
		return sever.ActionResult{}, s.classify("list audit devices", err)
	}
	name, dev := pickDevice(devs, args.Device)
	if dev == nil {
		want := "a file audit device"
		if args.Device != "" {
			want = "file audit device " + args.Device
		}
		return sever.ActionResult{}, activities.Permanent(activities.ErrNotFound, fmt.Sprintf("%s: Vault has no %s to read", in.Action, want), nil)
	}
	file := cmp.Or(a.AuditLog, dev.Options["file_path"])
	if file == "" || file == "stdout" || file == "discard" {
		return sever.ActionResult{}, activities.Permanent(activities.ErrUnsupported, fmt.Sprintf(
			"%s: audit device %s writes to %q, not a file sever can read; ship the log to the worker and name it", in.Action, name, file), nil)
	}
	hashed, err := s.c.Sys().AuditHashWithContext(ctx, strings.TrimSuffix(name, "/"), acc)
	if err != nil {
		return sever.ActionResult{}, s.classify("audit-hash on "+name, err)
	}
	f, err := os.Open(file)
	if err != nil {
		return sever.ActionResult{}, activities.Permanent(activities.ErrNotFound, fmt.Sprintf("%s: open audit log of device %s", in.Action, name), err)
	}
	defer f.Close()
	m, err := matchAudit(io.LimitReader(f, maxAuditBytes), []string{hashed, acc}, maxEvents)
	if err != nil {
		return sever.ActionResult{}, fmt.Errorf("%s: read audit log %s: %w", in.Action, file, err)
	}
	out := m.values()
	out["device"], out["file"] = name, file
	return sever.ActionResult{Actor: a.actor(), Output: out, Verified: true,
		Evidence: []sever.Artifact{{Name: "vault-audit-" + strings.TrimSuffix(name, "/") + "-" + acc + ".jsonl",
			URI: "file://" + file, SHA256: m.sha256(), Size: m.size}},
		Summary: fmt.Sprintf("%d audit entries made with Vault token %s in device %s", m.count, acc, name)}, nil
}

func pickDevice(devs map[string]*vault.Audit, want string) (string, *vault.Audit) {
	names := make([]string, 0, len(devs))
	for n := range devs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		d := devs[n]
		if d == nil || d.Type != "file" {
			continue
		}
		if want == "" || strings.TrimSuffix(n, "/") == strings.TrimSuffix(want, "/") {
			return n, d
		}
	}
	return "", nil
}

// auditMatch is what the matching entries of an audit log say.
type auditMatch struct {
	count       int
	truncated   bool
	size        int64
	h           hashWriter
	paths, ips  []string
	operations  map[string]int
	first, last string
	errors      int
}

type hashWriter struct{ sum [32]byte }

func (m *auditMatch) sha256() string { return hex.EncodeToString(m.h.sum[:]) }

func (m *auditMatch) values() sever.Values {
	return sever.Values{"events": m.count, "truncated": m.truncated, "paths": m.paths, "source_addresses": m.ips,
		"operations": m.operations, "first": m.first, "last": m.last, "errors": m.errors}
}

// auditEntry is the part of a Vault audit entry that is read.
type auditEntry struct {
	Time string `json:"time"`
	Auth *struct {
		Accessor string `json:"accessor"`
	} `json:"auth"`
	Request *struct {
		Operation     string `json:"operation"`
		Path          string `json:"path"`
		RemoteAddress string `json:"remote_address"`
	} `json:"request"`
	Error string `json:"error"`
}

// matchAudit reads JSON-lines audit entries and keeps those whose auth.accessor
// is one of accessors (the HMAC, or the clear accessor when the device has
// hmac_accessor off). The SHA-256 chains the matching lines in order.
func matchAudit(r io.Reader, accessors []string, maxEvents int) (*auditMatch, error) {
	m := &auditMatch{operations: map[string]int{}}
	h := sha256.New()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e auditEntry
		if json.Unmarshal(line, &e) != nil || e.Auth == nil || e.Auth.Accessor == "" || !slices.Contains(accessors, e.Auth.Accessor) {
			continue
		}
		if m.count >= maxEvents {
			m.truncated = true
			break
		}
		m.count++
		h.Write(line)
		h.Write([]byte{'\n'})
		m.size += int64(len(line) + 1)
		if m.first == "" {
			m.first = e.Time
		}
		m.last = e.Time
		if e.Error != "" {
			m.errors++
		}
		if e.Request != nil {
			m.operations[e.Request.Operation]++
			if !slices.Contains(m.paths, e.Request.Path) && len(m.paths) < 50 {
				m.paths = append(m.paths, e.Request.Path)
			}
			if !slices.Contains(m.ips, e.Request.RemoteAddress) && len(m.ips) < 50 {
				m.ips = append(m.ips, e.Request.RemoteAddress)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	copy(m.h.sum[:], h.Sum(nil))
	return m, nil
}
