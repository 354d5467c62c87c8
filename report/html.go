package report

import (
	_ "embed"
	"html/template"
	"io"
	"slices"

	"github.com/sever-ir/sever"
)

//go:embed report.html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"stamp":       stamp,
	"stampPtr":    stampPtr,
	"seconds":     seconds,
	"offset":      offsetText,
	"dash":        dash,
	"yesNo":       yesNo,
	"short":       shortHash,
	"plural":      plural,
	"ended":       endedText,
	"lead":        func() string { return accountabilityLead },
	"refusedLead": func() string { return refusedLead },
	"timeline":    TimelineSVG,
	// enfClass turns a class into a CSS class name from a fixed set, whatever the
	// incident holds.
	"enfClass": func(e any) string {
		s := ""
		switch v := e.(type) {
		case sever.Enforcement:
			s = string(v)
		case string:
			s = v
		}
		if slices.Contains(Lanes, s) {
			return "enf-" + s
		}
		return "enf-none"
	},
	"enfLabel": func(e any) string {
		s := ""
		switch v := e.(type) {
		case sever.Enforcement:
			s = string(v)
		case string:
			s = v
		}
		if s == "" || s == LaneNone {
			return "none"
		}
		return s
	},
	"term":             func(t sever.FrameworkTerm) string { return termText(t, false) },
	"layer":            func(t sever.FrameworkTerm) string { return termText(t, true) },
	"nhiName":          func() string { return sever.FrameworkOWASPNHI },
	"asiName":          func() string { return sever.FrameworkOWASPAgentic },
	"maeName":          func() string { return sever.FrameworkMAESTRO },
	"rmfName":          func() string { return sever.FrameworkNISTAIRMF },
	"compensationLead": func() string { return compensationLead },
	"gapRows": func(g Gap) [][4]*GapEntry {
		cols := [][]GapEntry{g.VendorNotified, g.VendorEnforced, g.EnterpriseEnforced, g.NotDone}
		n := 0
		for _, c := range cols {
			n = max(n, len(c))
		}
		rows := make([][4]*GapEntry, n)
		for i := range rows {
			for j, c := range cols {
				if i < len(c) {
					rows[i][j] = &c[i]
				}
			}
		}
		return rows
	},
}).Parse(htmlSource))

// HTML writes the report as one self-contained HTML page: inline CSS, the timeline
// as inline SVG, no scripts and nothing fetched from elsewhere, so it can be mailed,
// archived and printed as it is.
func (r *Report) HTML(w io.Writer) error {
	return htmlTemplate.Execute(w, r)
}
