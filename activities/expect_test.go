package activities

import (
	"errors"
	"testing"

	"go.temporal.io/sdk/temporal"
)

func TestExpect(t *testing.T) {
	cases := []struct {
		name, expect string
		states       []string
		want         string
		wantErr      string
	}{
		{name: "empty is the default", expect: "", states: []string{"disabled", "enabled"}, want: "disabled"},
		{name: "a listed state", expect: "enabled", states: []string{"disabled", "enabled"}, want: "enabled"},
		{name: "two states", expect: "gone", states: []string{"revoked", "active"},
			wantErr: `act: expect "gone" is not revoked or active`},
		{name: "three states", expect: "Disabled", states: []string{"disabled", "enabled", "absent"},
			wantErr: `act: expect "Disabled" is not disabled, enabled or absent`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Expect("act", c.expect, c.states...)
			if c.wantErr == "" {
				if err != nil || got != c.want {
					t.Fatalf("Expect(%q) = %q, %v; want %q", c.expect, got, err, c.want)
				}
				return
			}
			var app *temporal.ApplicationError
			if !errors.As(err, &app) || app.Type() != ErrInvalidArgument || !app.NonRetryable() || app.Message() != c.wantErr {
				t.Fatalf("Expect(%q) err = %v; want non-retryable %s %q", c.expect, err, ErrInvalidArgument, c.wantErr)
			}
		})
	}
}
