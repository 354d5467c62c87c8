package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/service"
)

// Incidents is the part of the engine (service.Service) the incident gauges read.
type Incidents interface {
	ListIncidents(ctx context.Context, f service.ListFilter) ([]sever.IncidentSummary, error)
	GetIncident(ctx context.Context, id string) (*sever.Incident, error)
}

// WatchIncidents adds the gauges sever_incidents (by status) and
// sever_approvals_pending, computed from src's listing at scrape time (at most
// once per Options.Refresh). It is separate from New because the engine that
// lists incidents is built on a Temporal client that takes TemporalHandler.
// Call it once, in the process that serves /metrics.
func (m *Metrics) WatchIncidents(src Incidents) error {
	if src == nil {
		return errors.New("telemetry.WatchIncidents: src is nil")
	}
	if err := m.reg.Register(newIncidentCollector(src, m.opts, m.log)); err != nil {
		return fmt.Errorf("telemetry.WatchIncidents: %w", err)
	}
	return nil
}

// detailConcurrency bounds parallel incident reads while counting pending
// approvals: each is a workflow query, and a scrape should not crowd out the API.
const detailConcurrency = 4

// knownStatuses are always exported, at zero when no incident has them, so an
// alert on open incidents sees 0 rather than no data.
var knownStatuses = []sever.IncidentStatus{sever.IncidentOpen, sever.IncidentContained, sever.IncidentFailed, sever.IncidentClosed}

// incidentCollector computes the incident gauges from a listing taken at scrape
// time. State gauges come from the engine's state rather than counted events, so
// they are right after a restart and agree across API replicas.
type incidentCollector struct {
	src                    Incidents
	refresh, timeout       time.Duration
	listLimit, detailLimit int
	log                    *slog.Logger

	byStatus, pending, listErrs *prometheus.Desc

	mu     sync.Mutex
	snap   *incidentSnapshot
	at     time.Time
	errors float64
}

type incidentSnapshot struct {
	byStatus map[sever.IncidentStatus]int
	// pending is valid only when pendingOK: a failed read makes the count unknown,
	// and an unknown count is left out rather than reported low.
	pending   int
	pendingOK bool
}

func newIncidentCollector(src Incidents, o Options, log *slog.Logger) *incidentCollector {
	c := &incidentCollector{
		src: src, refresh: o.Refresh, timeout: o.ListTimeout,
		listLimit: o.ListLimit, detailLimit: o.DetailLimit, log: log,
		byStatus: prometheus.NewDesc("sever_incidents",
			"Incidents by status, from the engine's listing (newest first, up to the list limit).", []string{"status"}, nil),
		pending: prometheus.NewDesc("sever_approvals_pending",
			"Steps of open incidents waiting for a human approval now.", nil, nil),
		listErrs: prometheus.NewDesc("sever_incident_listing_errors_total",
			"Listings for the incident gauges that failed; the gauges are left out of that scrape.", nil, nil),
	}
	if c.refresh == 0 {
		c.refresh = 15 * time.Second
	}
	if c.timeout == 0 {
		c.timeout = 5 * time.Second
	}
	if c.listLimit == 0 {
		c.listLimit = 10000
	}
	if c.detailLimit == 0 {
		c.detailLimit = 200
	}
	return c
}

func (c *incidentCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.byStatus
	ch <- c.pending
	ch <- c.listErrs
}

func (c *incidentCollector) Collect(ch chan<- prometheus.Metric) {
	snap, errs := c.current()
	ch <- prometheus.MustNewConstMetric(c.listErrs, prometheus.CounterValue, errs)
	if snap == nil {
		return
	}
	for st, n := range snap.byStatus {
		ch <- prometheus.MustNewConstMetric(c.byStatus, prometheus.GaugeValue, float64(n), string(st))
	}
	if snap.pendingOK {
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(snap.pending))
	}
}

// current returns the cached snapshot or takes a new one. The lock is held while
// listing, so concurrent scrapes share one listing instead of each paying for it.
func (c *incidentCollector) current() (*incidentSnapshot, float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.snap != nil && time.Since(c.at) < c.refresh {
		return c.snap, c.errors
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	snap, err := c.take(ctx)
	if err != nil {
		c.errors++
		c.snap = nil
		c.log.Warn("incident metrics unavailable", "op", "telemetry.incidents", "err", err)
		return nil, c.errors
	}
	c.snap, c.at = snap, time.Now()
	return snap, c.errors
}

func (c *incidentCollector) take(ctx context.Context) (*incidentSnapshot, error) {
	list, err := c.src.ListIncidents(ctx, service.ListFilter{Limit: c.listLimit})
	if err != nil {
		return nil, err
	}
	if len(list) >= c.listLimit {
		c.log.Warn("incident metrics count only the newest incidents", "op", "telemetry.incidents", "limit", c.listLimit)
	}
	snap := &incidentSnapshot{byStatus: map[sever.IncidentStatus]int{}}
	for _, st := range knownStatuses {
		snap.byStatus[st] = 0
	}
	var open []string
	for _, s := range list {
		st := s.Status
		if st == "" {
			st = OtherLabel
		}
		snap.byStatus[st]++
		// Only an open, running incident can have a step parked on a person.
		if s.Running && s.Status == sever.IncidentOpen {
			open = append(open, s.ID)
		}
	}
	if len(open) > c.detailLimit {
		c.log.Warn("too many open incidents to count pending approvals", "op", "telemetry.incidents",
			"open", len(open), "limit", c.detailLimit)
		return snap, nil
	}
	snap.pending, err = c.countPending(ctx, open)
	if err != nil {
		c.log.Warn("pending approvals unknown", "op", "telemetry.incidents", "err", err)
		return snap, nil
	}
	snap.pendingOK = true
	return snap, nil
}

func (c *incidentCollector) countPending(ctx context.Context, ids []string) (int, error) {
	var (
		mu    sync.Mutex
		total int
		errs  []error
		wg    sync.WaitGroup
		sem   = make(chan struct{}, detailConcurrency)
	)
	for _, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			inc, err := c.src.GetIncident(ctx, id)
			n := 0
			if err == nil && inc != nil {
				for _, st := range inc.Steps {
					if st.Status == sever.StepWaitingApproval {
						n++
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			// An incident that ended between the listing and the read has nothing pending.
			if e, ok := errors.AsType[*sever.Error](err); err != nil && !(ok && e.Code == sever.ENOTFOUND) {
				errs = append(errs, err)
			}
			total += n
		})
	}
	wg.Wait()
	return total, errors.Join(errs...)
}
