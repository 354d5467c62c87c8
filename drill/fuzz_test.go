package drill

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: the parser never panics, and whatever it accepts is valid and has its
// defaults filled in.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte("name: x\nsignals: [{source: s, origin: vendor, kind: vendor_action, quarantine: AWSCompromisedKeyQuarantineV3}]\nobjectives: {expect_incidents: 1}\n"))
	f.Add([]byte("name: [\n"))
	f.Add([]byte("- a\n- b\n"))
	f.Add([]byte("name: x\nfaults: [{kind: latency, latency: 1s}]\n"))
	files, _ := filepath.Glob("scenarios/*.yaml")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := Parse("fuzz.yaml", src)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Parse accepted a scenario Validate refuses: %v", err)
		}
		if s.Timeout == 0 || s.Policy == "" || len(s.Credentials) == 0 {
			t.Fatalf("defaults not filled in: %+v", s)
		}
		for _, g := range s.Signals {
			if g.Repeat < 1 || g.Events < 1 || g.Credential == "" {
				t.Fatalf("signal defaults not filled in: %+v", g)
			}
		}
	})
}
