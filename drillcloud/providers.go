package drillcloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Model-provider services, as they appear in Event.Service, Event.EventSource and
// Fault.Service.
const (
	ProviderAnthropic = "anthropic"
	ProviderOpenAI    = "openai"
)

var providerServices = map[string]bool{ProviderAnthropic: true, ProviderOpenAI: true}

// SeedProviders are the model-provider organizations the cloud serves next to AWS:
// the Anthropic and OpenAI Admin APIs (disable, revoke and read keys) and their
// inference endpoints (what a stolen key is used for).
type SeedProviders struct {
	Anthropic SeedAnthropic `yaml:"anthropic"`
	OpenAI    SeedOpenAI    `yaml:"openai"`
}

type SeedAnthropic struct {
	Organizations []SeedAnthropicOrg `yaml:"organizations"`
}

// SeedAnthropicOrg is an Anthropic organization with its Admin API key. An empty
// AdminKey gets a random sk-ant-admin01-… value (ProviderAdminKey hands it out).
type SeedAnthropicOrg struct {
	ID         string             `yaml:"id"`
	Name       string             `yaml:"name"`
	AdminKey   string             `yaml:"admin_key"`
	AdminKeyID string             `yaml:"admin_key_id"`
	Keys       []SeedAnthropicKey `yaml:"keys"`
}

// SeedAnthropicKey is an API key (apikey_…). An empty Value gets a random
// sk-ant-api03-… one.
type SeedAnthropicKey struct {
	ID          string    `yaml:"id"`
	Name        string    `yaml:"name"`
	Value       string    `yaml:"value"`
	Status      string    `yaml:"status"` // active (default), inactive or archived
	WorkspaceID string    `yaml:"workspace_id"`
	Created     time.Time `yaml:"created"`
}

type SeedOpenAI struct {
	Organizations []SeedOpenAIOrg `yaml:"organizations"`
}

// SeedOpenAIOrg is an OpenAI organization with its Admin API key (random
// sk-admin-… when empty).
type SeedOpenAIOrg struct {
	ID         string              `yaml:"id"`
	Name       string              `yaml:"name"`
	AdminKey   string              `yaml:"admin_key"`
	AdminKeyID string              `yaml:"admin_key_id"`
	Projects   []SeedOpenAIProject `yaml:"projects"`
}

type SeedOpenAIProject struct {
	ID       string          `yaml:"id"`
	Name     string          `yaml:"name"`
	Archived bool            `yaml:"archived"`
	Keys     []SeedOpenAIKey `yaml:"keys"`
}

// SeedOpenAIKey is a project API key (key_…). OpenAI keys have no status: they
// exist until they are deleted.
type SeedOpenAIKey struct {
	ID      string    `yaml:"id"`
	Name    string    `yaml:"name"`
	Value   string    `yaml:"value"`
	Owner   string    `yaml:"owner"` // user (default) or service_account
	Created time.Time `yaml:"created"`
}

var (
	providerOrgIDRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	openAIOrgIDRE     = regexp.MustCompile(`^org-[A-Za-z0-9]{1,64}$`)
	anthropicKeyIDRE  = regexp.MustCompile(`^apikey_[A-Za-z0-9]{6,64}$`)
	openAIKeyIDRE     = regexp.MustCompile(`^key_[A-Za-z0-9]{6,64}$`)
	openAIProjectIDRE = regexp.MustCompile(`^proj_[A-Za-z0-9]{1,64}$`)
	workspaceIDRE     = regexp.MustCompile(`^wrkspc_[A-Za-z0-9]{1,64}$`)
	anthropicValueRE  = regexp.MustCompile(`^sk-ant-api03-[A-Za-z0-9_-]{16,200}$`)
	anthropicAdminRE  = regexp.MustCompile(`^sk-ant-admin01-[A-Za-z0-9_-]{16,200}$`)
	openAIValueRE     = regexp.MustCompile(`^sk-(proj|svcacct)-[A-Za-z0-9_-]{16,200}$`)
	openAIAdminRE     = regexp.MustCompile(`^sk-admin-[A-Za-z0-9_-]{16,200}$`)
	anthropicStatuses = []string{"active", "inactive", "archived"}
	openAIOwnerTypes  = []string{"user", "service_account"}
)

const maxProviderNameLen = 256

// validate checks the providers block. ids and values collect every key id and
// secret value across both providers: a value shared by two keys would make
// authentication ambiguous.
func (p *SeedProviders) validate() error {
	ids := map[string]bool{}
	values := map[string]bool{}
	uniqueValue := func(path []any, v string) error {
		if v == "" {
			return nil
		}
		if values[v] {
			// Never repeat the value: seeds may be pasted into bug reports.
			return seedErr(path, "the same key value is given twice")
		}
		values[v] = true
		return nil
	}
	uniqueID := func(path []any, id string) error {
		if ids[id] {
			return seedErr(path, "duplicate id %s", id)
		}
		ids[id] = true
		return nil
	}
	name := func(path []any, n string) error {
		if len(n) > maxProviderNameLen {
			return seedErr(path, "name is longer than %d characters", maxProviderNameLen)
		}
		return nil
	}
	for oi := range p.Anthropic.Organizations {
		o := &p.Anthropic.Organizations[oi]
		op := []any{"providers", "anthropic", "organizations", oi}
		if !providerOrgIDRE.MatchString(o.ID) {
			return seedErr(append(op, "id"), "organization id %q must be 1-64 letters, digits, _ or -", o.ID)
		}
		if err := uniqueID(append(op, "id"), o.ID); err != nil {
			return err
		}
		if err := name(append(op, "name"), o.Name); err != nil {
			return err
		}
		if o.AdminKey != "" && !anthropicAdminRE.MatchString(o.AdminKey) {
			return seedErr(append(op, "admin_key"), "admin key must look like sk-ant-admin01-…")
		}
		if err := uniqueValue(append(op, "admin_key"), o.AdminKey); err != nil {
			return err
		}
		if o.AdminKeyID != "" {
			if !anthropicKeyIDRE.MatchString(o.AdminKeyID) {
				return seedErr(append(op, "admin_key_id"), "admin key id %q must look like apikey_…", o.AdminKeyID)
			}
			if err := uniqueID(append(op, "admin_key_id"), o.AdminKeyID); err != nil {
				return err
			}
		}
		for ki := range o.Keys {
			k := &o.Keys[ki]
			kp := append(append([]any(nil), op...), "keys", ki)
			if !anthropicKeyIDRE.MatchString(k.ID) {
				return seedErr(append(kp, "id"), "key id %q must look like apikey_ and 6-64 letters or digits", k.ID)
			}
			if err := uniqueID(append(kp, "id"), k.ID); err != nil {
				return err
			}
			if err := name(append(kp, "name"), k.Name); err != nil {
				return err
			}
			if k.Value != "" && !anthropicValueRE.MatchString(k.Value) {
				return seedErr(append(kp, "value"), "key value must look like sk-ant-api03-…")
			}
			if err := uniqueValue(append(kp, "value"), k.Value); err != nil {
				return err
			}
			if k.Status == "" {
				k.Status = "active"
			} else if !containsString(anthropicStatuses, k.Status) {
				return seedErr(append(kp, "status"), "status must be active, inactive or archived, got %q", k.Status)
			}
			if k.WorkspaceID != "" && !workspaceIDRE.MatchString(k.WorkspaceID) {
				return seedErr(append(kp, "workspace_id"), "workspace id %q must look like wrkspc_…", k.WorkspaceID)
			}
		}
	}
	for oi := range p.OpenAI.Organizations {
		o := &p.OpenAI.Organizations[oi]
		op := []any{"providers", "openai", "organizations", oi}
		if !openAIOrgIDRE.MatchString(o.ID) {
			return seedErr(append(op, "id"), "organization id %q must look like org-…", o.ID)
		}
		if err := uniqueID(append(op, "id"), o.ID); err != nil {
			return err
		}
		if err := name(append(op, "name"), o.Name); err != nil {
			return err
		}
		if o.AdminKey != "" && !openAIAdminRE.MatchString(o.AdminKey) {
			return seedErr(append(op, "admin_key"), "admin key must look like sk-admin-…")
		}
		if err := uniqueValue(append(op, "admin_key"), o.AdminKey); err != nil {
			return err
		}
		if o.AdminKeyID != "" {
			if !openAIKeyIDRE.MatchString(o.AdminKeyID) {
				return seedErr(append(op, "admin_key_id"), "admin key id %q must look like key_…", o.AdminKeyID)
			}
			if err := uniqueID(append(op, "admin_key_id"), o.AdminKeyID); err != nil {
				return err
			}
		}
		for pi := range o.Projects {
			pr := &o.Projects[pi]
			pp := append(append([]any(nil), op...), "projects", pi)
			if !openAIProjectIDRE.MatchString(pr.ID) {
				return seedErr(append(pp, "id"), "project id %q must look like proj_…", pr.ID)
			}
			if err := uniqueID(append(pp, "id"), pr.ID); err != nil {
				return err
			}
			if err := name(append(pp, "name"), pr.Name); err != nil {
				return err
			}
			for ki := range pr.Keys {
				k := &pr.Keys[ki]
				kp := append(append([]any(nil), pp...), "keys", ki)
				if !openAIKeyIDRE.MatchString(k.ID) {
					return seedErr(append(kp, "id"), "key id %q must look like key_ and 6-64 letters or digits", k.ID)
				}
				if err := uniqueID(append(kp, "id"), k.ID); err != nil {
					return err
				}
				if err := name(append(kp, "name"), k.Name); err != nil {
					return err
				}
				if k.Value != "" && !openAIValueRE.MatchString(k.Value) {
					return seedErr(append(kp, "value"), "key value must look like sk-proj-… or sk-svcacct-…")
				}
				if err := uniqueValue(append(kp, "value"), k.Value); err != nil {
					return err
				}
				if k.Owner == "" {
					k.Owner = "user"
				} else if !containsString(openAIOwnerTypes, k.Owner) {
					return seedErr(append(kp, "owner"), "owner must be user or service_account, got %q", k.Owner)
				}
			}
		}
	}
	return nil
}

// providerState is the model-provider half of the cloud, guarded by Cloud.mu.
type providerState struct {
	orgs   map[string][]*providerOrg // by provider, in seed order
	keys   map[string]*providerKey   // by key id, deleted OpenAI keys included
	values map[string]*providerKey   // by secret value
	admins map[string]*providerOrg   // by admin key value
}

type providerOrg struct {
	provider, id, name   string
	adminKey, adminKeyID string
	projects             []*providerProject // OpenAI only
	keys                 []*providerKey     // creation order
}

type providerProject struct {
	id, name string
	archived bool
	created  time.Time
	org      *providerOrg
}

type providerKey struct {
	provider, id, name, value string
	// status is Anthropic's active, inactive or archived; an OpenAI key is active
	// until deleted.
	status      string
	deleted     bool
	workspaceID string
	ownerType   string
	org         *providerOrg
	project     *providerProject // OpenAI only
	created     time.Time
	lastUsed    time.Time
	requests    int
	inTokens    int
	outTokens   int
}

func newProviderState(seed SeedProviders, now time.Time) *providerState {
	ps := &providerState{orgs: map[string][]*providerOrg{}, keys: map[string]*providerKey{},
		values: map[string]*providerKey{}, admins: map[string]*providerOrg{}}
	addKey := func(k *providerKey) {
		ps.keys[k.id] = k
		ps.values[k.value] = k
		k.org.keys = append(k.org.keys, k)
	}
	for _, so := range seed.Anthropic.Organizations {
		o := &providerOrg{provider: ProviderAnthropic, id: so.ID, name: so.Name,
			adminKey:   orDefault(so.AdminKey, "sk-ant-admin01-"+randAlnum(80)+"AA"),
			adminKeyID: orDefault(so.AdminKeyID, "apikey_01admin"+randAlnum(16))}
		ps.orgs[ProviderAnthropic] = append(ps.orgs[ProviderAnthropic], o)
		ps.admins[o.adminKey] = o
		for _, sk := range so.Keys {
			addKey(&providerKey{provider: ProviderAnthropic, id: sk.ID, name: sk.Name,
				value:  orDefault(sk.Value, "sk-ant-api03-"+randAlnum(86)+"AA"),
				status: orDefault(sk.Status, "active"), workspaceID: sk.WorkspaceID, org: o, created: orNow(sk.Created, now)})
		}
	}
	for _, so := range seed.OpenAI.Organizations {
		o := &providerOrg{provider: ProviderOpenAI, id: so.ID, name: so.Name,
			adminKey:   orDefault(so.AdminKey, "sk-admin-"+randAlnum(74)),
			adminKeyID: orDefault(so.AdminKeyID, "key_admin"+randAlnum(16))}
		ps.orgs[ProviderOpenAI] = append(ps.orgs[ProviderOpenAI], o)
		ps.admins[o.adminKey] = o
		for _, sp := range so.Projects {
			p := &providerProject{id: sp.ID, name: sp.Name, archived: sp.Archived, created: now, org: o}
			o.projects = append(o.projects, p)
			for _, sk := range sp.Keys {
				prefix := "sk-proj-"
				if sk.Owner == "service_account" {
					prefix = "sk-svcacct-"
				}
				addKey(&providerKey{provider: ProviderOpenAI, id: sk.ID, name: sk.Name,
					value: orDefault(sk.Value, prefix+randAlnum(120)), status: "active",
					ownerType: orDefault(sk.Owner, "user"), org: o, project: p, created: orNow(sk.Created, now)})
			}
		}
	}
	return ps
}

func orDefault(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

func (o *providerOrg) project(id string) *providerProject {
	for _, p := range o.projects {
		if p.id == id {
			return p
		}
	}
	return nil
}

// live reports whether the key authenticates: an Anthropic key that is active, an
// OpenAI key not deleted in a project not archived.
func (k *providerKey) live() bool {
	if k.deleted || k.status != "active" {
		return false
	}
	return k.project == nil || !k.project.archived
}

// providerFor picks the model-provider API a request is for, or "" for AWS. A
// request that carries a SigV4 signature is always AWS; otherwise the provider's own
// auth headers decide, then the path. No AWS service the cloud serves uses paths
// under /v1/ (an S3 bucket name has at least three characters).
func providerFor(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	if strings.HasPrefix(auth, "AWS4-") || !strings.HasPrefix(r.URL.Path, "/v1/") {
		return ""
	}
	p := r.URL.Path
	switch {
	case r.Header.Get("X-Api-Key") != "" || r.Header.Get("Anthropic-Version") != "":
		return ProviderAnthropic
	case strings.HasPrefix(auth, "Bearer "):
		return ProviderOpenAI
	case p == "/v1/messages" || strings.HasPrefix(p, "/v1/organizations/"):
		return ProviderAnthropic
	case p == "/v1/chat/completions" || strings.HasPrefix(p, "/v1/organization/"):
		return ProviderOpenAI
	}
	return ""
}

// providerOp is one supported model-provider operation.
type providerOp struct {
	admin    bool // needs the organization's Admin API key
	readOnly bool
	handle   func(*pcall) (*response, *providerError)
}

// pcall is one model-provider request in flight.
type pcall struct {
	c        *Cloud
	r        *http.Request
	provider string
	reqID    string
	now      time.Time
	body     []byte
	op       string
	def      *providerOp
	path     map[string]string

	org   *providerOrg // the caller's organization
	key   *providerKey // the calling API key; nil for the admin key
	admin bool
	keyID string // id of the key that authenticated, or was presented and refused

	params  map[string]string
	applied bool
	fault   FaultKind
}

func (cl *pcall) param(k, v string) {
	if v == "" {
		return
	}
	if cl.params == nil {
		cl.params = map[string]string{}
	}
	cl.params[k] = v
}

// providerError is an error in the provider's own JSON shape.
type providerError struct {
	status int
	typ    string // Anthropic error.type; OpenAI error.type
	code   string // OpenAI error.code; empty for Anthropic
	msg    string
	header map[string]string
}

func perr(status int, typ, code, format string, args ...any) *providerError {
	return &providerError{status: status, typ: typ, code: code, msg: fmt.Sprintf(format, args...)}
}

// providerRefusal is the provider's answer to a kind of refusal.
func providerRefusal(provider string, kind errKind) *providerError {
	anthropic := provider == ProviderAnthropic
	switch kind {
	case ekInvalidKey:
		if anthropic {
			return perr(401, "authentication_error", "", "invalid x-api-key")
		}
		return perr(401, "invalid_request_error", "invalid_api_key",
			"Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.")
	case ekMissingAuth:
		if anthropic {
			return perr(401, "authentication_error", "", "x-api-key header is required")
		}
		return perr(401, "invalid_request_error", "missing_api_key",
			"You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
	case ekAccessDenied:
		if anthropic {
			return perr(403, "permission_error", "", "Your API key does not have permission to use the specified resource.")
		}
		return perr(403, "invalid_request_error", "insufficient_permissions",
			"You have insufficient permissions for this operation.")
	case ekThrottle:
		e := perr(429, "rate_limit_error", "", "Number of requests has exceeded your rate limit. Please try again later.")
		if !anthropic {
			e = perr(429, "requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again in 1s.")
		}
		e.header = map[string]string{"Retry-After": "1"}
		return e
	case ekServer:
		if anthropic {
			return perr(500, "api_error", "", "Internal server error")
		}
		return perr(500, "server_error", "", "The server had an error while processing your request. Sorry about that!")
	}
	return perr(404, "not_found_error", "", "Not found")
}

func (e *providerError) render(provider, reqID string) *response {
	var body []byte
	if provider == ProviderAnthropic {
		body, _ = json.Marshal(map[string]any{"type": "error",
			"error": map[string]string{"type": e.typ, "message": e.msg}})
	} else {
		var code any
		if e.code != "" {
			code = e.code
		}
		body, _ = json.Marshal(map[string]any{"error": map[string]any{"message": e.msg, "type": e.typ, "param": nil, "code": code}})
	}
	resp := newResponse(e.status, "application/json", body)
	setRequestID(resp, provider, reqID)
	for k, v := range e.header {
		resp.header.Set(k, v)
	}
	return resp
}

func setRequestID(resp *response, provider, reqID string) {
	if provider == ProviderAnthropic {
		resp.header.Set("Request-Id", "req_"+strings.ReplaceAll(reqID, "-", ""))
	} else {
		resp.header.Set("X-Request-Id", "req_"+strings.ReplaceAll(reqID, "-", ""))
	}
}

func providerJSON(provider, reqID string, v any) (*response, *providerError) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, providerRefusal(provider, ekServer)
	}
	resp := newResponse(200, "application/json", body)
	setRequestID(resp, provider, reqID)
	return resp, nil
}

// serveProvider runs a model-provider request through route → authenticate →
// faults → handler and records it, the same pipeline AWS requests take.
func (c *Cloud) serveProvider(w http.ResponseWriter, r *http.Request, provider string) {
	cl := &pcall{c: c, r: r, provider: provider, reqID: newUUID(), now: time.Now().UTC()}
	ev := Event{ID: newUUID(), RequestID: cl.reqID, Time: cl.now, Service: provider, EventSource: provider,
		SourceIP: c.sourceIP(r), UserAgent: r.UserAgent()}
	var resp *response
	perrResp, drop := c.runProvider(cl)
	if perrResp.err != nil {
		ev.ErrorCode, ev.ErrorMsg = perrResp.err.typ, perrResp.err.msg
		if perrResp.err.code != "" {
			ev.ErrorCode = perrResp.err.code
		}
		resp = perrResp.err.render(provider, cl.reqID)
	} else {
		resp = perrResp.resp
	}
	ev.Operation = cl.op
	if cl.def != nil {
		ev.Action, ev.ReadOnly = provider+":"+cl.op, cl.def.readOnly
	}
	ev.AccessKeyID = cl.keyID
	c.mu.Lock()
	switch {
	case cl.admin:
		ev.Account, ev.Principal, ev.UserName = cl.org.id, adminPrincipal(cl.org), "admin key"
	case cl.key != nil:
		ev.Account, ev.Principal, ev.UserName = cl.key.org.id, keyPrincipal(cl.key), cl.key.name
	}
	c.mu.Unlock()
	ev.HTTPStatus = resp.status
	ev.RequestParameters = cl.params
	ev.Applied, ev.Fault = cl.applied, cl.fault
	c.record(ev)
	if l := c.opts.logger; l != nil {
		l.Debug("drillcloud call", "service", ev.Service, "op", ev.Operation, "key", ev.AccessKeyID,
			"status", ev.HTTPStatus, "error", ev.ErrorCode, "applied", ev.Applied, "fault", string(ev.Fault))
	}
	if drop {
		dropConnection(w)
		return
	}
	for k, vs := range resp.header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(resp.body)))
	w.WriteHeader(resp.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(resp.body)
	}
}

func adminPrincipal(o *providerOrg) string {
	return o.provider + ":organization/" + o.id + "/admin-key/" + o.adminKeyID
}

func keyPrincipal(k *providerKey) string {
	if k.project != nil {
		return k.provider + ":organization/" + k.org.id + "/project/" + k.project.id + "/api-key/" + k.id
	}
	return k.provider + ":organization/" + k.org.id + "/api-key/" + k.id
}

type providerResult struct {
	resp *response
	err  *providerError
}

func (c *Cloud) runProvider(cl *pcall) (providerResult, bool) {
	fail := func(e *providerError) (providerResult, bool) { return providerResult{err: e}, false }
	body, err := io.ReadAll(io.LimitReader(cl.r.Body, c.opts.maxBody+1))
	if err != nil {
		return fail(perr(400, "invalid_request_error", "", "reading request body: %v", err))
	}
	if int64(len(body)) > c.opts.maxBody {
		return fail(perr(413, "request_too_large", "", "request body exceeds %d bytes", c.opts.maxBody))
	}
	cl.body = body

	var ops map[string]*providerOp
	if cl.provider == ProviderAnthropic {
		cl.op, cl.path = anthropicRoute(cl.r)
		ops = anthropicOps
	} else {
		cl.op, cl.path = openAIRoute(cl.r)
		ops = openAIOps
	}
	cl.def = ops[cl.op]

	if e := c.authenticateProvider(cl); e != nil {
		return fail(e)
	}
	if cl.def == nil {
		if cl.provider == ProviderAnthropic {
			return fail(perr(404, "not_found_error", "", "Not Found: %s %s is not served by the drill cloud", cl.r.Method, cl.r.URL.Path))
		}
		return fail(perr(404, "invalid_request_error", "unknown_url", "Invalid URL (%s %s)", cl.r.Method, cl.r.URL.Path))
	}
	if cl.provider == ProviderAnthropic && cl.r.Header.Get("Anthropic-Version") == "" {
		return fail(perr(400, "invalid_request_error", "", "anthropic-version: header is required"))
	}
	if cl.def.admin != cl.admin {
		// Admin keys manage the organization and cannot run inference; API keys
		// cannot manage it.
		return fail(providerRefusal(cl.provider, ekAccessDenied))
	}

	delay, kind := c.pickFaults(cl.provider, cl.op, cl.keyID)
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-cl.r.Context().Done():
			t.Stop()
		}
	}
	switch kind {
	case FaultThrottle, FaultServerError:
		cl.fault = kind
		if kind == FaultThrottle {
			return fail(providerRefusal(cl.provider, ekThrottle))
		}
		return fail(providerRefusal(cl.provider, ekServer))
	case FaultAccessDenied:
		cl.fault = kind
		return fail(providerRefusal(cl.provider, ekAccessDenied))
	case FaultDropResponse:
		cl.fault = kind
	}
	if delay > 0 && cl.fault == "" {
		cl.fault = FaultLatency
	}
	resp, e := cl.def.handle(cl)
	if e != nil {
		return providerResult{err: e}, kind == FaultDropResponse
	}
	return providerResult{resp: resp}, kind == FaultDropResponse
}

// authenticateProvider finds the admin key or API key the request presents. A
// refused key the cloud knows is still named in the call log by its id, never by
// its value.
func (c *Cloud) authenticateProvider(cl *pcall) *providerError {
	var secret string
	if cl.provider == ProviderAnthropic {
		secret = cl.r.Header.Get("X-Api-Key")
	} else if v, ok := strings.CutPrefix(cl.r.Header.Get("Authorization"), "Bearer "); ok {
		secret = strings.TrimSpace(v)
	}
	if secret == "" {
		return providerRefusal(cl.provider, ekMissingAuth)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ps := c.st.providers
	if o := ps.admins[secret]; o != nil && o.provider == cl.provider {
		cl.org, cl.admin, cl.keyID = o, true, o.adminKeyID
		return nil
	}
	k := ps.values[secret]
	if k == nil || k.provider != cl.provider {
		return providerRefusal(cl.provider, ekInvalidKey)
	}
	cl.keyID = k.id
	if !k.live() {
		cl.key = k // attributed in the log, refused all the same
		return providerRefusal(cl.provider, ekInvalidKey)
	}
	cl.key, cl.org = k, k.org
	k.lastUsed = cl.now
	return nil
}

// ProviderKeyInfo is the observable state of a model-provider API key (never its
// value).
type ProviderKeyInfo struct {
	Provider     string
	ID           string
	Name         string
	Organization string
	Project      string // OpenAI only
	WorkspaceID  string // Anthropic only; "" is the default workspace
	// Status is Anthropic's active, inactive or archived; an OpenAI key is active or
	// deleted.
	Status       string
	Owner        string // OpenAI: user or service_account
	Created      time.Time
	LastUsed     time.Time
	Requests     int // successful inference calls
	InputTokens  int
	OutputTokens int
}

func (k *providerKey) info() ProviderKeyInfo {
	info := ProviderKeyInfo{Provider: k.provider, ID: k.id, Name: k.name, Organization: k.org.id,
		WorkspaceID: k.workspaceID, Status: k.status, Owner: k.ownerType, Created: k.created, LastUsed: k.lastUsed,
		Requests: k.requests, InputTokens: k.inTokens, OutputTokens: k.outTokens}
	if k.project != nil {
		info.Project = k.project.id
	}
	if k.deleted {
		info.Status = "deleted"
	}
	return info
}

// ProviderKey returns a model-provider key's state by id (apikey_… or key_…),
// deleted OpenAI keys included.
func (c *Cloud) ProviderKey(id string) (ProviderKeyInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.st.providers.keys[id]
	if k == nil {
		return ProviderKeyInfo{}, false
	}
	return k.info(), true
}

// ProviderKeyValue returns a key's secret value, as an attacker who stole it (or a
// test) holds it. The call log never contains it.
func (c *Cloud) ProviderKeyValue(id string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.st.providers.keys[id]
	if k == nil {
		return "", fmt.Errorf("provider key value of %s: no such key", id)
	}
	return k.value, nil
}

// ProviderOrg is a model-provider organization.
type ProviderOrg struct {
	Provider string
	ID       string
	Name     string
	Projects []string // OpenAI project ids, in seed order
}

// ProviderOrgs lists a provider's organizations in seed order.
func (c *Cloud) ProviderOrgs(provider string) []ProviderOrg {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []ProviderOrg
	for _, o := range c.st.providers.orgs[provider] {
		po := ProviderOrg{Provider: provider, ID: o.id, Name: o.name}
		for _, p := range o.projects {
			po.Projects = append(po.Projects, p.id)
		}
		out = append(out, po)
	}
	return out
}

// ProviderAdminKey returns the Admin API key of an organization ("" = the
// provider's first), for sever's configuration in drills and tests.
func (c *Cloud) ProviderAdminKey(provider, orgID string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range c.st.providers.orgs[provider] {
		if orgID == "" || o.id == orgID {
			return o.adminKey, nil
		}
	}
	if orgID == "" {
		return "", fmt.Errorf("provider admin key: the seed has no %s organization", provider)
	}
	return "", fmt.Errorf("provider admin key: no %s organization %s", provider, orgID)
}

// ProviderKeys returns every model-provider key, ordered by provider, then id.
func (c *Cloud) ProviderKeys() []ProviderKeyInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]ProviderKeyInfo, 0, len(c.st.providers.keys))
	for _, k := range c.st.providers.keys {
		out = append(out, k.info())
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Provider != out[j].Provider {
			return out[i].Provider < out[j].Provider
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// VendorDisableProviderKey does what a provider does when it acts on a leaked key
// on its own, without anyone's credentials: Anthropic sets the key inactive,
// OpenAI (which has no disable) deletes it. The call log records it as the
// provider's internal event, so drills can show the provider acting first.
func (c *Cloud) VendorDisableProviderKey(provider, keyID string) error {
	c.mu.Lock()
	k := c.st.providers.keys[keyID]
	if k == nil || k.provider != provider {
		c.mu.Unlock()
		return fmt.Errorf("vendor disable %s key %s: no such key", provider, keyID)
	}
	op, applied := "UpdateAPIKey", false
	params := map[string]string{"apiKeyId": keyID}
	if provider == ProviderAnthropic {
		applied = k.status == "active"
		if applied {
			k.status = "inactive"
		}
		params["status"] = "inactive"
	} else {
		op, applied = "DeleteProjectAPIKey", !k.deleted
		k.deleted = true
		params["projectId"] = k.project.id
	}
	org := k.org.id
	c.mu.Unlock()
	now := time.Now().UTC()
	c.record(Event{
		ID: newUUID(), RequestID: newUUID(), Time: now, Service: provider, Operation: op, EventSource: provider,
		Action: provider + ":" + op, Account: org, Principal: provider + ":internal", UserName: "Provider Internal",
		SourceIP: "Provider Internal", UserAgent: "Provider Internal", HTTPStatus: 200,
		RequestParameters: params, Applied: applied,
	})
	return nil
}

// badBody is the provider's 400 for a body that is not the JSON it expects.
func badBody(err error) *providerError {
	var se *json.SyntaxError
	msg := "invalid JSON body"
	if errors.As(err, &se) {
		msg = fmt.Sprintf("invalid JSON body at offset %d", se.Offset)
	}
	return perr(400, "invalid_request_error", "", "%s", msg)
}

// unixTime marshals as whole epoch seconds, OpenAI's timestamp form.
type unixTime time.Time

func (t unixTime) MarshalJSON() ([]byte, error) {
	if time.Time(t).IsZero() {
		return []byte("null"), nil
	}
	return []byte(fmt.Sprint(time.Time(t).Unix())), nil
}

// cannedUsage estimates tokens the way the Bedrock model does: a token per four
// bytes of prompt, and the canned completion.
func cannedUsage(body []byte) (in, out int) {
	return len(body)/4 + 1, len(cannedCompletion) / 4
}

func (cl *pcall) recordUsage(in, out int) {
	cl.c.mu.Lock()
	defer cl.c.mu.Unlock()
	cl.key.requests++
	cl.key.inTokens += in
	cl.key.outTokens += out
}

// Attacker operations with a stolen model-provider API key (KeyID apikey_… or key_…).
const (
	AttackAnthropicMessages = "anthropic:CreateMessage"
	AttackOpenAIChat        = "openai:CreateChatCompletion"
)

// providerAttacks maps the provider attack operations to their provider.
var providerAttacks = map[string]string{AttackAnthropicMessages: ProviderAnthropic, AttackOpenAIChat: ProviderOpenAI}

func defaultAttackOps(keyID string) []string {
	switch {
	case strings.HasPrefix(keyID, "apikey_"):
		return []string{AttackAnthropicMessages}
	case strings.HasPrefix(keyID, "key_"):
		return []string{AttackOpenAIChat}
	}
	return []string{AttackListBuckets, AttackInvokeModel}
}

// attackProvider returns the provider the operations attack, or "" for AWS. One
// stolen key cannot serve two providers, or a provider and AWS.
func attackProvider(cfg AttackerConfig) (string, error) {
	provider := providerAttacks[cfg.Operations[0]]
	for _, op := range cfg.Operations[1:] {
		if providerAttacks[op] != provider {
			return "", fmt.Errorf("operations %v mix AWS and model-provider calls or two providers; one key serves one", cfg.Operations)
		}
	}
	return provider, nil
}

// attemptProvider makes one inference call with the stolen provider key, the way
// an LLMjacking proxy would: plain HTTPS with the key in the provider's header.
func (a *Attacker) attemptProvider(ctx context.Context, op string) (outcome, string) {
	base := strings.TrimRight(a.cfg.Endpoint, "/")
	var req *http.Request
	var err error
	switch op {
	case AttackAnthropicMessages:
		body := `{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Write a long story."}]}`
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/messages", strings.NewReader(body))
		if err == nil {
			req.Header.Set("X-Api-Key", a.providerKey)
			req.Header.Set("Anthropic-Version", "2023-06-01")
		}
	case AttackOpenAIChat:
		body := `{"model":"gpt-4o","messages":[{"role":"user","content":"Write a long story."}]}`
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/chat/completions", strings.NewReader(body))
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+a.providerKey)
		}
	}
	if err != nil {
		return outcomeError, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return outcomeError, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 == 2 {
		return outcomeSuccess, ""
	}
	var e struct {
		Error struct {
			Type string `json:"type"`
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	code := orDefault(e.Error.Code, orDefault(e.Error.Type, resp.Status))
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return outcomeDenied, code
	}
	return outcomeError, code
}
