// Command bench measures sever against a floor in one run on the embedded stack, and
// prints the DESIGN.md targets next to the figures (reported, never asserted). It is
// what `make bench` runs:
//
//	go run ./bench                 # full run, writes bench/results.json
//	go run ./bench -quick          # smoke run with small counts (writes a temp file)
//
// One process starts the stack `sever dev` runs (app.StartDev: embedded Temporal on
// SQLite with WAL, sever's worker, the HTTP API) on a temporary data dir, then compares:
//
//	(a) floor:  BareWorkflow, N trivial activities in sequence, on its own worker and
//	            task queue against the same server, started with ExecuteWorkflow and
//	            awaited with Get (a long poll on the close event); each is a local
//	            activity where the engine runs the matching runbook step as one
//	            (workflows.LocalAction: sever.noop is read-only, so all N are);
//	(a+) API floor: (a) behind what any product in front of Temporal pays, a JSON
//	            POST on loopback to start it and one synced ledger batch (the signal
//	            and each step, through ledger.Store) at its end; against it a ratio
//	            measures sever's engine itself (see apifloor.go);
//	(b) engine: POST /v1/signals (real HTTP, bearer token) about a fresh generic_token,
//	            whose runbook is N sever.noop steps in a chain, until the runbook ends.
//
// Engine latency runs from just before the POST until the client sees the incident's
// status leave "open". The POST answers only once the incident has recorded the
// signal and said whether it was a duplicate (the result of the Update-With-Start
// that delivers it); that wait is part of (b). The end is seen
// in the memo that records the status (-wait history, the default): one describe, which
// finds it already there when every step ran in the task that answered the POST, then a
// long poll on the incident's event history for its upsert: no polling interval, and
// the same mechanism the floor's Get uses. -wait poll instead reads
// GET /v1/incidents/{id} every -poll (default 5 ms), which adds up to one interval and a
// describe + query per read.
//
// Latency is measured at concurrency 1, the sides interleaved one by one after a
// warm-up, so drift (the SQLite file grows) hits all alike. Throughput runs a fixed
// count per concurrency level in -rounds rounds; the side that runs first turns
// from round to round, a short settle pause separates the runs, and each side's rate
// pools its rounds (operations over wall time), so neither the order nor one noisy
// round decides a ratio. Incidents stay open after containment
// (the default 7-day hold), as in production; they sit idle on a timer.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.temporal.io/sdk/activity"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/sever-ir/sever"
	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/internal/app"
	"github.com/sever-ir/sever/ledger"
	"github.com/sever-ir/sever/runbooks"
	"github.com/sever-ir/sever/workflows"
)

// awsPolicy is the policy the bench runs under (relative to the repository root,
// where make bench runs).
const awsPolicy = "runbooks/policy/aws-preapproved.yaml"

type options struct {
	steps   int
	n       int
	warmup  int
	conc    []int
	count   int
	rounds  int
	out     string
	quick   bool
	wait    string
	fwait   string
	poll    time.Duration
	settle  time.Duration
	profile string
	verbose bool
	// async posts with Prefer: respond-async (SignalWithStart, answer "queued")
	// instead of waiting for the answer (Update-With-Start).
	async bool

	stormSignals, stormCreds, stormConc int
	parked                              []int
	flood                               int
	awsN                                int
	awsConc                             int
	families                            int
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, o, os.Stderr)
	if rep != nil {
		rep.markdown(os.Stdout)
		if o.out != "" {
			if werr := writeJSON(o.out, rep); werr != nil {
				fmt.Fprintln(os.Stderr, "bench:", werr)
				os.Exit(1)
			}
			fmt.Fprintf(os.Stderr, "bench: results written to %s\n", o.out)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if rep.ErrorCount > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d operations failed; the figures are not valid\n", rep.ErrorCount)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&o.steps, "steps", 4, "activities per workflow (a) and noop steps per runbook (b)")
	fs.IntVar(&o.n, "n", 100, "measured iterations per side for latency at concurrency 1")
	fs.IntVar(&o.warmup, "warmup", 10, "warm-up iterations per side before the latency run")
	conc := fs.String("conc", "1,10,50", "concurrency levels for throughput, comma-separated")
	fs.IntVar(&o.count, "count", 200, "workflows (a) and incidents (b) per concurrency level and round")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds per concurrency level, the side that goes first alternating; rates pool the rounds")
	fs.StringVar(&o.out, "out", "bench/results.json", `JSON results file ("" = none); -quick writes a temp file unless -out is given`)
	fs.BoolVar(&o.quick, "quick", false, "smoke run: -n 10 -warmup 2 -count 10 -conc 1,10 -settle 200ms unless set")
	fs.StringVar(&o.wait, "wait", "history", "how (b) sees the runbook end: history (long poll, no interval) or poll (GET every -poll)")
	fs.StringVar(&o.fwait, "floor-wait", "get", "how (a) waits: get (Get, long poll on the close event) or history (long poll on every event, like -wait history); a cross-check")
	fs.DurationVar(&o.poll, "poll", 5*time.Millisecond, "interval of -wait poll")
	fs.DurationVar(&o.settle, "settle", time.Second, "pause between measured runs so background work of one run does not bill the next")
	fs.BoolVar(&o.verbose, "v", false, "log the stack's warnings to stderr")
	fs.StringVar(&o.profile, "cpuprofile", "", "directory to write CPU profiles into: one per throughput run (floor-cN.pprof, api-floor-cN.pprof, engine-cN.pprof), one per side of the storm (storm-floor.pprof, storm-api-floor.pprof, storm-engine.pprof) and one of the AWS incidents opened at once (aws-concurrent.pprof), each with allocation profiles at its start and end (NAME.allocs-base.pprof, NAME.allocs.pprof: compare with go tool pprof -diff_base); each covers the whole process: server, worker, API and bench")
	fs.BoolVar(&o.async, "async", false, "engine POSTs with Prefer: respond-async (SignalWithStart, answers queued) instead of waiting for the answer (Update-With-Start)")
	fs.IntVar(&o.stormSignals, "storm", 10000, "signals in the storm (0 skips it)")
	fs.IntVar(&o.stormCreds, "storm-creds", 100, "credentials the storm's signals are about")
	fs.IntVar(&o.stormConc, "storm-conc", 50, "concurrent senders in the storm")
	parkedLevels := fs.String("parked", "1000,5000", "open incidents parked on approvals at which memory is read, increasing and comma-separated; the per-incident figure is the slope through them (0 skips the phase)")
	fs.IntVar(&o.flood, "flood", 2000, "distinct 2 KB signals about one credential, for incident history size and continue-as-new per 1,000 signals (0 skips it)")
	fs.IntVar(&o.awsN, "aws", 50, "iterations of the AWS time to contain against the drill cloud (0 skips it)")
	fs.IntVar(&o.awsConc, "aws-conc", 50, "AWS incidents opened at once for the time to contain under load (0 skips it)")
	fs.IntVar(&o.families, "families", 50, "iterations of the time to contain per credential family beyond AWS (GCP, Google API, Azure, Azure OpenAI, Vault) against the drill cloud (0 skips it)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		def := func(name string, apply func()) {
			if !set[name] {
				apply()
			}
		}
		def("n", func() { o.n = 10 })
		def("warmup", func() { o.warmup = 2 })
		def("count", func() { o.count = 10 })
		def("rounds", func() { o.rounds = 1 })
		def("conc", func() { *conc = "1,10" })
		def("settle", func() { o.settle = 200 * time.Millisecond })
		def("out", func() { o.out = filepath.Join(os.TempDir(), "sever-bench-quick.json") })
		def("storm", func() { o.stormSignals = 500 })
		def("storm-creds", func() { o.stormCreds = 10 })
		def("parked", func() { *parkedLevels = "50,100" })
		def("aws", func() { o.awsN = 5 })
		def("aws-conc", func() { o.awsConc = 10 })
		def("families", func() { o.families = 5 })
		def("flood", func() { o.flood = 300 })
	}
	for f := range strings.SplitSeq(*parkedLevels, ",") {
		if f = strings.TrimSpace(f); f == "" || f == "0" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || (len(o.parked) > 0 && n <= o.parked[len(o.parked)-1]) {
			return o, fmt.Errorf("-parked: %q is not a count larger than the level before it", f)
		}
		o.parked = append(o.parked, n)
	}
	for f := range strings.SplitSeq(*conc, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		c, err := strconv.Atoi(f)
		if err != nil || c < 1 {
			return o, fmt.Errorf("-conc: %q is not a positive number", f)
		}
		o.conc = append(o.conc, c)
	}
	switch {
	case o.steps < 1 || o.steps > 100:
		return o, errors.New("-steps must be 1 to 100 (a runbook has at most 100 steps)")
	case o.n < 1:
		return o, errors.New("-n must be at least 1")
	case o.warmup < 0:
		return o, errors.New("-warmup must not be negative")
	case o.count < 1:
		return o, errors.New("-count must be at least 1")
	case o.rounds < 1:
		return o, errors.New("-rounds must be at least 1")
	case o.wait != "history" && o.wait != "poll":
		return o, fmt.Errorf("-wait: %q is neither history nor poll", o.wait)
	case o.fwait != "get" && o.fwait != "history":
		return o, fmt.Errorf("-floor-wait: %q is neither get nor history", o.fwait)
	case o.poll <= 0:
		return o, errors.New("-poll must be positive")
	case o.stormSignals < 0 || o.flood < 0:
		return o, errors.New("-storm and -flood must not be negative")
	case o.stormSignals > 0 && (o.stormCreds < 1 || o.stormSignals%o.stormCreds != 0):
		return o, fmt.Errorf("-storm %d must be a multiple of -storm-creds %d", o.stormSignals, o.stormCreds)
	case o.awsN < 0 || o.awsConc < 0 || o.families < 0:
		return o, errors.New("-aws, -aws-conc and -families must not be negative")
	case o.stormConc < 1:
		return o, errors.New("-storm-conc must be at least 1")
	}
	if o.out != "" {
		// Fail now, not after a run of several minutes.
		if fi, err := os.Stat(filepath.Dir(o.out)); err != nil || !fi.IsDir() {
			return o, fmt.Errorf("-out %s: directory %s does not exist (run from the repository root, or pass -out)", o.out, filepath.Dir(o.out))
		}
	}
	return o, nil
}

func run(ctx context.Context, o options, logw io.Writer) (*Report, error) {
	began := time.Now()
	logf := func(format string, args ...any) { fmt.Fprintf(logw, "bench: "+format+"\n", args...) }

	tmp, err := os.MkdirTemp("", "sever-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	rbDir := filepath.Join(tmp, "runbooks")
	if err := os.Mkdir(rbDir, 0o700); err != nil {
		return nil, err
	}
	if err := writeRunbook(rbDir, o.steps); err != nil {
		return nil, err
	}
	if err := writeParkedRunbook(rbDir); err != nil {
		return nil, err
	}
	cfg := config.Default()
	cfg.DataDir = filepath.Join(tmp, "data")
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Temporal.UIPort = 0
	cfg.Runbooks.Dir = rbDir
	// The pre-approved AWS policy: containment runs without waiting for a person (the
	// target is about the machine's part), and sever.noop is automatic (evidence-auto);
	// both checked below.
	cfg.Runbooks.Policy = awsPolicy
	if o.families > 0 {
		// The family runbooks' containment needs an approval under aws-preapproved;
		// the bench runs a copy of it that pre-approves them (familiesRule).
		if cfg.Runbooks.Policy, err = writeFamiliesPolicy(tmp); err != nil {
			return nil, err
		}
	}
	// The bench measures the engine's own throughput, one token opening thousands of
	// incidents: admission control would measure the limits instead.
	// Zero rates and count turn each limit off; the window, like every duration, stays positive.
	cfg.Intake.Limits = config.IntakeLimits{Incidents: config.Quota{Window: cfg.Intake.Limits.Incidents.Window}}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	logger := slog.New(slog.DiscardHandler)
	if o.verbose {
		logger = slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}

	rep := &Report{
		Date: time.Now().UTC().Format(time.RFC3339), GoVersion: runtime.Version(), GOOS: runtime.GOOS,
		GOARCH: runtime.GOARCH, GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(),
		CPU: procField("/proc/cpuinfo", "model name"), Memory: procField("/proc/meminfo", "MemTotal"),
		Modules: modules(), Submit: map[string]int{}, LoadStart: loadAvg(),
		Config: RunConfig{Steps: o.steps, Iterations: o.n, Warmup: o.warmup, Conc: o.conc, Count: o.count, Rounds: o.rounds,
			Quick: o.quick, Async: o.async, Wait: o.wait, FloorWait: o.fwait, Settle: o.settle.String(), Hold: cfg.Incidents.Hold.String(),
			Runbook: benchRunbook, Stack: "app.StartDev: embedded Temporal (SQLite, WAL), sever worker, HTTP API on loopback"},
	}
	if o.wait == "poll" {
		rep.Config.PollInterval = o.poll.String()
	}

	logf("starting the embedded stack in %s", tmp)
	t := time.Now()
	d, err := app.StartDev(ctx, app.DevOptions{Config: cfg, FrontendPort: 0, UI: false, Logger: logger,
		DrillCloud: true, Seed: awsBenchSeed(o.awsN + o.awsConc)})
	if err != nil {
		return nil, fmt.Errorf("start stack: %w", err)
	}
	rep.StackStart = ms(time.Since(t))
	var fw sdkworker.Worker
	stopStack := func() {
		t := time.Now()
		if fw != nil {
			fw.Stop()
		}
		if err := d.Stop(); err != nil {
			logf("stop: %v", err)
		}
		rep.StackStop = ms(time.Since(t))
	}

	// What the engine runs must be what we mean to measure.
	rb, err := d.Library.Select(sever.CredGenericToken, sever.KindCredentialExposed)
	if err != nil || rb.Name != benchRunbook {
		stopStack()
		return nil, fmt.Errorf("runbook selection for generic_token: got %v (err %v), want %s", rb, err, benchRunbook)
	}
	// The floor runs each step as the engine does: local where workflows.LocalAction
	// says a new incident runs it local.
	floorPlan := make([]bool, len(rb.Steps))
	for i := range rb.Steps {
		floorPlan[i] = workflows.LocalAction(&rb.Steps[i], !rb.Steps[i].Mutating)
	}
	rep.Config.FloorLocal = localCount(floorPlan)
	dec := d.Policy.Decide(sever.ActionNoop, sever.CredGenericToken, false)
	if dec.Mode != sever.ModeAuto {
		stopStack()
		return nil, fmt.Errorf("policy %s decides %s for sever.noop (rule %s); the bench needs auto", d.Policy.Name, dec.Mode, dec.Rule)
	}
	rep.Config.Policy = d.Policy.Name + "/" + dec.Rule
	var familiesPolicy string
	if o.families > 0 {
		if familiesPolicy, err = checkFamiliesPolicy(d.Policy); err != nil {
			stopStack()
			return nil, err
		}
	}
	if d.DevToken == "" {
		stopStack()
		return nil, errors.New("the stack has no dev token")
	}

	fw = sdkworker.New(d.Client, floorQueue, sdkworker.Options{})
	fw.RegisterWorkflowWithOptions(BareWorkflow, workflow.RegisterOptions{Name: "BareWorkflow"})
	fw.RegisterActivity(BareActivity)
	fw.RegisterWorkflowWithOptions(SinkWorkflow, workflow.RegisterOptions{Name: "SinkWorkflow"})
	fw.RegisterWorkflowWithOptions(APIFloorWorkflow, workflow.RegisterOptions{Name: "APIFloorWorkflow"})
	// The API floor's ledger is a file of its own beside sever's, on the same disk.
	floorLed, err := ledger.Open(filepath.Join(tmp, "floor-ledger.db"))
	if err != nil {
		stopStack()
		return nil, fmt.Errorf("api floor: %w", err)
	}
	defer floorLed.Close()
	fw.RegisterActivityWithOptions((&floorLedger{store: floorLed}).Append, activity.RegisterOptions{Name: floorLedgerAppend})
	if err := fw.Start(); err != nil {
		stopStack()
		return nil, fmt.Errorf("start floor worker: %w", err)
	}
	logf("stack up in %s (Temporal %s, API %s)", time.Since(t).Round(time.Millisecond), d.Temporal.FrontendAddress(), d.URL)

	maxConc := 1
	for _, c := range o.conc {
		maxConc = max(maxConc, c)
	}
	// Each side of (a+) and (b) keeps its own connections, one per sender.
	newHTTP := func() *http.Client {
		n := max(maxConc, o.stormConc)
		return &http.Client{Timeout: time.Minute, Transport: &http.Transport{
			MaxIdleConns: 2 * n, MaxIdleConnsPerHost: 2 * n, IdleConnTimeout: time.Minute}}
	}
	af, err := startAPIFloor(d.Client, floorPlan, newHTTP())
	if err != nil {
		stopStack()
		return nil, err
	}
	defer af.stop()
	b := &bench{
		o:     o,
		floor: &floor{c: d.Client, local: floorPlan, history: o.fwait == "history"},
		api:   af,
		eng: &engineRunner{c: d.Client, url: d.URL, token: d.DevToken, wait: o.wait, pollIv: o.poll, async: o.async,
			http: newHTTP()},
		rep:   rep,
		cloud: d.Cloud,
		stamp: strconv.FormatInt(time.Now().UnixNano(), 36),
		logf:  logf,

		library: d.Library, familiesPolicy: familiesPolicy,
		stickyCache: cfg.Temporal.StickyCacheSize,
	}
	err = b.measure(ctx)
	stopStack()
	if err == nil && len(o.parked) > 0 {
		err = b.parkedOnFreshStack(ctx, cfg, logger, tmp)
	}
	rep.LoadEnd = loadAvg()
	rep.TotalS = round(time.Since(began).Seconds())
	rep.evaluate()
	return rep, err
}

// parkedOnFreshStack runs the parked phase on a stack of its own, started in this
// process after the first one stopped and its memory went back to the OS: the
// target is what 5,000 parked incidents cost a process, not 5,000 beside the
// ~2,000 incidents the earlier phases leave open (each held for late signals).
func (b *bench) parkedOnFreshStack(ctx context.Context, cfg *config.Config, logger *slog.Logger, tmp string) error {
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	cfg.DataDir = filepath.Join(tmp, "data-parked")
	b.logf("parked: a fresh stack in %s", cfg.DataDir)
	d, err := app.StartDev(ctx, app.DevOptions{Config: cfg, FrontendPort: 0, UI: false, Logger: logger})
	if err != nil {
		return fmt.Errorf("start the parked phase's stack: %w", err)
	}
	defer func() {
		if err := d.Stop(); err != nil {
			b.logf("stop the parked phase's stack: %v", err)
		}
	}()
	b.eng = b.eng.on(d)
	return b.parked(ctx)
}

// resetPeakRSS restarts the kernel's count of this process's peak RSS (VmHWM), so
// the parked phase reports its own peak; where that is not possible the peak stays
// the whole run's, which can only overstate it.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

type bench struct {
	o     options
	cloud *drillcloud.Cloud
	floor *floor
	api   *apiFloor
	eng   *engineRunner
	rep   *Report
	stamp string
	logf  func(string, ...any)

	// library selects runbooks; familiesPolicy is the policy rule that pre-approves
	// the family containment ("" when that phase is off).
	library        *runbooks.Library
	familiesPolicy string
	// stickyCache is the worker's sticky workflow cache size.
	stickyCache int

	mu sync.Mutex
}

func (b *bench) fail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rep.ErrorCount++
	if len(b.rep.Errors) < 20 {
		b.rep.Errors = append(b.rep.Errors, err.Error())
	}
	if b.rep.ErrorCount <= 5 {
		b.logf("error: %v", err)
	}
}

func (b *bench) submitted(status string) {
	b.mu.Lock()
	b.rep.Submit[status]++
	b.mu.Unlock()
}

func (b *bench) id(phase string, i int) string {
	return fmt.Sprintf("bench-%s-%s-%d", b.stamp, phase, i)
}

func (b *bench) runFloor(ctx context.Context, id string, ttfs bool) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return b.floor.run(ctx, id, ttfs)
}

func (b *bench) runAPI(ctx context.Context, id string) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return b.api.run(ctx, id)
}

func (b *bench) runEngine(ctx context.Context, id string) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	s, err := b.eng.run(ctx, id)
	if s.submit != "" {
		b.submitted(s.submit)
	}
	return s, err
}

func (b *bench) measure(ctx context.Context) error {
	o := b.o
	// Warm-up, then a sanity check that the engine ran the bench runbook to the end.
	b.logf("warm-up: %d + %d", o.warmup, o.warmup)
	var lastInc string
	for i := range max(o.warmup, 1) {
		if _, err := b.runFloor(ctx, b.id("warm-a", i), false); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		if _, err := b.runAPI(ctx, b.id("warm-a+", i)); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		id := b.id("warm-b", i)
		if _, err := b.runEngine(ctx, id); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		lastInc = sever.IncidentID(sever.Credential{Provider: "bench", Type: sever.CredGenericToken, ID: id})
	}
	inc, err := b.eng.incident(ctx, lastInc)
	if err != nil {
		return fmt.Errorf("sanity check: %w", err)
	}
	if err := checkIncident(inc, o.steps); err != nil {
		return fmt.Errorf("sanity check: %w", err)
	}

	// Latency at concurrency 1, interleaved.
	b.logf("latency: %d + %d at concurrency 1", o.n, o.n)
	var fa, aa, ea, ff, ef, acc []time.Duration
	for i := range o.n {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if s, err := b.runFloor(ctx, b.id("lat-a", i), true); err != nil {
			b.fail(err)
		} else {
			fa = append(fa, s.total)
			if s.firstStep > 0 { // a local first step has no started event to time
				ff = append(ff, s.firstStep)
			}
		}
		if s, err := b.runAPI(ctx, b.id("lat-a+", i)); err != nil {
			b.fail(err)
		} else {
			aa = append(aa, s.total)
		}
		if s, err := b.runEngine(ctx, b.id("lat-b", i)); err != nil {
			b.fail(err)
		} else {
			ea, acc = append(ea, s.total), append(acc, s.accepted)
			if s.firstStep > 0 {
				ef = append(ef, s.firstStep)
			}
		}
	}
	l := &b.rep.Latency
	l.Iterations, l.Warmup = o.n, o.warmup
	l.Floor, l.Engine, l.APIFloor = summarize(fa), summarize(ea), summarize(aa)
	l.APIRatioP50, l.APIRatioP99 = ratio(l.Engine.P50, l.APIFloor.P50), ratio(l.Engine.P99, l.APIFloor.P99)
	l.FloorFirst, l.EngineFirst, l.Accepted = summarize(ff), summarize(ef), summarize(acc)
	l.RatioP50, l.RatioP99 = ratio(l.Engine.P50, l.Floor.P50), ratio(l.Engine.P99, l.Floor.P99)
	l.RatioMean = ratio(l.Engine.Mean, l.Floor.Mean)
	l.FloorMS, l.APIFloorMS, l.EngineMS = toMS(fa), toMS(aa), toMS(ea)
	b.logf("latency p50: floor %s, api floor %s, engine %s (%.2f×, %.2f× the api floor)", msf(l.Floor.P50), msf(l.APIFloor.P50),
		msf(l.Engine.P50), l.RatioP50, l.APIRatioP50)

	// Throughput: a fixed count per level and round; which side goes first turns
	// from round to round (and the first round's from level to level).
	for li, c := range o.conc {
		lv := Level{Concurrency: c, Count: o.count, Rounds: o.rounds}
		type side struct {
			name, tag string
			run       func(context.Context, string) (sample, error)
			wall, cpu time.Duration
			lat       []time.Duration
			rate      float64 // the last round's
		}
		f := &side{name: "floor", tag: "a", run: func(ctx context.Context, id string) (sample, error) { return b.runFloor(ctx, id, false) }}
		a := &side{name: "api-floor", tag: "a+", run: b.runAPI}
		e := &side{name: "engine", tag: "b", run: b.runEngine}
		sides := []*side{f, a, e}
		runRound := func(round int, sd *side) {
			b.pause(ctx)
			if round == 0 {
				defer b.cpuProfile(fmt.Sprintf("%s-c%d", sd.name, c))()
			}
			cpu0 := cpuTime()
			wall, lat, errs := b.level(ctx, c, o.count, func(ctx context.Context, i int) (sample, error) {
				return sd.run(ctx, b.id(fmt.Sprintf("tp%d.%d.%d-%s", li, c, round, sd.tag), i))
			})
			lv.Errors += errs
			sd.wall, sd.lat, sd.cpu = sd.wall+wall, append(sd.lat, lat...), sd.cpu+cpuTime()-cpu0
			sd.rate = rate(len(lat), wall)
		}
		var order []string
		for round := range o.rounds {
			var tags []string
			for k := range sides {
				sd := sides[(li+round+k)%len(sides)]
				tags = append(tags, sd.tag)
				runRound(round, sd)
			}
			order = append(order, strings.Join(tags, ", "))
			lv.RoundRatios = append(lv.RoundRatios, ratio(e.rate, f.rate))
			lv.APIRoundRatios = append(lv.APIRoundRatios, ratio(e.rate, a.rate))
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		n := o.count * o.rounds
		lv.Order = strings.Join(order, "; ")
		lv.FloorCPU, lv.APIFloorCPU, lv.EngineCPU = perOp(f.cpu, n), perOp(a.cpu, n), perOp(e.cpu, n)
		lv.FloorWallMS, lv.APIWallMS, lv.EngWallMS = ms(f.wall), ms(a.wall), ms(e.wall)
		lv.Floor, lv.APIFloor, lv.Engine = summarize(f.lat), summarize(a.lat), summarize(e.lat)
		lv.FloorRate, lv.APIFloorRate, lv.EngineRate = rate(len(f.lat), f.wall), rate(len(a.lat), a.wall), rate(len(e.lat), e.wall)
		lv.Ratio, lv.APIRatio = ratio(lv.EngineRate, lv.FloorRate), ratio(lv.EngineRate, lv.APIFloorRate)
		b.rep.Throughput = append(b.rep.Throughput, lv)
		b.logf("throughput c=%d: floor %.1f/s, api floor %.1f/s, engine %.1f/s (%.2f×, %.2f× the api floor; rounds %v)",
			c, lv.FloorRate, lv.APIFloorRate, lv.EngineRate, lv.Ratio, lv.APIRatio, lv.RoundRatios)
	}
	if o.awsN > 0 {
		if err := b.awsContain(ctx); err != nil {
			return err
		}
		if err := b.awsTemporaryContain(ctx); err != nil {
			return err
		}
	}
	if o.awsConc > 0 {
		if err := b.awsContainConcurrent(ctx); err != nil {
			return err
		}
	}
	if o.families > 0 {
		if err := b.familiesContain(ctx); err != nil {
			return err
		}
	}
	if o.stormSignals > 0 {
		if err := b.storm(ctx); err != nil {
			return err
		}
	}
	if o.flood > 0 {
		if err := b.flood(ctx); err != nil {
			return err
		}
	}
	return nil
}

// cpuTime is the CPU time this process has used (user + system); 0 where the
// kernel does not say.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// perOp is d per operation, in ms.
func perOp(d time.Duration, n int) float64 {
	if n <= 0 {
		return 0
	}
	return round(ms(d) / float64(n))
}

// cpuProfile starts a CPU profile named name in -cpuprofile's directory and returns
// the function that stops it; without -cpuprofile both do nothing. It also writes
// the allocation profile at the start (name.allocs-base.pprof) and at the end
// (name.allocs.pprof): the allocations of the run are the difference
// (go tool pprof -diff_base). Garbage collection is a tenth of the CPU here, and a
// CPU profile cannot say who made the garbage.
func (b *bench) cpuProfile(name string) func() {
	if b.o.profile == "" {
		return func() {}
	}
	b.allocProfile(name + ".allocs-base")
	f, err := os.Create(filepath.Join(b.o.profile, name+".pprof"))
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		b.logf("cpu profile %s: %v", name, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.logf("cpu profile %s: %v", name, err)
		}
		b.allocProfile(name + ".allocs")
	}
}

// allocProfile writes the cumulative allocation profile to name.pprof.
func (b *bench) allocProfile(name string) {
	f, err := os.Create(filepath.Join(b.o.profile, name+".pprof"))
	if err == nil {
		err = pprof.Lookup("allocs").WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		b.logf("allocation profile %s: %v", name, err)
	}
}

// level runs count operations with conc workers and returns the wall time from the
// first start to the last result, and the latencies of the operations that succeeded.
func (b *bench) level(ctx context.Context, conc, count int, op func(context.Context, int) (sample, error)) (time.Duration, []time.Duration, int) {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		lat  = make([]time.Duration, 0, count)
		errs int
	)
	start := time.Now()
	for range min(conc, count) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= count || ctx.Err() != nil {
					return
				}
				s, err := op(ctx, i)
				mu.Lock()
				if err != nil {
					errs++
				} else {
					lat = append(lat, s.total)
				}
				mu.Unlock()
				if err != nil {
					b.fail(err)
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), lat, errs
}

// pause lets the last run's background work (the server's queues, the worker's
// caches) settle, then collects its garbage, so that neither bills the next run: the
// sides allocate unequally, and a collection is paid by whoever happens to be running.
func (b *bench) pause(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(b.o.settle):
	}
	runtime.GC()
}

func rate(n int, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return round(float64(n) / wall.Seconds())
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// modules records the versions that shape the numbers.
func modules() map[string]string {
	out := map[string]string{}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return out
	}
	want := []string{"go.temporal.io/sdk", "go.temporal.io/server", "go.temporal.io/api", "modernc.org/sqlite"}
	for _, m := range bi.Deps {
		if slices.Contains(want, m.Path) {
			v := m.Version
			if m.Replace != nil {
				v += " => " + m.Replace.Path + " " + m.Replace.Version
			}
			out[m.Path] = v
		}
	}
	return out
}

// loadAvg reads the 1, 5 and 15-minute load averages (Linux), since the machine may
// be shared and a busy neighbour shows up in every figure.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// procField reads the first "key: value" line of a /proc file, so that a result
// names the machine it came from; "" where there is no such file (not Linux).
func procField(path, key string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return ""
}

func writeJSON(path string, rep *Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}
