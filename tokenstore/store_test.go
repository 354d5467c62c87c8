package tokenstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sever-ir/sever/internal/pgstore"
	"github.com/sever-ir/sever/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// backends are the stores every test runs on: the file, and PostgreSQL (skipped with a
// message without its binaries, unless SEVER_REQUIRE_POSTGRES is set). again opens a
// second store on the same data, as another process would.
var backends = []struct {
	name string
	open func(t *testing.T) (s *Store, again func() *Store)
}{
	{"file", func(t *testing.T) (*Store, func() *Store) {
		path := filepath.Join(t.TempDir(), "tokens.json")
		return Open(path), func() *Store { return Open(path) }
	}},
	{"postgres", func(t *testing.T) (*Store, func() *Store) {
		url, schema := pgtest.Schema(t)
		open := func() *Store {
			db, err := pgstore.Open(context.Background(), url, schema)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return OpenPostgres(db, schema)
		}
		s := open()
		if _, err := pgstore.Migrate(context.Background(), s.db, schema); err != nil {
			t.Fatal(err)
		}
		return s, open
	}},
}

// eachBackend runs fn as a subtest per backend.
func eachBackend(t *testing.T, fn func(t *testing.T, s *Store, again func() *Store)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, again := b.open(t)
			fn(t, s, again)
		})
	}
}

func TestSetStatusIsIdempotent(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store, _ func() *Store) {
		if err := s.Put(Token{ID: "tok-1", Owner: "billing"}); err != nil {
			t.Fatal(err)
		}
		tok, changed, err := s.SetStatus("tok-1", Inactive, "inc/1/disable", "sever", "leaked")
		if err != nil || !changed || tok.Status != Inactive {
			t.Fatalf("first SetStatus = %+v, %v, %v; want inactive, changed", tok, changed, err)
		}
		// A retry of the same request, after its answer was lost, applies nothing twice.
		tok, changed, err = s.SetStatus("tok-1", Inactive, "inc/1/disable", "sever", "leaked")
		if err != nil || changed || len(tok.Changes) != 1 {
			t.Fatalf("retry changed=%v changes=%d err=%v; want no change and one recorded change", changed, len(tok.Changes), err)
		}
		got, err := s.Get("tok-1")
		if err != nil || got.Status != Inactive || got.Owner != "billing" || len(got.Changes) != 1 {
			t.Fatalf("read-back = %+v, %v", got, err)
		}
	})
}

func TestErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store, _ func() *Store) {
		if _, _, err := s.SetStatus("nope", Inactive, "k", "sever", ""); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetStatus(unknown) err = %v, want ErrNotFound", err)
		}
		if _, err := s.Get("nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(unknown) err = %v, want ErrNotFound", err)
		}
		if _, _, err := s.SetStatus("nope", "revoked", "k", "sever", ""); err == nil {
			t.Error("SetStatus(bad status) succeeded")
		}
		if err := s.Put(Token{}); err == nil {
			t.Error("Put(no id) succeeded")
		}
	})
}

func TestConcurrentWritersLoseNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store, _ func() *Store) {
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				if err := s.Put(Token{ID: string(rune('a' + i))}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for i := range 20 {
			if _, err := s.Get(string(rune('a' + i))); err != nil {
				t.Errorf("token %c lost: %v", 'a'+i, err)
			}
		}
	})
}

// Two stores on one file or database (two processes) must not lose each other's
// writes.
func TestTwoStoresLoseNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, a *Store, again func() *Store) {
		b := again()
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				s := a
				if i%2 == 1 {
					s = b
				}
				if err := s.Put(Token{ID: fmt.Sprintf("tok-%d", i)}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for i := range 50 {
			if _, err := a.Get(fmt.Sprintf("tok-%d", i)); err != nil {
				t.Errorf("tok-%d lost: %v", i, err)
			}
		}
	})
}

// A disable retried on several workers at once is applied once, whichever host wins.
func TestConcurrentSetStatusAppliesOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, a *Store, again func() *Store) {
		b := again()
		if err := a.Put(Token{ID: "tok-1"}); err != nil {
			t.Fatal(err)
		}
		var changed atomic.Int32
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				s := []*Store{a, b}[i%2]
				_, ok, err := s.SetStatus("tok-1", Inactive, "inc/1/disable", fmt.Sprintf("worker-%d", i), "leaked")
				if err != nil {
					t.Error(err)
				}
				if ok {
					changed.Add(1)
				}
			})
		}
		wg.Wait()
		tok, err := b.Get("tok-1")
		if err != nil || changed.Load() != 1 || len(tok.Changes) != 1 || tok.Status != Inactive {
			t.Fatalf("%d callers changed it; token %+v, %v; want one change", changed.Load(), tok, err)
		}
	})
}

// The issuer's word on a token is written through SetVendorStatus and leaves the
// enterprise's own status alone: what a vendor did is evidence, not the control.
func TestSetVendorStatus(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store, again func() *Store) {
		if err := s.Put(Token{ID: "tok-1", Owner: "billing"}); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			status, by  string
			wantChanged bool
			wantBy      string // the reporter on record after the step
		}{
			{Inactive, "acme-feed", true, "acme-feed"},
			{Inactive, "other-feed", false, "acme-feed"}, // the same notice delivered twice
			{Active, "acme-feed-2", true, "acme-feed-2"},
		}
		for i, st := range steps {
			tok, changed, err := s.SetVendorStatus("tok-1", st.status, st.by)
			if err != nil || changed != st.wantChanged || tok.VendorStatus != st.status || tok.Status != Active {
				t.Fatalf("step %d: SetVendorStatus(%s) = %+v, %v, %v; want changed=%v, enterprise status untouched",
					i, st.status, tok, changed, err, st.wantChanged)
			}
			got, err := again().Get("tok-1")
			if err != nil || got.VendorStatus != st.status || got.Owner != "billing" || got.VendorReportedBy != st.wantBy || got.VendorReportedAt.IsZero() {
				t.Fatalf("step %d: read-back = %+v, %v; want reported by %s", i, got, err, st.wantBy)
			}
		}
		if _, _, err := s.SetVendorStatus("nope", Inactive, "acme-feed"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "set vendor status") {
			t.Errorf("SetVendorStatus(unknown) err = %v, want ErrNotFound naming the operation", err)
		}
		if _, _, err := s.SetVendorStatus("tok-1", "revoked", "acme-feed"); err == nil {
			t.Error("SetVendorStatus(bad status) succeeded")
		}
		if _, _, err := s.SetVendorStatus("tok-1", Inactive, ""); err == nil || !strings.Contains(err.Error(), "reporter") {
			t.Errorf("SetVendorStatus(no reporter) err = %v, want the reporter required", err)
		}
	})
}
