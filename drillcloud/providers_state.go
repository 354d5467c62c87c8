package drillcloud

import "time"

type providerState struct {
	orgs   map[string][]*providerOrg // by provider, in seed order
	keys   map[string]*providerKey   // by key id, deleted OpenAI keys included
	values map[string]*providerKey   // by secret value
	admins map[string]*providerOrg   // by admin key value
}

type providerOrg struct {
	provider, id, name   string
	adminKey, adminKeyID string
	projects             []*providerProject // OpenAI only
	keys                 []*providerKey     // creation order
}

type providerProject struct {
	id, name string
	archived bool
	created  time.Time
	org      *providerOrg
}

type providerKey struct {
	provider, id, name, value string
	// status is Anthropic's active, inactive or archived; an OpenAI key is active
	// until deleted.
	status      string
	deleted     bool
	workspaceID string
	ownerType   string
	org         *providerOrg
	project     *providerProject // OpenAI only
	created     time.Time
	lastUsed    time.Time
	requests    int
	inTokens    int
	outTokens   int
}

func newProviderState(seed SeedProviders, now time.Time) *providerState {
	ps := &providerState{orgs: map[string][]*providerOrg{}, keys: map[string]*providerKey{},
		values: map[string]*providerKey{}, admins: map[string]*providerOrg{}}
	addKey := func(k *providerKey) {
		ps.keys[k.id] = k
		ps.values[k.value] = k
		k.org.keys = append(k.org.keys, k)
	}
	for _, so := range seed.Anthropic.Organizations {
		o := &providerOrg{provider: ProviderAnthropic, id: so.ID, name: so.Name,
			adminKey:   orDefault(so.AdminKey, "sk-ant-admin01-"+randAlnum(80)+"AA"),
			adminKeyID: orDefault(so.AdminKeyID, "apikey_01admin"+randAlnum(16))}
		ps.orgs[ProviderAnthropic] = append(ps.orgs[ProviderAnthropic], o)
		ps.admins[o.adminKey] = o
		for _, sk := range so.Keys {
			addKey(&providerKey{provider: ProviderAnthropic, id: sk.ID, name: sk.Name,
				value:  orDefault(sk.Value, "sk-ant-api03-"+randAlnum(86)+"AA"),
				status: orDefault(sk.Status, "active"), workspaceID: sk.WorkspaceID, org: o, created: orNow(sk.Created, now)})
		}
	}
	for _, so := range seed.OpenAI.Organizations {
		o := &providerOrg{provider: ProviderOpenAI, id: so.ID, name: so.Name,
			adminKey:   orDefault(so.AdminKey, "sk-admin-"+randAlnum(74)),
			adminKeyID: orDefault(so.AdminKeyID, "key_admin"+randAlnum(16))}
		ps.orgs[ProviderOpenAI] = append(ps.orgs[ProviderOpenAI], o)
		ps.admins[o.adminKey] = o
		for _, sp := range so.Projects {
			p := &providerProject{id: sp.ID, name: sp.Name, archived: sp.Archived, created: now, org: o}
			o.projects = append(o.projects, p)
			for _, sk := range sp.Keys {
				prefix := "sk-proj-"
				if sk.Owner == "service_account" {
					prefix = "sk-svcacct-"
				}
				addKey(&providerKey{provider: ProviderOpenAI, id: sk.ID, name: sk.Name,
					value: orDefault(sk.Value, prefix+randAlnum(120)), status: "active",
					ownerType: orDefault(sk.Owner, "user"), org: o, project: p, created: orNow(sk.Created, now)})
			}
		}
	}
	return ps
}

func orDefault(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

func (o *providerOrg) project(id string) *providerProject {
	for _, p := range o.projects {
		if p.id == id {
			return p
		}
	}
	return nil
}

// live reports whether the key authenticates: an Anthropic key that is active, an
// OpenAI key not deleted in a project not archived.
func (k *providerKey) live() bool {
	if k.deleted || k.status != "active" {
		return false
	}
	return k.project == nil || !k.project.archived
}
