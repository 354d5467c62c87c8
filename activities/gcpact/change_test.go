package gcpact

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/api/googleapi"

	"github.com/sever-ir/sever"
)

// change is what disable/enable and delete/undelete share: it must apply only
// when the first read shows the change missing, and verify by the read-back alone.
func TestChangeRun(t *testing.T) {
	errApply := errors.New("apply failed")
	cases := []struct {
		name         string
		before       bool // whether the first read shows the change made
		after        bool // whether the read-back does
		applyErr     error
		readErr      error
		wantApplied  bool
		wantChanged  bool
		wantVerified bool
		wantErr      string
	}{
		{name: "applies when missing", after: true, wantApplied: true, wantChanged: true, wantVerified: true},
		{name: "a retry that finds it made does not apply", before: true, after: true, wantVerified: true},
		{name: "unverified when the read-back disagrees", wantApplied: true, wantChanged: true},
		{name: "apply error returned as is", applyErr: errApply, wantApplied: true, wantErr: "apply failed"},
		{name: "read-back error classified", before: true, readErr: &googleapi.Error{Code: 503, Message: "busy"},
			wantErr: `act: read back key k: Google answered 503 "busy"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			applied := false
			res, back, err := change[bool]{action: "act", what: "key k", marker: "changed k",
				inPlace: func(v bool) bool { return v },
				apply:   func() error { applied = true; return c.applyErr },
				read:    func() (bool, error) { return c.after, c.readErr },
			}.run(context.Background(), "me", c.before)
			if applied != c.wantApplied {
				t.Errorf("applied = %v; want %v", applied, c.wantApplied)
			}
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v; want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || back != c.after || res.Changed != c.wantChanged || res.Verified != c.wantVerified ||
				res.Enforcement != sever.EnterpriseEnforced || res.Actor != "me" {
				t.Fatalf("run = %+v, %v, %v", res, back, err)
			}
		})
	}
}
