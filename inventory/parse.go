package inventory

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

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/typo"
)

// Problem is one thing wrong in an inventory file. Messages never quote a value: a
// secret pasted by mistake must not reach a log.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

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

// Errors are every problem found in a file, in line order.
type Errors []Problem

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse reads an inventory from memory; file names it in messages. On failure the error
// is an Errors listing every problem.
func Parse(file string, data []byte) (*Inventory, error) {
	if file == "" {
		file = "inventory"
	}
	p := &parser{file: file}
	inv := &Inventory{File: file}
	if len(data) > maxFileBytes {
		p.add(nil, "", "file is larger than %d bytes", maxFileBytes)
		return nil, p.errs
	}
	root := p.document(data)
	if root != nil {
		top := p.mapping(root, "", "credentials")
		if n := top.get("credentials"); n != nil {
			p.list(n, "credentials", func(i int, n *yaml.Node) {
				if e, ok := p.entry(n, fmt.Sprintf("credentials[%d]", i)); ok {
					inv.Entries = append(inv.Entries, e)
				}
			})
		}
		p.duplicates(inv.Entries)
	}
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b Problem) int { return a.Line - b.Line })
		return nil, p.errs
	}
	return inv, nil
}

type parser struct {
	file string
	errs Errors
}

func (p *parser) add(n *yaml.Node, field, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, Problem{File: p.file, Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
}

// document returns the root mapping of the only YAML document, or nil (an empty file is
// an empty inventory and reports nothing).
func (p *parser) document(data []byte) (root *yaml.Node) {
	// The parser is third-party code; a panic in it must become a problem, not a crash.
	defer func() {
		if r := recover(); r != nil {
			root = nil
			p.add(nil, "", "invalid YAML: parser failed")
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			p.syntax(err)
		}
		return nil
	}
	var more yaml.Node
	if err := dec.Decode(&more); err == nil {
		at := &more
		if len(more.Content) > 0 {
			at = more.Content[0]
		}
		p.add(at, "", "only one YAML document is allowed")
		return nil
	} else if !errors.Is(err, io.EOF) {
		p.syntax(err)
		return nil
	}
	if len(doc.Content) == 0 {
		return nil
	}
	n := doc.Content[0]
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.add(n, "", "top level must be a mapping with a credentials list")
		return nil
	}
	return n
}

func (p *parser) syntax(err error) {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.errs = append(p.errs, Problem{File: p.file, Line: line, Message: "invalid YAML: " + m[2]})
		return
	}
	p.add(nil, "", "invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// fields is a mapping checked against its known keys.
type fields struct {
	node   *yaml.Node
	path   string
	values map[string]*yaml.Node
	keys   map[string]*yaml.Node
}

func (f fields) get(key string) *yaml.Node {
	if n := f.values[key]; !isNull(n) {
		return n
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (p *parser) noAlias(n *yaml.Node, field string) bool {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		p.add(n, field, "YAML anchors and aliases are not supported; write the value out")
		return false
	}
	return true
}

func (p *parser) mapping(n *yaml.Node, path string, known ...string) fields {
	f := fields{node: n, path: path, values: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	if isNull(n) || !p.noAlias(n, path) {
		return f
	}
	if n.Kind != yaml.MappingNode {
		p.add(n, path, "must be a mapping of fields (%s)", strings.Join(known, ", "))
		return f
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			p.add(k, path, "field names must be plain strings (no merge keys)")
			continue
		}
		field := join(path, k.Value)
		if first, dup := f.keys[k.Value]; dup {
			p.add(k, field, "duplicate field (first at line %d)", first.Line)
			continue
		}
		f.keys[k.Value] = k
		if !slices.Contains(known, k.Value) {
			p.add(k, field, "unknown field%s", suggest(k.Value, known))
			continue
		}
		f.values[k.Value] = v
	}
	return f
}

func (p *parser) list(n *yaml.Node, field string, each func(i int, n *yaml.Node)) {
	if !p.noAlias(n, field) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.add(n, field, "must be a list")
		return
	}
	for i, item := range n.Content {
		each(i, item)
	}
}

// str reads an optional string field; numbers and booleans must be quoted so that an
// account id such as 012345678901 keeps its leading zero.
func (p *parser) str(f fields, key string) string {
	n := f.get(key)
	if n == nil {
		return ""
	}
	field := join(f.path, key)
	if !p.noAlias(n, field) {
		return ""
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		p.add(n, field, "must be a string (quote numbers, e.g. \"012345678901\")")
		return ""
	}
	if len(n.Value) > 1024 {
		p.add(n, field, "is longer than 1024 characters")
		return ""
	}
	return n.Value
}

func (p *parser) required(f fields, key, hint string) string {
	n := f.get(key)
	if n == nil {
		p.add(f.node, join(f.path, key), "required field is missing%s", hint)
		return ""
	}
	s := p.str(f, key)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && strings.TrimSpace(s) == "" {
		p.add(n, join(f.path, key), "must not be empty")
	}
	return s
}

func (p *parser) entry(n *yaml.Node, path string) (Entry, bool) {
	f := p.mapping(n, path, "provider", "type", "id", "principal", "account", "owner", "team", "secrets", "services")
	if f.node.Kind != yaml.MappingNode {
		if isNull(n) {
			p.add(n, path, "empty list item")
		}
		return Entry{}, false
	}
	before := len(p.errs)
	e := Entry{Line: n.Line}
	e.Provider = p.required(f, "provider", " (e.g. aws, anthropic, openai)")
	if e.Provider != "" && !providerRE.MatchString(e.Provider) {
		p.add(f.get("provider"), join(path, "provider"), "lowercase letters, digits, _ and -, at most 64")
	}
	if t := p.str(f, "type"); t != "" {
		e.Type = sever.CredentialType(t)
		if !e.Type.Valid() {
			p.add(f.get("type"), join(path, "type"), "unknown credential type (one of %s)", typeList())
		}
	}
	e.ID = p.str(f, "id")
	e.Principal = p.str(f, "principal")
	if e.ID == "" && e.Principal == "" {
		p.add(n, join(path, "id"), "an id or a principal is required")
	}
	e.Account = p.str(f, "account")
	if e.Account != "" && e.Provider == "aws" && !awsAccount.MatchString(e.Account) {
		p.add(f.get("account"), join(path, "account"), "must be a 12-digit AWS account id (quote it)")
	}
	e.Owner = p.required(f, "owner", " (a person or team address to contact)")
	e.Team = p.str(f, "team")
	if sn := f.get("secrets"); sn != nil {
		e.SecretsListed = true
		p.list(sn, join(path, "secrets"), func(i int, n *yaml.Node) {
			if s, ok := p.secret(n, fmt.Sprintf("%s.secrets[%d]", path, i)); ok {
				e.Secrets = append(e.Secrets, s)
			}
		})
	} else if _, present := f.keys["secrets"]; present {
		e.SecretsListed = true // `secrets: []` or `secrets:` says there are none
	}
	if sn := f.get("services"); sn != nil {
		p.list(sn, join(path, "services"), func(i int, n *yaml.Node) {
			if s, ok := p.service(n, fmt.Sprintf("%s.services[%d]", path, i)); ok {
				e.Services = append(e.Services, s)
			}
		})
	}
	return e, len(p.errs) == before
}

func (p *parser) secret(n *yaml.Node, path string) (Secret, bool) {
	f := p.mapping(n, path, "id", "region", "account", "rotation")
	if f.node.Kind != yaml.MappingNode {
		if isNull(n) {
			p.add(n, path, "empty list item")
		}
		return Secret{}, false
	}
	before := len(p.errs)
	s := Secret{
		ID:       p.required(f, "id", " (the Secrets Manager name or ARN)"),
		Region:   p.str(f, "region"),
		Account:  p.str(f, "account"),
		Rotation: p.str(f, "rotation"),
	}
	if s.Region != "" && !awsRegion.MatchString(s.Region) {
		p.add(f.get("region"), join(path, "region"), "not an AWS region name such as us-east-1")
	}
	if s.Account != "" && !awsAccount.MatchString(s.Account) {
		p.add(f.get("account"), join(path, "account"), "must be a 12-digit AWS account id (quote it)")
	}
	if region, account := SecretARNParts(s.ID); region != "" {
		if s.Region != "" && s.Region != region {
			p.add(f.get("region"), join(path, "region"), "differs from the region in the secret's ARN")
		}
		if s.Account != "" && s.Account != account {
			p.add(f.get("account"), join(path, "account"), "differs from the account in the secret's ARN")
		}
	}
	if msg := validRotation(s.Rotation); msg != "" {
		p.add(f.get("rotation"), join(path, "rotation"), "%s", msg)
	}
	return s, len(p.errs) == before
}

func (p *parser) service(n *yaml.Node, path string) (Service, bool) {
	f := p.mapping(n, path, "name", "criticality", "notes")
	if f.node.Kind != yaml.MappingNode {
		if isNull(n) {
			p.add(n, path, "empty list item")
		}
		return Service{}, false
	}
	before := len(p.errs)
	s := Service{Name: p.required(f, "name", ""), Criticality: p.str(f, "criticality"), Notes: p.str(f, "notes")}
	if !criticalityOK(s.Criticality) {
		p.add(f.get("criticality"), join(path, "criticality"), "must be one of %s", strings.Join(Criticalities, ", "))
	}
	return s, len(p.errs) == before
}

// duplicates rejects two entries for the same credential: Lookup would silently take the
// first, and the second's owner and secrets would never be seen.
func (p *parser) duplicates(entries []Entry) {
	byID := map[string]int{}
	byPrincipal := map[string]int{}
	for _, e := range entries {
		var key string
		seen := byID
		if e.ID != "" {
			key = strings.ToLower(e.Provider) + "\x00" + e.ID
		} else {
			key = strings.ToLower(e.Provider) + "\x00" + e.Account + "\x00" + e.Principal
			seen = byPrincipal
		}
		if first, dup := seen[key]; dup {
			p.errs = append(p.errs, Problem{File: p.file, Line: e.Line, Field: "credentials",
				Message: fmt.Sprintf("the same credential is already listed at line %d", first)})
			continue
		}
		seen[key] = e.Line
	}
}

func typeList() string {
	s := make([]string, len(sever.CredentialTypes))
	for i, t := range sever.CredentialTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// suggest names the known field closest to a likely typo.
func suggest(s string, known []string) string {
	best, bestD := "", 1<<30
	for _, k := range known {
		if d := typo.Distance(s, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" || bestD > max(1, min(3, len(s)/3)) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}
