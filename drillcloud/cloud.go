// Package drillcloud is an in-process AWS and model-provider look-alike for
// drills and tests.
//
// It speaks the real wire protocols (awsQuery, ec2Query, awsJson1.1, S3 REST
// XML, restJson1) for the handful of IAM, STS, Secrets Manager, CloudTrail,
// EC2, S3 and Bedrock operations sever's activities use, verifies SigV4 for
// real, evaluates explicit Deny policies, records every call (CloudTrail
// LookupEvents reads that log back), injects faults and runs an attacker that
// keeps using a stolen key. Point aws-sdk-go-v2 clients at it with
// BaseEndpoint (S3 with UsePathStyle) and production code runs unchanged.
//
// Next to AWS it serves the Anthropic and OpenAI Admin API key operations and
// their inference endpoints, with the same call log, faults and attacker, so the
// provider actions can be drilled the same way.
package drillcloud

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Cloud is a running drill cloud. All methods are safe for concurrent use.
type Cloud struct {
	opts options

	mu sync.Mutex // guards st and invocations
	st *state

	logMu  sync.Mutex
	events []Event
	seq    int64

	faultMu sync.Mutex
	faults  []*activeFault
	rng     *rand.Rand

	throttleMu sync.Mutex
	buckets    map[string]*tokenBucket

	invocations []Invocation

	srvMu     sync.Mutex
	srv       *http.Server
	baseURL   string
	attackers []*Attacker

	// github is the GitHub twin served on this listener, if any (see ServeGitHub).
	github atomic.Pointer[GitHubTwin]
	// gcp is the GCP twin served on this listener, if any (see ServeGCP).
	gcp atomic.Pointer[GCPTwin]
	// vault is the Vault twin served on this listener, if any (see ServeVault).
	vault atomic.Pointer[VaultTwin]
	// azure is the Azure twin served on this listener, if any (see ServeAzure).
	azure atomic.Pointer[AzureTwin]
}

// ServeGitHub serves twin on the cloud's listener, beside AWS and the model
// providers: requests with GitHub's media type or API version header go to it
// (see IsGitHubRequest), so a GitHub App client pointed at URL reaches it.
func (c *Cloud) ServeGitHub(twin *GitHubTwin) { c.github.Store(twin) }

// GitHub returns the GitHub twin ServeGitHub installed, or nil.
func (c *Cloud) GitHub() *GitHubTwin { return c.github.Load() }

type options struct {
	logger         *slog.Logger
	lookupRate     float64
	lookupBurst    float64
	snapshotDelay  time.Duration
	maxBody        int64
	trustForwarded bool
}

// Option configures New.
type Option func(*options)

// WithLogger logs one line per call at debug level. Secret values and key
// material are never logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithLookupEventsRate sets CloudTrail LookupEvents' per account-region rate
// limit (AWS: 2 per second).
func WithLookupEventsRate(perSecond float64, burst int) Option {
	return func(o *options) { o.lookupRate, o.lookupBurst = perSecond, float64(burst) }
}

// WithSnapshotDelay makes new EBS snapshots stay "pending" for d.
func WithSnapshotDelay(d time.Duration) Option { return func(o *options) { o.snapshotDelay = d } }

// WithMaxBodyBytes caps request bodies (default 64 MiB).
func WithMaxBodyBytes(n int64) Option { return func(o *options) { o.maxBody = n } }

// WithTrustedForwardedFor makes the call log take the source IP from
// X-Forwarded-For when the request comes from loopback, so the attacker's
// calls show a different address from sever's. On by default.
func WithTrustedForwardedFor(trust bool) Option { return func(o *options) { o.trustForwarded = trust } }

// New builds a drill cloud from a seed. The seed is validated again, so a
// Seed built in Go gets the same checks as one parsed from YAML.
func New(seed Seed, opts ...Option) (*Cloud, error) {
	o := options{lookupRate: 2, lookupBurst: 2, maxBody: 64 << 20, trustForwarded: true}
	for _, fn := range opts {
		fn(&o)
	}
	if o.lookupRate <= 0 || o.lookupBurst < 1 {
		return nil, fmt.Errorf("new drill cloud: LookupEvents rate %v/s burst %v must be positive", o.lookupRate, o.lookupBurst)
	}
	if err := seed.validate(); err != nil {
		return nil, fmt.Errorf("new drill cloud: invalid seed: %w", err)
	}
	st, err := newState(seed, time.Now().UTC())
	if err != nil {
		return nil, fmt.Errorf("new drill cloud: %w", err)
	}
	rs := uint64(seed.RandSeed)
	if rs == 0 {
		rs = uint64(time.Now().UnixNano())
	}
	c := &Cloud{
		opts:    o,
		st:      st,
		rng:     rand.New(rand.NewPCG(rs, rs^0x9e3779b97f4a7c15)),
		buckets: map[string]*tokenBucket{},
	}
	for _, f := range seed.Faults {
		if err := c.InjectFault(f); err != nil {
			return nil, fmt.Errorf("new drill cloud: seed %w", err)
		}
	}
	return c, nil
}

// Handler serves every supported service on one endpoint, dispatching on
// the SigV4 credential scope.
func (c *Cloud) Handler() http.Handler { return http.HandlerFunc(c.serveHTTP) }

// Start listens on addr ("127.0.0.1:0" for any free port) and returns the
// base URL to use as the SDK's BaseEndpoint.
func (c *Cloud) Start(addr string) (string, error) {
	c.srvMu.Lock()
	defer c.srvMu.Unlock()
	if c.srv != nil {
		return "", errors.New("start drill cloud: already started at " + c.baseURL)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("start drill cloud on %s: %w", addr, err)
	}
	c.srv = &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 10 * time.Second}
	c.baseURL = "http://" + ln.Addr().String()
	go func() { _ = c.srv.Serve(ln) }()
	return c.baseURL, nil
}

// URL returns the base URL from Start, or "" before Start.
func (c *Cloud) URL() string {
	c.srvMu.Lock()
	defer c.srvMu.Unlock()
	return c.baseURL
}

// Close stops attackers and the server started by Start.
func (c *Cloud) Close() error {
	c.srvMu.Lock()
	attackers := c.attackers
	c.attackers = nil
	srv := c.srv
	c.srvMu.Unlock()
	for _, a := range attackers {
		a.Stop()
	}
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		// A client that dialled but never sent a request (an attacker stopped
		// mid-call) holds Shutdown for 5s; cut such connections instead.
		if cerr := srv.Close(); cerr != nil {
			return fmt.Errorf("close drill cloud: %w", cerr)
		}
	}
	return nil
}

// Credentials returns the credentials for an access key id (AKIA…) or a
// session (ASIA…, with its token), as the attacker or a test would hold them.
func (c *Cloud) Credentials(keyID string) (aws.Credentials, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k := c.st.keys[keyID]; k != nil {
		return aws.Credentials{AccessKeyID: k.id, SecretAccessKey: k.secret, Source: "drillcloud"}, nil
	}
	if s := c.st.sessions[keyID]; s != nil {
		return aws.Credentials{AccessKeyID: s.id, SecretAccessKey: s.secret, SessionToken: s.token,
			CanExpire: true, Expires: s.expires, Source: "drillcloud"}, nil
	}
	return aws.Credentials{}, fmt.Errorf("credentials for %s: no such access key or session", keyID)
}

// AWSConfig returns an SDK config that signs with keyID's credentials and
// sends every service to this cloud (Start must have been called). S3 clients
// also need o.UsePathStyle = true. The config reads no environment or shared
// files, so a developer's AWS profile can never leak into a drill.
func (c *Cloud) AWSConfig(ctx context.Context, keyID string) (aws.Config, error) {
	base := c.URL()
	if base == "" {
		return aws.Config{}, fmt.Errorf("aws config for %s: drill cloud not started", keyID)
	}
	return c.AWSConfigFor(ctx, base, keyID)
}

// AWSConfigFor is AWSConfig against an explicit endpoint, for a cloud served
// through httptest or a proxy.
func (c *Cloud) AWSConfigFor(_ context.Context, baseURL, keyID string) (aws.Config, error) {
	creds, err := c.Credentials(keyID)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws config: %w", err)
	}
	return StaticConfig(baseURL, DefaultRegion, creds), nil
}

// StaticConfig builds an SDK config for any endpoint and credentials.
func StaticConfig(baseURL, region string, creds aws.Credentials) aws.Config {
	cfg := aws.NewConfig()
	cfg.Region = region
	cfg.BaseEndpoint = aws.String(baseURL)
	cfg.Credentials = credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
	cfg.Retryer = func() aws.Retryer { return retry.NewStandard() }
	// config.LoadDefaultConfig resolves these to "when supported"; without
	// them S3 would skip the default CRC32 that production uploads carry.
	cfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported
	cfg.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenSupported
	cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: inMemoryBody{next: http.DefaultTransport}}
	return *cfg
}

// inMemoryBody hands net/http request bodies it recognises as in memory.
// Given smithy's closable body wrapper, net/http flushes the headers first,
// streams the body, then probes it for extra bytes; a loopback server can
// answer in between, smithy then closes the body, the probe sees io.EOF and
// net/http tears the connection down while a large response is still being
// read. Buffered bodies are written in one flush after the probe.
type inMemoryBody struct{ next http.RoundTripper }

func (t inMemoryBody) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength <= 0 || r.ContentLength > 1<<20 {
		return t.next.RoundTrip(r)
	}
	b, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("buffer request body: %w", err)
	}
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(b))
	r2.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return t.next.RoundTrip(r2)
}

// tokenBucket is a small rate limiter; LookupEvents needs one per
// account-region.
type tokenBucket struct {
	tokens float64
	last   time.Time
}

func (c *Cloud) allowLookup(account, region string, now time.Time) bool {
	c.throttleMu.Lock()
	defer c.throttleMu.Unlock()
	k := account + "/" + region
	b := c.buckets[k]
	if b == nil {
		b = &tokenBucket{tokens: c.opts.lookupBurst, last: now}
		c.buckets[k] = b
	}
	b.tokens += now.Sub(b.last).Seconds() * c.opts.lookupRate
	if b.tokens > c.opts.lookupBurst {
		b.tokens = c.opts.lookupBurst
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
