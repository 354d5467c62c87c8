// Package githubact holds the GitHub secret-scanning actions: revoking a GitHub
// token that a secret-scanning alert found, reading the alert's state back, and
// resolving the alert once containment is verified.
//
// An incident opened from a GitHub alert names the alert, not the token: its
// credential id is "<owner>/<repo>/secret-scanning/<number>" (see
// adapters.ParseGitHub). The actions fetch the alert through the REST API with a
// GitHub App installation token; the REST alert carries the raw secret, which is
// held only in the memory of the one call that sends it to GitHub's credential
// revocation API. It is never returned, logged, put in an error or in evidence.
package githubact

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities"
	"github.com/sever-ir/sever/activities/internal/restcall"
	"github.com/sever-ir/sever/config"
)

// DefaultURL is GitHub's REST API.
const DefaultURL = "https://api.github.com"

// APIVersion is the REST API version the actions speak.
const APIVersion = "2022-11-28"

// Error types of failures Temporal retries.
const (
	ErrThrottled   = "GitHubThrottled"
	ErrUnavailable = "GitHubUnavailable"
	// ErrNotRevoked is a read-back that does not yet show the token revoked: GitHub
	// updates an alert's validity after revocation, not at once.
	ErrNotRevoked = "GitHubTokenNotRevoked"
)

// maxBody bounds what is read of any GitHub response.
const maxBody = 1 << 20

// KeySource returns the App's private key (PEM). It is called once per action, so
// a rotated key is picked up without restarting the worker.
type KeySource func(ctx context.Context) (string, error)

// StaticKey is a KeySource for a key already in hand (the drill cloud's).
func StaticKey(v string) KeySource { return func(context.Context) (string, error) { return v, nil } }

// Activities holds how sever reaches GitHub as a GitHub App installation. A zero
// AppID means GitHub is not configured: every action fails AccessDenied naming the
// setting.
type Activities struct {
	BaseURL        string // "" = DefaultURL
	AppID          string
	InstallationID string
	PrivateKey     KeySource
	// HTTP is the client of every call; nil = one with a 30 s timeout.
	HTTP *http.Client
	// Now is the clock of the App JWT; nil = time.Now.
	Now func() time.Time
}

// FromConfig builds the activities from sever.yaml's github section. res resolves
// aws-sm: references.
func FromConfig(c config.GitHubConfig, res config.SecretResolver) *Activities {
	a := &Activities{BaseURL: c.APIURL, AppID: c.AppID, InstallationID: c.InstallationID}
	if !c.PrivateKey.IsZero() {
		ref := c.PrivateKey
		a.PrivateKey = func(ctx context.Context) (string, error) { return ref.Resolve(ctx, res) }
	}
	return a
}

// Register registers the GitHub actions under their catalog names.
func (a *Activities) Register(r activities.Registrar) {
	activities.Register(r, sever.ActionGitHubRevokeAlertToken, a.RevokeAlertToken)
	activities.Register(r, sever.ActionGitHubAlertStatus, a.AlertStatus)
	activities.Register(r, sever.ActionGitHubResolveAlert, a.ResolveAlert)
}

// Args are the arguments of the GitHub actions.
type Args struct {
	Reason string `json:"reason"`
	// Expect is what github.secret_scanning.alert_status verifies: "revoked" (the
	// alert's validity is inactive; default) or "resolved" (state resolved as revoked).
	Expect string `json:"expect"`
}

// alertRef is the alert an incident's credential id names.
type alertRef struct {
	Owner, Repo string
	Number      int
}

func (r alertRef) String() string {
	return fmt.Sprintf("%s/%s/secret-scanning/%d", r.Owner, r.Repo, r.Number)
}

func (r alertRef) path() string {
	return fmt.Sprintf("/repos/%s/%s/secret-scanning/alerts/%d", url.PathEscape(r.Owner), url.PathEscape(r.Repo), r.Number)
}

// GitHub's own limits: owner names are alphanumerics and single hyphens, repository
// names alphanumerics, '-', '_' and '.'.
var (
	ownerRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)
	repoRE  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
)

// ParseAlertID reads "<owner>/<repo>/secret-scanning/<number>", the credential id
// of an incident opened from a GitHub alert.
func ParseAlertID(id string) (owner, repo string, number int, err error) {
	parts := strings.Split(id, "/")
	if len(parts) != 4 || parts[2] != "secret-scanning" {
		return "", "", 0, fmt.Errorf("credential id %q is not <owner>/<repo>/secret-scanning/<number>", id)
	}
	if !ownerRE.MatchString(parts[0]) || !repoRE.MatchString(parts[1]) || parts[1] == "." || parts[1] == ".." {
		return "", "", 0, fmt.Errorf("credential id %q does not name a GitHub owner and repository", id)
	}
	n, err := strconv.Atoi(parts[3])
	if err != nil || n <= 0 || strconv.Itoa(n) != parts[3] {
		return "", "", 0, fmt.Errorf("credential id %q: alert number %q is not a positive integer", id, parts[3])
	}
	return parts[0], parts[1], n, nil
}

// tokenPrefixes are the GitHub tokens the credential revocation API revokes.
var tokenPrefixes = []string{"ghp_", "github_pat_", "gho_", "ghu_", "ghr_"}

// IsRevocable reports whether secret is a token GitHub's revocation API accepts.
func IsRevocable(secret string) bool {
	for _, p := range tokenPrefixes {
		if strings.HasPrefix(secret, p) && len(secret) > len(p) {
			return true
		}
	}
	return false
}

// alert is the part of a REST secret-scanning alert the actions read.
type alert struct {
	Number     int    `json:"number"`
	State      string `json:"state"`
	Resolution string `json:"resolution"`
	SecretType string `json:"secret_type"`
	Validity   string `json:"validity"`
	HTMLURL    string `json:"html_url"`
	// Secret is the raw token. It stays in the alert value of one call.
	Secret string `json:"secret"`
}

// facts is what the actions may report about an alert: never the secret.
func (al *alert) facts(ref alertRef) sever.Values {
	return sever.Values{"alert": ref.String(), "state": al.State, "resolution": al.Resolution,
		"secret_type": al.SecretType, "validity": al.Validity}
}

// session is one action call's authenticated view of GitHub.
type session struct {
	a      *Activities
	action string
	base   string
	token  string // installation token
	hc     *http.Client
}

func (a *Activities) httpClient() *http.Client {
	hc := a.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	c := *hc
	// Never follow a redirect: every call carries a token or the secret, and no
	// endpoint used here redirects.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

func (a *Activities) actor() string {
	return "github-app:" + a.AppID + "/installation:" + a.InstallationID
}

// begin checks the incident's credential and gets an installation token.
func (a *Activities) begin(ctx context.Context, in sever.ActionInput, args any) (*session, alertRef, error) {
	if err := activities.DecodeArgs(in.Action, in.Args, args); err != nil {
		return nil, alertRef{}, err
	}
	if in.Credential.Type != sever.CredGitHubToken {
		return nil, alertRef{}, activities.Permanent(activities.ErrUnsupported, fmt.Sprintf("%s: credential type %s is not a GitHub token (want %s)",
			in.Action, in.Credential.Type, sever.CredGitHubToken), nil)
	}
	owner, repo, n, err := ParseAlertID(in.Credential.ID)
	if err != nil {
		return nil, alertRef{}, activities.Permanent(activities.ErrInvalidArgument, in.Action, err)
	}
	ref := alertRef{Owner: owner, Repo: repo, Number: n}
	if a == nil || a.AppID == "" || a.InstallationID == "" || a.PrivateKey == nil {
		return nil, ref, activities.Permanent(activities.ErrAccessDenied,
			in.Action+": sever has no GitHub App (set github.app_id, github.installation_id and github.private_key in sever.yaml)", nil)
	}
	s := &session{a: a, action: in.Action, base: strings.TrimRight(a.BaseURL, "/"), hc: a.httpClient()}
	if s.base == "" {
		s.base = DefaultURL
	}
	if s.token, err = a.installationToken(ctx, s); err != nil {
		return nil, ref, err
	}
	return s, ref, nil
}

// appJWT signs the App's JWT: RS256, issued a minute in the past against clock
// drift, valid for nine minutes (GitHub allows at most ten).
func (a *Activities) appJWT(ctx context.Context, action string) (string, error) {
	pemKey, err := a.PrivateKey(ctx)
	if err != nil {
		return "", fmt.Errorf("%s: resolve github.private_key: %w", action, err)
	}
	key, err := ParsePrivateKey([]byte(pemKey))
	if err != nil {
		return "", activities.Permanent(activities.ErrAccessDenied, action+": github.private_key", err)
	}
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	return SignAppJWT(key, a.AppID, now)
}

// SignAppJWT returns a GitHub App JWT for appID issued at now.
func SignAppJWT(key *rsa.PrivateKey, appID string, now time.Time) (string, error) {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	claims, err := json.Marshal(map[string]any{"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(9 * time.Minute).Unix(), "iss": appID})
	if err != nil {
		return "", err
	}
	signing := head + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign GitHub App JWT: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// ParsePrivateKey reads an RSA private key in PEM, PKCS #1 (what GitHub issues) or
// PKCS #8. Errors never quote the key.
func ParsePrivateKey(b []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("not a PEM private key")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("PEM block is neither a PKCS #1 nor a PKCS #8 private key")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("private key is not RSA (GitHub Apps use RS256)")
	}
	return rk, nil
}

func (a *Activities) installationToken(ctx context.Context, s *session) (string, error) {
	jwt, err := a.appJWT(ctx, s.action)
	if err != nil {
		return "", err
	}
	op := "create installation token for installation " + a.InstallationID
	st, body, err := s.do(ctx, op, http.MethodPost, "/app/installations/"+url.PathEscape(a.InstallationID)+"/access_tokens", "Bearer "+jwt, nil)
	if err != nil {
		return "", err
	}
	if st != http.StatusCreated && st != http.StatusOK {
		return "", s.classify(op, st, body)
	}
	var tok struct {
		Token string `json:"token"`
	}
	if json.Unmarshal(body, &tok) != nil || tok.Token == "" {
		return "", fmt.Errorf("%s: %s: response carries no token", s.action, op)
	}
	return tok.Token, nil
}

// do sends one request. Transport failures are retryable errors; statuses are the
// caller's to judge. Request and response bodies are never put in an error.
func (s *session) do(ctx context.Context, op, method, path, auth string, body any) (int, []byte, error) {
	h := http.Header{"Accept": {"application/vnd.github+json"}, "X-GitHub-Api-Version": {APIVersion}}
	if auth != "" {
		h.Set("Authorization", auth)
	}
	return restcall.Do(ctx, s.hc, restcall.Request{Action: s.action, Op: op, Method: method, URL: s.base + path, Body: body,
		Header: h, URLSetting: "github.api_url", MaxBody: maxBody})
}

// classify turns an unexpected status into an error: 429 and 5xx are retried, the
// rest are permanent. Only GitHub's "message" is quoted, bounded, and never from a
// response that could carry an alert's secret (those are 2xx).
func (s *session) classify(op string, status int, body []byte) error {
	var e struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &e)
	msg := restcall.Bound(e.Message)
	text := fmt.Sprintf("%s: %s: GitHub answered %d %q", s.action, op, status, msg)
	// GitHub also answers a spent rate limit with 403.
	if status == http.StatusForbidden && strings.Contains(strings.ToLower(msg), "rate limit") {
		return retryable(ErrThrottled, text)
	}
	return restcall.Status(status, restcall.Retryable{Throttled: ErrThrottled, Unavailable: ErrUnavailable}, text)
}

// getAlert fetches the alert, secret included.
func (s *session) getAlert(ctx context.Context, ref alertRef) (*alert, error) {
	op := "get secret-scanning alert " + ref.String()
	st, body, err := s.do(ctx, op, http.MethodGet, ref.path(), "Bearer "+s.token, nil)
	if err != nil {
		return nil, err
	}
	if st != http.StatusOK {
		return nil, s.classify(op, st, body)
	}
	var al alert
	if err := json.Unmarshal(body, &al); err != nil {
		// The JSON error may quote the body, which holds the secret: never wrap it.
		return nil, fmt.Errorf("%s: %s: response is not an alert", s.action, op)
	}
	return &al, nil
}

// openAlert decodes the arguments and fetches the alert the incident's
// credential names, secret included: the caller clears it.
func (a *Activities) openAlert(ctx context.Context, in sever.ActionInput, args *Args) (*session, alertRef, *alert, error) {
	s, ref, err := a.begin(ctx, in, args)
	if err != nil {
		return nil, alertRef{}, nil, err
	}
	al, err := s.getAlert(ctx, ref)
	if err != nil {
		return nil, alertRef{}, nil, err
	}
	return s, ref, al, nil
}

// RevokeAlertToken is github.secret_scanning.revoke_alert_token. It fetches the
// alert and sends its secret to GitHub's credential revocation API, unless the alert
// already shows the token inactive; then it fetches the alert again and is verified
// when GitHub reports the token inactive. Revocation cannot be undone.
func (a *Activities) RevokeAlertToken(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args Args
	s, ref, al, err := a.openAlert(ctx, in, &args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	res := sever.ActionResult{Enforcement: sever.EnterpriseEnforced, Actor: a.actor()}
	if al.Validity != "inactive" {
		if !IsRevocable(al.Secret) {
			return sever.ActionResult{}, activities.Permanent(activities.ErrUnsupported, fmt.Sprintf(
				"%s: alert %s (secret type %s) holds no token GitHub's revocation API accepts (ghp_, github_pat_, gho_, ghu_, ghr_)",
				in.Action, ref, al.SecretType), nil)
		}
		op := "revoke the token of alert " + ref.String()
		// Unauthenticated by design: anyone may report a leaked token.
		st, body, err := s.do(ctx, op, http.MethodPost, "/credentials/revoke", "", map[string][]string{"credentials": {al.Secret}})
		al.Secret = ""
		if err != nil {
			return sever.ActionResult{}, err
		}
		if st != http.StatusAccepted && st != http.StatusOK && st != http.StatusNoContent {
			return sever.ActionResult{}, s.classify(op, st, body)
		}
		res.Changed = true
		activities.RecordHeartbeat(ctx, "revoked "+ref.String())
	}
	al.Secret = ""
	back, err := s.getAlert(ctx, ref)
	if err != nil {
		return sever.ActionResult{}, err
	}
	back.Secret = ""
	res.Output = back.facts(ref)
	res.Verified = back.Validity == "inactive"
	res.Summary = fmt.Sprintf("token of alert %s revoked; GitHub reports it %s", ref, back.Validity)
	if !res.Changed {
		res.Summary = fmt.Sprintf("token of alert %s already inactive; not revoked again", ref)
	}
	return res, nil
}

// AlertStatus is github.secret_scanning.alert_status: verified when the alert's
// token is inactive (expect revoked, the default) or the alert is resolved as
// revoked (expect resolved).
func (a *Activities) AlertStatus(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args Args
	s, ref, err := a.begin(ctx, in, &args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	expect, err := activities.Expect(in.Action, args.Expect, "revoked", "resolved")
	if err != nil {
		return sever.ActionResult{}, err
	}
	al, err := s.getAlert(ctx, ref)
	if err != nil {
		return sever.ActionResult{}, err
	}
	al.Secret = ""
	ok := al.Validity == "inactive"
	if expect == "resolved" {
		ok = al.State == "resolved" && al.Resolution == "revoked"
	}
	return sever.ActionResult{Verified: ok, Actor: a.actor(), Output: al.facts(ref),
		Summary: fmt.Sprintf("alert %s: state %s, validity %s", ref, al.State, al.Validity)}, nil
}

// ResolveAlert is github.secret_scanning.resolve_alert: it resolves the alert as
// revoked, and refuses (retryably) while GitHub does not yet report the token
// inactive, so an alert is never closed over a live token. An alert already
// resolved is left alone.
func (a *Activities) ResolveAlert(ctx context.Context, in sever.ActionInput) (sever.ActionResult, error) {
	var args Args
	s, ref, al, err := a.openAlert(ctx, in, &args)
	if err != nil {
		return sever.ActionResult{}, err
	}
	al.Secret = ""
	res := sever.ActionResult{Actor: a.actor()}
	if al.State != "resolved" {
		if al.Validity != "inactive" {
			return sever.ActionResult{}, retryable(ErrNotRevoked, fmt.Sprintf(
				"%s: alert %s: GitHub reports the token %q, not inactive; not resolving it before containment is verified", in.Action, ref, al.Validity))
		}
		comment := "Token revoked by sever"
		if in.IncidentID != "" {
			comment += " (incident " + in.IncidentID + ")"
		}
		if args.Reason != "" {
			comment += ": " + args.Reason
		}
		if len(comment) > 280 {
			comment = comment[:280]
		}
		op := "resolve alert " + ref.String()
		st, body, err := s.do(ctx, op, http.MethodPatch, ref.path(), "Bearer "+s.token,
			map[string]string{"state": "resolved", "resolution": "revoked", "resolution_comment": comment})
		if err != nil {
			return sever.ActionResult{}, err
		}
		if st != http.StatusOK {
			return sever.ActionResult{}, s.classify(op, st, nil)
		}
		_ = body // the PATCH answer is the alert, secret included: not kept
		res.Changed = true
		if al, err = s.getAlert(ctx, ref); err != nil {
			return sever.ActionResult{}, err
		}
		al.Secret = ""
	}
	res.Output = al.facts(ref)
	res.Verified = al.State == "resolved"
	res.Summary = fmt.Sprintf("alert %s resolved as %s", ref, al.Resolution)
	return res, nil
}

// retryable is an error of a stable type that Temporal retries.
func retryable(errType, msg string) error { return temporal.NewApplicationError(msg, errType) }

// AWS access key IDs: AKIA for long-term keys, ASIA for temporary credentials,
// then 16 upper-case letters or digits. Nothing else is ever returned by AlertAWSKeyID.
var awsKeyIDRE = regexp.MustCompile(`^(AKIA|ASIA)[A-Z0-9]{16}$`)

// IsAWSKeyID reports whether v has the shape of an AWS access key ID (AKIA… or
// ASIA…, 20 characters).
func IsAWSKeyID(v string) bool { return awsKeyIDRE.MatchString(v) }

// ErrNotAWSKeyID is the error type of AlertAWSKeyID when the alert's secret is not
// an AWS access key ID: permanent, the alert is about something else.
const ErrNotAWSKeyID = "GitHubAlertNotAWSKeyID"

// AlertAWSKeyID fetches secret-scanning alert number of repo ("owner/name") and
// returns its secret when, and only when, it is an AWS access key ID, so the
// webhook can send the alert to that key's incident. A key ID is an identifier,
// not a secret; any other secret is cleared in this call and never returned,
// logged or quoted in an error.
func (a *Activities) AlertAWSKeyID(ctx context.Context, repo string, number int) (string, error) {
	const action = "github.secret_scanning.alert_aws_key_id"
	ref, al, v, err := a.alertSecret(ctx, action, repo, number)
	if err != nil {
		return "", err
	}
	if !IsAWSKeyID(v) {
		return "", activities.Permanent(ErrNotAWSKeyID, fmt.Sprintf("%s: alert %s (secret type %s) does not hold an AWS access key ID",
			action, ref, al.SecretType), nil)
	}
	return v, nil
}

// alertSecret fetches secret-scanning alert number of repo ("owner/name") for
// action and returns its reference, the alert with its secret cleared, and the
// secret apart, which the caller must keep in memory only.
func (a *Activities) alertSecret(ctx context.Context, action, repo string, number int) (alertRef, *alert, string, error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok {
		return alertRef{}, nil, "", activities.Permanent(activities.ErrInvalidArgument, fmt.Sprintf("%s: repository %q is not <owner>/<repo>", action, repo), nil)
	}
	in := sever.ActionInput{Action: action, Credential: sever.Credential{Type: sever.CredGitHubToken,
		ID: fmt.Sprintf("%s/%s/secret-scanning/%d", owner, name, number)}}
	s, ref, err := a.begin(ctx, in, &Args{})
	if err != nil {
		return alertRef{}, nil, "", err
	}
	al, err := s.getAlert(ctx, ref)
	if err != nil {
		return alertRef{}, nil, "", err
	}
	v := al.Secret
	al.Secret = ""
	return ref, al, v, nil
}

// ErrSecretTypeMismatch is the error type of UseAlertSecret when the alert's
// secret type is not the one the caller can use: permanent.
const ErrSecretTypeMismatch = "GitHubAlertSecretTypeMismatch"

// UseAlertSecret fetches secret-scanning alert number of repo ("owner/name") and,
// when its secret type is secretType, hands the secret to use and returns what use
// returns. The secret stays in memory in this call and use: it is never returned,
// logged or quoted in an error here, and use must not return it either (it is for
// an intake that maps a secret to the ID it is known by, such as a Google API key
// string to the key's resource name).
func (a *Activities) UseAlertSecret(ctx context.Context, repo string, number int, secretType string,
	use func(ctx context.Context, secret string) (string, error)) (string, error) {
	const action = "github.secret_scanning.use_alert_secret"
	ref, al, v, err := a.alertSecret(ctx, action, repo, number)
	if err != nil {
		return "", err
	}
	if al.SecretType != secretType || v == "" {
		return "", activities.Permanent(ErrSecretTypeMismatch, fmt.Sprintf("%s: alert %s holds a secret of type %q, not %q",
			action, ref, al.SecretType, secretType), nil)
	}
	return use(ctx, v)
}
