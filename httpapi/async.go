package httpapi

import (
	"context"
	"net/http"
	"strings"
)

type asyncKey struct{}

// respondAsync reports whether the client asked not to wait for the incident's
// answer (HTTP "Prefer: respond-async", RFC 7240); submitWith turns it into
// service.SubmitRequest.RespondAsync, so the engine never reads a transport's context.
func respondAsync(ctx context.Context) bool {
	v, _ := ctx.Value(asyncKey{}).(bool)
	return v
}

// withPreferences records the request's Prefer header in its context.
func withPreferences(r *http.Request) *http.Request {
	for _, h := range r.Header.Values("Prefer") {
		for p := range strings.SplitSeq(h, ",") {
			if strings.EqualFold(strings.TrimSpace(p), "respond-async") {
				return r.WithContext(context.WithValue(r.Context(), asyncKey{}, true))
			}
		}
	}
	return r
}
