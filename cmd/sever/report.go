package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sever-ir/sever/report"
)

func newReportCmd(g *globals) *cobra.Command {
	var f clientFlags
	var format, out string
	cmd := &cobra.Command{
		Use:   "report ID [--format md|html|json|ocsf] [--out FILE]",
		Short: "Write an incident report: accountability, timeline, enforcement gap, framework mapping",
		Long: `Fetch an incident's report from a running sever (GET /v1/incidents/{id}/report).

md and html are for people (html is one self-contained page that prints well); json
holds the same computed pieces for tools; ocsf is a JSON array of OCSF events: an
Incident Finding (class 2005) and a Remediation Activity (class 7001) per step.`,
		Args: cobra.ExactArgs(1),
		PreRunE: func(*cobra.Command, []string) error {
			if !slices.Contains(report.Formats, format) {
				return fmt.Errorf("--format %q: want one of %s", format, strings.Join(report.Formats, ", "))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(&f)
			if err != nil {
				return err
			}
			path := "/v1/incidents/" + url.PathEscape(args[0]) + "/report?" + url.Values{"format": {format}}.Encode()
			b, err := c.send(cmd.Context(), http.MethodGet, path, nil, nil)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err := cmd.OutOrStdout().Write(b)
				return err
			}
			if err := writeFileAtomic(out, b); err != nil {
				return fmt.Errorf("write report: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "report of %s written to %s (%s, %d bytes)\n", args[0], out, format, len(b))
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "md", "report format: "+strings.Join(report.Formats, ", "))
	cmd.Flags().StringVar(&out, "out", "", "write the report to FILE instead of standard output")
	f.add(cmd)
	return cmd
}

// writeFileAtomic writes through a temporary file in the same directory, so an
// interrupted run never leaves half a report where a whole one is expected. Reports
// describe incidents, so the file is private to its owner.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
