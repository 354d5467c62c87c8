package drillcloud

import (
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
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// GitHub twin operations, for Calls and Fault.Operation (Service "github").
const (
	GitHubOpAccessToken = "access_token"
	GitHubOpGetAlert    = "get_alert"
	GitHubOpPatchAlert  = "patch_alert"
	GitHubOpRevoke      = "revoke"
	GitHubOpUser        = "user"
)

// GitHub twin defaults.
const (
	DefaultGitHubAppID          = "424242"
	DefaultGitHubInstallationID = "4242"
)

// GitHubTwin is a look-alike of the GitHub REST endpoints sever's github.* actions
// use: the App installation-token exchange (the App JWT is verified with the App's
// public key), GET and PATCH of a secret-scanning alert, the unauthenticated
// credential revocation API, and GET /user, which authenticates a token so an
// attacker's call with a revoked token is refused. Safe for concurrent use.
type GitHubTwin struct {
	AppID          string
	InstallationID string

	key *rsa.PrivateKey // nil when the App's key was registered by its public half
	pub *rsa.PublicKey  // verifies App JWTs
	now func() time.Time

	mu      sync.Mutex
	alerts  map[string]*githubAlert // by "owner/repo/number"
	tokens  map[string]string       // live user tokens: value → login
	revoked map[string]bool         // revoked tokens
	inst    map[string]time.Time    // installation tokens → expiry
	calls   map[string]int          // operation → count
}

type githubAlert struct {
	Number     int    `json:"number"`
	State      string `json:"state"`
	Resolution string `json:"resolution,omitempty"`
	Comment    string `json:"resolution_comment,omitempty"`
	SecretType string `json:"secret_type"`
	Secret     string `json:"secret"`
	Validity   string `json:"validity"`
	HTMLURL    string `json:"html_url"`
}

// NewGitHubTwin returns a twin with a fresh App key pair and no alerts.
func NewGitHubTwin() (*GitHubTwin, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("github twin: generate app key: %w", err)
	}
	g := NewGitHubTwinForKey(&key.PublicKey)
	g.key = key
	return g, nil
}

// NewGitHubTwinForKey returns a twin with no alerts whose App is registered with
// pub, as an App's public key is registered with GitHub: sever dev keeps the
// private half in its data dir, so the twin never needs it.
func NewGitHubTwinForKey(pub *rsa.PublicKey) *GitHubTwin {
	return &GitHubTwin{AppID: DefaultGitHubAppID, InstallationID: DefaultGitHubInstallationID, pub: pub, now: time.Now,
		alerts: map[string]*githubAlert{}, tokens: map[string]string{}, revoked: map[string]bool{},
		inst: map[string]time.Time{}, calls: map[string]int{}}
}

// PrivateKeyPEM is the App's private key, as GitHub hands it out (PKCS #1 PEM),
// or "" for a twin built with NewGitHubTwinForKey.
func (g *GitHubTwin) PrivateKeyPEM() string {
	if g.key == nil {
		return ""
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(g.key)}))
}

// NewToken mints a live token (prefix "ghp_" or "github_pat_") for login.
func (g *GitHubTwin) NewToken(prefix, login string) string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	t := prefix + hex.EncodeToString(b)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.tokens[t] = login
	return t
}

// AddAlert opens secret-scanning alert number in owner/repo for secret.
func (g *GitHubTwin) AddAlert(owner, repo string, number int, secretType, secret string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.alerts[fmt.Sprintf("%s/%s/%d", owner, repo, number)] = &githubAlert{Number: number, State: "open", SecretType: secretType,
		Secret: secret, HTMLURL: fmt.Sprintf("https://github.com/%s/%s/security/secret-scanning/%d", owner, repo, number)}
}

// TokenRevoked reports whether token was revoked.
func (g *GitHubTwin) TokenRevoked(token string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.revoked[token]
}

// Alert returns an alert's state and resolution.
func (g *GitHubTwin) Alert(owner, repo string, number int) (state, resolution string, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	a, ok := g.alerts[fmt.Sprintf("%s/%s/%d", owner, repo, number)]
	if !ok {
		return "", "", false
	}
	return a.State, a.Resolution, true
}

// Calls returns how many times op (GitHubOp…) was served, calls a fault
// refused included.
func (g *GitHubTwin) Calls(op string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[op]
}

var (
	ghAccessTokenPath = regexp.MustCompile(`^/app/installations/([0-9]+)/access_tokens$`)
	ghAlertPath       = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/secret-scanning/alerts/([0-9]+)$`)
)

// IsGitHubRequest reports whether r is for the GitHub twin: GitHub's clients send
// its media type or API version header, which no AWS or provider client does.
func IsGitHubRequest(r *http.Request) bool {
	return r.Header.Get("X-GitHub-Api-Version") != "" || strings.Contains(r.Header.Get("Accept"), "application/vnd.github")
}

func ghError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest"})
}

func ghJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ServeHTTP serves the GitHub endpoints, without the drill cloud's faults.
func (g *GitHubTwin) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.serve(w, r, nil) }

// serve serves the GitHub endpoints with c's faults (Service "github"); c is
// nil for a twin served on its own.
func (g *GitHubTwin) serve(w http.ResponseWriter, r *http.Request, c *Cloud) {
	if op, ids, ok := g.faultTarget(r, c); ok {
		kind := c.twinFault(r, GitHubService, op, ids...)
		if ghFaultAnswer(w, kind) {
			g.mu.Lock()
			g.calls[op]++
			g.mu.Unlock()
			return
		}
		w = answerWriter(w, kind)
		defer closeDropped(w)
	}
	g.handle(w, r)
}

// faultTarget names the operation of an authenticated call (the revocation API
// needs no authentication) and its caller as a fault's KeyID may: the App id
// and FaultCallerResponder for the App's calls, the login for /user. ok is false
// for a call faults do not apply to, and always without a cloud c.
func (g *GitHubTwin) faultTarget(r *http.Request, c *Cloud) (op string, ids []string, ok bool) {
	if c == nil {
		return "", nil, false
	}
	p, bearer := r.URL.Path, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	app := []string{g.AppID, FaultCallerResponder}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && ghAccessTokenPath.MatchString(p):
		return GitHubOpAccessToken, app, g.verifyJWT(bearer) == nil
	case (r.Method == http.MethodGet || r.Method == http.MethodPatch) && ghAlertPath.MatchString(p):
		exp, live := g.inst[bearer]
		op := GitHubOpGetAlert
		if r.Method == http.MethodPatch {
			op = GitHubOpPatchAlert
		}
		return op, app, live && g.now().Before(exp)
	case r.Method == http.MethodPost && p == "/credentials/revoke":
		return GitHubOpRevoke, nil, true
	case r.Method == http.MethodGet && p == "/user":
		login, live := g.tokens[bearer]
		return GitHubOpUser, []string{login}, live
	}
	return "", nil, false
}

// ghFaultAnswer answers a refusing fault as GitHub does, and reports whether it
// did: a throttle is the secondary rate limit's 403 with Retry-After.
func ghFaultAnswer(w http.ResponseWriter, kind FaultKind) bool {
	switch kind {
	case FaultThrottle:
		w.Header().Set("Retry-After", "1")
		ghError(w, http.StatusForbidden, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
	case FaultServerError:
		ghError(w, http.StatusServiceUnavailable, "Service Unavailable")
	case FaultAccessDenied:
		ghError(w, http.StatusForbidden, "Resource not accessible by integration")
	default:
		return false
	}
	return true
}

// handle serves one GitHub call.
func (g *GitHubTwin) handle(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		ghError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	p := r.URL.Path
	switch {
	case r.Method == http.MethodPost && ghAccessTokenPath.MatchString(p):
		g.calls[GitHubOpAccessToken]++
		if ghAccessTokenPath.FindStringSubmatch(p)[1] != g.InstallationID {
			ghError(w, http.StatusNotFound, "Not Found")
			return
		}
		if err := g.verifyJWT(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")); err != nil {
			ghError(w, http.StatusUnauthorized, "A JSON web token could not be decoded: "+err.Error())
			return
		}
		b := make([]byte, 18)
		_, _ = rand.Read(b)
		tok, exp := "ghs_"+hex.EncodeToString(b), g.now().Add(time.Hour)
		g.inst[tok] = exp
		ghJSON(w, http.StatusCreated, map[string]any{"token": tok, "expires_at": exp.UTC().Format(time.RFC3339)})
	case (r.Method == http.MethodGet || r.Method == http.MethodPatch) && ghAlertPath.MatchString(p):
		m := ghAlertPath.FindStringSubmatch(p)
		if exp, ok := g.inst[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]; !ok || !g.now().Before(exp) {
			ghError(w, http.StatusUnauthorized, "Bad credentials")
			return
		}
		a, ok := g.alerts[m[1]+"/"+m[2]+"/"+m[3]]
		if !ok {
			ghError(w, http.StatusNotFound, "Not Found")
			return
		}
		if r.Method == http.MethodPatch {
			g.calls[GitHubOpPatchAlert]++
			var req struct {
				State      string `json:"state"`
				Resolution string `json:"resolution"`
				Comment    string `json:"resolution_comment"`
			}
			if json.Unmarshal(body, &req) != nil || (req.State != "open" && req.State != "resolved") {
				ghError(w, http.StatusUnprocessableEntity, "Validation Failed")
				return
			}
			switch req.Resolution {
			case "", "false_positive", "wont_fix", "revoked", "used_in_tests", "pattern_deleted", "pattern_edited":
			default:
				ghError(w, http.StatusUnprocessableEntity, "Validation Failed")
				return
			}
			if req.State == "resolved" && req.Resolution == "" {
				ghError(w, http.StatusUnprocessableEntity, "A resolution is required to resolve an alert")
				return
			}
			a.State, a.Resolution, a.Comment = req.State, req.Resolution, req.Comment
			if req.State == "open" {
				a.Resolution, a.Comment = "", ""
			}
		} else {
			g.calls[GitHubOpGetAlert]++
		}
		out := *a
		out.Validity = g.validity(a.Secret)
		ghJSON(w, http.StatusOK, out)
	case r.Method == http.MethodPost && p == "/credentials/revoke":
		g.calls[GitHubOpRevoke]++
		var req struct {
			Credentials []string `json:"credentials"`
		}
		if json.Unmarshal(body, &req) != nil || len(req.Credentials) == 0 || len(req.Credentials) > 1000 {
			ghError(w, http.StatusUnprocessableEntity, "Validation Failed")
			return
		}
		for _, c := range req.Credentials {
			if _, live := g.tokens[c]; live {
				g.revoked[c] = true
				delete(g.tokens, c)
			}
		}
		ghJSON(w, http.StatusAccepted, map[string]any{})
	case r.Method == http.MethodGet && p == "/user":
		g.calls[GitHubOpUser]++
		login, ok := g.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		if !ok {
			ghError(w, http.StatusUnauthorized, "Bad credentials")
			return
		}
		ghJSON(w, http.StatusOK, map[string]string{"login": login})
	default:
		ghError(w, http.StatusNotFound, "Not Found")
	}
}

// validity is what GitHub's validity check would report for secret.
func (g *GitHubTwin) validity(secret string) string {
	switch {
	case g.revoked[secret]:
		return "inactive"
	case g.tokens[secret] != "":
		return "active"
	}
	return "unknown"
}

// verifyJWT checks an App JWT as GitHub does: RS256 under the App's public key,
// issued by the App, not expired, and valid for at most ten minutes.
func (g *GitHubTwin) verifyJWT(tok string) error {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return fmt.Errorf("not a JWT")
	}
	enc := base64.RawURLEncoding
	var head struct {
		Alg string `json:"alg"`
	}
	hb, err := enc.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &head) != nil || head.Alg != "RS256" {
		return fmt.Errorf("header is not an RS256 JWT header")
	}
	sig, err := enc.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("signature is not base64url")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(g.pub, crypto.SHA256, sum[:], sig) != nil {
		return fmt.Errorf("signature does not verify with the App's public key")
	}
	cb, err := enc.DecodeString(parts[1])
	if err != nil {
		return fmt.Errorf("claims are not base64url")
	}
	var c struct {
		Iat json.Number `json:"iat"`
		Exp json.Number `json:"exp"`
		Iss any         `json:"iss"`
	}
	if json.Unmarshal(cb, &c) != nil {
		return fmt.Errorf("claims are not JSON")
	}
	iat, err1 := c.Iat.Int64()
	exp, err2 := c.Exp.Int64()
	if err1 != nil || err2 != nil {
		return fmt.Errorf("iat and exp must be integers")
	}
	now := g.now().Unix()
	switch {
	case fmt.Sprint(c.Iss) != g.AppID:
		return fmt.Errorf("'Issuer' claim ('iss') must be the App's id")
	case exp <= now:
		return fmt.Errorf("'Expiration time' claim ('exp') is in the past")
	case iat > now+60:
		return fmt.Errorf("'Issued at' claim ('iat') is in the future")
	case exp-iat > 600:
		return fmt.Errorf("'Expiration time' claim ('exp') is too far in the future")
	}
	return nil
}
