package runbooks

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sever-ir/sever"
)

// frameworks reads a frameworks: block, at runbook level or in a step. Every id must
// be in the framework's published list, so a report never cites a risk that does not
// exist.
func (d *decoder) frameworks(n *yaml.Node, path string) sever.Frameworks {
	var f sever.Frameworks
	m, ok := d.Mapping(n, path, "owasp_nhi", "owasp_agentic", "maestro", "nist_ai_rmf")
	if !ok {
		return f
	}
	if n := m.Get("owasp_nhi"); n != nil {
		f.OWASPNHI = d.frameworkTerms(n, m.Field("owasp_nhi"), sever.OWASPNHITop10,
			"OWASP NHI Top 10 id", "NHI1 to NHI10 of the "+sever.FrameworkOWASPNHI)
	}
	if n := m.Get("owasp_agentic"); n != nil {
		f.OWASPAgentic = d.frameworkTerms(n, m.Field("owasp_agentic"), sever.OWASPAgenticTop10,
			"OWASP Agentic Top 10 id", "ASI01 to ASI10 of the "+sever.FrameworkOWASPAgentic)
	}
	if n := m.Get("maestro"); n != nil {
		f.MAESTRO = d.maestroLayers(n, m.Field("maestro"))
	}
	if n := m.Get("nist_ai_rmf"); n != nil {
		f.NISTAIRMF = d.frameworkTerms(n, m.Field("nist_ai_rmf"), sever.NISTAIRMFFunctions,
			"NIST AI RMF function", "Govern, Map, Measure or Manage")
	}
	return f
}

// frameworkTerms reads a list of distinct ids from vocabulary. A near miss in spelling
// ("nhi2", "NHI2:2025", "ASI1") gets the exact id as a hint rather than being accepted:
// ids are compared and grouped as written, so there is one spelling.
func (d *decoder) frameworkTerms(n *yaml.Node, field string, vocabulary []sever.FrameworkTerm, what, allowed string) []string {
	var out []string
	d.List(n, field, "["+vocabulary[0].ID+"]", func(i int, e *yaml.Node) {
		f := index(field, i)
		s, ok := d.String(e, f)
		if !ok {
			return
		}
		if _, known := sever.LookupFrameworkTerm(vocabulary, s); !known {
			d.Add(e, f, "unknown %s %q (%s)%s", what, s, allowed, termHint(s, vocabulary))
			return
		}
		if slices.Contains(out, s) {
			d.Add(e, f, "%q is listed twice", s)
			return
		}
		out = append(out, s)
	})
	return out
}

func termHint(s string, vocabulary []sever.FrameworkTerm) string {
	c := canonicalTerm(s)
	for _, t := range vocabulary {
		if canonicalTerm(t.ID) == c {
			return fmt.Sprintf(" (did you mean %q?)", t.ID)
		}
	}
	// A well-formed id with a number outside the list ("NHI12") is not a typo of a
	// neighbour; the range in the message says what is allowed.
	prefix := strings.TrimRight(c, "0123456789")
	if prefix != c && prefix == strings.TrimRight(canonicalTerm(vocabulary[0].ID), "0123456789") {
		return ""
	}
	ids := make([]string, len(vocabulary))
	for i, t := range vocabulary {
		ids[i] = t.ID
	}
	return suggest(s, ids)
}

// canonicalTerm folds the spellings people use for one id: case, a ":2025" year
// suffix, separators, and leading zeros ("asi-1" and "ASI01" are the same).
func canonicalTerm(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if i := strings.IndexByte(s, ':'); i > 0 {
		s = s[:i]
	}
	s = strings.NewReplacer("-", "", " ", "", "_", "").Replace(s)
	j := len(s)
	for j > 0 && s[j-1] >= '0' && s[j-1] <= '9' {
		j--
	}
	if j < len(s) {
		num := strings.TrimLeft(s[j:], "0")
		if num == "" {
			num = "0"
		}
		s = s[:j] + num
	}
	return s
}

var maestroLayerName = regexp.MustCompile(`^(?i)(?:l|layer)\s*([0-9]+)$`)

// maestroLayers reads a list of distinct MAESTRO layer numbers.
func (d *decoder) maestroLayers(n *yaml.Node, field string) []int {
	var layers []string
	for _, t := range sever.MAESTROLayers {
		layers = append(layers, t.ID+" "+t.Title)
	}
	allowed := "1 to 7: " + strings.Join(layers, ", ")
	var out []int
	d.List(n, field, "[4, 6]", func(i int, e *yaml.Node) {
		f := index(field, i)
		if !d.Scalar(e, f, "a MAESTRO layer number ("+allowed+")") {
			return
		}
		if e.ShortTag() != "!!int" {
			hint := ""
			if m := maestroLayerName.FindStringSubmatch(e.Value); m != nil {
				hint = fmt.Sprintf("; write the number alone: %s", strings.TrimLeft(m[1], "0"))
			}
			d.Add(e, f, "%q is not a MAESTRO layer number (%s)%s", e.Value, allowed, hint)
			return
		}
		v, ok := d.Int(e, f)
		if !ok {
			return
		}
		if _, known := sever.MAESTROLayer(v); !known {
			d.Add(e, f, "%d is not a MAESTRO layer (%s)", v, allowed)
			return
		}
		if slices.Contains(out, v) {
			d.Add(e, f, "%d is listed twice", v)
			return
		}
		out = append(out, v)
	})
	return out
}
