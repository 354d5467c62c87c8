package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/internal/temporalclient"
	"github.com/sever-ir/sever/worker"
)

// dial connects to an external Temporal cluster: Temporal's environment configuration
// as the Temporal CLI reads it (a temporal.toml profile, then the TEMPORAL_* variables),
// with the temporal.* keys of the config over it (address, namespace, API key, TLS).
func dial(cfg *config.Config, metrics client.MetricsHandler) (client.Client, error) {
	opts, err := temporalclient.Options(context.Background(), cfg, nil)
	if err != nil {
		return nil, err
	}
	opts.Logger = sdklog.NewStructuredLogger(newLogger(cfg, os.Stderr))
	opts.MetricsHandler = metrics
	return temporalclient.Dial(opts)
}

// connect loads the config, runbooks and policy, then dials the external cluster.
// It refuses what `sever config check` refuses before anything starts: workers on a
// shared cluster that would keep the shared state on their own disks.
func (g *globals) connect() (*app.Parts, client.Client, error) {
	cfg, err := g.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	if err := cfg.CheckScaleOut(); err != nil {
		return nil, nil, err
	}
	parts, err := app.LoadParts(cfg, newLogger(cfg, os.Stderr))
	if err != nil {
		return nil, nil, err
	}
	c, err := dial(cfg, parts.Metrics.TemporalHandler())
	if err != nil {
		return nil, nil, err
	}
	return parts, c, nil
}

// connected is a command that runs run with what g.connect makes (the parts and a
// client of the external cluster) and closes both when run returns.
func (g *globals) connected(run func(cmd *cobra.Command, parts *app.Parts, c client.Client) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		parts, c, err := g.connect()
		if err != nil {
			return err
		}
		defer c.Close()
		defer parts.Close()
		return run(cmd, parts, c)
	}
}

func newWorkerCmd(g *globals) *cobra.Command {
	var metricsAddr string
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a worker against an external Temporal cluster (TEMPORAL_ADDRESS etc.)",
		Args:  cobra.NoArgs,
		RunE: g.connected(func(cmd *cobra.Command, parts *app.Parts, c client.Client) error {
			if metricsAddr != "" {
				// A worker has no API listener; Prometheus scrapes it here.
				ln, err := net.Listen("tcp", metricsAddr)
				if err != nil {
					return fmt.Errorf("metrics listen %s: %w", metricsAddr, err)
				}
				mux := http.NewServeMux()
				mux.Handle("GET /metrics", parts.Metrics.Handler())
				// Kubernetes probes: /healthz (alive), /readyz (polling, frontend answers).
				health := &worker.Health{Check: func(ctx context.Context) error {
					_, err := c.CheckHealth(ctx, &client.CheckHealthRequest{})
					return err
				}}
				health.Register(mux)
				parts.WorkerHealth = health
				srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
				go func() { _ = srv.Serve(ln) }()
				defer srv.Close()
			}
			return parts.RunWorker(cmd.Context(), c)
		}),
	}
	cmd.Flags().StringVar(&metricsAddr, "metrics", "", "serve Prometheus metrics, /healthz and /readyz on this address (host:port)")
	return cmd
}

func newServeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API against an external Temporal cluster (TEMPORAL_ADDRESS etc.)",
		Args:  cobra.NoArgs,
		RunE: g.connected(func(cmd *cobra.Command, parts *app.Parts, c client.Client) error {
			ln, err := net.Listen("tcp", parts.Config.HTTP.Listen)
			if err != nil {
				return fmt.Errorf("http listen %s: %w", parts.Config.HTTP.Listen, err)
			}
			return parts.Serve(cmd.Context(), c, ln)
		}),
	}
}
