package ledger

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestVerifyChain(t *testing.T) {
	s, _ := newStore(t)
	fill(t, s, 5, "inc-a", "inc-b")
	a, err := s.Entries(context.Background(), "inc-a")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Entries(context.Background(), "inc-b")
	rehash := func(e Entry) Entry { e.Hash = e.ComputeHash(); return e }
	for _, tc := range []struct {
		name   string
		edit   func(x []Entry) []Entry
		seq    int64
		reason Reason
		detail string
	}{
		{name: "Intact", edit: func(x []Entry) []Entry { return x }},
		{name: "Empty", edit: func([]Entry) []Entry { return nil }},
		{name: "Truncated", edit: func(x []Entry) []Entry { return x[:3] }}, // only a store or a day head can tell
		{"EditedKeepingHash", func(x []Entry) []Entry { x[1].Result = "never happened"; return x }, 2, ReasonEdited, "hashes to"},
		{"EditedWithNewHash", func(x []Entry) []Entry { x[1].Result = "never happened"; x[1] = rehash(x[1]); return x }, 3, ReasonInserted, "does not follow"},
		{"NotInNormalForm", func(x []Entry) []Entry { x[1].Result = "a\tb"; x[1] = rehash(x[1]); return x }, 2, ReasonEdited, "not one sever writes"},
		{"Deleted", func(x []Entry) []Entry { return slices.Delete(x, 2, 3) }, 3, ReasonDeleted, "entry 3 is missing"},
		{"Reordered", func(x []Entry) []Entry { x[1], x[2] = x[2], x[1]; return x }, 2, ReasonReordered, "entry 3 is at position 2"},
		{"Duplicated", func(x []Entry) []Entry { return slices.Insert(x, 2, x[1]) }, 2, ReasonInserted, "two entries claim seq 2"},
		{"OtherIncident", func(x []Entry) []Entry { x[3] = b[3]; return x }, 4, ReasonInserted, "belongs to incident"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			brk := VerifyChain("inc-a", tc.edit(slices.Clone(a)))
			switch {
			case tc.reason == "" && brk != nil:
				t.Fatalf("break = %s, want none", brk)
			case tc.reason == "":
			case brk == nil:
				t.Fatal("no break")
			case brk.Incident != "inc-a" || brk.Seq != tc.seq || brk.Reason != tc.reason || !strings.Contains(brk.Detail, tc.detail):
				t.Fatalf("break = %s; want seq %d %s with %q", brk, tc.seq, tc.reason, tc.detail)
			}
		})
	}
}
