package main

import (
	"fmt"
	"net"
	"os"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdklog "go.temporal.io/sdk/log"

	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/internal/app"
)

// dial connects to an external Temporal cluster: temporal.address from the config if
// set, otherwise the SDK's envconfig (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TEMPORAL_API_KEY, TLS settings, the CLI profile file).
func dial(cfg *config.Config) (client.Client, error) {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return nil, fmt.Errorf("temporal client config: %w", err)
	}
	if cfg.Temporal.Address != "" {
		opts.HostPort = cfg.Temporal.Address
	}
	if opts.Namespace == "" || cfg.Temporal.Namespace != config.DefaultNamespace {
		opts.Namespace = cfg.Temporal.Namespace
	}
	opts.Logger = sdklog.NewStructuredLogger(newLogger(cfg, os.Stderr))
	c, err := client.Dial(opts)
	if err != nil {
		return nil, fmt.Errorf("dial temporal %s: %w", opts.HostPort, err)
	}
	return c, nil
}

// connect loads the config, runbooks and policy, then dials the external cluster.
func (g *globals) connect() (*app.Parts, client.Client, error) {
	cfg, err := g.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	parts, err := app.LoadParts(cfg, newLogger(cfg, os.Stderr))
	if err != nil {
		return nil, nil, err
	}
	c, err := dial(cfg)
	if err != nil {
		return nil, nil, err
	}
	return parts, c, nil
}

func newWorkerCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "worker",
		Short: "Run a worker against an external Temporal cluster (TEMPORAL_ADDRESS etc.)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			parts, c, err := g.connect()
			if err != nil {
				return err
			}
			defer c.Close()
			cfg, logger := parts.Config, parts.Logger
			w, err := parts.NewWorker(cmd.Context(), c)
			if err != nil {
				return err
			}
			defer parts.Close()
			if err := w.Start(); err != nil {
				return fmt.Errorf("start worker: %w", err)
			}
			defer w.Stop()
			logger.Info("worker running", "task_queue", cfg.Temporal.TaskQueue, "namespace", cfg.Temporal.Namespace)
			<-cmd.Context().Done()
			return nil
		},
	}
}

func newServeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API against an external Temporal cluster (TEMPORAL_ADDRESS etc.)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			parts, c, err := g.connect()
			if err != nil {
				return err
			}
			defer c.Close()
			cfg, logger := parts.Config, parts.Logger
			tokens, err := parts.APITokens(cmd.Context())
			if err != nil {
				return err
			}
			if len(tokens) == 0 {
				return fmt.Errorf("serve: no API tokens configured (intake.tokens or operators[].token in the config)")
			}
			signing, err := parts.SigningSecret(cmd.Context(), false)
			if err != nil {
				return err
			}
			if signing == "" {
				logger.Info("slack.signing_secret is not set: the Slack interactivity endpoint is off")
			}
			eng := parts.NewEngine(c)
			stopSocket, err := parts.StartSocketMode(cmd.Context(), eng)
			if err != nil {
				return err
			}
			if stopSocket != nil {
				defer stopSocket()
			}
			srv, err := parts.NewHTTP(eng, tokens, signing)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", cfg.HTTP.Listen)
			if err != nil {
				return fmt.Errorf("http listen %s: %w", cfg.HTTP.Listen, err)
			}
			logger.Info("serving API", "addr", ln.Addr().String())
			go func() { <-cmd.Context().Done(); srv.Close() }()
			if err := srv.Serve(ln); err != nil && cmd.Context().Err() == nil {
				return err
			}
			return nil
		},
	}
}
