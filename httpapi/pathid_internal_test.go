package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
)

// TestPathIDs pins what the one path id check answers for incidents and tokens:
// the alphabets and the messages stayed those of the two checks it replaced.
func TestPathIDs(t *testing.T) {
	tests := []struct {
		name    string
		read    func(*http.Request) (string, error)
		id      string
		wantErr string // "" means accepted
	}{
		{name: "incident ok", read: incidentID, id: "inc-01:a_b.c"},
		{name: "incident empty", read: incidentID, id: "",
			wantErr: "invalid incident id: want up to 200 letters, digits, '-', '_', '.' or ':'"},
		{name: "incident at sign", read: incidentID, id: "a@b",
			wantErr: "invalid incident id: want up to 200 letters, digits, '-', '_', '.' or ':'"},
		{name: "incident too long", read: incidentID, id: strings.Repeat("a", 201),
			wantErr: "invalid incident id"},
		{name: "incident longest", read: incidentID, id: strings.Repeat("a", 200)},
		{name: "token ok", read: tokenID, id: "svc@example.com"},
		{name: "token slash", read: tokenID, id: "a/b",
			wantErr: "invalid token id: want up to 256 letters, digits, '-', '_', '.', ':' or '@'"},
		{name: "token too long", read: tokenID, id: strings.Repeat("a", 257), wantErr: "invalid token id"},
		{name: "token holding a secret", read: tokenID, id: "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
			wantErr: "the path holds secret material"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.SetPathValue("id", tt.id)
			got, err := tt.read(r)
			if tt.wantErr == "" {
				if err != nil || got != tt.id {
					t.Fatalf("got %q, %v; want %q accepted", got, err, tt.id)
				}
				return
			}
			e, ok := errors.AsType[*sever.Error](err)
			if !ok || e.Code != sever.EINVALID || e.Field != "id" || !strings.Contains(e.Message, tt.wantErr) {
				t.Fatalf("got %v; want an invalid id error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestQuoteBytes(t *testing.T) {
	for in, want := range map[string]string{"": "", "-": "'-'", "-_": "'-' or '_'", "-_.": "'-', '_' or '.'"} {
		if got := quoteBytes(in); got != want {
			t.Errorf("quoteBytes(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHTTPStatus pins the code-to-status table; an unknown code must be a 500.
func TestHTTPStatus(t *testing.T) {
	tests := []struct {
		code string
		want int
	}{
		{sever.EINVALID, 400}, {sever.EUNAUTHORIZED, 401}, {EFORBIDDEN, 403}, {sever.ENOTFOUND, 404},
		{EMETHODNOTALLOWED, 405}, {sever.ECONFLICT, 409}, {sever.ETOOLARGE, 413}, {EUNSUPPORTEDMEDIA, 415},
		{sever.EUNPROCESSABLE, 422}, {ETOOMANY, 429}, {sever.EUNAVAILABLE, 503},
		{sever.EINTERNAL, 500}, {"no_such_code", 500}, {"", 500},
	}
	for _, tt := range tests {
		if got := httpStatus(tt.code); got != tt.want {
			t.Errorf("httpStatus(%q) = %d, want %d", tt.code, got, tt.want)
		}
	}
}
