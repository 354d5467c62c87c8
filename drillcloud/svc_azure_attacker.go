package drillcloud

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// AzureRefusal is an attacker's call that Azure refused: the status and Azure's
// error code (an AADSTS number for Entra), never the credential that was tried.
type AzureRefusal struct {
	Status int
	Code   string
}

func (e *AzureRefusal) Error() string {
	return fmt.Sprintf("azure refused the call: %d %s", e.Status, e.Code)
}

// AzureAttackSecret is an attacker's use of a leaked Entra client secret: the
// client-credentials grant for Graph, as any tool holding the secret sends it.
// It returns nil when Entra issues a token and an *AzureRefusal when it does not.
// hc is AzureClient's client for the drill cloud.
func AzureAttackSecret(ctx context.Context, hc *http.Client, tenant, appID, secret string) error {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {appID}, "client_secret": {secret},
		"scope": {"https://" + AzureGraphHost + "/.default"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+AzureLoginHost+"/"+url.PathEscape(tenant)+"/oauth2/v2.0/token",
		strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("attacker token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return azureAttack(hc, req, func(b []byte) string {
		var e struct {
			Codes []int  `json:"error_codes"`
			Error string `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		if len(e.Codes) > 0 {
			return fmt.Sprintf("AADSTS%d", e.Codes[0])
		}
		return e.Error
	})
}

// AzureAttackOpenAIKey is an attacker's use of a leaked Azure OpenAI key: a chat
// completion on the account's endpoint with the api-key header. It returns nil
// when the service answers and an *AzureRefusal when it refuses the key.
func AzureAttackOpenAIKey(ctx context.Context, hc *http.Client, account, key string) error {
	body := `{"messages":[{"role":"user","content":"hello"}],"max_tokens":16}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+account+AzureOpenAISuffix+
		"/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("attacker chat request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("api-key", key)
	return azureAttack(hc, req, func(b []byte) string {
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		return e.Error.Code
	})
}

func azureAttack(hc *http.Client, req *http.Request, code func([]byte) string) error {
	resp, err := hc.Do(req)
	if err != nil {
		// *url.Error quotes the URL, which carries no credential here.
		return fmt.Errorf("attacker call: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	return &AzureRefusal{Status: resp.StatusCode, Code: code(b)}
}
