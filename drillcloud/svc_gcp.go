package drillcloud

//lint:file-ignore ST1005 the twin answers with Google's own error descriptions, verbatim, as its clients expect them

import (
	"cmp"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// GCP twin defaults: the project, sever's own service account (the responder,
// which may read, disable and enable keys and read the audit logs) and the
// workload service account whose key the drills treat as stolen.
const (
	DefaultGCPProject        = "drill-project"
	DefaultGCPResponderEmail = "sever-responder@" + DefaultGCPProject + ".iam.gserviceaccount.com"
	DefaultGCPWorkloadEmail  = "app-runner@" + DefaultGCPProject + ".iam.gserviceaccount.com"
	// GCPTokenPath is the twin's OAuth 2.0 token endpoint, the token_uri of the
	// key files it hands out.
	GCPTokenPath = "/gcp/oauth2/token"
)

// Google's key states, as keys.get reports them.
const (
	gcpReasonUser      = "SERVICE_ACCOUNT_KEY_DISABLE_REASON_USER_INITIATED"
	gcpReasonExposed   = "SERVICE_ACCOUNT_KEY_DISABLE_REASON_EXPOSED"
	gcpReasonCompromit = "SERVICE_ACCOUNT_KEY_DISABLE_REASON_COMPROMISE_DETECTED"
	gcpExtKeyExposed   = "SERVICE_ACCOUNT_KEY_EXTENDED_STATUS_KEY_EXPOSED"
)

// GCP operations, for InjectGCPFault, Calls and Fault.Operation (Service "gcp").
const (
	GCPOpToken       = "token"
	GCPOpGetKey      = "keys.get"
	GCPOpDisableKey  = "keys.disable"
	GCPOpEnableKey   = "keys.enable"
	GCPOpGetAccount  = "serviceAccounts.get"
	GCPOpListEntries = "entries.list"
)

// GCPTwin is a look-alike of the Google endpoints sever's gcp.* actions use: the
// OAuth 2.0 token endpoint of service-account keys (JWT bearer grant, verified
// with the key's public half), IAM's serviceAccounts.get and keys get, disable and
// enable, and Cloud Logging's entries.list over the audit entries of the calls
// made here. Google's own clients work against it unmodified: they find the token
// endpoint in the key file and the API at the endpoint option.
//
// A disabled key can no longer get a token, and tokens it got before are refused
// too, so the attacker's next call after containment fails. (Google documents that
// a disabled key cannot authenticate; whether it also ends tokens already issued
// is not documented, so a real drill should expect up to an hour of them.)
// Safe for concurrent use.
type GCPTwin struct {
	Project string

	now func() time.Time

	mu       sync.Mutex
	accounts map[string]bool    // e-mail → may act on keys and read logs (the responder)
	keys     map[string]*gcpKey // by key id
	tokens   map[string]gcpToken
	faults   map[string][]int // op → statuses to answer, in order
	calls    map[string]int
	entries  []gcpEntry
	apiKeys  map[string]*gcpAPIKey // by uid
}

type gcpKey struct {
	id, email     string
	priv          *rsa.PrivateKey
	created       time.Time
	disabled      bool
	disableReason string
	extended      []string
}

type gcpToken struct {
	keyID, email string
	expires      time.Time
}

type gcpEntry struct {
	keyName, email, method, resource, ip string
	status                               int
	at                                   time.Time
}

// NewGCPTwin returns a twin of project with the responder and workload service
// accounts and no keys.
func NewGCPTwin(project string) *GCPTwin {
	if project == "" {
		project = DefaultGCPProject
	}
	g := &GCPTwin{Project: project, now: time.Now, accounts: map[string]bool{}, keys: map[string]*gcpKey{},
		tokens: map[string]gcpToken{}, faults: map[string][]int{}, calls: map[string]int{}, apiKeys: map[string]*gcpAPIKey{}}
	g.accounts["sever-responder@"+project+".iam.gserviceaccount.com"] = true
	g.accounts["app-runner@"+project+".iam.gserviceaccount.com"] = false
	return g
}

// ResponderEmail is the e-mail of sever's own service account.
func (g *GCPTwin) ResponderEmail() string {
	return "sever-responder@" + g.Project + ".iam.gserviceaccount.com"
}

// WorkloadEmail is the e-mail of the workload service account.
func (g *GCPTwin) WorkloadEmail() string {
	return "app-runner@" + g.Project + ".iam.gserviceaccount.com"
}

// NewKey creates a user-managed key for the service account email and returns
// its id. The private half stays in the twin; KeyFile hands it out.
func (g *GCPTwin) NewKey(email string) (string, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", fmt.Errorf("gcp twin: generate key: %w", err)
	}
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.accounts[email]; !ok {
		return "", fmt.Errorf("gcp twin: no service account %s", email)
	}
	g.keys[id] = &gcpKey{id: id, email: email, priv: priv, created: g.now().UTC()}
	return id, nil
}

// KeyName is the resource name of key id.
func (g *GCPTwin) KeyName(id string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if k := g.keys[id]; k != nil {
		return g.keyName(k)
	}
	return ""
}

func (g *GCPTwin) keyName(k *gcpKey) string {
	return "projects/" + g.Project + "/serviceAccounts/" + k.email + "/keys/" + k.id
}

// KeyFile is the JSON key file of key id, as Google hands it out, with its
// token_uri on the twin at baseURL. It holds the private key: a secret.
func (g *GCPTwin) KeyFile(id, baseURL string) ([]byte, error) {
	g.mu.Lock()
	k := g.keys[id]
	g.mu.Unlock()
	if k == nil {
		return nil, fmt.Errorf("gcp twin: no key %s", id)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		return nil, fmt.Errorf("gcp twin: encode key %s: %w", id, err)
	}
	return json.Marshal(map[string]string{
		"type": "service_account", "project_id": g.Project, "private_key_id": k.id,
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": k.email, "client_id": "1" + strconv.Itoa(len(k.email)) + "0000000000000000",
		"auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": strings.TrimRight(baseURL, "/") + GCPTokenPath,
		"universe_domain": "googleapis.com",
	})
}

// GCPKeyState is what the twin holds about a key.
type GCPKeyState struct {
	Disabled      bool
	DisableReason string
	Exposed       bool
}

// KeyState returns key id's state.
func (g *GCPTwin) KeyState(id string) (GCPKeyState, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	k := g.keys[id]
	if k == nil {
		return GCPKeyState{}, false
	}
	return GCPKeyState{Disabled: k.disabled, DisableReason: k.disableReason, Exposed: slices.Contains(k.extended, gcpExtKeyExposed)}, true
}

// VendorExposeKey does what Google's exposed-key response does: it marks key id
// exposed and disables it, before sever hears of it.
func (g *GCPTwin) VendorExposeKey(id string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	k := g.keys[id]
	if k == nil {
		return fmt.Errorf("gcp twin: no key %s", id)
	}
	k.disabled, k.disableReason = true, gcpReasonExposed
	if !slices.Contains(k.extended, gcpExtKeyExposed) {
		k.extended = append(k.extended, gcpExtKeyExposed)
	}
	return nil
}

// InjectGCPFault makes the next n calls of op (GCPOp…) answer status (429 or 5xx
// for Google's throttling and outages, 403 for a missing permission) before they
// touch anything.
func (g *GCPTwin) InjectGCPFault(op string, status, n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for range n {
		g.faults[op] = append(g.faults[op], status)
	}
}

// Calls returns how many times op (GCPOp…) was served, faults included.
func (g *GCPTwin) Calls(op string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[op]
}

// IsGCPRequest reports whether r is for the GCP twin: its token endpoint, or a
// call of a Google client, which always sends x-goog-api-client (or, with an API
// key, x-goog-api-key) and no AWS, provider or GitHub client does.
func IsGCPRequest(r *http.Request) bool {
	return r.URL.Path == GCPTokenPath || r.Header.Get("X-Goog-Api-Client") != "" || r.Header.Get("X-Goog-Api-Key") != ""
}

// ServeGCP serves twin on the cloud's listener, beside AWS, the model providers
// and GitHub (see IsGCPRequest).
// Faults with Service "gcp" apply to its calls (see Fault.KeyID).
func (c *Cloud) ServeGCP(twin *GCPTwin) { c.gcp.Store(twin) }

// GCP returns the GCP twin ServeGCP installed, or nil.
func (c *Cloud) GCP() *GCPTwin { return c.gcp.Load() }

var (
	gcpKeyPath     = regexp.MustCompile(`^/v1/projects/([^/]+)/serviceAccounts/([^/]+)/keys/([^/:]+)(:disable|:enable)?$`)
	gcpAccountPath = regexp.MustCompile(`^/v1/projects/([^/]+)/serviceAccounts/([^/:]+)$`)
)

var gcpStatusNames = map[int]string{400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
	404: "NOT_FOUND", 409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}

func gcpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	st := gcpStatusNames[code]
	if st == "" {
		st = "UNKNOWN"
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg, "status": st}})
}

func gcpJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(v)
}

// clearFaults drops the statuses InjectGCPFault queued.
func (g *GCPTwin) clearFaults() {
	g.mu.Lock()
	defer g.mu.Unlock()
	clear(g.faults)
}

// fault pops the next injected status of op; the caller holds g.mu.
func (g *GCPTwin) fault(op string) int {
	q := g.faults[op]
	if len(q) == 0 {
		return 0
	}
	g.faults[op] = q[1:]
	return q[0]
}

// ServeHTTP serves the Google endpoints, without the drill cloud's faults.
func (g *GCPTwin) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.serve(w, r, nil) }

// gcpRoutes are the API's calls: the path pattern, the method, and the verb
// suffix the pattern captures last (":disable"), "" for none.
var gcpRoutes = []struct {
	re             *regexp.Regexp
	method, suffix string
	op             string
}{
	{gcpKeyPath, http.MethodGet, "", GCPOpGetKey},
	{gcpKeyPath, http.MethodPost, ":disable", GCPOpDisableKey},
	{gcpKeyPath, http.MethodPost, ":enable", GCPOpEnableKey},
	{gcpAPIKeyPath, http.MethodGet, "", GCPOpGetAPIKey},
	{gcpAPIKeyPath, http.MethodDelete, "", GCPOpDeleteAPIKey},
	{gcpAPIKeyPath, http.MethodPost, ":undelete", GCPOpUndeleteAPIKey},
}

// gcpRoute names the operation of a call of the API (not the token endpoint nor
// Gemini) and the path's parts, or "" for a call the twin does not serve.
func gcpRoute(r *http.Request) (string, []string) {
	p := r.URL.Path
	switch {
	case r.Method == http.MethodPost && p == "/v2/entries:list":
		return GCPOpListEntries, nil
	case r.Method == http.MethodGet && p == "/v2/keys:lookupKey":
		return GCPOpLookupAPIKey, nil
	case r.Method == http.MethodGet && gcpAccountPath.MatchString(p):
		return GCPOpGetAccount, gcpAccountPath.FindStringSubmatch(p)
	}
	for _, rt := range gcpRoutes {
		if m := rt.re.FindStringSubmatch(p); m != nil && r.Method == rt.method && m[len(m)-1] == rt.suffix {
			return rt.op, m
		}
	}
	return "", nil
}

// serve serves the Google endpoints with c's faults (Service "gcp"); c is nil
// for a twin served on its own.
func (g *GCPTwin) serve(w http.ResponseWriter, r *http.Request, c *Cloud) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		gcpError(w, http.StatusBadRequest, "could not read the request body")
		return
	}
	p := r.URL.Path
	switch {
	case r.Method == http.MethodPost && p == GCPTokenPath:
		g.serveToken(w, r, body, c)
		return
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/v1beta/models"):
		g.serveGemini(w, r, c)
		return
	}
	op, m := gcpRoute(r)
	if op == "" {
		gcpError(w, http.StatusNotFound, fmt.Sprintf("%s %s is not served by the drill cloud", r.Method, p))
		return
	}
	g.mu.Lock()
	g.calls[op]++
	tok, ok := g.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	key := g.keys[tok.keyID]
	if !ok || !g.now().Before(tok.expires) || key == nil || key.disabled {
		g.mu.Unlock()
		gcpError(w, http.StatusUnauthorized, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return
	}
	ids := g.callerIDsLocked(key)
	g.mu.Unlock()

	// The cloud's faults apply to authenticated calls, outside g.mu: a latency
	// fault must not hold up the twin's other calls.
	kind := c.twinFault(r, GCPService, op, ids...)
	out := answerWriter(w, kind)
	defer closeDropped(out)
	g.mu.Lock()
	defer g.mu.Unlock()
	entry := gcpEntry{keyName: "//iam.googleapis.com/" + g.keyName(key), email: tok.email, resource: p, ip: clientIP(r), at: g.now().UTC()}
	var status int
	switch {
	case gcpFaultAnswer(out, kind, op):
		status = gcpFaultStatus[kind]
	case apiKeysOps[op]:
		status = g.serveAPIKeys(out, r, op, m, tok)
	default:
		status = g.serveAPI(out, op, m, body, tok)
	}
	entry.method, entry.status = gcpMethodNames[op], status
	g.entries = append(g.entries, entry)
}

// callerIDsLocked are the names a fault's KeyID may give the holder of key: its
// id, its resource name, its service account, and FaultCallerResponder for the
// responder's keys. g.mu is held.
func (g *GCPTwin) callerIDsLocked(k *gcpKey) []string {
	ids := []string{k.id, g.keyName(k), k.email}
	if g.accounts[k.email] {
		ids = append(ids, FaultCallerResponder)
	}
	return ids
}

// gcpFaultStatus is the HTTP status Google answers each refusing fault with.
var gcpFaultStatus = map[FaultKind]int{FaultThrottle: http.StatusTooManyRequests,
	FaultServerError: http.StatusServiceUnavailable, FaultAccessDenied: http.StatusForbidden}

// gcpFaultAnswer answers a refusing fault of op as Google does, and reports
// whether it did: a throttle is RESOURCE_EXHAUSTED with the ErrorInfo of a
// per-minute quota (Google sends no Retry-After), a server error UNAVAILABLE.
func gcpFaultAnswer(w http.ResponseWriter, kind FaultKind, op string) bool {
	var body map[string]any
	switch kind {
	case FaultThrottle:
		svc := gcpServiceOf(op)
		body = map[string]any{"code": 429, "status": "RESOURCE_EXHAUSTED",
			"message": fmt.Sprintf("Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' of service '%s' for consumer 'project_number:0'.", svc),
			"details": []map[string]any{{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED",
				"domain": "googleapis.com", "metadata": map[string]string{"service": svc, "quota_limit": "RequestsPerMinutePerProject"}}}}
	case FaultServerError:
		body = map[string]any{"code": 503, "status": "UNAVAILABLE", "message": "The service is currently unavailable."}
	case FaultAccessDenied:
		body = map[string]any{"code": 403, "status": "PERMISSION_DENIED",
			"message": fmt.Sprintf("Permission denied for %s (or the resource may not exist).", cmp.Or(gcpMethodNames[op], op))}
	default:
		return false
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(body["code"].(int))
	_ = json.NewEncoder(w).Encode(map[string]any{"error": body})
	return true
}

// gcpServiceOf is the Google API service that serves op.
func gcpServiceOf(op string) string {
	switch {
	case apiKeysOps[op]:
		return "apikeys.googleapis.com"
	case op == GCPOpListEntries:
		return "logging.googleapis.com"
	case op == GCPOpGemini:
		return "generativelanguage.googleapis.com"
	case op == GCPOpToken:
		return "oauth2.googleapis.com"
	}
	return "iam.googleapis.com"
}

var gcpMethodNames = map[string]string{
	GCPOpGetKey: "google.iam.admin.v1.GetServiceAccountKey", GCPOpDisableKey: "google.iam.admin.v1.DisableServiceAccountKey",
	GCPOpEnableKey: "google.iam.admin.v1.EnableServiceAccountKey", GCPOpGetAccount: "google.iam.admin.v1.GetServiceAccount",
	GCPOpListEntries:  "google.logging.v2.LoggingServiceV2.ListLogEntries",
	GCPOpLookupAPIKey: "google.api.apikeys.v2.ApiKeys.LookupKey", GCPOpGetAPIKey: "google.api.apikeys.v2.ApiKeys.GetKey",
	GCPOpDeleteAPIKey: "google.api.apikeys.v2.ApiKeys.DeleteKey", GCPOpUndeleteAPIKey: "google.api.apikeys.v2.ApiKeys.UndeleteKey",
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// serveAPI answers an authenticated call and returns its status; g.mu is held.
func (g *GCPTwin) serveAPI(w http.ResponseWriter, op string, m []string, body []byte, tok gcpToken) int {
	if st := g.fault(op); st != 0 {
		gcpError(w, st, "drill cloud fault: "+gcpStatusNames[st])
		return st
	}
	responder := g.accounts[tok.email]
	if op == GCPOpGetAccount {
		if (m[1] != g.Project && m[1] != "-") || !g.knownAccount(m[2]) {
			gcpError(w, http.StatusNotFound, "Unknown service account")
			return http.StatusNotFound
		}
		if !responder && m[2] != tok.email {
			gcpError(w, http.StatusForbidden, "Permission 'iam.serviceAccounts.get' denied on resource (or it may not exist).")
			return http.StatusForbidden
		}
		gcpJSON(w, map[string]string{"name": "projects/" + g.Project + "/serviceAccounts/" + m[2], "email": m[2], "projectId": g.Project})
		return http.StatusOK
	}
	if !responder {
		gcpError(w, http.StatusForbidden, fmt.Sprintf("Permission denied for %s (or the resource may not exist).", gcpMethodNames[op]))
		return http.StatusForbidden
	}
	if op == GCPOpListEntries {
		return g.listEntries(w, body)
	}
	k := g.keys[m[3]]
	if (m[1] != g.Project && m[1] != "-") || k == nil || (m[2] != k.email && m[2] != "-") {
		gcpError(w, http.StatusNotFound, "Service account key "+m[3]+" does not exist.")
		return http.StatusNotFound
	}
	switch op {
	case GCPOpDisableKey:
		var req struct {
			Reason string `json:"serviceAccountKeyDisableReason"`
		}
		if len(body) > 0 && json.Unmarshal(body, &req) != nil {
			gcpError(w, http.StatusBadRequest, "Invalid JSON payload received.")
			return http.StatusBadRequest
		}
		switch req.Reason {
		case "", "SERVICE_ACCOUNT_KEY_DISABLE_REASON_UNSPECIFIED":
			req.Reason = gcpReasonUser
		case gcpReasonUser, gcpReasonExposed, gcpReasonCompromit:
		default:
			gcpError(w, http.StatusBadRequest, "Invalid value at 'service_account_key_disable_reason'")
			return http.StatusBadRequest
		}
		if !k.disabled {
			k.disabled, k.disableReason = true, req.Reason
		}
		gcpJSON(w, map[string]any{})
	case GCPOpEnableKey:
		k.disabled, k.disableReason = false, ""
		gcpJSON(w, map[string]any{})
	default:
		out := map[string]any{"name": g.keyName(k), "keyAlgorithm": "KEY_ALG_RSA_2048", "keyOrigin": "GOOGLE_PROVIDED",
			"keyType": "USER_MANAGED", "validAfterTime": k.created.Format(time.RFC3339),
			"validBeforeTime": "9999-12-31T23:59:59Z", "disabled": k.disabled}
		if k.disableReason != "" {
			out["disableReason"] = k.disableReason
		}
		if len(k.extended) > 0 {
			var ext []map[string]string
			for _, e := range k.extended {
				ext = append(ext, map[string]string{"key": e, "value": "drill: found in a public repository"})
			}
			out["extendedStatus"] = ext
		}
		gcpJSON(w, out)
	}
	return http.StatusOK
}

func (g *GCPTwin) knownAccount(email string) bool {
	_, ok := g.accounts[email]
	return ok
}

var (
	gcpFilterKey  = regexp.MustCompile(`serviceAccountKeyName:"/keys/([0-9a-fA-F]+)"`)
	gcpFilterTime = regexp.MustCompile(`timestamp>="([^"]+)"`)
)

// listEntries serves entries.list over the calls' audit entries. It understands
// the filter the gcp.logging.audit_events action sends, and refuses any other
// rather than answer it wrongly.
func (g *GCPTwin) listEntries(w http.ResponseWriter, body []byte) int {
	var req struct {
		ResourceNames []string `json:"resourceNames"`
		Filter        string   `json:"filter"`
		PageSize      int      `json:"pageSize"`
		PageToken     string   `json:"pageToken"`
	}
	if json.Unmarshal(body, &req) != nil {
		gcpError(w, http.StatusBadRequest, "Invalid JSON payload received.")
		return http.StatusBadRequest
	}
	if !slices.Equal(req.ResourceNames, []string{"projects/" + g.Project}) {
		gcpError(w, http.StatusForbidden, "The caller does not have permission")
		return http.StatusForbidden
	}
	km, tm := gcpFilterKey.FindStringSubmatch(req.Filter), gcpFilterTime.FindStringSubmatch(req.Filter)
	since, terr := time.Time{}, error(nil)
	if tm != nil {
		since, terr = time.Parse(time.RFC3339, tm[1])
	}
	if km == nil || terr != nil {
		gcpError(w, http.StatusBadRequest, "the drill cloud understands only serviceAccountKeyName:\"/keys/<id>\" AND timestamp>=\"<RFC 3339>\"")
		return http.StatusBadRequest
	}
	var match []gcpEntry
	for _, e := range g.entries {
		if strings.HasSuffix(e.keyName, "/keys/"+km[1]) && !e.at.Before(since) {
			match = append(match, e)
		}
	}
	start, _ := strconv.Atoi(req.PageToken)
	size := req.PageSize
	if size <= 0 || size > 1000 {
		size = 1000
	}
	start = min(max(start, 0), len(match))
	end := min(start+size, len(match))
	var out []map[string]any
	for i, e := range match[start:end] {
		out = append(out, map[string]any{
			"logName":   "projects/" + g.Project + "/logs/cloudaudit.googleapis.com%2Fdata_access",
			"insertId":  fmt.Sprintf("drill-%d", start+i),
			"timestamp": e.at.Format(time.RFC3339Nano),
			"resource":  map[string]any{"type": "service_account", "labels": map[string]string{"project_id": g.Project}},
			"protoPayload": map[string]any{
				"@type":              "type.googleapis.com/google.cloud.audit.AuditLog",
				"methodName":         e.method,
				"resourceName":       strings.TrimPrefix(e.resource, "/v1/"),
				"status":             map[string]any{"code": gcpRPCCode(e.status)},
				"authenticationInfo": map[string]string{"principalEmail": e.email, "serviceAccountKeyName": e.keyName},
				"requestMetadata":    map[string]string{"callerIp": e.ip},
			},
		})
	}
	resp := map[string]any{"entries": out}
	if end < len(match) {
		resp["nextPageToken"] = strconv.Itoa(end)
	}
	gcpJSON(w, resp)
	return http.StatusOK
}

// gcpRPCCode is the google.rpc.Code of an HTTP status, as audit entries carry it.
func gcpRPCCode(status int) int {
	switch status {
	case 200:
		return 0
	case 400:
		return 3
	case 401:
		return 16
	case 403:
		return 7
	case 404:
		return 5
	case 429:
		return 8
	case 503:
		return 14
	}
	return 13
}

// serveToken answers the JWT bearer grant of a service-account key: the
// assertion must be RS256-signed by an enabled key (its id in the header's kid),
// issued by the key's service account, for this endpoint, and valid for at most
// an hour. c's faults apply once the assertion is verified.
func (g *GCPTwin) serveToken(w http.ResponseWriter, r *http.Request, body []byte, c *Cloud) {
	oauthErr := func(status int, code, desc string) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	g.mu.Lock()
	g.calls[GCPOpToken]++
	if st := g.fault(GCPOpToken); st != 0 {
		g.mu.Unlock()
		oauthErr(st, "internal_failure", "drill cloud fault")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		g.mu.Unlock()
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+form.Get("grant_type"))
		return
	}
	k, email, err := g.verifyAssertion(form.Get("assertion"), r)
	if err != nil {
		g.mu.Unlock()
		oauthErr(http.StatusBadRequest, "invalid_grant", err.Error())
		return
	}
	ids := g.callerIDsLocked(k)
	g.mu.Unlock()

	switch kind := c.twinFault(r, GCPService, GCPOpToken, ids...); kind {
	case FaultThrottle:
		oauthErr(http.StatusTooManyRequests, "rate_limit_exceeded", "Rate limit exceeded.")
		return
	case FaultServerError:
		oauthErr(http.StatusServiceUnavailable, "internal_failure", "The service is currently unavailable.")
		return
	case FaultAccessDenied:
		oauthErr(http.StatusBadRequest, "invalid_grant", "Invalid grant: account not found")
		return
	case FaultDropResponse:
		// The token is minted; its holder never hears of it.
		w = answerWriter(w, kind)
		defer closeDropped(w)
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "ya29.drill-" + hex.EncodeToString(b)
	g.mu.Lock()
	g.tokens[tok] = gcpToken{keyID: k.id, email: email, expires: g.now().Add(time.Hour)}
	g.mu.Unlock()
	gcpJSON(w, map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
}

// verifyAssertion checks a JWT bearer assertion; g.mu is held. Its errors are
// Google's error descriptions and never quote the assertion.
func (g *GCPTwin) verifyAssertion(assertion string, r *http.Request) (*gcpKey, string, error) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return nil, "", fmt.Errorf("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
	}
	enc := base64.RawURLEncoding
	var head struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	hb, err := enc.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &head) != nil || head.Alg != "RS256" {
		return nil, "", fmt.Errorf("Invalid JWT Signature.")
	}
	var claims struct {
		Iss string      `json:"iss"`
		Aud string      `json:"aud"`
		Iat json.Number `json:"iat"`
		Exp json.Number `json:"exp"`
	}
	cb, err := enc.DecodeString(parts[1])
	if err != nil || json.Unmarshal(cb, &claims) != nil {
		return nil, "", fmt.Errorf("Invalid JWT Signature.")
	}
	k := g.keys[head.Kid]
	if k == nil {
		// Client libraries may omit kid: find the issuer's key that verifies.
		for _, c := range g.keys {
			if c.email == claims.Iss && verifyRS256(&c.priv.PublicKey, parts) {
				k = c
				break
			}
		}
	}
	if k == nil || k.email != claims.Iss || !verifyRS256(&k.priv.PublicKey, parts) {
		return nil, "", fmt.Errorf("Invalid JWT Signature.")
	}
	if k.disabled {
		return nil, "", fmt.Errorf("Invalid JWT Signature.")
	}
	iat, err1 := claims.Iat.Int64()
	exp, err2 := claims.Exp.Int64()
	now := g.now().Unix()
	if err1 != nil || err2 != nil || exp <= now || iat > now+300 || exp-iat > 3600 {
		return nil, "", fmt.Errorf("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
	}
	if !strings.HasSuffix(claims.Aud, GCPTokenPath) {
		return nil, "", fmt.Errorf("Invalid JWT: audience is not this token endpoint")
	}
	return k, k.email, nil
}

func verifyRS256(pub *rsa.PublicKey, parts []string) bool {
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
}
