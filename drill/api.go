package drill

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/service"
)

// apiClient submits signals and reads incidents through sever's HTTP API, the way a
// SIEM or the CLI would, so a drill exercises intake as well as the workflows.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

func newAPIClient(base, token string) *apiClient {
	return &apiClient{base: strings.TrimRight(base, "/"), token: token,
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
}

// submit posts a native signal.
func (c *apiClient) submit(ctx context.Context, body []byte) (service.SubmitResult, error) {
	var res service.SubmitResult
	err := c.do(ctx, http.MethodPost, "/v1/signals", body, &res)
	return res, err
}

// incident reads an incident.
func (c *apiClient) incident(ctx context.Context, id string) (*sever.Incident, error) {
	var inc sever.Incident
	if err := c.do(ctx, http.MethodGet, "/v1/incidents/"+url.PathEscape(id), nil, &inc); err != nil {
		return nil, err
	}
	return &inc, nil
}

// do sends one request; an error answer becomes the API's *sever.Error.
func (c *apiClient) do(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error sever.Error `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
			return &e.Error
		}
		return fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode: %w", method, path, err)
	}
	return nil
}
