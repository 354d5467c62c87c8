// Package app is sever's composition root: it builds every part from the config and
// wires them by hand. The CLI, the end-to-end tests and the benchmark all start sever
// through it, so they run exactly what a user runs.
//
// app.go holds the parts every mode shares (the worker, the engine, the HTTP
// server); dev.go the single-process stack of sever dev; drill.go, with gcp.go,
// azure.go and vault.go, points the actions at the drill cloud; secrets.go reads
// the secrets a deployment configures or sever dev keeps in its data dir;
// database.go opens the stores and ledger.go checks the ledger's keys.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/activities/approvals"
	"github.com/sever-ir/sever/activities/audit"
	"github.com/sever-ir/sever/activities/awsact"
	"github.com/sever-ir/sever/activities/core"
	"github.com/sever-ir/sever/activities/gcpact"
	"github.com/sever-ir/sever/activities/githubact"
	"github.com/sever-ir/sever/activities/providers"
	"github.com/sever-ir/sever/activities/tokens"
	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/engine"
	"github.com/sever-ir/sever/evidence"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/internal/decisionsig"
	"github.com/sever-ir/sever/inventory"
	"github.com/sever-ir/sever/ledger"
	"github.com/sever-ir/sever/ledger/worm"
	"github.com/sever-ir/sever/runbooks"
	"github.com/sever-ir/sever/service"
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
	// drillTokens says Tokens is the drill cloud stack's own store (startDrillCloud),
	// which openState keeps instead of the configured one.
	drillTokens bool
	// WorkerInterceptors wrap every activity and workflow the worker runs (metrics;
	// fault injection in tests).
	WorkerInterceptors []interceptor.WorkerInterceptor
	// Metrics is the process's Prometheus registry: API intake, worker outcomes and
	// the Temporal SDK's own metrics.
	Metrics *telemetry.Metrics
	// Inventory maps credentials to owners, the secrets that hold them and the
	// services that depend on them (blast radius, rotation).
	Inventory *inventory.Inventory
	// Families serves every credential family's actions (worker.Families: AWS,
	// Providers, GitHub, GCP, Azure, Vault): against the configured accounts and
	// the config's gcp:, azure: and vault: sections (cloudFamilies), the standard
	// credential chains where those are unset, and the drill cloud's twins when
	// sever dev runs one.
	worker.Families
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
	// WorkerHealth, when set, is told by RunWorker whether the Temporal worker
	// polls, for the worker's /readyz.
	WorkerHealth *worker.Health
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
	gcp, azure, vault, err := cloudFamilies(cfg, awsact.Resolver{Clients: aws.Clients}, nil)
	if err != nil {
		return nil, err
	}
	return &Parts{
		Families: worker.Families{
			AWS:       aws,
			Providers: providers.FromConfig(cfg.Providers, inv, awsact.Resolver{Clients: aws.Clients}),
			GitHub:    githubact.FromConfig(cfg.GitHub, awsact.Resolver{Clients: aws.Clients}),
			GCP:       gcp, Azure: azure, Vault: vault,
		},
		Config: cfg, Library: lib, Policy: pol, Logger: logger, Metrics: m, Inventory: inv,
		Tokens:   tokenstore.Open(cfg.TokenStorePath()),
		Evidence: evidence.NewStore(filepath.Join(cfg.DataDir, "evidence")),
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
	// The cache is the process's, made when its first worker starts.
	sdkworker.SetStickyWorkflowCacheSize(p.Config.Temporal.StickyCacheSize)
	w := sdkworker.New(c, p.Config.Temporal.TaskQueue, sdkworker.Options{Interceptors: icpt})
	worker.Register(w, worker.Actions{
		Core:      &core.Activities{Evidence: p.Evidence, Logger: p.Logger},
		Tokens:    &tokens.Activities{Stores: map[string]tokens.Store{"": p.Tokens}},
		Approvals: notices,
		Audit:     acts,
		Families:  p.Families,
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
		// The S3 copy makes an append two calls per fact: an activity of its own.
		LocalLedger: p.Config.Ledger.S3.Bucket == "",
		Drills:      p.Drills, DecisionKey: p.DecisionKey, Refusals: p.Refusals(), Ledger: p.ledgerReader,
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
func (p *Parts) NewHTTP(svc service.Service, o HTTPOptions) (*http.Server, error) {
	var runbook func(string) (*sever.Runbook, bool) // reports map the pinned runbook when the library has it
	if p.Library != nil {
		runbook = p.Library.Get
	}
	limits := APILimits(p.Config.Intake.Limits)
	api, err := httpapi.New(httpapi.Options{Service: svc, Tokens: o.Tokens,
		MaxBodyBytes: p.Config.HTTP.MaxBodyBytes, Logger: p.Logger, Runbook: runbook,
		Metrics: p.Metrics, GitHubWebhookSecret: []byte(o.GitHubWebhookSecret),
		Limits: &limits, Drills: p.Drills, GitHubAlerts: p.githubAlerts(), VendorStatus: vendorStatus{p}})
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

// githubAlerts is the GitHub App the webhook resolves key alerts through, or nil
// when none is configured (a nil *Activities in the interface would not be).
// Google API keys are looked up with the gcp.* actions' client: the drill
// cloud's twin under sever dev, Application Default Credentials otherwise.
func (p *Parts) githubAlerts() httpapi.GitHubAlerts {
	g := p.GitHub
	if g == nil || g.AppID == "" || g.InstallationID == "" || g.PrivateKey == nil {
		return nil
	}
	gcp := p.GCP
	if gcp == nil {
		gcp = &gcpact.Activities{}
	}
	return githubKeyAlerts{Activities: g, gcp: gcp}
}

// githubKeyAlerts reads alerts through the GitHub App and, for a Google API key,
// hands the alert's key string straight to lookupKey: the string goes from one
// call to the other in memory and only the key's resource name comes back.
type githubKeyAlerts struct {
	*githubact.Activities
	gcp *gcpact.Activities
}

// githubGoogleAPIKeyType is GitHub's secret type of a Google API key.
const githubGoogleAPIKeyType = "google_api_key"

// AlertGoogleAPIKeyName implements httpapi.GitHubAlerts.
func (a githubKeyAlerts) AlertGoogleAPIKeyName(ctx context.Context, repo string, number int) (string, error) {
	name, err := a.UseAlertSecret(ctx, repo, number, githubGoogleAPIKeyType, a.gcp.LookupAPIKeyName)
	if gcpact.IsAPIKeyUnknown(err) {
		return "", fmt.Errorf("alert %s/secret-scanning/%d: %w", repo, number, httpapi.ErrGoogleAPIKeyUnknown)
	}
	return name, err
}

// APILimits turns intake.limits into the API's admission control.
func APILimits(l config.IntakeLimits) httpapi.Limits {
	return httpapi.Limits{
		CredentialRate: float64(l.PerCredential.Rate), CredentialBurst: l.PerCredential.Burst,
		TokenRate: float64(l.PerToken.Rate), TokenBurst: l.PerToken.Burst,
		IncidentsPerToken: l.Incidents.Count, IncidentWindow: l.Incidents.Window,
	}
}
