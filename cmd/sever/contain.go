package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/httpapi"
	"github.com/sever-ir/sever/service"
)

// newContainCmd opens (or joins) a credential's incident on an operator's word,
// through POST /v1/incidents, without writing a signal by hand.
func newContainCmd(g *globals) *cobra.Command {
	var f clientFlags
	var r httpapi.ContainRequest
	var typ, output string
	cmd := &cobra.Command{
		Use:   "contain --type T --id ID --reason R",
		Short: "Contain a credential now: open (or join) its incident and run its runbook",
		Long: `contain tells sever that a credential is compromised and must be contained now. It
opens the credential's incident (or joins the one already open) with a signal whose source
is the operator of the token (--token or SEVER_TOKEN; it needs the incidents:write scope),
and prints the incident ID.

The operator is recorded as the incident's reporter, so they cannot approve its steps
themselves: someone else in the approver set must. --runbook picks the runbook of a new
incident; it must contain credentials of --type, or the answer (422) lists those that do.
--provider may be left out for aws_*, anthropic_api_key, openai_api_key and github_token;
give it for the others: gcp for gcp_service_account_key and google_api_key, azure for
azure_app_secret and azure_openai_key, vault for vault_token. Only the credential's
identifier is sent, never its secret: a Google key's resource name (never the API key
string), an Entra secret as <application id>/<secret key id>, an Azure OpenAI account's
ARM id, a Vault token's accessor.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r.Credential.Type = sever.CredentialType(typ)
			// The server's rules, so a bad request fails here with the field named.
			if err := httpapi.CheckContain(&r); err != nil {
				return err
			}
			c, err := g.client(&f)
			if err != nil {
				return err
			}
			body, err := json.Marshal(map[string]any{
				"credential": map[string]string{"provider": r.Credential.Provider, "type": string(r.Credential.Type),
					"id": r.Credential.ID, "account": r.Credential.Account, "principal": r.Credential.Principal},
				"runbook": r.Runbook, "reason": r.Reason,
			})
			if err != nil {
				return err
			}
			// One key per invocation: a retry of this request by the transport is one signal.
			key := make([]byte, 12)
			_, _ = rand.Read(key)
			var res service.SubmitResult
			if err := c.doWith(cmd.Context(), http.MethodPost, "/v1/incidents", bytes.NewReader(body), &res,
				map[string]string{"Idempotency-Key": "cli-" + hex.EncodeToString(key)}); err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			// The ID alone on standard output, for scripts: id=$(sever contain …).
			fmt.Fprintln(cmd.OutOrStdout(), res.IncidentID)
			fmt.Fprintf(cmd.ErrOrStderr(), "signal %s %s; follow it with: sever incidents show %s\n", res.SignalID, res.Status, res.IncidentID)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&typ, "type", "", "credential type (aws_access_key, aws_temporary_credentials, aws_bedrock_api_key, anthropic_api_key, openai_api_key, gcp_service_account_key, google_api_key, azure_app_secret, azure_openai_key, vault_token, github_token, generic_token)")
	fl.StringVar(&r.Credential.ID, "id", "", "the credential's identifier (an access key ID, a key ID or resource name, appID/keyID, an ARM id, a Vault accessor): never its secret")
	fl.StringVar(&r.Credential.Provider, "provider", "", "provider (default from --type; required for generic_token)")
	fl.StringVar(&r.Credential.Account, "account", "", "account the credential belongs to (an AWS account ID, a GCP project, an Azure tenant or subscription, a Vault namespace)")
	fl.StringVar(&r.Credential.Principal, "principal", "", "who holds the credential (an IAM user or role ARN)")
	fl.StringVar(&r.Runbook, "runbook", "", "runbook for a new incident (default: the library's choice for --type)")
	fl.StringVar(&r.Reason, "reason", "", "why it must be contained (recorded as the signal's summary)")
	fl.StringVarP(&output, "output", "o", "text", "text (the incident ID) or json")
	for _, n := range []string{"type", "id", "reason"} {
		_ = cmd.MarkFlagRequired(n)
	}
	f.add(cmd)
	return cmd
}
