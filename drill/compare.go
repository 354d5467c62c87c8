package drill

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/sever-ir/sever"
)

// Comparison sets two runs of a drill side by side, metric by metric, to show
// whether a runbook or policy change made containment faster or slower.
type Comparison struct {
	Before     RunInfo           `json:"before"`
	After      RunInfo           `json:"after"`
	Metrics    []MetricDelta     `json:"metrics"`
	Objectives []ObjectiveChange `json:"objectives"`
	// Containment is faster, slower, same, now contained, no longer contained, or
	// not contained: the headline, from the time to verified containment.
	Containment string   `json:"containment"`
	Notes       []string `json:"notes,omitempty"`
}

// RunInfo identifies one run in a comparison.
type RunInfo struct {
	Scenario       string             `json:"scenario"`
	ScenarioSHA256 string             `json:"scenario_sha256,omitempty"`
	StartedAt      time.Time          `json:"started_at"`
	Passed         bool               `json:"passed"`
	Policy         sever.RunbookRef   `json:"policy"`
	Runbooks       []sever.RunbookRef `json:"runbooks"`
}

// MetricDelta is one metric before and after. Lower is better for every metric; nil
// means the moment never came (or, for counts, was not measured).
type MetricDelta struct {
	Name    string   `json:"name"`
	Unit    string   `json:"unit"`
	Before  *float64 `json:"before"`
	After   *float64 `json:"after"`
	Delta   *float64 `json:"delta"`
	Verdict string   `json:"verdict"` // better, worse, same, n/a
	// Why explains a verdict that is not just the sign of the delta.
	Why string `json:"why,omitempty"`
}

// ObjectiveChange is one objective's outcome in each run.
type ObjectiveChange struct {
	Name   string `json:"name"`
	Before string `json:"before"` // pass, fail, or not set
	After  string `json:"after"`
}

// Verdicts of a metric.
const (
	Better = "better"
	Worse  = "worse"
	Same   = "same"
	NA     = "n/a"
)

// sameSeconds absorbs timer noise: two runs of one drill differ by tens of
// milliseconds with nothing changed.
const sameSeconds = 0.1

// Compare compares two results; a is before, b after.
func Compare(a, b *Result) Comparison {
	c := Comparison{Before: runInfo(a), After: runInfo(b)}
	type metric struct {
		name, unit string
		get        func(*Result) *float64
		// missingWorse: a metric that is missing never happened, which is worse than
		// any time (containment); otherwise missing means not applicable (approval
		// with a pre-approved policy).
		missingWorse bool
		tolerance    float64
	}
	count := func(f func(*Result) int) func(*Result) *float64 {
		return func(r *Result) *float64 { v := float64(f(r)); return &v }
	}
	metrics := []metric{
		{"time_to_first_action", "s", func(r *Result) *float64 { return r.Metrics.TimeToFirstAction }, true, sameSeconds},
		{"time_to_approval", "s", func(r *Result) *float64 { return r.Metrics.TimeToApproval }, false, sameSeconds},
		{"time_to_verified_containment", "s", func(r *Result) *float64 { return r.Metrics.TimeToVerifiedContainment }, true, sameSeconds},
		{"attacker_successes_after_signal", "calls", count(func(r *Result) int { return r.Metrics.AttackerSuccessesAfterSignal }), false, 0},
		{"attacker_successes_after_containment", "calls", func(r *Result) *float64 {
			if p := r.Metrics.AttackerSuccessesAfterContainment; p != nil {
				v := float64(*p)
				return &v
			}
			return nil
		}, false, 0},
		{"expired_approvals", "steps", count(func(r *Result) int { return len(r.Metrics.ExpiredApprovals) }), false, 0},
		{"vendor_reliant_incidents", "incidents", count(func(r *Result) int {
			n := 0
			for _, ir := range r.Incidents {
				if ir.ReliedOnVendor {
					n++
				}
			}
			return n
		}), false, 0},
		{"objectives_missed", "objectives", count(func(r *Result) int {
			n := 0
			for _, o := range r.Objectives {
				if !o.Passed {
					n++
				}
			}
			return n
		}), false, 0},
	}
	for _, m := range metrics {
		d := MetricDelta{Name: m.name, Unit: m.unit, Before: m.get(a), After: m.get(b)}
		switch {
		case d.Before != nil && d.After != nil:
			delta := round3(*d.After - *d.Before)
			d.Delta = &delta
			switch {
			case math.Abs(delta) <= m.tolerance:
				d.Verdict = Same
				if m.tolerance > 0 && delta != 0 {
					d.Why = fmt.Sprintf("within %gs, timer noise", m.tolerance)
				}
			case delta < 0:
				d.Verdict = Better
			default:
				d.Verdict = Worse
			}
		case d.Before == nil && d.After == nil:
			d.Verdict = NA
			if m.missingWorse {
				d.Why = "never reached in either run"
			}
		case !m.missingWorse:
			d.Verdict = NA
			d.Why = "measured in one run only"
		case d.After == nil:
			d.Verdict, d.Why = Worse, "no longer reached"
		default:
			d.Verdict, d.Why = Better, "now reached"
		}
		c.Metrics = append(c.Metrics, d)
	}

	cont := c.Metrics[2]
	switch {
	case cont.Before == nil && cont.After == nil:
		c.Containment = "not contained"
	case cont.Before == nil:
		c.Containment = "now contained"
	case cont.After == nil:
		c.Containment = "no longer contained"
	case cont.Verdict == Better:
		c.Containment = "faster"
	case cont.Verdict == Worse:
		c.Containment = "slower"
	default:
		c.Containment = "same"
	}

	names := []string{}
	outcome := func(r *Result) map[string]string {
		m := map[string]string{}
		for _, o := range r.Objectives {
			m[o.Name] = map[bool]string{true: "pass", false: "fail"}[o.Passed]
			if !slices.Contains(names, o.Name) {
				names = append(names, o.Name)
			}
		}
		return m
	}
	oa, ob := outcome(a), outcome(b)
	for _, n := range names {
		c.Objectives = append(c.Objectives, ObjectiveChange{Name: n, Before: cmp.Or(oa[n], "not set"), After: cmp.Or(ob[n], "not set")})
	}

	if a.Scenario.Name != b.Scenario.Name {
		c.Notes = append(c.Notes, fmt.Sprintf("the runs are of different scenarios (%s, %s): the figures may not compare", a.Scenario.Name, b.Scenario.Name))
	} else if a.Scenario.SHA256 != "" && b.Scenario.SHA256 != "" && a.Scenario.SHA256 != b.Scenario.SHA256 {
		c.Notes = append(c.Notes, "the scenario itself changed between the runs (sha256 "+short(a.Scenario.SHA256)+" → "+short(b.Scenario.SHA256)+")")
	}
	if a.Policy.SHA256 != b.Policy.SHA256 {
		c.Notes = append(c.Notes, "policy changed: "+refText(a.Policy)+" → "+refText(b.Policy))
	}
	if !slices.Equal(c.Before.Runbooks, c.After.Runbooks) {
		c.Notes = append(c.Notes, "runbook changed: "+refsText(c.Before.Runbooks)+" → "+refsText(c.After.Runbooks))
	}
	if c.Before.Policy.SHA256 == c.After.Policy.SHA256 && slices.Equal(c.Before.Runbooks, c.After.Runbooks) {
		c.Notes = append(c.Notes, "same policy and runbooks in both runs: differences are run-to-run variation")
	}
	return c
}

func runInfo(r *Result) RunInfo {
	ri := RunInfo{Scenario: r.Scenario.Name, ScenarioSHA256: r.Scenario.SHA256, StartedAt: r.StartedAt, Passed: r.Passed,
		Policy: r.Policy, Runbooks: []sever.RunbookRef{}}
	for _, ir := range r.Incidents {
		if !slices.Contains(ri.Runbooks, ir.Runbook) {
			ri.Runbooks = append(ri.Runbooks, ir.Runbook)
		}
	}
	return ri
}

func refsText(rs []sever.RunbookRef) string {
	if len(rs) == 0 {
		return "none"
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = refText(r)
	}
	return strings.Join(parts, ", ")
}

// Markdown writes the comparison as a table per metric.
func (c Comparison) Markdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	p("# Drill comparison: %s\n\n", esc(c.Before.Scenario))
	p("Containment: **%s**.\n\n", c.Containment)
	p("| | Before | After |\n|---|---|---|\n")
	p("| Run | %s | %s |\n", stamp(c.Before.StartedAt), stamp(c.After.StartedAt))
	p("| Result | %s | %s |\n", verdictWord(c.Before.Passed), verdictWord(c.After.Passed))
	p("| Policy | %s | %s |\n", esc(refText(c.Before.Policy)), esc(refText(c.After.Policy)))
	p("| Runbooks | %s | %s |\n", esc(refsText(c.Before.Runbooks)), esc(refsText(c.After.Runbooks)))
	p("\nLower is better for every metric; differences of %gs or less count as the same.\n\n", sameSeconds)
	p("| Metric | Before | After | Delta | Verdict |\n|---|---|---|---|---|\n")
	for _, m := range c.Metrics {
		v := m.Verdict
		if m.Why != "" {
			v += " (" + m.Why + ")"
		}
		p("| `%s` | %s | %s | %s | %s |\n", m.Name, valueText(m.Before, m.Unit), valueText(m.After, m.Unit), deltaText(m.Delta, m.Unit), esc(v))
	}
	if len(c.Objectives) > 0 {
		p("\n| Objective | Before | After |\n|---|---|---|\n")
		for _, o := range c.Objectives {
			p("| `%s` | %s | %s |\n", o.Name, o.Before, o.After)
		}
	}
	if len(c.Notes) > 0 {
		p("\n")
		for _, n := range c.Notes {
			p("- %s\n", esc(n))
		}
	}
	return bw.Flush()
}

// JSON writes the comparison as indented JSON.
func (c Comparison) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}

func valueText(v *float64, unit string) string {
	if v == nil {
		return "–"
	}
	if unit == "s" {
		return seconds(*v)
	}
	return fmt.Sprint(*v)
}

func deltaText(v *float64, unit string) string {
	if v == nil {
		return "–"
	}
	if *v == 0 {
		return "0"
	}
	sign := "+"
	if *v < 0 {
		sign = "−"
	}
	abs := math.Abs(*v)
	if unit == "s" {
		return sign + seconds(abs)
	}
	return sign + fmt.Sprint(abs)
}
