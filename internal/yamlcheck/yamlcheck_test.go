package yamlcheck

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// inventoryRules are the strict rules inventory uses; the tests pin what each field changes.
var inventoryRules = Rules{Anchors: true, MergeKeys: true, Quiet: true, Near: Scaled}

// check runs fn over the root of src with rules and returns the problems, one a line.
func check(t *testing.T, rules Rules, src string, fn func(c *Checker, root *yaml.Node)) string {
	t.Helper()
	c := &Checker{File: "f.yaml", Rules: rules}
	root, _, ok := c.Document([]byte(src))
	if ok && root != nil {
		fn(c, root)
	}
	if err := c.Err(); err != nil {
		return err.Error()
	}
	return ""
}

func TestProblemError(t *testing.T) {
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "f", Message: "m"}, "f: m"},
		{Problem{File: "f", Line: 3, Message: "m"}, "f:3: m"},
		{Problem{File: "f", Line: 3, Field: "a.b", Message: "m"}, "f:3: a.b: m"},
		{Problem{File: "f", Field: "a", Message: "m"}, "f: a: m"},
	} {
		if got := tc.p.Error(); got != tc.want {
			t.Errorf("%#v.Error() = %q, want %q", tc.p, got, tc.want)
		}
	}
	ps := Problems{{File: "f", Line: 1, Message: "a"}, {File: "g", Message: "b"}}
	if got := ps.Error(); got != "f:1: a\ng: b" {
		t.Errorf("Problems.Error() = %q", got)
	}
	// The JSON shape is what `sever runbook lint --json` and the API print.
	b, _ := json.Marshal(ps)
	if want := `[{"file":"f","line":1,"message":"a"},{"file":"g","message":"b"}]`; string(b) != want {
		t.Errorf("json = %s, want %s", b, want)
	}
}

func TestErrSortsByLineStably(t *testing.T) {
	c := &Checker{File: "f"}
	if err := c.Err(); err != nil {
		t.Fatalf("no problems: Err() = %v, want nil", err)
	}
	c.AddLine(5, "", "e")
	c.AddLine(0, "", "whole file")
	c.AddLine(2, "", "first at 2")
	c.AddLine(2, "", "second at 2")
	want := "f: whole file\nf:2: first at 2\nf:2: second at 2\nf:5: e"
	var ps Problems
	if err := c.Err(); !errors.As(err, &ps) || err.Error() != want || c.Len() != 4 {
		t.Errorf("Err() = %T %q, want Problems %q", err, err, want)
	}
}

func TestDocument(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		wantRoot  int // line of the root node, 0 for none
		wantMore  int // line of the second document's first node, 0 for none
		wantErr   string
	}{
		{name: "empty", src: ""},
		{name: "comment only", src: "# nothing\n"},
		{name: "one", src: "a: 1\n", wantRoot: 1},
		{name: "explicit start", src: "---\na: 1\n", wantRoot: 2},
		{name: "two", src: "a: 1\n---\nb: 2\n", wantRoot: 1, wantMore: 3},
		// The empty second document's null node sits on the line after "---".
		{name: "empty second", src: "a: 1\n---\n", wantRoot: 1, wantMore: 3},
		// The parser names no line for this one.
		{name: "syntax", src: "a: b: c\n", wantErr: "f.yaml: invalid YAML: mapping values are not allowed in this context"},
		{name: "syntax in second", src: "a: 1\n---\nb: [\n", wantErr: "f.yaml:3: invalid YAML: did not find expected node content"},
		{name: "no line", src: "a: *x\n", wantErr: "f.yaml: invalid YAML: unknown anchor 'x' referenced"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Checker{File: "f.yaml"}
			root, more, ok := c.Document([]byte(tc.src))
			line := func(n *yaml.Node) int {
				if n == nil {
					return 0
				}
				return n.Line
			}
			if ok != (tc.wantErr == "") || line(root) != tc.wantRoot || line(more) != tc.wantMore {
				t.Errorf("Document = root line %d, more line %d, ok %v; want %d, %d, %v",
					line(root), line(more), ok, tc.wantRoot, tc.wantMore, tc.wantErr == "")
			}
			got := ""
			if err := c.Err(); err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Errorf("problems = %q, want %q", got, tc.wantErr)
			}
		})
	}
}

// TestParserPanic pins what a panic in the parser becomes: the value is shown only when
// the rules allow quoting the file.
func TestParserPanic(t *testing.T) {
	for _, tc := range []struct {
		rules Rules
		want  string
	}{
		{Rules{}, "f: invalid YAML: parser failed: boom"},
		{Rules{Quiet: true}, "f: invalid YAML: parser failed"},
	} {
		c := &Checker{File: "f", Rules: tc.rules}
		c.syntax(&ParserPanic{Value: "boom"})
		if got := c.Err().Error(); got != tc.want {
			t.Errorf("Quiet=%v: %q, want %q", tc.rules.Quiet, got, tc.want)
		}
	}
	line, msg := Syntax(&ParserPanic{Value: 1})
	if line != 0 || msg != "parser failed: 1" {
		t.Errorf("Syntax(panic) = %d, %q", line, msg)
	}
}

func TestMapping(t *testing.T) {
	known := []string{"name", "owner", "version"}
	for _, tc := range []struct {
		name, src string
		rules     Rules
		want      string
		wantKeys  string // keys of Values, in known order
	}{
		{name: "ok", src: "name: a\nowner: b\n", wantKeys: "name,owner"},
		{name: "null is empty", src: "~\n"},
		{name: "null value kept", src: "name:\n", wantKeys: "name"},
		{name: "duplicate", src: "name: a\nname: b\n", want: "f.yaml:2: name: duplicate field (first at line 1)", wantKeys: "name"},
		{name: "unknown with hint", src: "nmae: a\n", want: `f.yaml:1: nmae: unknown field (did you mean "name"?)`},
		{name: "unknown far", src: "colour: a\n", want: "f.yaml:1: colour: unknown field"},
		{name: "not a mapping", src: "[a]\n", want: "f.yaml:1: must be a mapping of fields (name, owner, version)"},
		{name: "complex key", src: "? [a]\n: b\n", want: "f.yaml:1: field names must be plain strings"},
		{name: "merge key is unknown", src: "<<: {name: a}\n", want: "f.yaml:1: <<: unknown field"},
		{name: "merge key refused", src: "<<: {name: a}\n", rules: inventoryRules,
			want: "f.yaml:1: field names must be plain strings (no merge keys)"},
		{name: "anchor allowed", src: "&a {name: a}\n", wantKeys: "name"},
		{name: "anchor refused", src: "&a {name: a}\n", rules: inventoryRules,
			want: "f.yaml:1: YAML anchors and aliases are not supported; write the value out"},
		// Scaled is stricter on a short word: "vrsion" is one edit from "version" either
		// way, "nam" (3 letters) allows 1, "nme" is 1; "ownr" vs "owner" 1.
		{name: "scaled hint", src: "vrsion: 1\n", rules: inventoryRules, want: `f.yaml:1: vrsion: unknown field (did you mean "version"?)`},
		{name: "fixed hint on short word", src: "nx: 1\n", want: `f.yaml:1: nx: unknown field`},
		{name: "fixed hint 2 edits", src: "nmea: 1\n", want: `f.yaml:1: nmea: unknown field (did you mean "name"?)`},
		{name: "scaled no hint 2 edits", src: "nmea: 1\n", rules: inventoryRules, want: `f.yaml:1: nmea: unknown field`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var keys []string
			got := check(t, tc.rules, tc.src, func(c *Checker, root *yaml.Node) {
				m, _ := c.Mapping(root, "", known...)
				for _, k := range known {
					if _, ok := m.Values[k]; ok {
						keys = append(keys, k)
					}
				}
			})
			if got != tc.want || strings.Join(keys, ",") != tc.wantKeys {
				t.Errorf("got %q keys %v, want %q keys %s", got, keys, tc.want, tc.wantKeys)
			}
		})
	}
}

func TestAliasInside(t *testing.T) {
	src := "a: &x {name: v}\nb: *x\n"
	for _, tc := range []struct {
		rules Rules
		want  string
	}{
		{Rules{}, "f.yaml:2: b: YAML aliases (*x) are not supported; write the value out"},
		{inventoryRules, "f.yaml:1: a: YAML anchors and aliases are not supported; write the value out\n" +
			"f.yaml:2: b: YAML anchors and aliases are not supported; write the value out"},
	} {
		got := check(t, tc.rules, src, func(c *Checker, root *yaml.Node) {
			m, _ := c.Mapping(root, "", "a", "b")
			c.Mapping(m.Get("a"), "a", "name")
			c.Mapping(m.Get("b"), "b", "name")
		})
		if got != tc.want {
			t.Errorf("Anchors=%v: %q, want %q", tc.rules.Anchors, got, tc.want)
		}
	}
}

func TestRequiredAndList(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      string
	}{
		{name: "present", src: "top:\n  name: a\n  items: [x]\n"},
		{name: "absent at mapping", src: "top:\n  other: 1\n  items: [x]\n",
			want: "f.yaml:2: top.name: required field is missing (a name)"},
		{name: "null at value", src: "top:\n  items: [x]\n  name:\n",
			want: "f.yaml:3: top.name: required field is missing (a name)"},
		{name: "not a list", src: "top:\n  name: a\n  items: x\n", want: "f.yaml:3: top.items: must be a list, e.g. [a, b]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := check(t, Rules{}, tc.src, func(c *Checker, root *yaml.Node) {
				top, _ := c.Mapping(root, "", "top")
				m, _ := c.Mapping(top.Get("top"), "top", "name", "items", "other")
				c.Required(m, "name", " (a name)")
				if n := m.Get("items"); n != nil {
					c.List(n, m.Field("items"), "[a, b]", func(int, *yaml.Node) {})
				}
			})
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	got := check(t, Rules{}, "x\n", func(c *Checker, root *yaml.Node) {
		c.List(root, "f", "", func(int, *yaml.Node) {})
	})
	if got != "f.yaml:1: f: must be a list" {
		t.Errorf("list without example: %q", got)
	}
}

func TestScalars(t *testing.T) {
	type kind string
	allowed := []kind{"auto", "approve"}
	for _, tc := range []struct {
		src, want string
	}{
		{"v: abc\n", ""},
		{"v: 12\n", `f.yaml:1: v: must be a string, not int; quote it: "12"`},
		{"v: [a]\n", "f.yaml:1: v: must be a string"},
		{"v: 7\n", ""},
		{"v: 7.5\n", `f.yaml:1: v: "7.5" is not a whole number`},
		{"v: 11\n", "f.yaml:1: v: 11 is out of range (1..10)"},
		{"v: true\n", ""},
		{"v: yes\n", `f.yaml:1: v: "yes" is not true or false`},
		{"v: 90s\n", ""},
		{"v: 2h\n", "f.yaml:1: v: 2h is out of range (1s..1h)"},
		{"v: soon\n", `f.yaml:1: v: "soon" is not a duration (e.g. 30s, 5m)`},
		{"v: {a: 1}\n", "f.yaml:1: v: must be a duration (e.g. 30s, 5m)"},
		{"v: auto\n", ""},
		{"v: autp\n", `f.yaml:1: v: unknown value "autp" (one of auto, approve) (did you mean "auto"?)`},
		{"v: [a, a, '']\n", "f.yaml:1: v[1]: \"a\" is listed twice\nf.yaml:1: v[2]: must not be empty"},
		{"v: [auto, auto]\n", `f.yaml:1: v[1]: "auto" is listed twice`},
	} {
		read := map[string]func(c *Checker, n *yaml.Node){
			"abc": func(c *Checker, n *yaml.Node) { c.String(n, "v") },
			"12":  func(c *Checker, n *yaml.Node) { c.String(n, "v") },
			"[a]": func(c *Checker, n *yaml.Node) { c.String(n, "v") },
			"7":   func(c *Checker, n *yaml.Node) { c.IntRange(n, "v", 1, 10) },
			"7.5": func(c *Checker, n *yaml.Node) { c.IntRange(n, "v", 1, 10) },
			"11":  func(c *Checker, n *yaml.Node) { c.IntRange(n, "v", 1, 10) },
			"true": func(c *Checker, n *yaml.Node) {
				if v, ok := c.Bool(n, "v"); !v || !ok {
					c.Add(n, "v", "read %v", v)
				}
			},
			"yes": func(c *Checker, n *yaml.Node) { c.Bool(n, "v") },
			"90s": func(c *Checker, n *yaml.Node) {
				if v, ok := c.Duration(n, "v", time.Second, time.Hour); v != 90*time.Second || !ok {
					c.Add(n, "v", "read %v", v)
				}
			},
			"2h":           func(c *Checker, n *yaml.Node) { c.Duration(n, "v", time.Second, time.Hour) },
			"soon":         func(c *Checker, n *yaml.Node) { c.Duration(n, "v", time.Second, time.Hour) },
			"{a: 1}":       func(c *Checker, n *yaml.Node) { c.Duration(n, "v", time.Second, time.Hour) },
			"auto":         func(c *Checker, n *yaml.Node) { OneOf(c, n, "v", allowed) },
			"autp":         func(c *Checker, n *yaml.Node) { OneOf(c, n, "v", allowed) },
			"[a, a, '']":   func(c *Checker, n *yaml.Node) { c.StringList(n, "v", "[a]") },
			"[auto, auto]": func(c *Checker, n *yaml.Node) { EnumList(c, n, "v", allowed) },
		}[strings.TrimSuffix(strings.TrimPrefix(tc.src, "v: "), "\n")]
		got := check(t, Rules{}, tc.src, func(c *Checker, root *yaml.Node) {
			m, _ := c.Mapping(root, "", "v")
			read(c, m.Get("v"))
		})
		if got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.src, got, tc.want)
		}
	}
}

func TestPaths(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Join("", "a"), "a"},
		{Join("a", "b"), "a.b"},
		{Index("a", 2), "a[2]"},
		{Join(Index("steps", 0), "id"), "steps[0].id"},
		{Short(time.Hour), "1h"},
		{Short(90 * time.Minute), "1h30m"},
		{Short(30 * time.Second), "30s"},
		{Suggest("name", []string{"name"}, 2), ""},
		{Suggest("nme", []string{"owner", "name"}, 2), ` (did you mean "name"?)`},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	var null yaml.Node
	if err := yaml.Unmarshal([]byte("a: ~\nb: {c: 1}\n"), &null); err != nil {
		t.Fatal(err)
	}
	root := null.Content[0]
	if !IsNull(nil) || !IsNull(root.Content[1]) || IsNull(root.Content[3]) || !HasKey(root, "b") || HasKey(root, "c") || HasKey(nil, "a") {
		t.Error("IsNull/HasKey disagree with a: ~, b: {c: 1}")
	}
}

// FuzzDocument feeds arbitrary bytes through Document and a mapping check under both
// rule sets: it must never panic, and every problem names the file and has a message.
func FuzzDocument(f *testing.F) {
	for _, s := range []string{"", "a: 1\n", "a: 1\n---\nb: 2\n", "&a [*a]\n", "? [a]\n: b\n", "<<: {a: 1}\n", "a: b: c\n", "a: &x 1\nb: *x\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		for _, rules := range []Rules{{}, inventoryRules} {
			c := &Checker{File: "fuzz.yaml", Rules: rules}
			root, _, ok := c.Document(src)
			if !ok && c.Len() == 0 {
				t.Fatal("Document failed without a problem")
			}
			if root != nil {
				m, _ := c.Mapping(root, "", "a", "b")
				for _, k := range []string{"a", "b"} {
					if n := m.Get(k); n != nil && n.Kind == yaml.ScalarNode {
						c.String(n, m.Field(k))
					}
				}
			}
			var ps Problems
			if err := c.Err(); err != nil && !errors.As(err, &ps) {
				t.Fatalf("Err() is %T", err)
			}
			for _, p := range ps {
				if p.File != "fuzz.yaml" || p.Message == "" {
					t.Fatalf("problem without file or message: %#v", p)
				}
			}
		}
	})
}
