package tokenstore

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

func TestSetStatusIsIdempotent(t *testing.T) {
	s := Open(filepath.Join(t.TempDir(), "tokens.json"))
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
	if err != nil || got.Status != Inactive {
		t.Fatalf("read-back = %+v, %v", got, err)
	}
}

func TestErrors(t *testing.T) {
	s := Open(filepath.Join(t.TempDir(), "tokens.json"))
	if _, _, err := s.SetStatus("nope", Inactive, "k", "sever", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetStatus(unknown) err = %v, want ErrNotFound", err)
	}
	if _, _, err := s.SetStatus("nope", "revoked", "k", "sever", ""); err == nil {
		t.Error("SetStatus(bad status) succeeded")
	}
	if err := s.Put(Token{}); err == nil {
		t.Error("Put(no id) succeeded")
	}
}

func TestConcurrentWritersLoseNothing(t *testing.T) {
	s := Open(filepath.Join(t.TempDir(), "tokens.json"))
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Put(Token{ID: string(rune('a' + i))}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	f, err := s.load()
	if err != nil || len(f.Tokens) != 20 {
		t.Fatalf("tokens = %d, err %v; want 20", len(f.Tokens), err)
	}
}

// Two stores on one file (two processes) must not lose each other's writes: each
// read-modify-write holds the file lock.
func TestTwoStoresOnOneFileLoseNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	a, b := Open(path), Open(path)
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
}
