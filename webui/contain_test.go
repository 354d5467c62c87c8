package webui_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/service"
	"github.com/sever-ir/sever/webui"
)

const operatorToken = "oscar-0123456789abcdef"

// fakeContainer checks requests as the API would (httpapi.CheckContain) and
// records the ones it accepts; fail, when set, refuses instead.
type fakeContainer struct {
	mu    sync.Mutex
	calls []httpapi.ContainRequest
	fail  error
}

func (f *fakeContainer) Contain(_ context.Context, r httpapi.ContainRequest) (service.SubmitResult, error) {
	if err := httpapi.CheckContain(&r); err != nil {
		return service.SubmitResult{}, err
	}
	if f.fail != nil {
		return service.SubmitResult{}, f.fail
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r)
	return service.SubmitResult{IncidentID: sever.IncidentID(r.Credential), SignalID: "sig-1", Status: service.SubmitQueued}, nil
}

func withContain(c webui.Container) func(*webui.Options) {
	return func(o *webui.Options) {
		o.Public = false
		o.Tokens = append(append([]httpapi.Token(nil), testTokens...), httpapi.Token{Name: "oscar", Value: operatorToken,
			Approver: "U0OSCAR", Scopes: []string{httpapi.ScopeIncidentsRead, httpapi.ScopeIncidentsWrite}})
		o.Contain = c
	}
}

func login(t *testing.T, h http.Handler, token string) *http.Cookie {
	t.Helper()
	rec := do(t, h, request{method: "POST", path: "/login", form: url.Values{"token": {token}, "next": {"/"}}})
	wantStatus(t, rec, http.StatusSeeOther)
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("login set %d cookies", len(cookies))
	}
	return cookies[0]
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// containForm opens the form in session and returns its CSRF token.
func openContainForm(t *testing.T, h http.Handler, session *http.Cookie) string {
	t.Helper()
	rec := do(t, h, request{method: "GET", path: "/contain", cookie: session})
	wantStatus(t, rec, http.StatusOK)
	m := csrfField.FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatalf("the form has no CSRF token:\n%s", rec.Body)
	}
	return m[1]
}

func containValues(csrf string) url.Values {
	return url.Values{"csrf": {csrf}, "type": {"aws_access_key"}, "id": {"AKIAIOSFODNN7EXAMPLE"},
		"account": {"123456789012"}, "runbook": {"aws-access-key-exposed"}, "reason": {"seen on a paste site"}}
}

func TestContainForm(t *testing.T) {
	c := &fakeContainer{}
	h := newUI(t, newFake(containedIncident()), withContain(c))
	session := login(t, h, operatorToken)

	rec := do(t, h, request{method: "GET", path: "/", cookie: session})
	wantStatus(t, rec, http.StatusOK)
	wantContains(t, rec.Body.String(), `<a href="/contain">Contain</a>`)

	csrf := openContainForm(t, h, session)
	rec = do(t, h, request{method: "POST", path: "/contain", cookie: session, form: containValues(csrf),
		header: map[string]string{"Origin": "http://example.com"}})
	wantStatus(t, rec, http.StatusAccepted)
	id := sever.IncidentID(sever.Credential{Provider: "aws", Type: sever.CredAWSAccessKey, ID: "AKIAIOSFODNN7EXAMPLE"})
	wantContains(t, rec.Body.String(), "Containment requested", `href="/incidents/`+id+`"`)
	if len(c.calls) != 1 {
		t.Fatalf("%d Contain calls", len(c.calls))
	}
	got := c.calls[0]
	if got.Operator != "oscar" || got.Reporter != "U0OSCAR" || got.Channel != httpapi.ContainChannelWeb ||
		got.Runbook != "aws-access-key-exposed" || got.Reason != "seen on a paste site" || got.Credential.Account != "123456789012" {
		t.Errorf("request = %+v", got)
	}
}

func TestContainFormRefuses(t *testing.T) {
	const secretKey = "sk-ant-api03-Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0"
	c := &fakeContainer{}
	h := newUI(t, newFake(containedIncident()), withContain(c))
	oscar := login(t, h, operatorToken)
	csrf := openContainForm(t, h, oscar)
	reader := login(t, h, readerToken)
	// A second sign-in of the same operator is another session with its own token.
	other := &http.Cookie{Name: webui.SessionCookie}
	{
		h2 := newUI(t, newFake(containedIncident()), withContain(c), func(o *webui.Options) {
			o.Now = func() time.Time { return at(7300) }
		})
		other = login(t, h2, operatorToken)
	}
	with := func(mut func(v url.Values)) url.Values {
		v := containValues(csrf)
		mut(v)
		return v
	}
	tests := []struct {
		name     string
		req      request
		want     int
		wantText string
	}{
		{name: "no CSRF token", req: request{method: "POST", path: "/contain", cookie: oscar,
			form: with(func(v url.Values) { v.Del("csrf") })}, want: 403, wantText: "expired or was not posted from this site"},
		{name: "wrong CSRF token", req: request{method: "POST", path: "/contain", cookie: oscar,
			form: with(func(v url.Values) { v.Set("csrf", strings.Repeat("A", 43)) })}, want: 403},
		{name: "CSRF token of another session", req: request{method: "POST", path: "/contain", cookie: other,
			form: containValues(csrf)}, want: 403},
		{name: "cross-site origin", req: request{method: "POST", path: "/contain", cookie: oscar, form: containValues(csrf),
			header: map[string]string{"Origin": "https://evil.example"}}, want: 403, wantText: "another site"},
		{name: "no session", req: request{method: "POST", path: "/contain", form: containValues(csrf)}, want: 303},
		{name: "bearer token instead of a session", req: request{method: "POST", path: "/contain", form: containValues(csrf),
			header: map[string]string{"Authorization": "Bearer " + operatorToken}}, want: 403, wantText: "incidents:write"},
		{name: "token without incidents:write", req: request{method: "POST", path: "/contain", cookie: reader,
			form: containValues(csrf)}, want: 403, wantText: "incidents:write"},
		{name: "form for a token without incidents:write", req: request{method: "GET", path: "/contain", cookie: reader}, want: 403},
		{name: "reason missing", req: request{method: "POST", path: "/contain", cookie: oscar,
			form: with(func(v url.Values) { v.Set("reason", " ") })}, want: 400, wantText: "reason is required"},
		{name: "unknown type", req: request{method: "POST", path: "/contain", cookie: oscar,
			form: with(func(v url.Values) { v.Set("type", "ssh_key") })}, want: 400, wantText: "unknown credential type"},
		{name: "secret as the id", req: request{method: "POST", path: "/contain", cookie: oscar,
			form: with(func(v url.Values) { v.Set("type", "anthropic_api_key"); v.Set("id", secretKey) })}, want: 400, wantText: "never accepts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, h, tc.req)
			wantStatus(t, rec, tc.want)
			if tc.wantText != "" {
				wantContains(t, rec.Body.String(), tc.wantText)
			}
			if strings.Contains(rec.Body.String(), secretKey) {
				t.Error("the page shows the secret")
			}
		})
	}
	if len(c.calls) != 0 {
		t.Errorf("refused forms reached the engine: %+v", c.calls)
	}
	// A reader sees no Contain link.
	rec := do(t, h, request{method: "GET", path: "/", cookie: reader})
	if strings.Contains(rec.Body.String(), `href="/contain"`) {
		t.Error("a reader is offered the Contain form")
	}
}

func TestContainFormShowsEngineRefusal(t *testing.T) {
	c := &fakeContainer{fail: sever.Errorf(sever.EUNPROCESSABLE, "runbook",
		`runbook "github-token-exposed" does not exist or does not contain a aws_access_key; runbooks that do: aws-access-key-exposed`)}
	h := newUI(t, newFake(containedIncident()), withContain(c))
	oscar := login(t, h, operatorToken)
	v := containValues(openContainForm(t, h, oscar))
	v.Set("runbook", "github-token-exposed")
	rec := do(t, h, request{method: "POST", path: "/contain", cookie: oscar, form: v})
	wantStatus(t, rec, http.StatusUnprocessableEntity)
	wantContains(t, rec.Body.String(), "runbooks that do: aws-access-key-exposed", `value="AKIAIOSFODNN7EXAMPLE"`)
}

// The public dev UI has no sign-in, so no one to record as the reporter: no form.
func TestContainFormNotOnPublicUI(t *testing.T) {
	h := newUI(t, newFake(containedIncident()), func(o *webui.Options) { o.Contain = &fakeContainer{} })
	for _, m := range []string{"GET", "POST"} {
		rec := do(t, h, request{method: m, path: "/contain", form: url.Values{"reason": {"x"}}})
		wantStatus(t, rec, http.StatusForbidden)
	}
	if strings.Contains(get(t, h, "/").Body.String(), `href="/contain"`) {
		t.Error("the public UI offers the Contain form")
	}
}
