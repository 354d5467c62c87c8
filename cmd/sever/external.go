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
			defer parts.Close()
			return parts.RunWorker(cmd.Context(), c)
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
			defer parts.Close()
			ln, err := net.Listen("tcp", parts.Config.HTTP.Listen)
			if err != nil {
				return fmt.Errorf("http listen %s: %w", parts.Config.HTTP.Listen, err)
			}
			return parts.Serve(cmd.Context(), c, ln)
		},
	}
}
