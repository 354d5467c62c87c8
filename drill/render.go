package drill

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/report"
)

// Formats are the formats a drill report is written in.
var Formats = []string{"md", "html", "json"}

// Markdown writes the drill report: verdict, objectives, key figures, attackers,
// responders, signals and faults, then each incident's own report.
func (r *Result) Markdown(w io.Writer) error { return r.markdown(w, false) }

func (r *Result) markdown(w io.Writer, svgFiles bool) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }

	p("# Drill report: %s — %s\n\n", esc(r.Scenario.Name), verdictWord(r.Passed))
	if r.Scenario.Description != "" {
		p("%s\n\n", esc(r.Scenario.Description))
	}
	p("| | |\n|---|---|\n")
	p("| Result | %s |\n", esc(r.verdictText()))
	p("| Scenario | %s |\n", esc(scenarioText(r.Scenario)))
	pol := refText(r.Policy)
	if r.PolicyNote != "" {
		pol += "; " + r.PolicyNote
	}
	p("| Policy | %s |\n", esc(pol))
	p("| Started | %s |\n", stamp(r.StartedAt))
	dur := seconds(r.DurationSeconds)
	if r.TimedOut {
		dur += " (timed out)"
	}
	p("| Duration | %s |\n", dur)
	p("| Incidents | %s |\n", esc(incidentList(r.Incidents)))
	p("| Drill | yes: every signal was marked as a drill, so incidents are drill-inc-… and use the drill ledger |\n")

	p("\n## Objectives\n\n")
	p("| Objective | Target | Measured | Result |\n|---|---|---|---|\n")
	for _, o := range r.Objectives {
		p("| `%s` | %s | %s | %s |\n", o.Name, esc(o.Target), esc(o.Measured), passWord(o.Passed))
	}
	if len(r.Problems) > 0 {
		p("\n**Problems with the drill itself** (each fails it):\n\n")
		for _, pr := range r.Problems {
			p("- %s\n", esc(pr))
		}
	}

	p("\n## Key figures\n\nTimes count from each incident's first signal accepted; with several incidents the slowest counts.\n\n")
	p("| Figure | Value |\n|---|---|\n")
	for _, f := range r.figures() {
		p("| %s | %s |\n", esc(f[0]), esc(f[1]))
	}

	if len(r.Attackers) > 0 {
		p("\n## Attackers\n\n")
		p("| Attacker | Credential | Operations | Calls/s | Attempts | Succeeded | Refused | Errors | Succeeded after first signal | Succeeded after containment |\n")
		p("|---|---|---|---|---|---|---|---|---|---|\n")
		for _, a := range r.Attackers {
			p("| %s | %s | %s | %g | %d | %d | %d | %d | %d | %s |\n", esc(a.Name), code(a.CredentialID), esc(strings.Join(a.Operations, ", ")),
				a.Rate, a.Attempts, a.Successes, a.Denials, a.Errors, a.SuccessesAfterSignal, intOr(a.SuccessesAfterContainment, "not contained"))
		}
	}

	if r.Approvers == ApproversSlack {
		p("\n## People\n\nReal approvers deciding in Slack, every request marked DRILL; a no-show is `approval_expired`.\n\n")
		if len(r.People) == 0 {
			p("None: the policy pre-approved every step, or nobody was asked.\n")
		} else {
			p("| Approver | Incident | Step | Asked T+ | Decided T+ | Time to decide | Outcome |\n|---|---|---|---|---|---|---|\n")
			for _, pd := range r.People {
				p("| %s | %s | %s | %s | %s | %s | %s |\n", code(pd.Approver), code(pd.Incident), code(pd.Step), seconds(pd.AskedAt),
					secondsOr(pd.DecidedAt, "never"), secondsOr(pd.DecisionSeconds, "no-show"), esc(pd.Outcome))
			}
		}
	} else {
		r.responderTable(p)
	}

	p("\n## Signals\n\n| T+ | Source | Origin | Kind | Credential | Deliveries | API answers | Incident |\n|---|---|---|---|---|---|---|---|\n")
	for _, s := range r.Signals {
		when := seconds(s.At)
		if s.After == afterContainment {
			when += " (after containment)"
		}
		if !s.Sent {
			when = "not sent"
		}
		kind := s.Kind
		if s.Quarantine != "" {
			kind += ", quarantine " + s.Quarantine
		}
		p("| %s | %s | %s | %s | %s | %d | %s | %s |\n", esc(when), esc(s.Source), esc(s.Origin), esc(kind), esc(s.Credential),
			s.Deliveries, esc(dash(answerText(s))), esc(dash(strings.Join(s.Incidents, ", "))))
	}

	if len(r.Faults) > 0 {
		p("\n## Faults injected into the drill cloud\n\n| T+ | Fault | Accepted | Calls disturbed |\n|---|---|---|---|\n")
		for _, f := range r.Faults {
			ok := "yes"
			if f.Error != "" {
				ok = "no: " + f.Error
			}
			p("| %s | %s | %s | %d |\n", seconds(f.At), esc(faultText(f)), esc(ok), f.Fired)
		}
	}

	for _, ir := range r.Incidents {
		p("\n## Incident %s\n\n", code(ir.ID))
		p("- Credential %s (%s), detected by %s; status %s%s\n", esc(ir.Credential), code(ir.CredentialID),
			esc(dash(string(ir.DetectedBy))), esc(string(ir.Status)), esc(reasonText(ir.Reason)))
		p("- Sources: %s\n", esc(strings.Join(ir.Sources, ", ")))
		p("- %d signals, %d duplicate deliveries\n", ir.Signals, ir.Duplicates)
		p("- Relied on a vendor: %s\n", yesNo(ir.ReliedOnVendor))
		if l := ir.Ledger; l != nil {
			p("- Drill ledger: %d entries, hash chain %s%s\n", l.Entries, map[bool]string{true: "verified", false: "NOT verified"}[l.Verified],
				esc(reasonText(l.Problem)))
		}
		if svgFiles {
			p("\n![Timeline of %s](%s)\n", esc(ir.ID), timelineFile(ir.ID))
		}
		if ir.Report != nil {
			var b bytes.Buffer
			if err := ir.Report.Markdown(&b); err != nil {
				return fmt.Errorf("markdown report of %s: %w", ir.ID, err)
			}
			p("\n%s", demote(b.String()))
		}
	}
	return bw.Flush()
}

var headingRE = regexp.MustCompile(`(?m)^(#+) `)

// demote pushes an incident report's headings two levels down, under its section.
func demote(md string) string { return headingRE.ReplaceAllString(md, "##$1 ") }

func (r *Result) verdictText() string {
	failed := 0
	for _, o := range r.Objectives {
		if !o.Passed {
			failed++
		}
	}
	s := verdictWord(r.Passed) + ": "
	switch {
	case r.Passed:
		s += fmt.Sprintf("all %d objectives met", len(r.Objectives))
	case failed > 0:
		s += fmt.Sprintf("%d of %d objectives missed", failed, len(r.Objectives))
	default:
		s += "every objective met, but the drill itself had problems"
	}
	if len(r.Problems) > 0 && failed > 0 {
		s += fmt.Sprintf("; %d problems with the drill itself", len(r.Problems))
	}
	return s
}

// figures are the key figures as label and value.
func (r *Result) figures() [][2]string {
	m := r.Metrics
	vendor := "none"
	if len(m.VendorSteps) > 0 {
		var parts []string
		for _, s := range m.VendorSteps {
			t := s.Step + " " + string(s.Enforcement) + " (" + s.Status
			if s.Containment {
				t += ", containment"
			}
			parts = append(parts, t+")")
		}
		vendor = strings.Join(parts, ", ")
	}
	var provider []string
	for _, ir := range r.Incidents {
		if ir.Report == nil {
			continue
		}
		for _, p := range ir.Report.Durations.ProviderSignals {
			t := fmt.Sprintf("%s %s at %s", p.Source, p.Kind, seconds(p.AfterStart))
			switch {
			case p.AfterContainment == nil:
				t += ", the key not contained"
			case p.Late:
				t += ", late: " + seconds(*p.AfterContainment) + " after containment"
			default:
				t += ", " + seconds(-*p.AfterContainment) + " before containment"
			}
			if p.ReportingLag != nil && *p.ReportingLag >= 1 {
				t += ", observed " + seconds(*p.ReportingLag) + " before it was sent"
			}
			provider = append(provider, t)
		}
	}
	if len(provider) == 0 {
		provider = []string{"none: the enterprise's own detection drove every incident"}
	}
	expired := "none"
	if len(m.ExpiredApprovals) > 0 {
		expired = stepRefs(m.ExpiredApprovals, "none")
	}
	return [][2]string{
		{"Time to first action", secondsOr(m.TimeToFirstAction, "no step ran")},
		{"Time to approval", secondsOr(m.TimeToApproval, "no person approved a step")},
		{"Time to verified containment", secondsOr(m.TimeToVerifiedContainment, "not contained by the enterprise")},
		{"Attacker calls that succeeded after the first signal", fmt.Sprintf("%d (of %d attempts in the drill)", m.AttackerSuccessesAfterSignal, m.AttackerAttempts)},
		{"Attacker calls that succeeded after verified containment", intOr(m.AttackerSuccessesAfterContainment, "not contained")},
		{"Provider signals", strings.Join(provider, "; ")},
		{"Approvals expired", expired},
		{"Steps enforced or reported by a vendor", vendor},
		{"Containment relied on a vendor", yesNo(m.ReliedOnVendor)},
		{"Signal deliveries", fmt.Sprintf("%d: %d signals and %d duplicates recorded", m.Deliveries, m.SignalsRecorded, m.DuplicatesRecorded)},
	}
}

// responderTable writes the simulated responders' section.
func (r *Result) responderTable(p func(string, ...any)) {
	p("\n## Responders\n\nSimulated approvers (channel `drill`); `sever drill run --approvers slack` puts real people in the loop.\n\n")
	if len(r.Responders) == 0 {
		p("None: the policy pre-approved every step, or nobody was asked.\n")
		return
	}
	p("| Responder | Groups | Asked | Approved | Denied | Missed | Late | Decisions |\n|---|---|---|---|---|---|---|---|\n")
	for _, rr := range r.Responders {
		p("| %s | %s | %d | %d | %d | %d | %d | %s |\n", code(rr.Approver), esc(dash(strings.Join(rr.Groups, ", "))),
			rr.Asked, rr.Approved, rr.Denied, rr.Missed, rr.Late, esc(decisionsText(rr.Decisions)))
	}
}

// Summary writes the verdict, the objectives and the key figures as plain text, for
// a terminal.
func (r *Result) Summary(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "\nDrill %s: %s\n", r.Scenario.Name, r.verdictText())
	for _, o := range r.Objectives {
		mark := "✓"
		if !o.Passed {
			mark = "✗"
		}
		fmt.Fprintf(bw, "  %s %-36s %s  (target %s)\n", mark, o.Name, o.Measured, o.Target)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(bw, "  ✗ problem: %s\n", p)
	}
	fmt.Fprintln(bw)
	for _, f := range r.figures() {
		fmt.Fprintf(bw, "  %-58s %s\n", f[0], f[1])
	}
	for _, pd := range r.People {
		fmt.Fprintf(bw, "  person %-20s %s/%s: %s after %s\n", pd.Approver, pd.Incident, pd.Step, pd.Outcome,
			secondsOr(pd.DecisionSeconds, "no answer"))
	}
	return bw.Flush()
}

// HTML writes the drill report as one self-contained page: the incidents' timelines
// are inline SVG; nothing is fetched from elsewhere.
func (r *Result) HTML(w io.Writer) error { return r.html(w, false) }

func (r *Result) html(w io.Writer, links bool) error {
	return htmlTemplate.Execute(w, struct {
		*Result
		Links bool
	}{r, links})
}

//go:embed report.html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("drill").Funcs(template.FuncMap{
	"verdict":  verdictWord,
	"pass":     passWord,
	"seconds":  seconds,
	"secondsP": func(v *float64, none string) string { return secondsOr(v, none) },
	"intP":     intOr,
	"stamp":    stamp,
	"ref":      refText,
	"scenario": scenarioText,
	"yesNo":    yesNo,
	"dash":     dash,
	"join":     strings.Join,
	"answers":  answerText,
	"fault":    faultText,
	"reason":   reasonText,
	"timeline": report.TimelineSVG,
	"file":     reportFile,
	"enfClass": func(e sever.Enforcement) string {
		if slices.Contains(report.Lanes, string(e)) {
			return "enf-" + string(e)
		}
		return "enf-none"
	},
	"decisions": decisionsText,
	"figures":   func(r *Result) [][2]string { return r.figures() },
	"afterCont": func(s string) bool { return s == afterContainment },
	"trend":     trendText,
	"chart":     TrendSVG,
}).Parse(htmlSource))

// WriteFiles writes the drill report into dir in the given formats (all of Formats
// when none is given): drill-NAME.md with one timeline-ID.svg per incident,
// drill-NAME.html linking each incident's full report incident-ID.html, and
// drill-NAME.json. It returns the files written.
func WriteFiles(dir string, r *Result, formats ...string) ([]string, error) {
	if len(formats) == 0 {
		formats = Formats
	}
	for _, f := range formats {
		if !slices.Contains(Formats, f) {
			return nil, fmt.Errorf("drill report format %q: want one of %s", f, strings.Join(Formats, ", "))
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("drill report: %w", err)
	}
	var written []string
	write := func(name string, render func(io.Writer) error) error {
		var b bytes.Buffer
		if err := render(&b); err != nil {
			return fmt.Errorf("drill report %s: %w", name, err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("drill report: %w", err)
		}
		written = append(written, path)
		return nil
	}
	base := "drill-" + r.Scenario.Name
	for _, f := range formats {
		var err error
		switch f {
		case "md":
			err = write(base+".md", func(w io.Writer) error { return r.markdown(w, true) })
			for _, ir := range r.Incidents {
				if err == nil && ir.Report != nil {
					err = write(timelineFile(ir.ID), func(w io.Writer) error {
						_, err := io.WriteString(w, string(report.TimelineSVG(ir.Report)))
						return err
					})
				}
			}
		case "html":
			err = write(base+".html", func(w io.Writer) error { return r.html(w, true) })
			for _, ir := range r.Incidents {
				if err == nil && ir.Report != nil {
					err = write(reportFile(ir.ID), ir.Report.HTML)
				}
			}
		case "json":
			err = write(base+".json", r.JSON)
		}
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

var unsafeFileRE = regexp.MustCompile(`[^A-Za-z0-9._-]`)

func timelineFile(id string) string {
	return "timeline-" + unsafeFileRE.ReplaceAllString(id, "_") + ".svg"
}
func reportFile(id string) string {
	return "incident-" + unsafeFileRE.ReplaceAllString(id, "_") + ".html"
}

func verdictWord(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func passWord(ok bool) string {
	if ok {
		return "✓ pass"
	}
	return "✗ FAIL"
}

func scenarioText(s ScenarioRef) string {
	t := s.Name
	if s.File != "" {
		t += " from " + s.File
	}
	if s.SHA256 != "" {
		t += ", sha256 " + short(s.SHA256)
	}
	return t + fmt.Sprintf(", seed %d", s.Seed)
}

func refText(r sever.RunbookRef) string {
	s := r.Name + "@" + r.Version
	if r.SHA256 != "" {
		s += " sha256 " + short(r.SHA256)
	}
	return s
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func incidentList(incs []IncidentResult) string {
	if len(incs) == 0 {
		return "none opened"
	}
	parts := make([]string, len(incs))
	for i, ir := range incs {
		parts[i] = ir.ID + " (" + string(ir.Status) + ")"
	}
	return strings.Join(parts, ", ")
}

func decisionsText(ds []ResponderDecision) string {
	if len(ds) == 0 {
		return "–"
	}
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprintf("%s %s at T+%s", d.Step, d.Outcome, seconds(d.At))
	}
	return strings.Join(parts, "; ")
}

func reasonText(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func intOr(p *int, none string) string {
	if p == nil {
		return none
	}
	return fmt.Sprint(*p)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "–"
	}
	return s
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000Z")
}

var mdEscaper = strings.NewReplacer(`\`, `\\`, "|", `\|`, "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`, "`", "'", "\n", " ", "\r", " ")

// esc keeps text from breaking a table row or turning into markup.
func esc(s string) string { return mdEscaper.Replace(s) }

func code(s string) string { return "`" + strings.ReplaceAll(s, "`", "'") + "`" }
