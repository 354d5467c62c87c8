package drillcloud

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Vault twin defaults. The compromised token is named by its accessor, which is
// not a secret: Vault looks tokens up and revokes them by accessor.
const (
	// DefaultVaultAccessor is the accessor of the default compromised Vault token.
	DefaultVaultAccessor = "drillVaultAccessor0000001"
	// DefaultVaultLeaseMount is where the compromised token mints dynamic
	// credentials, so its leases sit under DefaultVaultLeasePrefix.
	DefaultVaultLeaseMount  = "aws/creds/deploy"
	DefaultVaultLeasePrefix = DefaultVaultLeaseMount + "/"
	// DefaultVaultAuditPath is the path of the twin's file audit device.
	DefaultVaultAuditPath = "file/"
	// VaultService names the twin in the call log and in Fault.Service.
	VaultService = "vault"
	vaultVersion = "1.19.0"
)

// Vault operations as the call log and faults name them.
const (
	VaultOpLookupAccessor = "LookupAccessor"
	VaultOpRevokeAccessor = "RevokeAccessor"
	VaultOpLookupSelf     = "LookupSelf"
	VaultOpReadSecret     = "ReadSecret"
	VaultOpCreds          = "GenerateCredentials"
	VaultOpRevokePrefix   = "RevokePrefix"
	VaultOpListLeases     = "ListLeases"
	VaultOpListAudit      = "ListAudit"
	VaultOpAuditHash      = "AuditHash"
	VaultOpHealth         = "Health"
)

// VaultTwin is a look-alike of the Vault HTTP API that sever's vault.* actions
// and an attacker use, authenticated by the X-Vault-Token header as Vault does:
// token lookup and revocation by accessor (children and their leases go with
// the token), lease listing and revocation by prefix, a KV read and a dynamic
// credentials mount for the attacker, and a file audit device whose entries hash
// tokens and accessors with HMAC-SHA256 as Vault's do (sys/audit-hash computes the
// same hash). The real github.com/hashicorp/vault/api client works against it
// unmodified. Safe for concurrent use.
type VaultTwin struct {
	mu         sync.Mutex
	tokens     map[string]*vaultToken // by token value
	byAccessor map[string]*vaultToken
	leases     map[string]string // lease id → accessor of the token that minted it
	salt       []byte            // HMAC key of the audit device
	auditFile  string            // "" keeps the audit log in memory only
	audit      []byte            // the audit log, JSON lines
	calls      map[string]int
	cloud      *Cloud // faults and call log, when served on a drill cloud
	now        func() time.Time
}

type vaultToken struct {
	value, accessor, displayName, path, parent, entityID string
	policies                                             []string
	created                                              time.Time
	ttl                                                  time.Duration
}

// NewVaultTwin returns a twin whose audit device writes to auditFile ("" keeps
// the log in memory; AuditLog returns it either way), with one root-like
// responder token (its value is returned) and no other tokens.
func NewVaultTwin(auditFile string) (*VaultTwin, string) {
	v := &VaultTwin{tokens: map[string]*vaultToken{}, byAccessor: map[string]*vaultToken{}, leases: map[string]string{},
		salt: randBytes(32), auditFile: auditFile, calls: map[string]int{}, now: time.Now}
	responder := v.AddToken(TokenSpec{DisplayName: "sever-responder", Policies: []string{"sever-responder"}})
	return v, responder
}

// TokenSpec describes a token AddToken mints.
type TokenSpec struct {
	Accessor    string // "" = random
	DisplayName string
	Policies    []string
	Path        string // auth path that created it; default auth/token/create
	// Parent is the value of the parent token; a revoked parent takes it along.
	Parent   string
	EntityID string
	TTL      time.Duration // default 768h
}

// AddToken mints a live token and returns its value ("hvs." and random).
func (v *VaultTwin) AddToken(s TokenSpec) string {
	t := &vaultToken{value: "hvs." + randToken(24), accessor: s.Accessor, displayName: "token-" + s.DisplayName,
		path: s.Path, parent: s.Parent, entityID: s.EntityID, policies: append([]string{"default"}, s.Policies...), ttl: s.TTL}
	if t.accessor == "" {
		t.accessor = randToken(24)
	}
	if t.path == "" {
		t.path = "auth/token/create"
	}
	if t.ttl == 0 {
		t.ttl = 768 * time.Hour
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	t.created = v.now().UTC()
	v.tokens[t.value] = t
	v.byAccessor[t.accessor] = t
	return t.value
}

// TokenOf returns the value of the live token with accessor, as an attacker who
// stole it holds it (drills only: sever never asks for a token's value).
func (v *VaultTwin) TokenOf(accessor string) (string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if t := v.byAccessor[accessor]; t != nil {
		return t.value, true
	}
	return "", false
}

// AddLease records a lease under mount minted by the token with accessor, as
// reading mount (a dynamic secrets path) with the token would, and returns its id.
func (v *VaultTwin) AddLease(mount, accessor string) string {
	id := strings.TrimSuffix(mount, "/") + "/" + randToken(24)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.leases[id] = accessor
	return id
}

// TokenLive reports whether the token with accessor can still be used.
func (v *VaultTwin) TokenLive(accessor string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.byAccessor[accessor] != nil
}

// Leases returns the live lease ids under prefix, sorted.
func (v *VaultTwin) Leases(prefix string) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for id := range v.leases {
		if strings.HasPrefix(id, prefix) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// Calls returns how many times op (VaultOp…) was served.
func (v *VaultTwin) Calls(op string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.calls[op]
}

// AuditLog returns the audit device's log, JSON lines as Vault's file device writes.
func (v *VaultTwin) AuditLog() []byte {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.audit)
}

// AuditFile is the file the audit device writes, or "".
func (v *VaultTwin) AuditFile() string { return v.auditFile }

// Hash is the audit device's hash of s: "hmac-sha256:" and the hex HMAC.
func (v *VaultTwin) Hash(s string) string {
	m := hmac.New(sha256.New, v.salt)
	m.Write([]byte(s))
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))
}

// RevokeByVault revokes the token with accessor as Vault itself would (a TTL
// running out, an operator at the CLI), not through the twin's API.
func (v *VaultTwin) RevokeByVault(accessor string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if t := v.byAccessor[accessor]; t != nil {
		v.revokeLocked(t)
	}
}

// IsVaultRequest reports whether r is for the Vault twin: Vault's clients send
// X-Vault-Request or X-Vault-Token, which no AWS, provider or GitHub client does.
func IsVaultRequest(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/v1/") && (r.Header.Get("X-Vault-Request") != "" || r.Header.Get("X-Vault-Token") != "")
}

// ServeVault serves twin on the cloud's listener: requests with Vault's headers
// go to it (see IsVaultRequest), and injected faults with Service "vault" and
// KeyID the caller's accessor apply to its calls, which the call log records.
func (c *Cloud) ServeVault(twin *VaultTwin) {
	twin.mu.Lock()
	twin.cloud = c
	twin.mu.Unlock()
	c.vault.Store(twin)
}

// Vault returns the Vault twin ServeVault installed, or nil.
func (c *Cloud) Vault() *VaultTwin { return c.vault.Load() }

func vaultJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// vaultResult is one served call, for the response, the audit log and the call log.
type vaultResult struct {
	status  int
	body    any // nil = no body (204)
	errs    []string
	applied bool
	fault   FaultKind
}

// ServeHTTP serves the Vault endpoints.
func (v *VaultTwin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		vaultJSON(w, http.StatusBadRequest, map[string][]string{"errors": {"failed to read request body"}})
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	method := r.Method
	if method == http.MethodGet && r.URL.Query().Get("list") == "true" {
		method = "LIST"
	}
	op, params, input := vaultOp(method, path, body)
	v.mu.Lock()
	caller := v.tokens[r.Header.Get("X-Vault-Token")]
	cloud := v.cloud
	v.mu.Unlock()

	var res vaultResult
	switch {
	case op == "":
		res = vaultResult{status: http.StatusNotFound, errs: []string{"no handler for route \"" + path + "\""}}
	case op == VaultOpHealth:
		res = vaultResult{status: http.StatusOK, body: map[string]any{"initialized": true, "sealed": false, "standby": false, "version": vaultVersion}}
	case caller == nil:
		// Vault answers an unknown or revoked token with 403, whatever the path.
		res = vaultResult{status: http.StatusForbidden, errs: []string{"permission denied"}}
	default:
		ids := []string{caller.accessor}
		if slices.Contains(caller.policies, "sever-responder") {
			ids = append(ids, FaultCallerResponder)
		}
		fr, answered := v.fault(w, r, cloud, op, ids...)
		if answered {
			v.finish(w, r, op, params, caller, fr)
			return
		}
		v.mu.Lock()
		res = v.handleLocked(op, path, params, input, caller)
		v.mu.Unlock()
		// A latency or drop_response fault lets the call through; finish drops
		// the answer of the latter after the call applied.
		res.fault = fr.fault
	}
	v.finish(w, r, op, params, caller, res)
}

// fault applies the cloud's injected faults to a call; ok means it answered.
// c is nil for a twin served on its own.
func (v *VaultTwin) fault(w http.ResponseWriter, r *http.Request, c *Cloud, op string, keyIDs ...string) (vaultResult, bool) {
	kind := c.twinFault(r, VaultService, op, keyIDs...)
	switch kind {
	case FaultThrottle:
		// Vault's rate limit quota answers 429 with Retry-After.
		w.Header().Set("Retry-After", "1")
		return vaultResult{status: http.StatusTooManyRequests, errs: []string{"request path \"" + strings.TrimPrefix(r.URL.Path, "/v1/") + "\": rate limit quota exceeded"}, fault: kind}, true
	case FaultServerError:
		return vaultResult{status: http.StatusInternalServerError, errs: []string{"internal error"}, fault: kind}, true
	case FaultAccessDenied:
		return vaultResult{status: http.StatusForbidden, errs: []string{"permission denied"}, fault: kind}, true
	}
	return vaultResult{fault: kind}, false
}

// vaultOp names the operation of a request and its non-secret parameters;
// input is what sys/audit-hash is asked to hash, kept out of params because it
// may be a token.
func vaultOp(method, path string, body []byte) (op string, params map[string]string, input string) {
	var in map[string]any
	_ = json.Unmarshal(body, &in)
	str := func(k string) string { s, _ := in[k].(string); return s }
	post := method == http.MethodPost || method == http.MethodPut
	switch {
	case method == http.MethodGet && path == "sys/health":
		return VaultOpHealth, nil, ""
	case post && path == "auth/token/lookup-accessor":
		return VaultOpLookupAccessor, map[string]string{"accessor": str("accessor")}, ""
	case post && path == "auth/token/revoke-accessor":
		return VaultOpRevokeAccessor, map[string]string{"accessor": str("accessor")}, ""
	case method == http.MethodGet && path == "auth/token/lookup-self":
		return VaultOpLookupSelf, nil, ""
	case method == http.MethodGet && strings.HasPrefix(path, "secret/data/"):
		return VaultOpReadSecret, map[string]string{"path": path}, ""
	case (method == http.MethodGet || post) && path == DefaultVaultLeaseMount:
		return VaultOpCreds, map[string]string{"path": path}, ""
	case post && strings.HasPrefix(path, "sys/leases/revoke-prefix/"):
		return VaultOpRevokePrefix, map[string]string{"prefix": strings.TrimPrefix(path, "sys/leases/revoke-prefix/")}, ""
	case method == "LIST" && strings.HasPrefix(path, "sys/leases/lookup/"):
		return VaultOpListLeases, map[string]string{"prefix": strings.TrimPrefix(path, "sys/leases/lookup/")}, ""
	case method == http.MethodGet && path == "sys/audit":
		return VaultOpListAudit, nil, ""
	case post && strings.HasPrefix(path, "sys/audit-hash/"):
		return VaultOpAuditHash, map[string]string{"path": strings.TrimPrefix(path, "sys/audit-hash/")}, str("input")
	}
	return "", nil, ""
}

// privileged are the operations only the responder's policy allows; an attacker
// holding a stolen application token is refused them.
var vaultPrivileged = map[string]bool{VaultOpLookupAccessor: true, VaultOpRevokeAccessor: true, VaultOpRevokePrefix: true,
	VaultOpListLeases: true, VaultOpListAudit: true, VaultOpAuditHash: true}

func (v *VaultTwin) handleLocked(op, path string, params map[string]string, input string, caller *vaultToken) vaultResult {
	v.calls[op]++
	if vaultPrivileged[op] && !slices.Contains(caller.policies, "sever-responder") {
		return vaultResult{status: http.StatusForbidden, errs: []string{"1 error occurred:\n\t* permission denied\n\n"}}
	}
	now := v.now().UTC()
	switch op {
	case VaultOpLookupAccessor:
		t := v.byAccessor[params["accessor"]]
		if t == nil {
			return vaultResult{status: http.StatusBadRequest, errs: []string{"invalid accessor"}}
		}
		return vaultResult{status: http.StatusOK, body: vaultSecret(map[string]any{
			"accessor": t.accessor, "creation_time": t.created.Unix(), "creation_ttl": int64(t.ttl.Seconds()),
			"display_name": t.displayName, "entity_id": t.entityID, "expire_time": t.created.Add(t.ttl).Format(time.RFC3339Nano),
			"explicit_max_ttl": 0, "id": "", "issue_time": t.created.Format(time.RFC3339Nano), "meta": nil, "num_uses": 0,
			"orphan": t.parent == "", "path": t.path, "policies": t.policies, "renewable": true,
			"ttl": int64(t.created.Add(t.ttl).Sub(now).Seconds()), "type": "service"})}
	case VaultOpRevokeAccessor:
		t := v.byAccessor[params["accessor"]]
		if t == nil {
			return vaultResult{status: http.StatusBadRequest, errs: []string{"invalid accessor"}}
		}
		v.revokeLocked(t)
		return vaultResult{status: http.StatusNoContent, applied: true}
	case VaultOpLookupSelf:
		return vaultResult{status: http.StatusOK, body: vaultSecret(map[string]any{"accessor": caller.accessor,
			"display_name": caller.displayName, "policies": caller.policies, "id": caller.value})}
	case VaultOpReadSecret:
		return vaultResult{status: http.StatusOK, body: vaultSecret(map[string]any{
			"data": map[string]string{"db_password": "drill-not-a-real-password"}, "metadata": map[string]any{"version": 1}})}
	case VaultOpCreds:
		id := strings.TrimSuffix(path, "/") + "/" + randToken(24)
		v.leases[id] = caller.accessor
		return vaultResult{status: http.StatusOK, applied: true, body: map[string]any{"request_id": newUUID(), "lease_id": id,
			"lease_duration": 3600, "renewable": true, "data": map[string]string{"access_key": "AKIADRILL" + strings.ToUpper(randToken(11))}}}
	case VaultOpRevokePrefix:
		// As Vault reads a prefix: a path of lease ids, whatever the trailing slash.
		prefix, n := strings.TrimSuffix(params["prefix"], "/")+"/", 0
		for id := range v.leases {
			if strings.HasPrefix(id, prefix) {
				delete(v.leases, id)
				n++
			}
		}
		return vaultResult{status: http.StatusNoContent, applied: n > 0}
	case VaultOpListLeases:
		// LIST reads a directory; clients drop the trailing slash.
		prefix := strings.TrimSuffix(params["prefix"], "/") + "/"
		seen := map[string]bool{}
		var keys []string
		for id := range v.leases {
			rest, ok := strings.CutPrefix(id, prefix)
			if !ok {
				continue
			}
			// As Vault lists: the next path segment, folders with a trailing slash.
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				rest = rest[:i+1]
			}
			if rest != "" && !seen[rest] {
				seen[rest] = true
				keys = append(keys, rest)
			}
		}
		if len(keys) == 0 {
			return vaultResult{status: http.StatusNotFound}
		}
		slices.Sort(keys)
		return vaultResult{status: http.StatusOK, body: vaultSecret(map[string]any{"keys": keys})}
	case VaultOpListAudit:
		dev := map[string]any{"type": "file", "description": "drill audit log", "path": DefaultVaultAuditPath, "local": false,
			"options": map[string]string{"file_path": v.auditFile}}
		out := vaultSecret(map[string]any{DefaultVaultAuditPath: dev})
		out[DefaultVaultAuditPath] = dev
		return vaultResult{status: http.StatusOK, body: out}
	case VaultOpAuditHash:
		if params["path"] != DefaultVaultAuditPath && params["path"]+"/" != DefaultVaultAuditPath {
			return vaultResult{status: http.StatusBadRequest, errs: []string{"unknown audit backend " + params["path"]}}
		}
		return vaultResult{status: http.StatusOK, body: vaultSecret(map[string]any{"hash": v.Hash(input)})}
	}
	return vaultResult{status: http.StatusNotFound, errs: []string{"unsupported path"}}
}

// revokeLocked revokes t, its children, and every lease they minted.
func (v *VaultTwin) revokeLocked(t *vaultToken) {
	delete(v.tokens, t.value)
	delete(v.byAccessor, t.accessor)
	for id, acc := range v.leases {
		if acc == t.accessor {
			delete(v.leases, id)
		}
	}
	for _, c := range v.tokens {
		if c.parent == t.value {
			v.revokeLocked(c)
		}
	}
}

func vaultSecret(data map[string]any) map[string]any {
	return map[string]any{"request_id": newUUID(), "lease_id": "", "lease_duration": 0, "renewable": false,
		"data": data, "wrap_info": nil, "warnings": nil, "auth": nil}
}

// finish writes the response, the audit entry and the call-log event.
func (v *VaultTwin) finish(w http.ResponseWriter, r *http.Request, op string, params map[string]string, caller *vaultToken, res vaultResult) {
	v.audited(r, op, params, caller, res)
	if v.cloud != nil {
		ev := Event{ID: newUUID(), RequestID: newUUID(), Time: time.Now().UTC(), Service: VaultService, EventSource: "vault",
			Operation: op, Action: VaultService + ":" + op, ReadOnly: !res.applied && op != VaultOpRevokeAccessor && op != VaultOpRevokePrefix,
			SourceIP: v.cloud.sourceIP(r), UserAgent: r.UserAgent(), HTTPStatus: res.status, RequestParameters: params,
			Applied: res.applied, Fault: res.fault}
		if caller != nil {
			ev.AccessKeyID, ev.UserName = caller.accessor, caller.displayName
		}
		if len(res.errs) > 0 {
			ev.ErrorCode, ev.ErrorMsg = http.StatusText(res.status), res.errs[0]
		}
		v.cloud.record(ev)
	}
	if res.fault == FaultDropResponse {
		dropConnection(w)
		return
	}
	switch {
	case len(res.errs) > 0:
		vaultJSON(w, res.status, map[string][]string{"errors": res.errs})
	case res.status == http.StatusNotFound:
		vaultJSON(w, res.status, map[string][]string{"errors": {}})
	case res.body == nil:
		w.WriteHeader(res.status)
	default:
		vaultJSON(w, res.status, res.body)
	}
}

// audited appends the call to the audit log as Vault's file device writes a
// response entry: the client token and the accessor HMAC'd, never in the clear.
func (v *VaultTwin) audited(r *http.Request, op string, params map[string]string, caller *vaultToken, res vaultResult) {
	if op == VaultOpHealth || op == "" {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	entry := map[string]any{"time": v.now().UTC().Format(time.RFC3339Nano), "type": "response"}
	if caller != nil {
		entry["auth"] = map[string]any{"accessor": v.Hash(caller.accessor), "client_token": v.Hash(caller.value),
			"display_name": caller.displayName, "policies": caller.policies, "token_type": "service"}
	}
	req := map[string]any{"id": newUUID(), "operation": vaultOperation(r), "path": strings.TrimPrefix(r.URL.Path, "/v1/"),
		"remote_address": v.remote(r)}
	if a := params["accessor"]; a != "" {
		req["data"] = map[string]string{"accessor": v.Hash(a)}
	}
	entry["request"] = req
	if len(res.errs) > 0 {
		entry["error"] = res.errs[0]
	}
	b, _ := json.Marshal(entry)
	b = append(b, '\n')
	v.audit = append(v.audit, b...)
	if v.auditFile != "" {
		if f, err := os.OpenFile(v.auditFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
			_, _ = f.Write(b)
			_ = f.Close()
		}
	}
}

func (v *VaultTwin) remote(r *http.Request) string {
	if v.cloud != nil {
		return v.cloud.sourceIP(r)
	}
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	return host
}

// vaultOperation is Vault's name for the request's operation.
func vaultOperation(r *http.Request) string {
	switch {
	case r.URL.Query().Get("list") == "true":
		return "list"
	case r.Method == http.MethodGet:
		return "read"
	case r.Method == http.MethodDelete:
		return "delete"
	}
	return "update"
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// randToken is n characters of base62-ish randomness, as Vault's accessors are.
func randToken(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := randBytes(n)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// VaultAttack is an attacker's call with a stolen Vault token: it reads the KV
// secret secret/data/app and, with mint, also mints dynamic credentials from
// DefaultVaultLeaseMount, as someone cashing in a stolen token does. It returns
// the status of the last call: 200 while the token works, 403 once it is revoked.
func VaultAttack(ctx context.Context, baseURL, token string, mint bool) (int, error) {
	paths := []string{"secret/data/app"}
	if mint {
		paths = append(paths, DefaultVaultLeaseMount)
	}
	status := 0
	for _, p := range paths {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(baseURL, "/")+"/v1/"+p, nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("X-Vault-Token", token)
		req.Header.Set("X-Vault-Request", "true")
		req.Header.Set("X-Forwarded-For", defaultAttackerIP)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if status = resp.StatusCode; status != http.StatusOK {
			break
		}
	}
	return status, nil
}
