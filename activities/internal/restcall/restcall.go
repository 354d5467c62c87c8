// Package restcall holds what the actions that speak a vendor's JSON REST API
// with net/http (Azure, GitHub) share: sending one request and turning an
// unexpected status into an error of a stable type. Neither ever puts a request
// or response body in an error: either may carry a secret.
package restcall

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"go.temporal.io/sdk/temporal"

	"github.com/sever-ir/sever/activities"
)

// Request is one call.
type Request struct {
	// Action and Op name the call in every error.
	Action, Op  string
	Method, URL string
	// Header is sent as given (authorization, accept, API version);
	// User-Agent and, with a body, Content-Type are added.
	Header http.Header
	// Body, when not nil, is sent encoded as JSON.
	Body any
	// URLSetting names the setting a malformed URL comes from, in the error
	// ("" names none).
	URLSetting string
	// MaxBody bounds what is read of the response.
	MaxBody int64
}

// Do sends r with hc and returns the status and at most r.MaxBody bytes of the
// response body. A transport failure is a retryable error; the status is the
// caller's to judge.
func Do(ctx context.Context, hc *http.Client, r Request) (int, []byte, error) {
	name := r.Action + ": " + r.Op
	var rd io.Reader
	if r.Body != nil {
		b, err := json.Marshal(r.Body)
		if err != nil {
			return 0, nil, activities.Permanent(activities.ErrInvalidArgument, name+": encode request", nil)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, rd)
	if err != nil {
		if r.URLSetting != "" {
			name += ": " + r.URLSetting
		}
		return 0, nil, activities.Permanent(activities.ErrInvalidArgument, name, err)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v) // Add canonicalises k, as Set did before
		}
	}
	req.Header.Set("User-Agent", "sever")
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		// *url.Error quotes the URL, which holds ids, never a secret.
		return 0, nil, fmt.Errorf("%s: %w", name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, r.MaxBody))
	if err != nil {
		return 0, nil, fmt.Errorf("%s: read response: %w", name, err)
	}
	return resp.StatusCode, b, nil
}

// Retryable names a vendor's retryable error types.
type Retryable struct {
	Throttled, Unavailable string
}

// Status is the error of an unexpected status, its message text: 429 is
// Throttled and 5xx Unavailable, both retried; 401 and 403 are AccessDenied, 404
// NotFound, and the rest InvalidArgument, all permanent.
func Status(status int, types Retryable, text string) error {
	switch {
	case status == http.StatusTooManyRequests:
		return temporal.NewApplicationError(text, types.Throttled)
	case status >= 500:
		return temporal.NewApplicationError(text, types.Unavailable)
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return activities.Permanent(activities.ErrAccessDenied, text, nil)
	case status == http.StatusNotFound:
		return activities.Permanent(activities.ErrNotFound, text, nil)
	}
	return activities.Permanent(activities.ErrInvalidArgument, text, nil)
}

// Bound cuts a vendor's error message to 200 bytes, what an error quotes of it.
func Bound(msg string) string {
	if len(msg) > 200 {
		return msg[:200]
	}
	return msg
}
