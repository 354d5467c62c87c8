package httpapi

import (
	"net/http"

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
		s.metrics.SignalAccepted(sig.Source, string(sig.Origin))
	}
}
