package httpapi

import (
	"context"
	"net/http"
	"strings"
)

type asyncKey struct{}

// RespondAsync reports whether the client asked not to wait for the incident's
// answer (HTTP "Prefer: respond-async", RFC 7240): the submission is durable when it
// is accepted, and a sender flooding signals need not pay a round trip through the
// workflow for each to learn whether it was a duplicate.
func RespondAsync(ctx context.Context) bool {
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
