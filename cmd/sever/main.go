// Command sever contains compromised non-human identities: it opens one incident per
// credential and runs a containment runbook on Temporal. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sever-ir/sever"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		var se *sever.Error
		if errors.As(err, &se) {
			fmt.Fprintln(os.Stderr, "sever:", se.Message)
		} else {
			fmt.Fprintln(os.Stderr, "sever:", err)
		}
		var ec exitCode
		if errors.As(err, &ec) {
			os.Exit(int(ec))
		}
		os.Exit(1)
	}
}

// exitCode lets a command choose its exit status (lint: 1 for problems found).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

type globals struct {
	configPath  string
	dataDir     string
	policy      string
	runbooksDir string
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "sever",
		Short:         "Contain compromised non-human identities with durable, accountable runbooks",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.configPath, "config", os.Getenv("SEVER_CONFIG"), "config file (sever.yaml); env SEVER_CONFIG")
	root.PersistentFlags().StringVar(&g.dataDir, "data-dir", "", "data directory (default .sever, or data_dir in the config)")
	root.PersistentFlags().StringVar(&g.policy, "policy", "", "runtime policy file (default: runbooks.policy in the config, else the built-in policy)")
	root.PersistentFlags().StringVar(&g.runbooksDir, "runbooks", "", "directory of runbooks that override or extend the built-ins (default: runbooks.dir)")
	root.AddCommand(newDevCmd(g), newWorkerCmd(g), newServeCmd(g), newSignalCmd(g), newIncidentsCmd(g),
		newRunbookCmd(g), newConfigCmd(g), newApproveCmd(g), newLedgerCmd(g))
	root.AddCommand(newReportCmd(g))
	root.AddCommand(newMigrateCmd(g))
	root.AddCommand(newDrillCmd(g))
	root.AddCommand(newDrillCloudCmd(g))
	root.AddCommand(newContainCmd(g))
	return root
}
