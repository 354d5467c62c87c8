package drillcloud

import (
	"encoding/base64"
	"strconv"
	"testing"
)

func TestPageAt(t *testing.T) {
	all := []int{0, 1, 2, 3, 4}
	cases := []struct {
		start, max int
		want       []int
		next       int // -1: no next token
	}{
		{0, 2, []int{0, 1}, 2},
		{2, 2, []int{2, 3}, 4},
		{4, 2, []int{4}, -1},
		{5, 2, []int{}, -1},
		{0, 5, []int{0, 1, 2, 3, 4}, -1},
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
		for _, tc := range cases {
			page, tok := pageAt(enc, all, tc.start, tc.max)
			if len(page) != len(tc.want) || (len(page) > 0 && page[0] != tc.want[0]) {
				t.Errorf("pageAt(%d, %d) = %v, want %v", tc.start, tc.max, page, tc.want)
			}
			n, ok := decodeOffset(enc, tok)
			if (tc.next < 0) != (tok == "") || (tc.next >= 0 && (!ok || n != tc.next)) {
				t.Errorf("pageAt(%d, %d) token %q = %d %v, want %d", tc.start, tc.max, tok, n, ok, tc.next)
			}
		}
	}
}

// FuzzDecodeOffset feeds NextToken values a client controls: never a
// negative offset, and any accepted one is what this cloud would issue.
func FuzzDecodeOffset(f *testing.F) {
	for _, s := range []string{"", "MA==", "LTE=", "MTA", "!!", base64.StdEncoding.EncodeToString([]byte("99999999999999999999"))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
			n, ok := decodeOffset(enc, tok)
			if !ok {
				continue
			}
			if n < 0 {
				t.Fatalf("decodeOffset(%q) = %d", tok, n)
			}
			if m, ok := decodeOffset(enc, enc.EncodeToString([]byte(strconv.Itoa(n)))); !ok || m != n {
				t.Fatalf("offset %d does not round-trip: %d %v", n, m, ok)
			}
		}
	})
}
