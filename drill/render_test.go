package drill

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./drill/ -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("%s differs at line %d:\n got %q\nwant %q\n(run with -update if the change is intended)", name, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s differs in length: got %d lines, want %d (run with -update if intended)", name, len(gl), len(wl))
	}
}

func TestGolden(t *testing.T) {
	r := fixtureResult()
	for _, tt := range []struct {
		file   string
		render func(*bytes.Buffer) error
	}{
		{"drill.md", func(b *bytes.Buffer) error { return r.Markdown(b) }},
		{"drill.html", func(b *bytes.Buffer) error { return r.HTML(b) }},
		{"drill.json", func(b *bytes.Buffer) error { return r.JSON(b) }},
		{"summary.txt", func(b *bytes.Buffer) error { return r.Summary(b) }},
	} {
		t.Run(tt.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.render(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.file, b.Bytes())
		})
	}
}

// The report says what matters, in words a SOC can check.
func TestMarkdownFacts(t *testing.T) {
	var b bytes.Buffer
	if err := fixtureResult().Markdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"# Drill report: enterprise-first — PASS",
		"| Time to verified containment | 3.000s |",
		"| Attacker calls that succeeded after the first signal | 12 (of 30 attempts in the drill) |",
		"vendor-quarantine vendor\\_enforced (succeeded)",
		"| Containment relied on a vendor | no |",
		"`sever drill run --approvers slack` puts real people in the loop",
		"## Incident `drill-inc-aws-89f2f95392b8fd3d55a4`",
		"- Sources: siem, aws-health",
		"### Incident report: `drill-inc-aws-89f2f95392b8fd3d55a4`", // the incident's own report, demoted
		"#### Accountability",
		"| `contained_within` | ≤ 1m0s | 3.000s | ✓ pass |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	// Every table row has as many cells as its header.
	var cols int
	for i, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			cols = 0
			continue
		}
		n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|")
		if cols == 0 {
			cols = n
		} else if n != cols {
			t.Errorf("line %d has %d cell separators, its table %d: %s", i+1, n, cols, line)
		}
	}
}

func TestHTMLSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := fixtureResult().HTML(&b); err != nil {
		t.Fatal(err)
	}
	h := b.String()
	for _, bad := range []string{"<script", "src=\"http", "href=\"http", "@import"} {
		if strings.Contains(h, bad) {
			t.Errorf("html contains %q", bad)
		}
	}
	for _, want := range []string{"<svg", "class=\"timeline\"", "enf-vendor_enforced", "PASS", "incident drill-inc-aws-89f2f95392b8fd3d55a4"} {
		if !strings.Contains(h, want) {
			t.Errorf("html lacks %q", want)
		}
	}
}

func TestHostileText(t *testing.T) {
	r := fixtureResult()
	r.Scenario.Description = "<script>alert(1)</script> | *bold* `code`\nnew line"
	r.Signals[0].Source = "<img src=x onerror=alert(1)>"
	var md, h bytes.Buffer
	if err := r.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := r.HTML(&h); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(md.String(), "<script>") || strings.Contains(md.String(), "<img") {
		t.Error("markdown passes raw HTML through")
	}
	if strings.Contains(h.String(), "<script>alert") || strings.Contains(h.String(), "<img src=x") {
		t.Error("html passes raw HTML through")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r := fixtureResult()
	var b bytes.Buffer
	if err := r.JSON(&b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadResult(path)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(got)
	first, _ := json.Marshal(r)
	if !bytes.Equal(again, first) {
		t.Error("a result read back from JSON differs from the one written")
	}
	if !reflect.DeepEqual(got.Metrics, r.Metrics) {
		t.Errorf("metrics = %+v, want %+v", got.Metrics, r.Metrics)
	}
	if err := os.WriteFile(path, []byte(`{"incidents": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadResult(path); err == nil || !strings.Contains(err.Error(), "no scenario name") {
		t.Errorf("ReadResult of a foreign JSON = %v", err)
	}
}

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	files, err := WriteFiles(dir, fixtureResult())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	want := []string{"drill-enterprise-first.md", "timeline-drill-inc-aws-89f2f95392b8fd3d55a4.svg",
		"drill-enterprise-first.html", "incident-drill-inc-aws-89f2f95392b8fd3d55a4.html", "drill-enterprise-first.json"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("files = %v, want %v", names, want)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "drill-enterprise-first.md"))
	if !strings.Contains(string(md), "](timeline-drill-inc-aws-89f2f95392b8fd3d55a4.svg)") {
		t.Error("the markdown does not link the timeline SVG written beside it")
	}
	page, _ := os.ReadFile(filepath.Join(dir, "drill-enterprise-first.html"))
	if !strings.Contains(string(page), `href="incident-drill-inc-aws-89f2f95392b8fd3d55a4.html"`) {
		t.Error("the html does not link the incident report written beside it")
	}
	if _, err := WriteFiles(dir, fixtureResult(), "pdf"); err == nil || !strings.Contains(err.Error(), `"pdf"`) {
		t.Errorf("WriteFiles(pdf) = %v", err)
	}
}
