package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/runbooks"
)

func newRunbookCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "runbook", Short: "Check and list runbooks and policies"}
	lint := &cobra.Command{
		Use:   "lint FILE...",
		Short: "Check runbook or policy files; each problem is printed as file:line: field: message",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			errs := runbooks.Lint(args, sever.Catalog)
			for _, e := range errs {
				fmt.Fprintln(cmd.ErrOrStderr(), e)
			}
			if len(errs) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "%d problem(s)\n", len(errs))
				return exitCode(1)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d file(s) OK\n", len(args))
			return nil
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the runbooks in effect (built-in, overridden by runbooks.dir) and the policy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			lib, err := runbooks.Load(cfg.Runbooks.Dir, sever.Catalog)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tSTEPS\tCREDENTIAL TYPES\tSIGNAL KINDS\tSHA256\tFROM")
			for _, rb := range lib.List() {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%v\t%v\t%.12s\t%s\n", rb.Name, rb.Version, len(rb.Steps),
					rb.Match.CredentialTypes, rb.Match.SignalKinds, rb.SHA256, rb.File)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			pol, err := runbooks.LoadPolicy(cfg.Runbooks.Policy, sever.Catalog)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "\npolicy %s@%s (%d rules, default deny) sha256:%.12s %s\n",
				pol.Name, pol.Version, len(pol.Rules), pol.SHA256, pol.File)
			return nil
		},
	}
	actions := &cobra.Command{
		Use: "actions", Short: "List the actions runbooks may name", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ACTION\tMUTATING\tENFORCEMENT\tDESCRIPTION")
			for _, n := range sever.ActionNames() {
				a := sever.Catalog[n]
				fmt.Fprintf(tw, "%s\t%v\t%s\t%s\n", a.Name, a.Mutating, dash(string(a.Enforcement)), a.Description)
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(lint, list, actions)
	return cmd
}

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Check the configuration"}
	var print bool
	var dep deployFlags
	check := &cobra.Command{
		Use: "check", Short: "Validate sever.yaml and the environment overrides", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			for _, w := range cfg.Warnings() {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			// Workers on a shared cluster must not keep their state on their own disks.
			if err := cfg.CheckScaleOut(); err != nil {
				return err
			}
			if err := dep.check(cmd, cfg); err != nil {
				return err
			}
			if print {
				b, err := cfg.Redacted()
				if err != nil {
					return err
				}
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			// Where each cloud family's actions will sign in: the config's section or
			// the vendor's standard chain (references only, never a secret).
			for _, l := range cfg.CloudCredentials() {
				fmt.Fprintln(cmd.OutOrStdout(), l)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "config OK")
			return nil
		},
	}
	check.Flags().BoolVar(&print, "print", false, "print the effective config (secret references only)")
	dep.register(check)
	cmd.AddCommand(check)
	return cmd
}
