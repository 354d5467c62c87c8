package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/sever-ir/sever/internal/refusal"
	"github.com/sever-ir/sever/service"
	"github.com/sever-ir/sever/workflows"
)

type refusalSink []refusal.Refusal

func (s *refusalSink) Refused(_ context.Context, f refusal.Refusal) { *s = append(*s, f) }

// A validator's rejection is recorded with its reason; anything else (the service
// unreachable, a timeout) is not a refusal and is not recorded.
func TestRefusedDecisionRecorded(t *testing.T) {
	refused := func(reason string) error {
		return fmt.Errorf("update: %w", temporal.NewNonRetryableApplicationError("decide: refused", workflows.RefusedTypePrefix+reason, nil))
	}
	cases := []struct {
		name   string
		id     string
		err    error
		want   string
		record bool
	}{
		{"Outsider", "inc-1", refused(refusal.Outsider), refusal.Outsider, true},
		{"SelfApproval", "inc-1", refused(refusal.SelfApproval), refusal.SelfApproval, true},
		{"Unsigned", "inc-1", temporal.NewNonRetryableApplicationError("decide: not signed", "Forbidden", nil), refusal.ForgedSignature, true},
		{"Drill", "drill-inc-1", refused(refusal.AfterDeadline), refusal.AfterDeadline, true},
		{"Unavailable", "inc-1", context.DeadlineExceeded, "", false},
		{"OtherApplicationError", "inc-1", temporal.NewApplicationError("boom", "Internal"), "", false},
		{"Plain", "inc-1", errors.New("connection refused"), "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var sink refusalSink
			e := &Engine{Refusals: &sink}
			e.refusedDecision(context.Background(), tc.id, service.DecideRequest{Step: "disable", Approve: true, Approver: "U9", Channel: "cli"}, tc.err)
			if !tc.record {
				if len(sink) != 0 {
					t.Fatalf("recorded %+v for a non-refusal", sink)
				}
				return
			}
			if len(sink) != 1 {
				t.Fatalf("recorded %d refusals, want 1", len(sink))
			}
			want := refusal.Refusal{Reason: tc.want, Incident: tc.id, Step: "disable", Who: "U9", Channel: "cli", What: "approve",
				Why: sink[0].Why, Drill: tc.id == "drill-inc-1"}
			if sink[0] != want || sink[0].Why == "" {
				t.Errorf("recorded %+v, want %+v", sink[0], want)
			}
			if !slices.Contains(refusal.Reasons, sink[0].Reason) {
				t.Errorf("reason %q is not in the vocabulary", sink[0].Reason)
			}
		})
	}
	// Without a recorder nothing happens.
	(&Engine{}).refusedDecision(context.Background(), "inc-1", service.DecideRequest{}, refused(refusal.Outsider))
}

// The reasons the workflow's validator gives are the ledger's vocabulary.
func TestValidatorReasonsInVocabulary(t *testing.T) {
	src, err := os.ReadFile("../workflows/approval.go")
	if err != nil {
		t.Fatal(err)
	}
	found := regexp.MustCompile(`refuse\("([a-z_]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(found) < 10 {
		t.Fatalf("found %d refuse calls in the validator; the pattern no longer matches", len(found))
	}
	for _, m := range found {
		if !slices.Contains(refusal.Reasons, m[1]) {
			t.Errorf("validator reason %q is not in refusal.Reasons", m[1])
		}
	}
}
