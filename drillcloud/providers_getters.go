package drillcloud

import (
	"fmt"
	"sort"
	"time"
)

// ProviderKeyInfo is the observable state of a model-provider API key (never its
// value).
type ProviderKeyInfo struct {
	Provider     string
	ID           string
	Name         string
	Organization string
	Project      string // OpenAI only
	WorkspaceID  string // Anthropic only; "" is the default workspace
	// Status is Anthropic's active, inactive or archived; an OpenAI key is active or
	// deleted.
	Status       string
	Owner        string // OpenAI: user or service_account
	Created      time.Time
	LastUsed     time.Time
	Requests     int // successful inference calls
	InputTokens  int
	OutputTokens int
}

func (k *providerKey) info() ProviderKeyInfo {
	info := ProviderKeyInfo{Provider: k.provider, ID: k.id, Name: k.name, Organization: k.org.id,
		WorkspaceID: k.workspaceID, Status: k.status, Owner: k.ownerType, Created: k.created, LastUsed: k.lastUsed,
		Requests: k.requests, InputTokens: k.inTokens, OutputTokens: k.outTokens}
	if k.project != nil {
		info.Project = k.project.id
	}
	if k.deleted {
		info.Status = "deleted"
	}
	return info
}

// ProviderKey returns a model-provider key's state by id (apikey_… or key_…),
// deleted OpenAI keys included.
func (c *Cloud) ProviderKey(id string) (ProviderKeyInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.st.providers.keys[id]
	if k == nil {
		return ProviderKeyInfo{}, false
	}
	return k.info(), true
}

// ProviderKeyValue returns a key's secret value, as an attacker who stole it (or a
// test) holds it. The call log never contains it.
func (c *Cloud) ProviderKeyValue(id string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.st.providers.keys[id]
	if k == nil {
		return "", fmt.Errorf("provider key value of %s: no such key", id)
	}
	return k.value, nil
}

// ProviderOrg is a model-provider organization.
type ProviderOrg struct {
	Provider string
	ID       string
	Name     string
	Projects []string // OpenAI project ids, in seed order
}

// ProviderOrgs lists a provider's organizations in seed order.
func (c *Cloud) ProviderOrgs(provider string) []ProviderOrg {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []ProviderOrg
	for _, o := range c.st.providers.orgs[provider] {
		po := ProviderOrg{Provider: provider, ID: o.id, Name: o.name}
		for _, p := range o.projects {
			po.Projects = append(po.Projects, p.id)
		}
		out = append(out, po)
	}
	return out
}

// ProviderAdminKey returns the Admin API key of an organization ("" = the
// provider's first), for sever's configuration in drills and tests.
func (c *Cloud) ProviderAdminKey(provider, orgID string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range c.st.providers.orgs[provider] {
		if orgID == "" || o.id == orgID {
			return o.adminKey, nil
		}
	}
	if orgID == "" {
		return "", fmt.Errorf("provider admin key: the seed has no %s organization", provider)
	}
	return "", fmt.Errorf("provider admin key: no %s organization %s", provider, orgID)
}

// ProviderKeys returns every model-provider key, ordered by provider, then id.
func (c *Cloud) ProviderKeys() []ProviderKeyInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]ProviderKeyInfo, 0, len(c.st.providers.keys))
	for _, k := range c.st.providers.keys {
		out = append(out, k.info())
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Provider != out[j].Provider {
			return out[i].Provider < out[j].Provider
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// VendorDisableProviderKey does what a provider does when it acts on a leaked key
// on its own, without anyone's credentials: Anthropic sets the key inactive,
// OpenAI (which has no disable) deletes it. The call log records it as the
// provider's internal event, so drills can show the provider acting first.
func (c *Cloud) VendorDisableProviderKey(provider, keyID string) error {
	c.mu.Lock()
	k := c.st.providers.keys[keyID]
	if k == nil || k.provider != provider {
		c.mu.Unlock()
		return fmt.Errorf("vendor disable %s key %s: no such key", provider, keyID)
	}
	op, applied := "UpdateAPIKey", false
	params := map[string]string{"apiKeyId": keyID}
	if provider == ProviderAnthropic {
		applied = k.status == "active"
		if applied {
			k.status = "inactive"
		}
		params["status"] = "inactive"
	} else {
		op, applied = "DeleteProjectAPIKey", !k.deleted
		k.deleted = true
		params["projectId"] = k.project.id
	}
	org := k.org.id
	c.mu.Unlock()
	now := time.Now().UTC()
	c.record(Event{
		ID: newUUID(), RequestID: newUUID(), Time: now, Service: provider, Operation: op, EventSource: provider,
		Action: provider + ":" + op, Account: org, Principal: provider + ":internal", UserName: "Provider Internal",
		SourceIP: "Provider Internal", UserAgent: "Provider Internal", HTTPStatus: 200,
		RequestParameters: params, Applied: applied,
	})
	return nil
}
