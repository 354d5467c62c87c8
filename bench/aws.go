package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/runbooks"
	"github.com/sever-ir/sever/workflows"
)

// awsFloorPlan is the floor of the AWS time to contain: the activities on the path
// from the signal to the verified deactivation (key_owner, deactivate_access_key,
// key_status), run by a bare workflow in sequence, each local where the engine runs
// it local (workflows.LocalAction). Evidence steps that run in parallel with them
// are not on the path.
func awsFloorPlan(lib *runbooks.Library) ([]bool, error) {
	rb, err := lib.Select(sever.CredAWSAccessKey, sever.KindCredentialExposed)
	if err != nil {
		return nil, fmt.Errorf("aws floor: %w", err)
	}
	var owner, deactivate *sever.RunbookStep
	for i := range rb.Steps {
		switch rb.Steps[i].Action {
		case sever.ActionAWSKeyOwner:
			owner = &rb.Steps[i]
		case sever.ActionAWSDeactivateKey:
			deactivate = &rb.Steps[i]
		}
	}
	if owner == nil || deactivate == nil || deactivate.Verify == nil {
		return nil, fmt.Errorf("aws floor: runbook %s has no key owner step or no verified deactivation", rb.Name)
	}
	return []bool{
		workflows.LocalAction(owner, !owner.Mutating),
		workflows.LocalAction(deactivate, !deactivate.Mutating),
		workflows.LocalAction(deactivate, true),
	}, nil
}

// AWSContain is the time to contain a stolen AWS key with the built-in
// aws-access-key-exposed runbook under the pre-approved policy, against the drill
// cloud through the real AWS SDK: signal accepted → key verified inactive.
type AWSContain struct {
	Iterations int     `json:"iterations"`
	FloorSteps int     `json:"floor_steps"`
	FloorLocal int     `json:"floor_local_steps"`
	Floor      Stats   `json:"floor"`
	Engine     Stats   `json:"engine"`
	RatioP50   float64 `json:"ratio_p50"`
	RatioP99   float64 `json:"ratio_p99"`
	// Applied counts UpdateAccessKey calls that changed a key: exactly one per key.
	Applied int    `json:"update_access_key_applied"`
	Policy  string `json:"policy"`
}

// awsBenchKey is the i-th compromised key the bench seeds, one per iteration, each on
// its own user, so every iteration opens a fresh incident.
func awsBenchKey(i int) (user, key string) {
	return fmt.Sprintf("bench-ci-%d", i), fmt.Sprintf("AKIABENCH%011d", i)
}

// awsBenchSeed is the default drill seed plus n compromised users.
func awsBenchSeed(n int) *drillcloud.Seed {
	seed := drillcloud.DefaultSeed()
	acct := &seed.Accounts[0]
	for i := range n {
		user, key := awsBenchKey(i)
		acct.Users = append(acct.Users, drillcloud.SeedUser{Name: user, Keys: []drillcloud.SeedKey{{ID: key}}})
	}
	addBenchSessions(&seed, n)
	return &seed
}

func (b *bench) awsContain(ctx context.Context) error {
	o := b.o
	plan, err := awsFloorPlan(b.library)
	if err != nil {
		return err
	}
	r := &AWSContain{Iterations: o.awsN, FloorSteps: len(plan), FloorLocal: localCount(plan), Policy: b.rep.Config.Policy}
	b.rep.AWS = r
	floor := &floor{c: b.floor.c, local: plan}
	b.pause(ctx)
	b.logf("aws time to contain: %d + %d, interleaved", o.awsN, o.awsN)
	var fa, ea []time.Duration
	for i := range o.awsN {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if s, err := floor.run(ctx, b.id("aws-a", i), false); err != nil {
			b.fail(err)
		} else {
			fa = append(fa, s.total)
		}
		if d, err := b.awsOnce(ctx, i); err != nil {
			b.fail(err)
		} else {
			ea = append(ea, d)
		}
	}
	r.Floor, r.Engine = summarize(fa), summarize(ea)
	r.RatioP50, r.RatioP99 = ratio(r.Engine.P50, r.Floor.P50), ratio(r.Engine.P99, r.Floor.P99)
	r.Applied = b.cloud.Applied("UpdateAccessKey")
	if r.Applied != len(ea) {
		b.fail(fmt.Errorf("aws: UpdateAccessKey applied %d times for %d contained keys", r.Applied, len(ea)))
	}
	b.logf("aws time to contain p50: floor %s, engine %s (%.2f×)", msf(r.Floor.P50), msf(r.Engine.P50), r.RatioP50)
	return nil
}

// AWSConcurrent is the time to contain with many AWS incidents running at once:
// Incidents keys reported together, each timed from just before its POST until
// its deactivation was read back.
type AWSConcurrent struct {
	Incidents int   `json:"incidents"`
	Engine    Stats `json:"engine"`
	// Sequential is the p50/p99 of the sequential phase beside it (ms; 0 if skipped).
	SequentialP50 float64 `json:"sequential_p50_ms,omitempty"`
	SequentialP99 float64 `json:"sequential_p99_ms,omitempty"`
	// Applied counts UpdateAccessKey calls that changed one of these keys.
	Applied int `json:"update_access_key_applied"`
	// CPU is this process's CPU time from the first POST until the last key was
	// read back inactive, per incident (ms): with 2 cores busy it bounds the p99.
	CPU float64 `json:"cpu_ms_per_incident"`
	// Before is how many workflow executions the server held when the phase
	// began (the earlier phases' incidents and floor workflows): the same work
	// costs more CPU on a larger database, so the figure depends on it.
	Before int64 `json:"workflows_before"`
}

// awsContainConcurrent opens -aws-conc AWS incidents at once, on keys the
// sequential phase did not use.
func (b *bench) awsContainConcurrent(ctx context.Context) error {
	o := b.o
	r := &AWSConcurrent{Incidents: o.awsConc}
	b.rep.AWSConcurrent = r
	if a := b.rep.AWS; a != nil {
		r.SequentialP50, r.SequentialP99 = a.Engine.P50, a.Engine.P99
	}
	before := b.cloud.Applied("UpdateAccessKey")
	b.pause(ctx)
	if n, err := b.eng.c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{}); err == nil {
		r.Before = n.GetCount()
	} else {
		b.logf("aws under load: count workflows: %v", err)
	}
	b.logf("aws time to contain under load: %d incidents at once", o.awsConc)
	defer b.cpuProfile("aws-concurrent")()
	cpu0 := cpuTime()
	var (
		mu sync.Mutex
		ea []time.Duration
		wg sync.WaitGroup
	)
	// Each incident's report is read and checked once every incident is contained:
	// the bench's own reads would otherwise compete with the incidents it times.
	type contained struct{ key, id string }
	var done []contained
	for i := range o.awsConc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key, body := awsBenchSignal(o.awsN + i)
			d, id, err := b.containWatch(ctx, key, body, sever.CredAWSAccessKey, "deactivate")
			if err != nil {
				b.fail(err)
				return
			}
			mu.Lock()
			ea = append(ea, d)
			done = append(done, contained{key, id})
			mu.Unlock()
		}()
	}
	wg.Wait()
	r.CPU = perOp(cpuTime()-cpu0, o.awsConc)
	r.Engine = summarize(ea)
	for _, c := range done {
		if err := b.checkIncident(ctx, c.key, c.id, b.awsCheck(c.key)); err != nil {
			b.fail(err)
		}
	}
	r.Applied = b.cloud.Applied("UpdateAccessKey") - before
	if r.Applied != len(ea) {
		b.fail(fmt.Errorf("aws under load: UpdateAccessKey applied %d times for %d contained keys", r.Applied, len(ea)))
	}
	b.logf("aws time to contain under load: p50 %s, p99 %s (sequential p50 %s; %d workflows in the database before)", msf(r.Engine.P50), msf(r.Engine.P99), msf(r.SequentialP50), r.Before)
	return nil
}

// awsOnce reports key i and returns the time from just before the POST until the
// deactivation's read-back completed.
func (b *bench) awsOnce(ctx context.Context, i int) (time.Duration, error) {
	key, body := awsBenchSignal(i)
	return b.containOnce(ctx, key, body, sever.CredAWSAccessKey, "deactivate", b.awsCheck(key))
}

// awsBenchSignal is the signal about bench key i, and the key's id.
func awsBenchSignal(i int) (key string, body []byte) {
	user, key := awsBenchKey(i)
	body, _ = json.Marshal(map[string]any{
		"source": "bench", "origin": "enterprise", "kind": "anomalous_usage",
		"observed_at": time.Now().UTC().Format(time.RFC3339), "severity": "critical",
		"credential": map[string]any{"provider": "aws", "type": "aws_access_key", "id": key,
			"principal": user, "account": drillcloud.DefaultAccountID},
	})
	return key, body
}

// awsCheck confirms that an incident deactivated key and read it back inactive.
func (b *bench) awsCheck(key string) func(*sever.Incident) error {
	return func(inc *sever.Incident) error {
		for _, st := range inc.Steps {
			if st.ID == "deactivate" && !st.Verified {
				return fmt.Errorf("deactivate not verified: %s", st.Error)
			}
		}
		if k, _ := b.cloud.Key(key); k.Status != "Inactive" {
			return fmt.Errorf("key %s is %s", key, k.Status)
		}
		return nil
	}
}

// containOnce posts body and returns the time from just before the POST until step
// stepID of the runbook that ct's incidents run had its control read back: its
// read-back (verify) completed, or, for a step without one, the step itself, seen
// by long-polling the incident's history. A read-back runs as an activity task
// (activity id stepID.verify) or as a local activity (a LocalActivity marker of the
// verify action, after the step's own activity completed), as workflows.LocalAction
// decides. check then confirms, outside the timed span, that the read-back showed
// the control in place.
func (b *bench) containOnce(ctx context.Context, what string, body []byte, ct sever.CredentialType, stepID string, check func(*sever.Incident) error) (time.Duration, error) {
	d, id, err := b.containWatch(ctx, what, body, ct, stepID)
	if err != nil {
		return 0, err
	}
	return d, b.checkIncident(ctx, what, id, check)
}

// containWatch is containOnce without the check: the time and the incident's id.
func (b *bench) containWatch(ctx context.Context, what string, body []byte, ct sever.CredentialType, stepID string) (time.Duration, string, error) {
	rb, err := b.library.Select(ct, sever.KindCredentialExposed)
	if err != nil {
		return 0, "", fmt.Errorf("%s: runbook for %s: %w", what, ct, err)
	}
	var spec *sever.RunbookStep
	for i := range rb.Steps {
		if rb.Steps[i].ID == stepID {
			spec = &rb.Steps[i]
		}
	}
	if spec == nil {
		return 0, "", fmt.Errorf("%s: runbook %s has no step %s", what, rb.Name, stepID)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	t0 := time.Now()
	var sub submitResult
	if err := b.eng.do(ctx, http.MethodPost, "/v1/signals", body, http.StatusAccepted, &sub); err != nil {
		return 0, "", fmt.Errorf("%s: submit: %w", what, err)
	}
	stepEv, verifyEv := int64(-1), int64(-1)
	stepDone := false
	var d time.Duration
	err = watch(ctx, b.eng.c, sub.IncidentID, func(ev *historypb.HistoryEvent) (bool, error) {
		switch ev.GetEventType() {
		case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			switch ev.GetActivityTaskScheduledEventAttributes().GetActivityId() {
			case stepID:
				stepEv = ev.GetEventId()
			case stepID + ".verify":
				verifyEv = ev.GetEventId()
			}
		case enums.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			switch ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId() {
			case verifyEv:
				d = time.Since(t0)
				return true, nil
			case stepEv:
				stepDone = true
				if spec.Verify == nil {
					d = time.Since(t0)
					return true, nil
				}
			}
		case enums.EVENT_TYPE_ACTIVITY_TASK_FAILED:
			if id := ev.GetActivityTaskFailedEventAttributes().GetScheduledEventId(); id == verifyEv || id == stepEv {
				return true, fmt.Errorf("%s failed: %s", stepID, ev.GetActivityTaskFailedEventAttributes().GetFailure().GetMessage())
			}
		case enums.EVENT_TYPE_MARKER_RECORDED:
			if !stepDone || spec.Verify == nil || localActivityType(ev) != spec.Verify.Action {
				return false, nil
			}
			if f := ev.GetMarkerRecordedEventAttributes().GetFailure(); f != nil {
				return true, fmt.Errorf("read-back failed: %s", f.GetMessage())
			}
			d = time.Since(t0)
			return true, nil
		}
		return false, nil
	})
	switch {
	case errors.Is(err, errHistoryEnded):
		return 0, "", fmt.Errorf("%s %s: history ended before the control was read back", what, sub.IncidentID)
	case err != nil:
		return 0, "", fmt.Errorf("%s %s: history: %w", what, sub.IncidentID, err)
	}
	return d, sub.IncidentID, nil
}

// checkIncident reads incident id and runs check on it.
func (b *bench) checkIncident(ctx context.Context, what, id string, check func(*sever.Incident) error) error {
	inc, err := b.eng.incident(ctx, id)
	if err != nil {
		return err
	}
	if err := check(inc); err != nil {
		return fmt.Errorf("%s %s: %w", what, id, err)
	}
	return nil
}

// localActivityType is the activity type a LocalActivity marker records, "" for any
// other event.
func localActivityType(ev *historypb.HistoryEvent) string {
	a := ev.GetMarkerRecordedEventAttributes()
	if a.GetMarkerName() != localActivityMarker {
		return ""
	}
	for _, p := range a.GetDetails()["data"].GetPayloads() {
		var m struct{ ActivityType string }
		if json.Unmarshal(p.GetData(), &m) == nil {
			return m.ActivityType
		}
	}
	return ""
}

// localActivityMarker is the marker name the Go SDK records a local activity under.
const localActivityMarker = "LocalActivity"

// AWSTemporaryContain is the time to contain stolen temporary credentials (an
// instance role's session) with the built-in aws-temporary-credentials-exposed
// runbook under the pre-approved policy: signal accepted → AWSRevokeOlderSessions
// on the role, read back. Reported beside the access-key figure.
type AWSTemporaryContain struct {
	Iterations int   `json:"iterations"`
	Engine     Stats `json:"engine"`
	// Applied counts PutRolePolicy calls that changed a role: one per role.
	Applied int `json:"put_role_policy_applied"`
}

// awsBenchSession is the i-th instance role and stolen session the bench seeds.
func awsBenchSession(i int) (role, instance, key string) {
	return fmt.Sprintf("bench-role-%d", i), fmt.Sprintf("i-0bench%09d", i), fmt.Sprintf("ASIABENCH%011d", i)
}

func addBenchSessions(seed *drillcloud.Seed, n int) {
	acct := &seed.Accounts[0]
	issued := time.Now().Add(-time.Hour).UTC()
	for i := range n {
		role, instance, key := awsBenchSession(i)
		acct.Roles = append(acct.Roles, drillcloud.SeedRole{Name: role, Sessions: []drillcloud.SeedSession{{
			ID: key, Name: instance, Issued: issued, Expires: issued.Add(6 * time.Hour)}}})
	}
}

func (b *bench) awsTemporaryContain(ctx context.Context) error {
	n := b.o.awsN
	r := &AWSTemporaryContain{Iterations: n}
	b.rep.AWSTemporary = r
	b.pause(ctx)
	b.logf("aws temporary credentials time to contain: %d", n)
	var ea []time.Duration
	for i := range n {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		role, instance, key := awsBenchSession(i)
		body, _ := json.Marshal(map[string]any{
			"source": "bench", "origin": "enterprise", "kind": "anomalous_usage",
			"observed_at": time.Now().UTC().Format(time.RFC3339), "severity": "critical",
			"credential": map[string]any{"provider": "aws", "type": "aws_temporary_credentials", "id": key,
				"principal": "arn:aws:sts::" + drillcloud.DefaultAccountID + ":assumed-role/" + role + "/" + instance,
				"account":   drillcloud.DefaultAccountID},
		})
		d, err := b.containOnce(ctx, key, body, sever.CredAWSTemporaryCredentials, "revoke-sessions", func(inc *sever.Incident) error {
			for _, st := range inc.Steps {
				if st.ID == "revoke-sessions" && !st.Verified {
					return fmt.Errorf("revoke-sessions not verified: %s", st.Error)
				}
			}
			if _, ok := b.cloud.RolePolicy(role, "AWSRevokeOlderSessions"); !ok {
				return fmt.Errorf("role %s has no AWSRevokeOlderSessions", role)
			}
			return nil
		})
		if err != nil {
			b.fail(err)
			continue
		}
		ea = append(ea, d)
	}
	r.Engine = summarize(ea)
	r.Applied = b.cloud.Applied("PutRolePolicy")
	if r.Applied != len(ea) {
		b.fail(fmt.Errorf("aws temporary: PutRolePolicy applied %d times for %d contained sessions", r.Applied, len(ea)))
	}
	b.logf("aws temporary credentials time to contain p50 %s, p99 %s", msf(r.Engine.P50), msf(r.Engine.P99))
	return nil
}
