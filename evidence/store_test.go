package evidence

import (
	"os"
	"strings"
	"testing"
)

func TestPutIsContentAddressedAndIdempotent(t *testing.T) {
	s := NewStore(t.TempDir())
	a1, err := s.Put("inc-x", "signals", []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	a2, err := s.Put("inc-x", "signals", []byte(`{"a":1}`))
	if err != nil || a1 != a2 {
		t.Fatalf("second put = %+v, %v; want %+v", a2, err, a1)
	}
	if err := s.Verify(a1); err != nil {
		t.Fatal(err)
	}
	path := strings.TrimPrefix(a1.URI, "file://")
	os.Chmod(path, 0o600)
	os.WriteFile(path, []byte(`{"a":2}`), 0o600)
	if err := s.Verify(a1); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("verify after tamper = %v; want sha256 mismatch", err)
	}
}

func TestPutRejectsPathTricks(t *testing.T) {
	s := NewStore(t.TempDir())
	for _, name := range []string{"../x", "a/b", "", ".hidden"} {
		if _, err := s.Put("inc", name, nil); err == nil {
			t.Errorf("Put(%q) succeeded", name)
		}
	}
}
