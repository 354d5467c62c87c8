package report

import (
	"cmp"
	"encoding/json"
	"io"
	"runtime/debug"
	"slices"
	"time"

	"github.com/sever-ir/sever"
)

// OCSFVersion is the OCSF schema release the events follow.
const OCSFVersion = "1.8.0"

// OCSF class and category ids used here.
const (
	ocsfCategoryFindings    = 2
	ocsfCategoryRemediation = 7
	ocsfClassIncident       = 2005
	ocsfClassRemediation    = 7001
)

// productVersion is sever's version as the build recorded it; tests pin it.
var productVersion = func() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}()

type ocsfProduct struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
	Version    string `json:"version"`
}

type ocsfMetadata struct {
	Product        ocsfProduct `json:"product"`
	Version        string      `json:"version"`
	Profiles       []string    `json:"profiles,omitempty"`
	UID            string      `json:"uid"`
	CorrelationUID string      `json:"correlation_uid"`
	LogName        string      `json:"log_name"`
	Labels         []string    `json:"labels,omitempty"`
}

type ocsfFindingInfo struct {
	UID           string   `json:"uid"`
	Title         string   `json:"title"`
	Desc          string   `json:"desc,omitempty"`
	CreatedTime   int64    `json:"created_time,omitempty"`
	FirstSeenTime int64    `json:"first_seen_time,omitempty"`
	LastSeenTime  int64    `json:"last_seen_time,omitempty"`
	DataSources   []string `json:"data_sources,omitempty"`
	Types         []string `json:"types,omitempty"`
}

type ocsfGroup struct {
	Name string `json:"name"`
	UID  string `json:"uid"`
	Desc string `json:"desc,omitempty"`
}

type ocsfUser struct {
	Name string `json:"name"`
}

// ocsfClassification is what every OCSF event starts with.
type ocsfClassification struct {
	ActivityID   int          `json:"activity_id"`
	ActivityName string       `json:"activity_name"`
	CategoryUID  int          `json:"category_uid"`
	CategoryName string       `json:"category_name"`
	ClassUID     int          `json:"class_uid"`
	ClassName    string       `json:"class_name"`
	TypeUID      int          `json:"type_uid"`
	TypeName     string       `json:"type_name"`
	SeverityID   int          `json:"severity_id"`
	Severity     string       `json:"severity"`
	Time         int64        `json:"time"`
	StartTime    int64        `json:"start_time,omitempty"`
	EndTime      int64        `json:"end_time,omitempty"`
	Metadata     ocsfMetadata `json:"metadata"`
	StatusID     int          `json:"status_id"`
	Status       string       `json:"status"`
	Message      string       `json:"message,omitempty"`
}

func classification(class, category, activity int, className, categoryName, activityName string) ocsfClassification {
	return ocsfClassification{
		ActivityID: activity, ActivityName: activityName, CategoryUID: category, CategoryName: categoryName,
		ClassUID: class, ClassName: className, TypeUID: class*100 + activity, TypeName: className + ": " + activityName,
	}
}

// incidentFinding is OCSF class 2005.
type incidentFinding struct {
	ocsfClassification
	FindingInfoList []ocsfFindingInfo `json:"finding_info_list"`
	Desc            string            `json:"desc,omitempty"`
	Comment         string            `json:"comment,omitempty"`
	SrcURL          string            `json:"src_url,omitempty"`
	Assignee        *ocsfUser         `json:"assignee,omitempty"`
	AssigneeGroup   ocsfGroup         `json:"assignee_group"`
	Unmapped        incidentUnmapped  `json:"unmapped"`
}

// incidentUnmapped carries what OCSF has no attribute for: the accountability model.
type incidentUnmapped struct {
	IncidentID          string           `json:"incident_id"`
	Credential          sever.Credential `json:"credential"`
	Runbook             sever.RunbookRef `json:"runbook"`
	Policy              sever.RunbookRef `json:"policy"`
	Drill               bool             `json:"drill"`
	EnterpriseContained bool             `json:"enterprise_contained"`
	ContainmentUndone   bool             `json:"containment_undone,omitempty"`
	Verdict             string           `json:"verdict"`
	Durations           Durations        `json:"durations"`
	Enforcement         map[string]int   `json:"enforcement"`
	Frameworks          *Tags            `json:"frameworks,omitempty"`
}

// remediationActivity is OCSF class 7001, one per runbook step.
type remediationActivity struct {
	ocsfClassification
	CommandUID   string              `json:"command_uid"`
	Duration     int64               `json:"duration,omitempty"`
	StatusDetail string              `json:"status_detail,omitempty"`
	Unmapped     remediationUnmapped `json:"unmapped"`
}

// remediationUnmapped carries the enforcement class and its proof for one step.
type remediationUnmapped struct {
	IncidentID  string            `json:"incident_id"`
	StepID      string            `json:"step_id"`
	Action      string            `json:"action"`
	Enforcement sever.Enforcement `json:"enforcement"`
	Verified    bool              `json:"verified"`
	Actor       string            `json:"actor"`
	PolicyRule  string            `json:"policy_rule"`
	Containment bool              `json:"containment"`
	// Compensation marks the undo of a step at a false-positive close.
	Compensation bool           `json:"compensation,omitempty"`
	StepStatus   string         `json:"step_status"`
	Evidence     []Hash         `json:"evidence"`
	Approvals    []ocsfApproval `json:"approvals,omitempty"`
	Frameworks   *Tags          `json:"frameworks,omitempty"`
}

type ocsfApproval struct {
	Enforcement sever.Enforcement `json:"enforcement"`
	Who         string            `json:"who"`
	At          time.Time         `json:"at"`
	Verified    bool              `json:"verified"`
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func msPtr(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return ms(*t)
}

// OCSF severity_id for sever's signal severities.
var ocsfSeverities = map[string]struct {
	id   int
	name string
}{
	"":         {0, "Unknown"},
	"info":     {1, "Informational"},
	"low":      {2, "Low"},
	"medium":   {3, "Medium"},
	"high":     {4, "High"},
	"critical": {5, "Critical"},
}

// OCSF writes the report as a JSON array of OCSF events: one Incident Finding (class
// 2005) for the incident, then one Remediation Activity (class 7001) per runbook step.
// Who enforced each step, which OCSF has no attribute for, is in its unmapped object.
func (r *Report) OCSF(w io.Writer) error {
	events := []any{r.incidentFinding()}
	for _, e := range r.remediations() {
		events = append(events, e)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(events)
}

func (r *Report) metadata(uid string) ocsfMetadata {
	m := ocsfMetadata{
		Product: ocsfProduct{Name: "sever", VendorName: "sever", Version: productVersion},
		Version: OCSFVersion, UID: uid, CorrelationUID: r.Incident.ID, LogName: "sever-incident-report",
	}
	if r.Incident.Drill {
		m.Labels = []string{"drill"}
	}
	return m
}

func (r *Report) severity() (int, string) {
	s := ocsfSeverities[r.Incident.Severity]
	return s.id, s.name
}

func (r *Report) incidentFinding() incidentFinding {
	inc := r.Incident
	activity, activityName := 2, "Update"
	switch {
	case inc.Status == sever.IncidentClosed:
		activity, activityName = 3, "Close"
	case len(r.Accountability) == 0 || inc.Status == sever.IncidentOpen && !anyDone(r.Accountability):
		activity, activityName = 1, "Create"
	}
	f := incidentFinding{ocsfClassification: classification(ocsfClassIncident, ocsfCategoryFindings, activity,
		"Incident Finding", "Findings", activityName)}
	f.SeverityID, f.Severity = r.severity()
	f.Time = ms(r.GeneratedAt)
	f.StartTime = ms(r.Durations.Start)
	if inc.ClosedAt != nil {
		f.EndTime = msPtr(inc.ClosedAt)
	} else if inc.EnterpriseContainedAt != nil {
		f.EndTime = msPtr(inc.EnterpriseContainedAt)
	}
	f.Metadata = r.metadata(inc.ID)
	f.Metadata.Profiles = []string{"incident"}
	switch inc.Status {
	case sever.IncidentClosed:
		f.StatusID, f.Status = 5, "Closed"
	case sever.IncidentContained:
		f.StatusID, f.Status = 4, "Resolved"
	case sever.IncidentOpen:
		f.StatusID, f.Status = 2, "In Progress"
		if activity == 1 {
			f.StatusID, f.Status = 1, "New"
		}
	default: // failed: containment did not complete and people must act
		f.StatusID, f.Status = 2, "In Progress"
	}
	// A report saying "Resolved" must mean the enterprise contained the credential.
	if f.StatusID == 4 && !r.Gap.EnterpriseContained {
		f.StatusID, f.Status = 2, "In Progress"
	}
	f.Message = r.Gap.Verdict
	f.Desc = "Compromised " + string(inc.Credential.Type) + " " + inc.Credential.ID + " (" + inc.Credential.Provider + ")"
	f.Comment = inc.Reason
	f.SrcURL = r.TemporalURL
	f.AssigneeGroup = ocsfGroup{Name: "sever runbook " + inc.Runbook.Name, UID: "runbook:" + inc.Runbook.Name,
		Desc: "the runbook that handles the incident, version " + inc.Runbook.Version}
	if who := lastApprover(r.Accountability); who != "" {
		f.Assignee = &ocsfUser{Name: who}
	}
	f.FindingInfoList = []ocsfFindingInfo{}
	for _, s := range r.Signals {
		fi := ocsfFindingInfo{UID: s.ID, Title: string(s.Origin) + " " + string(s.Kind) + " from " + s.Source,
			Desc: s.Summary, CreatedTime: ms(s.ObservedAt), FirstSeenTime: ms(s.ObservedAt), LastSeenTime: ms(s.ReceivedAt),
			DataSources: []string{s.Source}, Types: []string{string(s.Kind)}}
		f.FindingInfoList = append(f.FindingInfoList, fi)
	}
	f.Unmapped = incidentUnmapped{
		IncidentID: inc.ID, Credential: inc.Credential, Runbook: inc.Runbook, Policy: inc.Policy, Drill: inc.Drill,
		EnterpriseContained: r.Gap.EnterpriseContained, ContainmentUndone: r.Gap.ContainmentUndone, Verdict: r.Gap.Verdict, Durations: r.Durations,
		Enforcement: map[string]int{},
	}
	for _, p := range r.Accountability {
		if p.Enforcement != sever.EnforcementNone {
			f.Unmapped.Enforcement[string(p.Enforcement)]++
		}
	}
	if r.Frameworks.Available && !r.Frameworks.Incident.IsZero() {
		t := r.Frameworks.Incident
		f.Unmapped.Frameworks = &t
	}
	return f
}

func anyDone(ps []ControlPoint) bool {
	return slices.ContainsFunc(ps, func(p ControlPoint) bool { return p.Kind == PointStep && p.At != nil })
}

func lastApprover(ps []ControlPoint) string {
	who := ""
	for _, p := range ps {
		if p.Kind == PointApproval && (p.Enforcement == sever.HumanApproved || p.Enforcement == sever.HumanDenied) {
			who = p.Who
		}
	}
	return who
}

func (r *Report) remediations() []remediationActivity {
	tags := map[string]Tags{}
	for _, st := range r.Frameworks.Steps {
		tags[st.Step] = st.Tags
	}
	var out []remediationActivity
	for _, p := range r.Accountability {
		if p.Kind != PointStep {
			continue
		}
		activity, name := remediationTactic(p)
		e := remediationActivity{ocsfClassification: classification(ocsfClassRemediation, ocsfCategoryRemediation, activity,
			"Remediation Activity", "Remediation", name)}
		e.SeverityID, e.Severity = r.severity()
		e.Metadata = r.metadata(r.Incident.ID + "/" + p.Ref)
		e.CommandUID = r.Incident.ID + "/" + p.Ref
		var started *time.Time
		for _, ev := range r.Timeline {
			if ev.Kind == EventStep && ev.Ref == p.Ref {
				at := ev.At
				started = &at
			}
		}
		e.StartTime = msPtr(started)
		e.EndTime = msPtr(p.At)
		if started != nil && p.At != nil {
			e.Duration = p.At.Sub(*started).Milliseconds()
		}
		e.Time = e.EndTime
		if e.Time == 0 {
			e.Time = ms(r.GeneratedAt)
		}
		e.StatusID, e.Status = remediationStatus(p)
		e.Message = p.What
		if p.Status == string(sever.StepFailed) || p.Status == string(sever.StepSkipped) || p.Status == string(sever.StepRefused) {
			e.StatusDetail = p.Detail
		}
		e.Unmapped = remediationUnmapped{
			IncidentID: r.Incident.ID, StepID: p.Ref, Action: p.Action, Enforcement: p.Enforcement, Verified: p.Verified,
			Actor: p.Who, PolicyRule: p.PolicyRule, Containment: p.Containment, Compensation: p.Compensation, StepStatus: p.Status, Evidence: p.Evidence,
		}
		if e.Unmapped.Evidence == nil {
			e.Unmapped.Evidence = []Hash{}
		}
		for _, a := range r.Accountability {
			if a.Kind == PointApproval && a.Ref == p.Ref {
				e.Unmapped.Approvals = append(e.Unmapped.Approvals, ocsfApproval{Enforcement: a.Enforcement, Who: a.Who,
					At: *a.At, Verified: a.Verified})
			}
		}
		if t, ok := tags[p.Ref]; ok && !t.IsZero() {
			e.Unmapped.Frameworks = &t
		}
		out = append(out, e)
	}
	return out
}

// remediationTactic maps a step to the D3FEND tactic OCSF uses as activity: taking a
// credential out of use evicts the attacker; other changes harden; evidence and
// observation detect; anything else (a notice) is Other, named by its action.
func remediationTactic(p ControlPoint) (int, string) {
	mutating := sever.Catalog[p.Action].Mutating
	switch {
	case mutating && p.Containment:
		return 2, "Evict"
	case mutating:
		return 4, "Harden"
	case p.Enforcement != sever.EnforcementNone && p.Enforcement != sever.HumanDenied && p.Enforcement != sever.ApprovalExpired:
		return 5, "Detect"
	}
	return 99, cmp.Or(p.Action, "Other")
}

// remediationStatus maps a step's outcome to status_id: success needs the read-back,
// a step that ran without one showing the control in place is partial.
func remediationStatus(p ControlPoint) (int, string) {
	switch sever.StepStatus(p.Status) {
	case sever.StepSucceeded:
		if p.Verified || !p.Containment && p.Enforcement == sever.EnforcementNone {
			return 1, "Success"
		}
		return 4, "Partial"
	case sever.StepFailed:
		return 2, "Failure"
	case sever.StepRefused:
		return 99, "Refused by policy"
	case sever.StepSkipped:
		switch p.Enforcement {
		case sever.HumanDenied:
			return 99, "Denied"
		case sever.ApprovalExpired:
			return 99, "Approval expired"
		}
		return 99, "Skipped"
	case sever.StepWaitingApproval:
		return 99, "Waiting for approval"
	case sever.StepRunning:
		return 99, "Running"
	}
	return 99, "Pending"
}
