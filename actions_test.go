package sever

import (
	"slices"
	"strings"
	"testing"
)

// The catalog is what the linter, the policy and the worker agree on; an entry that
// contradicts itself would pass lint and fail mid-incident.
func TestCatalogIsConsistent(t *testing.T) {
	for name, spec := range Catalog {
		t.Run(name, func(t *testing.T) {
			if spec.Name != name {
				t.Errorf("Name = %q", spec.Name)
			}
			if strings.TrimSpace(spec.Description) == "" {
				t.Error("no description")
			}
			if spec.Enforcement != EnforcementNone && !slices.Contains(Enforcements, spec.Enforcement) {
				t.Errorf("enforcement %q is not a step enforcement", spec.Enforcement)
			}
			if spec.Enforcement == EnterpriseEnforced && !spec.Mutating {
				t.Error("enterprise_enforced but changes nothing")
			}
			for _, r := range spec.Required {
				if !slices.Contains(spec.Args, r) {
					t.Errorf("required %q is not among args %v", r, spec.Args)
				}
			}
			seen := map[string]bool{}
			for _, a := range spec.Args {
				if seen[a] {
					t.Errorf("arg %q listed twice", a)
				}
				seen[a] = true
			}
		})
	}
}

func TestAWSActionsInCatalog(t *testing.T) {
	for _, name := range []string{ActionAWSKeyOwner, ActionAWSVendorQuarantine, ActionAWSDeactivateKey, ActionAWSActivateKey,
		ActionAWSDeleteKey, ActionAWSRevokeSessions, ActionAWSKeyStatus, ActionAWSRotateSecret, ActionAWSLookupEvents,
		ActionAWSSnapshotVolume, ActionAWSStoreEvidence, ActionAWSBedrockLogging} {
		if _, ok := Catalog[name]; !ok || !strings.HasPrefix(name, "aws.") {
			t.Errorf("%s missing from the catalog", name)
		}
	}
	if s := Catalog[ActionAWSVendorQuarantine]; s.Enforcement != VendorEnforced || s.Mutating {
		t.Errorf("vendor quarantine = %+v", s)
	}
	for _, n := range []string{ActionAWSDeactivateKey, ActionAWSActivateKey, ActionAWSDeleteKey, ActionAWSRevokeSessions, ActionAWSRotateSecret} {
		if s := Catalog[n]; !s.Mutating || s.Enforcement != EnterpriseEnforced {
			t.Errorf("%s = %+v; want mutating, enterprise_enforced", n, s)
		}
	}
}

func TestProviderActionsInCatalog(t *testing.T) {
	for _, name := range []string{ActionAnthropicObserveKey, ActionAnthropicDisableKey, ActionAnthropicEnableKey, ActionAnthropicKeyStatus,
		ActionOpenAIObserveKey, ActionOpenAIRevokeKey, ActionOpenAIKeyStatus} {
		if _, ok := Catalog[name]; !ok {
			t.Errorf("%s missing from the catalog", name)
		}
	}
	for _, n := range []string{ActionAnthropicObserveKey, ActionOpenAIObserveKey} {
		if s := Catalog[n]; s.Enforcement != VendorEnforced || s.Mutating {
			t.Errorf("%s = %+v; want vendor_enforced, changes nothing", n, s)
		}
	}
	for _, n := range []string{ActionAnthropicDisableKey, ActionAnthropicEnableKey, ActionOpenAIRevokeKey} {
		if s := Catalog[n]; !s.Mutating || s.Enforcement != EnterpriseEnforced {
			t.Errorf("%s = %+v; want mutating, enterprise_enforced", n, s)
		}
	}
	// Nothing undoes an OpenAI revocation; the catalog must say so to whoever writes
	// a runbook or a policy.
	if d := Catalog[ActionOpenAIRevokeKey].Description; !strings.HasPrefix(d, "IRREVERSIBLE") {
		t.Errorf("openai revoke description = %q", d)
	}
}
