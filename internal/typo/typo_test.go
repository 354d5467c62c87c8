package typo

import (
	"strings"
	"testing"
)

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"owner", "owner", 0},
		{"ownr", "owner", 1},
		{"secrest", "secrets", 2},
		{"", "abc", 3},
		{"kitten", "sitting", 3},
		{strings.Repeat("a", 65), "a", 1 << 30},
	} {
		if got := Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
