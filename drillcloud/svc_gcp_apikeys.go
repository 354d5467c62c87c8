package drillcloud

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"time"
)

// API Keys operations, for InjectGCPFault, Calls and Fault.Operation, and the Gemini call an
// API key makes.
const (
	GCPOpLookupAPIKey   = "apikeys.lookupKey"
	GCPOpGetAPIKey      = "apikeys.get"
	GCPOpDeleteAPIKey   = "apikeys.delete"
	GCPOpUndeleteAPIKey = "apikeys.undelete"
	GCPOpGemini         = "gemini.models.list"
)

var apiKeysOps = map[string]bool{GCPOpLookupAPIKey: true, GCPOpGetAPIKey: true, GCPOpDeleteAPIKey: true, GCPOpUndeleteAPIKey: true}

var gcpAPIKeyPath = regexp.MustCompile(`^/v2/projects/([^/]+)/locations/global/keys/([^/:]+)(:undelete)?$`)

// gcpAPIKey is a Google API key (the kind that also calls Gemini).
type gcpAPIKey struct {
	uid, display, keyString string
	created, deleted        time.Time
}

// NewAPIKey creates an API key in the twin's project and returns its uid and its
// key string (a secret, as Google hands it out: "AIza" and 35 more characters).
func (g *GCPTwin) NewAPIKey(display string) (uid, keyString string) {
	b := make([]byte, 27)
	_, _ = rand.Read(b)
	keyString = "AIza" + base64.RawURLEncoding.EncodeToString(b)[:35]
	u := make([]byte, 16)
	_, _ = rand.Read(u)
	uid = hex.EncodeToString(u[:4]) + "-" + hex.EncodeToString(u[4:6]) + "-" + hex.EncodeToString(u[6:8]) + "-" +
		hex.EncodeToString(u[8:10]) + "-" + hex.EncodeToString(u[10:])
	g.mu.Lock()
	defer g.mu.Unlock()
	g.apiKeys[uid] = &gcpAPIKey{uid: uid, display: display, keyString: keyString, created: g.now().UTC()}
	return uid, keyString
}

// APIKeyName is the resource name of API key uid.
func (g *GCPTwin) APIKeyName(uid string) string {
	return "projects/" + g.Project + "/locations/global/keys/" + uid
}

// APIKeyDeleted reports whether API key uid is deleted.
func (g *GCPTwin) APIKeyDeleted(uid string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	k := g.apiKeys[uid]
	return k != nil && !k.deleted.IsZero()
}

func (g *GCPTwin) apiKeyJSON(k *gcpAPIKey) map[string]any {
	out := map[string]any{"name": g.APIKeyName(k.uid), "uid": k.uid, "displayName": k.display,
		"createTime": k.created.Format(time.RFC3339Nano), "updateTime": k.created.Format(time.RFC3339Nano),
		"etag": fmt.Sprintf("W/\"%s\"", k.uid[:8])}
	if !k.deleted.IsZero() {
		out["deleteTime"] = k.deleted.Format(time.RFC3339Nano)
	}
	return out
}

// serveAPIKeys answers the API Keys calls of the responder; g.mu is held.
func (g *GCPTwin) serveAPIKeys(w http.ResponseWriter, r *http.Request, op string, m []string, tok gcpToken) int {
	if st := g.fault(op); st != 0 {
		gcpError(w, st, "drill cloud fault: "+gcpStatusNames[st])
		return st
	}
	if !g.accounts[tok.email] {
		gcpError(w, http.StatusForbidden, fmt.Sprintf("Permission denied for %s (or the resource may not exist).", gcpMethodNames[op]))
		return http.StatusForbidden
	}
	if op == GCPOpLookupAPIKey {
		for _, k := range g.apiKeys {
			if k.keyString != "" && k.keyString == r.URL.Query().Get("keyString") {
				gcpJSON(w, map[string]string{"name": g.APIKeyName(k.uid), "parent": "projects/" + g.Project + "/locations/global"})
				return http.StatusOK
			}
		}
		// Google never echoes the key string it was asked about.
		gcpError(w, http.StatusNotFound, "The API key was not found.")
		return http.StatusNotFound
	}
	k := g.apiKeys[m[2]]
	if (m[1] != g.Project && m[1] != "-") || k == nil {
		gcpError(w, http.StatusNotFound, "Key "+m[2]+" was not found.")
		return http.StatusNotFound
	}
	switch op {
	case GCPOpDeleteAPIKey:
		if k.deleted.IsZero() {
			k.deleted = g.now().UTC()
		}
	case GCPOpUndeleteAPIKey:
		if k.deleted.IsZero() {
			gcpError(w, http.StatusBadRequest, "Key "+k.uid+" is not deleted.")
			return http.StatusBadRequest
		}
		k.deleted = time.Time{}
	default:
		gcpJSON(w, g.apiKeyJSON(k))
		return http.StatusOK
	}
	// Google answers with a long-running operation; the twin's are done at once.
	resp := g.apiKeyJSON(k)
	resp["@type"] = "type.googleapis.com/google.api.apikeys.v2.Key"
	gcpJSON(w, map[string]any{"name": "operations/akmf.drill-" + k.uid[:8], "done": true, "response": resp})
	return http.StatusOK
}

// serveGemini answers the Gemini API's model list to a caller with an API key
// (x-goog-api-key or ?key=): the attacker's use of a stolen key. A deleted key is
// refused as Google refuses it.
func (g *GCPTwin) serveGemini(w http.ResponseWriter, r *http.Request, c *Cloud) {
	key := r.Header.Get("X-Goog-Api-Key")
	if key == "" {
		key = r.URL.Query().Get("key")
	}
	g.mu.Lock()
	g.calls[GCPOpGemini]++
	if st := g.fault(GCPOpGemini); st != 0 {
		g.mu.Unlock()
		gcpError(w, st, "drill cloud fault: "+gcpStatusNames[st])
		return
	}
	var live *gcpAPIKey
	for _, k := range g.apiKeys {
		if key != "" && k.keyString == key && k.deleted.IsZero() {
			live = k
		}
	}
	g.mu.Unlock()
	if live == nil {
		gcpError(w, http.StatusBadRequest, "API key not valid. Please pass a valid API key.")
		return
	}
	kind := c.twinFault(r, GCPService, GCPOpGemini, live.uid, g.APIKeyName(live.uid))
	if kind == FaultDropResponse {
		dropConnection(w)
		return
	}
	if !gcpFaultAnswer(w, kind, GCPOpGemini) {
		gcpJSON(w, map[string]any{"models": []map[string]string{{"name": "models/gemini-2.5-flash"}}})
	}
}

// GCPAPIKeyAttackerCall is the attacker's use of a stolen API key: it lists the
// Gemini models with it. It returns nil on success and an error wrapping
// ErrGCPRefused when Google refuses the key. Errors never quote the key.
func GCPAPIKeyAttackerCall(baseURL, keyString string) error {
	r, err := http.NewRequest(http.MethodGet, baseURL+"/v1beta/models", nil)
	if err != nil {
		return fmt.Errorf("gcp api key attacker: %s: bad base URL", baseURL)
	}
	r.Header.Set("X-Goog-Api-Key", keyString)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return fmt.Errorf("gcp api key attacker: list models: %w", err)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w: Gemini answered %d", ErrGCPRefused, resp.StatusCode)
	}
	return fmt.Errorf("gcp api key attacker: list models: Gemini answered %d", resp.StatusCode)
}
