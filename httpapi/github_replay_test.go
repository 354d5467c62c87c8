package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/service"
)

// vendorEventID is the vendor's event ID in an adapter's source event ID: the
// part before "@<version>#<digest>" (see package adapters).
func vendorEventID(sourceEventID string) string {
	if i := strings.LastIndex(sourceEventID, "@"); i >= 0 {
		return sourceEventID[:i]
	}
	return sourceEventID
}

// dedupService records a signal once per DedupKey, as the engine does, and
// answers later ones as duplicates.
type dedupService struct {
	mu       sync.Mutex
	seen     map[string]bool
	recorded []sever.Signal
}

func (d *dedupService) service() *fakeService {
	return &fakeService{SubmitSignalFunc: func(_ context.Context, s sever.Signal) (service.SubmitResult, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		r := service.SubmitResult{IncidentID: sever.IncidentID(s.Credential), SignalID: s.ID, Status: service.SubmitRecorded}
		if d.seen[s.DedupKey()] {
			r.Duplicate, r.Status = true, service.SubmitDuplicate
			return r, nil
		}
		if d.seen == nil {
			d.seen = map[string]bool{}
		}
		d.seen[s.DedupKey()] = true
		d.recorded = append(d.recorded, s)
		return r, nil
	}}
}

// TestGitHubReplayUnderNewDeliveryIDs is issue 12.2: X-GitHub-Delivery is
// outside the HMAC, so one captured signed body sent under three delivery IDs
// must be recorded once, the other two as duplicates.
func TestGitHubReplayUnderNewDeliveryIDs(t *testing.T) {
	t.Parallel()
	for _, fixture := range []string{"github-secret-scanning-created.json", "github-secret-scanning-reopened.octokit.json"} {
		t.Run(fixture, func(t *testing.T) {
			t.Parallel()
			svc := &dedupService{}
			a := newAPI(t, svc.service(), func(o *httpapi.Options) { o.GitHubWebhookSecret = githubSecret })
			body := adapterFixture(t, fixture)
			var duplicates int
			for _, delivery := range []string{
				"72d3162e-cc78-11e3-81ab-4c9367dc0958",
				"8e1c2a90-cc78-11e3-81ab-4c9367dc0958",
				"00000000-0000-4000-8000-000000000000",
			} {
				resp := a.do(t, githubReq(body, "secret_scanning_alert", delivery))
				if resp.Code != http.StatusAccepted {
					t.Fatalf("delivery %s: status %d; body %s", delivery, resp.Code, resp.Body)
				}
				res := decodeJSON[httpapi.AdapterResult](t, resp)
				if len(res.Signals) != 1 {
					t.Fatalf("delivery %s: answer %+v, want one receipt", delivery, res)
				}
				if res.Signals[0].Duplicate {
					duplicates++
				}
			}
			svc.mu.Lock()
			recorded := len(svc.recorded)
			svc.mu.Unlock()
			if recorded != 1 || duplicates != 2 {
				t.Errorf("recorded %d signals and %d duplicates, want 1 and 2", recorded, duplicates)
			}
		})
	}
}
