package runbooks

import (
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/yamlcheck"
)

// LintError is one problem in a runbook or policy file.
type LintError = yamlcheck.Problem

// LintErrors are all the problems found in one or more files, one line each.
type LintErrors = yamlcheck.Problems

// maxSource bounds a runbook or policy file. Real ones are a few KiB; the bound keeps a
// hostile upload from costing much more than that to reject.
const maxSource = 1 << 20

// decoder walks a yaml.Node tree and collects every problem with its line and field,
// so one lint run reports all of them instead of stopping at the first. Runbooks keep
// yamlcheck's default rules: aliases are refused, and messages quote the offending
// value so that the author sees what to fix.
type decoder struct{ yamlcheck.Checker }

func newDecoder(file string) *decoder { return &decoder{yamlcheck.Checker{File: file}} }

// mapping is a YAML mapping checked against its known keys.
type mapping = yamlcheck.Mapping

var (
	hasKey = yamlcheck.HasKey
	isNull = yamlcheck.IsNull
	join   = yamlcheck.Join
	index  = yamlcheck.Index
)

// document parses src into the root mapping node, or reports why it cannot.
func (d *decoder) document(src []byte) *yaml.Node {
	if len(src) > maxSource {
		d.Add(nil, "", "file is %d bytes; the limit is %d", len(src), maxSource)
		return nil
	}
	root, more, ok := d.Document(src)
	if !ok {
		return nil
	}
	if root == nil {
		d.Add(nil, "", "file is empty")
		return nil
	}
	if more != nil {
		d.Add(more, "", "file holds more than one YAML document; put each in its own file")
	}
	if root.Kind != yaml.MappingNode {
		d.Add(root, "", "top level must be a mapping of fields (name, version, ...)")
		return nil
	}
	return root
}

// item reads one entry of the steps or rules list: a mapping of known fields. empty is
// the message for an entry with nothing in it. ok is false when there is nothing to read.
func (d *decoder) item(n *yaml.Node, path, empty string, known []string) (mapping, bool) {
	if isNull(n) {
		d.Add(n, path, "%s", empty)
		return mapping{}, false
	}
	return d.Mapping(n, path, known...)
}

// id reads the required id of a step or rule; it returns "" when the id is missing or
// invalid, and the id's node for later messages. reserved, if set, is the id of the
// implicit default-deny rule, which a policy may not claim.
func (d *decoder) id(m mapping, reserved string) (string, *yaml.Node) {
	n := d.Required(m, "id", " (lowercase letters, digits, _ and -)")
	if n == nil {
		return "", nil
	}
	s, ok := d.String(n, m.Field("id"))
	switch {
	case !ok:
	case len(s) > maxNameLen:
		d.Add(n, m.Field("id"), "is %d characters long; the limit is %d", len(s), maxNameLen)
	case reserved != "" && s == reserved:
		d.Add(n, m.Field("id"), "%q is reserved for actions no rule matches", s)
	case !stepID.MatchString(s):
		d.Add(n, m.Field("id"), "%q may only hold lowercase letters, digits, _ and -", s)
	default:
		return s, n
	}
	return "", n
}

// duration reads a duration from lo to hi as the runbook types hold it.
func (d *decoder) duration(n *yaml.Node, field string, lo, hi time.Duration) (sever.Duration, bool) {
	v, ok := d.Duration(n, field, lo, hi)
	return sever.Duration(v), ok
}

// value converts a YAML node to a JSON-shaped Go value, because action arguments
// travel as JSON in workflow inputs and are hashed for approvals.
func (d *decoder) value(n *yaml.Node, field string) (any, bool) {
	if !d.NotAlias(n, field) {
		return nil, false
	}
	switch n.Kind {
	case yaml.MappingNode:
		m, ok := map[string]any{}, true
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
				d.Add(k, field, "keys must be strings")
				ok = false
				continue
			}
			if _, dup := m[k.Value]; dup {
				d.Add(k, join(field, k.Value), "duplicate key")
				ok = false
				continue
			}
			val, vok := d.value(v, join(field, k.Value))
			ok = ok && vok
			m[k.Value] = val
		}
		return m, ok
	case yaml.SequenceNode:
		l, ok := make([]any, 0, len(n.Content)), true
		for i, e := range n.Content {
			val, vok := d.value(e, index(field, i))
			ok = ok && vok
			l = append(l, val)
		}
		return l, ok
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, true
		case "!!bool", "!!int", "!!float":
			var v any
			if err := n.Decode(&v); err != nil {
				d.Add(n, field, "%q: %v", n.Value, err)
				return nil, false
			}
			return v, true
		}
		// Strings, and timestamps and binary kept as the text the author wrote.
		return n.Value, true
	}
	d.Add(n, field, "unsupported YAML value")
	return nil, false
}

// args reads action arguments and checks them against the action's spec. spec is nil
// when the action itself is unknown; the values are still checked for shape.
func (d *decoder) args(n *yaml.Node, parent mapping, field string, spec *sever.ActionSpec) sever.Values {
	var out sever.Values
	if n != nil {
		if !d.NotAlias(n, field) {
			return nil
		}
		if n.Kind != yaml.MappingNode {
			d.Add(n, field, "must be a mapping of argument names to values, e.g. {message: hello}")
			return nil
		}
		m, ok := d.Mapping(n, field, keysOf(n)...)
		if !ok {
			return nil
		}
		out = sever.Values{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn := n.Content[i]
			k := kn.Value
			if m.Values[k] != n.Content[i+1] {
				continue // not a plain key, or a duplicate: mapping() reported it
			}
			if v, ok := d.value(m.Values[k], join(field, k)); ok {
				out[k] = v
			}
			if spec != nil && !slices.Contains(spec.Args, k) {
				hint := suggest(k, spec.Args)
				if hint == "" {
					hint = takes(spec)
				}
				d.Add(kn, join(field, k), "action %s takes no argument %q%s", spec.Name, k, hint)
			}
		}
	}
	if spec != nil {
		for _, r := range spec.Required {
			if _, ok := out[r]; !ok {
				at := parent.Node
				if n != nil {
					at = n
				}
				d.Add(at, join(field, r), "action %s requires argument %q", spec.Name, r)
			}
		}
	}
	return out
}

func takes(spec *sever.ActionSpec) string {
	if len(spec.Args) == 0 {
		return " (it takes none)"
	}
	return " (it takes: " + strings.Join(spec.Args, ", ") + ")"
}

// keysOf lists the keys of a mapping, so mapping() accepts any argument name and args()
// can report unknown ones against the action spec instead.
func keysOf(n *yaml.Node) []string {
	var keys []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
	}
	return keys
}

// suggest returns ` (did you mean "x"?)` for a near miss (2 edits at most), so a
// typo's fix is obvious.
func suggest(got string, known []string) string { return yamlcheck.Suggest(got, known, 2) }
