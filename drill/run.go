package drill

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/runbooks"
)

// Options configure Run.
type Options struct {
	// Progress receives the drill's live progress, one line per event; nil discards it.
	Progress io.Writer
	// Dev runs the drill on a running stack instead of starting one. It must run the
	// drill cloud and an in-process worker, use the dev token, and have no incident
	// open for the scenario's credentials. Run sets its engine's policy and approver
	// groups for the drill and restores them afterwards.
	Dev *app.Dev
	// PolicyFile replaces the scenario's policy (sever drill run --policy).
	PolicyFile string
	// RunbooksDir overrides or extends the built-in runbooks, as runbooks.dir does.
	RunbooksDir string
	// DataDir holds the state of the stack Run starts; "" is a temporary directory
	// removed afterwards.
	DataDir string
	// Logger receives the started stack's log; nil discards it.
	Logger *slog.Logger
	// Approvers says who decides the drill's approval requests: ApproversSimulated
	// (the scenario's responders; the default) or ApproversSlack (the people of
	// the approver groups, in the Slack channel, every request marked DRILL; each
	// person's time to decide is measured and a no-show is approval_expired).
	Approvers string
	// Slack and ApproverGroups are the Slack app and approver groups of the stack
	// Run starts for ApproversSlack (the config file's slack: and
	// approvers.groups). A Dev stack has its own.
	Slack          *config.SlackConfig
	ApproverGroups map[string][]string
}

// Who decides a drill's approval requests.
const (
	ApproversSimulated = "simulated"
	ApproversSlack     = "slack"
)

// ApproverPrefix marks simulated approvers in every record of the drill.
const ApproverPrefix = "simulated:"

// pollEvery paces reading incidents: fine enough to time approvals to a tenth of a
// second, light enough for two cores.
const pollEvery = 100 * time.Millisecond

// accountWait bounds the wait for every delivered signal to show up in its incident.
const accountWait = 10 * time.Second

// Run plays a scenario against the real workflows and activities on an embedded
// stack (or o.Dev) with the drill cloud, and measures it. Every signal is marked as
// a drill, so incidents are drill-inc-… and write to the drill ledger. The error is
// for a drill that could not run; a drill that ran and missed its objectives is a
// Result with Passed false.
func Run(ctx context.Context, sc Scenario, o Options) (_ *Result, err error) {
	sc = sc.withDefaults()
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	pol, note, err := loadPolicy(sc, o)
	if err != nil {
		return nil, err
	}
	if err := checkApprovers(o, pol); err != nil {
		return nil, fmt.Errorf("drill %s: %w", sc.Name, err)
	}
	out := &progress{w: o.Progress}
	if out.w == nil {
		out.w = io.Discard
	}
	d := o.Dev
	if d == nil {
		out.printf("▶ starting an embedded stack for drill %s (Temporal, worker, API, drill cloud)\n", sc.Name)
		var stop func()
		if d, stop, err = startStack(ctx, sc, o); err != nil {
			return nil, err
		}
		defer stop()
	}
	switch {
	case d.Cloud == nil:
		return nil, errors.New("drill: the stack runs no drill cloud (start it with DrillCloud)")
	case d.DevToken == "":
		return nil, errors.New("drill: the stack has no dev token; drills submit signals with it")
	case d.Engine == nil:
		return nil, errors.New("drill: the stack has no engine")
	}
	r := newRunner(sc, o, d, pol, note, out)
	defer r.configureEngine()()
	if err := r.precheck(ctx); err != nil {
		return nil, err
	}
	return r.run(ctx)
}

// loadPolicy reads the scenario's policy (or o.PolicyFile) and shortens its
// approval deadlines when the scenario asks.
func loadPolicy(sc Scenario, o Options) (*sever.Policy, string, error) {
	var pol *sever.Policy
	var err error
	switch {
	case o.PolicyFile != "":
		pol, err = runbooks.LoadPolicy(o.PolicyFile, sever.Catalog)
	case sc.Policy == "default":
		pol, err = runbooks.DefaultPolicy(sever.Catalog)
	default:
		pol, err = runbooks.LoadPolicy(resolve(sc.File, sc.Policy), sever.Catalog)
	}
	if err != nil {
		return nil, "", fmt.Errorf("drill %s: policy: %w", sc.Name, err)
	}
	if sc.ApprovalDeadline == 0 {
		return pol, "", nil
	}
	return withDeadline(pol, sc.ApprovalDeadline)
}

// withDeadline returns a copy of pol whose approval rules all have deadline d. The
// copy is renamed in its version and hash, so no record mistakes it for the policy
// file: incidents pin the policy they ran under.
func withDeadline(pol *sever.Policy, d time.Duration) (*sever.Policy, string, error) {
	p := *pol
	p.Rules = slices.Clone(pol.Rules)
	n := 0
	for i := range p.Rules {
		if p.Rules[i].Mode == sever.ModeApproval {
			p.Rules[i].Deadline = sever.Duration(d)
			n++
		}
	}
	if n == 0 {
		return nil, "", fmt.Errorf("approval_deadline: policy %s has no approval rule to shorten", pol.Name)
	}
	p.Version = pol.Version + "+drill-deadline-" + d.String()
	p.Source = pol.Source + fmt.Sprintf("\n# sever drill: every approval deadline set to %s for this drill\n", d)
	p.SHA256 = sever.SHA256Hex([]byte(p.Source))
	note := fmt.Sprintf("approval deadlines of %s (%d rules) shortened to %s for this drill; an unanswered request is escalated once, so it expires after %s",
		pol.Name, n, d, 2*d)
	return &p, note, nil
}

// checkApprovers refuses a people drill that could not reach anyone: no Slack app,
// or a policy group without members.
func checkApprovers(o Options, pol *sever.Policy) error {
	switch o.Approvers {
	case "", ApproversSimulated:
		return nil
	case ApproversSlack:
	default:
		return fmt.Errorf("approvers %q: want %s or %s", o.Approvers, ApproversSimulated, ApproversSlack)
	}
	if o.Dev != nil {
		return nil
	}
	if o.Slack == nil || o.Slack.BotToken == "" || o.Slack.Channel == "" {
		return errors.New("approvers slack: the config names no Slack app (slack.bot_token and slack.channel)")
	}
	var empty []string
	for _, g := range policyGroups(pol) {
		if len(o.ApproverGroups[g]) == 0 {
			empty = append(empty, g)
		}
	}
	if len(empty) > 0 {
		return fmt.Errorf("approvers slack: policy %s asks groups with no people in approvers.groups: %s", pol.Name, strings.Join(empty, ", "))
	}
	return nil
}

// resolve makes a path from a scenario file relative to that file's directory.
func resolve(scenarioFile, p string) string {
	if p == "" || filepath.IsAbs(p) || scenarioFile == "" || strings.HasPrefix(scenarioFile, "builtin:") {
		return p
	}
	return filepath.Join(filepath.Dir(scenarioFile), p)
}

// startStack starts an embedded stack on a fresh data dir: nothing a drill does can
// meet production records, and every incident starts from scratch.
func startStack(ctx context.Context, sc Scenario, o Options) (*app.Dev, func(), error) {
	dir, remove := o.DataDir, false
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "sever-drill-"); err != nil {
			return nil, nil, fmt.Errorf("drill: data dir: %w", err)
		}
		remove = true
	}
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Temporal.UIPort = 0
	cfg.Runbooks.Dir = o.RunbooksDir
	// Long enough for late signals to join their incident, short enough that
	// nothing outlives the drill's stack by much.
	cfg.Incidents.Hold = sc.Timeout + time.Minute
	if o.Approvers == ApproversSlack {
		cfg.Slack = *o.Slack
		cfg.Approvers.Groups = maps.Clone(o.ApproverGroups)
	}
	d, err := app.StartDev(ctx, app.DevOptions{Config: cfg, FrontendPort: 0, UI: false, Logger: o.Logger,
		DrillCloud: true, DrillSeed: resolve(sc.File, sc.CloudSeed)})
	if err != nil {
		if remove {
			os.RemoveAll(dir)
		}
		return nil, nil, fmt.Errorf("drill: start the embedded stack: %w", err)
	}
	return d, func() {
		if err := d.Stop(); err != nil && o.Logger != nil {
			o.Logger.Warn("drill: stop the embedded stack", "err", err)
		}
		if remove {
			os.RemoveAll(dir)
		}
	}, nil
}

// runner is one drill in progress.
type runner struct {
	sc     Scenario
	o      Options
	d      *app.Dev
	pol    *sever.Policy
	note   string
	api    *apiClient
	out    *progress
	rng    *rand.Rand
	creds  map[string]Credential
	groups map[string][]string // the approver groups the drill's incidents get
	t0     time.Time

	mu          sync.Mutex
	incidents   map[string]*sever.Incident // latest read, by id
	order       []string                   // incident ids as they appeared
	credOf      map[string]string          // incident id → credential name
	ended       map[string]chan struct{}   // credential name → closed when its incident is no longer open
	deliveries  map[string]map[string]int  // incident id → signal id → deliveries accepted
	firstSent   map[string]time.Time       // credential name → first accepted delivery
	lastSent    time.Time
	attackers   []*attackerRun
	signals     []SignalResult
	faults      []FaultResult
	fired       []func() int // per fault: the calls it disturbed so far
	responders  []ResponderResult
	problems    []string
	stepSeen    map[string]sever.StepStatus
	statusSeen  map[string]sever.IncidentStatus
	asked       map[string]bool
	readErrs    map[string]bool
	decisionsWG sync.WaitGroup
	// slack: people decide in Slack; askedAt is when each request (incident/step)
	// was first seen waiting for them.
	slack   bool
	askedAt map[string]time.Time
}

type attackerRun struct {
	spec Attacker
	cred Credential
	a    *drillcloud.Attacker
}

func newRunner(sc Scenario, o Options, d *app.Dev, pol *sever.Policy, note string, out *progress) *runner {
	r := &runner{sc: sc, o: o, d: d, pol: pol, note: note, out: out,
		api: newAPIClient(d.URL, d.DevToken), rng: rand.New(rand.NewSource(sc.Seed)),
		creds: map[string]Credential{}, incidents: map[string]*sever.Incident{}, credOf: map[string]string{},
		ended: map[string]chan struct{}{}, deliveries: map[string]map[string]int{}, firstSent: map[string]time.Time{},
		stepSeen: map[string]sever.StepStatus{}, statusSeen: map[string]sever.IncidentStatus{},
		asked: map[string]bool{}, readErrs: map[string]bool{},
		slack: o.Approvers == ApproversSlack, askedAt: map[string]time.Time{}}
	for _, c := range sc.Credentials {
		r.creds[c.Name] = c
		r.ended[c.Name] = make(chan struct{})
	}
	r.signals = make([]SignalResult, len(sc.Signals))
	for i, g := range sc.Signals {
		r.signals[i] = SignalResult{Source: g.Source, Origin: g.Origin, Kind: g.Kind, Credential: g.Credential,
			After: g.After, Quarantine: g.Quarantine, Incidents: []string{}}
	}
	for _, a := range sc.Attackers {
		r.attackers = append(r.attackers, &attackerRun{spec: a, cred: r.creds[a.Credential]})
	}
	return r
}

// policyGroups are the approver groups the policy's approval rules name.
func policyGroups(p *sever.Policy) []string {
	var out []string
	for _, rule := range p.Rules {
		if rule.Mode != sever.ModeApproval {
			continue
		}
		for _, a := range rule.Approvers {
			if g, ok := strings.CutPrefix(a, "group:"); ok && !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	return out
}

// configureEngine gives the drill's incidents its policy, and puts the simulated
// responders into the approver groups (a copy: the stack's own groups are left as
// they were). It returns the function that undoes it.
func (r *runner) configureEngine() (restore func()) {
	e := r.d.Engine
	oldPolicy, oldGroups := e.Policy, e.ApproverGroups
	groups := maps.Clone(e.ApproverGroups)
	if groups == nil {
		groups = map[string][]string{}
	}
	if r.slack {
		// The people of the stack's own groups decide; no simulated responder joins.
		r.groups = groups
		e.Policy = r.pol
		return func() { e.Policy = oldPolicy }
	}
	pg := policyGroups(r.pol)
	for _, resp := range r.sc.Responders {
		gs := resp.Groups
		if len(gs) == 0 {
			gs = pg
		}
		id := ApproverPrefix + resp.Name
		for _, g := range gs {
			if !slices.Contains(groups[g], id) {
				groups[g] = append(slices.Clone(groups[g]), id)
			}
		}
		r.responders = append(r.responders, ResponderResult{Name: resp.Name, Approver: id, Groups: slices.Clone(gs),
			Decisions: []ResponderDecision{}})
	}
	r.groups = groups
	e.Policy, e.ApproverGroups = r.pol, groups
	return func() { e.Policy, e.ApproverGroups = oldPolicy, oldGroups }
}

// precheck refuses a drill that could not mean what it says: a credential the drill
// cloud does not hold, or one whose incident is already open on this stack (new
// signals would join it instead of opening the drill's own).
func (r *runner) precheck(ctx context.Context) error {
	for i, c := range r.sc.Credentials {
		c, err := c.kind().prepare(r.d.Cloud, c)
		if err != nil {
			return fmt.Errorf("drill %s: credentials[%d].%w", r.sc.Name, i, err)
		}
		r.creds[c.Name] = c
		id := "drill-" + sever.IncidentID(signalCredential(c))
		inc, err := r.d.Engine.GetIncident(ctx, id)
		var se *sever.Error
		switch {
		case errors.As(err, &se) && se.Code == sever.ENOTFOUND:
		case err != nil:
			return fmt.Errorf("drill %s: check for an open incident of %s: %w", r.sc.Name, c.Name, err)
		case inc.Status != sever.IncidentClosed:
			return fmt.Errorf("drill %s: incident %s of credential %s is %s on this stack; close it or run the drill on a fresh stack",
				r.sc.Name, id, c.Name, inc.Status)
		}
	}
	// A credential the drill created (a long-term Bedrock API key) has its id only
	// now.
	for _, ar := range r.attackers {
		ar.cred = r.creds[ar.spec.Credential]
	}
	return nil
}

func (r *runner) since() float64 { return round3(time.Since(r.t0).Seconds()) }

func (r *runner) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.problems = append(r.problems, msg)
	r.mu.Unlock()
	r.out.at(r.since(), "problem: %s", msg)
}

func (r *runner) run(ctx context.Context) (*Result, error) {
	r.t0 = time.Now()
	started := r.t0
	r.header()
	// The scenario's timeline and the responders' pending answers end with the
	// drill; the attackers are stopped by hand after the settle time.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var sched sync.WaitGroup
	r.schedule(sctx, &sched)
	schedDone := make(chan struct{})
	go func() { sched.Wait(); close(schedDone) }()
	defer r.stopAttackers()

	deadline := r.t0.Add(r.sc.Timeout)
	timedOut := false
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		r.poll(sctx)
		if r.finished(schedDone) {
			break
		}
		if time.Now().After(deadline) {
			timedOut = true
			r.out.at(r.since(), "timeout: the drill did not finish within %s", r.sc.Timeout)
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
	if !timedOut && r.sc.Settle > 0 {
		// Attackers keep going, so the report shows their calls being refused.
		end := time.Now().Add(r.sc.Settle)
		for time.Now().Before(end) {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-tick.C:
			}
			r.poll(sctx)
		}
	}
	cancel()
	r.stopAttackers()
	r.decisionsWG.Wait()
	sched.Wait()
	return r.result(ctx, started, timedOut), nil
}

func (r *runner) header() {
	sc := r.sc
	r.out.printf("▶ drill %s", sc.Name)
	if sc.Description != "" {
		r.out.printf(": %s", firstLine(sc.Description))
	}
	r.out.printf("\n  policy %s@%s", r.pol.Name, r.pol.Version)
	if r.note != "" {
		r.out.printf(" (%s)", r.note)
	}
	r.out.printf("\n  drill cloud %s · API %s · seed %d · timeout %s\n", r.d.Cloud.URL(), r.d.URL, sc.Seed, sc.Timeout)
	r.out.printf("  times are T+seconds since the drill started; incident figures count from each incident's first signal\n")
	if r.slack {
		r.out.printf("  approvers: the people of the approver groups, in Slack (requests marked DRILL)")
		if n := len(sc.Responders); n > 0 {
			r.out.printf("; the scenario's %d simulated %s sit this one out", n, plural(n, "responder", "responders"))
		}
		r.out.printf("\n")
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// finished says whether the drill has played out: the timeline is done, every
// incident has ended its runbook, and every delivery is accounted for (or has had
// long enough to be).
func (r *runner) finished(schedDone <-chan struct{}) bool {
	select {
	case <-schedDone:
	default:
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range r.order {
		inc := r.incidents[id]
		if inc == nil || inc.Status == sever.IncidentOpen {
			return false
		}
	}
	if len(r.unaccountedLocked()) > 0 && time.Since(r.lastSent) < accountWait {
		return false
	}
	return true
}

// unaccountedLocked lists deliveries the incidents do not (yet) show.
func (r *runner) unaccountedLocked() []string {
	var out []string
	for _, id := range r.order {
		inc := r.incidents[id]
		got := map[string]int{}
		if inc != nil {
			for _, s := range inc.Signals {
				got[s.ID] = 1 + s.Duplicates
			}
		}
		for _, sid := range sortedKeys(r.deliveries[id]) {
			if n := r.deliveries[id][sid]; got[sid] != n {
				out = append(out, fmt.Sprintf("%s: signal %s delivered %d times, recorded %d", id, sid, n, got[sid]))
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// schedule starts the scenario's timeline: attackers, faults and signals, each
// waiting for its moment.
func (r *runner) schedule(ctx context.Context, wg *sync.WaitGroup) {
	goAt := func(at time.Duration, fn func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if sleepUntil(ctx, r.t0.Add(at)) {
				fn()
			}
		}()
	}
	for _, ar := range r.attackers {
		goAt(ar.spec.Start, func() { r.startAttacker(ctx, ar) })
		if ar.spec.Stop > 0 {
			goAt(ar.spec.Stop, func() {
				r.mu.Lock()
				a := ar.a
				r.mu.Unlock()
				if a != nil {
					a.Stop()
					r.out.at(r.since(), "attacker %s stops", ar.spec.Name)
				}
			})
		}
	}
	// The faults of one moment are injected together, in the scenario's order:
	// the drill cloud checks faults in the order they were added, so that order
	// decides which of them a call meets first.
	byAt := map[time.Duration][]int{}
	var ats []time.Duration
	for i, f := range r.sc.Faults {
		if _, ok := byAt[f.At]; !ok {
			ats = append(ats, f.At)
		}
		byAt[f.At] = append(byAt[f.At], i)
	}
	for _, at := range ats {
		goAt(at, func() {
			for _, i := range byAt[at] {
				r.inject(i, r.sc.Faults[i])
			}
		})
	}
	for i, g := range r.sc.Signals {
		if g.After == afterContainment {
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case <-ctx.Done():
					return
				case <-r.ended[g.Credential]:
				}
				if sleepUntil(ctx, time.Now().Add(g.At)) {
					r.send(ctx, i, g)
				}
			}()
			continue
		}
		goAt(g.At, func() { r.send(ctx, i, g) })
	}
}

// sleepUntil waits for t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

func (r *runner) startAttacker(ctx context.Context, ar *attackerRun) {
	// The attacker outlives the timeline's context: it is stopped after the settle
	// time, so its last calls meet whatever containment did.
	a, err := startAttacker(context.WithoutCancel(ctx), r.d.Cloud, ar.cred, drillcloud.AttackerConfig{Rate: ar.spec.Rate,
		Operations: ar.spec.Operations, KeepTrying: true, PivotToSession: ar.spec.PivotToSession, SourceIP: ar.spec.SourceIP})
	if err != nil {
		r.problem("attacker %s: %v", ar.spec.Name, err)
		return
	}
	r.mu.Lock()
	ar.a = a
	r.mu.Unlock()
	r.out.at(r.since(), "attacker %s uses %s (%s): %g calls/s, %s", ar.spec.Name, ar.cred.Name, ar.cred.ID, ar.spec.Rate,
		strings.Join(ar.spec.Operations, " "))
}

func (r *runner) stopAttackers() {
	r.mu.Lock()
	var as []*drillcloud.Attacker
	for _, ar := range r.attackers {
		if ar.a != nil {
			as = append(as, ar.a)
		}
	}
	r.mu.Unlock()
	for _, a := range as {
		a.Stop()
	}
}

func (r *runner) inject(i int, f Fault) {
	fr := FaultResult{At: r.since(), Service: f.Service, Operation: f.Operation, Caller: f.Caller, Kind: f.Kind,
		Count: f.Count, Probability: f.Probability}
	if f.Latency > 0 {
		fr.Latency = f.Latency.String()
	}
	key := ""
	switch {
	case f.Caller == callerSever && drillcloud.FaultOperations(f.Service) != nil:
		// A family twin knows sever by role, whichever key it holds there.
		key = drillcloud.FaultCallerResponder
	case f.Caller == callerSever:
		key = drillcloud.DefaultResponderKeyID
	case f.Caller != "":
		key = r.creds[f.Caller].ID
	}
	fired, err := r.d.Cloud.InjectFaultCounted(drillcloud.Fault{Service: f.Service, Operation: f.Operation, KeyID: key,
		Kind: drillcloud.FaultKind(f.Kind), Count: f.Count, Probability: f.Probability, Latency: f.Latency})
	if err != nil {
		fr.Error = err.Error()
		r.problem("faults[%d]: %v", i, err)
	} else {
		r.out.at(fr.At, "fault: %s", faultText(fr))
	}
	r.mu.Lock()
	r.faults = append(r.faults, fr)
	r.fired = append(r.fired, fired)
	r.mu.Unlock()
}

func faultText(f FaultResult) string {
	s := f.Kind + " on " + cmp.Or(f.Service, "every service")
	if f.Operation != "" {
		s += " " + f.Operation
	}
	if f.Caller != "" {
		s += " called by " + f.Caller
	}
	if f.Count > 0 {
		s += fmt.Sprintf(", %d %s", f.Count, plural(f.Count, "time", "times"))
	}
	if f.Probability > 0 {
		s += fmt.Sprintf(", probability %g", f.Probability)
	}
	if f.Latency != "" {
		s += ", " + f.Latency
	}
	return s
}

// maxSenders bounds concurrent deliveries of one storm: enough to press the API,
// few enough for two cores.
const maxSenders = 8

// send delivers one signal entry: the vendor's quarantine first when it names one,
// then every delivery of every event.
func (r *runner) send(ctx context.Context, i int, g Signal) {
	cred := r.creds[g.Credential]
	at := r.since()
	r.mu.Lock()
	r.signals[i].At, r.signals[i].Sent = at, true
	r.mu.Unlock()
	if g.VendorDisables {
		if what, err := cred.kind().vendorDisable(r.d.Cloud, cred); err != nil {
			r.problem("signals[%d].vendor_disables: %v", i, err)
		} else {
			r.out.at(r.since(), "vendor: %s", what)
		}
	}
	if g.Quarantine != "" {
		arn := awsManagedPolicyPrefix + strings.TrimPrefix(g.Quarantine, awsManagedPolicyPrefix)
		if err := r.d.Cloud.VendorAttachPolicy(cred.User, arn); err != nil {
			r.problem("signals[%d].quarantine: %v", i, err)
		} else {
			r.out.at(r.since(), "vendor: AWS attaches %s to user %s (the key stays active)", g.Quarantine, cred.User)
		}
	}
	var events []string
	for e := 1; e <= g.Events; e++ {
		id := g.EventID
		if g.Events > 1 {
			id = fmt.Sprintf("%s-%d", g.EventID, e)
		}
		for range g.Repeat {
			events = append(events, id)
		}
	}
	body := func(eventID string) []byte {
		now := time.Now().UTC()
		b, _ := json.Marshal(map[string]any{
			"source": g.Source, "source_event_id": eventID, "origin": g.Origin, "kind": g.Kind,
			"observed_at": now.Add(-g.ObservedLag).Format(time.RFC3339Nano), "severity": g.Severity,
			"summary": cmp.Or(g.Summary, fmt.Sprintf("drill %s: %s reports %s", r.sc.Name, g.Source, g.Kind)),
			"drill":   true, "labels": []string{"drill:" + r.sc.Name},
			"credential": signalCredential(cred),
		})
		return b
	}
	deliver := func(eventID string) {
		res, err := r.api.submit(ctx, body(eventID))
		now := time.Now()
		r.mu.Lock()
		defer r.mu.Unlock()
		sr := &r.signals[i]
		sr.Deliveries++
		if err != nil {
			if ctx.Err() == nil {
				sr.Rejected++
				if sr.Error == "" {
					sr.Error = err.Error()
				}
			}
			return
		}
		switch res.Status {
		case "recorded":
			sr.Recorded++
		case "duplicate":
			sr.Duplicate++
		default:
			sr.Queued++
		}
		if !slices.Contains(sr.Incidents, res.IncidentID) {
			sr.Incidents = append(sr.Incidents, res.IncidentID)
		}
		if !slices.Contains(r.order, res.IncidentID) {
			r.order = append(r.order, res.IncidentID)
			r.credOf[res.IncidentID] = g.Credential
		}
		if r.deliveries[res.IncidentID] == nil {
			r.deliveries[res.IncidentID] = map[string]int{}
		}
		r.deliveries[res.IncidentID][res.SignalID]++
		if _, ok := r.firstSent[g.Credential]; !ok {
			r.firstSent[g.Credential] = now
		}
		r.lastSent = now
	}
	if len(events) == 1 || g.Interval > 0 {
		for k, id := range events {
			if k > 0 && !sleepUntil(ctx, time.Now().Add(g.Interval)) {
				break
			}
			deliver(id)
		}
	} else {
		jobs := make(chan string)
		var wg sync.WaitGroup
		for range min(maxSenders, len(events)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for id := range jobs {
					deliver(id)
				}
			}()
		}
	feed:
		for _, id := range events {
			select {
			case jobs <- id:
			case <-ctx.Done():
				break feed
			}
		}
		close(jobs)
		wg.Wait()
	}
	r.mu.Lock()
	sr := r.signals[i]
	r.mu.Unlock()
	what := fmt.Sprintf("signal from %s (%s %s about %s)", g.Source, g.Origin, g.Kind, cred.Name)
	if g.ObservedLag > 0 {
		what += fmt.Sprintf(", observed %s before it was sent", g.ObservedLag)
	}
	if sr.Deliveries > 1 {
		what = fmt.Sprintf("%d deliveries of %d %s", sr.Deliveries, g.Events, plural(g.Events, "event", "events")) + ": " + what
	}
	r.out.at(r.since(), "%s → %s: %s", what, strings.Join(sr.Incidents, ", "), answerText(sr))
	if sr.Rejected > 0 {
		r.problem("signals[%d]: the API refused %d of %d deliveries: %s", i, sr.Rejected, sr.Deliveries, sr.Error)
	}
}

func answerText(s SignalResult) string {
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{{s.Recorded, "recorded"}, {s.Duplicate, "duplicate"}, {s.Queued, "queued"}, {s.Rejected, "refused"}} {
		if p.n > 0 {
			if s.Deliveries == 1 {
				parts = append(parts, p.what)
			} else {
				parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
			}
		}
	}
	return strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// progress writes the live log; lines come from several goroutines.
type progress struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *progress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, args...)
}

func (p *progress) at(t float64, format string, args ...any) {
	p.printf("  T+%7.3fs  %s\n", t, fmt.Sprintf(format, args...))
}
