package httpapi_test

import (
	"bytes"
	"testing"

	"github.com/sever-ir/sever/httpapi"
)

func TestTokenSet(t *testing.T) {
	ts, err := httpapi.NewTokenSet(testTokens)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		value, scope, want string
		ok                 bool
	}{
		{readerToken, httpapi.ScopeIncidentsRead, "reader", true},
		{adminToken, httpapi.ScopeIncidentsRead, "admin", true}, // no scopes means every scope
		{writerToken, httpapi.ScopeIncidentsRead, "", false},
		{readerToken + "x", httpapi.ScopeIncidentsRead, "", false},
		{"", httpapi.ScopeIncidentsRead, "", false},
	} {
		if name, ok := ts.Check(c.value, c.scope); name != c.want || ok != c.ok {
			t.Errorf("Check(%.6s…, %s) = %q, %t; want %q, %t", c.value, c.scope, name, ok, c.want, c.ok)
		}
	}

	k1, ok := ts.SessionKey("reader", httpapi.ScopeIncidentsRead)
	if !ok || len(k1) != 32 {
		t.Fatalf("SessionKey(reader) = %x, %t", k1, ok)
	}
	if bytes.Contains(k1, []byte(readerToken)) {
		t.Error("the session key contains the token")
	}
	if _, ok := ts.SessionKey("writer", httpapi.ScopeIncidentsRead); ok {
		t.Error("SessionKey for a token without the scope")
	}
	if _, ok := ts.SessionKey("nobody", httpapi.ScopeIncidentsRead); ok {
		t.Error("SessionKey for an unknown token")
	}
	// A changed token value gives a different key: old sessions stop verifying.
	changed := append([]httpapi.Token(nil), testTokens...)
	changed[1].Value = "reader-rotated-0123456789"
	ts2, err := httpapi.NewTokenSet(changed)
	if err != nil {
		t.Fatal(err)
	}
	if k2, _ := ts2.SessionKey("reader", httpapi.ScopeIncidentsRead); bytes.Equal(k1, k2) {
		t.Error("rotating the token kept the session key")
	}
	if _, err := httpapi.NewTokenSet(nil); err == nil {
		t.Error("NewTokenSet(nil) succeeded")
	}
}
