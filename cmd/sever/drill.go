package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/drill"
	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/ledger"
)

func newDrillCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drill",
		Short: "Rehearse containment: tabletop drills against the drill cloud, measured against objectives",
		Long: `A drill plays a scenario against the real workflows and activities on an embedded stack
with the drill cloud: an attacker uses a stolen key (AWS access key, Bedrock API key, Anthropic or OpenAI
key), signals report it (or never do), simulated approvers answer (or miss the
deadline), or real people decide in Slack (--approvers slack), and faults disturb the
cloud. Every record is marked as a drill (drill-inc-… incidents, the drill ledger).
The drill report says how fast the key was contained, and by whom, against the
scenario's objectives; every result is kept in the drill ledger (sever drill history).`,
	}
	cmd.AddCommand(newDrillListCmd(), newDrillRunCmd(g), newDrillCompareCmd(), newDrillHistoryCmd(g))
	return cmd
}

func newDrillListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the built-in scenarios",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			all, err := drill.Builtins()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tDESCRIPTION")
			for _, s := range all {
				fmt.Fprintf(tw, "%s\t%s\n", s.Name, firstSentence(s.Description))
			}
			return tw.Flush()
		},
	}
}

func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

func newDrillRunCmd(g *globals) *cobra.Command {
	var (
		out, format string
		quiet       bool
		verbose     bool
		timeout     time.Duration
		approvers   string
		noHistory   bool
	)
	cmd := &cobra.Command{
		Use:   "run NAME|FILE [--out DIR] [--format md|html|json] [--policy FILE]",
		Short: "Run a drill and report it; exit status 0 only when every objective was met",
		Long: `Run a built-in scenario (sever drill list) or a scenario file on a fresh embedded stack.

Progress goes to standard error. With --out DIR the drill report is written there:
drill-NAME.md (with timeline-*.svg), drill-NAME.html (with each incident's full
report) and drill-NAME.json, or only the --format given. Without --out, --format
writes that report to standard output; with neither, a summary is printed.

--policy replaces the scenario's runtime policy and --runbooks adds runbooks, so two
runs can be compared with sever drill compare. The config file's runbooks.policy is
not used (the scenario names its policy), nor is the data dir: the drill's stack runs
on a temporary one, so it never meets production state.

--approvers slack posts the drill's approval requests to the configured Slack channel
(slack: in the config), each marked DRILL, for the people of approvers.groups to
decide; each person's time to decide is measured, and a no-show is approval_expired
in the drill report. Clicks reach the drill's stack over Socket Mode (slack.app_token).

Every result is appended to the drill ledger of the config (data_dir's drill ledger, or
PostgreSQL with database.url), chain drill-history/NAME: sever drill history shows the
trend. --no-history leaves it out.`,
		Args: cobra.ExactArgs(1),
		PreRunE: func(*cobra.Command, []string) error {
			if format != "" && !slices.Contains(drill.Formats, format) {
				return fmt.Errorf("--format %q: want one of %s", format, strings.Join(drill.Formats, ", "))
			}
			if approvers != drill.ApproversSimulated && approvers != drill.ApproversSlack {
				return fmt.Errorf("--approvers %q: want %s or %s", approvers, drill.ApproversSimulated, drill.ApproversSlack)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := drill.Lookup(args[0])
			if err != nil {
				return err
			}
			if timeout > 0 {
				sc.Timeout = timeout
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			runbooksDir := cmp.Or(g.runbooksDir, cfg.Runbooks.Dir)
			o := drill.Options{PolicyFile: g.policy, RunbooksDir: runbooksDir, Progress: cmd.ErrOrStderr(), Approvers: approvers}
			if approvers == drill.ApproversSlack {
				o.Slack, o.ApproverGroups = &cfg.Slack, cfg.Approvers.Groups
			}
			if quiet {
				o.Progress = io.Discard
			}
			if verbose {
				o.Logger = newLogger(&config.Config{Log: config.LogConfig{Level: "warn"}}, cmd.ErrOrStderr())
			}
			res, err := drill.Run(cmd.Context(), sc, o)
			if err != nil {
				return err
			}
			if !noHistory {
				if err := recordHistory(cmd.Context(), cfg, res); err != nil {
					return err
				}
				if !quiet {
					fmt.Fprintf(cmd.ErrOrStderr(), "drill result kept in the drill ledger (%s%s): run %d\n",
						drill.HistoryPrefix, res.Scenario.Name, len(res.History.Runs))
				}
			}
			if !quiet || out == "" && format == "" {
				if err := res.Summary(cmd.ErrOrStderr()); err != nil {
					return err
				}
			}
			switch {
			case out != "":
				var formats []string
				if format != "" {
					formats = []string{format}
				}
				files, err := drill.WriteFiles(out, res, formats...)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "\ndrill report written: %s\n", strings.Join(files, ", "))
			case format != "":
				if err := render(cmd.OutOrStdout(), res, format); err != nil {
					return err
				}
			}
			return drillVerdict(res)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the drill report into DIR (created if needed)")
	cmd.Flags().StringVar(&format, "format", "", "report format: "+strings.Join(drill.Formats, ", ")+" (default with --out: all)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no live progress")
	cmd.Flags().BoolVar(&verbose, "verbose", false, "show the embedded stack's warnings")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "override the scenario's timeout")
	cmd.Flags().StringVar(&approvers, "approvers", drill.ApproversSimulated, "who decides approvals: simulated (the scenario's responders) or slack (real people, marked DRILL)")
	cmd.Flags().BoolVar(&noHistory, "no-history", false, "do not keep the result in the drill ledger")
	return cmd
}

// openDrillLedger opens the drill ledger the config names: in PostgreSQL with
// database.url, else the SQLite file in data_dir, created when missing (a first
// drill on a new machine starts the history).
func openDrillLedger(ctx context.Context, cfg *config.Config) (*ledger.Store, error) {
	if cfg.SharedState() {
		return app.OpenLedger(ctx, cfg, true)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("drill history: data dir: %w", err)
	}
	return ledger.Open(filepath.Join(cfg.DataDir, app.DrillLedgerFile))
}

// recordHistory appends res to the drill ledger and attaches the scenario's
// history, this run included, for the report's trend chart.
func recordHistory(ctx context.Context, cfg *config.Config, res *drill.Result) error {
	l, err := openDrillLedger(ctx, cfg)
	if err != nil {
		return err
	}
	defer l.Close()
	if _, err := drill.Record(ctx, l, res); err != nil {
		return err
	}
	hs, err := drill.ReadHistory(ctx, l, res.Scenario.Name)
	if err != nil {
		return err
	}
	res.History = &hs[0]
	return nil
}

func newDrillHistoryCmd(g *globals) *cobra.Command {
	var scenario, format string
	cmd := &cobra.Command{
		Use:   "history [--scenario NAME] [--format table|html|json]",
		Short: "Show every recorded drill result and the trend per scenario",
		Long: `Read the drill results kept in the drill ledger (one chain per scenario,
drill-history/NAME) and show, per scenario, each run's time to first action, to
approval and to verified containment, and the trend from the first run to the last.
--format html writes a self-contained page with an SVG chart per scenario.`,
		Args: cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if !slices.Contains([]string{"table", "html", "json"}, format) {
				return fmt.Errorf("--format %q: want table, html or json", format)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			l, err := openDrillLedger(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer l.Close()
			hs, err := drill.ReadHistory(cmd.Context(), l, scenario)
			if err != nil {
				return err
			}
			switch format {
			case "html":
				return drill.HistoryHTML(cmd.OutOrStdout(), hs)
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(hs)
			}
			return drill.HistoryTable(cmd.OutOrStdout(), hs)
		},
	}
	cmd.Flags().StringVar(&scenario, "scenario", "", "only this scenario")
	cmd.Flags().StringVar(&format, "format", "table", "output: table, html or json")
	return cmd
}

func render(w io.Writer, res *drill.Result, format string) error {
	switch format {
	case "md":
		return res.Markdown(w)
	case "html":
		return res.HTML(w)
	}
	return res.JSON(w)
}

// drillFailed carries exit status 1 with a message that says which objectives
// were missed.
type drillFailed struct{ msg string }

func (e drillFailed) Error() string { return e.msg }
func (e drillFailed) Unwrap() error { return exitCode(1) }

func drillVerdict(res *drill.Result) error {
	if res.Passed {
		return nil
	}
	var missed []string
	for _, o := range res.Objectives {
		if !o.Passed {
			missed = append(missed, fmt.Sprintf("%s (target %s, measured %s)", o.Name, o.Target, o.Measured))
		}
	}
	msg := fmt.Sprintf("drill %s FAILED", res.Scenario.Name)
	if len(missed) > 0 {
		msg += ": objectives missed: " + strings.Join(missed, "; ")
	}
	if len(res.Problems) > 0 {
		msg += "; problems: " + strings.Join(res.Problems, "; ")
	}
	return drillFailed{msg}
}

func newDrillCompareCmd() *cobra.Command {
	var format string
	var failIfSlower bool
	cmd := &cobra.Command{
		Use:   "compare BEFORE.json AFTER.json",
		Short: "Compare two drill results: did a runbook or policy change contain faster or slower?",
		Long: `Compare the JSON results of two drill runs (sever drill run --format json), metric by
metric: before, after, delta and whether it got better or worse. Lower is better for
every metric; time differences of 0.1s or less count as the same.`,
		Args: cobra.ExactArgs(2),
		PreRunE: func(*cobra.Command, []string) error {
			if format != "md" && format != "json" {
				return fmt.Errorf("--format %q: want md or json", format)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := drill.ReadResult(args[0])
			if err != nil {
				return err
			}
			b, err := drill.ReadResult(args[1])
			if err != nil {
				return err
			}
			c := drill.Compare(a, b)
			if format == "json" {
				err = c.JSON(cmd.OutOrStdout())
			} else {
				err = c.Markdown(cmd.OutOrStdout())
			}
			if err != nil {
				return err
			}
			if failIfSlower && (c.Containment == "slower" || c.Containment == "no longer contained") {
				return drillFailed{fmt.Sprintf("containment %s: %s (after) against %s (before)", c.Containment, args[1], args[0])}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "md", "output format: md or json")
	cmd.Flags().BoolVar(&failIfSlower, "fail-if-slower", false, "exit with status 1 when containment got slower or no longer happens")
	return cmd
}
