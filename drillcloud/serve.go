package drillcloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// opDef describes one supported operation.
type opDef struct {
	// action is the IAM action checked against Deny policies; empty means
	// "<service>:<Operation>".
	action string
	// actionFn overrides action when it depends on the request (S3 object
	// versions).
	actionFn func(*call) string
	readOnly bool
	// resource returns the ARN checked against policy Resource elements;
	// nil means "*".
	resource func(*call) string
	// noPolicy skips policy evaluation (sts:GetCallerIdentity, which AWS
	// answers even under an explicit deny).
	noPolicy bool
	handle   func(*call) (*response, error)
}

// call is one request in flight.
type call struct {
	c      *Cloud
	r      *http.Request
	ctx    context.Context
	reqID  string
	now    time.Time
	svc    *serviceDef
	auth   authHeader
	region string
	op     string
	def    *opDef
	body   []byte
	form   url.Values // awsQuery / ec2Query parameters
	path   map[string]string

	id      *identity
	sigKey  []byte
	amzDate string

	params    map[string]string
	resources []EventResource
	applied   bool
	fault     FaultKind
}

// identity is an authenticated caller.
type identity struct {
	keyID   string
	account string
	p       *principal
	sess    *session // nil for long-term keys
}

func (id *identity) arn() string {
	if id.sess != nil && id.p.kind == "role" {
		return fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", id.account, id.p.name, id.sess.name)
	}
	return id.p.arn
}

func (id *identity) userName() string {
	if id.p.kind == "role" && id.sess != nil {
		return id.sess.name
	}
	return id.p.name
}

func (cl *call) param(k, v string) {
	if v == "" {
		return
	}
	if cl.params == nil {
		cl.params = map[string]string{}
	}
	cl.params[k] = v
}

func (cl *call) resource(typ, name string) {
	cl.resources = append(cl.resources, EventResource{Type: typ, Name: name})
}

func (c *Cloud) serveHTTP(w http.ResponseWriter, r *http.Request) {
	// GitHub's headers are checked first: no AWS or provider client sends them.
	if gh := c.github.Load(); gh != nil && IsGitHubRequest(r) {
		gh.serve(w, r, c)
		return
	}
	if v := c.vault.Load(); v != nil && IsVaultRequest(r) {
		v.ServeHTTP(w, r)
		return
	}
	if g := c.gcp.Load(); g != nil && IsGCPRequest(r) {
		g.serve(w, r, c)
		return
	}
	if az := c.azure.Load(); az != nil && IsAzureRequest(r) {
		az.serve(w, r, c)
		return
	}
	if p := providerFor(r); p != "" {
		c.serveProvider(w, r, p)
		return
	}
	cl := &call{c: c, r: r, ctx: r.Context(), reqID: newUUID(), now: time.Now().UTC()}
	resp, drop := c.process(cl)
	if drop {
		dropConnection(w)
		return
	}
	for k, vs := range resp.header {
		w.Header()[k] = vs
	}
	if resp.header.Get("Content-Length") == "" && r.Method != http.MethodHead {
		w.Header().Set("Content-Length", fmt.Sprint(len(resp.body)))
	}
	if len(resp.body) > 2048 {
		// Answering a loopback request within microseconds races Go's client
		// for SDK configs not built by StaticConfig (see inMemoryBody): its
		// writeLoop may still be probing the request body when smithy closes
		// it, and the io.EOF tears the connection down while a response larger
		// than the client's read buffer is half read. Real AWS is never that
		// fast; a short pause keeps large responses safe.
		time.Sleep(2 * time.Millisecond)
	}
	w.WriteHeader(resp.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(resp.body)
	}
}

// dropConnection closes the client's connection without a response, which
// the SDK sees as a transport error and retries.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// process runs a request through parse → authenticate → faults → policy →
// handler and records it. It returns the response and whether to drop it.
func (c *Cloud) process(cl *call) (*response, bool) {
	ev := Event{
		ID: newUUID(), RequestID: cl.reqID, Time: cl.now,
		SourceIP: c.sourceIP(cl.r), UserAgent: cl.r.UserAgent(),
	}
	resp, drop := c.run(cl, &ev)
	if cl.svc != nil {
		ev.Service, ev.EventSource = cl.svc.name, cl.svc.eventSource
	}
	ev.Operation, ev.Region = cl.op, cl.logRegion()
	if cl.def != nil {
		ev.Action, ev.ReadOnly = cl.action(), cl.def.readOnly
	}
	ev.AccessKeyID = cl.auth.KeyID
	if cl.id != nil {
		ev.Account, ev.Principal, ev.UserName = cl.id.account, cl.id.arn(), cl.id.userName()
	} else if cl.auth.KeyID != "" {
		// A refused call by a key we know is still attributed to its owner,
		// so LookupEvents by user finds the attacker's failed attempts.
		c.mu.Lock()
		ev.Account = c.st.keyAccount[cl.auth.KeyID]
		if k := c.st.keys[cl.auth.KeyID]; k != nil {
			ev.Principal, ev.UserName = k.user.arn, k.user.name
		} else if s := c.st.sessions[cl.auth.KeyID]; s != nil {
			id := identity{keyID: s.id, account: s.account, p: s.principal, sess: s}
			ev.Principal, ev.UserName = id.arn(), id.userName()
		}
		c.mu.Unlock()
	}
	ev.HTTPStatus = resp.status
	ev.RequestParameters, ev.Resources = cl.params, cl.resources
	ev.Applied, ev.Fault = cl.applied, cl.fault
	c.record(ev)
	if l := c.opts.logger; l != nil {
		l.Debug("drillcloud call", "service", ev.Service, "op", ev.Operation, "key", ev.AccessKeyID,
			"status", ev.HTTPStatus, "error", ev.ErrorCode, "applied", ev.Applied, "fault", string(ev.Fault))
	}
	return resp, drop
}

// logRegion is the region CloudTrail files a call under: IAM is global and
// always lands in us-east-1, whatever region the client signed for.
func (cl *call) logRegion() string {
	if cl.svc != nil && cl.svc.name == "iam" && cl.region != "" {
		return "us-east-1"
	}
	return cl.region
}

func (cl *call) action() string {
	if cl.def == nil {
		return ""
	}
	if cl.def.actionFn != nil {
		return cl.def.actionFn(cl)
	}
	if cl.def.action != "" {
		return cl.def.action
	}
	return cl.svc.name + ":" + cl.op
}

func (c *Cloud) run(cl *call, ev *Event) (*response, bool) {
	fail := func(e *apiError) (*response, bool) {
		ev.ErrorCode, ev.ErrorMsg = e.Code, e.Message
		return renderError(cl.svc, cl.reqID, cl.r.Method, e), false
	}

	body, err := io.ReadAll(io.LimitReader(cl.r.Body, c.opts.maxBody+1))
	if err != nil {
		cl.svc = guessService(cl.r)
		return fail(errf(400, "IncompleteBody", "reading request body: %v", err))
	}
	if int64(len(body)) > c.opts.maxBody {
		cl.svc = guessService(cl.r)
		return fail(errf(413, "EntityTooLarge", "request body exceeds %d bytes", c.opts.maxBody))
	}
	cl.body = body

	// Bedrock API keys authenticate with a bearer token instead of a signature.
	bearer, isBearer := bearerToken(cl.r.Header.Get("Authorization"))
	var a authHeader
	var aerr error
	if isBearer {
		a = bearerScope(cl.r)
	} else {
		a, aerr = parseAuthorization(cl.r.Header.Get("Authorization"))
	}
	if aerr != nil {
		cl.svc = guessService(cl.r)
		_ = c.route(cl) // best effort, for the call log
		kind := ekMalformedAuth
		if errors.Is(aerr, errNoAuth) {
			kind = ekMissingAuth
		}
		return fail(protocolError(cl.svc, kind, aerr.Error()))
	}
	cl.auth, cl.region = a, a.Region
	cl.svc = services[a.Service]
	if cl.svc == nil {
		cl.svc = guessService(cl.r)
		return fail(errf(400, "InvalidClientTokenId", "Credential should be scoped to a valid service: %q is not served by the drill cloud", a.Service))
	}
	routeErr := c.route(cl)

	if isBearer && routeErr == nil {
		if e := c.authenticateBearer(cl, bearer); e != nil {
			return fail(e)
		}
	} else if e := c.authenticate(cl); e != nil {
		return fail(e)
	}
	if routeErr != nil {
		return fail(routeErr)
	}

	delay, kind := c.pickFaults(cl.svc.name, cl.op, a.KeyID)
	wait(cl.ctx, delay)
	switch kind {
	case FaultThrottle:
		cl.fault = kind
		return fail(protocolError(cl.svc, ekThrottle, ""))
	case FaultServerError:
		cl.fault = kind
		return fail(protocolError(cl.svc, ekServer, ""))
	case FaultDropResponse:
		cl.fault = kind
	case FaultAccessDenied:
		cl.fault = kind
		return fail(protocolError(cl.svc, ekAccessDenied, accessDeniedMessage(cl.id, cl.svc.name, cl.op)))
	}
	if delay > 0 && cl.fault == "" {
		cl.fault = FaultLatency
	}

	if e := c.checkSessionLimits(cl); e != nil {
		return fail(e)
	}
	if !cl.def.noPolicy {
		if e := c.checkPolicy(cl); e != nil {
			return fail(e)
		}
	}

	resp, herr := cl.def.handle(cl)
	if herr != nil {
		var ae *apiError
		if !errors.As(herr, &ae) {
			ae = protocolError(cl.svc, ekServer, herr.Error())
		}
		r, _ := fail(ae)
		return r, kind == FaultDropResponse
	}
	return resp, kind == FaultDropResponse
}

// route resolves the operation from the protocol's own addressing.
func (c *Cloud) route(cl *call) *apiError {
	if cl.svc == nil {
		return errf(400, "InvalidAction", "unknown service")
	}
	var ops map[string]*opDef
	switch cl.svc.proto {
	case protoQuery, protoEC2:
		form, err := parseQueryForm(cl.r, cl.body)
		if err != nil {
			return errf(400, "MalformedQueryString", "%v", err)
		}
		cl.form = form
		cl.op = form.Get("Action")
		ops = opsFor(cl.svc.name)
		if cl.op == "" {
			return errf(400, "MissingAction", "Missing Action parameter")
		}
	case protoJSON:
		target := cl.r.Header.Get("X-Amz-Target")
		if i := strings.LastIndex(target, "."); i >= 0 {
			cl.op = target[i+1:]
		}
		ops = opsFor(cl.svc.name)
		if cl.op == "" {
			return protocolError(cl.svc, ekUnknownOp, "missing X-Amz-Target")
		}
	case protoRESTXML:
		cl.op, cl.path = s3Route(cl.r)
		ops = s3Ops
	case protoRESTJSON:
		cl.op, cl.path = bedrockRoute(cl.r)
		ops = bedrockOps
	}
	def := ops[cl.op]
	if def == nil {
		msg := fmt.Sprintf("Could not find operation %s for version %s", cl.op, cl.svc.version)
		if cl.op == "" {
			msg = fmt.Sprintf("%s %s is not supported by the drill cloud", cl.r.Method, cl.r.URL.Path)
		}
		return protocolError(cl.svc, ekUnknownOp, msg)
	}
	cl.def = def
	return nil
}

func opsFor(svc string) map[string]*opDef {
	switch svc {
	case "iam":
		return iamOps
	case "sts":
		return stsOps
	case "ec2":
		return ec2Ops
	case "secretsmanager":
		return secretsOps
	case "cloudtrail":
		return cloudTrailOps
	}
	return nil
}

func parseQueryForm(r *http.Request, body []byte) (url.Values, error) {
	form, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("parse query string: %w", err)
	}
	if len(body) > 0 {
		bf, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("parse form body: %w", err)
		}
		for k, v := range bf {
			form[k] = append(form[k], v...)
		}
	}
	return form, nil
}

// guessService picks a protocol for requests that carry no usable
// credential scope, so even refusals come back in a shape the client parses.
func guessService(r *http.Request) *serviceDef {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		if strings.HasPrefix(t, "CloudTrail") || strings.Contains(t, "cloudtrail") {
			return services["cloudtrail"]
		}
		return services["secretsmanager"]
	}
	if strings.HasPrefix(r.URL.Path, "/logging/") || strings.HasPrefix(r.URL.Path, "/model/") {
		return services["bedrock"]
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return services["iam"]
	}
	return services["s3"]
}

func (c *Cloud) sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if c.opts.trustForwarded {
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
				first, _, _ := strings.Cut(xff, ",")
				if net.ParseIP(strings.TrimSpace(first)) != nil {
					return strings.TrimSpace(first)
				}
			}
		}
	}
	return host
}

// authenticate finds the key or session, verifies the signature and the
// session token, and records last-used on success.
func (c *Cloud) authenticate(cl *call) *apiError {
	keyID := cl.auth.KeyID
	c.mu.Lock()
	k := c.st.keys[keyID]
	s := c.st.sessions[keyID]
	var secret, status, token string
	var expires time.Time
	var p *principal
	var acct string
	switch {
	case k != nil:
		secret, status, p, acct = k.secret, k.status, k.user, k.account
	case s != nil:
		secret, token, expires, p, acct = s.secret, s.token, s.expires, s.principal, s.account
	}
	c.mu.Unlock()

	if k == nil && s == nil {
		return protocolError(cl.svc, ekInvalidKey, "")
	}
	if k != nil && status != "Active" {
		// AWS answers an inactive key exactly like an unknown one.
		return protocolError(cl.svc, ekInvalidKey, "")
	}
	in := newSigInput(cl.r, cl.body)
	key, amzDate, serr := verifySignature(in, cl.auth, secret, cl.now, cl.svc.proto == protoRESTXML)
	if serr != nil {
		kind := ekSigMismatch
		switch serr.kind {
		case sigExpired:
			kind = ekSigExpired
		case sigPayloadMismatch:
			kind = ekPayloadMismatch
		case sigMissingContentSHA:
			kind = ekMissingContentSHA
		case sigMalformed:
			kind = ekMalformedAuth
		}
		return protocolError(cl.svc, kind, serr.msg)
	}
	if s != nil {
		got := cl.r.Header.Get("X-Amz-Security-Token")
		if got == "" || got != token {
			return protocolError(cl.svc, ekInvalidToken, "")
		}
		if !cl.now.Before(expires) {
			return protocolError(cl.svc, ekExpiredToken, "")
		}
	}
	cl.sigKey, cl.amzDate = key, amzDate
	cl.id = &identity{keyID: keyID, account: acct, p: p, sess: s}
	if k != nil {
		c.mu.Lock()
		k.lastUsed, k.lastSvc, k.lastRegion = cl.now, cl.svc.name, cl.logRegion()
		c.mu.Unlock()
	}
	return nil
}

// checkSessionLimits applies AWS's fixed rules for GetSessionToken
// credentials: IAM refuses them without MFA (as an invalid token), and STS
// accepts only GetCallerIdentity and AssumeRole.
func (c *Cloud) checkSessionLimits(cl *call) *apiError {
	s := cl.id.sess
	if s == nil || !s.fromGetSessionToken {
		return nil
	}
	switch cl.svc.name {
	case "iam":
		return protocolError(cl.svc, ekInvalidToken, "")
	case "sts":
		if cl.op != "GetCallerIdentity" && cl.op != "AssumeRole" {
			return protocolError(cl.svc, ekAccessDenied, fmt.Sprintf("Cannot call %s with session credentials", cl.op))
		}
	}
	return nil
}

// checkPolicy evaluates the caller's inline and attached policies; any
// matching explicit Deny refuses the call.
func (c *Cloud) checkPolicy(cl *call) *apiError {
	res := "*"
	if cl.def.resource != nil {
		res = cl.def.resource(cl)
	}
	return c.checkPolicyFor(cl, cl.action(), res)
}

// checkPolicyFor evaluates the caller's policies for one action on one resource.
func (c *Cloud) checkPolicyFor(cl *call, action, res string) *apiError {
	type named struct{ name, doc string }
	var docs []named
	c.mu.Lock()
	p := cl.id.p
	for name, d := range p.inline {
		docs = append(docs, named{"inline policy " + name, d})
	}
	if a := c.st.accounts[p.account]; a != nil {
		for _, arn := range p.attached {
			if d, ok := a.managedDocument(arn); ok {
				docs = append(docs, named{arn, d})
			}
		}
	}
	c.mu.Unlock()

	ctx := map[string]string{
		"aws:currenttime":      cl.now.Format(time.RFC3339Nano),
		"aws:epochtime":        fmt.Sprint(cl.now.Unix()),
		"aws:principalarn":     p.arn,
		"aws:principalaccount": p.account,
		"aws:userid":           p.id,
		"aws:requestedregion":  cl.region,
		"aws:securetransport":  fmt.Sprint(cl.r.TLS != nil),
		"aws:sourceip":         c.sourceIP(cl.r),
		"aws:principaltype":    "User",
	}
	if p.kind == "user" {
		ctx["aws:username"] = p.name
	} else {
		ctx["aws:principaltype"] = "AssumedRole"
	}
	if s := cl.id.sess; s != nil {
		ctx["aws:tokenissuetime"] = s.issued.UTC().Format(time.RFC3339Nano)
		ctx["aws:multifactorauthpresent"] = "false"
	}
	req := evalRequest{action: action, resource: res, ctx: ctx}
	for _, d := range docs {
		pd, err := parsePolicy(d.doc)
		if err != nil {
			continue // validated on the way in; an unparsable doc denies nothing
		}
		if _, denied := pd.denies(req); denied {
			msg := fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s with an explicit deny in an identity-based policy",
				cl.id.arn(), req.action, res)
			if cl.svc.proto == protoEC2 {
				msg = "You are not authorized to perform this operation. " + msg
			}
			return protocolError(cl.svc, ekAccessDenied, msg)
		}
	}
	return nil
}
