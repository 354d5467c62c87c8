package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/engine"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/internal/devserver"
)

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
		if o.NoWorker {
			// The actions run in `sever worker` processes, built from sever.yaml
			// without the drill cloud.
			d.refuseDrills("the workers of --no-worker (sever worker processes use sever.yaml's clients, not this drill cloud)")
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
		MetricsHandler: parts.Metrics.TemporalHandler(),
		// The embedded frontend is on loopback in this process: gzip would only
		// spend CPU (it was ~8% of an incident's on 2 cores) to save no network.
		ConnectionOptions: client.ConnectionOptions{GrpcCompression: &client.GrpcCompressionNone{}}})
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
