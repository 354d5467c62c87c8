package webui

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/service"
)

// Container contains a credential for an operator the UI has authenticated;
// *httpapi.Server implements it with the API's checks and admission control.
type Container interface {
	Contain(ctx context.Context, r httpapi.ContainRequest) (service.SubmitResult, error)
}

// runbookLister is a Runbooks that can list its runbooks (*runbooks.Library), for
// the form's choice of runbook.
type runbookLister interface {
	List() []*sever.Runbook
}

// maxContainBody bounds the contain form: a few short fields and a reason.
const maxContainBody = 16 << 10

// containForm is what the operator typed, shown again after a refusal.
type containForm struct {
	Type, ID, Provider, Account, Principal, Runbook, Reason string
}

// canContain says whether the request's viewer may use the contain form: signed in
// with a session (a bearer request has no CSRF token to show) whose token carries
// incidents:write. It returns the token's approval identity.
func (u *ui) canContain(r *http.Request) (name, approver string, ok bool) {
	if u.contain == nil || u.public || u.tokens == nil {
		return "", "", false
	}
	v := viewerFrom(r.Context())
	if !v.session || v.name == "" {
		return "", "", false
	}
	approver, ok = u.tokens.Identity(v.name, httpapi.ScopeIncidentsWrite)
	return v.name, approver, ok
}

// csrfToken binds a form to the session it was shown in: an HMAC of the session
// cookie under a key derived from the token (and only while it carries
// incidents:write). Another site can make the browser post, but cannot read the
// page to learn the token; a new login or a rotated token invalidates it.
func (u *ui) csrfToken(r *http.Request, name string) (string, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return "", false
	}
	key, ok := u.tokens.SessionKey(name, httpapi.ScopeIncidentsWrite)
	if !ok {
		return "", false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("sever webui csrf v1\x00" + c.Value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)), true
}

func (u *ui) containPage(w http.ResponseWriter, r *http.Request) {
	name, _, ok := u.canContain(r)
	if !ok {
		u.errorPage(w, r, http.StatusForbidden, containRefusal(u))
		return
	}
	u.renderContain(w, r, http.StatusOK, name, containForm{Type: string(sever.CredAWSAccessKey)}, "", nil)
}

func containRefusal(u *ui) string {
	if u.public {
		return "The local dev UI has no sign-in, so it cannot contain: use `sever contain` or POST /v1/incidents."
	}
	return "Containing needs a sign-in with a token that has the incidents:write scope."
}

func (u *ui) containPost(w http.ResponseWriter, r *http.Request) {
	name, approver, ok := u.canContain(r)
	if !ok {
		u.errorPage(w, r, http.StatusForbidden, containRefusal(u))
		return
	}
	// Origin first (browsers send it on every POST), then the form's token, which a
	// cross-site form cannot carry.
	if origin := r.Header.Get("Origin"); origin != "" && !sameOrigin(origin, r) {
		u.errorPage(w, r, http.StatusForbidden, "The contain form was posted from another site.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxContainBody)
	if err := r.ParseForm(); err != nil {
		u.errorPage(w, r, http.StatusBadRequest, "The contain form could not be read.")
		return
	}
	want, ok := u.csrfToken(r, name)
	if got := r.PostForm.Get("csrf"); !ok || got == "" || !hmac.Equal([]byte(got), []byte(want)) {
		u.log.WarnContext(r.Context(), "contain form without a valid CSRF token", "op", "webui.containPost", "principal", name)
		u.errorPage(w, r, http.StatusForbidden, "The contain form has expired or was not posted from this site; reload it and try again.")
		return
	}
	f := containForm{}
	for _, p := range []struct {
		dst *string
		key string
	}{{&f.Type, "type"}, {&f.ID, "id"}, {&f.Provider, "provider"}, {&f.Account, "account"},
		{&f.Principal, "principal"}, {&f.Runbook, "runbook"}, {&f.Reason, "reason"}} {
		*p.dst = strings.TrimSpace(r.PostForm.Get(p.key))
	}
	req := httpapi.ContainRequest{
		Credential: sever.Credential{Type: sever.CredentialType(f.Type), ID: f.ID, Provider: f.Provider,
			Account: f.Account, Principal: f.Principal},
		Runbook: f.Runbook, Reason: f.Reason, Operator: name, Reporter: approver, Channel: httpapi.ContainChannelWeb,
	}
	res, err := u.contain.Contain(r.Context(), req)
	if err != nil {
		status, msg := containError(err)
		if status >= 500 {
			u.log.ErrorContext(r.Context(), "contain failed", "op", "webui.containPost", "principal", name, "err", err)
		}
		if strings.Contains(msg, "secret") {
			f.ID, f.Reason = "", "" // never put a refused secret back into the page
		}
		u.renderContain(w, r, status, name, f, msg, nil)
		return
	}
	u.log.InfoContext(r.Context(), "containment requested", "op", "webui.containPost", "principal", name,
		"incident_id", res.IncidentID, "status", res.Status)
	u.renderContain(w, r, http.StatusAccepted, name, containForm{Type: f.Type}, "", &res)
}

// containError maps a refusal to a status and a message safe to show.
func containError(err error) (int, string) {
	var le *httpapi.LimitError
	if errors.As(err, &le) {
		return http.StatusTooManyRequests, le.Err.Message
	}
	var se *sever.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sever.EINVALID:
			return http.StatusBadRequest, se.Message
		case httpapi.EFORBIDDEN:
			return http.StatusForbidden, se.Message
		case sever.EUNPROCESSABLE:
			return http.StatusUnprocessableEntity, se.Message
		case sever.ECONFLICT:
			return http.StatusConflict, se.Message
		case sever.EUNAVAILABLE:
			return http.StatusServiceUnavailable, se.Message
		}
	}
	return http.StatusInternalServerError, "Internal error; the server log has the details."
}

func (u *ui) renderContain(w http.ResponseWriter, r *http.Request, status int, name string, f containForm, msg string, res *service.SubmitResult) {
	csrf, _ := u.csrfToken(r, name)
	var names []string
	if l, ok := u.runbooks.(runbookLister); ok {
		for _, rb := range l.List() {
			names = append(names, rb.Name)
		}
	}
	data := map[string]any{"Title": "Contain", "CSRF": csrf, "Types": sever.CredentialTypes, "Runbooks": names,
		"Form": f, "Error": msg}
	if res != nil {
		data["Result"] = res
	}
	u.render(w, r, status, "contain", data)
}
