package report

import (
	"slices"
	"time"
)

// RefusedAttempt is a decision or request sever refused about the incident (an
// outsider's approval, a self-approval, a stale or forged click, a replay), as the
// ledger records it. The workflow's history never holds these; the ledger does.
type RefusedAttempt struct {
	At time.Time `json:"at"`
	// Reason is the ledger's vocabulary: outsider, self_approval, wrong_arguments,
	// after_deadline, after_quorum, stale_request, forged_signature, replay, ...
	Reason  string `json:"reason"`
	Who     string `json:"who"`
	Step    string `json:"step,omitempty"`
	Channel string `json:"channel,omitempty"`
	What    string `json:"what,omitempty"`
	Why     string `json:"why,omitempty"`
	// Count is how many refusals the row stands for: more than one when a flood was
	// summarized in the ledger.
	Count int `json:"count"`
}

// refused copies the refused attempts into the report, cleaned and in time order.
func (b *builder) refused(in []RefusedAttempt) {
	out := make([]RefusedAttempt, 0, len(in))
	for _, a := range in {
		out = append(out, RefusedAttempt{At: a.At.UTC(), Reason: clean(a.Reason), Who: clean(a.Who), Step: clean(a.Step),
			Channel: clean(a.Channel), What: clean(a.What), Why: cleanText(a.Why), Count: max(a.Count, 1)})
	}
	slices.SortStableFunc(out, func(x, y RefusedAttempt) int { return x.At.Compare(y.At) })
	if len(out) > 0 {
		b.r.Refused = out
	}
}

// refusedLead says what the refused attempts are.
const refusedLead = "Decisions and requests sever refused about this incident, from the ledger: who tried, what, and why " +
	"it was refused. None of them changed the incident."
