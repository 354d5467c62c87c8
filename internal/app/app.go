// Package app is sever's composition root: it builds every part from the config and
// wires them by hand. The CLI, the end-to-end tests and the benchmark all start sever
// through it, so they run exactly what a user runs.
package app

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/slack-go/slack"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities/approvals"
	"github.com/sever-ir/sever/activities/audit"
	"github.com/sever-ir/sever/activities/awsact"
	"github.com/sever-ir/sever/activities/core"
	"github.com/sever-ir/sever/activities/githubact"
	"github.com/sever-ir/sever/activities/providers"
	"github.com/sever-ir/sever/activities/tokens"
	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/engine"
	"github.com/sever-ir/sever/evidence"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/internal/decisionsig"
	"github.com/sever-ir/sever/internal/devserver"
	"github.com/sever-ir/sever/inventory"
	"github.com/sever-ir/sever/ledger"
	"github.com/sever-ir/sever/ledger/worm"
	"github.com/sever-ir/sever/runbooks"
	"github.com/sever-ir/sever/slackapp"
	"github.com/sever-ir/sever/telemetry"
	"github.com/sever-ir/sever/tokenstore"
	"github.com/sever-ir/sever/webui"
	"github.com/sever-ir/sever/worker"
)

// Parts are the pieces shared by every mode: runbooks, policy and the action clients.
type Parts struct {
	Config   *config.Config
	Library  *runbooks.Library
	Policy   *sever.Policy
	Tokens   *tokenstore.Store
	Evidence *evidence.Store
	Logger   *slog.Logger
	// Ledger and DrillLedger are opened by NewWorker, where facts are written: in
	// PostgreSQL with database.url set, which then also holds Tokens and Evidence.
	Ledger      *ledger.Store
	DrillLedger *ledger.Store
	// MigrateDatabase applies pending database migrations when NewWorker opens the
	// database, as database.migrate_on_start does; sever dev sets it.
	MigrateDatabase bool
	db              *Database // with database.url; closed by Close
	refusals        refusals  // the recorder of refused decisions (Refusals)
	// containment is the API once NewHTTP built it, for Slack commands over Socket Mode.
	containment lazyContainer
	// WorkerInterceptors wrap every activity and workflow the worker runs (metrics;
	// fault injection in tests).
	WorkerInterceptors []interceptor.WorkerInterceptor
	// Metrics is the process's Prometheus registry: API intake, worker outcomes and
	// the Temporal SDK's own metrics.
	Metrics *telemetry.Metrics
	// Inventory maps credentials to owners, the secrets that hold them and the
	// services that depend on them (blast radius, rotation).
	Inventory *inventory.Inventory
	// AWS serves the aws.* actions: against the configured accounts, or the drill
	// cloud when sever dev runs one.
	AWS *awsact.Activities
	// Providers serves the anthropic.* and openai.* actions, likewise.
	Providers *providers.Activities
	// GitHub serves the github.* actions through the configured GitHub App.
	GitHub *githubact.Activities
	// DrillMirror keeps a write-once copy of the drill ledger in the drill cloud's
	// Object Lock bucket, as production does with ledger.s3.
	DrillMirror audit.Mirror
	// Drills allows drill incidents (for tokens with drills:write). Only the drill
	// cloud turns it on: it is set where every action runs against the drill cloud,
	// because a drill incident runs under the policy's drill rules and must never
	// reach the production AWS or provider clients.
	Drills bool
	// DecisionKey signs decisions in the engine and checks them in the worker
	// (LoadDecisionKey); nil leaves decisions unsigned and unchecked.
	DecisionKey *decisionsig.Key
}

// LoadParts loads the runbook library and the policy named by the config.
func LoadParts(cfg *config.Config, logger *slog.Logger) (*Parts, error) {
	lib, err := runbooks.Load(cfg.Runbooks.Dir, sever.Catalog)
	if err != nil {
		return nil, fmt.Errorf("load runbooks: %w", err)
	}
	pol, err := runbooks.LoadPolicy(cfg.Runbooks.Policy, sever.Catalog)
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := telemetry.New(telemetry.Options{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	inv, err := inventory.Load(cfg.Inventory.Path)
	if err != nil {
		return nil, fmt.Errorf("load inventory: %w", err)
	}
	if err := cfg.CheckIntakeTokenNames(approverIDs(pol, lib)); err != nil {
		return nil, err
	}
	aws := awsact.FromConfig(cfg.AWS, inv, nil)
	return &Parts{
		Config: cfg, Library: lib, Policy: pol, Logger: logger, Metrics: m, Inventory: inv,
		AWS:       aws,
		Providers: providers.FromConfig(cfg.Providers, inv, awsact.Resolver{Clients: aws.Clients}),
		GitHub:    githubact.FromConfig(cfg.GitHub, awsact.Resolver{Clients: aws.Clients}),
		Tokens:    tokenstore.Open(cfg.TokenStorePath()),
		Evidence:  evidence.NewStore(filepath.Join(cfg.DataDir, "evidence")),
	}, nil
}

// NewWorker builds a worker with the workflow and every action registered.
func (p *Parts) NewWorker(ctx context.Context, c client.Client) (sdkworker.Worker, error) {
	notices := &approvals.Activities{}
	sc := p.Config.Slack
	if !sc.BotToken.IsZero() {
		client, err := p.slackClient(ctx)
		if err != nil {
			return nil, err
		}
		notices.Slack = &slackapp.Poster{Client: client, Channel: sc.Channel}
		if sc.EscalationChannel != "" {
			notices.Escalation = &slackapp.Poster{Client: client, Channel: sc.EscalationChannel}
		}
	}
	if p.Ledger == nil {
		if err := p.openState(ctx); err != nil {
			return nil, err
		}
	}
	icpt := append([]interceptor.WorkerInterceptor{p.Metrics.WorkerInterceptor()}, p.WorkerInterceptors...)
	if p.DecisionKey != nil {
		icpt = append(icpt, worker.DecisionInterceptor(p.DecisionKey))
	}
	acts := &audit.Activities{Ledger: p.Ledger, Drill: p.DrillLedger, DrillMirror: p.DrillMirror}
	var s3Anchors ledger.AnchorSink
	if s3c := p.Config.Ledger.S3; s3c.Bucket != "" {
		// The write-once copy makes the SQLite file no longer the only record someone
		// with the worker host could rewrite.
		clients, err := awsact.FactoryFromConfig(p.Config.AWS, nil).Clients(ctx, "", s3c.Region)
		if err != nil {
			return nil, fmt.Errorf("ledger S3 copy: %w", err)
		}
		m, err := worm.FromConfig(clients.S3, s3c)
		if err != nil {
			return nil, fmt.Errorf("ledger S3 copy: %w", err)
		}
		acts.Mirror, s3Anchors = m, m
	}
	// Signed checkpoints of the ledger heads, where the host cannot rewrite them, make
	// a truncation of the file show (ledger/README.md, "Anchors").
	var next ledger.EntryMirror
	if acts.Mirror != nil {
		next = acts.Mirror
	}
	anchored, err := p.anchorer(ctx, next, s3Anchors)
	if err != nil {
		return nil, fmt.Errorf("ledger checkpoints: %w", err)
	}
	if anchored != nil {
		acts.Mirror = anchored
	}
	w := sdkworker.New(c, p.Config.Temporal.TaskQueue, sdkworker.Options{Interceptors: icpt})
	worker.Register(w, worker.Actions{
		Core:      &core.Activities{Evidence: p.Evidence, Logger: p.Logger},
		Tokens:    &tokens.Activities{Stores: map[string]tokens.Store{"": p.Tokens}},
		Approvals: notices,
		Audit:     acts,
		AWS:       p.AWS,
		Providers: p.Providers,
		GitHub:    p.GitHub,
	})
	return w, nil
}

// slackClient builds a slack-go client with the bot token (empty when none is set;
// Socket Mode adds its app-level token to a copy).
func (p *Parts) slackClient(ctx context.Context) (*slack.Client, error) {
	sc := p.Config.Slack
	token := ""
	if !sc.BotToken.IsZero() {
		var err error
		if token, err = sc.BotToken.Resolve(ctx, nil); err != nil {
			return nil, fmt.Errorf("slack bot token: %w", err)
		}
	}
	var opts []slack.Option
	if sc.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(sc.APIURL))
	}
	return slack.New(token, opts...), nil
}

// StartSocketMode takes approval clicks over Slack's Socket Mode when
// slack.app_token is set, for teams that cannot expose the HTTP endpoint. It returns
// a function that stops it and waits; nil when Socket Mode is not configured.
func (p *Parts) StartSocketMode(ctx context.Context, decider slackapp.Decider) (stop func(), err error) {
	if p.Config.Slack.AppToken.IsZero() {
		return nil, nil
	}
	appToken, err := p.Config.Slack.AppToken.Resolve(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("slack app token: %w", err)
	}
	client, err := p.slackClient(ctx)
	if err != nil {
		return nil, err
	}
	h := &slackapp.Handler{Decider: decider, Logger: p.Logger, Refusals: p.Refusals(),
		Replay: slackapp.NewReplayCache(slackapp.DefaultReplayTTL, slackapp.DefaultReplayCapacity)}
	h.Slash = p.socketSlash()
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := slackapp.RunSocketMode(sctx, appToken, client, h); err != nil {
			p.Logger.Error("slack socket mode stopped", "err", err)
		}
	}()
	return func() { cancel(); <-done; h.Wait() }, nil
}

// DrillLedgerFile keeps drill records apart from production ones.
const DrillLedgerFile = "drill-ledger.db"

// Close releases what the parts opened (the ledgers).
func (p *Parts) Close() error {
	p.stopRefusals()
	var errs []error
	for _, l := range []*ledger.Store{p.Ledger, p.DrillLedger} {
		if l != nil {
			errs = append(errs, l.Close())
		}
	}
	p.Ledger, p.DrillLedger = nil, nil
	if p.db != nil {
		errs = append(errs, p.db.Close())
		p.db = nil
	}
	return errors.Join(errs...)
}

// NewEngine builds the engine on a Temporal client.
func (p *Parts) NewEngine(c client.Client) *engine.Engine {
	return &engine.Engine{
		Client: c, Namespace: p.Config.Temporal.Namespace, TaskQueue: p.Config.Temporal.TaskQueue,
		Runbooks: p.Library, Policy: p.Policy, ApproverGroups: p.Config.Approvers.Groups,
		Hold: p.Config.Incidents.Hold, Logger: p.Logger,
		Notify: p.Config.Slack.BotToken != "" && p.Config.Slack.Channel != "",
		Drills: p.Drills, DecisionKey: p.DecisionKey, Refusals: p.Refusals(), Ledger: p.ledgerReader,
	}
}

// approverIDs lists the approver identities the policy and the runbooks name, so
// no intake token can be named like one. Group references are not identities.
func approverIDs(pol *sever.Policy, lib *runbooks.Library) []string {
	var ids []string
	add := func(list []string) {
		for _, a := range list {
			if !strings.Contains(a, ":") {
				ids = append(ids, a)
			}
		}
	}
	for _, r := range pol.Rules {
		add(r.Approvers)
	}
	for _, rb := range lib.List() {
		for _, st := range rb.Steps {
			if st.Approval != nil {
				add(st.Approval.Approvers)
			}
		}
	}
	return ids
}

// DecisionKeyFile holds sever dev's decision key in the data dir, where a worker
// or API process on the same machine (scale-out on one host) finds it too.
const DecisionKeyFile = "decision-key"

// LoadDecisionKey sets p.DecisionKey from temporal.decision_key, or from
// <data-dir>/decision-key: created there with orCreate (sever dev), read when it
// exists otherwise. Without either, sever serve and sever worker refuse to start:
// the worker would refuse every decision, or the engine could not sign one.
func (p *Parts) LoadDecisionKey(ctx context.Context, orCreate bool) error {
	var secret string
	if ref := p.Config.Temporal.DecisionKey; !ref.IsZero() {
		v, err := ref.Resolve(ctx, nil)
		if err != nil {
			return fmt.Errorf("temporal.decision_key: %w", err)
		}
		secret = v
	} else {
		path := filepath.Join(p.Config.DataDir, DecisionKeyFile)
		if _, err := os.Stat(path); err != nil && !orCreate {
			return fmt.Errorf("temporal.decision_key is not set (and %s does not exist): every API host and worker needs the same key to sign and check approval decisions", path)
		}
		v, err := secretFile(p.Config.DataDir, DecisionKeyFile, "")
		if err != nil {
			return fmt.Errorf("decision key: %w", err)
		}
		secret = v
	}
	k, err := decisionsig.New([]byte(secret))
	if err != nil {
		return fmt.Errorf("temporal.decision_key: %w", err)
	}
	p.DecisionKey = k
	return nil
}

// APITokens resolves the bearer tokens of intake sources and operators.
func (p *Parts) APITokens(ctx context.Context) ([]httpapi.Token, error) {
	var out []httpapi.Token
	for _, t := range p.Config.Intake.Tokens {
		v, err := t.Secret.Resolve(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("intake token %s: %w", t.Name, err)
		}
		out = appendToken(out, httpapi.Token{Name: t.Name, Value: v}, t.Scopes)
	}
	for _, o := range p.Config.Operators {
		if o.Token.IsZero() {
			continue
		}
		v, err := o.Token.Resolve(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("operator %s: %w", o.Name, err)
		}
		// An operator approves as their Slack identity, so approver lists name one person once.
		out = appendToken(out, httpapi.Token{Name: o.Name, Value: v, Approver: o.SlackUser}, o.Scopes)
	}
	return out, nil
}

// appendToken keeps the scopes the API serves (the config also knows scopes of
// routes other parts add); a token left with none gets no API access at all, since
// an empty scope list would mean every scope.
func appendToken(out []httpapi.Token, t httpapi.Token, scopes []string) []httpapi.Token {
	var keep []string
	for _, s := range scopes {
		if slices.Contains(httpapi.Scopes, s) {
			keep = append(keep, s)
		}
	}
	if len(keep) == 0 && len(scopes) > 0 {
		return out
	}
	t.Scopes = keep
	return append(out, t)
}

// HTTPOptions are what the HTTP server needs besides the parts.
type HTTPOptions struct {
	Tokens []httpapi.Token
	// SlackSigningSecret turns on Slack's interactivity endpoint ("" leaves it out).
	SlackSigningSecret string
	// GitHubWebhookSecret authenticates GitHub's secret-scanning webhook deliveries.
	GitHubWebhookSecret string
	// PublicUI serves the web UI without sign-in: only sever dev on loopback.
	PublicUI bool
	// TemporalUIURL links incident pages to their workflow ("" for no link).
	TemporalUIURL string
}

// NewHTTP builds the HTTP server: the API and its adapters, /metrics, the web UI at
// /, and Slack's interactivity endpoint when a signing secret is known.
func (p *Parts) NewHTTP(svc httpapi.Service, o HTTPOptions) (*http.Server, error) {
	var runbook func(string) (*sever.Runbook, bool) // reports map the pinned runbook when the library has it
	if p.Library != nil {
		runbook = p.Library.Get
	}
	limits := APILimits(p.Config.Intake.Limits)
	api, err := httpapi.New(httpapi.Options{Service: svc, Tokens: o.Tokens,
		MaxBodyBytes: p.Config.HTTP.MaxBodyBytes, Logger: p.Logger, Runbook: runbook,
		Metrics: p.Metrics, GitHubWebhookSecret: []byte(o.GitHubWebhookSecret),
		Limits: &limits, Drills: p.Drills, GitHubAlerts: p.githubAlerts()})
	if err != nil {
		return nil, fmt.Errorf("http api: %w", err)
	}
	ui, err := webui.New(webui.Options{Service: svc, Public: o.PublicUI, Tokens: o.Tokens, Runbooks: p.Library,
		TemporalUIURL: o.TemporalUIURL, Namespace: p.Config.Temporal.Namespace, Logger: p.Logger, Contain: api})
	p.containment.set(api)
	if err != nil {
		return nil, fmt.Errorf("web ui: %w", err)
	}
	mux := http.NewServeMux()
	for _, path := range []string{"/v1/", "/healthz", "/metrics"} {
		mux.Handle(path, api.Handler())
	}
	mux.Handle("/", ui)
	if o.SlackSigningSecret != "" {
		// Slack authenticates with its signature, not a bearer token, so the endpoint
		// sits beside the API rather than behind its auth.
		mux.Handle(slackapp.InteractivityPath, &slackapp.Handler{SigningSecret: o.SlackSigningSecret, Decider: svc,
			Logger: p.Logger, Refusals: p.Refusals(), Replay: slackapp.NewReplayCache(slackapp.DefaultReplayTTL, slackapp.DefaultReplayCapacity)})
		mux.Handle(slackapp.SlashPath, &slackapp.SlashHandler{SigningSecret: o.SlackSigningSecret, Container: api,
			Operators: slackOperators(p.Config.Operators), Logger: p.Logger, Refusals: p.Refusals(),
			Replay: slackapp.NewReplayCache(slackapp.DefaultReplayTTL, slackapp.DefaultReplayCapacity)})
	}
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}, nil
}

// githubAlerts is the GitHub App the webhook resolves AWS key alerts through, or
// nil when none is configured (a nil *Activities in the interface would not be).
func (p *Parts) githubAlerts() httpapi.GitHubAlerts {
	if g := p.GitHub; g != nil && g.AppID != "" && g.InstallationID != "" && g.PrivateKey != nil {
		return g
	}
	return nil
}

// APILimits turns intake.limits into the API's admission control.
func APILimits(l config.IntakeLimits) httpapi.Limits {
	return httpapi.Limits{
		CredentialRate: float64(l.PerCredential.Rate), CredentialBurst: l.PerCredential.Burst,
		TokenRate: float64(l.PerToken.Rate), TokenBurst: l.PerToken.Burst,
		IncidentsPerToken: l.Incidents.Count, IncidentWindow: l.Incidents.Window,
	}
}

// GitHubSecret resolves the GitHub webhook secret. With orCreate (sever dev) and
// none configured, it reads or creates one in <data-dir>/github-webhook-secret to
// paste into the webhook's settings.
func (p *Parts) GitHubSecret(ctx context.Context, orCreate bool) (string, error) {
	if ref := p.Config.Intake.GitHubWebhookSecret; !ref.IsZero() {
		v, err := ref.Resolve(ctx, nil)
		if err != nil {
			return "", fmt.Errorf("github webhook secret: %w", err)
		}
		return v, nil
	}
	if !orCreate {
		return "", nil
	}
	return secretFile(p.Config.DataDir, "github-webhook-secret", "")
}

// SigningSecret resolves Slack's signing secret. With orCreate (sever dev) and none
// configured, it reads or creates one in <data-dir>/slack-signing-secret, so the
// endpoint can be exercised (and tested) before a Slack app exists.
func (p *Parts) SigningSecret(ctx context.Context, orCreate bool) (string, error) {
	if ref := p.Config.Slack.SigningSecret; !ref.IsZero() {
		v, err := ref.Resolve(ctx, nil)
		if err != nil {
			return "", fmt.Errorf("slack signing secret: %w", err)
		}
		return v, nil
	}
	if !orCreate {
		return "", nil
	}
	return secretFile(p.Config.DataDir, "slack-signing-secret", "")
}

// DevOptions configure StartDev.
type DevOptions struct {
	Config *config.Config
	// FrontendPort 0 picks a free port (tests); the CLI passes the configured one.
	FrontendPort int
	UI           bool
	UIPort       int
	Logger       *slog.Logger
	// NoWorker leaves the task queue to workers in other processes (`sever worker`
	// attached to the frontend port): the scale-out topology on one machine.
	NoWorker bool
	// Interceptors wrap the in-process worker (tests inject faults with them).
	Interceptors []interceptor.WorkerInterceptor
	// DrillCloud starts the drill cloud (an AWS-compatible simulator) on loopback and
	// points the aws.* actions at it with sever-responder's key, so nothing real is
	// touched; DrillSeed is its seed file ("" = drillcloud.DefaultSeed).
	DrillCloud bool
	DrillSeed  string
	// Seed, when set, is the drill cloud's seed, built in Go (benchmarks, drills).
	Seed *drillcloud.Seed
}

// Dev is a running single-process stack: embedded Temporal, worker, API.
type Dev struct {
	*Parts
	Temporal *devserver.Server
	Client   client.Client
	Worker   sdkworker.Worker
	Engine   *engine.Engine
	HTTP     *http.Server
	// Cloud is the drill cloud when DevOptions.DrillCloud is set.
	Cloud *drillcloud.Cloud
	// URL is the API's base URL; DevToken its bearer token when none is configured.
	URL        string
	DevToken   string
	served     chan error
	stopSocket func()
}

// StartDev starts the embedded stack on the config's data dir. State survives a
// restart on the same data dir.
func StartDev(ctx context.Context, o DevOptions) (_ *Dev, err error) {
	cfg, logger := o.Config, o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	parts, err := LoadParts(cfg, logger)
	if err != nil {
		return nil, err
	}
	parts.MigrateDatabase = true // sever dev migrates a configured database at start
	d := &Dev{Parts: parts, served: make(chan error, 1)}
	defer func() {
		if err != nil {
			d.Stop()
		}
	}()
	tokens, err := parts.APITokens(ctx)
	if err != nil {
		return nil, err
	}
	if len(tokens) == 0 {
		if d.DevToken, err = secretFile(cfg.DataDir, "dev-token", "sever_dev_"); err != nil {
			return nil, err
		}
		tokens = []httpapi.Token{{Name: "dev", Value: d.DevToken}}
	}
	if err := parts.LoadDecisionKey(ctx, true); err != nil {
		return nil, err
	}
	signing, err := parts.SigningSecret(ctx, true)
	if err != nil {
		return nil, err
	}
	github, err := parts.GitHubSecret(ctx, true)
	if err != nil {
		return nil, err
	}
	// Bind the API port before starting anything heavy, so a taken port fails fast.
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("http listen %s: %w", cfg.HTTP.Listen, err)
	}
	d.URL = "http://" + ln.Addr().String()
	if o.DrillCloud {
		if err := d.startDrillCloud(ctx, o.DrillSeed, o.Seed); err != nil {
			ln.Close()
			return nil, err
		}
	}
	d.Temporal, err = devserver.Start(ctx, devserver.Options{
		DataDir: cfg.DataDir, FrontendPort: o.FrontendPort, UI: o.UI, UIPort: o.UIPort,
		Namespace: cfg.Temporal.Namespace, Retention: cfg.Incidents.Hold + 30*24*time.Hour,
		SearchAttributes: map[string]enums.IndexedValueType{}, Logger: logger,
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	d.Client, err = client.Dial(client.Options{HostPort: d.Temporal.FrontendAddress(),
		Namespace: cfg.Temporal.Namespace, Logger: sdklog.NewStructuredLogger(quiet(logger)),
		MetricsHandler: parts.Metrics.TemporalHandler()})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("dial embedded temporal: %w", err)
	}
	if !o.NoWorker {
		parts.WorkerInterceptors = append(parts.WorkerInterceptors, o.Interceptors...)
		if d.Worker, err = parts.NewWorker(ctx, d.Client); err != nil {
			ln.Close()
			return nil, err
		}
		if err := d.Worker.Start(); err != nil {
			ln.Close()
			return nil, fmt.Errorf("start worker: %w", err)
		}
	}
	d.Engine = parts.NewEngine(d.Client)
	if err := parts.Metrics.WatchIncidents(d.Engine); err != nil {
		ln.Close()
		return nil, err
	}
	hopts := HTTPOptions{Tokens: tokens, SlackSigningSecret: signing, GitHubWebhookSecret: github,
		PublicUI: isLoopback(ln.Addr())}
	if o.UI {
		hopts.TemporalUIURL = "http://" + d.Temporal.UIAddress()
	}
	if d.HTTP, err = parts.NewHTTP(d.Engine, hopts); err != nil {
		ln.Close()
		return nil, err
	}
	if d.stopSocket, err = parts.StartSocketMode(ctx, d.Engine); err != nil {
		ln.Close()
		return nil, err
	}
	go func() { d.served <- d.HTTP.Serve(ln) }()
	return d, nil
}

// Stop stops the parts in order: API, worker, client, server.
func (d *Dev) Stop() error {
	var errs []error
	if d.HTTP != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, d.HTTP.Shutdown(ctx))
		cancel()
	}
	if d.stopSocket != nil {
		d.stopSocket()
	}
	if d.Worker != nil {
		d.Worker.Stop()
	}
	if d.Client != nil {
		d.Client.Close()
	}
	if d.Parts != nil {
		errs = append(errs, d.Parts.Close())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, d.Parts.Metrics.Close(ctx))
		cancel()
	}
	if d.Temporal != nil {
		errs = append(errs, d.Temporal.Stop())
	}
	if d.Cloud != nil {
		errs = append(errs, d.Cloud.Close())
	}
	return errors.Join(errs...)
}

// Served reports the API server's exit.
func (d *Dev) Served() <-chan error { return d.served }

// secretFile reads or creates a random secret in the data dir (0600): the dev token
// and the dev Slack signing secret.
func secretFile(dataDir, name, prefix string) (string, error) {
	path := filepath.Join(dataDir, name)
	if b, err := os.ReadFile(path); err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("create data dir %s: %w", dataDir, err)
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	t := prefix + hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(t+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return t, nil
}

// drillInventory is the inventory of drillcloud.DefaultSeed.
const drillInventory = `credentials:
  - provider: aws
    type: aws_access_key
    id: ` + drillcloud.DefaultCompromisedKeyID + `
    principal: arn:aws:iam::` + drillcloud.DefaultAccountID + `:user/` + drillcloud.DefaultCompromisedUser + `
    account: "` + drillcloud.DefaultAccountID + `"
    owner: platform-oncall@example.com
    team: platform
    secrets:
      - id: ` + drillcloud.DefaultSecretName + `
        region: ` + drillcloud.DefaultRegion + `
    services:
      - {name: ci-pipeline, criticality: high, notes: deploys every production service}
  - provider: anthropic
    type: anthropic_api_key
    id: ` + drillcloud.DefaultAnthropicKeyID + `
    owner: ml-platform@example.com
    team: ml
    secrets:
      # Provider keys live in AWS: name the secret's account, since the key's own
      # account (an Anthropic organization, an OpenAI project) is not an AWS account.
      - id: ` + drillcloud.DefaultAnthropicSecretName + `
        region: ` + drillcloud.DefaultRegion + `
        account: "` + drillcloud.DefaultAccountID + `"
    services:
      - {name: llm-gateway, criticality: high}
  - provider: openai
    type: openai_api_key
    id: ` + drillcloud.DefaultOpenAIKeyID + `
    account: ` + drillcloud.DefaultOpenAIProjectID + `
    owner: ml-platform@example.com
    team: ml
    secrets:
      - id: ` + drillcloud.DefaultOpenAISecretName + `
        region: ` + drillcloud.DefaultRegion + `
        account: "` + drillcloud.DefaultAccountID + `"
    services:
      - {name: llm-gateway, criticality: high}
`

// startDrillCloud runs the drill cloud on loopback and points the AWS actions at it.
func (d *Dev) startDrillCloud(ctx context.Context, seedPath string, given *drillcloud.Seed) error {
	seed := drillcloud.DefaultSeed()
	if given != nil {
		seed = *given
	} else if seedPath != "" {
		var err error
		if seed, err = drillcloud.LoadSeed(seedPath); err != nil {
			return err
		}
	}
	cloud, err := drillcloud.New(seed, drillcloud.WithLogger(quiet(d.Logger)))
	if err != nil {
		return fmt.Errorf("drill cloud: %w", err)
	}
	if _, err := cloud.Start("127.0.0.1:0"); err != nil {
		return fmt.Errorf("drill cloud: %w", err)
	}
	d.Cloud = cloud
	if d.Config.Inventory.Path == "" && seedPath == "" {
		// The default seed's secret holds the compromised key; say so, so the runbook
		// rotates it as it would in production.
		inv, err := inventory.Parse("drill inventory", []byte(drillInventory))
		if err != nil {
			return fmt.Errorf("drill inventory: %w", err)
		}
		d.Inventory = inv
	}
	f := awsact.NewFactory(awsact.FactoryOptions{S3UsePathStyle: true, Region: drillcloud.DefaultRegion,
		LoadBase: func(ctx context.Context) (aws.Config, error) {
			return cloud.AWSConfig(ctx, drillcloud.DefaultResponderKeyID)
		}})
	acts := awsact.New(f, d.Inventory)
	acts.EvidenceBucket = cmp.Or(d.Config.AWS.EvidenceBucket, drillcloud.DefaultEvidenceBucket)
	// Drill evidence need not outlive the drill: governance mode, one day.
	acts.EvidenceLockMode, acts.EvidenceRetention = "GOVERNANCE", 24*time.Hour
	d.AWS = acts
	clients, err := f.Clients(ctx, "", "")
	if err != nil {
		return fmt.Errorf("drill cloud clients: %w", err)
	}
	mirror, err := worm.New(clients.S3, worm.Options{Bucket: acts.EvidenceBucket, Prefix: worm.DefaultPrefix,
		LockMode: "GOVERNANCE", Retention: 24 * time.Hour})
	if err != nil {
		return fmt.Errorf("drill ledger copy: %w", err)
	}
	d.DrillMirror = mirror
	d.Providers = drillProviders(cloud, d.Config.Providers, d.Inventory)
	if d.Config.GitHub.AppID == "" {
		gh, err := drillGitHub(cloud, d.Config.DataDir)
		if err != nil {
			return err
		}
		d.GitHub = gh
	}
	// Every action of this stack now runs against the drill cloud, so drill
	// incidents cannot reach production clients here.
	d.Drills = true
	return nil
}

// DevGitHubAppKeyFile holds sever dev's GitHub App private key (PKCS #1 PEM, 0600)
// in the data dir, for the drill cloud's GitHub twin.
const DevGitHubAppKeyFile = "github-app-key.pem"

// drillGitHub serves a GitHub twin on the drill cloud and points the github.*
// actions at it, when sever.yaml names no GitHub App: the App's key pair is read
// from, or created in, the data dir like the other dev secrets, and its public
// half registered with the twin, as an App's key is registered with GitHub.
func drillGitHub(cloud *drillcloud.Cloud, dataDir string) (*githubact.Activities, error) {
	path := filepath.Join(dataDir, DevGitHubAppKeyFile)
	pemKey, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key, gerr := rsa.GenerateKey(rand.Reader, 2048)
		if gerr != nil {
			return nil, fmt.Errorf("drill github app: generate key: %w", gerr)
		}
		pemKey = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
		if err = os.MkdirAll(dataDir, 0o700); err == nil {
			err = os.WriteFile(path, pemKey, 0o600)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("drill github app key %s: %w", path, err)
	}
	key, err := githubact.ParsePrivateKey(pemKey)
	if err != nil {
		return nil, fmt.Errorf("drill github app key %s: %w", path, err)
	}
	twin := drillcloud.NewGitHubTwinForKey(&key.PublicKey)
	cloud.ServeGitHub(twin)
	return &githubact.Activities{BaseURL: cloud.URL(), AppID: twin.AppID, InstallationID: twin.InstallationID,
		PrivateKey: githubact.StaticKey(string(pemKey))}, nil
}

// drillProviders points the provider actions at the drill cloud with the admin key of
// each provider's first organization in the seed; a seed without one leaves that
// provider unconfigured, as an empty admin_key would.
func drillProviders(cloud *drillcloud.Cloud, c config.ProvidersConfig, inv *inventory.Inventory) *providers.Activities {
	p := &providers.Activities{Inventory: inv}
	if key, err := cloud.ProviderAdminKey(drillcloud.ProviderAnthropic, ""); err == nil {
		p.Anthropic = &providers.Anthropic{BaseURL: cloud.URL(), AdminKey: providers.StaticKey(key)}
	}
	if key, err := cloud.ProviderAdminKey(drillcloud.ProviderOpenAI, ""); err == nil {
		project := c.OpenAI.Project
		if orgs := cloud.ProviderOrgs(drillcloud.ProviderOpenAI); project == "" && len(orgs[0].Projects) > 0 {
			project = orgs[0].Projects[0]
		}
		p.OpenAI = &providers.OpenAI{BaseURL: cloud.URL(), AdminKey: providers.StaticKey(key), Project: project}
	}
	return p
}

// isLoopback says whether the API listens on loopback only, where sever dev may
// serve its web UI without sign-in.
func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// quiet drops the SDK's info chatter (worker start/stop) below warn.
func quiet(l *slog.Logger) *slog.Logger {
	return slog.New(levelFilter{l.Handler(), slog.LevelWarn})
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}

func (f levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{f.Handler.WithAttrs(a), f.min}
}

func (f levelFilter) WithGroup(name string) slog.Handler {
	return levelFilter{f.Handler.WithGroup(name), f.min}
}
