package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
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

var yamlLineRE = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

// decodeYAML decodes data over c (which holds the defaults) and records field lines in c.src.
func decodeYAML(file string, data []byte, c *Config) (probs []Problem) {
	d := &decoder{file: file, lines: c.src.lines, budget: nodeBudget}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root, extra yaml.Node
	if err := safeDecode(dec, &root, file, &probs); errors.Is(err, io.EOF) {
		return nil // only comments
	} else if err != nil {
		return probs
	}
	// Exactly one document.
	if err := safeDecode(dec, &extra, file, &probs); err == nil {
		return []Problem{{File: file, Line: extra.Line, Message: "only one YAML document is allowed"}}
	} else if !errors.Is(err, io.EOF) {
		return probs
	}

	n := &root
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	d.decode(n, reflectValueOf(c), "", n.Line)
	return d.problems
}

// safeDecode decodes one document into n, turning a syntax error (or a panic in the parser) into
// a problem appended to probs. It returns io.EOF at the end of the stream.
func safeDecode(dec *yaml.Decoder, n *yaml.Node, file string, probs *[]Problem) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("yaml parser failure")
			*probs = append(*probs, Problem{File: file, Message: "invalid YAML"})
		}
	}()
	err = dec.Decode(n)
	if err != nil && !errors.Is(err, io.EOF) {
		*probs = append(*probs, syntaxProblem(file, err))
	}
	return err
}

// syntaxProblem turns "yaml: line 3: mapping values are not allowed…" into a Problem.
func syntaxProblem(file string, err error) Problem {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{File: file, Line: line, Message: "invalid YAML: " + m[2]}
	}
	if len(msg) > 6 && msg[:6] == "yaml: " {
		msg = msg[6:]
	}
	return Problem{File: file, Message: "invalid YAML: " + msg}
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
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			key, ok := d.key(k, path, seen)
			if !ok {
				continue
			}
			e := reflect.New(t.Elem()).Elem()
			d.decode(val, e, joinPath(path, key), k.Line)
			m.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), e)
		}
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
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			key, ok := d.key(k, path, seen)
			if !ok {
				continue
			}
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
				continue
			}
			d.decode(val, v.Field(idx), joinPath(path, key), k.Line)
		}
	default:
		d.add(keyLine, path, "unsupported field type %s", t) // a bug in Config, not in the file
	}
}

// key checks a mapping key: a plain scalar, not a merge key, not seen before at this level.
func (d *decoder) key(k *yaml.Node, path string, seen map[string]int) (string, bool) {
	if k.Kind != yaml.ScalarNode || isNull(k) {
		d.add(k.Line, path, "mapping keys must be plain names")
		return "", false
	}
	if k.ShortTag() == "!!merge" {
		d.add(k.Line, path, "merge keys (<<) are not supported")
		return "", false
	}
	key := k.Value
	if prev, dup := seen[key]; dup {
		d.add(k.Line, joinPath(path, key), "duplicate key (first set on line %d)", prev)
		return "", false
	}
	seen[key] = k.Line
	return key, true
}
