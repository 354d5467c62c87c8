package report

import (
	"encoding/xml"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
)

// svgLane is what the test learns about one lane of the timeline.
type svgLane struct {
	class  string
	texts  []string
	events map[string]int // by data-kind
	shapes int
}

// parseTimeline reads the SVG strictly as XML and returns its lanes in order and the
// kinds of its milestones.
func parseTimeline(t *testing.T, svg string) ([]*svgLane, []string) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(svg))
	dec.Strict = true
	var lanes []*svgLane
	var milestones []string
	var stack []*svgLane // the lane each open element belongs to, or nil
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("timeline is not well-formed XML: %v\n%s", err, svg)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = el.Name.Local
				if el.Name.Space != "http://www.w3.org/2000/svg" {
					t.Errorf("root namespace = %q", el.Name.Space)
				}
			}
			attr := func(name string) string {
				for _, a := range el.Attr {
					if a.Name.Local == name {
						return a.Value
					}
				}
				return ""
			}
			var cur *svgLane
			if len(stack) > 0 {
				cur = stack[len(stack)-1]
			}
			switch {
			case el.Name.Local == "g" && attr("class") == "lane":
				cur = &svgLane{class: attr("data-class"), events: map[string]int{}}
				lanes = append(lanes, cur)
			case el.Name.Local == "g" && attr("class") == "event" && cur != nil:
				cur.events[attr("data-kind")]++
			case el.Name.Local == "g" && attr("class") == "milestone":
				milestones = append(milestones, attr("data-kind"))
			case attr("class") == "marker" && cur != nil:
				cur.shapes++
			}
			stack = append(stack, cur)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 && stack[len(stack)-1] != nil {
				if s := strings.TrimSpace(string(el)); s != "" {
					l := stack[len(stack)-1]
					l.texts = append(l.texts, s)
				}
			}
		}
	}
	if root != "svg" {
		t.Fatalf("root element = %q, want svg", root)
	}
	return lanes, milestones
}

func TestTimelineSVG(t *testing.T) {
	r, err := fixtureReport()
	if err != nil {
		t.Fatal(err)
	}
	lanes, milestones := parseTimeline(t, string(TimelineSVG(r)))
	var classes []string
	for _, l := range lanes {
		classes = append(classes, l.class)
	}
	// One lane per enforcement class, each once, plus the lane without a class.
	want := []string{"vendor_notified", "vendor_enforced", "enterprise_enforced", "human_approved",
		"human_denied", "approval_expired", "none"}
	if !slices.Equal(classes, want) {
		t.Fatalf("lanes = %v, want %v", classes, want)
	}
	for _, e := range []sever.Enforcement{sever.VendorNotified, sever.VendorEnforced, sever.EnterpriseEnforced,
		sever.HumanApproved, sever.HumanDenied, sever.ApprovalExpired} {
		if !slices.Contains(classes, string(e)) {
			t.Errorf("no lane for %s", e)
		}
	}
	events := map[string]map[string]int{}
	for _, l := range lanes {
		events[l.class] = l.events
		// Printed in black and white, a lane is still told by its written name.
		if len(l.texts) == 0 || !strings.Contains(strings.Join(l.texts, " "), laneStyles[l.class].label) {
			t.Errorf("lane %s has no written label: %q", l.class, l.texts)
		}
		if l.shapes != 1+l.events["signal"]+l.events["step"]+l.events["approval"] {
			t.Errorf("lane %s: %d markers for %v (one in the legend, one per event)", l.class, l.shapes, l.events)
		}
	}
	for lane, want := range map[string]map[string]int{
		"vendor_notified":     {"signal": 2},
		"vendor_enforced":     {"step": 1},
		"enterprise_enforced": {"step": 2},
		"human_approved":      {"approval": 1},
		"human_denied":        {},
		"approval_expired":    {},
		"none":                {"signal": 1, "step": 2},
	} {
		if len(events[lane]) != len(want) {
			t.Errorf("lane %s events = %v, want %v", lane, events[lane], want)
		}
		for k, n := range want {
			if events[lane][k] != n {
				t.Errorf("lane %s: %d %s events, want %d", lane, events[lane][k], k, n)
			}
		}
	}
	if !slices.Equal(milestones, []string{"contained"}) {
		t.Errorf("milestones = %v", milestones)
	}
	// Every shape differs, so no lane relies on colour alone.
	shapes := map[string]string{}
	for _, l := range Lanes {
		s := laneStyles[l].shape
		if other, dup := shapes[s]; dup {
			t.Errorf("lanes %s and %s share the %s shape", l, other, s)
		}
		shapes[s] = l
	}
}

func TestTimelineSVGEdgeCases(t *testing.T) {
	t.Run("no events", func(t *testing.T) {
		r, err := Build(sever.Incident{ID: "inc-empty"}, Options{Now: fixtureNow})
		if err != nil {
			t.Fatal(err)
		}
		if lanes, _ := parseTimeline(t, string(TimelineSVG(r))); len(lanes) != len(Lanes) {
			t.Errorf("%d lanes", len(lanes))
		}
	})
	t.Run("hostile text stays text", func(t *testing.T) {
		inc := fixtureIncident()
		inc.ID = `inc-<b>"&'`
		inc.Signals[1].Source = `]]><script>alert(1)</script><![CDATA[`
		inc.Steps[2].ID = `disable"><g class="lane" data-class="forged">`
		r, err := Build(inc, Options{Now: fixtureNow})
		if err != nil {
			t.Fatal(err)
		}
		svg := string(TimelineSVG(r))
		lanes, _ := parseTimeline(t, svg)
		if len(lanes) != len(Lanes) || strings.Contains(svg, "<script") {
			t.Errorf("%d lanes; markup leaked:\n%s", len(lanes), svg)
		}
	})
	t.Run("closed long after", func(t *testing.T) {
		inc := fixtureIncident()
		inc.Status, inc.ClosedAt = sever.IncidentClosed, atPtr(3*86400)
		r, err := Build(inc, Options{Runbook: fixtureRunbook(), Now: at(4 * 86400)})
		if err != nil {
			t.Fatal(err)
		}
		_, milestones := parseTimeline(t, string(TimelineSVG(r)))
		if !slices.Equal(milestones, []string{"contained", "closed"}) {
			t.Errorf("milestones = %v", milestones)
		}
	})
}
