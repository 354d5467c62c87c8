package webui_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/webui"
)

// chromium finds a Chromium or Chrome binary: $SEVER_CHROMIUM, then the usual names.
// Without one the browser test skips, unless SEVER_REQUIRE_BROWSER is set (CI), where
// a missing browser must fail rather than pass silently.
func chromium(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("SEVER_CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("SEVER_REQUIRE_BROWSER") != "" {
		t.Fatal("SEVER_REQUIRE_BROWSER is set but no Chromium was found (install chromium, or set SEVER_CHROMIUM to its path)")
	}
	t.Skip("no Chromium found; install it (apt-get install chromium) or set SEVER_CHROMIUM to run the browser test")
	return ""
}

// TestBrowser drives a real headless Chromium through what a person does: sign in,
// read the incident list, open an incident, read its accountability table,
// timeline and enforcement gap. It checks what is rendered and visible, under the
// UI's real Content-Security-Policy.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	contained, open := containedIncident(), openIncident()
	srv := httptest.NewServer(newUI(t, newFake(contained, open), private, func(o *webui.Options) {
		o.TemporalUIURL, o.Namespace = "http://127.0.0.1:8233", "sever"
	}))
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 1000))
	if os.Geteuid() == 0 {
		// Chromium refuses to start its sandbox as root (containers, CI images).
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancel()
	// The first run starts the browser on a context without a deadline (a deadline
	// there would stop the browser itself); the steps below run under one.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()

	rowSel := chromedp.CSS(`tr.incident[data-id="` + contained.ID + `"]`)
	err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
	)
	if err != nil {
		t.Fatalf("open the UI: %v", err)
	}
	if loginURL := run(t, ctx, chromedp.Location()); !strings.Contains(loginURL, "/login") {
		t.Errorf("an anonymous visit landed on %s, want the login page", loginURL)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#token`), readerToken),
		chromedp.Click(chromedp.CSS(`form.login button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.incidents`)),
	)
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	row := run(t, ctx, chromedp.Text(rowSel))
	for _, want := range []string{"contained", "AKIAIOSFODNN7EXAMPLE", "aws_access_key", "aws-access-key-exposed", "1.4 s"} {
		if !strings.Contains(row, want) {
			t.Errorf("list row %q lacks %q", row, want)
		}
	}
	openRow := run(t, ctx, chromedp.Text(chromedp.CSS(`tr.incident[data-id="`+open.ID+`"]`)))
	if !strings.Contains(openRow, "open") || !strings.HasSuffix(strings.TrimSpace(openRow), "1") {
		t.Errorf("open incident row %q: want status open and 1 open approval", openRow)
	}
	// The stylesheet loaded under the CSP: the status badge has its colour.
	color := run(t, ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".status-contained")).backgroundColor`))
	if color != "rgb(26, 127, 55)" {
		t.Errorf("contained badge background = %q: the stylesheet did not apply", color)
	}

	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`tr.incident[data-id="`+contained.ID+`"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`#accountability`)),
	)
	if err != nil {
		t.Fatalf("open the incident: %v", err)
	}
	page := run(t, ctx, chromedp.Location())
	rows := run(t, ctx, chromedp.Evaluate[[][]string](
		`Array.from(document.querySelectorAll("table.accountability tbody tr")).map(r => Array.from(r.cells).map(c => c.innerText.trim()))`))
	svgBox := run(t, ctx, chromedp.Evaluate[map[string]float64](
		`(() => { const r = document.querySelector("#timeline svg").getBoundingClientRect(); return {width: r.width, height: r.height}; })()`))
	verdict := run(t, ctx, chromedp.Text(chromedp.CSS(`#gap .verdict`)))
	gapCols := run(t, ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#gap .gap-col")).map(c => c.innerText.trim())`))
	temporal := run(t, ctx, chromedp.AttributeValue(chromedp.CSS(`#summary a[href*="namespaces"]`), "href")).Value
	signalRow := run(t, ctx, chromedp.Text(chromedp.CSS(`tr.signal.origin-vendor`)))
	if !strings.HasSuffix(page, "/incidents/"+contained.ID) {
		t.Errorf("the row link led to %s", page)
	}

	// Accountability: the vendor notice, the evidence step, the approval and the
	// verified deactivation, in time order.
	if len(rows) != 4 {
		t.Fatalf("accountability has %d rows, want 4: %q", len(rows), rows)
	}
	for i := 1; i < len(rows); i++ {
		if rows[i][0] < rows[i-1][0] {
			t.Errorf("accountability rows out of time order: %q before %q", rows[i-1][0], rows[i][0])
		}
	}
	find := func(substr string) []string {
		for _, r := range rows {
			if strings.Contains(strings.Join(r, " | "), substr) {
				return r
			}
		}
		t.Errorf("no accountability row with %q in %q", substr, rows)
		return make([]string, 7)
	}
	if r := find("approval deactivate"); r[2] != "human approved" || r[3] != "U012AB3CD" || r[5] != "yes" {
		t.Errorf("approval row = %q, want human approved by U012AB3CD, bound to the arguments", r)
	}
	if r := find("step deactivate\n" + sever.ActionAWSDeactivateKey); r[2] != "enterprise enforced" || r[4] != "succeeded" || r[5] != "yes" ||
		r[6] != "aws-deactivate-approved" {
		t.Errorf("deactivation row = %q, want enterprise enforced, succeeded, verified, with its policy rule", r)
	}
	if r := find("signal sig-aws-health-2"); r[2] != "vendor notified" {
		t.Errorf("vendor notice row = %q, want vendor notified", r)
	}

	// The timeline is drawn and takes real space on the page.
	if svgBox["width"] < 600 || svgBox["height"] < 200 {
		t.Errorf("timeline SVG box = %v, want a visible drawing (at least 600×200)", svgBox)
	}

	if !strings.Contains(verdict, "Contained by the enterprise") {
		t.Errorf("gap verdict = %q", verdict)
	}
	if len(gapCols) != 4 || !strings.Contains(gapCols[0], "aws-health") || !strings.Contains(gapCols[2], "deactivate") ||
		!strings.Contains(gapCols[3], "none") {
		t.Errorf("gap columns = %q, want the vendor notice, the enterprise's deactivation and nothing left undone", gapCols)
	}
	if want := "http://127.0.0.1:8233/namespaces/sever/workflows/" + contained.ID; temporal != want {
		t.Errorf("Temporal link = %q, want %q", temporal, want)
	}
	if !strings.Contains(signalRow, "vendor") || !strings.Contains(signalRow, "late") {
		t.Errorf("vendor signal row = %q, want origin vendor, marked late", signalRow)
	}
}

// run runs one action that returns a value and fails the test on error.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}
