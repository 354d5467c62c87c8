package runbooks

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/typo"
)

// LintError is one problem in a runbook or policy file.
type LintError struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (e LintError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	return b.String()
}

// LintErrors are all the problems found in one or more files, one line each.
type LintErrors []LintError

func (es LintErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// maxSource bounds a runbook or policy file. Real ones are a few KiB; the bound keeps a
// hostile upload from costing much more than that to reject.
const maxSource = 1 << 20

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decoder walks a yaml.Node tree and collects every problem with its line and field,
// so one lint run reports all of them instead of stopping at the first.
type decoder struct {
	file string
	errs LintErrors
}

func (d *decoder) errorf(n *yaml.Node, field, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, LintError{File: d.file, Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
}

// result returns the collected problems in file order, or nil.
func (d *decoder) result() error {
	if len(d.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(d.errs, func(a, b LintError) int { return a.Line - b.Line })
	return d.errs
}

// document parses src into the root mapping node, or reports why it cannot.
func (d *decoder) document(src []byte) *yaml.Node {
	if len(src) > maxSource {
		d.errorf(nil, "", "file is %d bytes; the limit is %d", len(src), maxSource)
		return nil
	}
	doc, more, err := decodeYAML(src)
	if err != nil {
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			d.errs = append(d.errs, LintError{File: d.file, Line: line, Message: "invalid YAML: " + m[2]})
		} else {
			d.errorf(nil, "", "invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return nil
	}
	if doc == nil || len(doc.Content) == 0 {
		d.errorf(nil, "", "file is empty")
		return nil
	}
	if more != nil {
		d.errorf(more, "", "file holds more than one YAML document; put each in its own file")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		d.errorf(root, "", "top level must be a mapping of fields (name, version, ...)")
		return nil
	}
	return root
}

// decodeYAML returns the first document and, if there is one, the start of a second.
func decodeYAML(src []byte) (doc, more *yaml.Node, err error) {
	// The YAML parser is third-party code fed with uploaded text; a panic in it must
	// become a lint error, not take down the API or the CLI.
	defer func() {
		if r := recover(); r != nil {
			doc, more, err = nil, nil, fmt.Errorf("yaml: parser failed: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var first yaml.Node
	if err := dec.Decode(&first); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	var second yaml.Node
	if err := dec.Decode(&second); err == nil {
		more = &second
		if len(second.Content) > 0 {
			more = second.Content[0]
		}
	} else if !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	return &first, more, nil
}

// mapping is a YAML mapping checked against its known keys.
type mapping struct {
	node   *yaml.Node
	path   string
	values map[string]*yaml.Node
}

// get returns the value under key, or nil when it is absent or null.
func (m mapping) get(key string) *yaml.Node {
	n := m.values[key]
	if isNull(n) {
		return nil
	}
	return n
}

func (m mapping) field(key string) string { return join(m.path, key) }

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// mapping checks that n is a mapping whose keys are all known and unique. A null node
// is an empty mapping, so `approval:` alone reports the missing fields inside it.
func (d *decoder) mapping(n *yaml.Node, path string, known ...string) (mapping, bool) {
	m := mapping{node: n, path: path, values: map[string]*yaml.Node{}}
	if isNull(n) {
		return m, true
	}
	if !d.notAlias(n, path) {
		return m, false
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping of fields (%s)", strings.Join(known, ", "))
		return m, false
	}
	keyLines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "field names must be plain strings")
			continue
		}
		field := join(path, k.Value)
		if first, dup := keyLines[k.Value]; dup {
			d.errorf(k, field, "duplicate field (first at line %d)", first)
			continue
		}
		keyLines[k.Value] = k.Line
		if !slices.Contains(known, k.Value) {
			d.errorf(k, field, "unknown field%s", suggest(k.Value, known))
			continue
		}
		m.values[k.Value] = v
	}
	return m, true
}

// hasKey reports whether mapping n has key, without judging the rest of it.
func hasKey(n *yaml.Node, key string) bool {
	if n == nil || n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Kind == yaml.ScalarNode && n.Content[i].Value == key {
			return true
		}
	}
	return false
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func (d *decoder) notAlias(n *yaml.Node, field string) bool {
	if n.Kind == yaml.AliasNode {
		d.errorf(n, field, "YAML aliases (*%s) are not supported; write the value out", n.Value)
		return false
	}
	return true
}

// required reports a missing field at the line of the mapping that should hold it.
func (d *decoder) required(m mapping, key, hint string) *yaml.Node {
	n := m.get(key)
	if n == nil {
		line := m.node
		if v := m.values[key]; v != nil {
			line = v // present but null
		}
		d.errorf(line, m.field(key), "required field is missing%s", hint)
	}
	return n
}

func (d *decoder) scalar(n *yaml.Node, field, what string) bool {
	if !d.notAlias(n, field) {
		return false
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, field, "must be %s", what)
		return false
	}
	return true
}

func (d *decoder) str(n *yaml.Node, field string) (string, bool) {
	if !d.scalar(n, field, "a string") {
		return "", false
	}
	if tag := n.ShortTag(); tag != "!!str" {
		d.errorf(n, field, "must be a string, not %s; quote it: %q", strings.TrimPrefix(tag, "!!"), n.Value)
		return "", false
	}
	return n.Value, true
}

func (d *decoder) integer(n *yaml.Node, field string) (int, bool) {
	if !d.scalar(n, field, "a whole number") {
		return 0, false
	}
	var v int
	if n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		d.errorf(n, field, "%q is not a whole number", n.Value)
		return 0, false
	}
	return v, true
}

func (d *decoder) intRange(n *yaml.Node, field string, lo, hi int) (int, bool) {
	v, ok := d.integer(n, field)
	if ok && (v < lo || v > hi) {
		d.errorf(n, field, "%d is out of range (%d..%d)", v, lo, hi)
		return 0, false
	}
	return v, ok
}

func (d *decoder) boolean(n *yaml.Node, field string) (bool, bool) {
	if !d.scalar(n, field, "true or false") {
		return false, false
	}
	var v bool
	if n.ShortTag() != "!!bool" || n.Decode(&v) != nil {
		d.errorf(n, field, "%q is not true or false", n.Value)
		return false, false
	}
	return v, true
}

func (d *decoder) duration(n *yaml.Node, field string, lo, hi time.Duration) (sever.Duration, bool) {
	if !d.scalar(n, field, "a duration (e.g. 30s, 5m)") {
		return 0, false
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		d.errorf(n, field, "%q is not a duration (e.g. 30s, 5m)", n.Value)
		return 0, false
	}
	if v < lo || v > hi {
		d.errorf(n, field, "%s is out of range (%s..%s)", n.Value, short(lo), short(hi))
		return 0, false
	}
	return sever.Duration(v), true
}

// short prints 1h rather than 1h0m0s.
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// oneOf reads a string that must be one of allowed.
func oneOf[T ~string](d *decoder, n *yaml.Node, field string, allowed []T) (T, bool) {
	s, ok := d.str(n, field)
	if !ok {
		return "", false
	}
	if !slices.Contains(allowed, T(s)) {
		names := make([]string, len(allowed))
		for i, a := range allowed {
			names[i] = string(a)
		}
		d.errorf(n, field, "unknown value %q (one of %s)%s", s, strings.Join(names, ", "), suggest(s, names))
		return "", false
	}
	return T(s), true
}

// list reads a sequence, calling each for every element.
func (d *decoder) list(n *yaml.Node, field, example string, each func(i int, n *yaml.Node)) bool {
	if !d.notAlias(n, field) {
		return false
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, field, "must be a list, e.g. %s", example)
		return false
	}
	for i, e := range n.Content {
		each(i, e)
	}
	return true
}

// strList reads a list of distinct, non-empty strings.
func (d *decoder) strList(n *yaml.Node, field, example string) []string {
	var out []string
	d.list(n, field, example, func(i int, e *yaml.Node) {
		f := index(field, i)
		s, ok := d.str(e, f)
		switch {
		case !ok:
		case strings.TrimSpace(s) == "":
			d.errorf(e, f, "must not be empty")
		case slices.Contains(out, s):
			d.errorf(e, f, "%q is listed twice", s)
		default:
			out = append(out, s)
		}
	})
	return out
}

// enumList reads a list of distinct values from allowed.
func enumList[T ~string](d *decoder, n *yaml.Node, field string, allowed []T) []T {
	var out []T
	d.list(n, field, "["+string(allowed[0])+"]", func(i int, e *yaml.Node) {
		f := index(field, i)
		v, ok := oneOf(d, e, f, allowed)
		switch {
		case !ok:
		case slices.Contains(out, v):
			d.errorf(e, f, "%q is listed twice", v)
		default:
			out = append(out, v)
		}
	})
	return out
}

// value converts a YAML node to a JSON-shaped Go value, because action arguments
// travel as JSON in workflow inputs and are hashed for approvals.
func (d *decoder) value(n *yaml.Node, field string) (any, bool) {
	if !d.notAlias(n, field) {
		return nil, false
	}
	switch n.Kind {
	case yaml.MappingNode:
		m, ok := map[string]any{}, true
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
				d.errorf(k, field, "keys must be strings")
				ok = false
				continue
			}
			if _, dup := m[k.Value]; dup {
				d.errorf(k, join(field, k.Value), "duplicate key")
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
				d.errorf(n, field, "%q: %v", n.Value, err)
				return nil, false
			}
			return v, true
		}
		// Strings, and timestamps and binary kept as the text the author wrote.
		return n.Value, true
	}
	d.errorf(n, field, "unsupported YAML value")
	return nil, false
}

// args reads action arguments and checks them against the action's spec. spec is nil
// when the action itself is unknown; the values are still checked for shape.
func (d *decoder) args(n *yaml.Node, parent mapping, field string, spec *sever.ActionSpec) sever.Values {
	var out sever.Values
	if n != nil {
		if !d.notAlias(n, field) {
			return nil
		}
		if n.Kind != yaml.MappingNode {
			d.errorf(n, field, "must be a mapping of argument names to values, e.g. {message: hello}")
			return nil
		}
		m, ok := d.mapping(n, field, keysOf(n)...)
		if !ok {
			return nil
		}
		out = sever.Values{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn := n.Content[i]
			k := kn.Value
			if m.values[k] != n.Content[i+1] {
				continue // not a plain key, or a duplicate: mapping() reported it
			}
			if v, ok := d.value(m.values[k], join(field, k)); ok {
				out[k] = v
			}
			if spec != nil && !slices.Contains(spec.Args, k) {
				hint := suggest(k, spec.Args)
				if hint == "" {
					hint = takes(spec)
				}
				d.errorf(kn, join(field, k), "action %s takes no argument %q%s", spec.Name, k, hint)
			}
		}
	}
	if spec != nil {
		for _, r := range spec.Required {
			if _, ok := out[r]; !ok {
				at := parent.node
				if n != nil {
					at = n
				}
				d.errorf(at, join(field, r), "action %s requires argument %q", spec.Name, r)
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

// suggest returns ` (did you mean "x"?)` for a near miss, so a typo's fix is obvious.
func suggest(got string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if dist := typo.Distance(got, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best == "" || best == got {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}
