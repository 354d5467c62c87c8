package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sever-ir/sever"
)

// apiClient talks to a running sever API (sever dev or sever serve).
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

type clientFlags struct {
	url   string
	token string
}

func (f *clientFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.url, "url", os.Getenv("SEVER_URL"), "API base URL (default from http.listen; env SEVER_URL)")
	cmd.Flags().StringVar(&f.token, "token", "", "bearer token (default env SEVER_TOKEN, then <data-dir>/dev-token)")
}

func (g *globals) client(f *clientFlags) (*apiClient, error) {
	cfg, err := g.loadConfig()
	if err != nil {
		return nil, err
	}
	c := &apiClient{base: f.url, token: f.token, http: &http.Client{Timeout: 30 * time.Second}}
	if c.base == "" {
		c.base = "http://" + cfg.HTTP.Listen
	}
	c.base = strings.TrimRight(c.base, "/")
	if c.token == "" {
		c.token = os.Getenv("SEVER_TOKEN")
	}
	if c.token == "" {
		b, err := os.ReadFile(filepath.Join(cfg.DataDir, "dev-token"))
		if err != nil {
			return nil, fmt.Errorf("no API token: pass --token, set SEVER_TOKEN, or run `sever dev` with this data dir (%s)", cfg.DataDir)
		}
		c.token = strings.TrimSpace(string(b))
	}
	return c, nil
}

func (c *apiClient) do(ctx context.Context, method, path string, body io.Reader, out any) error {
	return c.doWith(ctx, method, path, body, out, nil)
}

func (c *apiClient) doWith(ctx context.Context, method, path string, body io.Reader, out any, header map[string]string) error {
	b, err := c.send(ctx, method, path, body, header)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode: %w", method, path, err)
	}
	return nil
}

// send makes one request and returns the body of a successful answer; an error answer
// becomes a *sever.Error carrying the API's message.
func (c *apiClient) send(ctx context.Context, method, path string, body io.Reader, header map[string]string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.http
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error sever.Error `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
			msg := e.Error.Message
			if e.Error.Field != "" && !strings.Contains(msg, e.Error.Field) {
				msg = e.Error.Field + ": " + msg
			}
			return nil, &sever.Error{Code: e.Error.Code, Field: e.Error.Field, Message: fmt.Sprintf("%s (HTTP %d)", msg, resp.StatusCode)}
		}
		return nil, fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return b, nil
}
