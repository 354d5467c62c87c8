package drillcloud

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Attacker operations with a stolen model-provider API key (KeyID apikey_… or key_…).
const (
	AttackAnthropicMessages = "anthropic:CreateMessage"
	AttackOpenAIChat        = "openai:CreateChatCompletion"
)

// providerAttacks maps the provider attack operations to their provider.
var providerAttacks = map[string]string{AttackAnthropicMessages: ProviderAnthropic, AttackOpenAIChat: ProviderOpenAI}

func defaultAttackOps(keyID string) []string {
	switch {
	case strings.HasPrefix(keyID, "apikey_"):
		return []string{AttackAnthropicMessages}
	case strings.HasPrefix(keyID, "key_"):
		return []string{AttackOpenAIChat}
	}
	return []string{AttackListBuckets, AttackInvokeModel}
}

// attackProvider returns the provider the operations attack, or "" for AWS. One
// stolen key cannot serve two providers, or a provider and AWS.
func attackProvider(cfg AttackerConfig) (string, error) {
	provider := providerAttacks[cfg.Operations[0]]
	for _, op := range cfg.Operations[1:] {
		if providerAttacks[op] != provider {
			return "", fmt.Errorf("operations %v mix AWS and model-provider calls or two providers; one key serves one", cfg.Operations)
		}
	}
	return provider, nil
}

// attemptProvider makes one inference call with the stolen provider key, the way
// an LLMjacking proxy would: plain HTTPS with the key in the provider's header.
func (a *Attacker) attemptProvider(ctx context.Context, op string) (outcome, string) {
	base := strings.TrimRight(a.cfg.Endpoint, "/")
	var req *http.Request
	var err error
	switch op {
	case AttackAnthropicMessages:
		body := `{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Write a long story."}]}`
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/messages", strings.NewReader(body))
		if err == nil {
			req.Header.Set("X-Api-Key", a.providerKey)
			req.Header.Set("Anthropic-Version", "2023-06-01")
		}
	case AttackOpenAIChat:
		body := `{"model":"gpt-4o","messages":[{"role":"user","content":"Write a long story."}]}`
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/chat/completions", strings.NewReader(body))
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+a.providerKey)
		}
	}
	if err != nil {
		return outcomeError, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return outcomeError, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 == 2 {
		return outcomeSuccess, ""
	}
	var e struct {
		Error struct {
			Type string `json:"type"`
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	code := orDefault(e.Error.Code, orDefault(e.Error.Type, resp.Status))
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return outcomeDenied, code
	}
	return outcomeError, code
}
