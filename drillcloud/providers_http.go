package drillcloud

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

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
	wait(cl.r.Context(), delay)
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
