package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/deploy"
	"github.com/sever-ir/sever/runbooks"
)

// deployFlags are `sever config check`'s options for checking a deployment's files
// against the config and the code: `--deploy deploy/` checks the Kubernetes manifests,
// the IAM policy and the Slack app manifest found there (see deploy.Check).
type deployFlags struct {
	dir           string
	slackManifest string
}

func (f *deployFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.dir, "deploy", "",
		"also check the deployment files in this directory (kubernetes/, aws/iam-policy.json) and the Slack app manifest against the config")
	cmd.Flags().StringVar(&f.slackManifest, "slack-manifest", "",
		"the Slack app manifest to check with --deploy (default: DIR/slack/app-manifest.yaml, then DIR/../slack/app-manifest.yaml)")
}

// check runs the deployment check when --deploy is set. It prints each problem on
// stderr and returns exit status 1 when there are any; the runbooks in effect (built-in
// and runbooks.dir) decide which AWS permissions the IAM policy must grant.
func (f *deployFlags) check(cmd *cobra.Command, cfg *config.Config) error {
	if f.dir == "" {
		if f.slackManifest != "" {
			return fmt.Errorf("config check: --slack-manifest needs --deploy")
		}
		return nil
	}
	lib, err := runbooks.Load(cfg.Runbooks.Dir, sever.Catalog)
	if err != nil {
		return fmt.Errorf("config check --deploy %s: load runbooks: %w", f.dir, err)
	}
	probs := deploy.Check(deploy.Options{Config: cfg, Runbooks: lib.List(), Dir: f.dir, SlackManifest: f.slackManifest})
	for _, p := range probs {
		fmt.Fprintln(cmd.ErrOrStderr(), p)
	}
	if len(probs) > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "%d deployment problem(s)\n", len(probs))
		return exitCode(1)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "deployment %s OK\n", f.dir)
	return nil
}
