package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/sever-ir/sever/drillcloud"
)

// newDrillCloudCmd runs the drill cloud on its own, for drills against a sever that
// runs elsewhere: point aws.endpoint_url (with s3_use_path_style) at it and give
// sever the responder's key.
func newDrillCloudCmd(g *globals) *cobra.Command {
	var seedPath, listen string
	cmd := &cobra.Command{
		Use:   "drillcloud",
		Short: "Serve the drill cloud: AWS wire protocols with SigV4, simulated state, faults and an attacker",
		Long: `drillcloud serves the operations sever's AWS actions use (IAM and STS Query, Secrets Manager
and CloudTrail JSON, EC2 Query, S3 REST, Bedrock) plus the Anthropic and OpenAI Admin APIs, on
one address, with the state from a seed file (default: the built-in seed). Every call, refused
ones included, lands in its CloudTrail log. Nothing real is touched.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			seed := drillcloud.DefaultSeed()
			if seedPath != "" {
				if seed, err = drillcloud.LoadSeed(seedPath); err != nil {
					return err
				}
			}
			cloud, err := drillcloud.New(seed, drillcloud.WithLogger(newLogger(cfg, os.Stderr)))
			if err != nil {
				return err
			}
			url, err := cloud.Start(listen)
			if err != nil {
				return err
			}
			defer cloud.Close()
			stderrf("drill cloud serving on %s\n", url)
			stderrf("  point sever at it: aws.endpoint_url: %s, aws.s3_use_path_style: true, and give sever a\n", url)
			stderrf("  responder key whose secret your seed sets (the built-in seed's secrets are random)\n")
			fmt.Fprintln(cmd.OutOrStdout(), url)
			<-cmd.Context().Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&seedPath, "seed", "", "seed file (YAML; default: the built-in seed)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:4566", "listen address")
	return cmd
}
