// Package telemetry holds sever's operational metrics for Prometheus: signals taken
// in, incidents by status, time to verified containment, approvals and activity
// failures, next to the Temporal SDK's own metrics.
//
// Every metric lives in the registry a Metrics owns, never in the global default
// one, so two instances (tests, an API and a worker in one process) never collide.
// Labels are low-cardinality by construction: sources are capped, everything else
// comes from fixed vocabularies. Incident ids, key ids and principals never become
// labels; a scrape shows counts, not who or what.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"

	"github.com/sever-ir/sever"
)

// MaxSources caps the distinct values of the source label. Sources are named by
// whoever submits a signal, so past the cap new ones are counted as "other" rather
// than growing the series set without bound.
const MaxSources = 64

// OtherLabel stands in for label values outside the cap or the vocabulary.
const OtherLabel = "other"

// ContainBuckets are the bucket bounds (seconds) of the time-to-contain histogram:
// fine around the 1 s / 2 s targets of an automatic runbook, then minutes and hours
// for runbooks that wait for a person.
var ContainBuckets = []float64{0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600}

// temporalBuckets replace OpenTelemetry's default histogram bounds (0 … 10000,
// meant for milliseconds) for the SDK's timers, which are recorded in seconds.
var temporalBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// temporalScope is the meter name the SDK's metrics are recorded under.
const temporalScope = "temporal-sdk-go"

// Options configure New. The zero value is valid.
type Options struct {
	// Refresh, ListTimeout, ListLimit and DetailLimit tune the incident gauges of
	// WatchIncidents.
	//
	// Refresh is how long one listing serves scrapes; 0 means 15 s.
	Refresh time.Duration
	// ListTimeout bounds one listing, so a slow engine fails the gauges rather than
	// the scrape; 0 means 5 s.
	ListTimeout time.Duration
	// ListLimit bounds how many incidents (newest first) a listing counts; 0 means 10000.
	ListLimit int
	// DetailLimit bounds how many open incidents are read to count pending
	// approvals; 0 means 200.
	DetailLimit int
	// Logger receives listing failures and OpenTelemetry errors; nil discards.
	Logger *slog.Logger
}

// Metrics records sever's metrics and serves them. Its methods are safe for
// concurrent use. The recording methods, Handler, TemporalHandler and Close are
// also safe on a nil *Metrics (they do nothing), so callers need no guard when
// metrics are off.
type Metrics struct {
	reg      *prometheus.Registry
	log      *slog.Logger
	opts     Options
	provider *sdkmetric.MeterProvider
	temporal client.MetricsHandler

	signals          *prometheus.CounterVec
	contain          *prometheus.HistogramVec
	approvalRequests prometheus.Counter
	approvalOutcomes *prometheus.CounterVec
	activityFailures *prometheus.CounterVec
	refused          *prometheus.CounterVec
	refusedFolded    *prometheus.CounterVec

	mu      sync.Mutex
	sources map[string]bool
	reasons map[string]bool
}

// New builds a Metrics with its own registry, the Go and process collectors, and
// an OpenTelemetry meter provider whose Prometheus reader writes into that registry.
func New(o Options) (*Metrics, error) {
	if o.Refresh < 0 || o.ListTimeout < 0 || o.ListLimit < 0 || o.DetailLimit < 0 {
		return nil, errors.New("telemetry.New: Refresh, ListTimeout, ListLimit and DetailLimit must not be negative")
	}
	m := &Metrics{reg: prometheus.NewRegistry(), log: o.Logger, opts: o, sources: map[string]bool{}, reasons: map[string]bool{}}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.signals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sever_signals_accepted_total",
		Help: "Signals accepted at intake, by source and origin (enterprise or vendor).",
	}, []string{"source", "origin"})
	m.contain = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sever_time_to_contain_seconds",
		Help:    "Time from an incident opening (signal accepted) to every containment step verified. drill=true for rehearsals.",
		Buckets: ContainBuckets,
	}, []string{"drill"})
	m.approvalRequests = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sever_approval_requests_total",
		Help: "Steps that started waiting for a human approval.",
	})
	m.approvalOutcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sever_approval_outcomes_total",
		Help: "Approval outcomes: one per person's decision (human_approved, human_denied) and one per step whose approval expired (approval_expired).",
	}, []string{"outcome"})
	m.activityFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sever_activity_failures_total",
		Help: "Activity attempts that returned an error, by activity type; permanent=true for non-retryable errors.",
	}, []string{"activity", "permanent"})
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sever_decisions_refused_total",
		Help: "Decisions and approval requests sever refused (outsider, self_approval, wrong_arguments, after_deadline, after_quorum, stale_request, forged_signature, replay, ...), by reason.",
	}, []string{"reason"})
	m.refusedFolded = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sever_decisions_refused_aggregated_total",
		Help: "Refused decisions past the ledger's per-source rate, written as one summary entry per source and window instead of one entry each, by reason.",
	}, []string{"reason"})
	for _, c := range []prometheus.Collector{
		m.signals, m.contain, m.approvalRequests, m.approvalOutcomes, m.activityFailures, m.refused, m.refusedFolded,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := m.reg.Register(c); err != nil {
			return nil, fmt.Errorf("telemetry.New: register: %w", err)
		}
	}
	// Series that dashboards and alerts divide by or compare against exist from the
	// start, at zero, instead of appearing with the first event.
	for _, d := range []string{"false", "true"} {
		m.contain.WithLabelValues(d)
	}
	for _, e := range approvalOutcomes {
		m.approvalOutcomes.WithLabelValues(string(e))
	}
	if err := m.initTemporal(); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Metrics) initTemporal() error {
	exp, err := otelprom.New(otelprom.WithRegisterer(m.reg), otelprom.WithoutTargetInfo(), otelprom.WithoutScopeInfo())
	if err != nil {
		return fmt.Errorf("telemetry.New: opentelemetry prometheus exporter: %w", err)
	}
	m.provider = sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(exp),
		sdkmetric.WithView(sdkmetric.NewView(
			sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindHistogram, Scope: instrumentation.Scope{Name: temporalScope}},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: temporalBuckets}},
		)),
	)
	m.temporal = temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter: m.provider.Meter(temporalScope),
		// The handler's default answer to a meter error is a panic inside the SDK's
		// worker; a metric is never worth a crashed worker.
		OnError: func(err error) {
			m.log.Warn("temporal sdk metric dropped", "op", "telemetry.TemporalHandler", "err", err)
		},
		UseMonotonicCounters: true,
	})
	return nil
}

// Registry returns the registry every metric is in, for tests and for callers
// that add their own collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats. A nil
// Metrics serves 404, as if there were no metrics endpoint.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg,
	})
}

// TemporalHandler is the Temporal SDK's metrics handler (client.Options.MetricsHandler),
// recording into the same registry. Nil-safe: a nil Metrics gives the SDK's no-op handler.
func (m *Metrics) TemporalHandler() client.MetricsHandler {
	if m == nil {
		return client.MetricsNopHandler
	}
	return m.temporal
}

// Close stops the OpenTelemetry meter provider. Metrics recorded afterwards are
// dropped; Handler keeps serving the rest.
func (m *Metrics) Close(ctx context.Context) error {
	if m == nil {
		return nil
	}
	return m.provider.Shutdown(ctx)
}

// SignalAccepted counts a signal the intake accepted (recorded, duplicate or queued).
func (m *Metrics) SignalAccepted(source, origin string) {
	if m == nil {
		return
	}
	if !slices.Contains(sever.Origins, sever.Origin(origin)) {
		origin = OtherLabel
	}
	m.signals.WithLabelValues(m.sourceLabel(source), origin).Inc()
}

func (m *Metrics) sourceLabel(source string) string {
	if source == "" || len(source) > 128 || !utf8.ValidString(source) {
		return OtherLabel
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sources[source] {
		return source
	}
	if len(m.sources) >= MaxSources {
		return OtherLabel
	}
	m.sources[source] = true
	return source
}

// Contained records the time from an incident opening to verified containment.
func (m *Metrics) Contained(seconds float64) { m.observeContain(seconds, "false") }

// DrillContained records the same for a drill, kept apart so rehearsals never
// move the production figures.
func (m *Metrics) DrillContained(seconds float64) { m.observeContain(seconds, "true") }

func (m *Metrics) observeContain(seconds float64, drill string) {
	if m == nil || seconds < 0 {
		return
	}
	m.contain.WithLabelValues(drill).Observe(seconds)
}

// ApprovalRequested counts a step that started waiting for approval.
func (m *Metrics) ApprovalRequested() {
	if m == nil {
		return
	}
	m.approvalRequests.Inc()
}

var approvalOutcomes = []sever.Enforcement{sever.HumanApproved, sever.HumanDenied, sever.ApprovalExpired}

// ApprovalOutcome counts one approval outcome: a person's decision
// (human_approved, human_denied) or an expiry (approval_expired). Anything else is
// ignored.
func (m *Metrics) ApprovalOutcome(outcome sever.Enforcement) {
	if m == nil || !slices.Contains(approvalOutcomes, outcome) {
		return
	}
	m.approvalOutcomes.WithLabelValues(string(outcome)).Inc()
}

// ActivityFailed counts a failed activity attempt. activityType is a registered
// activity name, a fixed set, so it is safe as a label.
func (m *Metrics) ActivityFailed(activityType string, permanent bool) {
	if m == nil {
		return
	}
	p := "false"
	if permanent {
		p = "true"
	}
	m.activityFailures.WithLabelValues(activityType, p).Inc()
}
