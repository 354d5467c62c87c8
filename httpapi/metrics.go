package httpapi

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sever-ir/sever"
)

// Metrics is what the API records and serves; *telemetry.Metrics satisfies it.
// Options.Metrics nil means no counting and no /metrics route.
type Metrics interface {
	SignalAccepted(source, origin string)
	Handler() http.Handler
}

// metricsRoute serves GET /metrics without a bearer token: Prometheus scrapers
// authenticate, if at all, at the network or a proxy, not with sever's tokens, and
// a scraper holding an API token would be one more secret with read access to
// incidents. That is safe because the exposition holds counts only: its labels
// are fixed vocabularies and capped source names, never incident ids, credential
// ids, principals or anything from a request body. Deployments that want the
// endpoint private bind the API to a private address or filter /metrics at the proxy.
func (s *Server) metricsRoute() {
	if s.metrics == nil {
		return
	}
	h := s.metrics.Handler()
	s.mux.Handle("GET /metrics", h)
}

// signalAccepted counts a signal the engine took. Adapter routes call it too, so
// every way in is counted by its source.
func (s *Server) signalAccepted(sig sever.Signal) {
	if s.metrics != nil {
		s.metrics.SignalAccepted(sourceLabel(sig.Source), string(sig.Origin))
	}
}

// containSourceLabel is the source label under which /metrics counts every
// on-demand containment's signal.
const containSourceLabel = "operator"

// sourceLabel is the source a signal is counted under. An on-demand containment's
// source names its operator's token (ContainSourcePrefix), which the signal and the
// ledger keep but the unauthenticated /metrics must not publish.
func sourceLabel(source string) string {
	if strings.HasPrefix(source, ContainSourcePrefix) {
		return containSourceLabel
	}
	return source
}

// Reasons a signal is shed at intake, the values of sever_signals_shed_total's
// reason label.
const (
	ShedCredentialRate = "credential_rate"
	ShedTokenRate      = "token_rate"
	ShedIncidentQuota  = "incident_quota"
)

// shedCounter is what the API needs to count shed signals. *telemetry.Metrics does
// not implement it, so the API registers its own counter in the registry the
// Metrics exposes (see newShedMetric).
type shedCounter interface {
	SignalShed(reason string)
}

// promShed counts shed signals in a Prometheus registry.
type promShed struct{ c *prometheus.CounterVec }

func (p promShed) SignalShed(reason string) { p.c.WithLabelValues(reason).Inc() }

// newShedMetric finds a way to count shed signals in m: its own SignalShed, or a
// counter registered in its Prometheus registry. Nil when m offers neither.
func newShedMetric(m Metrics) shedCounter {
	if sc, ok := m.(shedCounter); ok {
		return sc
	}
	r, ok := m.(interface{ Registry() *prometheus.Registry })
	if !ok {
		return nil
	}
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sever_signals_shed_total",
		Help: "Signals refused at intake with 429, by reason (credential_rate, token_rate, incident_quota).",
	}, []string{"reason"})
	if err := r.Registry().Register(c); err != nil {
		// A second Server on the same Metrics counts into the first one's counter.
		are, ok := err.(prometheus.AlreadyRegisteredError)
		if !ok {
			return nil
		}
		if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
			c = existing
		} else {
			return nil
		}
	}
	return promShed{c}
}
