package report

import (
	"encoding/xml"
	"fmt"
	"html/template"
	"math"
	"strings"

	"github.com/sever-ir/sever"
)

// laneStyle is how one lane looks. Colour is never the only cue: every lane has its
// name written out, its own marker shape and its own fill pattern, so the timeline
// reads the same printed in black and white.
type laneStyle struct {
	label, sub string
	color      string
	shape      string // diamond, triangle, square, circle, cross, hourglass, dot
}

var laneStyles = map[string]laneStyle{
	string(sever.VendorNotified):     {"vendor_notified", "a provider told us", "#b45309", "diamond"},
	string(sever.VendorEnforced):     {"vendor_enforced", "a provider acted; observed", "#6d28d9", "triangle"},
	string(sever.EnterpriseEnforced): {"enterprise_enforced", "sever acted, read back", "#047857", "square"},
	string(sever.HumanApproved):      {"human_approved", "a verified person approved", "#1d4ed8", "circle"},
	string(sever.HumanDenied):        {"human_denied", "a verified person denied", "#b91c1c", "cross"},
	string(sever.ApprovalExpired):    {"approval_expired", "nobody decided in time", "#4b5563", "hourglass"},
	LaneNone:                         {"no class", "detections, notices, milestones", "#374151", "dot"},
}

// Geometry of the timeline, in SVG user units.
const (
	svgWidth  = 960.0
	svgLabelW = 200.0
	svgPlotX0 = svgLabelW + 16
	svgPlotX1 = svgWidth - 24
	svgTop    = 28.0
	svgLaneH  = 46.0
	svgAxisH  = 40.0
)

// TimelineSVG draws the report's timeline as an inline SVG: one lane per enforcement
// class (and one for events without a class), time since the first signal on a
// logarithmic axis so that seconds-long containment and a provider signal hours later
// both stay readable, and vertical lines for containment and closing.
func TimelineSVG(r *Report) template.HTML {
	var b strings.Builder
	height := svgTop + float64(len(Lanes))*svgLaneH + svgAxisH
	tmax := 1.0
	for _, e := range r.Timeline {
		tmax = math.Max(tmax, e.Offset)
		if e.EndOffset != nil {
			tmax = math.Max(tmax, *e.EndOffset)
		}
	}
	xOf := func(t float64) float64 {
		return svgPlotX0 + (svgPlotX1-svgPlotX0)*math.Log10(1+math.Max(0, t))/math.Log10(1+tmax)
	}
	laneY := map[string]float64{}
	for i, l := range Lanes {
		laneY[l] = svgTop + float64(i)*svgLaneH
	}

	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 %s %s" width="100%%" role="img" aria-labelledby="sever-tl-title sever-tl-desc">`,
		num(svgWidth), num(height))
	fmt.Fprintf(&b, `<title id="sever-tl-title">Timeline of incident %s</title>`, x(r.Incident.ID))
	fmt.Fprintf(&b, `<desc id="sever-tl-desc">One lane per enforcement class; time since the first signal, logarithmic scale. %d events.</desc>`, len(r.Timeline))
	b.WriteString(`<defs>`)
	for _, l := range Lanes {
		b.WriteString(pattern(l, laneStyles[l].color))
	}
	b.WriteString(`</defs>`)

	// Axis: ticks at round durations that fit.
	axisY := svgTop + float64(len(Lanes))*svgLaneH
	b.WriteString(`<g class="axis">`)
	fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#111827" stroke-width="1"/>`,
		num(svgPlotX0), num(axisY), num(svgPlotX1), num(axisY))
	lastX := -1e9
	for _, t := range []float64{0, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 21600, 43200, 86400, 172800, 604800} {
		if t > tmax*1.0001 {
			break
		}
		px := xOf(t)
		if px-lastX < 48 {
			continue
		}
		lastX = px
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#9ca3af" stroke-width="0.5" stroke-dasharray="2 3"/>`,
			num(px), num(svgTop), num(px), num(axisY+4))
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" font-size="11">%s</text>`, num(px), num(axisY+16), x(tickLabel(t)))
	}
	fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" font-size="11" font-style="italic">time since the first signal (logarithmic)</text>`,
		num((svgPlotX0+svgPlotX1)/2), num(axisY+32))
	b.WriteString(`</g>`)

	for i, l := range Lanes {
		st := laneStyles[l]
		y := laneY[l]
		mid := y + svgLaneH/2
		fmt.Fprintf(&b, `<g class="lane" data-class="%s">`, x(l))
		bg := "#ffffff"
		if i%2 == 0 {
			bg = "#f3f4f6"
		}
		fmt.Fprintf(&b, `<rect x="0" y="%s" width="%s" height="%s" fill="%s" stroke="#d1d5db" stroke-width="0.5"/>`,
			num(y), num(svgWidth), num(svgLaneH), bg)
		b.WriteString(marker(st.shape, 14, mid-4, st.color, l))
		fmt.Fprintf(&b, `<text x="28" y="%s" font-size="12" font-weight="bold">%s</text>`, num(mid-3), x(st.label))
		fmt.Fprintf(&b, `<text x="28" y="%s" font-size="10">%s</text>`, num(mid+11), x(st.sub))
		n := 0
		for _, e := range r.Timeline {
			if e.Lane != l || e.Kind == EventContained || e.Kind == EventUndone || e.Kind == EventClosed || e.Kind == EventOpened {
				continue
			}
			px := xOf(e.Offset)
			fmt.Fprintf(&b, `<g class="event" data-kind="%s">`, x(e.Kind))
			fmt.Fprintf(&b, `<title>%s %s</title>`, x(offsetText(e.Offset)), x(e.Text))
			if e.EndOffset != nil {
				ex := xOf(*e.EndOffset)
				fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="8" fill="url(#sever-tl-p-%s)" stroke="%s" stroke-width="1"/>`,
					num(px), num(mid-4), num(math.Max(3, ex-px)), x(l), st.color)
				px = math.Max(ex, px+3)
			}
			b.WriteString(marker(st.shape, px, mid, st.color, l))
			label, anchor, lx := shortLabel(e), "start", px+9
			if px > svgPlotX1-140 {
				anchor, lx = "end", px-9
			}
			ly := mid - 9
			if n%2 == 1 {
				ly = mid + 18
			}
			fmt.Fprintf(&b, `<text x="%s" y="%s" font-size="10" text-anchor="%s">%s</text>`, num(lx), num(ly), anchor, x(label))
			b.WriteString(`</g>`)
			n++
		}
		b.WriteString(`</g>`)
	}

	// Milestones span every lane.
	for _, e := range r.Timeline {
		var dash, width, label string
		switch e.Kind {
		case EventContained:
			dash, width, label = "", "2.5", "contained "+offsetText(e.Offset)
		case EventUndone:
			dash, width, label = ` stroke-dasharray="2 3"`, "2.5", "undone "+offsetText(e.Offset)
		case EventClosed:
			dash, width, label = ` stroke-dasharray="6 4"`, "1.5", "closed "+offsetText(e.Offset)
		default:
			continue
		}
		px := xOf(e.Offset)
		anchor, lx := "start", px+4
		if px > svgPlotX1-160 {
			anchor, lx = "end", px-4
		}
		fmt.Fprintf(&b, `<g class="milestone" data-kind="%s"><title>%s</title>`, x(e.Kind), x(e.Text))
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#111827" stroke-width="%s"%s/>`,
			num(px), num(svgTop-6), num(px), num(axisY), width, dash)
		fmt.Fprintf(&b, `<text x="%s" y="%s" font-size="11" font-weight="bold" text-anchor="%s">%s</text>`,
			num(lx), num(svgTop-10), anchor, x(label))
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	// Every value above went through x or num, so the markup is safe to embed as is.
	return template.HTML(b.String())
}

// shortLabel is the text written beside a marker; the full text is in its <title>
// and in the timeline table.
func shortLabel(e Event) string {
	switch e.Kind {
	case EventStep:
		return e.Ref + " " + e.Status
	case EventSignal:
		if e.Late {
			return "signal (late)"
		}
		return "signal"
	case EventApproval:
		return e.Status
	}
	return e.Kind
}

// pattern defines the fill of one lane's bars: a texture per class.
func pattern(lane, color string) string {
	id := "sever-tl-p-" + lane
	var body string
	switch laneStyles[lane].shape {
	case "diamond": // dots
		body = fmt.Sprintf(`<circle cx="3" cy="3" r="1.6" fill="%s"/>`, color)
	case "triangle": // diagonal hatch
		body = fmt.Sprintf(`<path d="M0 6 L6 0" stroke="%s" stroke-width="1.5"/>`, color)
	case "square": // solid
		body = fmt.Sprintf(`<rect width="6" height="6" fill="%s"/>`, color)
	case "circle": // vertical lines
		body = fmt.Sprintf(`<path d="M3 0 L3 6" stroke="%s" stroke-width="1.5"/>`, color)
	case "cross": // cross-hatch
		body = fmt.Sprintf(`<path d="M0 6 L6 0 M0 0 L6 6" stroke="%s" stroke-width="1"/>`, color)
	case "hourglass": // horizontal lines
		body = fmt.Sprintf(`<path d="M0 3 L6 3" stroke="%s" stroke-width="1.5"/>`, color)
	default: // light fill
		body = fmt.Sprintf(`<rect width="6" height="6" fill="%s" fill-opacity="0.35"/>`, color)
	}
	return fmt.Sprintf(`<pattern id="%s" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="#ffffff"/>%s</pattern>`,
		x(id), body)
}

// marker draws a lane's shape at (cx, cy).
func marker(shape string, cx, cy float64, color, lane string) string {
	fill := "url(#sever-tl-p-" + x(lane) + ")"
	stroke := fmt.Sprintf(` stroke="%s" stroke-width="1.5"`, color)
	switch shape {
	case "diamond":
		return fmt.Sprintf(`<polygon class="marker" points="%s,%s %s,%s %s,%s %s,%s" fill="%s"%s/>`,
			num(cx), num(cy-7), num(cx+7), num(cy), num(cx), num(cy+7), num(cx-7), num(cy), fill, stroke)
	case "triangle":
		return fmt.Sprintf(`<polygon class="marker" points="%s,%s %s,%s %s,%s" fill="%s"%s/>`,
			num(cx), num(cy-7), num(cx+7), num(cy+6), num(cx-7), num(cy+6), fill, stroke)
	case "square":
		return fmt.Sprintf(`<rect class="marker" x="%s" y="%s" width="12" height="12" fill="%s"%s/>`,
			num(cx-6), num(cy-6), fill, stroke)
	case "circle":
		return fmt.Sprintf(`<circle class="marker" cx="%s" cy="%s" r="6.5" fill="%s"%s/>`, num(cx), num(cy), fill, stroke)
	case "cross":
		return fmt.Sprintf(`<path class="marker" d="M%s %s L%s %s M%s %s L%s %s" stroke="%s" stroke-width="3" fill="none"/>`,
			num(cx-6), num(cy-6), num(cx+6), num(cy+6), num(cx+6), num(cy-6), num(cx-6), num(cy+6), color)
	case "hourglass":
		return fmt.Sprintf(`<polygon class="marker" points="%s,%s %s,%s %s,%s %s,%s" fill="%s"%s/>`,
			num(cx-6), num(cy-6), num(cx+6), num(cy-6), num(cx-6), num(cy+6), num(cx+6), num(cy+6), fill, stroke)
	}
	return fmt.Sprintf(`<circle class="marker" cx="%s" cy="%s" r="4" fill="#ffffff"%s/>`, num(cx), num(cy), stroke)
}

func tickLabel(t float64) string {
	switch {
	case t == 0:
		return "0"
	case t < 60:
		return fmt.Sprintf("%gs", t)
	case t < 3600:
		return fmt.Sprintf("%gm", t/60)
	case t < 86400:
		return fmt.Sprintf("%gh", t/3600)
	}
	return fmt.Sprintf("%gd", t/86400)
}

// num prints a coordinate compactly and deterministically.
func num(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", f), "0"), ".")
}

// x escapes text for SVG (XML) content and attribute values.
func x(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder never fails to write
	return b.String()
}
