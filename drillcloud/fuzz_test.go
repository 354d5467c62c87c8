package drillcloud

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func FuzzParseSeed(f *testing.F) {
	if b, err := os.ReadFile("testdata/seed.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("accounts:\n  - id: \"111122223333\"\n"))
	f.Add([]byte("accounts:\n  - id: \"111122223333\"\n    users: [{name: a, keys: [{id: AKIAFUZZKEY000000001}]}]\n"))
	f.Add([]byte("accounts: [{id: \"111122223333\", buckets: [{name: b0b, object_lock: {mode: GOVERNANCE, years: 1}}]}]\nfaults: [{kind: throttle, probability: 0.5}]\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSeed(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "seed") {
				t.Fatalf("error does not name the seed: %v", err)
			}
			return
		}
		// Whatever the parser accepts, New must accept too.
		if _, err := New(s); err != nil {
			t.Fatalf("parsed seed rejected by New: %v", err)
		}
	})
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("0f", 32))
	f.Add("AWS4-HMAC-SHA256 Credential=A/20240101/r/s/aws4_request,SignedHeaders=host,Signature=" + strings.Repeat("a", 64))
	f.Add("AWS4-HMAC-SHA256 Credential=//////")
	f.Add("")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err != nil {
			return
		}
		again, err := parseAuthorization(a.String())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", a.String(), err)
		}
		if !reflect.DeepEqual(a, again) {
			t.Fatalf("round trip changed %+v into %+v", a, again)
		}
	})
}
