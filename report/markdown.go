package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/sever-ir/sever"
)

// Markdown writes the report as GitHub-flavoured Markdown.
func (r *Report) Markdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	m := &md{w: bw}
	inc := r.Incident

	m.f("# Incident report: %s\n\n", code(inc.ID))
	m.f("| | |\n|---|---|\n")
	status := string(inc.Status)
	if inc.Reason != "" {
		status += " (" + inc.Reason + ")"
	}
	m.row("Status", esc(status))
	if inc.Drill {
		m.row("Drill", "yes: a rehearsal, not a production incident")
	}
	c := inc.Credential
	cred := esc(c.Provider) + " " + code(string(c.Type)) + " " + code(c.ID)
	if c.Principal != "" {
		cred += ", principal " + code(c.Principal)
	}
	if c.Account != "" {
		cred += ", account " + code(c.Account)
	}
	m.row("Credential", cred)
	m.row("Severity", esc(dash(inc.Severity)))
	m.row("Runbook", refMD(inc.Runbook))
	m.row("Policy", refMD(inc.Policy))
	m.row("Opened", stamp(inc.OpenedAt))
	m.row("Contained (enterprise, verified)", stampPtr(inc.EnterpriseContainedAt))
	if inc.ContainmentUndoneAt != nil {
		m.row("Containment undone (false positive)", stampPtr(inc.ContainmentUndoneAt)+": the control is no longer in place")
	}
	if inc.ClosedAt != nil {
		m.row("Closed", stampPtr(inc.ClosedAt))
	}
	m.row("Signals", fmt.Sprintf("%d (%s)", inc.Signals, plural(inc.DuplicateDeliveries, "duplicate delivery", "duplicate deliveries")))
	if r.TemporalURL != "" {
		m.row("Workflow", "[Temporal UI]("+escURL(r.TemporalURL)+")")
	}
	m.row("Report generated", stamp(r.GeneratedAt))

	m.f("\n## Key times\n\nMeasured from the first signal accepted (%s).\n\n", stamp(r.Durations.Start))
	d := r.Durations
	m.f("- Time to first action: %s\n", spanMD(d.FirstAction, "no step executed"))
	m.f("- Time to approval: %s\n", spanMD(d.Approval, "no person approved a step"))
	m.f("- Time to verified containment: %s\n", spanMD(d.VerifiedContainment, "not contained by the enterprise"))
	if len(d.ProviderSignals) == 0 {
		m.f("- Provider signal: none arrived; the enterprise's own detection drove the incident.\n")
	}
	for _, p := range d.ProviderSignals {
		m.f("- Provider signal %s from %s: %s.\n", code(p.SignalID), esc(p.Source), esc(p.Text))
	}

	m.f("\n## Accountability\n\n%s\n\n", accountabilityLead)
	m.f("| When | Control point | Enforcement | Who | Status | Verified | Policy rule | Evidence |\n")
	m.f("|---|---|---|---|---|---|---|---|\n")
	for _, p := range r.Accountability {
		what := esc(p.What)
		if p.Kind != PointSignal {
			what = code(p.Ref) + " " + what
		}
		if p.Containment {
			what += " (containment)"
		}
		if p.Detail != "" {
			what += "<br>" + esc(p.Detail)
		}
		m.f("| %s | %s | %s | %s | %s | %s | %s | %s |\n", stampPtr(p.At), what, enfMD(p.Enforcement),
			esc(dash(p.Who)), esc(p.Status), yesNo(p.Verified), esc(dash(p.PolicyRule)), evidenceMD(p.Evidence))
	}

	if len(r.Refused) > 0 {
		m.f("\n### Refused attempts\n\n%s\n\n", refusedLead)
		m.f("| When | Reason | Who | Step | Channel | What | Why | Count |\n|---|---|---|---|---|---|---|---|\n")
		for _, a := range r.Refused {
			m.f("| %s | %s | %s | %s | %s | %s | %s | %d |\n", stamp(a.At), esc(a.Reason), esc(dash(a.Who)), esc(dash(a.Step)),
				esc(dash(a.Channel)), esc(dash(a.What)), esc(dash(a.Why)), a.Count)
		}
	}
	m.f("\n## Timeline\n\n| T+ | Time | Lane | Event |\n|---|---|---|---|\n")
	for _, e := range r.Timeline {
		text := esc(e.Text)
		if end := endedText(e); end != "" {
			text += " (" + end + ")"
		}
		m.f("| %s | %s | %s | %s |\n", seconds(e.Offset), stamp(e.At), laneMD(e.Lane), text)
	}

	g := r.Gap
	m.f("\n## Enforcement gap\n\n%s\n\nA vendor action never counts as containment by itself.\n\n", esc(g.Verdict))
	m.f("| Vendor-notified | Vendor-enforced (observed) | Enterprise-enforced (verified) | Not done |\n|---|---|---|---|\n")
	cols := [][]GapEntry{g.VendorNotified, g.VendorEnforced, g.EnterpriseEnforced, g.NotDone}
	rows := 0
	for _, col := range cols {
		rows = max(rows, len(col))
	}
	if rows == 0 {
		m.f("| – | – | – | – |\n")
	}
	for i := range rows {
		cells := make([]string, len(cols))
		for j, col := range cols {
			cells[j] = " "
			if i < len(col) {
				cells[j] = gapMD(col[i])
			}
		}
		m.f("| %s |\n", strings.Join(cells, " | "))
	}
	if len(g.Compensations) > 0 {
		m.f("\n### Undone at the false-positive close\n\n%s\n\n", compensationLead)
		for _, e := range g.Compensations {
			m.f("- %s\n", compensationMD(e))
		}
	}

	m.f("\n## Framework mapping\n\n")
	fw := r.Frameworks
	if !fw.Available {
		m.f("Not available: the pinned runbook was not given to the report.\n")
	} else {
		m.f("| Scope | %s | %s | %s | %s |\n|---|---|---|---|---|\n", sever.FrameworkOWASPNHI, sever.FrameworkOWASPAgentic,
			sever.FrameworkMAESTRO, sever.FrameworkNISTAIRMF)
		m.f("| **Incident** (runbook) | %s |\n", tagsMD(fw.Incident))
		for _, st := range fw.Steps {
			name := code(st.Step)
			if st.Name != "" {
				name += " " + esc(st.Name)
			}
			m.f("| %s (%s) | %s |\n", name, esc(st.Status), tagsMD(st.Tags))
		}
	}

	if len(r.Signals) > 0 {
		m.f("\n## Signals\n\n| Received | T+ | Origin | Kind | Source | Severity | Duplicates | Payload SHA-256 |\n|---|---|---|---|---|---|---|---|\n")
		for _, s := range r.Signals {
			m.f("| %s | %s | %s | %s | %s | %s | %d | %s |\n", stamp(s.ReceivedAt), seconds(s.AfterStart), esc(string(s.Origin)),
				esc(string(s.Kind)), esc(s.Source), esc(dash(s.Severity)), s.Duplicates, hashMD(s.PayloadSHA256))
		}
	}

	if len(r.Notes) > 0 {
		m.f("\n## Notes\n\n")
		for _, n := range r.Notes {
			m.f("- %s\n", esc(n))
		}
	}
	if m.err != nil {
		return m.err
	}
	return bw.Flush()
}

// accountabilityLead says what the Verified column means for each kind of row.
const accountabilityLead = "Every control point, who enforced it, and whether it was verified: for a step, a read-back " +
	"showed the control in place; for an approval, the decision was bound to the step's exact arguments; a vendor's " +
	"notice is never verified."

type md struct {
	w   *bufio.Writer
	err error
}

func (m *md) f(format string, args ...any) {
	if m.err == nil {
		_, m.err = fmt.Fprintf(m.w, format, args...)
	}
}

func (m *md) row(k, v string) { m.f("| %s | %s |\n", k, v) }

// mdEscaper makes text safe inside a Markdown table cell: no column breaks, no line
// breaks, no links, and no raw HTML, since many Markdown viewers render it.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, `|`, `\|`, "\n", " ", "\r", " ",
	`<`, `&lt;`, `>`, `&gt;`,
	"`", "\\`", `*`, `\*`, `[`, `\[`, `]`, `\]`,
)

func esc(s string) string { return mdEscaper.Replace(s) }

// code wraps an identifier in a code span, using a fence longer than any run of
// backticks inside it.
func code(s string) string {
	if s == "" {
		return "–"
	}
	s = strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(s)
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		pad = " "
	}
	return fence + pad + s + pad + fence
}

func escURL(u string) string {
	return strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "|", "%7C", "<", "%3C", ">", "%3E").Replace(u)
}

// endedText says when a step ended, if that is not when it started.
func endedText(e Event) string {
	if e.EndOffset == nil || *e.EndOffset == e.Offset {
		return ""
	}
	return "ended " + offsetText(*e.EndOffset)
}

func dash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func refMD(r sever.RunbookRef) string {
	s := code(r.Name) + " " + esc(r.Version)
	if r.SHA256 != "" {
		s += " sha256 " + code(r.SHA256)
	}
	return s
}

func spanMD(s *Span, none string) string {
	if s == nil {
		return none
	}
	out := seconds(s.Seconds) + " (" + stamp(s.At)
	if s.Ref != "" {
		out += ", " + code(s.Ref)
	}
	return out + ")"
}

// enfMD prints an enforcement class as its name: the class is the information, so it
// is never only a colour or a symbol.
func enfMD(e sever.Enforcement) string {
	if e == sever.EnforcementNone {
		return "none"
	}
	return code(string(e))
}

func laneMD(l string) string {
	if l == LaneNone {
		return "–"
	}
	return code(l)
}

func hashMD(h string) string {
	if h == "" {
		return "–"
	}
	return code(h)
}

func evidenceMD(hs []Hash) string {
	if len(hs) == 0 {
		return "–"
	}
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = esc(h.Name) + " " + code(h.SHA256)
	}
	return strings.Join(parts, "<br>")
}

// compensationLead says what the undo list is, since its entries are sever's own
// changes and none of them is a control.
const compensationLead = "The incident was closed as a false positive; sever undid these steps, each through the policy, " +
	"approved by the person who closed it where the policy asks for approval."

func compensationMD(e GapEntry) string {
	s := code(e.Ref) + " " + esc(e.Name)
	if e.Containment {
		s += " (undoes containment)"
	}
	return s + ": " + esc(e.Why)
}

func gapMD(e GapEntry) string {
	s := code(e.Ref) + " " + esc(e.Name)
	if e.Containment {
		s += " (containment)"
	}
	if e.Why != "" {
		s += ": " + esc(e.Why)
	}
	return s
}

func tagsMD(t Tags) string {
	cols := [][]sever.FrameworkTerm{t.OWASPNHI, t.OWASPAgentic, t.MAESTRO, t.NISTAIRMF}
	out := make([]string, len(cols))
	for i, terms := range cols {
		var parts []string
		for _, term := range terms {
			parts = append(parts, esc(termText(term, i == 2)))
		}
		out[i] = dash(strings.Join(parts, "<br>"))
	}
	return strings.Join(out, " | ")
}

// termText prints a framework term as its id and title; MAESTRO layers read "L6
// Security and Compliance", and a term whose title is its id prints once.
func termText(t sever.FrameworkTerm, maestro bool) string {
	id := t.ID
	if maestro {
		id = "L" + id
	}
	if t.Title == "" || t.Title == t.ID {
		return id
	}
	return id + " " + t.Title
}
