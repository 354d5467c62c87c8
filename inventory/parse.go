package inventory

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/internal/yamlcheck"
)

// Problem is one thing wrong in an inventory file. Messages never quote a value: a
// secret pasted by mistake must not reach a log.
type Problem = yamlcheck.Problem

// Errors are every problem found in a file, in line order.
type Errors = yamlcheck.Problems

// Parse reads an inventory from memory; file names it in messages. On failure the error
// is an Errors listing every problem.
func Parse(file string, data []byte) (*Inventory, error) {
	if file == "" {
		file = "inventory"
	}
	p := &parser{yamlcheck.Checker{File: file, Rules: rules}}
	inv := &Inventory{File: file}
	if len(data) > maxFileBytes {
		p.Add(nil, "", "file is larger than %d bytes", maxFileBytes)
		return nil, p.Err()
	}
	root := p.document(data)
	if root != nil {
		top, _ := p.Mapping(root, "", "credentials")
		if n := top.Get("credentials"); n != nil {
			p.List(n, "credentials", "", func(i int, n *yaml.Node) {
				if e, ok := p.entry(n, fmt.Sprintf("credentials[%d]", i)); ok {
					inv.Entries = append(inv.Entries, e)
				}
			})
		}
		p.duplicates(inv.Entries)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return inv, nil
}

// rules are where inventory is stricter than the other YAML readers: a value is
// written out where it is used (no anchors, aliases or merge keys), so no entry
// silently shares another's owner or secrets; messages never quote the file; and a
// typo hint needs a word long enough to be sure of it.
var rules = yamlcheck.Rules{Anchors: true, MergeKeys: true, Quiet: true, Near: yamlcheck.Scaled}

type parser struct{ yamlcheck.Checker }

// document returns the root mapping of the only YAML document, or nil (an empty file is
// an empty inventory and reports nothing).
func (p *parser) document(data []byte) *yaml.Node {
	n, more, ok := p.Document(data)
	switch {
	case !ok:
		return nil
	case more != nil:
		p.Add(more, "", "only one YAML document is allowed")
		return nil
	case yamlcheck.IsNull(n):
		return nil
	case n.Kind != yaml.MappingNode:
		p.Add(n, "", "top level must be a mapping with a credentials list")
		return nil
	}
	return n
}

// str reads an optional string field; numbers and booleans must be quoted so that an
// account id such as 012345678901 keeps its leading zero.
func (p *parser) str(f yamlcheck.Mapping, key string) string {
	n := f.Get(key)
	if n == nil {
		return ""
	}
	field := f.Field(key)
	if !p.NotAlias(n, field) {
		return ""
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		p.Add(n, field, "must be a string (quote numbers, e.g. \"012345678901\")")
		return ""
	}
	if len(n.Value) > 1024 {
		p.Add(n, field, "is longer than 1024 characters")
		return ""
	}
	return n.Value
}

// required reads a string field that must be there. Unlike yamlcheck's Required, a
// missing one is reported at the entry, where the author adds it.
func (p *parser) required(f yamlcheck.Mapping, key, hint string) string {
	n := f.Get(key)
	if n == nil {
		p.Add(f.Node, f.Field(key), "required field is missing%s", hint)
		return ""
	}
	s := p.str(f, key)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && strings.TrimSpace(s) == "" {
		p.Add(n, f.Field(key), "must not be empty")
	}
	return s
}

func (p *parser) entry(n *yaml.Node, path string) (Entry, bool) {
	f, _ := p.Mapping(n, path, "provider", "type", "id", "principal", "account", "owner", "team", "secrets", "services")
	if f.Node.Kind != yaml.MappingNode {
		if yamlcheck.IsNull(n) {
			p.Add(n, path, "empty list item")
		}
		return Entry{}, false
	}
	before := p.Len()
	e := Entry{Line: n.Line}
	e.Provider = p.required(f, "provider", " (e.g. aws, anthropic, openai)")
	if e.Provider != "" && !providerRE.MatchString(e.Provider) {
		p.Add(f.Get("provider"), yamlcheck.Join(path, "provider"), "lowercase letters, digits, _ and -, at most 64")
	}
	if t := p.str(f, "type"); t != "" {
		e.Type = sever.CredentialType(t)
		if !e.Type.Valid() {
			p.Add(f.Get("type"), yamlcheck.Join(path, "type"), "unknown credential type (one of %s)", typeList())
		}
	}
	e.ID = p.str(f, "id")
	e.Principal = p.str(f, "principal")
	if e.ID == "" && e.Principal == "" {
		p.Add(n, yamlcheck.Join(path, "id"), "an id or a principal is required")
	}
	e.Account = p.str(f, "account")
	if e.Account != "" && e.Provider == "aws" && !awsAccount.MatchString(e.Account) {
		p.Add(f.Get("account"), yamlcheck.Join(path, "account"), "must be a 12-digit AWS account id (quote it)")
	}
	e.Owner = p.required(f, "owner", " (a person or team address to contact)")
	e.Team = p.str(f, "team")
	if sn := f.Get("secrets"); sn != nil {
		e.SecretsListed = true
		p.List(sn, yamlcheck.Join(path, "secrets"), "", func(i int, n *yaml.Node) {
			if s, ok := p.secret(n, fmt.Sprintf("%s.secrets[%d]", path, i)); ok {
				e.Secrets = append(e.Secrets, s)
			}
		})
	} else if _, present := f.Values["secrets"]; present {
		e.SecretsListed = true // `secrets: []` or `secrets:` says there are none
	}
	if sn := f.Get("services"); sn != nil {
		p.List(sn, yamlcheck.Join(path, "services"), "", func(i int, n *yaml.Node) {
			if s, ok := p.service(n, fmt.Sprintf("%s.services[%d]", path, i)); ok {
				e.Services = append(e.Services, s)
			}
		})
	}
	return e, p.Len() == before
}

func (p *parser) secret(n *yaml.Node, path string) (Secret, bool) {
	f, _ := p.Mapping(n, path, "id", "region", "account", "rotation")
	if f.Node.Kind != yaml.MappingNode {
		if yamlcheck.IsNull(n) {
			p.Add(n, path, "empty list item")
		}
		return Secret{}, false
	}
	before := p.Len()
	s := Secret{
		ID:       p.required(f, "id", " (the Secrets Manager name or ARN)"),
		Region:   p.str(f, "region"),
		Account:  p.str(f, "account"),
		Rotation: p.str(f, "rotation"),
	}
	if s.Region != "" && !awsRegion.MatchString(s.Region) {
		p.Add(f.Get("region"), yamlcheck.Join(path, "region"), "not an AWS region name such as us-east-1")
	}
	if s.Account != "" && !awsAccount.MatchString(s.Account) {
		p.Add(f.Get("account"), yamlcheck.Join(path, "account"), "must be a 12-digit AWS account id (quote it)")
	}
	if region, account := SecretARNParts(s.ID); region != "" {
		if s.Region != "" && s.Region != region {
			p.Add(f.Get("region"), yamlcheck.Join(path, "region"), "differs from the region in the secret's ARN")
		}
		if s.Account != "" && s.Account != account {
			p.Add(f.Get("account"), yamlcheck.Join(path, "account"), "differs from the account in the secret's ARN")
		}
	}
	if msg := validRotation(s.Rotation); msg != "" {
		p.Add(f.Get("rotation"), yamlcheck.Join(path, "rotation"), "%s", msg)
	}
	return s, p.Len() == before
}

func (p *parser) service(n *yaml.Node, path string) (Service, bool) {
	f, _ := p.Mapping(n, path, "name", "criticality", "notes")
	if f.Node.Kind != yaml.MappingNode {
		if yamlcheck.IsNull(n) {
			p.Add(n, path, "empty list item")
		}
		return Service{}, false
	}
	before := p.Len()
	s := Service{Name: p.required(f, "name", ""), Criticality: p.str(f, "criticality"), Notes: p.str(f, "notes")}
	if !criticalityOK(s.Criticality) {
		p.Add(f.Get("criticality"), yamlcheck.Join(path, "criticality"), "must be one of %s", strings.Join(Criticalities, ", "))
	}
	return s, p.Len() == before
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
			p.AddLine(e.Line, "credentials", "the same credential is already listed at line %d", first)
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
