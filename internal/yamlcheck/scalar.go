package yamlcheck

import (
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// These readers quote the value they refuse, so that the author sees what to fix; a
// reader whose files may hold secrets checks its strings itself.

// Scalar refuses anything but a single value at n; what names the expected value in
// the message ("a string", "a whole number").
func (c *Checker) Scalar(n *yaml.Node, field, what string) bool {
	if !c.NotAlias(n, field) {
		return false
	}
	if n.Kind != yaml.ScalarNode {
		c.Add(n, field, "must be %s", what)
		return false
	}
	return true
}

// String reads a string; a number or boolean must be quoted to be one.
func (c *Checker) String(n *yaml.Node, field string) (string, bool) {
	if !c.Scalar(n, field, "a string") {
		return "", false
	}
	if tag := n.ShortTag(); tag != "!!str" {
		c.Add(n, field, "must be a string, not %s; quote it: %q", strings.TrimPrefix(tag, "!!"), n.Value)
		return "", false
	}
	return n.Value, true
}

// Int reads a whole number.
func (c *Checker) Int(n *yaml.Node, field string) (int, bool) {
	if !c.Scalar(n, field, "a whole number") {
		return 0, false
	}
	var v int
	if n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		c.Add(n, field, "%q is not a whole number", n.Value)
		return 0, false
	}
	return v, true
}

// IntRange reads a whole number from lo to hi.
func (c *Checker) IntRange(n *yaml.Node, field string, lo, hi int) (int, bool) {
	v, ok := c.Int(n, field)
	if ok && (v < lo || v > hi) {
		c.Add(n, field, "%d is out of range (%d..%d)", v, lo, hi)
		return 0, false
	}
	return v, ok
}

// Bool reads true or false.
func (c *Checker) Bool(n *yaml.Node, field string) (bool, bool) {
	if !c.Scalar(n, field, "true or false") {
		return false, false
	}
	var v bool
	if n.ShortTag() != "!!bool" || n.Decode(&v) != nil {
		c.Add(n, field, "%q is not true or false", n.Value)
		return false, false
	}
	return v, true
}

// Duration reads a Go duration (30s, 5m) from lo to hi.
func (c *Checker) Duration(n *yaml.Node, field string, lo, hi time.Duration) (time.Duration, bool) {
	if !c.Scalar(n, field, "a duration (e.g. 30s, 5m)") {
		return 0, false
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		c.Add(n, field, "%q is not a duration (e.g. 30s, 5m)", n.Value)
		return 0, false
	}
	if v < lo || v > hi {
		c.Add(n, field, "%s is out of range (%s..%s)", n.Value, Short(lo), Short(hi))
		return 0, false
	}
	return v, true
}

// Short prints 1h rather than 1h0m0s.
func Short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// StringList reads a list of distinct, non-empty strings.
func (c *Checker) StringList(n *yaml.Node, field, example string) []string {
	var out []string
	c.List(n, field, example, func(i int, e *yaml.Node) {
		f := Index(field, i)
		s, ok := c.String(e, f)
		switch {
		case !ok:
		case strings.TrimSpace(s) == "":
			c.Add(e, f, "must not be empty")
		case slices.Contains(out, s):
			c.Add(e, f, "%q is listed twice", s)
		default:
			out = append(out, s)
		}
	})
	return out
}

// OneOf reads a string that must be one of allowed.
func OneOf[T ~string](c *Checker, n *yaml.Node, field string, allowed []T) (T, bool) {
	s, ok := c.String(n, field)
	if !ok {
		return "", false
	}
	if !slices.Contains(allowed, T(s)) {
		names := make([]string, len(allowed))
		for i, a := range allowed {
			names[i] = string(a)
		}
		c.Add(n, field, "unknown value %q (one of %s)%s", s, strings.Join(names, ", "), c.Suggest(s, names))
		return "", false
	}
	return T(s), true
}

// EnumList reads a list of distinct values from allowed.
func EnumList[T ~string](c *Checker, n *yaml.Node, field string, allowed []T) []T {
	var out []T
	c.List(n, field, "["+string(allowed[0])+"]", func(i int, e *yaml.Node) {
		f := Index(field, i)
		v, ok := OneOf(c, e, f, allowed)
		switch {
		case !ok:
		case slices.Contains(out, v):
			c.Add(e, f, "%q is listed twice", v)
		default:
			out = append(out, v)
		}
	})
	return out
}
