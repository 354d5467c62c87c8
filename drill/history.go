package drill

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sever-ir/sever/ledger"
)

// Drill history: every drill result is appended to the ledger as one entry on a
// chain of its own per scenario (incident HistoryPrefix+NAME), so the record of how
// fast the team contains a key lives where every other accountable fact lives,
// hash-chained, on whatever backend the ledger runs. Only the public ledger API is
// used: Append, Entries and Incidents.

// HistoryPrefix starts the ledger chain of a scenario's drill results.
const HistoryPrefix = "drill-history/"

// historyActor is who records drill results in the ledger.
const historyActor = "sever-drill"

// HistoryLedger is what the history needs of a ledger; *ledger.Store is one, on
// SQLite or PostgreSQL.
type HistoryLedger interface {
	Append(ctx context.Context, e ledger.Entry) (ledger.Entry, bool, error)
	Entries(ctx context.Context, incident string) ([]ledger.Entry, error)
	Incidents(ctx context.Context) ([]string, error)
}

// Detail keys of a drill result entry.
const (
	hScenario, hSHA, hPolicy, hApprovers = "scenario", "scenario_sha256", "policy", "approvers"
	hPassed, hStarted, hDuration         = "passed", "started_at", "duration_s"
	hFirst, hApproval, hContained        = "time_to_first_action_s", "time_to_approval_s", "time_to_verified_containment_s"
	hIncidents, hAfterSignal, hExpired   = "incidents", "attacker_successes_after_signal", "expired_approvals"
)

// Record appends a drill result to its scenario's history chain and returns the
// entry. Recording the same result again (same scenario and start time) writes
// nothing: the ledger keys the entry by them.
func Record(ctx context.Context, l HistoryLedger, res *Result) (ledger.Entry, error) {
	if res == nil || res.Scenario.Name == "" {
		return ledger.Entry{}, fmt.Errorf("record drill result: no scenario name")
	}
	f := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', -1, 64)
	}
	verdict := "failed"
	if res.Passed {
		verdict = "passed"
	}
	policy := ""
	if res.Policy.Name != "" {
		policy = refText(res.Policy)
	}
	d := map[string]string{
		hScenario: res.Scenario.Name, hSHA: res.Scenario.SHA256, hPolicy: policy,
		hApprovers: cmp.Or(res.Approvers, ApproversSimulated), hPassed: strconv.FormatBool(res.Passed),
		hStarted: res.StartedAt.UTC().Format(time.RFC3339Nano), hDuration: strconv.FormatFloat(res.DurationSeconds, 'f', -1, 64),
		hFirst: f(res.Metrics.TimeToFirstAction), hApproval: f(res.Metrics.TimeToApproval),
		hContained: f(res.Metrics.TimeToVerifiedContainment), hIncidents: strconv.Itoa(res.Metrics.Incidents),
		hAfterSignal: strconv.Itoa(res.Metrics.AttackerSuccessesAfterSignal), hExpired: strconv.Itoa(len(res.Metrics.ExpiredApprovals)),
	}
	for k, v := range d {
		if v == "" {
			delete(d, k)
		}
	}
	e, _, err := l.Append(ctx, ledger.Entry{
		Incident: HistoryPrefix + res.Scenario.Name, At: res.EndedAt, Kind: ledger.KindIncidentStatus, Actor: historyActor,
		Key:    "drill-result/" + res.StartedAt.UTC().Format(time.RFC3339Nano),
		Result: fmt.Sprintf("drill %s %s; verified containment %s", res.Scenario.Name, verdict, secondsOr(res.Metrics.TimeToVerifiedContainment, "never")),
		Detail: d,
	})
	if err != nil {
		return ledger.Entry{}, fmt.Errorf("record drill result of %s in the ledger: %w", res.Scenario.Name, err)
	}
	return e, nil
}

// HistoryRun is one recorded drill result.
type HistoryRun struct {
	Seq            int64     `json:"seq"`
	At             time.Time `json:"at"`
	StartedAt      time.Time `json:"started_at"`
	Passed         bool      `json:"passed"`
	ScenarioSHA256 string    `json:"scenario_sha256,omitempty"`
	Policy         string    `json:"policy,omitempty"`
	Approvers      string    `json:"approvers,omitempty"`
	// Times are seconds from each incident's first signal, the slowest incident's;
	// nil when the moment never came.
	FirstAction                  *float64 `json:"time_to_first_action_s"`
	Approval                     *float64 `json:"time_to_approval_s"`
	VerifiedContainment          *float64 `json:"time_to_verified_containment_s"`
	Incidents                    int      `json:"incidents"`
	AttackerSuccessesAfterSignal int      `json:"attacker_successes_after_signal"`
	ExpiredApprovals             int      `json:"expired_approvals"`
	Hash                         string   `json:"hash"`
}

// ScenarioHistory is every recorded run of one scenario, oldest first.
type ScenarioHistory struct {
	Scenario string       `json:"scenario"`
	Runs     []HistoryRun `json:"runs"`
}

// ReadHistory reads the recorded runs of scenario, or of every scenario when it is
// "", sorted by scenario name.
func ReadHistory(ctx context.Context, l HistoryLedger, scenario string) ([]ScenarioHistory, error) {
	var chains []string
	if scenario != "" {
		chains = []string{HistoryPrefix + scenario}
	} else {
		all, err := l.Incidents(ctx)
		if err != nil {
			return nil, fmt.Errorf("drill history: list ledger chains: %w", err)
		}
		for _, id := range all {
			if strings.HasPrefix(id, HistoryPrefix) {
				chains = append(chains, id)
			}
		}
		slices.Sort(chains)
	}
	out := []ScenarioHistory{}
	for _, chain := range chains {
		entries, err := l.Entries(ctx, chain)
		if err != nil {
			return nil, fmt.Errorf("drill history: read %s: %w", chain, err)
		}
		h := ScenarioHistory{Scenario: strings.TrimPrefix(chain, HistoryPrefix), Runs: []HistoryRun{}}
		for _, e := range entries {
			if e.Kind != ledger.KindIncidentStatus || e.Actor != historyActor {
				continue
			}
			h.Runs = append(h.Runs, runOf(e))
		}
		if len(h.Runs) > 0 || scenario != "" {
			out = append(out, h)
		}
	}
	return out, nil
}

func runOf(e ledger.Entry) HistoryRun {
	d := e.Detail
	num := func(k string) *float64 {
		v, err := strconv.ParseFloat(d[k], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	integer := func(k string) int { n, _ := strconv.Atoi(d[k]); return n }
	started, _ := time.Parse(time.RFC3339Nano, d[hStarted])
	passed, _ := strconv.ParseBool(d[hPassed])
	return HistoryRun{Seq: e.Seq, At: e.At, StartedAt: started, Passed: passed, ScenarioSHA256: d[hSHA], Policy: d[hPolicy],
		Approvers: d[hApprovers], FirstAction: num(hFirst), Approval: num(hApproval), VerifiedContainment: num(hContained),
		Incidents: integer(hIncidents), AttackerSuccessesAfterSignal: integer(hAfterSignal), ExpiredApprovals: integer(hExpired),
		Hash: e.Hash}
}

// HistoryTable writes the runs of each scenario as a table, with the trend of time
// to verified containment from the first run to the last.
func HistoryTable(w io.Writer, hs []ScenarioHistory) error {
	bw := bufio.NewWriter(w)
	if len(hs) == 0 {
		fmt.Fprintln(bw, "no drill results recorded yet: sever drill run NAME records each result")
		return bw.Flush()
	}
	tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tRUN\tENDED\tRESULT\tFIRST ACTION\tAPPROVAL\tVERIFIED CONTAINMENT\tAPPROVERS\tPOLICY")
	for _, h := range hs {
		for i, r := range h.Runs {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Scenario, i+1, r.At.UTC().Format(time.RFC3339),
				passWord(r.Passed), secondsOr(r.FirstAction, "-"), secondsOr(r.Approval, "-"), secondsOr(r.VerifiedContainment, "never"),
				dash(r.Approvers), dash(r.Policy))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(bw)
	for _, h := range hs {
		fmt.Fprintf(bw, "%s: %s\n", h.Scenario, trendText(h.Runs))
	}
	return bw.Flush()
}

// trendText compares the last run with the first, per measure.
func trendText(runs []HistoryRun) string {
	if len(runs) < 2 {
		return fmt.Sprintf("%d run; a trend needs two", len(runs))
	}
	first, last := runs[0], runs[len(runs)-1]
	var parts []string
	for _, m := range []struct {
		name   string
		before *float64
		after  *float64
	}{
		{"first action", first.FirstAction, last.FirstAction},
		{"approval", first.Approval, last.Approval},
		{"verified containment", first.VerifiedContainment, last.VerifiedContainment},
	} {
		switch {
		case m.before == nil && m.after == nil:
			continue
		case m.before == nil || m.after == nil:
			parts = append(parts, fmt.Sprintf("%s %s → %s", m.name, secondsOr(m.before, "never"), secondsOr(m.after, "never")))
		default:
			d := *m.after - *m.before
			verdict := "same"
			switch {
			case d < -sameWithin:
				verdict = "better"
			case d > sameWithin:
				verdict = "worse"
			}
			parts = append(parts, fmt.Sprintf("%s %s → %s (%+.3fs, %s)", m.name, seconds(*m.before), seconds(*m.after), d, verdict))
		}
	}
	return fmt.Sprintf("%d runs; ", len(runs)) + strings.Join(parts, "; ")
}

// sameWithin is the time difference that counts as no change, as Compare has it.
const sameWithin = 0.1

// HistoryHTML writes the history as one self-contained page: per scenario an SVG
// chart of the three times over the runs, and the table.
func HistoryHTML(w io.Writer, hs []ScenarioHistory) error {
	return historyTemplate.Execute(w, hs)
}

// chartSeries are the measures the chart draws, with their colours.
var chartSeries = []struct {
	name, colour string
	get          func(HistoryRun) *float64
}{
	{"time to first action", "#2b6cb0", func(r HistoryRun) *float64 { return r.FirstAction }},
	{"time to approval", "#b7791f", func(r HistoryRun) *float64 { return r.Approval }},
	{"time to verified containment", "#2f855a", func(r HistoryRun) *float64 { return r.VerifiedContainment }},
}

// TrendSVG draws the three times of a scenario's runs as polylines, one point per
// run, on a shared seconds axis. Runs without a value leave a gap.
func TrendSVG(h ScenarioHistory) template.HTML {
	const w, hgt, left, right, top, bottom = 640.0, 240.0, 56.0, 16.0, 16.0, 56.0
	maxV := 0.0
	for _, r := range h.Runs {
		for _, s := range chartSeries {
			if v := s.get(r); v != nil && *v > maxV {
				maxV = *v
			}
		}
	}
	if maxV <= 0 {
		maxV = 1
	}
	maxV = niceCeil(maxV)
	n := len(h.Runs)
	x := func(i int) float64 {
		if n <= 1 {
			return left + (w-left-right)/2
		}
		return left + float64(i)*(w-left-right)/float64(n-1)
	}
	y := func(v float64) float64 { return top + (hgt-top-bottom)*(1-v/maxV) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-label="%s">`,
		w, hgt, w, hgt, html.EscapeString("Drill history of "+h.Scenario))
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString("Trend of drill "+h.Scenario+" over "+strconv.Itoa(n)+" runs"))
	for i := 0; i <= 4; i++ {
		v := maxV * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#e2e8f0"/>`, left, y(v), w-right, y(v))
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" font-size="11" text-anchor="end" fill="#4a5568">%ss</text>`, left-6, y(v)+4,
			strconv.FormatFloat(v, 'g', 4, 64))
	}
	for i := range h.Runs {
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" font-size="11" text-anchor="middle" fill="#4a5568">%d</text>`, x(i), hgt-bottom+16, i+1)
	}
	for si, s := range chartSeries {
		var pts []string
		flush := func() {
			if len(pts) > 1 {
				fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, s.colour, strings.Join(pts, " "))
			}
			pts = nil
		}
		for i, r := range h.Runs {
			v := s.get(r)
			if v == nil {
				flush()
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(*v)))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>run %d: %s %s</title></circle>`,
				x(i), y(*v), s.colour, i+1, s.name, seconds(*v))
		}
		flush()
		lx := left + float64(si)*190
		fmt.Fprintf(&b, `<rect x="%g" y="%g" width="10" height="10" fill="%s"/><text x="%g" y="%g" font-size="11" fill="#1a202c">%s</text>`,
			lx, hgt-18, s.colour, lx+14, hgt-9, s.name)
	}
	b.WriteString(`</svg>`)
	// Every string in the drawing is a number or escaped above.
	return template.HTML(b.String()) //nolint:gosec // built from numbers and escaped text only
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten, for the axis.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

var historyTemplate = template.Must(template.New("history").Funcs(template.FuncMap{
	"chart":    TrendSVG,
	"pass":     passWord,
	"passCls":  func(ok bool) string { return map[bool]string{true: "passed", false: "failed"}[ok] },
	"secondsP": func(v *float64, none string) string { return secondsOr(v, none) },
	"dash":     dash,
	"trend":    trendText,
	"inc":      func(i int) int { return i + 1 },
	"stamp":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"short":    short,
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sever drill history</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1a202c; }
table { border-collapse: collapse; margin: 8px 0 24px; }
th, td { border: 1px solid #e2e8f0; padding: 4px 8px; text-align: left; }
th { background: #f7fafc; }
.passed { color: #2f855a; } .failed { color: #c53030; }
</style></head><body>
<h1>Drill history</h1>
<p>Every result of <code>sever drill run</code>, from the ledger (chains <code>` + HistoryPrefix + `NAME</code>). Times are seconds from each incident's first signal, the slowest incident's.</p>
{{- if not .}}
<p>No drill results recorded yet.</p>
{{- end}}
{{- range .}}
<section>
<h2>{{.Scenario}}</h2>
<p>{{trend .Runs}}</p>
{{chart .}}
<table>
<thead><tr><th>Run</th><th>Ended</th><th>Result</th><th>First action</th><th>Approval</th><th>Verified containment</th><th>Approvers</th><th>Policy</th><th>Ledger hash</th></tr></thead>
<tbody>
{{- range $i, $r := .Runs}}
<tr><td>{{inc $i}}</td><td>{{stamp $r.At}}</td><td class="{{passCls $r.Passed}}">{{pass $r.Passed}}</td><td>{{secondsP $r.FirstAction "-"}}</td><td>{{secondsP $r.Approval "-"}}</td><td>{{secondsP $r.VerifiedContainment "never"}}</td><td>{{dash $r.Approvers}}</td><td>{{dash $r.Policy}}</td><td><code>{{short $r.Hash}}</code></td></tr>
{{- end}}
</tbody>
</table>
</section>
{{- end}}
</body></html>
`))
