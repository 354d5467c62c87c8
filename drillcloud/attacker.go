package drillcloud

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// Attacker operations, named service:Operation.
const (
	AttackListBuckets      = "s3:ListBuckets"
	AttackInvokeModel      = "bedrock:InvokeModel"
	AttackGetCallerID      = "sts:GetCallerIdentity"
	AttackGetSessionToken  = "sts:GetSessionToken"
	AttackGetSecretValue   = "secretsmanager:GetSecretValue"
	AttackCreateAccessKey  = "iam:CreateAccessKey"
	AttackDescribeVolumes  = "ec2:DescribeVolumes"
	defaultAttackerModelID = "anthropic.claude-3-haiku-20240307-v1:0"
	defaultAttackerIP      = "203.0.113.66"
)

var attackOps = map[string]bool{
	AttackListBuckets: true, AttackInvokeModel: true, AttackGetCallerID: true, AttackGetSessionToken: true,
	AttackGetSecretValue: true, AttackCreateAccessKey: true, AttackDescribeVolumes: true,
	AttackAnthropicMessages: true, AttackOpenAIChat: true,
}

// AttackerConfig describes someone using a stolen key.
type AttackerConfig struct {
	// KeyID is the stolen access key id (AKIA…) or session (ASIA…), a Bedrock
	// API key's credential id (ACCA…: the attacker holds the key and calls
	// bedrock:InvokeModel with it as a bearer token; "short-term:" and the ARN
	// of a user, role or assumed role: the attacker holds a short-term key
	// minted with that identity's credentials), or a model-provider key id
	// (apikey_…, key_…), whose value the attacker then holds.
	KeyID string
	Rate  float64 // calls per second across all operations; default 5
	// Operations default to s3:ListBuckets and bedrock:InvokeModel, or for a
	// provider key to that provider's inference call.
	Operations []string
	Region     string // default us-east-1
	ModelID    string // for bedrock:InvokeModel
	SecretID   string // for secretsmanager:GetSecretValue; default DefaultSecretName
	// KeepTrying keeps calling after a full round of operations was refused;
	// otherwise the attacker gives up then.
	KeepTrying bool
	// PivotToSession switches to the temporary credentials from a successful
	// sts:GetSessionToken, as attackers do to outlive key deactivation.
	PivotToSession bool
	// SourceIP is the address the call log shows; default 203.0.113.66.
	SourceIP string
	// MaxAttempts stops the attacker after that many calls; zero is no limit.
	MaxAttempts int
	// Endpoint overrides the cloud's URL (default: the URL from Start).
	Endpoint string
}

// AttackerStats summarises what the attacker got away with.
type AttackerStats struct {
	Attempts     int
	Successes    int
	Denials      int // refused by authentication or policy
	Errors       int // throttles, faults, transport errors
	FirstSuccess time.Time
	LastSuccess  time.Time
	LastDenial   time.Time
	ByOperation  map[string]OpStats
	Running      bool
	StopReason   string
	// SessionKeyID is set once the attacker pivoted to temporary credentials.
	SessionKeyID string
}

// OpStats counts one operation's outcomes.
type OpStats struct {
	Attempts, Successes, Denials, Errors int
	LastError                            string
}

// Attacker is a running attacker.
type Attacker struct {
	cfg    AttackerConfig
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	stats     AttackerStats
	successes []time.Time
	creds     aws.Credentials
	clients   attackClients
	// providerKey is the stolen model-provider key value; set only for provider
	// attacks, and never logged.
	providerKey string
	// bearerKey is the stolen Bedrock API key; set only for ACCA… key ids, and
	// never logged.
	bearerKey string
	http      *http.Client
	// call makes one call of a family attacker (StartFamilyAttacker) with the
	// credential it closes over; nil for AWS and model-provider attackers.
	call func(ctx context.Context, op string) (outcome, string)
}

type attackClients struct {
	s3  *s3.Client
	sts *sts.Client
	sm  *secretsmanager.Client
	iam *iam.Client
	ec2 *ec2.Client
	cfg aws.Config
}

// StartAttacker starts calling the cloud with a stolen key until refused (or
// forever with KeepTrying), until ctx ends, Stop, or Close.
func (c *Cloud) StartAttacker(ctx context.Context, cfg AttackerConfig) (*Attacker, error) {
	bearer := strings.HasPrefix(cfg.KeyID, "ACCA") || strings.HasPrefix(cfg.KeyID, ShortTermBedrockKeyIDPrefix)
	if len(cfg.Operations) == 0 {
		cfg.Operations = defaultAttackOps(cfg.KeyID)
		if bearer {
			cfg.Operations = []string{AttackInvokeModel}
		}
	}
	if bearer && slices.ContainsFunc(cfg.Operations, func(op string) bool { return op != AttackInvokeModel }) {
		return nil, fmt.Errorf("start attacker: a Bedrock API key (%s) serves only %s, not %v", cfg.KeyID, AttackInvokeModel, cfg.Operations)
	}
	for _, op := range cfg.Operations {
		if !attackOps[op] {
			return nil, fmt.Errorf("start attacker: unsupported operation %q", op)
		}
	}
	provider, err := attackProvider(cfg)
	if err != nil {
		return nil, fmt.Errorf("start attacker: %w", err)
	}
	if cfg.Rate == 0 {
		cfg.Rate = 5
	}
	if cfg.Rate < 0 || cfg.Rate > 1000 {
		return nil, fmt.Errorf("start attacker: rate %v must be within (0, 1000]", cfg.Rate)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.ModelID == "" {
		cfg.ModelID = defaultAttackerModelID
	}
	if cfg.SecretID == "" {
		cfg.SecretID = DefaultSecretName
	}
	if cfg.SourceIP == "" {
		cfg.SourceIP = defaultAttackerIP
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = c.URL()
	}
	if cfg.Endpoint == "" {
		return nil, errors.New("start attacker: drill cloud not started and no Endpoint given")
	}
	// The attacker holds a copy of the secret: deleting the key later does
	// not take it out of their hands.
	var creds aws.Credentials
	var providerKey, bearerKey string
	switch {
	case provider != "":
		providerKey, err = c.ProviderKeyValue(cfg.KeyID)
	case bearer:
		bearerKey, err = c.BedrockAPIKeyValue(cfg.KeyID)
	default:
		creds, err = c.Credentials(cfg.KeyID)
	}
	if err != nil {
		return nil, fmt.Errorf("start attacker: %w", err)
	}
	actx, cancel := context.WithCancel(ctx)
	a := &Attacker{cfg: cfg, cancel: cancel, done: make(chan struct{}), providerKey: providerKey, bearerKey: bearerKey,
		http: &http.Client{Timeout: 10 * time.Second, Transport: forwardedFor{ip: cfg.SourceIP, next: http.DefaultTransport}}}
	a.stats.ByOperation = map[string]OpStats{}
	a.stats.Running = true
	if provider == "" && !bearer {
		a.setCreds(creds)
	}
	c.srvMu.Lock()
	c.attackers = append(c.attackers, a)
	c.srvMu.Unlock()
	go a.run(actx)
	return a, nil
}

func (a *Attacker) setCreds(creds aws.Credentials) {
	cfg := StaticConfig(a.cfg.Endpoint, a.cfg.Region, creds)
	cfg.RetryMaxAttempts = 1
	cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second, Transport: forwardedFor{ip: a.cfg.SourceIP, next: inMemoryBody{next: http.DefaultTransport}}}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.creds = creds
	a.clients = attackClients{
		s3:  s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }),
		sts: sts.NewFromConfig(cfg),
		sm:  secretsmanager.NewFromConfig(cfg),
		iam: iam.NewFromConfig(cfg),
		ec2: ec2.NewFromConfig(cfg),
		cfg: cfg,
	}
}

type forwardedFor struct {
	ip   string
	next http.RoundTripper
}

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.ip)
	return f.next.RoundTrip(r)
}

// Stop ends the attacker and waits for its last call to finish.
func (a *Attacker) Stop() {
	a.cancel()
	<-a.done
}

// Done is closed when the attacker has stopped.
func (a *Attacker) Done() <-chan struct{} { return a.done }

// Stats returns a snapshot of the attacker's counters.
func (a *Attacker) Stats() AttackerStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.stats
	s.ByOperation = make(map[string]OpStats, len(a.stats.ByOperation))
	for k, v := range a.stats.ByOperation {
		s.ByOperation[k] = v
	}
	return s
}

// SuccessesAfter counts successful calls that completed after t, e.g. after
// the moment a runbook claimed containment.
func (a *Attacker) SuccessesAfter(t time.Time) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, s := range a.successes {
		if s.After(t) {
			n++
		}
	}
	return n
}

func (a *Attacker) run(ctx context.Context) {
	defer close(a.done)
	reason := "context done"
	defer func() {
		a.mu.Lock()
		a.stats.Running = false
		a.stats.StopReason = reason
		a.mu.Unlock()
	}()
	interval := time.Duration(float64(time.Second) / a.cfg.Rate)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	consecutiveDenials := 0
	for i := 0; ; i++ {
		if a.cfg.MaxAttempts > 0 && i >= a.cfg.MaxAttempts {
			reason = "max attempts reached"
			return
		}
		op := a.cfg.Operations[i%len(a.cfg.Operations)]
		outcome, msg := a.attempt(ctx, op)
		if ctx.Err() != nil {
			return
		}
		a.count(op, outcome, msg)
		switch outcome {
		case outcomeSuccess:
			consecutiveDenials = 0
		case outcomeDenied:
			consecutiveDenials++
		}
		if !a.cfg.KeepTrying && consecutiveDenials >= len(a.cfg.Operations) {
			reason = "every operation refused: " + msg
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

type outcome int

const (
	outcomeSuccess outcome = iota
	outcomeDenied
	outcomeError
)

// refusalCodes are the errors that mean "this credential no longer works
// for this call", across all protocols.
var refusalCodes = map[string]bool{
	"InvalidClientTokenId": true, "UnrecognizedClientException": true, "InvalidAccessKeyId": true,
	"SignatureDoesNotMatch": true, "InvalidSignatureException": true, "AuthFailure": true,
	"AccessDenied": true, "AccessDeniedException": true, "UnauthorizedOperation": true,
	"ExpiredToken": true, "ExpiredTokenException": true, "InvalidToken": true, "RequestExpired": true,
}

func (a *Attacker) count(op string, o outcome, msg string) {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.stats.ByOperation[op]
	a.stats.Attempts++
	st.Attempts++
	switch o {
	case outcomeSuccess:
		a.stats.Successes++
		st.Successes++
		if a.stats.FirstSuccess.IsZero() {
			a.stats.FirstSuccess = now
		}
		a.stats.LastSuccess = now
		a.successes = append(a.successes, now)
	case outcomeDenied:
		a.stats.Denials++
		st.Denials++
		a.stats.LastDenial = now
		st.LastError = msg
	default:
		a.stats.Errors++
		st.Errors++
		st.LastError = msg
	}
	a.stats.ByOperation[op] = st
}

func (a *Attacker) attempt(ctx context.Context, op string) (outcome, string) {
	if a.call != nil {
		return a.call(ctx, op)
	}
	if providerAttacks[op] != "" {
		return a.attemptProvider(ctx, op)
	}
	a.mu.Lock()
	cl := a.clients
	creds := a.creds
	a.mu.Unlock()
	var err error
	switch op {
	case AttackListBuckets:
		_, err = cl.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
	case AttackGetCallerID:
		_, err = cl.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	case AttackGetSecretValue:
		_, err = cl.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(a.cfg.SecretID)})
	case AttackCreateAccessKey:
		_, err = cl.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
	case AttackDescribeVolumes:
		_, err = cl.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
	case AttackGetSessionToken:
		var out *sts.GetSessionTokenOutput
		out, err = cl.sts.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
		if err == nil && a.cfg.PivotToSession && out.Credentials != nil {
			sc := out.Credentials
			a.setCreds(aws.Credentials{AccessKeyID: aws.ToString(sc.AccessKeyId), SecretAccessKey: aws.ToString(sc.SecretAccessKey),
				SessionToken: aws.ToString(sc.SessionToken)})
			a.mu.Lock()
			a.stats.SessionKeyID = aws.ToString(sc.AccessKeyId)
			a.mu.Unlock()
		}
	case AttackInvokeModel:
		if a.bearerKey != "" {
			err = a.invokeModelBearer(ctx)
		} else {
			err = a.invokeModel(ctx, cl.cfg, creds)
		}
	}
	if err == nil {
		return outcomeSuccess, ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && refusalCodes[ae.ErrorCode()] {
		return outcomeDenied, ae.ErrorCode()
	}
	if errors.As(err, &ae) {
		return outcomeError, ae.ErrorCode()
	}
	return outcomeError, err.Error()
}

// invokeModel calls bedrock-runtime InvokeModel by hand (the runtime client
// is not a dependency), signing as "bedrock" the way the SDK does.
func (a *Attacker) invokeModel(ctx context.Context, cfg aws.Config, creds aws.Credentials) error {
	body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":256,"messages":[{"role":"user","content":"Write a long story."}]}`)
	u, err := url.Parse(strings.TrimRight(a.cfg.Endpoint, "/"))
	if err != nil {
		return fmt.Errorf("invoke model: endpoint %q: %w", a.cfg.Endpoint, err)
	}
	escaped := url.PathEscape(a.cfg.ModelID)
	escaped = strings.ReplaceAll(escaped, ":", "%3A")
	u.Path = "/model/" + a.cfg.ModelID + "/invoke"
	u.RawPath = "/model/" + escaped + "/invoke"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("invoke model: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	var httpc aws.HTTPClient = a.http
	if a.bearerKey != "" {
		req.Header.Set("Authorization", "Bearer "+a.bearerKey)
	} else {
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "bedrock", a.cfg.Region, time.Now()); err != nil {
			return fmt.Errorf("invoke model: sign: %w", err)
		}
		httpc = cfg.HTTPClient
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return fmt.Errorf("invoke model: %w", err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	code := resp.Header.Get("X-Amzn-Errortype")
	if i := strings.Index(code, ":"); i >= 0 {
		code = code[:i]
	}
	return &smithy.GenericAPIError{Code: code, Message: truncate(string(rb), 200)}
}

// invokeModelBearer calls bedrock-runtime InvokeModel with the stolen Bedrock API
// key as "Authorization: Bearer <key>", as the Bedrock SDKs do with an API key.
func (a *Attacker) invokeModelBearer(ctx context.Context) error {
	return a.invokeModel(ctx, aws.Config{}, aws.Credentials{})
}
