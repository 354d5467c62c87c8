package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/report"
	"github.com/sever-ir/sever/service"
)

func newSignalCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "signal", Short: "Send signals to a running sever"}
	var f clientFlags
	var file string
	send := &cobra.Command{
		Use:   "send --file F",
		Short: "Send a native signal (JSON) to POST /v1/signals; - reads standard input",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var b []byte
			var err error
			if file == "-" {
				b, err = io.ReadAll(io.LimitReader(os.Stdin, 8<<20))
			} else {
				b, err = os.ReadFile(file)
			}
			if err != nil {
				return fmt.Errorf("read signal: %w", err)
			}
			// Same rules as the server, so a bad file fails here with the field named.
			if _, err := httpapi.DecodeSignal(b); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			c, err := g.client(&f)
			if err != nil {
				return err
			}
			var res service.SubmitResult
			if err := c.do(cmd.Context(), http.MethodPost, "/v1/signals", bytes.NewReader(b), &res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "incident %s  signal %s  %s\n", res.IncidentID, res.SignalID, res.Status)
			return nil
		},
	}
	send.Flags().StringVarP(&file, "file", "f", "", "signal JSON file")
	_ = send.MarkFlagRequired("file")
	f.add(send)
	cmd.AddCommand(send)
	return cmd
}

func newIncidentsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "incidents", Short: "List, show, close incidents and retry failed steps"}
	var f clientFlags
	var output, status string
	var limit int
	list := &cobra.Command{
		Use: "list", Short: "List incidents, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client(&f)
			if err != nil {
				return err
			}
			q := url.Values{}
			if status != "" {
				q.Set("status", status)
			}
			q.Set("limit", strconv.Itoa(limit))
			var res struct {
				Incidents []sever.IncidentSummary `json:"incidents"`
			}
			if err := c.do(cmd.Context(), http.MethodGet, "/v1/incidents?"+q.Encode(), nil, &res); err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tTYPE\tCREDENTIAL\tRUNBOOK\tOPENED")
			for _, i := range res.Incidents {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", i.ID, i.Status, i.Credential.Type, i.Credential.ID,
					i.Runbook, i.OpenedAt.Local().Format(time.DateTime))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&status, "status", "", "only incidents with this status (open, contained, failed, closed)")
	list.Flags().IntVar(&limit, "limit", 100, "at most this many")
	show := &cobra.Command{
		Use: "show ID", Short: "Show one incident: signals, steps, enforcement, verification", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(&f)
			if err != nil {
				return err
			}
			var inc struct {
				sever.Incident
				Gap *report.Gap `json:"enforcement_gap,omitempty"`
			}
			if err := c.do(cmd.Context(), http.MethodGet, "/v1/incidents/"+url.PathEscape(args[0]), nil, &inc); err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), inc)
			}
			printIncident(cmd.OutOrStdout(), &inc.Incident)
			if inc.Gap != nil {
				printGap(cmd.OutOrStdout(), inc.Gap)
			}
			return nil
		},
	}
	var reason string
	var falsePositive bool
	closeCmd := &cobra.Command{
		Use: "close ID --reason R", Short: "Close an incident before its hold window ends", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(&f)
			if err != nil {
				return err
			}
			b, _ := json.Marshal(map[string]any{"reason": reason, "false_positive": falsePositive})
			var res map[string]any
			if err := c.do(cmd.Context(), http.MethodPost, "/v1/incidents/"+url.PathEscape(args[0])+"/close", bytes.NewReader(b), &res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "incident %s closed\n", args[0])
			return nil
		},
	}
	closeCmd.Flags().StringVar(&reason, "reason", "", "why the incident is closed (required)")
	closeCmd.Flags().BoolVar(&falsePositive, "false-positive", false, "the signal was a false positive")
	_ = closeCmd.MarkFlagRequired("reason")
	for _, c := range []*cobra.Command{list, show} {
		c.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	}
	var retryStep, retryReason string
	retryCmd := &cobra.Command{
		Use:   "retry ID --step S [--reason R]",
		Short: "Run a failed step again (after fixing what made it fail); it passes the policy gate again",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(&f)
			if err != nil {
				return err
			}
			b, _ := json.Marshal(map[string]any{"step": retryStep, "reason": retryReason})
			var res service.RetryResult
			if err := c.do(cmd.Context(), http.MethodPost, "/v1/incidents/"+url.PathEscape(args[0])+"/retry", bytes.NewReader(b), &res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "incident %s  step %s  attempt %d  running again: %s\n",
				res.IncidentID, res.Step, res.Attempt, strings.Join(res.Steps, ", "))
			return nil
		},
	}
	retryCmd.Flags().StringVar(&retryStep, "step", "", "id of the failed step (required)")
	retryCmd.Flags().StringVar(&retryReason, "reason", "", "why it can succeed now, for the record")
	_ = retryCmd.MarkFlagRequired("step")
	for _, c := range []*cobra.Command{list, show, closeCmd, retryCmd} {
		f.add(c)
		c.PreRunE = func(*cobra.Command, []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("--output %q: want table or json", output)
			}
			return nil
		}
	}
	cmd.AddCommand(list, show, closeCmd, retryCmd)
	return cmd
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printIncident(w io.Writer, inc *sever.Incident) {
	fmt.Fprintf(w, "Incident   %s\n", inc.ID)
	fmt.Fprintf(w, "Status     %s", inc.Status)
	if inc.Reason != "" {
		fmt.Fprintf(w, " (%s)", inc.Reason)
	}
	fmt.Fprintln(w)
	c := inc.Credential
	fmt.Fprintf(w, "Credential %s %s %s", c.Provider, c.Type, c.ID)
	if c.Principal != "" {
		fmt.Fprintf(w, " principal %s", c.Principal)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Runbook    %s@%s sha256:%.12s   policy %s@%s sha256:%.12s\n", inc.Runbook.Name, inc.Runbook.Version,
		inc.Runbook.SHA256, inc.Policy.Name, inc.Policy.Version, inc.Policy.SHA256)
	fmt.Fprintf(w, "Opened     %s", inc.OpenedAt.Local().Format(time.DateTime))
	if inc.ContainedAt != nil {
		fmt.Fprintf(w, "   contained after %s", inc.ContainedAt.Sub(inc.OpenedAt).Round(time.Millisecond))
	}
	if inc.ClosedAt != nil {
		fmt.Fprintf(w, "   closed %s", inc.ClosedAt.Local().Format(time.DateTime))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "\nSignals (%d, %d duplicate deliveries)\n", inc.SignalCount(), inc.Duplicates)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ID\tSOURCE\tORIGIN\tKIND\tDELAY\tDUPLICATES")
	for _, s := range inc.Signals {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%d\n", s.ID, s.Source, s.Origin, s.Kind,
			(time.Duration(s.DelaySeconds * float64(time.Second))).Round(time.Millisecond), s.Duplicates)
	}
	tw.Flush()
	if n := inc.SignalSummary.Omitted; n > 0 {
		fmt.Fprintf(w, "  (%d more between the first and the latest; each is in the ledger)\n", n)
	}
	fmt.Fprintln(w)
	printSteps(w, inc)
}

func printSteps(w io.Writer, inc *sever.Incident) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  STEP\tACTION\tSTATUS\tENFORCEMENT\tVERIFIED\tACTOR\tPOLICY RULE\tTOOK")
	for _, st := range inc.Steps {
		took := ""
		if st.StartedAt != nil && st.EndedAt != nil {
			took = st.EndedAt.Sub(*st.StartedAt).Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%v\t%s\t%s\t%s\n", st.ID, st.Action, st.Status, dash(string(st.Enforcement)),
			st.Verified, dash(st.Actor), dash(st.PolicyRule), took)
	}
	tw.Flush()
	for _, st := range inc.Steps {
		if st.Error != "" {
			fmt.Fprintf(w, "  %s: %s\n", st.ID, st.Error)
		}
	}
}

// printGap shows the enforcement gap: the runbook's controls by who made sure of
// them, side by side.
func printGap(w io.Writer, g *report.Gap) {
	fmt.Fprintf(w, "\nEnforcement gap: %s\n", g.Verdict)
	cols := [][]report.GapEntry{g.VendorNotified, g.VendorEnforced, g.EnterpriseEnforced, g.NotDone}
	rows := 0
	for _, c := range cols {
		rows = max(rows, len(c))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  VENDOR-NOTIFIED\tVENDOR-ENFORCED (OBSERVED)\tENTERPRISE-ENFORCED (VERIFIED)\tNOT DONE")
	for i := range rows {
		var cells []string
		for _, c := range cols {
			cell := ""
			if i < len(c) {
				cell = c[i].Ref
				if c[i].Containment {
					cell += " *"
				}
			}
			cells = append(cells, cell)
		}
		fmt.Fprintf(tw, "  %s\n", strings.Join(cells, "\t"))
	}
	tw.Flush()
	fmt.Fprintln(w, "  (* containment control)")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
