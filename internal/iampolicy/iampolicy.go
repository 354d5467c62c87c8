// Package iampolicy reads AWS IAM policy documents: the statement grammar (a
// Statement that is one object or a list, values that are a string or a list of
// strings) and IAM's * and ? wildcards. deploy uses it to check the policy a
// worker runs with; the drill cloud uses it before evaluating its Deny
// statements, which stays in drillcloud. Evaluation differs between the two
// (deploy asks what is allowed, the drill cloud what is denied, with
// conditions), so it stays with each caller.
package iampolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Document is a parsed IAM policy document.
type Document struct {
	Version   string
	ID        string
	Statement []Statement
}

// Statement is one statement of a Document. Exactly one of Action and NotAction
// is set, and exactly one of Resource and NotResource, as IAM requires.
type Statement struct {
	Sid          string
	Effect       string // "Allow" or "Deny"
	Principal    json.RawMessage
	NotPrincipal json.RawMessage
	Action       StringList
	NotAction    StringList
	Resource     StringList
	NotResource  StringList
	// Condition maps an operator (StringEquals, DateLessThan, …) to context keys
	// and their raw values; callers that evaluate conditions decode the values.
	Condition map[string]map[string]json.RawMessage
}

// StringList is IAM's "a string or a list of strings".
type StringList []string

// UnmarshalJSON accepts a JSON string or a JSON list of strings.
func (s *StringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = StringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("want a string or a list of strings")
	}
	*s = many
	return nil
}

// Mode says how strictly Parse reads a document.
type Mode int

const (
	// Lenient ignores keys it does not know and accepts a Principal, as the
	// drill cloud does for any policy a drill or sever hands it.
	Lenient Mode = iota
	// Identity reads an identity policy (one attached to a user or role) as IAM's
	// validator does: an unknown key or a Principal is an error.
	Identity
)

// Parse parses an IAM policy document. Statement may be one object or a list
// (possibly empty); every statement needs an Effect of Allow or Deny, one of
// Action and NotAction, and one of Resource and NotResource. Errors name the
// statement by index and Sid.
func Parse(data []byte, mode Mode) (*Document, error) {
	var raw struct {
		Version   string
		ID        string `json:"Id"`
		Statement json.RawMessage
	}
	if err := decode(data, &raw, mode); err != nil {
		return nil, fmt.Errorf("not a policy document: %w", err)
	}
	st := bytes.TrimSpace(raw.Statement)
	if len(st) == 0 || bytes.Equal(st, []byte("null")) {
		return nil, errors.New("no Statement")
	}
	var list []json.RawMessage
	if st[0] == '{' {
		list = []json.RawMessage{st}
	} else if err := json.Unmarshal(st, &list); err != nil {
		return nil, fmt.Errorf("Statement: %w", err)
	}
	doc := &Document{Version: raw.Version, ID: raw.ID, Statement: make([]Statement, 0, len(list))}
	for i, rs := range list {
		var s Statement
		if err := decode(rs, &s, mode); err != nil {
			//lint:ignore ST1005 IAM's own field name starts the message
			return nil, fmt.Errorf("Statement[%d]: %w", i, err)
		}
		name := fmt.Sprintf("Statement[%d]", i)
		if s.Sid != "" {
			name += " (" + s.Sid + ")"
		}
		if err := s.check(mode); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		doc.Statement = append(doc.Statement, s)
	}
	return doc, nil
}

func decode(b []byte, v any, mode Mode) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if mode == Identity {
		dec.DisallowUnknownFields()
	}
	return dec.Decode(v)
}

func (s Statement) check(mode Mode) error {
	switch {
	case s.Effect != "Allow" && s.Effect != "Deny":
		//lint:ignore ST1005 IAM's own field name starts the message
		return fmt.Errorf("Effect %q is neither Allow nor Deny", s.Effect)
	case (len(s.Action) == 0) == (len(s.NotAction) == 0):
		return errors.New("needs one of Action and NotAction")
	case (len(s.Resource) == 0) == (len(s.NotResource) == 0):
		return errors.New("needs one of Resource and NotResource")
	case mode == Identity && (s.Principal != nil || s.NotPrincipal != nil):
		return errors.New("an identity policy names no Principal")
	}
	return nil
}

// MatchesAction says whether the statement applies to action. Actions compare
// without regard to case, as IAM's do.
func (s Statement) MatchesAction(action string) bool {
	if len(s.NotAction) > 0 {
		return !AnyMatch(s.NotAction, action, true)
	}
	return AnyMatch(s.Action, action, true)
}

// MatchesResource says whether the statement applies to the resource ARN res.
// ARNs compare case-sensitively.
func (s Statement) MatchesResource(res string) bool {
	if len(s.NotResource) > 0 {
		return !AnyMatch(s.NotResource, res, false)
	}
	return AnyMatch(s.Resource, res, false)
}

// AnyMatch says whether any of patterns matches s; with fold, without regard to
// case.
func AnyMatch(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if Match(p, s, fold) {
			return true
		}
	}
	return false
}

// Match matches IAM's wildcards: * any run of characters, ? any one. There are
// no character classes and '/' is an ordinary character (unlike path.Match); a
// '*' or '?' in s is a character, never a wildcard. With fold, the comparison
// ignores case.
func Match(pattern, s string, fold bool) bool {
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	// Iterative matcher with one backtrack point: linear in practice, no recursion.
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*': // before the literal case: a '*' in s is no wildcard
			star, mark = p, i
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case star >= 0:
			p, mark = star+1, mark+1
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
