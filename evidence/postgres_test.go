package evidence

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/sever-ir/sever/internal/pgstore"
	"github.com/sever-ir/sever/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func openPG(t *testing.T) (*Store, string) {
	t.Helper()
	url, schema := pgtest.Schema(t)
	db, err := pgstore.Open(context.Background(), url, schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := pgstore.Migrate(context.Background(), db, schema); err != nil {
		t.Fatal(err)
	}
	return OpenPostgres(db, schema), schema
}

func TestPostgresPutIsContentAddressedAndIdempotent(t *testing.T) {
	s, schema := openPG(t)
	a1, err := s.Put("inc-x", "signals", []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a1.URI, "pg://"+schema+"/evidence/inc-x/signals-") || strings.Contains(a1.URI, "file:") {
		t.Fatalf("URI = %s; want a database reference", a1.URI)
	}
	a2, err := s.Put("inc-x", "signals", []byte(`{"a":1}`))
	if err != nil || a1 != a2 {
		t.Fatalf("second put = %+v, %v; want %+v", a2, err, a1)
	}
	if err := s.Verify(a1); err != nil {
		t.Fatal(err)
	}
	// Someone with the database owner's rights rewrites the row: Verify notices.
	pgtest.Exec(t, schema, `UPDATE evidence SET body = '{"a":2}'::bytea`)
	if err := s.Verify(a1); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("verify after tamper = %v; want sha256 mismatch", err)
	}
	// Without the owner's rights the row cannot be changed at all.
	if _, err := s.db.Exec(`DELETE FROM evidence`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("DELETE = %v; want append-only", err)
	}
}

func TestPostgresPutRefuses(t *testing.T) {
	s, _ := openPG(t)
	big := append([]byte(`{"x":"`), append(bytes.Repeat([]byte("a"), MaxDBArtifactBytes), `"}`...)...)
	if _, err := s.Put("inc-x", "huge", big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Put(over the cap) = %v; want ErrTooLarge", err)
	}
	for _, name := range []string{"../x", "a/b", "", ".hidden"} {
		if _, err := s.Put("inc", name, nil); err == nil {
			t.Errorf("Put(%q) succeeded", name)
		}
	}
	a, err := s.Put("inc-x", "signals", []byte(`{"token":"ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"}`))
	if err != nil {
		t.Fatal(err)
	}
	var body []byte
	if err := s.db.QueryRow(`SELECT body FROM evidence WHERE sha256 = $1`, a.SHA256).Scan(&body); err != nil || bytes.Contains(body, []byte("ghp_")) {
		t.Fatalf("stored %q, %v; want the token redacted", body, err)
	}
	// A file store cannot vouch for a database artifact, nor the other way round.
	if err := NewStore(t.TempDir()).Verify(a); err == nil {
		t.Fatal("a file store verified a database artifact")
	}
}
