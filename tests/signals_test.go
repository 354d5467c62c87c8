package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/tokenstore"
)

// A native signal about an enrolled token opens an incident that runs the built-in
// generic-token runbook to containment, and every step says who enforced what.
func TestSignalToContainment(t *testing.T) {
	s := startStack(t, newConfig(t))
	c := tokenCred("acme-internal", "svc-deploy-e2e-1")
	s.enrol(t, c.id)

	before := time.Now().UTC()
	sub := s.api.submit(t, nativeSignal(c, "evt-contain-1"))
	if sub.IncidentID != c.incidentID() || !strings.HasPrefix(sub.SignalID, "sig-") ||
		sub.Duplicate || sub.Status != "recorded" {
		t.Fatalf("submit answered %+v; want incident %s, a sig- id, duplicate false, status recorded", sub, c.incidentID())
	}

	inc := s.api.waitIncident(t, sub.IncidentID, "containment", func(inc incidentJSON) bool {
		return inc.Status != "open"
	})
	if inc.Status != "contained" {
		t.Fatalf("incident ended %s (%s), want contained; steps %s", inc.Status, inc.Reason, stepStates(inc))
	}
	after := time.Now().UTC()

	t.Run("wire", func(t *testing.T) {
		_, raw := s.api.mustIncident(t, sub.IncidentID)
		requireKeys(t, "incident", raw, "id", "status", "credential", "runbook", "signals", "steps")
		var parts struct {
			Runbook json.RawMessage   `json:"runbook"`
			Steps   []json.RawMessage `json:"steps"`
			Signals []json.RawMessage `json:"signals"`
		}
		if err := json.Unmarshal(raw, &parts); err != nil {
			t.Fatal(err)
		}
		requireKeys(t, "runbook", parts.Runbook, "name", "version", "sha256")
		for i, st := range parts.Steps {
			requireKeys(t, fmt.Sprintf("steps[%d]", i), st, "id", "action", "status", "enforcement",
				"verified", "actor", "policy_rule", "started_at", "ended_at", "error")
		}
		if len(parts.Signals) != 1 {
			t.Fatalf("signals = %d, want 1", len(parts.Signals))
		}
		if strings.Contains(string(raw), s.DevToken) {
			t.Error("the incident JSON contains the API token")
		}
	})

	t.Run("incident", func(t *testing.T) {
		if inc.ID != sub.IncidentID {
			t.Errorf("id = %q, want %q", inc.ID, sub.IncidentID)
		}
		if inc.Credential != (credentialJSON{Provider: c.provider, Type: c.typ, ID: c.id, Principal: "svc-e2e"}) {
			t.Errorf("credential = %+v", inc.Credential)
		}
		if inc.Runbook.Name != "generic-token-exposed" || inc.Runbook.Version != "1.0.0" || len(inc.Runbook.SHA256) != 64 {
			t.Errorf("runbook = %+v, want generic-token-exposed 1.0.0 with a SHA-256", inc.Runbook)
		}
		if len(inc.Signals) != 1 || inc.Duplicates != 0 {
			t.Fatalf("%d signal(s), %d duplicate(s); want 1 and 0", len(inc.Signals), inc.Duplicates)
		}
		sig := inc.Signals[0]
		if sig.ID != sub.SignalID || sig.SourceEventID != "evt-contain-1" || sig.Source != "e2e-siem" ||
			sig.Origin != "enterprise" || sig.Kind != "credential_exposed" || sig.Reporter != "dev" {
			t.Errorf("recorded signal = %+v", sig)
		}
	})

	t.Run("steps", func(t *testing.T) {
		type want struct {
			id, action, enforcement, rule string
			verified                      bool
		}
		wants := []want{
			// The issuer did nothing on its own: observed, nothing enforced, nothing verified.
			{"observe-vendor", "tokenstore.observe_vendor_state", "", "evidence-auto", false},
			{"capture", "sever.evidence.capture_signals", "enterprise_enforced", "evidence-auto", true},
			{"disable", "tokenstore.disable_token", "enterprise_enforced", "token-disable-auto", true},
			{"notify", "sever.notify.log", "", "evidence-auto", false},
		}
		if len(inc.Steps) != len(wants) {
			t.Fatalf("steps %v, want %d", inc.stepIDs(), len(wants))
		}
		for i, w := range wants {
			st := inc.Steps[i]
			if st.ID != w.id || st.Action != w.action {
				t.Errorf("steps[%d] = %s %s, want %s %s", i, st.ID, st.Action, w.id, w.action)
				continue
			}
			if st.Status != "succeeded" || st.Enforcement != w.enforcement || st.Verified != w.verified ||
				st.Actor != "sever" || st.PolicyRule != w.rule || st.Error != "" {
				t.Errorf("step %s: status %q enforcement %q verified %v actor %q policy_rule %q error %q;\n"+
					"want succeeded %q %v sever %q no error", st.ID, st.Status, st.Enforcement, st.Verified,
					st.Actor, st.PolicyRule, st.Error, w.enforcement, w.verified, w.rule)
			}
			switch {
			case st.StartedAt == nil || st.EndedAt == nil:
				t.Errorf("step %s: started_at %v ended_at %v, want both", st.ID, st.StartedAt, st.EndedAt)
			case st.EndedAt.Before(*st.StartedAt):
				t.Errorf("step %s ended (%v) before it started (%v)", st.ID, st.EndedAt, st.StartedAt)
			case st.StartedAt.Before(before.Add(-time.Second)) || st.EndedAt.After(after.Add(time.Second)):
				t.Errorf("step %s ran %v..%v, outside the test's %v..%v", st.ID, st.StartedAt, st.EndedAt, before, after)
			}
		}
		// Dependencies: disable needs capture, notify needs disable.
		capture, disable, notify := inc.step("capture"), inc.step("disable"), inc.step("notify")
		if capture.EndedAt != nil && disable.StartedAt != nil && disable.StartedAt.Before(*capture.EndedAt) {
			t.Errorf("disable started %v before capture ended %v", disable.StartedAt, capture.EndedAt)
		}
		if disable.EndedAt != nil && notify.StartedAt != nil && notify.StartedAt.Before(*disable.EndedAt) {
			t.Errorf("notify started %v before disable ended %v", notify.StartedAt, disable.EndedAt)
		}
	})

	t.Run("token store", func(t *testing.T) {
		tok, err := s.Tokens.Get(c.id)
		if err != nil {
			t.Fatal(err)
		}
		if tok.Status != tokenstore.Inactive || tok.UpdatedBy != "sever" {
			t.Errorf("token %s: status %q updated by %q, want inactive by sever", c.id, tok.Status, tok.UpdatedBy)
		}
		if len(tok.Changes) != 1 {
			t.Errorf("token %s has %d change(s), want exactly 1: %+v", c.id, len(tok.Changes), tok.Changes)
		}
	})

	t.Run("listing", func(t *testing.T) {
		// The listing comes from Temporal's visibility store, which trails the
		// workflow by a moment.
		var got summaryJSON
		waitFor(t, "the listing to show the incident contained", func() error {
			l := s.api.list(t, "")
			for _, sum := range l {
				if sum.ID == sub.IncidentID {
					got = sum
					if sum.Status == "contained" {
						return nil
					}
				}
			}
			return fmt.Errorf("listing: %+v", l)
		})
		if len(s.api.list(t, "")) != 1 {
			t.Errorf("listing has more than the one incident")
		}
		if got.Credential.ID != c.id || got.Runbook != "generic-token-exposed" || !got.Running {
			t.Errorf("listing entry = %+v", got)
		}
		if l := s.api.list(t, "?status=contained"); len(l) != 1 || l[0].ID != sub.IncidentID {
			t.Errorf("?status=contained lists %+v", l)
		}
		if l := s.api.list(t, "?status=closed"); len(l) != 0 {
			t.Errorf("?status=closed lists %+v, want none", l)
		}
	})
}

// Duplicate deliveries of one source event are recorded once; other events about the
// same credential join its incident; a storm about a few credentials opens exactly
// one incident each and accounts for every accepted signal.
func TestDedup(t *testing.T) {
	s := startStack(t, newConfig(t))

	t.Run("same event twice", func(t *testing.T) {
		c := tokenCred("acme-internal", "svc-dedup-1")
		s.enrol(t, c.id)
		first := s.api.submit(t, nativeSignal(c, "evt-dedup-1"))
		if first.Duplicate || first.Status != "recorded" || first.IncidentID != c.incidentID() {
			t.Fatalf("first submit = %+v, want recorded in %s", first, c.incidentID())
		}
		again := s.api.submit(t, nativeSignal(c, "evt-dedup-1"))
		if !again.Duplicate || again.Status != "duplicate" || again.IncidentID != first.IncidentID || again.SignalID != first.SignalID {
			t.Errorf("resent event = %+v, want duplicate true / status duplicate, incident %s, signal %s",
				again, first.IncidentID, first.SignalID)
		}
		other := s.api.submit(t, nativeSignal(c, "evt-dedup-2"))
		if other.Duplicate || other.Status != "recorded" || other.IncidentID != first.IncidentID || other.SignalID == first.SignalID {
			t.Errorf("second event = %+v, want recorded in %s under a new signal id", other, first.IncidentID)
		}
		inc := s.api.waitIncident(t, first.IncidentID, "the runbook to end", func(inc incidentJSON) bool {
			return inc.Status != "open"
		})
		if inc.Status != "contained" {
			t.Errorf("status %s (%s), want contained", inc.Status, inc.Reason)
		}
		if len(inc.Signals) != 2 || inc.Duplicates != 1 {
			t.Fatalf("%d signal(s), %d duplicate(s); want 2 and 1", len(inc.Signals), inc.Duplicates)
		}
		if inc.Signals[0].ID != first.SignalID || inc.Signals[0].Duplicates != 1 ||
			inc.Signals[1].ID != other.SignalID || inc.Signals[1].Duplicates != 0 {
			t.Errorf("signals = %+v", inc.Signals)
		}
	})

	t.Run("storm", func(t *testing.T) {
		const (
			creds   = 5
			perCred = 40
			events  = 10 // distinct source events per credential, each sent perCred/events times
		)
		var cs []cred
		for i := range creds {
			c := tokenCred("acme-storm", fmt.Sprintf("svc-storm-%d", i))
			s.enrol(t, c.id)
			cs = append(cs, c)
		}
		type answer struct {
			cred, event int
			res         submitJSON
			retries     int
			took        time.Duration
			err         error
		}
		answers := make(chan answer, creds*perCred)
		var wg sync.WaitGroup
		start := time.Now()
		for i, c := range cs {
			for j := range perCred {
				wg.Go(func() {
					a := answer{cred: i, event: j % events}
					t0 := time.Now()
					deadline := t0.Add(time.Minute)
					body := jsonBytes(nativeSignal(c, fmt.Sprintf("storm-%d-evt-%d", i, a.event)))
					for {
						resp, err := s.api.send(req{method: http.MethodPost, path: "/v1/signals", body: body})
						switch {
						case err != nil:
							a.err = err
						case resp.status == http.StatusServiceUnavailable && a.retries < 5 && time.Now().Before(deadline):
							// The API asks for a retry after Retry-After seconds; a client
							// waits that long, within its own deadline.
							a.retries++
							wait, err := strconv.Atoi(resp.header.Get("Retry-After"))
							if err != nil || wait < 1 {
								wait = 1
							}
							time.Sleep(time.Duration(wait) * time.Second)
							continue
						case resp.status != http.StatusAccepted:
							a.err = fmt.Errorf("status %d: %s", resp.status, resp.body)
						default:
							a.err = json.Unmarshal(resp.body, &a.res)
						}
						break
					}
					a.took = time.Since(t0)
					answers <- a
				})
			}
		}
		wg.Wait()
		close(answers)
		t.Logf("%d signals submitted in %v", creds*perCred, time.Since(start).Round(time.Millisecond))

		type key struct{ cred, event int }
		signalIDs := map[key]string{}
		recorded := map[key]int{}
		statuses := map[string]int{}
		retries, slowest := 0, time.Duration(0)
		for a := range answers {
			retries += a.retries
			slowest = max(slowest, a.took)
			if a.err != nil {
				t.Errorf("signal about %s, event %d: %v", cs[a.cred].id, a.event, a.err)
				continue
			}
			statuses[a.res.Status]++
			k := key{a.cred, a.event}
			if want := cs[a.cred].incidentID(); a.res.IncidentID != want {
				t.Errorf("signal about %s went to incident %s, want %s", cs[a.cred].id, a.res.IncidentID, want)
			}
			if prev, ok := signalIDs[k]; ok && prev != a.res.SignalID {
				t.Errorf("event %v got signal ids %s and %s", k, prev, a.res.SignalID)
			}
			signalIDs[k] = a.res.SignalID
			if a.res.Status == "recorded" {
				recorded[k]++
			}
			if a.res.Duplicate != (a.res.Status == "duplicate") {
				t.Errorf("answer %+v: duplicate and status disagree", a.res)
			}
		}
		// "queued" is a valid answer: accepted, but the status query did not answer in
		// time. Under a storm on one incident most do not, since Temporal buffers only
		// one consistent query per workflow while a workflow task is pending
		// (history.MaxBufferedQueryCount) and the rest wait and time out.
		t.Logf("answers by status: %v; 503 retries: %d; slowest answer %v", statuses, retries, slowest.Round(time.Millisecond))
		if retries > 0 {
			// Allowed (the API said to retry, and a retried event is deduplicated), but
			// worth seeing.
			t.Logf("NOTE: the API answered 503 %d time(s) during a %d-signal storm", retries, creds*perCred)
		}
		for k, n := range recorded {
			if n > 1 {
				t.Errorf("event %v was answered recorded %d times, want once", k, n)
			}
		}
		if statuses["queued"] == 0 && statuses["recorded"] != creds*events {
			t.Errorf("%d answers recorded, want %d (one per distinct event)", statuses["recorded"], creds*events)
		}
		if t.Failed() {
			t.FailNow()
		}

		for _, c := range cs {
			inc := s.api.waitIncident(t, c.incidentID(), "storm signals recorded in "+c.id, func(inc incidentJSON) bool {
				return len(inc.Signals) == events && inc.Duplicates == perCred-events && inc.Status != "open"
			})
			if inc.Status != "contained" {
				t.Errorf("%s: status %s (%s), want contained", inc.ID, inc.Status, inc.Reason)
			}
			seen := map[string]bool{}
			total := 0
			for _, sig := range inc.Signals {
				if seen[sig.SourceEventID] {
					t.Errorf("%s: event %s recorded twice", inc.ID, sig.SourceEventID)
				}
				seen[sig.SourceEventID] = true
				total += 1 + sig.Duplicates
			}
			if total != perCred {
				t.Errorf("%s: signals plus their duplicates = %d, want %d", inc.ID, total, perCred)
			}
		}
		waitFor(t, "the listing to show exactly the storm's incidents", func() error {
			var storm []string
			for _, sum := range s.api.list(t, "?limit=1000") {
				if sum.Credential.Provider == "acme-storm" {
					storm = append(storm, sum.ID)
				}
			}
			if len(storm) != creds {
				return fmt.Errorf("listing has %d storm incident(s), want %d: %v", len(storm), creds, storm)
			}
			return nil
		})
	})
}

// Incident squatting (issue 11 item 4): the credential's type is part of the
// incident's identity, so a generic_token signal about an AWS key cannot pin the
// generic runbook on the incident where AWS containment must run, in either order.
func TestNoIncidentSquatting(t *testing.T) {
	s := startAWSStack(t)
	signal := func(typ, key, event string) map[string]any {
		sig := awsSignal(event)
		sig["credential"].(map[string]any)["type"] = typ
		sig["credential"].(map[string]any)["id"] = key
		return sig
	}
	// Each order has a key of its own: a signal about the first order's key could
	// otherwise join that incident while its close is still under way, and the
	// second order would test nothing new.
	for n, order := range [][]string{{"generic_token", "aws_access_key"}, {"aws_access_key", "generic_token"}} {
		key := drillcloud.DefaultCompromisedKeyID
		if n > 0 {
			key = fmt.Sprintf("AKIASQUATTINGTEST%03d", n)
		}
		t.Run(strings.Join(order, "_then_"), func(t *testing.T) {
			ids := map[string]string{}
			for i, typ := range order {
				sub := s.api.submit(t, signal(typ, key, fmt.Sprintf("squat-%s-%d", order[0], i)))
				ids[typ] = sub.IncidentID
			}
			if ids["generic_token"] == ids["aws_access_key"] {
				t.Fatalf("both signals about %s landed in incident %s", key, ids["aws_access_key"])
			}
			want := map[string]string{"aws_access_key": "aws-access-key-exposed", "generic_token": "generic-token-exposed"}
			for typ, id := range ids {
				inc := s.api.waitIncident(t, id, "runbook pinned", func(i incidentJSON) bool { return i.Runbook.Name != "" })
				if inc.Runbook.Name != want[typ] || inc.Credential.Type != typ {
					t.Errorf("%s signal: incident %s runs %s for a %s credential; want %s", typ, id, inc.Runbook.Name, inc.Credential.Type, want[typ])
				}
			}
			// Close both, so the next order opens fresh incidents. An incident whose
			// run already ended answers 404 and needs nothing.
			for _, id := range ids {
				resp := s.api.mustSend(t, req{method: http.MethodPost, path: "/v1/incidents/" + id + "/close",
					body: mustJSON(t, map[string]any{"reason": "squatting test done"})})
				if resp.status != http.StatusOK && resp.status != http.StatusNotFound {
					t.Errorf("close %s: %d %s", id, resp.status, resp.body)
				}
			}
		})
	}
}
