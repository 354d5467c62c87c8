package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/sever-ir/sever/drillcloud"
)

// awsFloorSteps is the floor of the AWS time to contain: the activities on the path
// from the signal to the verified deactivation (key_owner, deactivate_access_key,
// key_status), run by a bare workflow in sequence. Evidence steps that run in
// parallel with them are not on the path.
const awsFloorSteps = 3

// AWSContain is the time to contain a stolen AWS key with the built-in
// aws-access-key-exposed runbook under the pre-approved policy, against the drill
// cloud through the real AWS SDK: signal accepted → key verified inactive.
type AWSContain struct {
	Iterations int     `json:"iterations"`
	FloorSteps int     `json:"floor_steps"`
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
	return &seed
}

func (b *bench) awsContain(ctx context.Context) error {
	o := b.o
	r := &AWSContain{Iterations: o.awsN, FloorSteps: awsFloorSteps, Policy: b.rep.Config.Policy}
	b.rep.AWS = r
	floor := &floor{c: b.floor.c, steps: awsFloorSteps}
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

// awsOnce reports key i and returns the time from just before the POST until the
// deactivation's read-back completed, seen by long-polling the incident's history.
func (b *bench) awsOnce(ctx context.Context, i int) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	user, key := awsBenchKey(i)
	body, _ := json.Marshal(map[string]any{
		"source": "bench", "origin": "enterprise", "kind": "anomalous_usage",
		"observed_at": time.Now().UTC().Format(time.RFC3339), "severity": "critical",
		"credential": map[string]any{"provider": "aws", "type": "aws_access_key", "id": key,
			"principal": user, "account": drillcloud.DefaultAccountID},
	})
	t0 := time.Now()
	var sub submitResult
	if err := b.eng.do(ctx, http.MethodPost, "/v1/signals", body, http.StatusAccepted, &sub); err != nil {
		return 0, fmt.Errorf("aws %s: submit: %w", key, err)
	}
	it := b.eng.c.GetWorkflowHistory(ctx, sub.IncidentID, "", true, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	verify := int64(-1)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return 0, fmt.Errorf("aws %s: history: %w", sub.IncidentID, err)
		}
		switch ev.GetEventType() {
		case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			if ev.GetActivityTaskScheduledEventAttributes().GetActivityId() == "deactivate.verify" {
				verify = ev.GetEventId()
			}
		case enums.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			if ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId() == verify {
				d := time.Since(t0)
				// Outside the timed span: the read-back must have shown the key inactive.
				inc, err := b.eng.incident(ctx, sub.IncidentID)
				if err != nil {
					return 0, err
				}
				for _, st := range inc.Steps {
					if st.ID == "deactivate" && !st.Verified {
						return 0, fmt.Errorf("aws %s: deactivate not verified: %s", sub.IncidentID, st.Error)
					}
				}
				if k, _ := b.cloud.Key(key); k.Status != "Inactive" {
					return 0, fmt.Errorf("aws %s: key %s is %s", sub.IncidentID, key, k.Status)
				}
				return d, nil
			}
		case enums.EVENT_TYPE_ACTIVITY_TASK_FAILED, enums.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
			if ev.GetEventType() == enums.EVENT_TYPE_ACTIVITY_TASK_FAILED && ev.GetActivityTaskFailedEventAttributes().GetScheduledEventId() == verify {
				return 0, fmt.Errorf("aws %s: read-back failed: %s", sub.IncidentID, ev.GetActivityTaskFailedEventAttributes().GetFailure().GetMessage())
			}
		}
	}
	return 0, fmt.Errorf("aws %s: history ended before the deactivation was read back", sub.IncidentID)
}
