package webui

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sever-ir/sever/httpapi"
)

// SessionCookie is the name of the UI's session cookie.
const SessionCookie = "sever_session"

// The session cookie is "v1.<name>.<expiry>.<mac>": the token's name (base64url),
// the expiry in Unix seconds and an HMAC over both, keyed by a key derived from the
// token (httpapi.TokenSet.SessionKey). It never holds the token itself, so a leaked
// cookie opens this read-only UI until it expires and nothing else, and it stops
// working as soon as the token is rotated or removed.
const sessionVersion = "v1"

type viewerKey struct{}

// viewer says how the request was authenticated, for the page header.
type viewer struct {
	name    string
	session bool // by cookie, so the page offers a logout
}

func viewerFrom(ctx context.Context) viewer {
	v, _ := ctx.Value(viewerKey{}).(viewer)
	return v
}

func (u *ui) auth(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u.public {
			h(w, r)
			return
		}
		if header := r.Header.Get("Authorization"); header != "" {
			scheme, value, _ := strings.Cut(header, " ")
			name, ok := "", false
			if strings.EqualFold(scheme, "Bearer") {
				name, ok = u.tokens.Check(strings.TrimSpace(value), httpapi.ScopeIncidentsRead)
			}
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="sever", error="invalid_token", scope="incidents:read"`)
				u.errorPage(w, r, http.StatusUnauthorized, "The bearer token is not valid for the incidents:read scope.")
				return
			}
			h(w, r.WithContext(context.WithValue(r.Context(), viewerKey{}, viewer{name: name})))
			return
		}
		if c, err := r.Cookie(SessionCookie); err == nil {
			if name, ok := u.verifySession(c.Value); ok {
				h(w, r.WithContext(context.WithValue(r.Context(), viewerKey{}, viewer{name: name, session: true})))
				return
			}
		}
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	})
}

func (u *ui) signSession(name string, expiry time.Time) (string, bool) {
	key, ok := u.tokens.SessionKey(name, httpapi.ScopeIncidentsRead)
	if !ok {
		return "", false
	}
	payload := sessionVersion + "." + base64.RawURLEncoding.EncodeToString([]byte(name)) + "." + strconv.FormatInt(expiry.Unix(), 10)
	return payload + "." + base64.RawURLEncoding.EncodeToString(sessionMAC(key, payload)), true
}

func sessionMAC(key []byte, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("sever webui session\x00" + payload))
	return m.Sum(nil)
}

func (u *ui) verifySession(v string) (string, bool) {
	parts := strings.Split(v, ".")
	if len(parts) != 4 || parts[0] != sessionVersion {
		return "", false
	}
	nameB, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || !u.now().Before(time.Unix(exp, 0)) {
		return "", false
	}
	mac, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil {
		return "", false
	}
	name := string(nameB)
	key, ok := u.tokens.SessionKey(name, httpapi.ScopeIncidentsRead)
	if !ok || !hmac.Equal(mac, sessionMAC(key, strings.Join(parts[:3], "."))) {
		return "", false
	}
	return name, true
}

// safeNext keeps a post-login redirect on this site. Only a same-origin path is
// kept; anything else becomes "/". Browsers strip tab, CR and LF anywhere in a URL
// and read "\" as "/", so "/\t/evil" or "/\evil" is "//evil", a network-path
// reference to another host. The UI's own links are escaped request URIs, so
// refusing every byte outside printable ASCII, every backslash, and any path
// that decodes to "//" or holds dot segments costs nothing legitimate.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	// The decoded path too: "/%2F/evil" or "/%09/evil" is harmless to a browser
	// but not to a proxy or a later redirect that decodes it.
	p := u.Path
	if strings.Contains(p, "//") || hasDotSegment(p) || strings.ContainsFunc(p, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || r == '\\'
	}) {
		return "/"
	}
	return next
}

// hasDotSegment reports whether p has a "." or ".." segment, which a browser
// resolves away ("/.//evil" becomes "//evil").
func hasDotSegment(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

func (u *ui) loginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if u.public {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	u.render(w, r, http.StatusOK, "login", map[string]any{"Title": "Sign in", "Next": next})
}

// maxLoginBody bounds the login form: a token and a path.
const maxLoginBody = 8 << 10

// login takes the token from a POSTed form, never from the URL, where it would
// stay in browser history, proxy logs and Referer headers.
func (u *ui) login(w http.ResponseWriter, r *http.Request) {
	if u.public {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	// The form is only ever posted from this site's login page; a cross-site post
	// would log the browser in with someone else's token.
	if origin := r.Header.Get("Origin"); origin != "" && !sameOrigin(origin, r) {
		u.errorPage(w, r, http.StatusForbidden, "The login form was posted from another site.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		u.errorPage(w, r, http.StatusBadRequest, "The login form could not be read.")
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	name, ok := u.tokens.Check(strings.TrimSpace(r.PostForm.Get("token")), httpapi.ScopeIncidentsRead)
	if !ok {
		u.render(w, r, http.StatusUnauthorized, "login", map[string]any{"Title": "Sign in", "Next": next,
			"Error": "That token is not valid, or it lacks the incidents:read scope."})
		return
	}
	expiry := u.now().Add(u.sessionTTL)
	value, _ := u.signSession(name, expiry)
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: value, Path: "/", Expires: expiry, MaxAge: int(u.sessionTTL.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: u.secure || r.TLS != nil,
	})
	u.log.InfoContext(r.Context(), "web ui login", "op", "webui.login", "principal", name)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (u *ui) logout(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); origin != "" && !sameOrigin(origin, r) {
		u.errorPage(w, r, http.StatusForbidden, "The logout form was posted from another site.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: u.secure || r.TLS != nil})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func sameOrigin(origin string, r *http.Request) bool {
	o, err := url.Parse(origin)
	return err == nil && o.Host != "" && strings.EqualFold(o.Host, r.Host)
}
