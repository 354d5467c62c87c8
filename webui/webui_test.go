package webui_test

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/webui"
)

const (
	readerToken = "reader-0123456789abcdef"
	writerToken = "writer-0123456789abcdef"
)

var testTokens = []httpapi.Token{
	{Name: "reader", Value: readerToken, Scopes: []string{httpapi.ScopeIncidentsRead}},
	{Name: "writer", Value: writerToken, Scopes: []string{httpapi.ScopeSignalsWrite}},
}

func newUI(t *testing.T, svc webui.Service, tweak ...func(*webui.Options)) http.Handler {
	t.Helper()
	// example.com is httptest's Host; a public UI answers only the hosts it allows.
	o := webui.Options{Service: svc, Public: true, AllowedHosts: []string{"example.com"}, Now: func() time.Time { return at(7200) }}
	for _, f := range tweak {
		f(&o)
	}
	h, err := webui.New(o)
	if err != nil {
		t.Fatalf("webui.New: %v", err)
	}
	return h
}

func private(o *webui.Options) { o.Public, o.Tokens = false, testTokens }

type request struct {
	method, path string
	header       map[string]string
	cookie       *http.Cookie
	form         url.Values
}

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	return do(t, h, request{method: "GET", path: path})
}

func do(t *testing.T, h http.Handler, r request) *httptest.ResponseRecorder {
	t.Helper()
	var hr *http.Request
	if r.form != nil {
		hr = httptest.NewRequest(r.method, r.path, strings.NewReader(r.form.Encode()))
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		hr = httptest.NewRequest(r.method, r.path, nil)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	if r.cookie != nil {
		hr.AddCookie(r.cookie)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, hr)
	return rec
}

func wantStatus(t *testing.T, rec *httptest.ResponseRecorder, want int) {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("status = %d, want %d; body:\n%s", rec.Code, want, rec.Body)
	}
}

func wantContains(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func TestListPage(t *testing.T) {
	h := newUI(t, newFake(containedIncident(), openIncident()))
	rec := get(t, h, "/")
	wantStatus(t, rec, http.StatusOK)
	if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	body := rec.Body.String()
	wantContains(t, body,
		`<span class="status status-contained">contained</span>`,
		`<code class="credential-id">AKIAIOSFODNN7EXAMPLE</code>`,
		`aws_access_key`, `aws-access-key-exposed`,
		`<td class="ttc">1.4 s</td>`,
		`<td class="approvals"><strong>1</strong></td>`, // the open incident's parked step
		`href="/incidents/`+sever.IncidentID(awsCred)+`"`,
		`2025-06-01 10:00:00Z`)
	// The open incident is newer, so it is listed first.
	if strings.Index(body, openCred.ID) > strings.Index(body, awsCred.ID) {
		t.Error("incidents are not newest first")
	}
}

func TestListFilterAndErrors(t *testing.T) {
	svc := newFake(containedIncident(), openIncident())
	h := newUI(t, svc)
	rec := get(t, h, "/?status=open")
	wantStatus(t, rec, http.StatusOK)
	if strings.Contains(rec.Body.String(), awsCred.ID) {
		t.Error("status=open lists a contained incident")
	}
	if f := svc.filters[len(svc.filters)-1]; f.Status != "open" || f.Limit != 50 {
		t.Errorf("filter = %+v, want status open, limit 50", f)
	}
	wantStatus(t, get(t, h, "/?status=bogus"), http.StatusBadRequest)
	rec = get(t, h, "/?limit=1")
	wantStatus(t, rec, http.StatusOK)
	wantContains(t, rec.Body.String(), "Showing the newest 1 incidents", `href="/?status=&amp;limit=200"`)
	wantStatus(t, get(t, h, "/?limit=7"), http.StatusOK)
	if f := svc.filters[len(svc.filters)-1]; f.Limit != 7 {
		t.Errorf("limit = %d, want 7", f.Limit)
	}
	for _, bad := range []string{"0", "201", "x"} {
		wantStatus(t, get(t, h, "/?limit="+bad), http.StatusBadRequest)
	}

	t.Run("EngineUnavailable", func(t *testing.T) {
		svc.listErr = sever.Errorf(sever.EUNAVAILABLE, "", "the workflow service is unavailable; retry")
		rec := get(t, h, "/")
		wantStatus(t, rec, http.StatusServiceUnavailable)
		wantContains(t, rec.Body.String(), "the workflow service is unavailable")
	})
	t.Run("InternalErrorIsNotShown", func(t *testing.T) {
		svc.listErr = errors.New("dial tcp 10.0.0.7:7233: connection refused")
		rec := get(t, h, "/")
		wantStatus(t, rec, http.StatusInternalServerError)
		if strings.Contains(rec.Body.String(), "10.0.0.7") {
			t.Error("an internal error reached the page")
		}
	})
}

func TestIncidentPage(t *testing.T) {
	inc := containedIncident()
	h := newUI(t, newFake(inc), func(o *webui.Options) {
		o.TemporalUIURL, o.Namespace = "http://127.0.0.1:8233/", "sever"
	})
	rec := get(t, h, "/incidents/"+inc.ID)
	wantStatus(t, rec, http.StatusOK)
	body := rec.Body.String()
	wantContains(t, body,
		`<code class="incident-id">`+inc.ID+`</code>`,
		// Accountability: the vendor notice, the approval, the verified enterprise step.
		`<tr class="point point-signal" data-ref="sig-aws-health-2">`,
		`<tr class="point point-approval" data-ref="deactivate">`,
		`<tr class="point point-step" data-ref="deactivate">`,
		`<span class="enf enf-enterprise_enforced">enterprise enforced</span>`,
		`<span class="enf enf-human_approved">human approved</span>`,
		`U012AB3CD`,
		// Signals with origin and delay; the vendor's came after containment.
		`<tr class="signal origin-vendor late">`, `T+1 h 00 m`,
		// Evidence hashes in full.
		`<code class="hash full">`+evidenceHash+`</code>`,
		// The enforcement gap.
		`<section id="gap">`, `Contained by the enterprise`,
		`<svg`,
		`href="http://127.0.0.1:8233/namespaces/sever/workflows/`+inc.ID+`"`)
	if strings.Contains(body, "<script") {
		t.Error("the page has a script")
	}
}

func TestNoTemporalLinkWithoutURL(t *testing.T) {
	inc := containedIncident()
	rec := get(t, newUI(t, newFake(inc)), "/incidents/"+inc.ID)
	wantStatus(t, rec, http.StatusOK)
	if strings.Contains(rec.Body.String(), "Temporal UI") {
		t.Error("a Temporal UI link without a configured URL")
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := newUI(t, newFake(containedIncident()))
	for _, path := range []string{"/", "/incidents/" + sever.IncidentID(awsCred), "/static/style.css", "/nope"} {
		rec := get(t, h, path)
		csp := rec.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "script-src 'none'") ||
			!strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy = %q", path, csp)
		}
		for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
			"Referrer-Policy": "same-origin", "Cache-Control": "no-store"} {
			if got := rec.Header().Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", path, k, got, want)
			}
		}
	}
	rec := get(t, h, "/static/style.css")
	wantStatus(t, rec, http.StatusOK)
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("style.css Content-Type = %q", ct)
	}
}

func TestEscaping(t *testing.T) {
	evil := containedIncident()
	evil.ID = `inc-<script>alert(1)</script>`
	evil.Credential.ID = `<img src=x onerror=alert(2)>`
	evil.Runbook.Name = `"><script>alert(3)</script>`
	h := newUI(t, newFake(evil))

	rec := get(t, h, "/")
	wantStatus(t, rec, http.StatusOK)
	body := rec.Body.String()
	for _, raw := range []string{"<script>alert", "<img src=x", `"><script>`} {
		if strings.Contains(body, raw) {
			t.Errorf("list page carries %q unescaped", raw)
		}
	}
	wantContains(t, body, `inc-&lt;script&gt;alert(1)&lt;/script&gt;`, `&lt;img src=x onerror=alert(2)&gt;`,
		`href="/incidents/inc-%3Cscript%3Ealert%281%29%3C%2Fscript%3E"`)

	// Such an id cannot come from sever; its page is not found, and says so escaped.
	rec = get(t, h, "/incidents/inc-%3Cscript%3Ealert(1)%3C%2Fscript%3E")
	wantStatus(t, rec, http.StatusNotFound)
	if strings.Contains(rec.Body.String(), "<script>") {
		t.Error("404 page carries the id unescaped")
	}

	// Fields of a real incident page come from signals and steps, which outsiders write.
	inc := containedIncident()
	inc.Signals[1].Summary = `<script>alert(4)</script>`
	inc.Signals[1].Source = `<b>aws</b>`
	inc.Steps[1].Approvals[0].Reason = `<iframe src=//evil>`
	rec = get(t, newUI(t, newFake(inc)), "/incidents/"+inc.ID)
	wantStatus(t, rec, http.StatusOK)
	body = rec.Body.String()
	for _, raw := range []string{"<script>alert", "<b>aws</b>", "<iframe"} {
		if strings.Contains(body, raw) {
			t.Errorf("incident page carries %q unescaped", raw)
		}
	}
}

func TestNotFound(t *testing.T) {
	h := newUI(t, newFake(containedIncident()))
	for _, path := range []string{"/incidents/inc-aws-unknown", "/nope", "/incidents/", "/v2/anything", "/static/", "/static/x.css"} {
		rec := get(t, h, path)
		wantStatus(t, rec, http.StatusNotFound)
		if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type = %q", path, ct)
		}
	}
	rec := get(t, h, "/incidents/inc-aws-unknown")
	wantContains(t, rec.Body.String(), "incident inc-aws-unknown not found")
}

func TestAuth(t *testing.T) {
	svc := newFake(containedIncident())
	now := at(7200)
	h := newUI(t, svc, private, func(o *webui.Options) { o.Now = func() time.Time { return now } })
	incPath := "/incidents/" + sever.IncidentID(awsCred)

	t.Run("RedirectsToLogin", func(t *testing.T) {
		rec := get(t, h, incPath)
		wantStatus(t, rec, http.StatusSeeOther)
		if loc := rec.Header().Get("Location"); loc != "/login?next="+url.QueryEscape(incPath) {
			t.Errorf("Location = %q", loc)
		}
		rec = get(t, h, "/login")
		wantStatus(t, rec, http.StatusOK)
		wantContains(t, rec.Body.String(), `<form method="post" action="/login"`, `type="password"`)
	})
	t.Run("StylesWithoutLogin", func(t *testing.T) {
		wantStatus(t, get(t, h, "/static/style.css"), http.StatusOK)
	})
	t.Run("BearerToken", func(t *testing.T) {
		for _, c := range []struct {
			header string
			want   int
		}{
			{"Bearer " + readerToken, http.StatusOK},
			{"bearer " + readerToken, http.StatusOK},
			{"Bearer " + writerToken, http.StatusUnauthorized}, // lacks incidents:read
			{"Bearer " + readerToken + "x", http.StatusUnauthorized},
			{"Basic cmVhZGVyOnB3", http.StatusUnauthorized},
		} {
			rec := do(t, h, request{method: "GET", path: "/", header: map[string]string{"Authorization": c.header}})
			if rec.Code != c.want {
				t.Errorf("Authorization %.12s… = %d, want %d", c.header, rec.Code, c.want)
			}
		}
	})

	var session *http.Cookie
	t.Run("Login", func(t *testing.T) {
		rec := do(t, h, request{method: "POST", path: "/login", form: url.Values{"token": {readerToken}, "next": {incPath}}})
		wantStatus(t, rec, http.StatusSeeOther)
		if loc := rec.Header().Get("Location"); loc != incPath {
			t.Errorf("Location = %q, want %q", loc, incPath)
		}
		cookies := rec.Result().Cookies()
		if len(cookies) != 1 {
			t.Fatalf("cookies = %v", cookies)
		}
		session = cookies[0]
		if session.Name != webui.SessionCookie || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode ||
			session.Path != "/" || session.MaxAge != int((12*time.Hour).Seconds()) {
			t.Errorf("cookie = %+v, want HttpOnly, SameSite=Strict, Path=/, 12 h", session)
		}
		if session.Secure {
			t.Error("Secure cookie on plain HTTP without SecureCookies: the browser would drop it")
		}
		if strings.Contains(session.Value, readerToken) {
			t.Error("the cookie carries the token")
		}
		rec = do(t, h, request{method: "GET", path: incPath, cookie: session})
		wantStatus(t, rec, http.StatusOK)
		wantContains(t, rec.Body.String(), "signed in as reader", `action="/logout"`)
	})
	if session == nil {
		t.FailNow()
	}
	t.Run("LoginRefused", func(t *testing.T) {
		for _, tok := range []string{writerToken, "nope-0123456789abcdef", ""} {
			rec := do(t, h, request{method: "POST", path: "/login", form: url.Values{"token": {tok}}})
			wantStatus(t, rec, http.StatusUnauthorized)
			if len(rec.Result().Cookies()) != 0 {
				t.Error("a refused login set a cookie")
			}
			wantContains(t, rec.Body.String(), "not valid")
		}
	})
	t.Run("CrossSiteLoginRefused", func(t *testing.T) {
		rec := do(t, h, request{method: "POST", path: "/login", form: url.Values{"token": {readerToken}},
			header: map[string]string{"Origin": "https://evil.example"}})
		wantStatus(t, rec, http.StatusForbidden)
		// What a browser sends when a page's referrer policy hides its origin.
		rec = do(t, h, request{method: "POST", path: "/login", form: url.Values{"token": {readerToken}},
			header: map[string]string{"Origin": "null"}})
		wantStatus(t, rec, http.StatusForbidden)
		rec = do(t, h, request{method: "POST", path: "/login", form: url.Values{"token": {readerToken}},
			header: map[string]string{"Origin": "http://example.com"}}) // httptest's Host
		wantStatus(t, rec, http.StatusSeeOther)
	})
	t.Run("OpenRedirectRefused", func(t *testing.T) {
		for _, next := range []string{"//evil.example/", "https://evil.example/", `/\evil.example`, "javascript:alert(1)",
			"/\t/evil.example", "/\n/evil.example", "/ /evil.example", "/.//evil.example"} {
			rec := do(t, h, request{method: "POST", path: "/login", form: url.Values{"token": {readerToken}, "next": {next}}})
			if loc := rec.Header().Get("Location"); loc != "/" {
				t.Errorf("next=%q redirects to %q, want /", next, loc)
			}
		}
	})
	t.Run("TamperedCookie", func(t *testing.T) {
		parts := strings.Split(session.Value, ".")
		for _, v := range []string{
			strings.Join([]string{parts[0], "d3JpdGVy", parts[2], parts[3]}, "."),    // name swapped to "writer"
			strings.Join([]string{parts[0], parts[1], "99999999999", parts[3]}, "."), // expiry pushed out
			session.Value + "x", "", "v1...",
		} {
			rec := do(t, h, request{method: "GET", path: "/", cookie: &http.Cookie{Name: webui.SessionCookie, Value: v}})
			wantStatus(t, rec, http.StatusSeeOther)
		}
	})
	t.Run("ExpiredSession", func(t *testing.T) {
		now = now.Add(12*time.Hour + time.Second)
		defer func() { now = at(7200) }()
		wantStatus(t, do(t, h, request{method: "GET", path: "/", cookie: session}), http.StatusSeeOther)
	})
	t.Run("RotatedToken", func(t *testing.T) {
		rotated := []httpapi.Token{{Name: "reader", Value: "reader-rotated-0123456789", Scopes: []string{httpapi.ScopeIncidentsRead}}}
		h2 := newUI(t, svc, func(o *webui.Options) { o.Public, o.Tokens, o.Now = false, rotated, func() time.Time { return now } })
		wantStatus(t, do(t, h2, request{method: "GET", path: "/", cookie: session}), http.StatusSeeOther)
	})
	t.Run("Logout", func(t *testing.T) {
		rec := do(t, h, request{method: "POST", path: "/logout", cookie: session})
		wantStatus(t, rec, http.StatusSeeOther)
		c := rec.Result().Cookies()
		if len(c) != 1 || c[0].MaxAge >= 0 || c[0].Value != "" {
			t.Errorf("logout cookies = %+v, want the session cleared", c)
		}
	})
}

func TestSecureCookies(t *testing.T) {
	h := newUI(t, newFake(), private, func(o *webui.Options) { o.SecureCookies = true })
	rec := do(t, h, request{method: "POST", path: "/login", form: url.Values{"token": {readerToken}}})
	wantStatus(t, rec, http.StatusSeeOther)
	if c := rec.Result().Cookies(); len(c) != 1 || !c[0].Secure {
		t.Errorf("cookies = %+v, want Secure", c)
	}
}

func TestLoginIsNotLogged(t *testing.T) {
	var logs strings.Builder
	h := newUI(t, newFake(), private, func(o *webui.Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	do(t, h, request{method: "POST", path: "/login", form: url.Values{"token": {readerToken}}})
	do(t, h, request{method: "POST", path: "/login", form: url.Values{"token": {"wrong-0123456789abcdef"}}})
	if strings.Contains(logs.String(), readerToken) || strings.Contains(logs.String(), "wrong-0123456789abcdef") {
		t.Errorf("a token reached the log:\n%s", logs.String())
	}
}

func TestPublicNeedsNoLogin(t *testing.T) {
	h := newUI(t, newFake(containedIncident()))
	wantStatus(t, get(t, h, "/"), http.StatusOK)
	rec := get(t, h, "/login")
	wantStatus(t, rec, http.StatusSeeOther)
}

func TestNewChecksOptions(t *testing.T) {
	for name, o := range map[string]webui.Options{
		"NoService":       {Public: true},
		"NoTokens":        {Service: newFake()},
		"BadTemporalURL":  {Service: newFake(), Public: true, TemporalUIURL: "javascript:alert(1)"},
		"ListLimitTooBig": {Service: newFake(), Public: true, ListLimit: webui.MaxListLimit + 1},
	} {
		if _, err := webui.New(o); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

// TestPublicHostGuard: a public (sign-in free) UI refuses requests addressed to
// any host but loopback and the allowed ones, so a DNS-rebound page cannot read it.
func TestPublicHostGuard(t *testing.T) {
	public := newUI(t, newFake(), func(o *webui.Options) { o.AllowedHosts = []string{"sever.internal:8080"} })
	signIn := newUI(t, newFake(), private, func(o *webui.Options) { o.AllowedHosts = nil })
	for _, tc := range []struct {
		name string
		h    http.Handler
		host string
		want int
	}{
		{"IPv4Loopback", public, "127.0.0.1:8080", http.StatusOK},
		{"OtherLoopback", public, "127.1.2.3", http.StatusOK},
		{"IPv6Loopback", public, "[::1]:8080", http.StatusOK},
		{"Localhost", public, "LocalHost:8080", http.StatusOK},
		{"Allowed", public, "sever.internal", http.StatusOK},
		{"Rebound", public, "evil.example:8080", http.StatusMisdirectedRequest},
		{"ReboundNoPort", public, "evil.example", http.StatusMisdirectedRequest},
		{"LocalhostLookalike", public, "localhost.evil.example", http.StatusMisdirectedRequest},
		{"SubdomainOfLocalhost", public, "a.localhost.", http.StatusMisdirectedRequest},
		{"AnyIP", public, "0.0.0.0:8080", http.StatusMisdirectedRequest},
		{"LANIP", public, "192.168.1.10:8080", http.StatusMisdirectedRequest},
		{"Empty", public, "", http.StatusMisdirectedRequest},
		// A UI behind sign-in is not guarded: it may sit behind any proxy name.
		{"SignInUIAnyHost", signIn, "incidents.example.com", http.StatusSeeOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Host = tc.host
			rec := httptest.NewRecorder()
			tc.h.ServeHTTP(rec, r)
			if rec.Code != tc.want {
				t.Fatalf("Host %q: status = %d, want %d; body:\n%s", tc.host, rec.Code, tc.want, rec.Body)
			}
			if tc.want == http.StatusMisdirectedRequest {
				wantContains(t, rec.Body.String(), "localhost or a loopback IP")
			}
		})
	}
}
