package webui_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/report"
)

// refusingService is a Service whose ledger holds refused attempts, as the engine's does.
type refusingService struct {
	*fakeService
	refused []report.RefusedAttempt
	err     error
}

func (s refusingService) RefusedAttempts(context.Context, string) ([]report.RefusedAttempt, error) {
	return s.refused, s.err
}

// The incident page shows the refused attempts the ledger holds, like the API's
// report; a ledger that cannot be read leaves the page up without them.
func TestIncidentPageShowsRefusedAttempts(t *testing.T) {
	path := "/incidents/" + sever.IncidentID(awsCred)
	attempt := report.RefusedAttempt{At: at(3600).Add(time.Second), Reason: "self_approval", Who: "U0REPORTER",
		Step: "deactivate", Channel: "slack-http", What: "approve", Why: "the reporter may not approve", Count: 1}
	for _, c := range []struct {
		name      string
		svc       refusingService
		want, not []string
	}{
		{"FromTheLedger", refusingService{fakeService: newFake(containedIncident()), refused: []report.RefusedAttempt{attempt}},
			[]string{"Refused attempts", "self_approval", "U0REPORTER"}, nil},
		{"LedgerUnreadable", refusingService{fakeService: newFake(containedIncident()), err: errors.New("ledger closed")},
			[]string{sever.IncidentID(awsCred)}, []string{"U0REPORTER"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newUI(t, c.svc)
			rec := get(t, h, path)
			wantStatus(t, rec, 200)
			wantContains(t, rec.Body.String(), c.want...)
			for _, n := range c.not {
				if strings.Contains(rec.Body.String(), n) {
					t.Errorf("page shows %q", n)
				}
			}
		})
	}
}
