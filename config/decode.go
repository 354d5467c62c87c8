package config

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sever-ir/sever/internal/yamlcheck"
)

// nodeBudget bounds how many nodes (counting alias expansions) one file may have, so a file of
// nested aliases cannot make decoding exponential.
const nodeBudget = 100_000

// decoder walks a yaml.Node tree against the Config type. It is strict (unknown keys, duplicate
// keys, wrong kinds and unparsable scalars are problems, all collected) and never quotes a value
// in a message.
type decoder struct {
	file     string
	lines    map[string]int
	problems []Problem
	budget   int
	overrun  bool
}

// decodeYAML decodes data over c (which holds the defaults) and records field lines in c.src.
func decodeYAML(file string, data []byte, c *Config) []Problem {
	d := &decoder{file: file, lines: c.src.lines, budget: nodeBudget}
	root, extra, err := yamlcheck.Decode(data)
	switch {
	case err != nil:
		return []Problem{syntaxProblem(file, err)}
	case root == nil:
		return nil // only comments
	case extra != nil: // exactly one document
		return []Problem{{File: file, Line: extra.Line, Message: "only one YAML document is allowed"}}
	}
	if len(root.Content) == 0 {
		return nil
	}
	n := root.Content[0]
	d.decode(n, reflectValueOf(c), "", n.Line)
	return d.problems
}

// syntaxProblem turns "yaml: line 3: mapping values are not allowed…" into a Problem. A panic
// in the parser says no more than "invalid YAML": its value may quote the file.
func syntaxProblem(file string, err error) Problem {
	if _, ok := errors.AsType[*yamlcheck.ParserPanic](err); ok {
		return Problem{File: file, Message: "invalid YAML"}
	}
	line, msg := yamlcheck.Syntax(err)
	return Problem{File: file, Line: line, Message: "invalid YAML: " + msg}
}

func (d *decoder) add(line int, path, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Field: path, Message: fmt.Sprintf(format, args...)})
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	}
	return "something else"
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// decode sets v from n. keyLine is the line of the key that holds n (for messages and lines).
// A null value leaves v as it is (the default).
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, keyLine int) {
	for hops := 0; n.Kind == yaml.AliasNode; hops++ {
		if n.Alias == nil || hops > 100 {
			d.add(keyLine, path, "unresolvable alias")
			return
		}
		n = n.Alias
	}
	if d.budget--; d.budget < 0 {
		if !d.overrun {
			d.overrun = true
			d.add(keyLine, path, "document too large or too deeply aliased")
		}
		return
	}
	if path != "" {
		d.lines[path] = keyLine
	}
	if isNull(n) {
		return
	}
	t := v.Type()
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			d.add(keyLine, path, "expected a duration such as 168h or 30m, got %s", kindName(n))
			return
		}
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			d.add(keyLine, path, "not a duration (use Go syntax such as 168h, 30m or 90s)")
			return
		}
		v.SetInt(int64(dur))
	case t.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.add(keyLine, path, "expected a single value, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case t.Kind() == reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
			d.add(keyLine, path, "expected true or false")
			return
		}
		v.SetBool(b)
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			d.add(keyLine, path, "expected an integer")
			return
		}
		if v.OverflowInt(i) {
			d.add(keyLine, path, "integer out of range")
			return
		}
		v.SetInt(i)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.add(keyLine, path, "expected a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			p := indexPath(path, i)
			if isNull(item) {
				d.add(item.Line, p, "empty list item")
				continue
			}
			d.decode(item, s.Index(i), p, item.Line)
		}
		v.Set(s)
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.add(keyLine, path, "expected a mapping, got %s", kindName(n))
			return
		}
		m := reflect.MakeMapWithSize(t, len(n.Content)/2)
		d.pairs(n, path, func(k, val *yaml.Node) {
			e := reflect.New(t.Elem()).Elem()
			d.decode(val, e, joinPath(path, k.Value), k.Line)
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), e)
		})
		v.Set(m)
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.add(keyLine, path, "expected a mapping, got %s", kindName(n))
			return
		}
		fields := fieldsOf(t)
		names := make([]string, len(fields))
		for i, f := range fields {
			names[i] = f.name
		}
		d.pairs(n, path, func(k, val *yaml.Node) {
			key := k.Value
			idx := -1
			for _, f := range fields {
				if f.name == key {
					idx = f.index
					break
				}
			}
			if idx < 0 {
				msg := "unknown field"
				if s := suggest(key, names); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				d.add(k.Line, joinPath(path, key), "%s", msg)
				return
			}
			d.decode(val, v.Field(idx), joinPath(path, key), k.Line)
		})
	default:
		d.add(keyLine, path, "unsupported field type %s", t) // a bug in Config, not in the file
	}
}

// pairs calls each for every key of mapping n that is a plain scalar, not a merge key and not
// seen before at this level; the others are problems.
func (d *decoder) pairs(n *yaml.Node, path string, each func(k, val *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		prev, dup := seen[k.Value]
		switch {
		case k.Kind != yaml.ScalarNode || isNull(k):
			d.add(k.Line, path, "mapping keys must be plain names")
		case k.ShortTag() == "!!merge":
			d.add(k.Line, path, "merge keys (<<) are not supported")
		case dup:
			d.add(k.Line, joinPath(path, k.Value), "duplicate key (first set on line %d)", prev)
		default:
			seen[k.Value] = k.Line
			each(k, val)
		}
	}
}
