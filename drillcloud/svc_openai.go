package drillcloud

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The OpenAI Admin API's project and project API-key operations (Authorization:
// Bearer <admin key>) and Chat Completions, which is what a stolen key is used
// for. OpenAI has no way to disable a key: DELETE revokes it for good.
var openAIOps = map[string]*providerOp{
	"RetrieveProject":       {admin: true, readOnly: true, handle: oaRetrieveProject},
	"ListProjectAPIKeys":    {admin: true, readOnly: true, handle: oaListKeys},
	"RetrieveProjectAPIKey": {admin: true, readOnly: true, handle: oaRetrieveKey},
	"DeleteProjectAPIKey":   {admin: true, handle: oaDeleteKey},
	"CreateChatCompletion":  {readOnly: true, handle: oaChatCompletion},
}

func openAIRoute(r *http.Request) (string, map[string]string) {
	p := map[string]string{}
	if r.URL.Path == "/v1/chat/completions" && r.Method == http.MethodPost {
		return "CreateChatCompletion", p
	}
	segs := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	if len(segs) < 4 || segs[0] != "v1" || segs[1] != "organization" || segs[2] != "projects" {
		return "", p
	}
	for i, name := range map[int]string{3: "projectId", 5: "apiKeyId"} {
		if i < len(segs) {
			v, err := url.PathUnescape(segs[i])
			if err != nil {
				return "", p
			}
			p[name] = v
		}
	}
	switch {
	case len(segs) == 4 && r.Method == http.MethodGet:
		return "RetrieveProject", p
	case len(segs) == 5 && segs[4] == "api_keys" && r.Method == http.MethodGet:
		return "ListProjectAPIKeys", p
	case len(segs) == 6 && segs[4] == "api_keys" && r.Method == http.MethodGet:
		return "RetrieveProjectAPIKey", p
	case len(segs) == 6 && segs[4] == "api_keys" && r.Method == http.MethodDelete:
		return "DeleteProjectAPIKey", p
	}
	return "", p
}

type openAIOwner struct {
	Type           string         `json:"type"`
	User           map[string]any `json:"user,omitempty"`
	ServiceAccount map[string]any `json:"service_account,omitempty"`
}

type openAIKeyJSON struct {
	Object        string      `json:"object"`
	RedactedValue string      `json:"redacted_value"`
	Name          string      `json:"name"`
	CreatedAt     unixTime    `json:"created_at"`
	LastUsedAt    unixTime    `json:"last_used_at"`
	ID            string      `json:"id"`
	Owner         openAIOwner `json:"owner"`
}

func openAIKey(k *providerKey) openAIKeyJSON {
	j := openAIKeyJSON{Object: "organization.project.api_key",
		// The prefix and the last four characters, as the dashboard shows them.
		RedactedValue: k.value[:strings.LastIndex(k.value[:12], "-")+1] + "..." + k.value[len(k.value)-4:],
		Name:          k.name, CreatedAt: unixTime(k.created), LastUsedAt: unixTime(k.lastUsed), ID: k.id,
		Owner: openAIOwner{Type: k.ownerType}}
	if k.ownerType == "service_account" {
		j.Owner.ServiceAccount = map[string]any{"object": "organization.project.service_account", "id": "svc_acct_drill",
			"name": "drill service account", "role": "member", "created_at": k.created.Unix()}
	} else {
		j.Owner.User = map[string]any{"object": "organization.project.user", "id": "user_drill", "name": "Drill User",
			"email": "drill@example.com", "role": "owner", "added_at": k.created.Unix()}
	}
	return j
}

// orgProject finds the project in the path among the caller's organization's.
func (cl *pcall) orgProject() (*providerProject, *providerError) {
	id := cl.path["projectId"]
	cl.param("projectId", id)
	if p := cl.org.project(id); p != nil {
		return p, nil
	}
	return nil, perr(404, "invalid_request_error", "not_found", "Project with ID '%s' not found.", truncate(id, 80))
}

func (cl *pcall) projectKey() (*providerKey, *providerError) {
	p, e := cl.orgProject()
	if e != nil {
		return nil, e
	}
	id := cl.path["apiKeyId"]
	cl.param("apiKeyId", id)
	k := cl.c.st.providers.keys[id]
	if k == nil || k.project != p || k.deleted {
		return nil, perr(404, "invalid_request_error", "not_found", "API key with ID '%s' not found in project '%s'.", truncate(id, 80), p.id)
	}
	return k, nil
}

func oaRetrieveProject(cl *pcall) (*response, *providerError) {
	cl.c.mu.Lock()
	p, e := cl.orgProject()
	if e != nil {
		cl.c.mu.Unlock()
		return nil, e
	}
	status, archivedAt := "active", any(nil)
	if p.archived {
		status, archivedAt = "archived", p.created.Unix()
	}
	out := map[string]any{"id": p.id, "object": "organization.project", "name": p.name,
		"created_at": p.created.Unix(), "archived_at": archivedAt, "status": status}
	cl.c.mu.Unlock()
	return providerJSON(cl.provider, cl.reqID, out)
}

func oaRetrieveKey(cl *pcall) (*response, *providerError) {
	cl.c.mu.Lock()
	k, e := cl.projectKey()
	if e != nil {
		cl.c.mu.Unlock()
		return nil, e
	}
	j := openAIKey(k)
	cl.c.mu.Unlock()
	return providerJSON(cl.provider, cl.reqID, j)
}

func oaDeleteKey(cl *pcall) (*response, *providerError) {
	cl.c.mu.Lock()
	defer cl.c.mu.Unlock()
	k, e := cl.projectKey()
	if e != nil {
		return nil, e
	}
	if k.ownerType == "service_account" {
		return nil, perr(400, "invalid_request_error", "", "API keys owned by a service account cannot be deleted; delete the service account instead.")
	}
	k.deleted = true
	cl.applied = true
	return providerJSON(cl.provider, cl.reqID, map[string]any{"object": "organization.project.api_key.deleted", "id": k.id, "deleted": true})
}

func oaListKeys(cl *pcall) (*response, *providerError) {
	q := cl.r.URL.Query()
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return nil, perr(400, "invalid_request_error", "", "limit: must be an integer from 1 to 100")
		}
		limit = n
	}
	after := q.Get("after")
	cl.param("after", after)
	cl.param("limit", q.Get("limit"))
	cl.c.mu.Lock()
	defer cl.c.mu.Unlock()
	p, e := cl.orgProject()
	if e != nil {
		return nil, e
	}
	data := []openAIKeyJSON{}
	started, more := after == "", false
	for _, k := range cl.org.keys {
		if k.project != p || k.deleted {
			continue
		}
		if !started {
			started = k.id == after
			continue
		}
		if len(data) == limit {
			more = true
			break
		}
		data = append(data, openAIKey(k))
	}
	out := map[string]any{"object": "list", "data": data, "has_more": more, "first_id": nil, "last_id": nil}
	if len(data) > 0 {
		out["first_id"], out["last_id"] = data[0].ID, data[len(data)-1].ID
	}
	return providerJSON(cl.provider, cl.reqID, out)
}

func oaChatCompletion(cl *pcall) (*response, *providerError) {
	var in struct {
		Model    string          `json:"model"`
		Messages json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(cl.body, &in); err != nil {
		return nil, badBody(err)
	}
	cl.param("model", in.Model)
	if in.Model == "" || len(in.Messages) == 0 {
		return nil, perr(400, "invalid_request_error", "", "model and messages are required")
	}
	tokIn, tokOut := cannedUsage(cl.body)
	cl.recordUsage(tokIn, tokOut)
	return providerJSON(cl.provider, cl.reqID, map[string]any{
		"id": "chatcmpl-drill" + randAlnum(20), "object": "chat.completion", "created": cl.now.Unix(), "model": in.Model,
		"choices": []map[string]any{{"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": cannedCompletion}}},
		"usage": map[string]int{"prompt_tokens": tokIn, "completion_tokens": tokOut, "total_tokens": tokIn + tokOut},
	})
}
