package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/service"
)

// newApproveCmd is the approval path for when Slack is down: the decision goes through
// the API with an operator token and is recorded with channel "cli".
func newApproveCmd(g *globals) *cobra.Command {
	var f clientFlags
	var step, decision, as, reason, argsHash string
	cmd := &cobra.Command{
		Use:   "approve INCIDENT --step S --decision approve|deny --as USER",
		Short: "Approve or deny a step waiting for approval (the fallback when Slack is down)",
		Long: `approve sends one decision with the operator token given by --token or SEVER_TOKEN.
The token decides as its operator; --as must name that operator (or their Slack user id),
so a decision is never recorded in the name of someone whose token was used by mistake.
The decision answers the approval request the step waits on when the command runs (its
approval_nonce, read from the incident first); if the request is escalated or decided in
between, the decision is refused rather than applied to a request you did not see.
The workflow refuses approvers outside the step's approver set, the person who raised the
incident, a second decision by the same person, and decisions after the deadline.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if decision != "approve" && decision != "deny" {
				return fmt.Errorf("--decision %q: want approve or deny", decision)
			}
			c, err := g.client(&f)
			if err != nil {
				return err
			}
			// Bind the decision to the request the step waits on now: its nonce, and
			// its argument hash unless --args-sha256 pins one. A request escalated
			// between this read and the decision is refused, never silently answered.
			var inc sever.Incident
			if err := c.do(cmd.Context(), http.MethodGet, "/v1/incidents/"+url.PathEscape(args[0]), nil, &inc); err != nil {
				return err
			}
			nonce := ""
			for _, st := range inc.Steps {
				if st.ID == step {
					nonce = st.ApprovalNonce
					if argsHash == "" {
						argsHash = st.ArgsSHA256
					}
				}
			}
			body, _ := json.Marshal(map[string]string{"step": step, "decision": decision, "as": as,
				"reason": reason, "args_sha256": argsHash, "channel": "cli", "nonce": nonce})
			key := make([]byte, 12)
			_, _ = rand.Read(key)
			var res service.DecideResult
			err = c.doWith(cmd.Context(), http.MethodPost, "/v1/incidents/"+url.PathEscape(args[0])+"/approvals",
				bytes.NewReader(body), &res, map[string]string{"Idempotency-Key": "cli-" + hex.EncodeToString(key)})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "incident %s step %s: %s", res.IncidentID, res.Step, res.Status)
			if res.Remaining > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), " (%d more approval(s) needed)", res.Remaining)
			}
			fmt.Fprintln(cmd.OutOrStdout())
			return nil
		},
	}
	cmd.Flags().StringVar(&step, "step", "", "step id (see `sever incidents show`)")
	cmd.Flags().StringVar(&decision, "decision", "", "approve or deny")
	cmd.Flags().StringVar(&as, "as", "", "the operator you are deciding as (must match the token)")
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded with the decision)")
	cmd.Flags().StringVar(&argsHash, "args-sha256", "", "bind the decision to these exact step arguments (from `incidents show -o json`)")
	for _, n := range []string{"step", "decision", "as"} {
		_ = cmd.MarkFlagRequired(n)
	}
	f.add(cmd)
	return cmd
}
