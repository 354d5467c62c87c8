// Package yamlcheck holds what sever's strict YAML readers (inventory, runbooks and
// policies, configuration) share: a problem with its file, line and field; a
// collector that keeps every problem so one run reports all of them; a decoder of
// one document that turns a panic in the third-party parser into an error; checks of
// mappings against their known keys, with a typo hint; and typed scalar readers.
//
// Where the readers differ on purpose (inventory refuses anchors and merge keys and
// never quotes the file's text) the difference is a field of Rules.
package yamlcheck

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sever-ir/sever/internal/typo"
)

// Problem is one thing wrong in a YAML file.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Error formats the problem as "file:line: field: message", leaving out a line of 0
// and an empty field.
func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteString(":" + strconv.Itoa(p.Line))
	}
	if p.Field != "" {
		b.WriteString(": " + p.Field)
	}
	b.WriteString(": " + p.Message)
	return b.String()
}

// Problems are every problem found in one or more files, one a line.
type Problems []Problem

// Error lists the problems, one a line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// ParserPanic is the error Decode returns when the YAML parser panicked. The parser is
// third-party code fed with uploaded text; its panic must become a problem in the
// file, not take down the API or the CLI.
type ParserPanic struct {
	Value any // what the parser panicked with
}

func (e *ParserPanic) Error() string { return fmt.Sprintf("yaml: parser failed: %v", e.Value) }

// Decode reads src as a YAML stream. It returns the first document node (nil when src
// holds only comments or nothing) and the second one, if any, so that the caller can
// refuse it; a syntax error in either is returned, a parser panic as a *ParserPanic.
func Decode(src []byte) (first, second *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			first, second, err = nil, nil, &ParserPanic{Value: r}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var one yaml.Node
	if err := dec.Decode(&one); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	var two yaml.Node
	if err := dec.Decode(&two); err == nil {
		return &one, &two, nil
	} else if !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	return &one, nil, nil
}

// Start returns where a message about a document should point: its first node, or the
// document itself when it is empty.
func Start(doc *yaml.Node) *yaml.Node {
	if doc != nil && len(doc.Content) > 0 {
		return doc.Content[0]
	}
	return doc
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Syntax splits an error from Decode into the line it names (0 when it names none) and
// the message to show after "invalid YAML: ".
func Syntax(err error) (line int, msg string) {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		return line, m[2]
	}
	return 0, strings.TrimPrefix(err.Error(), "yaml: ")
}

// IsNull reports whether n is absent or an explicit null (`~`, `null` or nothing).
func IsNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// HasKey reports whether mapping n has key, without judging the rest of it.
func HasKey(n *yaml.Node, key string) bool {
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

// Join names key inside path: "a.b".
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Index names item i of the list at path: "a[2]".
func Index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// Rules are where the readers differ on purpose. The zero value is the runbook
// reader's: aliases refused, anchors and merge keys allowed (a merge key is then an
// unknown field), values quoted in messages, typo hints within 2 edits.
type Rules struct {
	// Anchors refuses anchors (&a) as well as aliases (*a): a value is written out
	// where it is used, so no entry silently shares another's.
	Anchors bool
	// MergeKeys refuses merge keys (<<) as field names.
	MergeKeys bool
	// Quiet keeps the parser's panic value out of messages: the file may hold a
	// secret pasted by mistake, and messages reach logs.
	Quiet bool
	// Near is the most edits a typo may be from the field or value it suggests; nil
	// means 2.
	Near func(word string) int
}

// Scaled allows a typo hint one edit per three characters of the word, at least 1 and
// at most 3, so a short word is not "corrected" into an unrelated one.
func Scaled(word string) int { return max(1, min(3, len(word)/3)) }

// Checker collects the problems of one file. Its zero value with File set is ready.
type Checker struct {
	File  string
	Rules Rules
	errs  Problems
}

// Add records a problem at n's line (0 when n is nil).
func (c *Checker) Add(n *yaml.Node, field, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	c.AddLine(line, field, format, args...)
}

// AddLine records a problem at a line.
func (c *Checker) AddLine(line int, field, format string, args ...any) {
	c.errs = append(c.errs, Problem{File: c.File, Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
}

// Len is how many problems have been recorded, so a caller can tell whether a part of
// the file added any.
func (c *Checker) Len() int { return len(c.errs) }

// Err returns the problems in line order (a Problems), or nil when there are none.
func (c *Checker) Err() error {
	if len(c.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(c.errs, func(a, b Problem) int { return a.Line - b.Line })
	return c.errs
}

// Document decodes src and returns the root node of its first document (nil when it
// has none) and the first node of a second document, if any, for the caller to judge.
// A syntax error or parser panic is recorded as a problem and ok is false.
func (c *Checker) Document(src []byte) (root, more *yaml.Node, ok bool) {
	first, second, err := Decode(src)
	if err != nil {
		c.syntax(err)
		return nil, nil, false
	}
	if first != nil && len(first.Content) > 0 {
		root = first.Content[0]
	}
	if second != nil {
		more = Start(second)
	}
	return root, more, true
}

func (c *Checker) syntax(err error) {
	if _, ok := errors.AsType[*ParserPanic](err); ok && c.Rules.Quiet {
		c.AddLine(0, "", "invalid YAML: parser failed")
		return
	}
	line, msg := Syntax(err)
	c.AddLine(line, "", "invalid YAML: %s", msg)
}

// NotAlias refuses an alias (and, under Rules.Anchors, an anchor) at n.
func (c *Checker) NotAlias(n *yaml.Node, field string) bool {
	switch {
	case c.Rules.Anchors && (n.Kind == yaml.AliasNode || n.Anchor != ""):
		c.Add(n, field, "YAML anchors and aliases are not supported; write the value out")
		return false
	case n.Kind == yaml.AliasNode:
		c.Add(n, field, "YAML aliases (*%s) are not supported; write the value out", n.Value)
		return false
	}
	return true
}

// Mapping is a YAML mapping checked against its known keys.
type Mapping struct {
	Node *yaml.Node
	Path string
	// Values holds the value of every known key present once, null ones included.
	Values map[string]*yaml.Node
}

// Get returns the value under key, or nil when it is absent or null.
func (m Mapping) Get(key string) *yaml.Node {
	if n := m.Values[key]; !IsNull(n) {
		return n
	}
	return nil
}

// Field names key inside the mapping.
func (m Mapping) Field(key string) string { return Join(m.Path, key) }

// Mapping checks that n is a mapping whose keys are all known and unique. A null node
// is an empty mapping, so `approval:` alone reports the missing fields inside it. ok is
// false when n is not a mapping at all.
func (c *Checker) Mapping(n *yaml.Node, path string, known ...string) (m Mapping, ok bool) {
	m = Mapping{Node: n, Path: path, Values: map[string]*yaml.Node{}}
	if IsNull(n) {
		return m, true
	}
	if !c.NotAlias(n, path) {
		return m, false
	}
	if n.Kind != yaml.MappingNode {
		c.Add(n, path, "must be a mapping of fields (%s)", strings.Join(known, ", "))
		return m, false
	}
	keyLines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case c.Rules.MergeKeys && (k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge"):
			c.Add(k, path, "field names must be plain strings (no merge keys)")
			continue
		case k.Kind != yaml.ScalarNode:
			c.Add(k, path, "field names must be plain strings")
			continue
		}
		field := Join(path, k.Value)
		if first, dup := keyLines[k.Value]; dup {
			c.Add(k, field, "duplicate field (first at line %d)", first)
			continue
		}
		keyLines[k.Value] = k.Line
		if !slices.Contains(known, k.Value) {
			c.Add(k, field, "unknown field%s", c.Suggest(k.Value, known))
			continue
		}
		m.Values[k.Value] = v
	}
	return m, true
}

// Required returns the value under key, or reports it missing at the line of the null
// value, or of the mapping when the key is absent.
func (c *Checker) Required(m Mapping, key, hint string) *yaml.Node {
	n := m.Get(key)
	if n == nil {
		at := m.Node
		if v := m.Values[key]; v != nil {
			at = v // present but null
		}
		c.Add(at, m.Field(key), "required field is missing%s", hint)
	}
	return n
}

// List calls each for every item of the sequence n. example, if any, shows the
// expected shape in the message when n is not a list.
func (c *Checker) List(n *yaml.Node, field, example string, each func(i int, n *yaml.Node)) bool {
	if !c.NotAlias(n, field) {
		return false
	}
	if n.Kind != yaml.SequenceNode {
		if example == "" {
			c.Add(n, field, "must be a list")
		} else {
			c.Add(n, field, "must be a list, e.g. %s", example)
		}
		return false
	}
	for i, item := range n.Content {
		each(i, item)
	}
	return true
}

// Suggest returns ` (did you mean "x"?)` for the known word nearest to got within the
// Rules' distance, or "".
func (c *Checker) Suggest(got string, known []string) string {
	limit := 2
	if c.Rules.Near != nil {
		limit = c.Rules.Near(got)
	}
	return Suggest(got, known, limit)
}

// Suggest returns ` (did you mean "x"?)` for the first known word nearest to got, if
// it is at most limit edits away and not got itself, so a typo's fix is obvious; or "".
func Suggest(got string, known []string, limit int) string {
	best, bestDist := "", limit+1
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
