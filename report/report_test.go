package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test ./report -update and review the diff)\n%s", name, firstDiff(got, want))
	}
}

func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return ""
}

func TestGolden(t *testing.T) {
	r, err := fixtureReport()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ format, file string }{
		{"md", "report.md"}, {"json", "report.json"}, {"html", "report.html"}, {"ocsf", "report.ocsf.json"},
	} {
		t.Run(f.format, func(t *testing.T) {
			var buf bytes.Buffer
			if _, err := Render(&buf, r, f.format); err != nil {
				t.Fatal(err)
			}
			golden(t, f.file, buf.Bytes())
		})
	}
}

func TestMarkdownTables(t *testing.T) {
	r, err := fixtureReport()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.Markdown(&buf); err != nil {
		t.Fatal(err)
	}
	checkMarkdownTables(t, buf.String())
}

// What the fixture report must say, whatever its layout: the golden files pin the
// layout, these pin the facts.
func TestFixtureFacts(t *testing.T) {
	r, err := fixtureReport()
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Incident.EnterpriseContainedAt; got == nil || !got.Equal(at(46.8)) {
		t.Errorf("EnterpriseContainedAt = %v, want the end of disable (T+46.8 s)", got)
	}
	d := r.Durations
	for _, c := range []struct {
		name string
		span *Span
		sec  float64
		ref  string
	}{
		{"first action", d.FirstAction, 1.0, "capture"},
		{"approval", d.Approval, 45.0, "disable"},
		{"verified containment", d.VerifiedContainment, 46.8, "disable"},
	} {
		if c.span == nil || c.span.Seconds != c.sec || c.span.Ref != c.ref {
			t.Errorf("%s = %+v, want %.1f s at %s", c.name, c.span, c.sec, c.ref)
		}
	}
	if len(d.ProviderSignals) != 2 {
		t.Fatalf("provider signals = %+v", d.ProviderSignals)
	}
	early, late := d.ProviderSignals[0], d.ProviderSignals[1]
	if early.Late || *early.AfterContainment != -6.8 || *early.ReportingLag != 50 {
		t.Errorf("early provider signal = %+v", early)
	}
	if !late.Late || *late.AfterContainment != 205 ||
		late.Text != "the provider's signal came 205.0 s (3m25s) after the enterprise had contained the token (the provider observed the event 51.8 s before it told us)" {
		t.Errorf("late provider signal = %+v\ntext %q", late, late.Text)
	}
	g := r.Gap
	if !g.EnterpriseContained || refs(g.EnterpriseEnforced, nil) != "capture, disable" ||
		refs(g.VendorEnforced, nil) != "observe-vendor" || refs(g.VendorNotified, nil) != "sig-vendor-2, sig-vendor-3" ||
		refs(g.NotDone, nil) != "notify, escalate" {
		t.Errorf("gap = %+v", g)
	}
	classes := map[sever.Enforcement]int{}
	for _, p := range r.Accountability {
		classes[p.Enforcement]++
	}
	want := map[sever.Enforcement]int{sever.VendorNotified: 2, sever.VendorEnforced: 1, sever.EnterpriseEnforced: 2,
		sever.HumanApproved: 1, sever.EnforcementNone: 2}
	if len(classes) != len(want) {
		t.Errorf("accountability classes = %v, want %v", classes, want)
	}
	for k, v := range want {
		if classes[k] != v {
			t.Errorf("accountability %q rows = %d, want %d", k, classes[k], v)
		}
	}
	if r.TemporalURL != "http://127.0.0.1:8233/namespaces/default/workflows/"+r.Incident.ID {
		t.Errorf("TemporalURL = %q", r.TemporalURL)
	}
	if !r.Frameworks.Available || len(r.Frameworks.Steps) != 5 || r.Frameworks.Incident.OWASPNHI[0].Title != "Secret Leakage" {
		t.Errorf("frameworks = %+v", r.Frameworks)
	}
	if len(r.Notes) != 0 {
		t.Errorf("notes = %q, want none", r.Notes)
	}
}

// Reports leave labels and outputs out and scrub secret-shaped text, in every format.
func TestNoSecretMaterial(t *testing.T) {
	r, err := fixtureReport()
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range Formats {
		var buf bytes.Buffer
		if _, err := Render(&buf, r, format); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for _, bad := range []string{leaked, "sk-ant-api03", "repo:acme/infra", "pasted"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s report contains %q", format, bad)
			}
		}
		if !strings.Contains(out, "redacted") {
			t.Errorf("%s report does not show where text was redacted", format)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"key " + leaked + " end":                         "key [redacted] end",
		"aws wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY x": "aws [redacted] x",
		"sha " + hashOf("x"):                             "sha " + hashOf("x"),
		"id AKIAIOSFODNN7EXAMPLE stays":                  "id AKIAIOSFODNN7EXAMPLE stays",
		"redacted sk-ant-...abcd stays":                  "redacted sk-ant-...abcd stays",
		"ghp_0123456789abcdefghijABCDEFGHIJ0123 token":   "[redacted] token",
		"xoxb-1234567890-abcdefghij":                     "[redacted]",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
	if got := clean("a\nb\x00c"); got != "a b c" {
		t.Errorf("clean = %q", got)
	}
}

func TestRenderFormats(t *testing.T) {
	r, err := fixtureReport()
	if err != nil {
		t.Fatal(err)
	}
	for format, ct := range map[string]string{
		"md": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8",
		"json": "application/json", "ocsf": "application/json",
	} {
		var buf bytes.Buffer
		got, err := Render(&buf, r, format)
		if err != nil || got != ct || buf.Len() == 0 {
			t.Errorf("Render(%s) = %q, %v, %d bytes; want %q", format, got, err, buf.Len(), ct)
		}
	}
	var buf bytes.Buffer
	_, err = Render(&buf, r, "pdf")
	var se *sever.Error
	if !errors.As(err, &se) || se.Code != sever.EINVALID || se.Field != "format" ||
		se.Message != `unknown report format "pdf" (one of md, html, json, ocsf)` {
		t.Errorf("Render(pdf) error = %#v", err)
	}
	if buf.Len() != 0 {
		t.Errorf("Render(pdf) wrote %q", buf.String())
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r, err := fixtureReport()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.JSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&back); err != nil {
		t.Fatal(err)
	}
	if back.Incident.ID != r.Incident.ID || len(back.Accountability) != len(r.Accountability) ||
		back.Gap.Verdict != r.Gap.Verdict || len(back.Timeline) != len(r.Timeline) {
		t.Errorf("round trip lost data: %+v", back.Incident)
	}
}

// The HTML page must stand alone: styles inline, no scripts, nothing loaded from
// elsewhere, and a print stylesheet.
func TestHTMLSelfContained(t *testing.T) {
	r, err := fixtureReport()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.HTML(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, bad := range []string{"<script", "<link", "<img", "@import", "src=", "url(http"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, want := range []string{"<style>", "@media print", "<svg", "human_approved", "enterprise_enforced",
		"A vendor action never counts as containment by itself."} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The only link is the Temporal UI.
	links := regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(links) != 1 || !strings.HasPrefix(links[0][1], "http://127.0.0.1:8233/") {
		t.Errorf("links = %q", links)
	}
}

// Text from the incident cannot inject markup into the HTML page, the SVG, or the
// Markdown tables.
func TestHostileText(t *testing.T) {
	inc := fixtureIncident()
	inc.Steps[3].Error = `<script>alert(1)</script> | broken [link](http://evil.example) `
	inc.Signals[1].Source = `"><svg onload=alert(1)>`
	r, err := Build(inc, Options{Runbook: fixtureRunbook(), Now: fixtureNow})
	if err != nil {
		t.Fatal(err)
	}
	var h, m bytes.Buffer
	if err := r.HTML(&h); err != nil {
		t.Fatal(err)
	}
	if err := r.Markdown(&m); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{h.String(), string(TimelineSVG(r))} {
		if strings.Contains(out, "<script>") || strings.Contains(out, "<svg onload") {
			t.Errorf("markup injected:\n%s", out)
		}
	}
	md := m.String()
	if strings.Contains(md, "<script>") || regexp.MustCompile(`[^\\]\]\(http`).MatchString(md) {
		t.Errorf("markdown injected:\n%s", md)
	}
	checkMarkdownTables(t, md)
}

// checkMarkdownTables fails when a table row has another number of cells than its
// header: text with a | in it must not open a column.
func checkMarkdownTables(t *testing.T, md string) {
	t.Helper()
	cells := func(line string) int { return strings.Count(strings.ReplaceAll(line, `\|`, ""), "|") }
	lines := strings.Split(md, "\n")
	want := 0
	for i, line := range lines {
		switch {
		case !strings.HasPrefix(line, "|"):
			want = 0
		case want == 0 && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "|---"):
			want = cells(line)
		case cells(line) != want:
			t.Errorf("table row has %d separators, header %d: %s", cells(line), want, line)
		}
	}
}

func TestRunbookMismatch(t *testing.T) {
	other := fixtureRunbook()
	other.SHA256 = hashOf("edited later")
	r, err := Build(fixtureIncident(), Options{Runbook: other, Now: fixtureNow})
	if err != nil {
		t.Fatal(err)
	}
	if r.Frameworks.Available || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "is not the one pinned") {
		t.Errorf("frameworks available %t, notes %q", r.Frameworks.Available, r.Notes)
	}
	r, err = Build(fixtureIncident(), Options{Now: fixtureNow})
	if err != nil {
		t.Fatal(err)
	}
	if r.Frameworks.Available || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "was not available") {
		t.Errorf("without runbook: notes %q", r.Notes)
	}
	if _, err := Build(sever.Incident{}, Options{}); err == nil {
		t.Error("Build of an incident without id succeeded")
	}
}

func TestTemporalURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://temporal.example/namespaces/sever/workflows/{id}": "https://temporal.example/namespaces/sever/workflows/inc-1",
		"http://127.0.0.1:8233/wf":                                 "http://127.0.0.1:8233/wf",
		"javascript:alert(1)//{id}":                                "",
		"/relative/{id}":                                           "",
	} {
		r, err := Build(sever.Incident{ID: "inc-1", OpenedAt: t0}, Options{Now: fixtureNow, TemporalUIURL: in})
		if err != nil {
			t.Fatal(err)
		}
		if r.TemporalURL != want {
			t.Errorf("TemporalUIURL %q gave %q, want %q", in, r.TemporalURL, want)
		}
	}
}
