package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
)

// TokenSet checks token values the way the API checks bearer tokens, for front
// ends that take a token some other way: the web UI's login form and session
// cookie. The same tokens, the same constant-time comparison, the same scopes.
type TokenSet struct {
	tokens []tokenEntry
}

// NewTokenSet checks tokens as New does and keeps only their digests.
func NewTokenSet(tokens []Token) (*TokenSet, error) {
	t, err := compileTokens(tokens)
	if err != nil {
		return nil, fmt.Errorf("httpapi.NewTokenSet: %w", err)
	}
	return &TokenSet{tokens: t}, nil
}

// Check returns the name of the token whose value is value, when that token
// carries scope.
func (s *TokenSet) Check(value, scope string) (name string, ok bool) {
	t := matchToken(s.tokens, value)
	if t == nil || !t.allows(scope) {
		return "", false
	}
	return t.name, true
}

// SessionKey returns a MAC key for sessions of the named token, when that token
// carries scope. The key derives from the token's value, so a session signed with
// it stops verifying when the token is removed, changed or loses the scope, and it
// works the same on every replica and after a restart without a key of its own.
func (s *TokenSet) SessionKey(name, scope string) ([]byte, bool) {
	for i := range s.tokens {
		if t := &s.tokens[i]; t.name == name && t.allows(scope) {
			mac := hmac.New(sha256.New, t.digest[:])
			mac.Write([]byte("sever session key v1"))
			return mac.Sum(nil), true
		}
	}
	return nil, false
}
