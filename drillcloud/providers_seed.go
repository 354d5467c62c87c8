package drillcloud

import (
	"regexp"
	"time"
)

// SeedProviders are the model-provider organizations the cloud serves next to AWS:
// the Anthropic and OpenAI Admin APIs (disable, revoke and read keys) and their
// inference endpoints (what a stolen key is used for).
type SeedProviders struct {
	Anthropic SeedAnthropic `yaml:"anthropic"`
	OpenAI    SeedOpenAI    `yaml:"openai"`
}

type SeedAnthropic struct {
	Organizations []SeedAnthropicOrg `yaml:"organizations"`
}

// SeedAnthropicOrg is an Anthropic organization with its Admin API key. An empty
// AdminKey gets a random sk-ant-admin01-… value (ProviderAdminKey hands it out).
type SeedAnthropicOrg struct {
	ID         string             `yaml:"id"`
	Name       string             `yaml:"name"`
	AdminKey   string             `yaml:"admin_key"`
	AdminKeyID string             `yaml:"admin_key_id"`
	Keys       []SeedAnthropicKey `yaml:"keys"`
}

// SeedAnthropicKey is an API key (apikey_…). An empty Value gets a random
// sk-ant-api03-… one.
type SeedAnthropicKey struct {
	ID          string    `yaml:"id"`
	Name        string    `yaml:"name"`
	Value       string    `yaml:"value"`
	Status      string    `yaml:"status"` // active (default), inactive or archived
	WorkspaceID string    `yaml:"workspace_id"`
	Created     time.Time `yaml:"created"`
}

type SeedOpenAI struct {
	Organizations []SeedOpenAIOrg `yaml:"organizations"`
}

// SeedOpenAIOrg is an OpenAI organization with its Admin API key (random
// sk-admin-… when empty).
type SeedOpenAIOrg struct {
	ID         string              `yaml:"id"`
	Name       string              `yaml:"name"`
	AdminKey   string              `yaml:"admin_key"`
	AdminKeyID string              `yaml:"admin_key_id"`
	Projects   []SeedOpenAIProject `yaml:"projects"`
}

type SeedOpenAIProject struct {
	ID       string          `yaml:"id"`
	Name     string          `yaml:"name"`
	Archived bool            `yaml:"archived"`
	Keys     []SeedOpenAIKey `yaml:"keys"`
}

// SeedOpenAIKey is a project API key (key_…). OpenAI keys have no status: they
// exist until they are deleted.
type SeedOpenAIKey struct {
	ID      string    `yaml:"id"`
	Name    string    `yaml:"name"`
	Value   string    `yaml:"value"`
	Owner   string    `yaml:"owner"` // user (default) or service_account
	Created time.Time `yaml:"created"`
}

var (
	providerOrgIDRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	openAIOrgIDRE     = regexp.MustCompile(`^org-[A-Za-z0-9]{1,64}$`)
	anthropicKeyIDRE  = regexp.MustCompile(`^apikey_[A-Za-z0-9]{6,64}$`)
	openAIKeyIDRE     = regexp.MustCompile(`^key_[A-Za-z0-9]{6,64}$`)
	openAIProjectIDRE = regexp.MustCompile(`^proj_[A-Za-z0-9]{1,64}$`)
	workspaceIDRE     = regexp.MustCompile(`^wrkspc_[A-Za-z0-9]{1,64}$`)
	anthropicValueRE  = regexp.MustCompile(`^sk-ant-api03-[A-Za-z0-9_-]{16,200}$`)
	anthropicAdminRE  = regexp.MustCompile(`^sk-ant-admin01-[A-Za-z0-9_-]{16,200}$`)
	openAIValueRE     = regexp.MustCompile(`^sk-(proj|svcacct)-[A-Za-z0-9_-]{16,200}$`)
	openAIAdminRE     = regexp.MustCompile(`^sk-admin-[A-Za-z0-9_-]{16,200}$`)
	anthropicStatuses = []string{"active", "inactive", "archived"}
	openAIOwnerTypes  = []string{"user", "service_account"}
)

const maxProviderNameLen = 256

// validate checks the providers block. ids and values collect every key id and
// secret value across both providers: a value shared by two keys would make
// authentication ambiguous.
func (p *SeedProviders) validate() error {
	ids := map[string]bool{}
	values := map[string]bool{}
	uniqueValue := func(path []any, v string) error {
		if v == "" {
			return nil
		}
		if values[v] {
			// Never repeat the value: seeds may be pasted into bug reports.
			return seedErr(path, "the same key value is given twice")
		}
		values[v] = true
		return nil
	}
	uniqueID := func(path []any, id string) error {
		if ids[id] {
			return seedErr(path, "duplicate id %s", id)
		}
		ids[id] = true
		return nil
	}
	name := func(path []any, n string) error {
		if len(n) > maxProviderNameLen {
			return seedErr(path, "name is longer than %d characters", maxProviderNameLen)
		}
		return nil
	}
	for oi := range p.Anthropic.Organizations {
		o := &p.Anthropic.Organizations[oi]
		op := []any{"providers", "anthropic", "organizations", oi}
		if !providerOrgIDRE.MatchString(o.ID) {
			return seedErr(append(op, "id"), "organization id %q must be 1-64 letters, digits, _ or -", o.ID)
		}
		if err := uniqueID(append(op, "id"), o.ID); err != nil {
			return err
		}
		if err := name(append(op, "name"), o.Name); err != nil {
			return err
		}
		if o.AdminKey != "" && !anthropicAdminRE.MatchString(o.AdminKey) {
			return seedErr(append(op, "admin_key"), "admin key must look like sk-ant-admin01-…")
		}
		if err := uniqueValue(append(op, "admin_key"), o.AdminKey); err != nil {
			return err
		}
		if o.AdminKeyID != "" {
			if !anthropicKeyIDRE.MatchString(o.AdminKeyID) {
				return seedErr(append(op, "admin_key_id"), "admin key id %q must look like apikey_…", o.AdminKeyID)
			}
			if err := uniqueID(append(op, "admin_key_id"), o.AdminKeyID); err != nil {
				return err
			}
		}
		for ki := range o.Keys {
			k := &o.Keys[ki]
			kp := append(append([]any(nil), op...), "keys", ki)
			if !anthropicKeyIDRE.MatchString(k.ID) {
				return seedErr(append(kp, "id"), "key id %q must look like apikey_ and 6-64 letters or digits", k.ID)
			}
			if err := uniqueID(append(kp, "id"), k.ID); err != nil {
				return err
			}
			if err := name(append(kp, "name"), k.Name); err != nil {
				return err
			}
			if k.Value != "" && !anthropicValueRE.MatchString(k.Value) {
				return seedErr(append(kp, "value"), "key value must look like sk-ant-api03-…")
			}
			if err := uniqueValue(append(kp, "value"), k.Value); err != nil {
				return err
			}
			if k.Status == "" {
				k.Status = "active"
			} else if !containsString(anthropicStatuses, k.Status) {
				return seedErr(append(kp, "status"), "status must be active, inactive or archived, got %q", k.Status)
			}
			if k.WorkspaceID != "" && !workspaceIDRE.MatchString(k.WorkspaceID) {
				return seedErr(append(kp, "workspace_id"), "workspace id %q must look like wrkspc_…", k.WorkspaceID)
			}
		}
	}
	for oi := range p.OpenAI.Organizations {
		o := &p.OpenAI.Organizations[oi]
		op := []any{"providers", "openai", "organizations", oi}
		if !openAIOrgIDRE.MatchString(o.ID) {
			return seedErr(append(op, "id"), "organization id %q must look like org-…", o.ID)
		}
		if err := uniqueID(append(op, "id"), o.ID); err != nil {
			return err
		}
		if err := name(append(op, "name"), o.Name); err != nil {
			return err
		}
		if o.AdminKey != "" && !openAIAdminRE.MatchString(o.AdminKey) {
			return seedErr(append(op, "admin_key"), "admin key must look like sk-admin-…")
		}
		if err := uniqueValue(append(op, "admin_key"), o.AdminKey); err != nil {
			return err
		}
		if o.AdminKeyID != "" {
			if !openAIKeyIDRE.MatchString(o.AdminKeyID) {
				return seedErr(append(op, "admin_key_id"), "admin key id %q must look like key_…", o.AdminKeyID)
			}
			if err := uniqueID(append(op, "admin_key_id"), o.AdminKeyID); err != nil {
				return err
			}
		}
		for pi := range o.Projects {
			pr := &o.Projects[pi]
			pp := append(append([]any(nil), op...), "projects", pi)
			if !openAIProjectIDRE.MatchString(pr.ID) {
				return seedErr(append(pp, "id"), "project id %q must look like proj_…", pr.ID)
			}
			if err := uniqueID(append(pp, "id"), pr.ID); err != nil {
				return err
			}
			if err := name(append(pp, "name"), pr.Name); err != nil {
				return err
			}
			for ki := range pr.Keys {
				k := &pr.Keys[ki]
				kp := append(append([]any(nil), pp...), "keys", ki)
				if !openAIKeyIDRE.MatchString(k.ID) {
					return seedErr(append(kp, "id"), "key id %q must look like key_ and 6-64 letters or digits", k.ID)
				}
				if err := uniqueID(append(kp, "id"), k.ID); err != nil {
					return err
				}
				if err := name(append(kp, "name"), k.Name); err != nil {
					return err
				}
				if k.Value != "" && !openAIValueRE.MatchString(k.Value) {
					return seedErr(append(kp, "value"), "key value must look like sk-proj-… or sk-svcacct-…")
				}
				if err := uniqueValue(append(kp, "value"), k.Value); err != nil {
					return err
				}
				if k.Owner == "" {
					k.Owner = "user"
				} else if !containsString(openAIOwnerTypes, k.Owner) {
					return seedErr(append(kp, "owner"), "owner must be user or service_account, got %q", k.Owner)
				}
			}
		}
	}
	return nil
}

// providerState is the model-provider half of the cloud, guarded by Cloud.mu.
