package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/sever-ir/sever"
)

// MinTokenLength is the shortest token value New accepts; shorter ones are guessable.
const MinTokenLength = 16

type tokenEntry struct {
	name     string
	approver string
	digest   [sha256.Size]byte
	scopes   []string // nil means every scope but explicitScopes
}

func (t *tokenEntry) allows(scope string) bool {
	if t.scopes == nil {
		return !slices.Contains(explicitScopes, scope)
	}
	return slices.Contains(t.scopes, scope)
}

// compileTokens checks the configured tokens and keeps only their digests, so the
// comparison at request time has a fixed length whatever the token lengths are.
func compileTokens(tokens []Token) ([]tokenEntry, error) {
	if len(tokens) == 0 {
		return nil, errors.New("no tokens configured; every API route except /healthz needs one")
	}
	names := map[string]bool{}
	digests := map[[sha256.Size]byte]string{}
	out := make([]tokenEntry, 0, len(tokens))
	for i, t := range tokens {
		// Errors name the token by index and name only, never by value.
		switch {
		case strings.TrimSpace(t.Name) == "":
			return nil, fmt.Errorf("token %d: name is required", i)
		case names[t.Name]:
			return nil, fmt.Errorf("token %d (%q): duplicate name", i, t.Name)
		case len(t.Value) < MinTokenLength:
			return nil, fmt.Errorf("token %d (%q): value is shorter than %d characters", i, t.Name, MinTokenLength)
		case !isB64Token(t.Value):
			return nil, fmt.Errorf("token %d (%q): value has characters a bearer token cannot carry (RFC 6750 b64token)", i, t.Name)
		}
		for _, sc := range t.Scopes {
			if !slices.Contains(Scopes, sc) {
				return nil, fmt.Errorf("token %d (%q): unknown scope %q (known: %s)", i, t.Name, sc, strings.Join(Scopes, ", "))
			}
		}
		d := sha256.Sum256([]byte(t.Value))
		if other, dup := digests[d]; dup {
			return nil, fmt.Errorf("token %d (%q): same value as token %q", i, t.Name, other)
		}
		names[t.Name], digests[d] = true, t.Name
		e := tokenEntry{name: t.Name, approver: t.Approver, digest: d}
		if e.approver == "" {
			e.approver = t.Name
		}
		if len(t.Scopes) > 0 {
			e.scopes = slices.Clone(t.Scopes)
		}
		out = append(out, e)
	}
	return out, nil
}

// isB64Token reports whether v fits RFC 6750's b64token, the only form an
// Authorization header can carry unambiguously.
func isB64Token(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-._~+/", c) >= 0:
		case c == '=' && i > 0: // padding only at the end
			if strings.TrimRight(v[i:], "=") != "" {
				return false
			}
		default:
			return false
		}
	}
	return v != ""
}

type principalKey struct{}

// Principal returns the name of the token that authenticated the request, or "".
func Principal(ctx context.Context) string {
	if t, ok := ctx.Value(principalKey{}).(*tokenEntry); ok {
		return t.name
	}
	return ""
}

// Approver returns the approval identity of the token that authenticated the request.
func Approver(ctx context.Context) string {
	if t, ok := ctx.Value(principalKey{}).(*tokenEntry); ok {
		return t.approver
	}
	return ""
}

// auth wraps h so it runs only for a bearer token that carries scope.
func (s *Server) auth(scope string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, fail := s.authenticate(r.Header.Get("Authorization"))
		if fail != nil {
			challenge := `Bearer realm="sever"`
			if fail.rfcError != "" {
				challenge += fmt.Sprintf(`, error=%q`, fail.rfcError)
			}
			w.Header().Set("WWW-Authenticate", challenge)
			writeError(w, &sever.Error{Code: sever.EUNAUTHORIZED, Message: fail.message})
			return
		}
		if info := requestInfoFrom(r.Context()); info != nil {
			info.principal = tok.name
		}
		if !tok.allows(scope) {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="sever", error="insufficient_scope", scope=%q`, scope))
			writeError(w, sever.Errorf(EFORBIDDEN, "", "token %q lacks scope %q", tok.name, scope))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, tok)))
	})
}

// authFailure says why a request is unauthenticated; rfcError is the RFC 6750 error
// code for the WWW-Authenticate challenge ("" when no credentials were sent).
type authFailure struct {
	message, rfcError string
}

// matchToken finds the token whose value is value, or nil. It checks every token
// without stopping early, so timing does not tell which configured token (if any)
// matched.
func matchToken(tokens []tokenEntry, value string) *tokenEntry {
	presented := sha256.Sum256([]byte(value))
	var match *tokenEntry
	for i := range tokens {
		if subtle.ConstantTimeCompare(presented[:], tokens[i].digest[:]) == 1 {
			match = &tokens[i]
		}
	}
	return match
}

func (s *Server) authenticate(header string) (*tokenEntry, *authFailure) {
	if header == "" {
		return nil, &authFailure{message: "missing bearer token (Authorization: Bearer <token>)"}
	}
	scheme, value, ok := strings.Cut(header, " ")
	value = strings.TrimSpace(value)
	if !ok || !strings.EqualFold(scheme, "Bearer") || value == "" {
		return nil, &authFailure{message: `the Authorization header must be "Bearer <token>"`, rfcError: "invalid_request"}
	}
	match := matchToken(s.tokens, value)
	if match == nil {
		return nil, &authFailure{message: "invalid bearer token", rfcError: "invalid_token"}
	}
	return match, nil
}

// scopedIdempotencyKey makes a client's Idempotency-Key unique to the token that
// sent it. The engine dedupes on the key it is given, so an unscoped key would let
// a second token that reuses (or guesses) it get the first token's answer back
// instead of having its own request decided.
func scopedIdempotencyKey(ctx context.Context, key string) string {
	return ScopedIdempotencyKey(Principal(ctx), key)
}

// ScopedIdempotencyKey is the key the engine gets for Idempotency-Key key sent by
// the token named token: the same for a retry by that token, different for any
// other token, and not the client's key itself.
func ScopedIdempotencyKey(token, key string) string {
	sum := sha256.Sum256([]byte("sever idempotency v1\x00" + token + "\x00" + key))
	return "api-" + hex.EncodeToString(sum[:16])
}
