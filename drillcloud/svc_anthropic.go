package drillcloud

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The Anthropic Admin API's API-key operations (x-api-key: an admin key,
// anthropic-version: 2023-06-01) and the Messages API, which is what a stolen key
// is used for. The Admin API cannot create or delete keys; it lists, reads and
// updates their name and status.
var anthropicOps = map[string]*providerOp{
	"ListAPIKeys":   {admin: true, readOnly: true, handle: anListKeys},
	"GetAPIKey":     {admin: true, readOnly: true, handle: anGetKey},
	"UpdateAPIKey":  {admin: true, handle: anUpdateKey},
	"CreateMessage": {readOnly: true, handle: anCreateMessage},
}

func anthropicRoute(r *http.Request) (string, map[string]string) {
	p := map[string]string{}
	if r.URL.Path == "/v1/messages" && r.Method == http.MethodPost {
		return "CreateMessage", p
	}
	segs := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	if len(segs) < 3 || segs[0] != "v1" || segs[1] != "organizations" || segs[2] != "api_keys" {
		return "", p
	}
	switch {
	case len(segs) == 3 && r.Method == http.MethodGet:
		return "ListAPIKeys", p
	case len(segs) == 4:
		id, err := url.PathUnescape(segs[3])
		if err != nil {
			return "", p
		}
		p["apiKeyId"] = id
		switch r.Method {
		case http.MethodGet:
			return "GetAPIKey", p
		case http.MethodPost:
			return "UpdateAPIKey", p
		}
	}
	return "", p
}

type anthropicActor struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

type anthropicKeyJSON struct {
	ID             string         `json:"id"`
	Type           string         `json:"type"`
	Name           string         `json:"name"`
	WorkspaceID    *string        `json:"workspace_id"`
	CreatedAt      string         `json:"created_at"`
	CreatedBy      anthropicActor `json:"created_by"`
	PartialKeyHint string         `json:"partial_key_hint"`
	Status         string         `json:"status"`
}

// anthropicKey renders a key as the Admin API does; the value appears only as
// the partial hint the console also shows.
func anthropicKey(k *providerKey) anthropicKeyJSON {
	j := anthropicKeyJSON{ID: k.id, Type: "api_key", Name: k.name,
		CreatedAt: k.created.UTC().Format(time.RFC3339Nano),
		CreatedBy: anthropicActor{ID: "user_01drill", Type: "user"},
		// Anthropic shows the first 16 and the last 4 characters.
		PartialKeyHint: k.value[:16] + "..." + k.value[len(k.value)-4:],
		Status:         k.status}
	if k.workspaceID != "" {
		ws := k.workspaceID
		j.WorkspaceID = &ws
	}
	return j
}

// orgKey finds a key of the caller's organization: a key of another
// organization is as unknown as one that never existed.
func (cl *pcall) orgKey() (*providerKey, *providerError) {
	id := cl.path["apiKeyId"]
	cl.param("apiKeyId", id)
	k := cl.c.st.providers.keys[id]
	if k == nil || k.org != cl.org || k.deleted {
		return nil, perr(404, "not_found_error", "", "API key %s not found", truncate(id, 80))
	}
	return k, nil
}

func anGetKey(cl *pcall) (*response, *providerError) {
	cl.c.mu.Lock()
	k, e := cl.orgKey()
	if e != nil {
		cl.c.mu.Unlock()
		return nil, e
	}
	j := anthropicKey(k)
	cl.c.mu.Unlock()
	return providerJSON(cl.provider, cl.reqID, j)
}

func anUpdateKey(cl *pcall) (*response, *providerError) {
	var in struct {
		Name   *string `json:"name"`
		Status *string `json:"status"`
	}
	dec := json.NewDecoder(bytes.NewReader(cl.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, badBody(err)
	}
	if in.Status != nil {
		cl.param("status", *in.Status)
		if !containsString(anthropicStatuses, *in.Status) {
			return nil, perr(400, "invalid_request_error", "", "status: Input should be 'active', 'inactive' or 'archived'")
		}
	}
	if in.Name != nil {
		cl.param("name", *in.Name)
		if *in.Name == "" || len(*in.Name) > maxProviderNameLen {
			return nil, perr(400, "invalid_request_error", "", "name: must be 1 to %d characters", maxProviderNameLen)
		}
	}
	cl.c.mu.Lock()
	defer cl.c.mu.Unlock()
	k, e := cl.orgKey()
	if e != nil {
		return nil, e
	}
	if k.status == "archived" && (in.Name != nil || in.Status != nil && *in.Status != "archived") {
		return nil, perr(400, "invalid_request_error", "", "API key %s is archived and cannot be changed", k.id)
	}
	if in.Status != nil && *in.Status != k.status {
		k.status = *in.Status
		cl.applied = true
	}
	if in.Name != nil && *in.Name != k.name {
		k.name = *in.Name
		cl.applied = true
	}
	return providerJSON(cl.provider, cl.reqID, anthropicKey(k))
}

func anListKeys(cl *pcall) (*response, *providerError) {
	q := cl.r.URL.Query()
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, perr(400, "invalid_request_error", "", "limit: must be an integer from 1 to 1000")
		}
		limit = n
	}
	status, ws, after := q.Get("status"), q.Get("workspace_id"), q.Get("after_id")
	for k, v := range map[string]string{"status": status, "workspaceId": ws, "afterId": after, "limit": q.Get("limit")} {
		cl.param(k, v)
	}
	if status != "" && !containsString(anthropicStatuses, status) {
		return nil, perr(400, "invalid_request_error", "", "status: Input should be 'active', 'inactive' or 'archived'")
	}
	cl.c.mu.Lock()
	defer cl.c.mu.Unlock()
	data := []anthropicKeyJSON{}
	started, more := after == "", false
	for _, k := range cl.org.keys {
		if !started {
			started = k.id == after
			continue
		}
		if status != "" && k.status != status || ws != "" && k.workspaceID != ws {
			continue
		}
		if len(data) == limit {
			more = true
			break
		}
		data = append(data, anthropicKey(k))
	}
	out := map[string]any{"data": data, "has_more": more, "first_id": nil, "last_id": nil}
	if len(data) > 0 {
		out["first_id"], out["last_id"] = data[0].ID, data[len(data)-1].ID
	}
	return providerJSON(cl.provider, cl.reqID, out)
}

func anCreateMessage(cl *pcall) (*response, *providerError) {
	var in struct {
		Model     string          `json:"model"`
		MaxTokens int             `json:"max_tokens"`
		Messages  json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(cl.body, &in); err != nil {
		return nil, badBody(err)
	}
	cl.param("model", in.Model)
	if in.Model == "" || in.MaxTokens <= 0 || len(in.Messages) == 0 {
		return nil, perr(400, "invalid_request_error", "", "model, max_tokens and messages are required")
	}
	tokIn, tokOut := cannedUsage(cl.body)
	cl.recordUsage(tokIn, tokOut)
	return providerJSON(cl.provider, cl.reqID, map[string]any{
		"id": "msg_drill" + randAlnum(20), "type": "message", "role": "assistant", "model": in.Model,
		"content":     []map[string]string{{"type": "text", "text": cannedCompletion}},
		"stop_reason": "end_turn", "stop_sequence": nil,
		"usage": map[string]int{"input_tokens": tokIn, "output_tokens": tokOut},
	})
}
