package webui

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
)

// TestSafeNext covers the classic open-redirect bypasses: each must land on "/".
// Browsers strip tab, CR and LF from URLs and read "\" as "/", so "/\t/evil" is
// "//evil", another host.
func TestSafeNext(t *testing.T) {
	for _, tc := range []struct{ next, want string }{
		{"/incidents/inc-1", "/incidents/inc-1"},
		{"/?status=open&limit=5", "/?status=open&limit=5"},
		{"/incidents/inc%2F1", "/incidents/inc%2F1"},
		{"/", "/"},
		{"", "/"},
		{"//evil.example/", "/"},
		{"///evil.example", "/"},
		{"https://evil.example/", "/"},
		{"HTTPS://evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{`/\evil.example`, "/"},
		{`\\evil.example`, "/"},
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"/\r/evil.example", "/"},
		{"\t//evil.example", "/"},
		{" //evil.example", "/"},
		{"/ /evil.example", "/"},
		{"/\x00/evil.example", "/"},
		{"/\u00a0/evil.example", "/"},
		{"/\u3000/evil.example", "/"},
		{"/%09/evil.example", "/"},
		{"/%2F/evil.example", "/"},
		{"/%5Cevil.example", "/"},
		{"/%2f%2fevil.example", "/"},
		{"/.//evil.example", "/"},
		{"/x/..//evil.example", "/"},
		{"evil.example", "/"},
		{"/incidents/inc-1#frag", "/incidents/inc-1#frag"},
	} {
		if got := safeNext(tc.next); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.next, got, tc.want)
		}
	}
}

// FuzzSafeNext checks that whatever comes in, what goes out is a same-origin path
// a browser cannot read as another host.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "/incidents/a", "//evil", "/\t/evil", `/\evil`, "https://e", "/%2F/e", "/.//e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if got == "/" {
			return
		}
		if got != next {
			t.Fatalf("safeNext(%q) = %q: must be the input or /", next, got)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, `/\`) {
			t.Fatalf("safeNext(%q) = %q: not a single-slash path", next, got)
		}
		if strings.ContainsFunc(got, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '\\' }) {
			t.Fatalf("safeNext(%q) = %q: holds whitespace, a control character or a backslash", next, got)
		}
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
			t.Fatalf("safeNext(%q) = %q: parses to scheme %q host %q (err %v)", next, got, u.Scheme, u.Host, err)
		}
		if p := u.Path; strings.HasPrefix(p, "//") || strings.HasPrefix(p, `/\`) {
			t.Fatalf("safeNext(%q) = %q: decoded path %q reads as another host", next, got, p)
		}
	})
}
