package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sever-ir/sever"
)

// ocsfClass is a fixture of testdata/ocsf: the required attributes of one OCSF class,
// written down from the schema release named in its source field.
type ocsfClass struct {
	Source      string              `json:"source"`
	Class       string              `json:"class"`
	ClassUID    int                 `json:"class_uid"`
	CategoryUID int                 `json:"category_uid"`
	Required    []string            `json:"required"`
	AtLeastOne  [][]string          `json:"at_least_one"`
	Enums       map[string][]int    `json:"enums"`
	Objects     map[string]ocsfRule `json:"objects"`
	Profiles    []string            `json:"profiles"`
}

type ocsfRule struct {
	Required   []string   `json:"required"`
	AtLeastOne [][]string `json:"at_least_one"`
}

func loadOCSFClasses(t *testing.T) map[int]ocsfClass {
	t.Helper()
	out := map[int]ocsfClass{}
	for _, f := range []string{"incident_finding.required.json", "remediation_activity.required.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "ocsf", f))
		if err != nil {
			t.Fatal(err)
		}
		var c ocsfClass
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[c.ClassUID] = c
	}
	return out
}

// present reports whether a JSON value counts as given: not missing, not null, and
// not an empty string.
func present(m map[string]any, key string) bool {
	v, ok := m[key]
	if !ok || v == nil {
		return false
	}
	if s, isStr := v.(string); isStr && s == "" {
		return false
	}
	return true
}

// objectsAt resolves a rule path ("metadata.product", "finding_info_list[]") to the
// objects it names; a missing optional object yields none.
func objectsAt(ev map[string]any, path string) []map[string]any {
	cur := []map[string]any{ev}
	for _, part := range strings.Split(path, ".") {
		var next []map[string]any
		name, isList := strings.CutSuffix(part, "[]")
		for _, o := range cur {
			switch v := o[name].(type) {
			case map[string]any:
				next = append(next, v)
			case []any:
				if isList {
					for _, e := range v {
						if m, ok := e.(map[string]any); ok {
							next = append(next, m)
						}
					}
				}
			}
		}
		cur = next
	}
	return cur
}

func checkAtLeastOne(t *testing.T, where string, o map[string]any, groups [][]string) {
	t.Helper()
	for _, g := range groups {
		if !slices.ContainsFunc(g, func(k string) bool { return present(o, k) }) {
			t.Errorf("%s: needs at least one of %v", where, g)
		}
	}
}

func checkOCSFEvent(t *testing.T, ev map[string]any, c ocsfClass) {
	t.Helper()
	where := c.Class
	for _, k := range c.Required {
		if !present(ev, k) {
			t.Errorf("%s: required attribute %s is missing", where, k)
		}
	}
	checkAtLeastOne(t, where, ev, c.AtLeastOne)
	num := func(k string) int {
		f, _ := ev[k].(float64)
		return int(f)
	}
	if num("class_uid") != c.ClassUID || num("category_uid") != c.CategoryUID {
		t.Errorf("%s: class_uid %d category_uid %d, want %d %d", where, num("class_uid"), num("category_uid"), c.ClassUID, c.CategoryUID)
	}
	if num("type_uid") != num("class_uid")*100+num("activity_id") {
		t.Errorf("%s: type_uid %d is not class_uid*100 + activity_id (%d)", where, num("type_uid"), num("activity_id"))
	}
	for k, allowed := range c.Enums {
		if present(ev, k) && !slices.Contains(allowed, num(k)) {
			t.Errorf("%s: %s = %d, not one of %v", where, k, num(k), allowed)
		}
	}
	// timestamp_t is milliseconds since the epoch.
	if tm, _ := ev["time"].(float64); tm < 1e12 || tm > 1e14 {
		t.Errorf("%s: time %v is not in milliseconds", where, ev["time"])
	}
	for path, rule := range c.Objects {
		for _, o := range objectsAt(ev, path) {
			for _, k := range rule.Required {
				if !present(o, k) {
					t.Errorf("%s: %s.%s is required", where, path, k)
				}
			}
			checkAtLeastOne(t, where+"."+path, o, rule.AtLeastOne)
		}
	}
	meta, _ := ev["metadata"].(map[string]any)
	for _, p := range c.Profiles {
		profiles, _ := meta["profiles"].([]any)
		if !slices.Contains(profiles, any(p)) {
			t.Errorf("%s: metadata.profiles lacks %q", where, p)
		}
	}
}

func renderOCSF(t *testing.T, r *Report) []map[string]any {
	t.Helper()
	var buf bytes.Buffer
	if err := r.OCSF(&buf); err != nil {
		t.Fatal(err)
	}
	var events []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &events); err != nil {
		t.Fatal(err)
	}
	return events
}

func TestOCSFRequiredAttributes(t *testing.T) {
	classes := loadOCSFClasses(t)
	r, err := fixtureReport()
	if err != nil {
		t.Fatal(err)
	}
	events := renderOCSF(t, r)
	if len(events) != 1+len(fixtureIncident().Steps) {
		t.Fatalf("%d events, want one incident finding and one remediation activity per step", len(events))
	}
	for i, ev := range events {
		uid, _ := ev["class_uid"].(float64)
		c, ok := classes[int(uid)]
		if !ok {
			t.Fatalf("event %d has class_uid %v", i, ev["class_uid"])
		}
		if (i == 0) != (c.ClassUID == 2005) {
			t.Errorf("event %d is class %d; the incident finding comes first, then the steps", i, c.ClassUID)
		}
		checkOCSFEvent(t, ev, c)
	}
}

// The accountability model travels in unmapped, and the OCSF classification agrees
// with it.
func TestOCSFEnforcementInUnmapped(t *testing.T) {
	r, err := fixtureReport()
	if err != nil {
		t.Fatal(err)
	}
	events := renderOCSF(t, r)
	want := map[string]struct {
		enforcement, activity, status string
	}{
		"observe-vendor": {"vendor_enforced", "Detect", "Success"},
		"capture":        {"enterprise_enforced", "Detect", "Success"},
		"disable":        {"enterprise_enforced", "Evict", "Success"},
		"notify":         {"", "sever.notify.log", "Failure"},
		"escalate":       {"", "sever.noop", "Skipped"},
	}
	for _, ev := range events[1:] {
		u := ev["unmapped"].(map[string]any)
		step := u["step_id"].(string)
		w, ok := want[step]
		if !ok {
			t.Errorf("unexpected step %q", step)
			continue
		}
		enf, has := u["enforcement"]
		if !has || enf != w.enforcement || ev["activity_name"] != w.activity || ev["status"] != w.status {
			t.Errorf("step %s: enforcement %v (present %t), activity %v, status %v; want %+v",
				step, enf, has, ev["activity_name"], ev["status"], w)
		}
		if ev["command_uid"] != r.Incident.ID+"/"+step {
			t.Errorf("step %s: command_uid %v", step, ev["command_uid"])
		}
	}
	var approvals []any
	for _, ev := range events[1:] {
		if u := ev["unmapped"].(map[string]any); u["step_id"] == "disable" {
			approvals, _ = u["approvals"].([]any)
		}
	}
	if len(approvals) != 1 || approvals[0].(map[string]any)["enforcement"] != string(sever.HumanApproved) {
		t.Errorf("disable approvals = %v", approvals)
	}
	inc := events[0]
	if inc["status"] != "Resolved" || inc["activity_name"] != "Update" {
		t.Errorf("incident finding status %v activity %v", inc["status"], inc["activity_name"])
	}
	u := inc["unmapped"].(map[string]any)
	if u["enterprise_contained"] != true || u["enforcement"].(map[string]any)["vendor_notified"] != float64(2) {
		t.Errorf("incident unmapped = %v", u)
	}
	if fi := inc["finding_info_list"].([]any); len(fi) != 3 {
		t.Errorf("finding_info_list has %d entries, want one per signal", len(fi))
	}
}

// A workflow that calls an incident contained on a vendor's action alone must not
// come out of the report as resolved.
func TestOCSFVendorOnlyIsNotResolved(t *testing.T) {
	inc := fixtureIncident()
	for i := range inc.Steps {
		if inc.Steps[i].ID == "disable" {
			inc.Steps[i].Enforcement = sever.VendorEnforced
		}
	}
	r, err := Build(inc, Options{Runbook: fixtureRunbook(), Now: fixtureNow})
	if err != nil {
		t.Fatal(err)
	}
	events := renderOCSF(t, r)
	if events[0]["status"] != "In Progress" || r.Gap.EnterpriseContained {
		t.Errorf("status %v, enterprise contained %t", events[0]["status"], r.Gap.EnterpriseContained)
	}
	checkOCSFEvent(t, events[0], loadOCSFClasses(t)[2005])
}
