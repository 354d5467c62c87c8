package main

import (
	"errors"
	"fmt"
	"testing"

	"go.temporal.io/api/serviceerror"
)

func TestBranchChanged(t *testing.T) {
	changed := serviceerror.NewInvalidArgument("Current and request branch tokens, or current and request versioned transitions, don't match.")
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{changed, true},
		{fmt.Errorf("history: %w", changed), true},
		{serviceerror.NewInvalidArgument("WorkflowId is not set on request."), false},
		{serviceerror.NewNotFound("workflow not found"), false},
		{errors.New("branch tokens"), false},
	} {
		if got := branchChanged(tc.err); got != tc.want {
			t.Errorf("branchChanged(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
