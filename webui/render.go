package webui

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sever-ir/sever"
)

var funcs = template.FuncMap{
	"stamp": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"stampp": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	// The incident page's times carry milliseconds: containment takes about a second.
	"stampms": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05.000Z")
	},
	"stampmsp": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05.000Z")
	},
	"dur": func(d *time.Duration) string {
		if d == nil {
			return "—"
		}
		return seconds(d.Seconds())
	},
	"secs": seconds,
	"secsp": func(f *float64) string {
		if f == nil {
			return "—"
		}
		return seconds(*f)
	},
	"short": func(h string) string {
		if len(h) > 12 {
			return h[:12]
		}
		return h
	},
	"enf": func(e sever.Enforcement) string {
		if e == sever.EnforcementNone {
			return "—"
		}
		return strings.ReplaceAll(string(e), "_", " ")
	},
	"incidentURL": func(id string) string { return "/incidents/" + url.PathEscape(id) },
	"dash": func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	},
}

// seconds writes a duration for people: milliseconds under a minute, then minutes,
// hours and days.
func seconds(s float64) string {
	switch {
	case s < 0:
		return "—"
	case s < 60:
		return fmt.Sprintf("%.3g s", s)
	case s < 3600:
		return fmt.Sprintf("%d m %02d s", int(s)/60, int(s)%60)
	case s < 86400:
		return fmt.Sprintf("%d h %02d m", int(s)/3600, int(s)%3600/60)
	}
	return fmt.Sprintf("%d d %02d h", int(s)/86400, int(s)%86400/3600)
}

// parsePages parses each page with the shared layout into its own set, so every
// page can define "content" without clashing.
func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range []string{"list", "incident", "login", "error", "contain"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(content, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("webui: parse %s page: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render executes a page into a buffer first, so a template error becomes a clean
// 500 rather than half a page.
func (u *ui) render(w http.ResponseWriter, r *http.Request, status int, page string, data map[string]any) {
	v := viewerFrom(r.Context())
	data["Viewer"], data["Session"], data["Public"] = v.name, v.session, u.public
	_, _, data["ContainLink"] = u.canContain(r)
	var buf bytes.Buffer
	if err := u.pages[page].ExecuteTemplate(&buf, "layout", data); err != nil {
		u.log.ErrorContext(r.Context(), "render failed", "op", "webui.render", "page", page, "err", err)
		http.Error(w, "internal error; the server log has the details", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}
