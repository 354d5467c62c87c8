package drillcloud

import (
	"strings"
	"testing"
)

// seedRejects fails t unless parsing yaml fails with an error containing want.
func seedRejects(t *testing.T, yaml, want string) {
	t.Helper()
	_, err := ParseSeed([]byte(yaml))
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want containing %q", err, want)
	}
}
