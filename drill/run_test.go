package drill

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/internal/app"
)

// lineWriter sends the drill's progress to the test log, so a failing drill shows
// what happened.
type lineWriter struct {
	t   *testing.T
	buf bytes.Buffer
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line)
			break
		}
		w.t.Log(strings.TrimRight(line, "\n"))
	}
	return len(p), nil
}

// Every built-in scenario runs end to end on its own embedded stack and meets its
// objectives.
func TestBuiltinScenarios(t *testing.T) {
	all, err := Builtins()
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range all {
		t.Run(sc.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			res, err := Run(ctx, sc, Options{Progress: &lineWriter{t: t}})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			var sum bytes.Buffer
			_ = res.Summary(&sum)
			t.Log(sum.String())
			if !res.Passed {
				t.Errorf("drill %s failed", sc.Name)
			}
			if want, ok := familyScenarios[sc.Name]; ok {
				checkFamilyDrill(t, res, want)
			}
			if want, ok := faultsFired[sc.Name]; ok {
				var got []int
				for _, f := range res.Faults {
					got = append(got, f.Fired)
				}
				if !slices.Equal(got, want) {
					t.Errorf("faults fired %v times, want %v: %+v", got, want, res.Faults)
				}
			}
		})
	}
}

// familyScenarios are the built-ins of the credential families with their own
// twins (GCP, Azure, Vault), each with the vendor_enforced steps it must observe:
// Google's own disable of an exposed key is one.
var familyScenarios = map[string]int{
	"gcp-service-account-key-stolen": 1,
	"google-api-key-stolen":          0,
	"azure-app-secret-stolen":        0,
	"azure-openai-key-stolen":        0,
	"vault-token-stolen":             0,
	"gcp-key-disable-throttled":      0,
}

// faultsFired are the calls each fault of a built-in must disturb. In
// gcp-key-disable-throttled two keys.disable calls are throttled, the third is
// applied and its answer dropped, and the retry reads the key back disabled
// and calls keys.disable no more: three calls in all (the last fault's
// latency counts them), so the disable was applied exactly once.
var faultsFired = map[string][]int{
	"gcp-key-disable-throttled": {2, 1, 3},
}

// checkFamilyDrill checks what a family drill must show besides its objectives:
// every attacker was served before containment and refused after it (its refusals
// counted as denials, not errors), every incident was contained by the
// enterprise and verified, with the ledger in order, and the vendor's own
// actions were observed as vendor_enforced without containment resting on them.
func checkFamilyDrill(t *testing.T, res *Result, vendorSteps int) {
	t.Helper()
	if len(res.Attackers) == 0 {
		t.Fatal("no attacker ran")
	}
	for _, a := range res.Attackers {
		switch {
		case a.Successes == 0:
			t.Errorf("attacker %s never got through: %+v", a.Name, a)
		case a.Denials == 0:
			t.Errorf("attacker %s was never refused: %+v", a.Name, a)
		case a.SuccessesAfterContainment == nil || *a.SuccessesAfterContainment != 0:
			t.Errorf("attacker %s after verified containment: %v successes, want 0", a.Name, a.SuccessesAfterContainment)
		}
	}
	for _, ir := range res.Incidents {
		if !ir.EnterpriseContained || ir.VerifiedContainment == nil || ir.ReliedOnVendor {
			t.Errorf("incident %s: enterprise contained %v, verified at %v, relied on vendor %v", ir.ID, ir.EnterpriseContained,
				ir.VerifiedContainment, ir.ReliedOnVendor)
		}
		if ir.Ledger == nil || !ir.Ledger.Verified || ir.Ledger.Entries == 0 {
			t.Errorf("incident %s: drill ledger %+v", ir.ID, ir.Ledger)
		}
	}
	n := 0
	for _, st := range res.Metrics.VendorSteps {
		if st.Enforcement == sever.VendorEnforced && !st.Containment {
			n++
		}
	}
	if n != vendorSteps {
		t.Errorf("vendor_enforced observations = %d (%+v), want %d", n, res.Metrics.VendorSteps, vendorSteps)
	}
}

// A drill on a stack the caller started: the pre-approved policy replaces the
// scenario's, the engine is left as it was, the records are the drill ledger's, and no
// output carries the drill cloud's secret keys or the API token. Against the same
// scenario under the default policy, the comparison says containment got faster.
func TestDrillOnGivenStackAndCompare(t *testing.T) {
	sc, err := Builtin("provider-never")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var beforeLog bytes.Buffer
	before, err := Run(ctx, sc, Options{Progress: io.MultiWriter(&beforeLog, &lineWriter{t: t})})
	if err != nil {
		t.Fatal(err)
	}

	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Listen = "127.0.0.1:0"
	d, err := app.StartDev(ctx, app.DevOptions{Config: cfg, DrillCloud: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	policy, groups := d.Engine.Policy, d.Engine.ApproverGroups
	var afterLog bytes.Buffer
	after, err := Run(ctx, sc, Options{Dev: d, PolicyFile: filepath.Join("..", "runbooks", "policy", "aws-preapproved.yaml"),
		Progress: io.MultiWriter(&afterLog, &lineWriter{t: t})})
	if err != nil {
		t.Fatal(err)
	}
	if !after.Passed {
		var b bytes.Buffer
		_ = after.Summary(&b)
		t.Fatalf("pre-approved run failed:\n%s", b.String())
	}
	if d.Engine.Policy != policy || !reflect.DeepEqual(d.Engine.ApproverGroups, groups) {
		t.Error("Run left its policy or approver groups on the engine")
	}
	if after.Policy.Name != "aws-preapproved" || after.Incidents[0].Policy.Name != "aws-preapproved" {
		t.Errorf("policy = %+v, incident pinned %+v", after.Policy, after.Incidents[0].Policy)
	}
	if after.Metrics.TimeToApproval != nil || after.Responders[0].Asked != 0 {
		t.Errorf("nobody should have been asked under the pre-approved policy: %+v", after.Responders)
	}

	inc := after.Incidents[0]
	if !strings.HasPrefix(inc.ID, "drill-inc-") {
		t.Errorf("incident id %s", inc.ID)
	}
	if inc.Ledger == nil || !inc.Ledger.Verified || inc.Ledger.Entries == 0 {
		t.Errorf("drill ledger: %+v", inc.Ledger)
	}
	if entries, err := d.Ledger.Entries(ctx, inc.ID); err != nil || len(entries) != 0 {
		t.Errorf("the production ledger holds %d entries of the drill (err %v)", len(entries), err)
	}

	secrets := map[string]string{"dev token": d.DevToken}
	for _, id := range []string{drillcloud.DefaultCompromisedKeyID, drillcloud.DefaultResponderKeyID} {
		c, err := d.Cloud.Credentials(id)
		if err != nil {
			t.Fatal(err)
		}
		secrets["secret key of "+id] = c.SecretAccessKey
	}
	outputs := map[string][]byte{"progress before": beforeLog.Bytes(), "progress after": afterLog.Bytes()}
	for name, r := range map[string]*Result{"before": before, "after": after} {
		var md, h, js bytes.Buffer
		if err := r.Markdown(&md); err != nil {
			t.Fatal(err)
		}
		if err := r.HTML(&h); err != nil {
			t.Fatal(err)
		}
		if err := r.JSON(&js); err != nil {
			t.Fatal(err)
		}
		outputs[name+".md"], outputs[name+".html"], outputs[name+".json"] = md.Bytes(), h.Bytes(), js.Bytes()
	}
	dir := t.TempDir()
	files, err := WriteFiles(dir, after)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		outputs[f], _ = os.ReadFile(f)
	}
	for what, secret := range secrets {
		if len(secret) < 16 {
			t.Fatalf("%s is implausibly short", what)
		}
		for name, b := range outputs {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds the %s", name, what)
			}
		}
	}

	c := Compare(before, after)
	if c.Containment != "faster" {
		var b bytes.Buffer
		_ = c.Markdown(&b)
		t.Errorf("pre-approving containment made it %s:\n%s", c.Containment, b.String())
	}
	if m := metric(c, "time_to_approval"); m.Verdict != NA {
		t.Errorf("time_to_approval: %+v", m)
	}
}
