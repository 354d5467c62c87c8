package tests

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"

	"github.com/sever-ir/sever/config"
	"github.com/sever-ir/sever/contract"
	"github.com/sever-ir/sever/internal/app"
)

// Environment of a worker process started by a test: the test binary runs itself as
// `sever worker` would, attached to the stack's frontend port.
const (
	envWorkerConfig = "SEVER_TEST_WORKER_CONFIG" // path of the stack's config (YAML)
	envWorkerAddr   = "SEVER_TEST_WORKER_ADDR"   // Temporal frontend host:port
	envCrash        = "SEVER_TEST_CRASH"         // where to SIGKILL itself, see crashInterceptor
	envCrashMarker  = "SEVER_TEST_CRASH_MARKER"  // file created at the crash, so only one process crashes
	envRole         = "SEVER_TEST_ROLE"          // "worker" (default) or "serve"
	envServeAddr    = "SEVER_TEST_SERVE_ADDR"    // file the serve role writes its API address to
)

func TestMain(m *testing.M) {
	if path := os.Getenv(envWorkerConfig); path != "" {
		if err := runWorkerProcess(path, os.Getenv(envWorkerAddr)); err != nil {
			fmt.Fprintln(os.Stderr, "worker process:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runWorkerProcess is the child side: the same composition root and the same code
// as `sever worker` (or `sever serve`).
func runWorkerProcess(cfgPath, addr string) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	parts, err := app.LoadParts(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer parts.Close()
	if where := os.Getenv(envCrash); where != "" {
		parts.WorkerInterceptors = append(parts.WorkerInterceptors,
			&aroundActivities{around: (&crashInterceptor{where: where, marker: os.Getenv(envCrashMarker)}).execute})
	}
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := client.Dial(client.Options{HostPort: addr, Namespace: cfg.Temporal.Namespace, Logger: sdklog.NewStructuredLogger(quiet)})
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if os.Getenv(envRole) == "serve" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		if err := os.WriteFile(os.Getenv(envServeAddr), []byte(ln.Addr().String()), 0o600); err != nil {
			return err
		}
		return parts.Serve(ctx, c, ln)
	}
	return parts.RunWorker(ctx, c)
}

// crashInterceptor kills its own process with SIGKILL, once across processes (the
// marker file), at a chosen point of the ledger append: "before-ledger" after the
// step's activity completed but before its facts are written, "after-ledger" once
// they are written but before Temporal hears of it.
type crashInterceptor struct {
	where, marker string
}

// execute runs an activity through next, crashing where c says.
func (c *crashInterceptor) execute(ctx context.Context, in *interceptor.ExecuteActivityInput, next interceptor.ActivityInboundInterceptor) (any, error) {
	name := activity.GetInfo(ctx).ActivityType.Name
	if p, ok := strings.CutPrefix(c.where, crashRandom); ok {
		// Chaos: die before or after any activity, at random.
		prob, _ := strconv.ParseFloat(p, 64)
		if rand.Float64() < prob {
			c.kill()
		}
		res, err := next.ExecuteActivity(ctx, in)
		if rand.Float64() < prob {
			c.kill()
		}
		return res, err
	}
	if c.where == crashOnActivity+name {
		c.crash()
	}
	if c.where == crashAfterActivity+name {
		res, err := next.ExecuteActivity(ctx, in)
		c.crash()
		return res, err
	}
	if name != contract.ActivityLedgerAppend {
		return next.ExecuteActivity(ctx, in)
	}
	if c.where == "before-ledger" {
		c.crash()
	}
	res, err := next.ExecuteActivity(ctx, in)
	if c.where == "after-ledger" && err == nil {
		c.crash()
	}
	return res, err
}

// kill dies at once, whatever other processes did.
func (c *crashInterceptor) kill() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	time.Sleep(time.Minute)
}

func (c *crashInterceptor) crash() {
	f, err := os.OpenFile(c.marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return // another process crashed here already
	}
	f.Close()
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	time.Sleep(time.Minute) // the signal is on its way
}

// crashOnActivity, as SEVER_TEST_CRASH=activity:NAME, kills the worker when it
// starts the activity NAME: mid-incident, with the activity's outcome unknown.
// crashAfterActivity kills it once the activity has done its work, before Temporal
// hears the result: "the call succeeded but the answer was lost".
// crashRandom, as SEVER_TEST_CRASH=random:P, dies with probability P before and
// again after each activity.
const (
	crashOnActivity    = "activity:"
	crashAfterActivity = "after-activity:"
	crashRandom        = "random:"
)

// workerProcess is a worker running in a child process.
type workerProcess struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited; err is then set
	err  error
}

// startWorkerProcess runs a worker in a child process attached to the stack's
// frontend, with extra environment (crash points).
func startWorkerProcess(t *testing.T, s *stack, cfgPath string, env ...string) *workerProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envWorkerConfig+"="+cfgPath, envWorkerAddr+"="+s.Temporal.FrontendAddress())
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &workerProcess{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// killed waits for the process to die of SIGKILL.
func (p *workerProcess) killed(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-p.done:
		err := p.err
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("worker process ended with %v, want SIGKILL", err)
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("worker process ended with %v, want SIGKILL", err)
		}
	case <-time.After(within):
		t.Fatalf("worker process still running after %v; the crash point was never reached", within)
	}
}
