package drillcloud

import "strings"

func adminPrincipal(o *providerOrg) string {
	return o.provider + ":organization/" + o.id + "/admin-key/" + o.adminKeyID
}

func keyPrincipal(k *providerKey) string {
	if k.project != nil {
		return k.provider + ":organization/" + k.org.id + "/project/" + k.project.id + "/api-key/" + k.id
	}
	return k.provider + ":organization/" + k.org.id + "/api-key/" + k.id
}

// authenticateProvider finds the admin key or API key the request presents. A
// refused key the cloud knows is still named in the call log by its id, never by
// its value.
func (c *Cloud) authenticateProvider(cl *pcall) *providerError {
	var secret string
	if cl.provider == ProviderAnthropic {
		secret = cl.r.Header.Get("X-Api-Key")
	} else if v, ok := strings.CutPrefix(cl.r.Header.Get("Authorization"), "Bearer "); ok {
		secret = strings.TrimSpace(v)
	}
	if secret == "" {
		return providerRefusal(cl.provider, ekMissingAuth)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ps := c.st.providers
	if o := ps.admins[secret]; o != nil && o.provider == cl.provider {
		cl.org, cl.admin, cl.keyID = o, true, o.adminKeyID
		return nil
	}
	k := ps.values[secret]
	if k == nil || k.provider != cl.provider {
		return providerRefusal(cl.provider, ekInvalidKey)
	}
	cl.keyID = k.id
	if !k.live() {
		cl.key = k // attributed in the log, refused all the same
		return providerRefusal(cl.provider, ekInvalidKey)
	}
	cl.key, cl.org = k, k.org
	k.lastUsed = cl.now
	return nil
}
