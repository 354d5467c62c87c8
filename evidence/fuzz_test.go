package evidence

import (
	"strings"
	"testing"

	"github.com/sever-ir/sever"
)

// FuzzVerifyURI: an artifact reference read back from a ledger entry or a bundle is
// outside input. Verify never panics on it, and a database reference it accepts names
// one plain incident and artifact, nothing that climbs out of them.
func FuzzVerifyURI(f *testing.F) {
	for _, s := range []string{
		"pg://sever/evidence/inc-x/signals-s1-0123456789ab.json",
		"pg://sever/evidence/../x/a-0123456789ab.json",
		"file:///etc/passwd", "pg://", "pg://Sever/evidence/a/b-0123456789ab.json",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		a := sever.Artifact{Name: "x", URI: uri, SHA256: strings.Repeat("0", 64)}
		_ = NewStore(t.TempDir()).Verify(a)
		_ = OpenPostgres(nil, "sever").Verify(a)
		if m := pgURIRE.FindStringSubmatch(uri); m != nil {
			for _, seg := range m[1:] {
				if seg == "" || strings.Contains(seg, "/") || seg == "." || seg == ".." {
					t.Fatalf("accepted %q with segment %q", uri, seg)
				}
			}
		}
	})
}
