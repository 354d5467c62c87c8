package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
)

// familiesRuleID is the rule the bench adds to its policy so that the containment
// of every credential family beyond AWS runs without waiting for a person, as the
// AWS containment does under aws-preapproved: the figure is the machine's part.
const familiesRuleID = "bench-families-containment-auto"

// familiesRule pre-approves the containment actions of the family runbooks. The
// shipped aws-preapproved policy keeps them behind a SOC lead (several cannot be
// undone), so the bench adds this rule, first, to its own copy of that policy
// only; the AWS rules and every other decision stay those of the file.
var familiesRule = func() string {
	var b strings.Builder
	b.WriteString("  - id: " + familiesRuleID + "\n    actions:\n")
	for _, fa := range familyActions {
		b.WriteString("      - " + fa.action + "\n")
	}
	b.WriteString("    mode: auto\n")
	return b.String()
}()

// withFamiliesRule returns policy (a policy file's YAML) with familiesRule as its
// first rule. Rules match first to last, so the added rule must come before the
// file's own approval rules for the same actions; it goes right after the
// top-level "rules:" line, which must be there exactly once.
func withFamiliesRule(policy []byte) ([]byte, error) {
	lines := bytes.SplitAfter(policy, []byte("\n"))
	at := -1
	for i, l := range lines {
		if string(bytes.TrimRight(l, " \t\r\n")) == "rules:" {
			if at >= 0 {
				return nil, errors.New("add the families rule: the policy has more than one top-level rules: line")
			}
			at = i
		}
	}
	if at < 0 {
		return nil, errors.New("add the families rule: the policy has no top-level rules: line")
	}
	var out bytes.Buffer
	for i, l := range lines {
		out.Write(l)
		if i == at {
			if !bytes.HasSuffix(l, []byte("\n")) {
				out.WriteByte('\n')
			}
			out.WriteString(familiesRule)
		}
	}
	return out.Bytes(), nil
}

// FamilyContain is the time to contain one credential family with its built-in
// runbook against the drill cloud, through the vendor's own client: signal
// accepted → the containment step's read-back completed and showed the control in
// place (the twin confirms it too, outside the timed span).
type FamilyContain struct {
	Family     sever.CredentialType `json:"family"`
	Runbook    string               `json:"runbook"`
	Step       string               `json:"step"`
	Action     string               `json:"action"`
	Iterations int                  `json:"iterations"`
	Engine     Stats                `json:"engine"`
	// Operation is the drill cloud's name of the call that contains the credential;
	// Calls counts how often it was served (retries and faults included).
	Operation string `json:"operation"`
	Calls     int    `json:"calls"`
}

// FamiliesContain is the time to contain per credential family beyond AWS,
// interleaved one incident per family at a time.
type FamiliesContain struct {
	Iterations int             `json:"iterations"`
	Policy     string          `json:"policy_rule"`
	Families   []FamilyContain `json:"families"`
}

// family is how the bench opens and checks incidents of one credential family.
type family struct {
	label    string
	ct       sever.CredentialType
	provider string
	action   string // the containment action the policy must pre-approve
	step     string // the runbook step whose read-back ends the span
	op       string // the drill cloud's name of the containment call
	calls    func() int
	// setup makes the i-th stolen credential (outside the timed span) and returns
	// its id and whether the twin shows it contained. Secret values it mints are
	// dropped: the bench never needs them and never records them.
	setup func(i int) (id string, contained func() bool, err error)
}

// families lists the credential families of the drill cloud's twins, in the order
// the report shows them.
func families(c *drillcloud.Cloud) ([]family, error) {
	gcp, az, vault := c.GCP(), c.Azure(), c.Vault()
	if gcp == nil || az == nil || vault == nil {
		return nil, fmt.Errorf("the drill cloud serves no GCP (%t), Azure (%t) or Vault (%t) twin", gcp != nil, az != nil, vault != nil)
	}
	return []family{
		{label: "GCP service-account key", ct: sever.CredGCPServiceAccountKey, provider: "gcp",
			action: sever.ActionGCPDisableKey, step: "disable", op: "iam " + drillcloud.GCPOpDisableKey,
			calls: func() int { return gcp.Calls(drillcloud.GCPOpDisableKey) },
			setup: func(int) (string, func() bool, error) {
				id, err := gcp.NewKey(gcp.WorkloadEmail())
				if err != nil {
					return "", nil, err
				}
				return gcp.KeyName(id), func() bool { ks, _ := gcp.KeyState(id); return ks.Disabled }, nil
			}},
		{label: "Google API key", ct: sever.CredGoogleAPIKey, provider: "gcp",
			action: sever.ActionGCPDeleteAPIKey, step: "delete", op: drillcloud.GCPOpDeleteAPIKey,
			calls: func() int { return gcp.Calls(drillcloud.GCPOpDeleteAPIKey) },
			setup: func(i int) (string, func() bool, error) {
				uid, _ := gcp.NewAPIKey(fmt.Sprintf("bench-gemini-%d", i))
				return gcp.APIKeyName(uid), func() bool { return gcp.APIKeyDeleted(uid) }, nil
			}},
		{label: "Azure app secret", ct: sever.CredAzureAppSecret, provider: "azure",
			action: sever.ActionAzureEntraRemovePassword, step: "remove-secret", op: "graph removePassword",
			calls: func() int { return az.Calls("remove_password") },
			setup: func(i int) (string, func() bool, error) {
				app := az.AddApp(fmt.Sprintf("bench-app-%d", i), false)
				keyID, _, err := az.AddSecret(app, "bench")
				if err != nil {
					return "", nil, err
				}
				return app + "/" + keyID, func() bool { return !az.SecretPresent(app, keyID) }, nil
			}},
		{label: "Azure OpenAI key", ct: sever.CredAzureOpenAIKey, provider: "azure",
			action: sever.ActionAzureOpenAIDisableLocalAuth, step: "disable-key-auth", op: "arm PATCH disableLocalAuth",
			calls: func() int { return az.Calls("patch_account") },
			setup: func(i int) (string, func() bool, error) {
				id, _, _ := az.AddOpenAIAccount("rg-bench", fmt.Sprintf("bench-openai-%d", i))
				return id, func() bool { return az.LocalAuthDisabled(id) }, nil
			}},
		{label: "Vault token", ct: sever.CredVaultToken, provider: "vault",
			action: sever.ActionVaultRevokeAccessor, step: "revoke", op: "vault " + drillcloud.VaultOpRevokeAccessor,
			calls: func() int { return c.Applied("vault:" + drillcloud.VaultOpRevokeAccessor) },
			setup: func(i int) (string, func() bool, error) {
				acc := benchVaultAccessor(i)
				vault.AddToken(drillcloud.TokenSpec{Accessor: acc, DisplayName: "bench-deployer", Policies: []string{"deploy"}})
				return acc, func() bool { return !vault.TokenLive(acc) }, nil
			}},
	}, nil
}

// benchVaultAccessor is the accessor of the i-th stolen Vault token, shaped like
// the drill's default one (letters and digits, 25 characters).
func benchVaultAccessor(i int) string { return fmt.Sprintf("benchVaultAccessor%07d", i) }

// familiesContain opens -families incidents per credential family, one family
// after the other within each iteration so that drift (the SQLite file grows)
// hits every family alike, and reports each family's time to contain.
func (b *bench) familiesContain(ctx context.Context) error {
	n := b.o.families
	fams, err := families(b.cloud)
	if err != nil {
		return fmt.Errorf("families: %w", err)
	}
	r := &FamiliesContain{Iterations: n, Policy: b.familiesPolicy}
	b.rep.Families = r
	samples := make([][]time.Duration, len(fams))
	b.pause(ctx)
	b.logf("time to contain per credential family: %d × %d families, interleaved", n, len(fams))
	for i := range n {
		for fi, f := range fams {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			d, err := b.familyOnce(ctx, f, i)
			if err != nil {
				b.fail(err)
				continue
			}
			samples[fi] = append(samples[fi], d)
		}
	}
	for fi, f := range fams {
		fc := FamilyContain{Family: f.ct, Step: f.step, Action: f.action, Iterations: n,
			Engine: summarize(samples[fi]), Operation: f.op, Calls: f.calls()}
		if rb, err := b.library.Select(f.ct, sever.KindCredentialExposed); err == nil {
			fc.Runbook = rb.Name
		}
		r.Families = append(r.Families, fc)
		b.logf("%s time to contain p50 %s, p99 %s", f.label, msf(fc.Engine.P50), msf(fc.Engine.P99))
	}
	return nil
}

// familyOnce makes the i-th stolen credential of family f, reports it and returns
// the time from just before the POST until the containment step's read-back
// completed; it then checks that the step was verified and that the twin shows
// the credential contained.
func (b *bench) familyOnce(ctx context.Context, f family, i int) (time.Duration, error) {
	id, contained, err := f.setup(i)
	if err != nil {
		return 0, fmt.Errorf("%s %d: set up the stolen credential: %w", f.ct, i, err)
	}
	body, _ := json.Marshal(map[string]any{
		"source": "bench", "origin": "enterprise", "kind": "credential_exposed",
		"observed_at": time.Now().UTC().Format(time.RFC3339), "severity": "critical",
		"credential": map[string]any{"provider": f.provider, "type": f.ct, "id": id},
	})
	return b.containOnce(ctx, string(f.ct)+" "+id, body, f.ct, f.step, func(inc *sever.Incident) error {
		for _, st := range inc.Steps {
			if st.ID == f.step && !st.Verified {
				return fmt.Errorf("%s not verified: %s", f.step, st.Error)
			}
		}
		if !contained() {
			return fmt.Errorf("the drill cloud does not show the %s contained", f.ct)
		}
		return nil
	})
}

// familyActions pairs each family with its containment action, as the family
// runbooks and familiesRule name them.
var familyActions = []struct {
	ct     sever.CredentialType
	action string
}{
	{sever.CredGCPServiceAccountKey, sever.ActionGCPDisableKey},
	{sever.CredGoogleAPIKey, sever.ActionGCPDeleteAPIKey},
	{sever.CredAzureAppSecret, sever.ActionAzureEntraRemovePassword},
	{sever.CredAzureOpenAIKey, sever.ActionAzureOpenAIDisableLocalAuth},
	{sever.CredVaultToken, sever.ActionVaultRevokeAccessor},
}

// writeFamiliesPolicy writes the bench's policy, aws-preapproved with
// familiesRule first, into dir and returns its path.
func writeFamiliesPolicy(dir string) (string, error) {
	src, err := os.ReadFile(awsPolicy)
	if err != nil {
		return "", fmt.Errorf("read policy %s: %w", awsPolicy, err)
	}
	out, err := withFamiliesRule(src)
	if err != nil {
		return "", fmt.Errorf("policy %s: %w", awsPolicy, err)
	}
	path := filepath.Join(dir, "policy-families.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		return "", fmt.Errorf("write the bench policy: %w", err)
	}
	return path, nil
}

// checkFamiliesPolicy confirms that the running policy contains every family
// without a person, under familiesRule, and returns "policy/rule".
func checkFamiliesPolicy(p *sever.Policy) (string, error) {
	for _, fa := range familyActions {
		if d := p.Decide(fa.action, fa.ct, false); d.Mode != sever.ModeAuto || d.Rule != familiesRuleID {
			return "", fmt.Errorf("policy %s decides %s for %s on %s (rule %s); the bench needs auto under %s",
				p.Name, d.Mode, fa.action, fa.ct, d.Rule, familiesRuleID)
		}
	}
	return p.Name + "/" + familiesRuleID, nil
}
