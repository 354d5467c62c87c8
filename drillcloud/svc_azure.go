package drillcloud

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Azure host names the twin answers for. Azure's clients insist on https and
// on these hosts (MSAL refuses an http authority and checks the issuer against
// it), so the twin is reached through AzureClient's transport, which sends the
// request to the drill cloud's listener and keeps the Host header.
const (
	AzureLoginHost    = "login.microsoftonline.com"
	AzureGraphHost    = "graph.microsoft.com"
	AzureARMHost      = "management.azure.com"
	AzureOpenAISuffix = ".openai.azure.com"
)

// The drill tenant and subscription: fixed, so a drill's incidents name the same
// resources from one run to the next.
const (
	DefaultAzureTenantID       = "5e7c1d2a-4b3f-4e8a-9c6d-0f1e2d3c4b5a"
	DefaultAzureSubscriptionID = "3f2e1d0c-9b8a-4765-8432-10fedcba9876"
)

// azureAudiences are the token audiences the twin issues, by scope prefix.
var azureAudiences = []string{"https://" + AzureGraphHost, "https://" + AzureARMHost}

// AzureTwin is a look-alike of the Azure endpoints sever's azure.* actions use,
// answering on the real host names: Entra's OpenID configuration and v2.0 token
// endpoint (client credentials with a client secret, as azidentity's
// ClientSecretCredential and DefaultAzureCredential send them), Graph's
// applications(appId='…') with removePassword and the beta service-principal
// sign-in logs, ARM's Microsoft.CognitiveServices accounts (GET, PATCH
// disableLocalAuth, listKeys, regenerateKey) and activity log, and the Azure
// OpenAI data plane (api-key header), which refuses a regenerated key or any key
// once local authentication is disabled. Safe for concurrent use.
type AzureTwin struct {
	TenantID       string
	SubscriptionID string

	mu       sync.Mutex
	now      func() time.Time
	apps     map[string]*azureApp     // by application (client) id
	tokens   map[string]azureToken    // access token → grant
	accounts map[string]*azureAccount // by lower-case ARM id
	signIns  []map[string]any
	activity []map[string]any
	faults   map[string][]int // operation → statuses to answer, 0 = drop the connection
	calls    map[string]int   // operation → count
	sever    string           // the application id sever signs in as
}

type azureApp struct {
	ObjectID, AppID, DisplayName string
	// Privileged applications may call Graph and ARM (sever's own); the rest may
	// only get tokens, which is all an attacker with a leaked secret needs.
	Privileged bool
	Passwords  []*azurePassword
}

type azurePassword struct {
	KeyID, DisplayName, Secret string
	Start, End                 time.Time
}

type azureToken struct {
	AppID, Audience string
	Expires         time.Time
}

type azureAccount struct {
	ID, Name, ResourceGroup string
	DisableLocalAuth        bool
	Key1, Key2              string
}

// NewAzureTwin returns a twin with the drill tenant and subscription and no
// applications or accounts.
func NewAzureTwin() *AzureTwin {
	return &AzureTwin{TenantID: DefaultAzureTenantID, SubscriptionID: DefaultAzureSubscriptionID, now: time.Now,
		apps: map[string]*azureApp{}, tokens: map[string]azureToken{}, accounts: map[string]*azureAccount{},
		faults: map[string][]int{}, calls: map[string]int{}}
}

// Azure twin operations, for FailNext, Calls and Fault.Operation (Service "azure").
const (
	AzureOpToken          = "token"
	AzureOpGetApplication = "get_application"
	AzureOpRemovePassword = "remove_password"
	AzureOpSignIns        = "sign_ins"
	AzureOpGetAccount     = "get_account"
	AzureOpPatchAccount   = "patch_account"
	AzureOpListKeys       = "list_keys"
	AzureOpRegenerateKey  = "regenerate_key"
	AzureOpActivityLog    = "activity_log"
	AzureOpChat           = "chat"
)

// ServeAzure serves twin on the drill cloud's listener, for requests to Azure's
// host names (see AzureClient). Faults with Service "azure" apply to its calls
// (see Fault.KeyID).
func (c *Cloud) ServeAzure(twin *AzureTwin) { c.azure.Store(twin) }

// Azure returns the Azure twin this cloud serves, or nil.
func (c *Cloud) Azure() *AzureTwin { return c.azure.Load() }

// AzureClient returns an HTTP client that sends requests for Azure's hosts to
// the twin at baseURL (a drill cloud's URL) instead, with their Host header kept,
// so the Azure clients run unmodified with their real endpoints.
func AzureClient(baseURL string) *http.Client {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		// A wrong base must not fall through to the real Azure.
		u = &url.URL{Scheme: "http", Host: "invalid.invalid"}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: azureRedirect{base: u, rt: http.DefaultTransport},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type azureRedirect struct {
	base *url.URL
	rt   http.RoundTripper
}

func (t azureRedirect) RoundTrip(r *http.Request) (*http.Response, error) {
	if !isAzureHost(r.URL.Host) {
		return nil, fmt.Errorf("drill azure client: %s is not an Azure host the twin serves", r.URL.Host)
	}
	r2 := r.Clone(r.Context())
	r2.Host = r.URL.Host
	r2.URL.Scheme, r2.URL.Host = t.base.Scheme, t.base.Host
	return t.rt.RoundTrip(r2)
}

func isAzureHost(h string) bool {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.ToLower(h)
	return h == AzureLoginHost || h == AzureGraphHost || h == AzureARMHost ||
		(strings.HasSuffix(h, AzureOpenAISuffix) && len(h) > len(AzureOpenAISuffix))
}

// IsAzureRequest reports whether r is for the Azure twin: its Host is one of
// Azure's, which no AWS, GitHub or provider client sends to the drill cloud.
func IsAzureRequest(r *http.Request) bool { return isAzureHost(r.Host) }

func newAzureID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newAzureSecret is shaped like an Entra client secret: a three-character hint,
// "8Q~", then 37 characters.
func newAzureSecret() string {
	b := make([]byte, 30)
	_, _ = rand.Read(b)
	s := strings.NewReplacer("+", "_", "/", "-").Replace(base64.StdEncoding.EncodeToString(b))
	return s[:3] + "8Q~" + s[3:]
}

func newAzureKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// AddApp registers an application and returns its application (client) id.
// privileged says whether it may call Graph and ARM (sever's own application).
func (t *AzureTwin) AddApp(displayName string, privileged bool) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	id := newAzureID()
	t.apps[id] = &azureApp{ObjectID: newAzureID(), AppID: id, DisplayName: displayName, Privileged: privileged}
	if privileged && t.sever == "" {
		t.sever = id
	}
	return id
}

// AddSecret adds a client secret to an application and returns its key id and
// value.
func (t *AzureTwin) AddSecret(appID, displayName string) (keyID, secret string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	app, ok := t.apps[strings.ToLower(appID)]
	if !ok {
		return "", "", fmt.Errorf("azure twin: no application %s", appID)
	}
	now := t.now().UTC()
	p := &azurePassword{KeyID: newAzureID(), DisplayName: displayName, Secret: newAzureSecret(), Start: now, End: now.AddDate(1, 0, 0)}
	app.Passwords = append(app.Passwords, p)
	return p.KeyID, p.Secret, nil
}

// SecretPresent reports whether the application still lists the secret.
func (t *AzureTwin) SecretPresent(appID, keyID string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	app, ok := t.apps[strings.ToLower(appID)]
	return ok && slices.ContainsFunc(app.Passwords, func(p *azurePassword) bool { return strings.EqualFold(p.KeyID, keyID) })
}

// AddOpenAIAccount creates an Azure OpenAI account in the drill subscription and
// returns its ARM id and its two keys.
func (t *AzureTwin) AddOpenAIAccount(resourceGroup, name string) (id, key1, key2 string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	id = "/subscriptions/" + t.SubscriptionID + "/resourceGroups/" + resourceGroup + "/providers/Microsoft.CognitiveServices/accounts/" + name
	a := &azureAccount{ID: id, Name: name, ResourceGroup: resourceGroup, Key1: newAzureKey(), Key2: newAzureKey()}
	t.accounts[strings.ToLower(id)] = a
	return id, a.Key1, a.Key2
}

// LocalAuthDisabled reports the account's disableLocalAuth.
func (t *AzureTwin) LocalAuthDisabled(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.accounts[strings.ToLower(id)]
	return ok && a.DisableLocalAuth
}

// FailNext makes the next len(statuses) calls of op answer those statuses
// instead (0 drops the connection). Operations: token, get_application,
// remove_password, sign_ins, get_account, patch_account, list_keys,
// regenerate_key, activity_log, chat.
func (t *AzureTwin) FailNext(op string, statuses ...int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.faults[op] = append(t.faults[op], statuses...)
}

// Calls returns how many times op was served (faults included).
func (t *AzureTwin) Calls(op string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.calls[op]
}

// fault counts a call of op and pops its next injected status, if any.
func (t *AzureTwin) fault(op string) (int, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls[op]++
	q := t.faults[op]
	if len(q) == 0 {
		return 0, false
	}
	t.faults[op] = q[1:]
	return q[0], true
}

func azJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-ms-request-id", newAzureID())
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// azError writes ARM's and Graph's error envelope.
func azError(w http.ResponseWriter, status int, code, msg string) {
	azJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// entraError writes the OAuth error answer of Entra's token endpoint.
func entraError(w http.ResponseWriter, status int, code string, aadsts int, msg string) {
	azJSON(w, status, map[string]any{"error": code, "error_description": fmt.Sprintf("AADSTS%d: %s", aadsts, msg),
		"error_codes": []int{aadsts}, "timestamp": time.Now().UTC().Format("2006-01-02 15:04:05Z"), "trace_id": newAzureID()})
}

var (
	azAppPath      = regexp.MustCompile(`^/v1\.0/applications\(appId='([^']+)'\)(/removePassword)?$`)
	azAccountPath  = regexp.MustCompile(`(?i)^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.CognitiveServices/accounts/([^/]+)(/listKeys|/regenerateKey)?$`)
	azActivityPath = regexp.MustCompile(`(?i)^/subscriptions/([^/]+)/providers/Microsoft\.Insights/eventtypes/management/values$`)
	azChatPath     = regexp.MustCompile(`^/openai/deployments/([^/]+)/(chat/completions|completions|embeddings)$`)
	azFilterAppID  = regexp.MustCompile(`appId eq '([^']+)'`)
	azFilterURI    = regexp.MustCompile(`resourceUri eq '([^']+)'`)
)

// ServeHTTP answers a request for one of Azure's hosts, without the drill
// cloud's faults.
func (t *AzureTwin) ServeHTTP(w http.ResponseWriter, r *http.Request) { t.serve(w, r, nil) }

// serve answers a request for one of Azure's hosts with c's faults; c is nil
// for a twin served on its own.
func (t *AzureTwin) serve(w http.ResponseWriter, r *http.Request, c *Cloud) {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	switch {
	case host == AzureLoginHost:
		t.serveLogin(w, r, c)
	case host == AzureGraphHost:
		t.serveGraph(w, r, c)
	case host == AzureARMHost:
		t.serveARM(w, r, c)
	case strings.HasSuffix(host, AzureOpenAISuffix):
		t.serveOpenAI(w, r, c, strings.TrimSuffix(host, AzureOpenAISuffix))
	default:
		azError(w, http.StatusNotFound, "NotFound", "unknown host")
	}
}

// matching returns the entries of log (one of t's, read under t.mu) whose
// field equals, case aside, the value the request's $filter names with re; all
// of them when it names none.
func (t *AzureTwin) matching(log *[]map[string]any, field string, re *regexp.Regexp, r *http.Request) []map[string]any {
	f := re.FindStringSubmatch(r.URL.Query().Get("$filter"))
	t.mu.Lock()
	defer t.mu.Unlock()
	out := []map[string]any{}
	for _, e := range *log {
		if v, _ := e[field].(string); f == nil || strings.EqualFold(v, f[1]) {
			out = append(out, e)
		}
	}
	return out
}

// faulted applies to an authorized Graph or ARM call of op (plane "graph" or
// "arm") the faults FailNext queued, then c's, the caller named by its
// application id. It returns the writer the call answers into (finish it with
// closeDropped) and false when a fault answered instead.
func (t *AzureTwin) faulted(w http.ResponseWriter, r *http.Request, c *Cloud, op, plane string) (http.ResponseWriter, bool) {
	if t.injected(w, op) {
		return w, false
	}
	t.mu.Lock()
	appID := t.callerLocked(r)
	ids := []string{appID}
	if app := t.apps[appID]; app != nil && app.Privileged {
		ids = append(ids, FaultCallerResponder)
	}
	t.mu.Unlock()
	kind := c.twinFault(r, AzureService, op, ids...)
	if azFaultAnswer(w, kind, plane) {
		return w, false
	}
	return answerWriter(w, kind), true
}

// azFaultAnswer answers a refusing fault as the plane ("token", "graph", "arm",
// "openai") does, and reports whether it did. Throttles carry Retry-After, as
// Entra, Graph, ARM and Azure OpenAI all send it.
func azFaultAnswer(w http.ResponseWriter, kind FaultKind, plane string) bool {
	switch kind {
	case FaultThrottle:
		w.Header().Set("Retry-After", "1")
		switch plane {
		case "token":
			entraError(w, http.StatusTooManyRequests, "temporarily_unavailable", 50196, "The server temporarily throttled the request. Please retry after a while.")
		case "graph":
			azError(w, http.StatusTooManyRequests, "TooManyRequests", "Too many requests. Please try again later.")
		case "arm":
			azError(w, http.StatusTooManyRequests, "TooManyRequests", "The request is being throttled as the limit has been reached for operation type - Write_ObservationWindow_00:05:00. For more information, see - https://aka.ms/srpthrottlinglimits")
		default:
			azError(w, http.StatusTooManyRequests, "429", "Requests to the ChatCompletions_Create Operation under Azure OpenAI API have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 1 second.")
		}
	case FaultServerError:
		if plane == "token" {
			entraError(w, http.StatusServiceUnavailable, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again.")
		} else {
			azError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "The service is temporarily unavailable. Please try again later.")
		}
	case FaultAccessDenied:
		switch plane {
		case "token":
			entraError(w, http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
		case "graph":
			azError(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		default:
			azError(w, http.StatusForbidden, "AuthorizationFailed", "The client does not have authorization to perform this action.")
		}
	default:
		return false
	}
	return true
}

// clearFaults drops the statuses FailNext queued.
func (t *AzureTwin) clearFaults() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.faults)
}

// injected answers an injected fault of op, if one is due.
func (t *AzureTwin) injected(w http.ResponseWriter, op string) bool {
	st, ok := t.fault(op)
	if !ok {
		return false
	}
	switch {
	case st == 0:
		dropConnection(w)
	case st == http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "0")
		azError(w, st, "TooManyRequests", "drill fault: throttled")
	default:
		azError(w, st, "DrillFault", fmt.Sprintf("drill fault: %d", st))
	}
	return true
}

func (t *AzureTwin) serveLogin(w http.ResponseWriter, r *http.Request, c *Cloud) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 2 {
		azError(w, http.StatusNotFound, "NotFound", "no such endpoint")
		return
	}
	tenant := parts[0]
	if tenant != t.TenantID {
		entraError(w, http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found.", tenant))
		return
	}
	rest := strings.Join(parts[1:], "/")
	base := "https://" + AzureLoginHost + "/" + tenant
	switch {
	case r.Method == http.MethodGet && rest == "v2.0/.well-known/openid-configuration":
		azJSON(w, http.StatusOK, map[string]any{
			"token_endpoint":                        base + "/oauth2/v2.0/token",
			"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
			"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
			"issuer":                                base + "/v2.0",
			"jwks_uri":                              base + "/discovery/v2.0/keys",
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
			"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		})
	case r.Method == http.MethodPost && rest == "oauth2/v2.0/token":
		t.serveToken(w, r, c)
	default:
		azError(w, http.StatusNotFound, "NotFound", "no such endpoint")
	}
}

// serveToken is the client-credentials grant with a client secret. Every attempt
// is a sign-in event, as Entra logs service-principal sign-ins.
func (t *AzureTwin) serveToken(w http.ResponseWriter, r *http.Request, c *Cloud) {
	if t.injected(w, AzureOpToken) {
		return
	}
	if err := r.ParseForm(); err != nil {
		entraError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain a valid form.")
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		entraError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
		return
	}
	clientID := strings.ToLower(r.PostForm.Get("client_id"))
	secret := r.PostForm.Get("client_secret")
	audience := ""
	for _, s := range strings.Fields(r.PostForm.Get("scope")) {
		for _, aud := range azureAudiences {
			if strings.EqualFold(strings.TrimSuffix(s, "/.default"), aud) && strings.HasSuffix(s, "/.default") {
				audience = aud
			}
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now().UTC()
	app, ok := t.apps[clientID]
	keyID, code := "", 0
	switch {
	case !ok:
		code = 700016
	case secret == "":
		code = 7000216
	default:
		code = 7000215
		for _, p := range app.Passwords {
			if subtle.ConstantTimeCompare([]byte(p.Secret), []byte(secret)) == 1 {
				keyID = p.KeyID
				code = 0
				if now.After(p.End) {
					code = 7000222
				}
			}
		}
	}
	if code == 0 && audience == "" {
		code = 70011
	}
	if code == 0 {
		ids := []string{clientID, clientID + "/" + keyID}
		if app.Privileged {
			ids = append(ids, FaultCallerResponder)
		}
		// Faults apply once the secret is verified, outside t.mu: a latency
		// fault must not hold up the twin's other calls.
		t.mu.Unlock()
		kind := c.twinFault(r, AzureService, AzureOpToken, ids...)
		t.mu.Lock()
		if azFaultAnswer(w, kind, "token") {
			return
		}
		w = answerWriter(w, kind)
		defer closeDropped(w)
	}
	ip := r.Header.Get("X-Forwarded-For")
	if ip == "" {
		ip, _, _ = net.SplitHostPort(r.RemoteAddr)
	}
	t.signIns = append(t.signIns, map[string]any{"id": newAzureID(), "createdDateTime": now.Format(time.RFC3339Nano),
		"appId": clientID, "ipAddress": ip, "servicePrincipalCredentialKeyId": keyID, "resourceId": audience,
		"signInEventTypes": []string{"servicePrincipal"}, "status": map[string]any{"errorCode": code}})
	switch code {
	case 0:
	case 700016:
		entraError(w, http.StatusBadRequest, "unauthorized_client", code, fmt.Sprintf("Application with identifier '%s' was not found in the directory.", clientID))
		return
	case 70011:
		entraError(w, http.StatusBadRequest, "invalid_scope", code, "The provided value for the input parameter 'scope' is not valid.")
		return
	default:
		entraError(w, http.StatusUnauthorized, "invalid_client", code, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
		return
	}
	tok := "eyJ0eXAiOiJKV1QiLCJkcmlsbCI6dHJ1ZX0." + newAzureKey() + newAzureKey()
	t.tokens[tok] = azureToken{AppID: clientID, Audience: audience, Expires: now.Add(time.Hour)}
	azJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok})
}

// authorize checks the bearer token of a Graph or ARM call: issued for audience,
// live, and to a privileged application.
func (t *AzureTwin) authorize(w http.ResponseWriter, r *http.Request, audience string, graph bool) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	t.mu.Lock()
	g, found := t.tokens[tok]
	app := t.apps[g.AppID]
	now := t.now()
	t.mu.Unlock()
	const code = "InvalidAuthenticationToken"
	switch {
	case !ok || !found:
		azError(w, http.StatusUnauthorized, code, "Access token validation failure. Invalid audience or token.")
		return false
	case g.Audience != audience:
		azError(w, http.StatusUnauthorized, code, "The access token has an invalid audience.")
		return false
	case now.After(g.Expires):
		azError(w, http.StatusUnauthorized, "ExpiredAuthenticationToken", "The access token expiry has passed.")
		return false
	case app == nil || !app.Privileged:
		if graph {
			azError(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		} else {
			azError(w, http.StatusForbidden, "AuthorizationFailed", "The client does not have authorization to perform this action.")
		}
		return false
	}
	return true
}

func (t *AzureTwin) serveGraph(w http.ResponseWriter, r *http.Request, c *Cloud) {
	if !t.authorize(w, r, "https://"+AzureGraphHost, true) {
		return
	}
	if r.URL.Path == "/beta/auditLogs/signIns" && r.Method == http.MethodGet {
		w, ok := t.faulted(w, r, c, AzureOpSignIns, "graph")
		if !ok {
			return
		}
		defer closeDropped(w)
		out := t.matching(&t.signIns, "appId", azFilterAppID, r)
		azJSON(w, http.StatusOK, map[string]any{"@odata.context": "https://graph.microsoft.com/beta/$metadata#auditLogs/signIns", "value": out})
		return
	}
	m := azAppPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		azError(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment.")
		return
	}
	op := AzureOpGetApplication
	if m[2] != "" {
		op = AzureOpRemovePassword
	}
	w, ok := t.faulted(w, r, c, op, "graph")
	if !ok {
		return
	}
	defer closeDropped(w)
	t.mu.Lock()
	defer t.mu.Unlock()
	app, ok := t.apps[strings.ToLower(m[1])]
	if !ok {
		azError(w, http.StatusNotFound, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", m[1]))
		return
	}
	switch {
	case op == AzureOpGetApplication && r.Method == http.MethodGet:
		creds := []map[string]any{}
		for _, p := range app.Passwords {
			creds = append(creds, map[string]any{"keyId": p.KeyID, "displayName": p.DisplayName, "hint": p.Secret[:3],
				"startDateTime": p.Start.Format(time.RFC3339), "endDateTime": p.End.Format(time.RFC3339), "secretText": nil, "customKeyIdentifier": nil})
		}
		azJSON(w, http.StatusOK, map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#applications/$entity",
			"id": app.ObjectID, "appId": app.AppID, "displayName": app.DisplayName, "passwordCredentials": creds})
	case op == AzureOpRemovePassword && r.Method == http.MethodPost:
		var body struct {
			KeyID string `json:"keyId"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body); err != nil || body.KeyID == "" {
			azError(w, http.StatusBadRequest, "BadRequest", "keyId is required.")
			return
		}
		i := slices.IndexFunc(app.Passwords, func(p *azurePassword) bool { return strings.EqualFold(p.KeyID, body.KeyID) })
		if i < 0 {
			azError(w, http.StatusNotFound, "Request_ResourceNotFound", "No password credential found with keyId "+body.KeyID+".")
			return
		}
		app.Passwords = slices.Delete(app.Passwords, i, i+1)
		w.WriteHeader(http.StatusNoContent)
	default:
		azError(w, http.StatusMethodNotAllowed, "Request_BadRequest", "method not allowed")
	}
}

func (t *AzureTwin) serveARM(w http.ResponseWriter, r *http.Request, c *Cloud) {
	if !t.authorize(w, r, "https://"+AzureARMHost, false) {
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		azError(w, http.StatusBadRequest, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
		return
	}
	if m := azActivityPath.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodGet {
		w, ok := t.faulted(w, r, c, AzureOpActivityLog, "arm")
		if !ok {
			return
		}
		defer closeDropped(w)
		out := t.matching(&t.activity, "resourceId", azFilterURI, r)
		azJSON(w, http.StatusOK, map[string]any{"value": out})
		return
	}
	m := azAccountPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		azError(w, http.StatusNotFound, "InvalidResourceType", "The resource type could not be found.")
		return
	}
	op := map[string]string{"": AzureOpGetAccount, "/listkeys": AzureOpListKeys, "/regeneratekey": AzureOpRegenerateKey}[strings.ToLower(m[4])]
	if op == AzureOpGetAccount && r.Method == http.MethodPatch {
		op = AzureOpPatchAccount
	}
	w, ok := t.faulted(w, r, c, op, "arm")
	if !ok {
		return
	}
	defer closeDropped(w)
	id := "/subscriptions/" + m[1] + "/resourceGroups/" + m[2] + "/providers/Microsoft.CognitiveServices/accounts/" + m[3]
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.accounts[strings.ToLower(id)]
	if !ok {
		azError(w, http.StatusNotFound, "ResourceNotFound", fmt.Sprintf("The Resource 'Microsoft.CognitiveServices/accounts/%s' under resource group '%s' was not found.", m[3], m[2]))
		return
	}
	caller := t.callerLocked(r)
	switch {
	case op == AzureOpGetAccount && r.Method == http.MethodGet:
		azJSON(w, http.StatusOK, a.json())
	case op == AzureOpPatchAccount:
		var body struct {
			Properties struct {
				DisableLocalAuth *bool `json:"disableLocalAuth"`
			} `json:"properties"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body); err != nil {
			azError(w, http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized.")
			return
		}
		if body.Properties.DisableLocalAuth != nil {
			a.DisableLocalAuth = *body.Properties.DisableLocalAuth
		}
		t.logActivityLocked(a, caller, r, "Microsoft.CognitiveServices/accounts/write")
		azJSON(w, http.StatusOK, a.json())
	case op == AzureOpListKeys && r.Method == http.MethodPost:
		t.logActivityLocked(a, caller, r, "Microsoft.CognitiveServices/accounts/listKeys/action")
		azJSON(w, http.StatusOK, map[string]string{"key1": a.Key1, "key2": a.Key2})
	case op == AzureOpRegenerateKey && r.Method == http.MethodPost:
		var body struct {
			KeyName string `json:"keyName"`
		}
		_ = json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body)
		switch body.KeyName {
		case "Key1":
			a.Key1 = newAzureKey()
		case "Key2":
			a.Key2 = newAzureKey()
		default:
			azError(w, http.StatusBadRequest, "InvalidRequestContent", "keyName must be Key1 or Key2.")
			return
		}
		t.logActivityLocked(a, caller, r, "Microsoft.CognitiveServices/accounts/regenerateKey/action")
		azJSON(w, http.StatusOK, map[string]string{"key1": a.Key1, "key2": a.Key2})
	default:
		azError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "method not allowed")
	}
}

func (a *azureAccount) json() map[string]any {
	return map[string]any{"id": a.ID, "name": a.Name, "type": "Microsoft.CognitiveServices/accounts", "kind": "OpenAI",
		"location": "eastus", "sku": map[string]string{"name": "S0"},
		"properties": map[string]any{"disableLocalAuth": a.DisableLocalAuth, "provisioningState": "Succeeded",
			"endpoint": "https://" + a.Name + AzureOpenAISuffix + "/", "customSubDomainName": a.Name}}
}

func (t *AzureTwin) callerLocked(r *http.Request) string {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return t.tokens[tok].AppID
}

func (t *AzureTwin) logActivityLocked(a *azureAccount, caller string, r *http.Request, operation string) {
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	t.activity = append(t.activity, map[string]any{"eventDataId": newAzureID(), "eventTimestamp": t.now().UTC().Format(time.RFC3339Nano),
		"caller": caller, "operationName": map[string]string{"value": operation}, "status": map[string]string{"value": "Succeeded"},
		"httpRequest": map[string]string{"clientIpAddress": ip}, "resourceId": a.ID, "category": map[string]string{"value": "Administrative"}})
}

// serveOpenAI is the Azure OpenAI data plane of account name, authenticated by
// its api-key header.
func (t *AzureTwin) serveOpenAI(w http.ResponseWriter, r *http.Request, c *Cloud, name string) {
	if t.injected(w, AzureOpChat) {
		return
	}
	m := azChatPath.FindStringSubmatch(r.URL.Path)
	if m == nil || r.Method != http.MethodPost {
		azError(w, http.StatusNotFound, "404", "Resource not found")
		return
	}
	key := r.Header.Get("api-key")
	t.mu.Lock()
	var acct *azureAccount
	for _, a := range t.accounts {
		if strings.EqualFold(a.Name, name) {
			acct = a
		}
	}
	valid := acct != nil && key != "" && (subtle.ConstantTimeCompare([]byte(key), []byte(acct.Key1)) == 1 ||
		subtle.ConstantTimeCompare([]byte(key), []byte(acct.Key2)) == 1)
	disabled := acct != nil && acct.DisableLocalAuth
	t.mu.Unlock()
	switch {
	case acct == nil:
		azError(w, http.StatusNotFound, "404", "Resource not found")
	case disabled:
		azError(w, http.StatusForbidden, "AuthenticationTypeDisabled", "Key based authentication is disabled for this resource.")
	case !valid:
		azError(w, http.StatusUnauthorized, "401", "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.")
	default:
		// The account's ARM id names the caller: the key itself is a secret.
		kind := c.twinFault(r, AzureService, AzureOpChat, acct.ID)
		if azFaultAnswer(w, kind, "openai") {
			return
		}
		w = answerWriter(w, kind)
		defer closeDropped(w)
		azJSON(w, http.StatusOK, map[string]any{"id": "chatcmpl-drill", "object": "chat.completion", "model": m[1],
			"choices": []map[string]any{{"index": 0, "finish_reason": "stop", "message": map[string]string{"role": "assistant", "content": "drill"}}}})
	}
}
