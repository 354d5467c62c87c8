package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/internal/app"
)

func newDevCmd(g *globals) *cobra.Command {
	var (
		httpAddr string
		port     int
		uiPort   int
		noUI     bool
		demo     bool
		demoExit bool
		noWorker bool
		drill    bool
		seed     string
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything in one process: embedded Temporal server (SQLite), worker, HTTP API and Web UI",
		Long: `dev starts a real Temporal server in-process with its state in a SQLite file under the
data dir, a worker, and the HTTP API. Incidents survive a restart on the same data dir.
The Temporal frontend listens on --port so the Temporal CLI and extra workers can attach.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("http") {
				cfg.HTTP.Listen = httpAddr
			}
			if !cmd.Flags().Changed("port") {
				port = cfg.Temporal.FrontendPort
			}
			if !cmd.Flags().Changed("ui-port") {
				uiPort = cfg.Temporal.UIPort
			}
			ui := !noUI && uiPort != 0
			logger := newLogger(cfg, os.Stderr)
			start := time.Now()
			d, err := app.StartDev(cmd.Context(), app.DevOptions{Config: cfg, FrontendPort: port,
				UI: ui, UIPort: uiPort, Logger: logger, NoWorker: noWorker, DrillCloud: drill, DrillSeed: seed})
			if err != nil {
				return err
			}
			defer func() {
				stderrf("stopping...\n")
				if err := d.Stop(); err != nil {
					stderrf("stop: %v\n", err)
				}
			}()
			stderrf("sever dev ready in %s\n", time.Since(start).Round(time.Millisecond))
			stderrf("  data dir        %s\n", cfg.DataDir)
			stderrf("  HTTP API        %s\n", d.URL)
			stderrf("  Temporal        %s (namespace %s)\n", d.Temporal.FrontendAddress(), d.Temporal.Namespace())
			if ui {
				stderrf("  Temporal Web UI http://%s\n", d.Temporal.UIAddress())
			}
			if d.DevToken != "" {
				stderrf("  API token       in %s/dev-token\n", cfg.DataDir)
			}
			stderrf("  Web UI          %s/\n", d.URL)
			stderrf("  Metrics         %s/metrics\n", d.URL)
			if d.Cloud != nil {
				stderrf("  Drill cloud     %s (aws.* actions run here, with key %s)\n", d.Cloud.URL(), drillcloud.DefaultResponderKeyID)
			}
			if noWorker {
				stderrf("  workers         none in this process: attach `sever worker` to %s\n", d.Temporal.FrontendAddress())
			}
			if (demo || demoExit) && noWorker {
				return fmt.Errorf("dev: --demo needs a worker; drop --no-worker")
			}
			if demo || demoExit {
				if err := runDemo(cmd.Context(), d, os.Stdout); err != nil {
					return err
				}
				if demoExit {
					return nil
				}
			}
			stderrf("press Ctrl-C to stop\n")
			select {
			case <-cmd.Context().Done():
				return nil
			case err := <-d.Served():
				return fmt.Errorf("http server: %w", err)
			}
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http", "127.0.0.1:8080", "HTTP API listen address")
	cmd.Flags().IntVar(&port, "port", 7233, "Temporal frontend port (0 picks a free one)")
	cmd.Flags().IntVar(&uiPort, "ui-port", 8233, "Temporal Web UI port")
	cmd.Flags().BoolVar(&noUI, "no-ui", false, "do not serve the Temporal Web UI")
	cmd.Flags().BoolVar(&demo, "demo", false, "send a sample signal and follow its incident to the end")
	cmd.Flags().BoolVar(&demoExit, "demo-exit", false, "like --demo, then stop (for scripts and CI)")
	cmd.Flags().BoolVar(&noWorker, "no-worker", false, "run no worker in this process; `sever worker` processes attach to --port")
	cmd.Flags().BoolVar(&drill, "drill-cloud", true, "run the drill cloud and point the aws.* actions at it; false uses the aws section of the config (real AWS)")
	cmd.Flags().StringVar(&seed, "drill-seed", "", "seed file of the drill cloud (default: the built-in seed)")
	return cmd
}
