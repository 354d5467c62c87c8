package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/adapters"
	"github.com/sever-ir/sever/internal/secretscan"
	"github.com/sever-ir/sever/service"
)

// Values of AdapterResult.Status.
const (
	AdapterAccepted = "accepted" // every signal went to the engine; see Signals
	AdapterIgnored  = "ignored"  // understood, but opens no incident; see Reason
	AdapterPong     = "pong"     // a GitHub ping
)

// AdapterResult is the answer of the adapter endpoints POST /v1/signals/{source}.
// One delivery can yield several signals (an AWS exposure event is also a vendor
// action), so Signals holds one service.SubmitResult per signal, in submission order.
type AdapterResult struct {
	Source  string                 `json:"source"`
	Event   string                 `json:"event,omitempty"`
	Status  string                 `json:"status"`
	Reason  string                 `json:"reason,omitempty"`
	Signals []service.SubmitResult `json:"signals"`
}

// githubWebhookPrincipal is who a request authenticated only by GitHub's webhook
// signature is, in logs and as the signals' reporter.
const githubWebhookPrincipal = "github-webhook"

func (s *Server) adapterRoutes() {
	for _, a := range []struct {
		source string
		parse  func([]byte) (adapters.Result, error)
	}{
		{adapters.SourceAWSHealth, adapters.ParseAWSHealth},
		{adapters.SourceGuardDuty, adapters.ParseGuardDuty},
		{adapters.SourceOCSF, adapters.ParseOCSF},
		{adapters.SourceProvider, adapters.ParseProvider},
		{adapters.SourceGCPSCC, adapters.ParseGCPSCC},
		{adapters.SourceEntra, adapters.ParseEntraRisk},
		{adapters.SourceVaultAudit, adapters.ParseVaultAudit},
		{adapters.SourceDefender, adapters.ParseDefender},
	} {
		s.mux.Handle("POST /v1/signals/"+a.source, s.auth(ScopeSignalsWrite, s.adapter(a.source, a.parse)))
	}
	s.mux.HandleFunc("POST /v1/signals/"+adapters.SourceGitHub, s.github)
}

func (s *Server) adapter(source string, parse func([]byte) (adapters.Result, error)) http.HandlerFunc {
	op := "httpapi.adapter." + source
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := s.readJSON(w, r)
		if err != nil {
			s.fail(w, r, op, err)
			return
		}
		res, err := parse(body)
		if err != nil {
			s.fail(w, r, op, err)
			return
		}
		s.submitAdapted(w, r, op, source, res, Approver(r.Context()), "")
	}
}

// github authenticates a GitHub webhook delivery by bearer token, by the webhook
// signature, or both. GitHub cannot send a bearer token, so the signature is how
// GitHub itself gets in; a bearer token lets a relay or an operator post too. A
// signature that is present is always checked when a secret is configured: a
// wrong one means the body is not what GitHub signed, whatever else came with it.
func (s *Server) github(w http.ResponseWriter, r *http.Request) {
	const op = "httpapi.adapter.github"
	var tok *tokenEntry
	if h := r.Header.Get("Authorization"); h != "" {
		t, fail := s.authenticate(h)
		if fail != nil {
			s.challenge(w, fail)
			return
		}
		if info := requestInfoFrom(r.Context()); info != nil {
			info.principal = t.name
		}
		if !t.allows(ScopeSignalsWrite) {
			s.forbidden(w, t, ScopeSignalsWrite)
			return
		}
		tok = t
	}
	sigHeader := r.Header.Get(adapters.GitHubSignatureHeader)
	checkSig := len(s.githubSecret) > 0 && (sigHeader != "" || tok == nil)
	if tok == nil && !checkSig {
		s.challenge(w, &authFailure{message: "missing bearer token (Authorization: Bearer <token>); " +
			"GitHub's webhook signature is accepted only when sever has a GitHub webhook secret"})
		return
	}
	// Read before checking the media type: the signature covers the raw body, and an
	// unauthenticated caller learns nothing about what sever accepts.
	body, err := s.readBody(w, r)
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	if checkSig {
		if err := adapters.VerifyGitHubSignature(s.githubSecret, body, sigHeader); err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sever"`)
			s.fail(w, r, op, err)
			return
		}
	}
	if tok == nil {
		tok = &tokenEntry{name: githubWebhookPrincipal, approver: githubWebhookPrincipal, scopes: []string{ScopeSignalsWrite}}
		if info := requestInfoFrom(r.Context()); info != nil {
			info.principal = tok.name
		}
	}
	ctx := context.WithValue(r.Context(), principalKey{}, tok)
	r = r.WithContext(ctx)

	form, err := githubMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	d := adapters.GitHubDelivery{
		Event: r.Header.Get(adapters.GitHubEventHeader),
		ID:    r.Header.Get(adapters.GitHubDeliveryHeader),
		Form:  form,
		// Observed time of an alert that carries none (see GitHubDelivery.ReceivedAt).
		ReceivedAt: s.now().UTC(),
	}
	res, err := adapters.ParseGitHub(d, body)
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	if d.Event == adapters.GitHubEventPing {
		writeJSON(w, http.StatusOK, AdapterResult{Source: adapters.SourceGitHub, Event: res.Event,
			Status: AdapterPong, Reason: res.Ignored, Signals: []service.SubmitResult{}})
		return
	}
	// The alert's place goes into the lookup, its log lines and the answer's reason
	// before submitAdapted checks the signal: check it first.
	for i := range res.Signals {
		if err := checkAdaptedSecrets(&res.Signals[i]); err != nil {
			s.fail(w, r, op, err)
			return
		}
	}
	reason := s.resolveGitHubAlert(ctx, &res)
	s.submitAdapted(w, r, op, adapters.SourceGitHub, res, tok.approver, reason)
}

// GitHubAlerts reads a GitHub secret-scanning alert through sever's GitHub App
// (implemented in internal/app with githubact and gcpact). The webhook never
// carries the secret; the REST alert does.
type GitHubAlerts interface {
	// AlertAWSKeyID returns the secret of alert number in repo ("owner/name") when
	// it is an AWS access key ID, and an error otherwise: it never returns any
	// other secret.
	AlertAWSKeyID(ctx context.Context, repo string, number int) (string, error)
	// AlertGoogleAPIKeyName returns the resource name
	// ("projects/<project>/locations/global/keys/<key id>") of the Google API key
	// alert number in repo holds, looked up with the alert's key string (API Keys
	// keys.lookupKey), which stays in memory inside the call and is never
	// returned, logged or put in an error. When Google knows no key by that string
	// that sever can see, the error wraps ErrGoogleAPIKeyUnknown.
	AlertGoogleAPIKeyName(ctx context.Context, repo string, number int) (string, error)
}

// ErrGoogleAPIKeyUnknown is wrapped by GitHubAlerts.AlertGoogleAPIKeyName when
// Google's lookupKey knows no key by the alert's string that sever's credentials
// can see (deleted, never a key, or in another project): nothing sever can
// contain, so the alert is ignored with that reason.
var ErrGoogleAPIKeyUnknown = errors.New("no API key Google knows by the alert's key string that sever's credentials can see")

// githubAWSKeyTypes are the GitHub secret types whose secret is an AWS access key
// ID, the credential ID an AWS incident is keyed by. The secret access key and the
// session token types are not: they cannot name the key.
var githubAWSKeyTypes = map[string]bool{"aws_access_key_id": true, "aws_temporary_access_key_id": true}

// githubGoogleAPIKeyType is GitHub's secret type of a Google API key; its secret
// is the key string, a secret that lookupKey maps to the key's resource name.
const githubGoogleAPIKeyType = "google_api_key"

// awsKeyID is an AWS access key ID: AKIA (long-term) or ASIA (temporary).
var awsKeyID = regexp.MustCompile(`^(AKIA|ASIA)[A-Z0-9]{16}$`)

// googleAPIKeyName is a Google API key's resource name; nothing else an alert
// lookup returns becomes a credential ID.
var googleAPIKeyName = regexp.MustCompile(`^projects/([a-z][a-z0-9.:-]{3,61}[a-z0-9]|[0-9]{1,20})/locations/global/keys/([A-Za-z0-9-]{1,64})$`)

// githubAlertLookupTimeout bounds the alert lookup inside a webhook request.
const githubAlertLookupTimeout = 5 * time.Second

// resolveGitHubAlert turns an alert about a key sever can name, an AWS access
// key ID or a Google API key, into a vendor signal about that key, so it joins
// the key's incident instead of opening one for the alert's place, which no
// aws.* or gcp.* action can act on. The alert's place stays in a label and the
// summary. It returns why the alert kept its place, or "" when it did not need
// to (not such an alert) or was resolved. An alert about a Google API key that
// Google does not know is ignored: res loses its signal and says why. Neither
// the key ID nor the key string is ever logged; lookup errors are logged
// without them.
func (s *Server) resolveGitHubAlert(ctx context.Context, res *adapters.Result) string {
	if len(res.Signals) != 1 {
		return ""
	}
	sig := &res.Signals[0]
	secretType := ""
	for _, l := range sig.Labels {
		if v, ok := strings.CutPrefix(l, "secret_type:"); ok {
			secretType = v
		}
	}
	var what string
	switch {
	case githubAWSKeyTypes[secretType]:
		what = "the AWS key"
	case secretType == githubGoogleAPIKeyType:
		what = "the Google API key"
	case secretType == adapters.GitHubAzureOpenAIKeyType:
		return adapters.GitHubAzureOpenAIUnresolved
	default:
		return ""
	}
	place := sig.Credential.ID
	keep := "; the incident is for the alert's place, not " + what
	if s.githubAlerts == nil {
		return "sever has no GitHub App (github.app_id, github.installation_id, github.private_key), so " + what +
			" of alert " + place + " could not be read" + keep
	}
	repo, num, ok := strings.Cut(place, "/secret-scanning/")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n <= 0 {
		return "alert " + place + " is not <owner>/<repo>/secret-scanning/<number>" + keep
	}
	// GitHub does not wait long for a webhook answer; a slow lookup costs the join,
	// never the signal (it is recorded under the alert's place instead).
	lctx, cancel := context.WithTimeout(ctx, githubAlertLookupTimeout)
	defer cancel()
	var cred sever.Credential
	var resolved string
	if what == "the AWS key" {
		id, err := s.githubAlerts.AlertAWSKeyID(lctx, repo, n)
		if err != nil {
			s.log.WarnContext(ctx, "github alert: AWS key ID lookup failed", "alert", place, "error", err.Error())
			return "reading alert " + place + " through the GitHub App failed" + keep
		}
		// Never trust the lookup with the shape: anything but a key ID stays out.
		if !awsKeyID.MatchString(id) {
			return "alert " + place + " does not hold an AWS access key ID" + keep
		}
		cred = sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: id}
		if strings.HasPrefix(id, "ASIA") {
			cred.Type = sever.CredAWSTemporaryCredentials
		}
		resolved = "Resolved through sever's GitHub App to the AWS access key ID the alert holds"
	} else {
		name, err := s.githubAlerts.AlertGoogleAPIKeyName(lctx, repo, n)
		if errors.Is(err, ErrGoogleAPIKeyUnknown) {
			res.Signals = nil
			res.Ignored = "alert " + place + ": " + ErrGoogleAPIKeyUnknown.Error() +
				" (already deleted, or in a project sever cannot see); no incident"
			return ""
		}
		if err != nil {
			s.log.WarnContext(ctx, "github alert: Google API key lookup failed", "alert", place, "error", err.Error())
			return "reading alert " + place + " through the GitHub App and Google's lookupKey failed" + keep
		}
		// Never trust the lookup with the shape: anything but a key's name stays out.
		if !googleAPIKeyName.MatchString(name) {
			return "the lookup of alert " + place + " did not answer with an API key's resource name" + keep
		}
		cred = sever.Credential{Provider: "gcp", Type: sever.CredGoogleAPIKey, ID: name}
		resolved = "Resolved through sever's GitHub App and Google's lookupKey to the API key's resource name"
	}
	sig.Credential = cred
	// The summary names the alert and its repository; the label, when it fits the
	// label limit, names the alert exactly.
	if l := "github_alert:" + place; utf8.RuneCountInString(l) <= maxLabelLength && len(sig.Labels) < maxLabels {
		sig.Labels = append(sig.Labels, l)
	}
	head, _, _ := strings.Cut(sig.Summary, ". The alert names no key ID")
	sig.Summary = head + ". " + resolved
	return ""
}

// checkGitHubSecret refuses a webhook secret short enough to guess; GitHub accepts
// any secret, so the check has to be here.
func checkGitHubSecret(secret []byte) error {
	if len(secret) > 0 && len(secret) < MinTokenLength {
		return fmt.Errorf("the GitHub webhook secret (Options.GitHubWebhookSecret) is shorter than %d bytes", MinTokenLength)
	}
	return nil
}

// githubMediaType accepts the two content types a GitHub webhook can be set to.
func githubMediaType(ct string) (form bool, err error) {
	mt, params, perr := mime.ParseMediaType(ct)
	if cs, ok := params["charset"]; perr == nil && (!ok || strings.EqualFold(cs, "utf-8")) {
		switch mt {
		case "application/json":
			return false, nil
		case "application/x-www-form-urlencoded":
			return true, nil
		}
	}
	return false, sever.Errorf(EUNSUPPORTEDMEDIA, "", "Content-Type must be application/json or application/x-www-form-urlencoded (the webhook's content type)")
}

// submitAdapted hands an adapter's signals to the engine one by one, in order, and
// answers with every receipt. If a later one fails, the earlier ones stand: the
// sender's retry carries the same source event IDs, so the engine records those
// again as duplicates and the rest for the first time.
//
// note, when not empty, is the answer's reason for an accepted delivery.
func (s *Server) submitAdapted(w http.ResponseWriter, r *http.Request, op, source string, res adapters.Result, reporter, note string) {
	ctx := r.Context()
	// The event and an ignored payload's reason are built from vendor fields and go
	// into the log and the answer, so they pass the detector like the signals do, and
	// a secret in them is refused as a secret in a signal is.
	if err := checkAdaptedText(res); err != nil {
		s.fail(w, r, op, err)
		return
	}
	out := AdapterResult{Source: source, Event: res.Event, Reason: note, Signals: []service.SubmitResult{}}
	if len(res.Signals) == 0 {
		out.Status, out.Reason = AdapterIgnored, res.Ignored
		s.log.InfoContext(ctx, "adapter payload ignored", "source", source, "event", res.Event,
			"reason", res.Ignored, "principal", Principal(ctx))
		writeJSON(w, http.StatusAccepted, out)
		return
	}
	for i := range res.Signals {
		if err := checkAdaptedSecrets(&res.Signals[i]); err != nil {
			s.fail(w, r, op, err)
			return
		}
	}
	received := s.now().UTC()
	for _, sig := range res.Signals {
		sig.ReceivedAt = received
		sig.Receipt = newReceipt()
		sig.Reporter = reporter
		sig.ID = sever.SignalID(sig.Source, sig.SourceEventID, sig.Receipt)
		if sig.Drill {
			if err := s.checkDrill(ctx); err != nil {
				s.fail(w, r, op, err)
				return
			}
		}
		sr, err := s.submit(ctx, sig)
		if err != nil {
			s.fail(w, r, op, err)
			return
		}
		s.signalAccepted(sig)
		s.log.InfoContext(ctx, "signal accepted", "signal_id", sig.ID, "incident_id", sr.IncidentID,
			"source", sig.Source, "kind", sig.Kind, "status", sr.Status, "principal", Principal(ctx))
		out.Signals = append(out.Signals, sr)
	}
	out.Status = AdapterAccepted
	writeJSON(w, http.StatusAccepted, out)
}

// checkAdaptedSecrets looks for secret material in what an adapter copied out of a
// vendor payload, with the same detector the native endpoint applies to its input,
// so nothing that looks like a live key reaches the engine, its history or the
// ledger, whichever vendor field it came from. Like native intake's walk, it reads
// every string of the signal, the ones adapters set from their own vocabulary too:
// a field left out because no adapter copies it today is the next one's hole.
func checkAdaptedSecrets(sig *sever.Signal) error {
	fields := []struct{ name, v string }{
		{"source", sig.Source},
		{"source_event_id", sig.SourceEventID},
		{"origin", string(sig.Origin)},
		{"kind", string(sig.Kind)},
		{"severity", sig.Severity},
		{"summary", sig.Summary},
		{"credential.provider", sig.Credential.Provider},
		{"credential.type", string(sig.Credential.Type)},
		{"credential.id", sig.Credential.ID},
		{"credential.principal", sig.Credential.Principal},
		{"credential.account", sig.Credential.Account},
	}
	if sig.Extra != nil {
		fields = append(fields, struct{ name, v string }{"meta.url", sig.Extra.URL})
	}
	for _, l := range sig.Labels {
		fields = append(fields, struct{ name, v string }{"labels", l})
	}
	for _, f := range fields {
		if m, ok := secretscan.Find(f.v); ok {
			return sever.Errorf(sever.EINVALID, f.name, "the %s this payload yields looks like %s; %s", f.name, m, refuseSecret)
		}
	}
	return checkCredentialID(sig.Credential)
}

// checkAdaptedText is checkAdaptedSecrets for what an adapter says about a payload
// rather than in a signal: the event name and the reason a payload is ignored. The
// error names which of the two, never the value.
func checkAdaptedText(res adapters.Result) error {
	for _, f := range []struct{ name, v string }{
		{"this payload's event name", res.Event},
		{"the reason this payload is ignored", res.Ignored},
	} {
		if m, ok := secretscan.Find(f.v); ok {
			return sever.Errorf(sever.EINVALID, "", "%s, built from its fields, looks like %s; %s", f.name, m, refuseSecret)
		}
	}
	return nil
}

// readBody reads the raw body, at most s.maxBody bytes of it, whatever its type;
// readJSON checks the type first, which the GitHub endpoint must do after the
// signature.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	tooLarge := sever.Errorf(sever.ETOOLARGE, "", "request body is larger than %d bytes", s.maxBody)
	if r.ContentLength > s.maxBody {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge
		}
		return nil, sever.Errorf(sever.EINVALID, "", "reading request body: %v", err)
	}
	return body, nil
}

// challenge answers 401 with a Bearer challenge, as auth does.
func (s *Server) challenge(w http.ResponseWriter, fail *authFailure) {
	c := `Bearer realm="sever"`
	if fail.rfcError != "" {
		c += `, error="` + fail.rfcError + `"`
	}
	w.Header().Set("WWW-Authenticate", c)
	writeError(w, &sever.Error{Code: sever.EUNAUTHORIZED, Message: fail.message})
}

func (s *Server) forbidden(w http.ResponseWriter, t *tokenEntry, scope string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="sever", error="insufficient_scope", scope="`+scope+`"`)
	writeError(w, sever.Errorf(EFORBIDDEN, "", "token %q lacks scope %q", t.name, scope))
}
