package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/sever-ir/sever/activities"
	"github.com/sever-ir/sever/internal/secretscan"
)

// Error types of failures Temporal retries: the provider is throttling or failing.
const (
	ErrThrottled   = "ProviderThrottled"
	ErrUnavailable = "ProviderUnavailable"
)

// maxRetryAfter caps how long a provider's Retry-After may push the next attempt out.
const maxRetryAfter = 30 * time.Second

// api is one provider's Admin API as one action call sees it: the admin key is
// resolved once per call and never leaves this struct.
type api struct {
	provider string
	action   string
	base     string
	key      string
	hc       *http.Client
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (a *Activities) anthropicAPI(ctx context.Context, action string) (*api, error) {
	if a.Anthropic == nil || a.Anthropic.AdminKey == nil {
		return nil, activities.Permanent(activities.ErrAccessDenied,
			action+": sever has no Anthropic admin key (set providers.anthropic.admin_key in sever.yaml)", nil)
	}
	return a.newAPI(ctx, action, providerAnthropic, a.Anthropic.BaseURL, DefaultAnthropicURL, a.Anthropic.AdminKey)
}

func (a *Activities) openAIAPI(ctx context.Context, action string) (*api, error) {
	if a.OpenAI == nil || a.OpenAI.AdminKey == nil {
		return nil, activities.Permanent(activities.ErrAccessDenied,
			action+": sever has no OpenAI admin key (set providers.openai.admin_key in sever.yaml)", nil)
	}
	return a.newAPI(ctx, action, providerOpenAI, a.OpenAI.BaseURL, DefaultOpenAIURL, a.OpenAI.AdminKey)
}

func (a *Activities) newAPI(ctx context.Context, action, provider, base, def string, src KeySource) (*api, error) {
	key, err := src(ctx)
	if err != nil {
		// Resolving may fail for a moment (Secrets Manager); the error names the
		// reference, never a value.
		return nil, fmt.Errorf("%s: resolve providers.%s.admin_key: %w", action, provider, err)
	}
	if strings.TrimSpace(key) == "" {
		return nil, activities.Permanent(activities.ErrAccessDenied,
			fmt.Sprintf("%s: providers.%s.admin_key resolved to an empty value", action, provider), nil)
	}
	if base == "" {
		base = def
	}
	return &api{provider: provider, action: action, base: strings.TrimRight(base, "/"), key: key, hc: keepKeyOnOrigin(a.httpClient())}, nil
}

// errCrossOriginRedirect is what the client's CheckRedirect returns for a redirect
// to another origin; call turns it into a permanent error.
var errCrossOriginRedirect = errors.New("redirect to another host refused: the admin key is sent only to the configured base URL")

// keepKeyOnOrigin returns a copy of hc that follows redirects only within the
// origin (scheme, host and port) of the first request. net/http drops
// Authorization on a redirect to another domain but copies every other header,
// X-Api-Key included, and resends a 307/308's body: a provider endpoint, or a
// proxy on the way to it, answering with a redirect to another host would get
// the admin key. No provider Admin API redirects across hosts, so such a
// redirect is refused rather than followed without the key. The caller's own
// redirect policy, if any, still applies within the origin.
func keepKeyOnOrigin(hc *http.Client) *http.Client {
	c := *hc
	next := hc.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if first := via[0].URL; !strings.EqualFold(req.URL.Scheme, first.Scheme) || !strings.EqualFold(req.URL.Host, first.Host) {
			return errCrossOriginRedirect
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &c
}

// actor is the admin key's accountable name.
func (x *api) actor() string { return adminActor(x.provider, x.key) }

// call sends one request. Only transport failures are errors here; the caller
// decides which statuses are answers (a 404 often is) and classifies the rest.
func (x *api) call(ctx context.Context, op, subject, method, path string, body any) (*reply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, activities.Permanent(activities.ErrInvalidArgument, fmt.Sprintf("%s: %s %s %s: encode body", x.action, x.provider, op, subject), err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, x.base+path, rd)
	if err != nil {
		return nil, activities.Permanent(activities.ErrInvalidArgument, fmt.Sprintf("%s: %s %s %s: base URL %s", x.action, x.provider, op, subject, x.base), err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "sever")
	if x.provider == providerAnthropic {
		req.Header.Set("X-Api-Key", x.key)
		req.Header.Set("Anthropic-Version", AnthropicVersion)
	} else {
		req.Header.Set("Authorization", "Bearer "+x.key)
	}
	resp, err := x.hc.Do(req)
	if errors.Is(err, errCrossOriginRedirect) {
		// The URL error names both URLs, which hold no key. Retrying would only
		// be redirected again: a wrong base URL or a hostile endpoint.
		return nil, activities.Permanent(activities.ErrInvalidArgument,
			fmt.Sprintf("%s: %s %s %s: the provider answered with a redirect to another host, which sever does not follow with the admin key; check providers.%s.base_url",
				x.action, x.provider, op, subject, x.provider), err)
	}
	if err != nil {
		// net/http names the method and URL, which hold no key; a dropped connection
		// after a write is exactly the case the next attempt's read sorts out.
		return nil, fmt.Errorf("%s: %s %s %s: %w", x.action, x.provider, op, subject, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %s %s %s: read response: %w", x.action, x.provider, op, subject, err)
	}
	return &reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// decode reads a 2xx JSON answer; a body that does not parse is the provider
// misbehaving for a moment, so it is retryable.
func (x *api) decode(r *reply, op, subject string, into any) error {
	if err := json.Unmarshal(r.body, into); err != nil {
		return fmt.Errorf("%s: %s %s %s: HTTP %d with a body that is not the expected JSON: %w", x.action, x.provider, op, subject, r.status, err)
	}
	return nil
}

// classify turns a provider's error answer into a stable activity error: 401/403
// AccessDenied, 404 NotFound and other 4xx InvalidArgument are permanent; 429 and
// 5xx are retryable, after the provider's Retry-After when it gives one.
func (x *api) classify(r *reply, op, subject string) error {
	what := fmt.Sprintf("%s: %s %s %s: HTTP %d", x.action, x.provider, op, subject, r.status)
	if d := providerDetail(r.body); d != "" {
		what += " " + d
	}
	switch {
	case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden:
		return activities.Permanent(activities.ErrAccessDenied, what, nil)
	case r.status == http.StatusNotFound:
		return activities.Permanent(activities.ErrNotFound, what, nil)
	case r.status == http.StatusTooManyRequests:
		return temporal.NewApplicationErrorWithOptions(what, ErrThrottled,
			temporal.ApplicationErrorOptions{NextRetryDelay: retryAfter(r.header)})
	case r.status >= 500 || r.status == http.StatusConflict || r.status == http.StatusRequestTimeout:
		return temporal.NewApplicationErrorWithOptions(what, ErrUnavailable,
			temporal.ApplicationErrorOptions{NextRetryDelay: retryAfter(r.header)})
	case r.status >= 400:
		return activities.Permanent(activities.ErrInvalidArgument, what, nil)
	}
	return temporal.NewApplicationErrorWithOptions(what+" (unexpected status)", ErrUnavailable, temporal.ApplicationErrorOptions{})
}

// transient reports whether err is worth another try within the same attempt (an
// observe action reads a few times before it reports that it could not read).
func transient(err error) bool {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return !app.NonRetryable()
	}
	return err != nil
}

// retryAfter reads Retry-After in seconds or as an HTTP date, capped.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
		d = time.Duration(n * float64(time.Second))
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	}
	return min(max(d, 0), maxRetryAfter)
}

// providerDetail is the provider's own error type and message, from either API's
// error shape, with anything that looks like key material cut out: OpenAI's
// "Incorrect API key provided" names a redacted form of the key it got.
func providerDetail(body []byte) string {
	var e struct {
		Error struct {
			Type    string `json:"type"`
			Code    any    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	kind := e.Error.Type
	if code, ok := e.Error.Code.(string); ok && code != "" {
		kind = code
	}
	msg := scrub(e.Error.Message)
	switch {
	case kind == "" && msg == "":
		return ""
	case msg == "":
		return "(" + kind + ")"
	}
	return "(" + kind + "): " + truncate(msg, 300)
}

var keyMaterialRE = regexp.MustCompile(`(?i)\bsk-[a-z0-9][a-z0-9_*.…-]*|\bbearer\s+\S+`)

// scrub removes the redacted key forms providers echo (which the shared detector
// rightly lets through as identifiers) and anything the shared detector finds.
func scrub(s string) string {
	return secretscan.Redact(keyMaterialRE.ReplaceAllString(s, "[redacted]"))
}

// readBack reads until ok holds or the tries run out; providers apply a change
// before they answer, but a read may still land on a replica that has not seen it.
func (a *Activities) readBack(ctx context.Context, check func() (bool, error)) (bool, error) {
	delay := a.pollInterval(200 * time.Millisecond)
	for try := 0; ; try++ {
		ok, err := check()
		if err != nil || ok || try == 3 {
			return ok, err
		}
		if err := sleep(ctx, delay); err != nil {
			return false, err
		}
	}
}

// heartbeat tells Temporal a long observation is alive.
func heartbeat(ctx context.Context) {
	if activity.IsActivity(ctx) {
		activity.RecordHeartbeat(ctx)
	}
}
