package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/service"
	"github.com/sever-ir/sever/telemetry"
)

// scrape fetches the handler's text exposition and parses it the way Prometheus
// would, so the test reads what a scraper reads.
func scrape(t *testing.T, m *telemetry.Metrics) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "text/plain")
	m.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d: %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse exposition: %v\n%s", err, body)
	}
	return fams, body
}

// metric finds the series of family name whose labels include want.
func metric(fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	m := metric(fams, name, labels)
	if m == nil {
		t.Fatalf("no series %s%v", name, labels)
	}
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	}
	t.Fatalf("series %s%v is neither counter nor gauge", name, labels)
	return 0
}

func newMetrics(t *testing.T, o telemetry.Options) *telemetry.Metrics {
	t.Helper()
	m, err := telemetry.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

func TestScrapeAfterRecording(t *testing.T) {
	m := newMetrics(t, telemetry.Options{})
	m.SignalAccepted("aws-health", "vendor")
	m.SignalAccepted("aws-health", "vendor")
	m.SignalAccepted("siem", "enterprise")
	m.SignalAccepted("siem", "martian")
	m.Contained(0.8)
	m.Contained(1.5)
	m.DrillContained(40)
	m.Contained(-1) // a clock step backwards is not a containment time
	m.ApprovalRequested()
	m.ApprovalOutcome(sever.HumanApproved)
	m.ApprovalOutcome(sever.ApprovalExpired)
	m.ApprovalOutcome(sever.EnterpriseEnforced) // not an approval outcome
	m.ActivityFailed("aws.deactivate_access_key", false)
	m.ActivityFailed("aws.deactivate_access_key", true)
	m.ActivityFailed("aws.deactivate_access_key", true)

	fams, _ := scrape(t, m)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"sever_signals_accepted_total", map[string]string{"source": "aws-health", "origin": "vendor"}, 2},
		{"sever_signals_accepted_total", map[string]string{"source": "siem", "origin": "enterprise"}, 1},
		{"sever_signals_accepted_total", map[string]string{"source": "siem", "origin": "other"}, 1},
		{"sever_approval_requests_total", nil, 1},
		{"sever_approval_outcomes_total", map[string]string{"outcome": "human_approved"}, 1},
		{"sever_approval_outcomes_total", map[string]string{"outcome": "human_denied"}, 0},
		{"sever_approval_outcomes_total", map[string]string{"outcome": "approval_expired"}, 1},
		{"sever_activity_failures_total", map[string]string{"activity": "aws.deactivate_access_key", "permanent": "false"}, 1},
		{"sever_activity_failures_total", map[string]string{"activity": "aws.deactivate_access_key", "permanent": "true"}, 2},
	} {
		if got := value(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n := len(fams["sever_approval_outcomes_total"].GetMetric()); n != 3 {
		t.Errorf("sever_approval_outcomes_total has %d series, want 3 (unknown outcomes dropped)", n)
	}

	h := metric(fams, "sever_time_to_contain_seconds", map[string]string{"drill": "false"}).GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 2.3 {
		t.Errorf("production histogram count=%d sum=%v, want 2 and 2.3", h.GetSampleCount(), h.GetSampleSum())
	}
	for _, b := range h.GetBucket() {
		want := map[float64]uint64{0.5: 0, 1: 1, 2: 2}[b.GetUpperBound()]
		if b.GetUpperBound() <= 2 && b.GetCumulativeCount() != want {
			t.Errorf("bucket le=%v = %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	d := metric(fams, "sever_time_to_contain_seconds", map[string]string{"drill": "true"}).GetHistogram()
	if d.GetSampleCount() != 1 || d.GetSampleSum() != 40 {
		t.Errorf("drill histogram count=%d sum=%v, want 1 and 40", d.GetSampleCount(), d.GetSampleSum())
	}
	if fams["go_goroutines"] == nil || fams["process_start_time_seconds"] == nil {
		t.Error("the Go and process collectors are missing")
	}
}

func TestSourcesAreCapped(t *testing.T) {
	m := newMetrics(t, telemetry.Options{})
	for i := range telemetry.MaxSources + 6 {
		m.SignalAccepted(fmt.Sprintf("source-%02d", i), "vendor")
	}
	m.SignalAccepted("source-00", "vendor") // a source seen before the cap keeps its series
	m.SignalAccepted("bad\xff", "vendor")
	m.SignalAccepted("", "vendor")
	fams, _ := scrape(t, m)
	if n := len(fams["sever_signals_accepted_total"].GetMetric()); n != telemetry.MaxSources+1 {
		t.Errorf("%d series, want %d sources + other", n, telemetry.MaxSources)
	}
	if got := value(t, fams, "sever_signals_accepted_total", map[string]string{"source": "other"}); got != 8 {
		t.Errorf("other = %v, want 8 (6 past the cap, 1 invalid UTF-8, 1 empty)", got)
	}
	if got := value(t, fams, "sever_signals_accepted_total", map[string]string{"source": "source-00"}); got != 2 {
		t.Errorf("source-00 = %v, want 2", got)
	}
}

// A nil *Metrics is what callers hold when metrics are off; every method must be a no-op.
func TestNilMetrics(t *testing.T) {
	var m *telemetry.Metrics
	m.SignalAccepted("s", "vendor")
	m.Contained(1)
	m.DrillContained(1)
	m.ApprovalRequested()
	m.ApprovalOutcome(sever.HumanDenied)
	m.ActivityFailed("a", false)
	if m.TemporalHandler() == nil {
		t.Error("TemporalHandler of nil Metrics is nil, want the SDK's no-op handler")
	}
	if err := m.Close(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestTemporalSDKMetricsShareTheRegistry(t *testing.T) {
	m := newMetrics(t, telemetry.Options{})
	h := m.TemporalHandler().WithTags(map[string]string{"activity_type": "sever.internal.ledger_append"})
	h.Counter("temporal_activity_execution_failed").Inc(3)
	h.Timer("temporal_activity_execution_latency").Record(30 * time.Millisecond)
	h.Gauge("temporal_worker_task_slots_available").Update(7)

	fams, body := scrape(t, m)
	tags := map[string]string{"activity_type": "sever.internal.ledger_append"}
	if got := value(t, fams, "temporal_activity_execution_failed_total", tags); got != 3 {
		t.Errorf("temporal_activity_execution_failed_total = %v, want 3\n%s", got, body)
	}
	if got := value(t, fams, "temporal_worker_task_slots_available", tags); got != 7 {
		t.Errorf("temporal_worker_task_slots_available = %v, want 7", got)
	}
	lat := metric(fams, "temporal_activity_execution_latency_seconds", tags)
	if lat == nil {
		t.Fatalf("no SDK timer histogram in\n%s", body)
	}
	// The SDK records seconds: with OpenTelemetry's default bounds (0, 5, 10, …)
	// every timer would land in one bucket.
	for _, b := range lat.GetHistogram().GetBucket() {
		if b.GetUpperBound() == 0.025 && b.GetCumulativeCount() != 0 || b.GetUpperBound() == 0.05 && b.GetCumulativeCount() != 1 {
			t.Errorf("bucket le=%v = %d: the timer is not bucketed in seconds", b.GetUpperBound(), b.GetCumulativeCount())
		}
	}
}

// fakeIncidents answers listings and reads from fixed data and counts listings.
type fakeIncidents struct {
	list  []sever.IncidentSummary
	incs  map[string]*sever.Incident
	err   error
	lists atomic.Int32
}

func (f *fakeIncidents) ListIncidents(ctx context.Context, fl service.ListFilter) ([]sever.IncidentSummary, error) {
	f.lists.Add(1)
	if f.err != nil {
		return nil, f.err
	}
	return f.list, nil
}

func (f *fakeIncidents) GetIncident(ctx context.Context, id string) (*sever.Incident, error) {
	if inc, ok := f.incs[id]; ok {
		return inc, nil
	}
	return nil, sever.Errorf(sever.ENOTFOUND, "", "incident %s not found", id)
}

func watch(t *testing.T, m *telemetry.Metrics, src telemetry.Incidents) {
	t.Helper()
	if err := m.WatchIncidents(src); err != nil {
		t.Fatal(err)
	}
	if err := m.WatchIncidents(src); err == nil {
		t.Error("a second WatchIncidents succeeded; the gauges would be counted twice")
	}
}

func waiting(n int) *sever.Incident {
	inc := &sever.Incident{Status: sever.IncidentOpen}
	for range n {
		inc.Steps = append(inc.Steps, sever.Step{Status: sever.StepWaitingApproval})
	}
	inc.Steps = append(inc.Steps, sever.Step{Status: sever.StepSucceeded})
	return inc
}

func TestIncidentGauges(t *testing.T) {
	src := &fakeIncidents{
		list: []sever.IncidentSummary{
			{ID: "inc-a", Status: sever.IncidentOpen, Running: true},
			{ID: "inc-b", Status: sever.IncidentOpen, Running: true},
			{ID: "inc-gone", Status: sever.IncidentOpen, Running: true}, // ended between list and read
			{ID: "inc-c", Status: sever.IncidentContained, Running: true},
			{ID: "inc-d", Status: sever.IncidentContained, Running: true},
			{ID: "inc-e", Status: sever.IncidentClosed},
		},
		incs: map[string]*sever.Incident{"inc-a": waiting(2), "inc-b": waiting(1)},
	}
	m := newMetrics(t, telemetry.Options{Refresh: time.Hour})
	watch(t, m, src)
	fams, body := scrape(t, m)
	for st, want := range map[string]float64{"open": 3, "contained": 2, "failed": 0, "closed": 1} {
		if got := value(t, fams, "sever_incidents", map[string]string{"status": st}); got != want {
			t.Errorf("sever_incidents{status=%q} = %v, want %v", st, got, want)
		}
	}
	if got := value(t, fams, "sever_approvals_pending", nil); got != 3 {
		t.Errorf("sever_approvals_pending = %v, want 3", got)
	}
	if strings.Contains(body, "inc-a") {
		t.Error("an incident id reached the exposition")
	}
	scrape(t, m)
	if n := src.lists.Load(); n != 1 {
		t.Errorf("two scrapes within Refresh listed %d times, want 1", n)
	}
}

func TestIncidentGaugesWhenListingFails(t *testing.T) {
	src := &fakeIncidents{err: errors.New("temporal unavailable")}
	m := newMetrics(t, telemetry.Options{})
	watch(t, m, src)
	fams, _ := scrape(t, m)
	if fams["sever_incidents"] != nil || fams["sever_approvals_pending"] != nil {
		t.Error("gauges exported from a failed listing")
	}
	if got := value(t, fams, "sever_incident_listing_errors_total", nil); got != 1 {
		t.Errorf("sever_incident_listing_errors_total = %v, want 1", got)
	}
	// A failure is not cached: the next scrape tries again.
	src.err = nil
	fams, _ = scrape(t, m)
	if got := value(t, fams, "sever_incidents", map[string]string{"status": "open"}); got != 0 {
		t.Errorf("sever_incidents{open} = %v after recovery, want 0", got)
	}
}

// More open incidents than DetailLimit: the pending count would be a guess, so it
// is left out while the status gauges stay.
func TestPendingApprovalsLeftOutPastDetailLimit(t *testing.T) {
	src := &fakeIncidents{incs: map[string]*sever.Incident{}}
	for i := range 3 {
		id := fmt.Sprintf("inc-%d", i)
		src.list = append(src.list, sever.IncidentSummary{ID: id, Status: sever.IncidentOpen, Running: true})
		src.incs[id] = waiting(1)
	}
	m := newMetrics(t, telemetry.Options{DetailLimit: 2})
	watch(t, m, src)
	fams, _ := scrape(t, m)
	if fams["sever_approvals_pending"] != nil {
		t.Error("sever_approvals_pending exported from a partial read")
	}
	if got := value(t, fams, "sever_incidents", map[string]string{"status": "open"}); got != 3 {
		t.Errorf("sever_incidents{open} = %v, want 3", got)
	}
}

func TestHandlerOverHTTP(t *testing.T) {
	m := newMetrics(t, telemetry.Options{})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "sever_approval_requests_total 0") {
		t.Errorf("GET = %d\n%s", resp.StatusCode, b)
	}
}
