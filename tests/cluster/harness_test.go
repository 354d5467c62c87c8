//go:build cluster

package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Environment the harness reads; make test-cluster sets the first one.
const (
	// envBin is a directory holding sever, temporal-server and temporal-sql-tool. Unset,
	// the harness builds them into the user's cache dir.
	envBin = "SEVER_CLUSTER_BIN"
	// envPGBin is the directory of PostgreSQL's initdb and postgres; unset, the newest
	// /usr/lib/postgresql/*/bin (Debian's postgresql package).
	envPGBin = "SEVER_CLUSTER_PG_BIN"
	// envKeep keeps the scratch dirs (logs, configs) after the test, for a post-mortem.
	envKeep = "SEVER_CLUSTER_KEEP"
)

// harness owns every child process of one test and the scratch dirs they use.
type harness struct {
	t    *testing.T
	root string // scratch root: configs, data dirs, logs
	logs string

	mu    sync.Mutex
	procs []*proc
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	root, err := os.MkdirTemp("", "sever-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	// PostgreSQL runs as its own user when the test runs as root: the scratch root
	// must be traversable by it (its own data dir is still 0700).
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, root: root, logs: filepath.Join(root, "logs")}
	if err := os.MkdirAll(h.logs, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.stopAll()
		if t.Failed() {
			h.dumpLogs()
		}
		if os.Getenv(envKeep) != "" || t.Failed() {
			t.Logf("scratch dir kept: %s", root)
			return
		}
		_ = os.RemoveAll(root)
	})
	return h
}

// proc is one child process, in its own process group so that stopping it also
// stops whatever it started.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed on exit; err is then set
	err  error
}

// procOptions shape a child process.
type procOptions struct {
	env  []string
	dir  string
	cred *syscall.Credential // run as another user (PostgreSQL refuses root)
}

// start runs bin with args; its output goes to logs/<name>.log.
func (h *harness) start(name string, o procOptions, bin string, args ...string) *proc {
	h.t.Helper()
	logPath := filepath.Join(h.logs, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		h.t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), o.env...)
	cmd.Dir = o.dir
	cmd.Stdout, cmd.Stderr = f, f
	// Pdeathsig: if the test binary itself dies, its children die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: o.cred}
	if err := cmd.Start(); err != nil {
		f.Close()
		h.t.Fatalf("start %s (%s): %v", name, bin, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	h.mu.Lock()
	h.procs = append(h.procs, p)
	h.mu.Unlock()
	return p
}

// exited reports whether p has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill SIGKILLs p's whole process group and waits for it: a host lost at once.
func (p *proc) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// stop asks p's group to stop, and kills it after a grace period.
func (p *proc) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.kill()
	}
}

// stopAll stops every process in reverse start order: sever before Temporal before
// PostgreSQL.
func (h *harness) stopAll() {
	h.mu.Lock()
	procs := append([]*proc(nil), h.procs...)
	h.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop(15 * time.Second)
	}
}

// dumpLogs prints the end of every log, for a failed run.
func (h *harness) dumpLogs() {
	entries, _ := os.ReadDir(h.logs)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(h.logs, e.Name()))
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 30 {
			lines = lines[len(lines)-30:]
		}
		for i, l := range lines {
			if len(l) > 400 {
				lines[i] = l[:400] + " …"
			}
		}
		h.t.Logf("=== last lines of %s\n%s", e.Name(), strings.Join(lines, "\n"))
	}
}

// run runs a short command to completion and fails the test if it fails.
func (h *harness) run(name string, o procOptions, bin string, args ...string) string {
	h.t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), o.env...)
	cmd.Dir = o.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: o.cred}
	out, err := cmd.CombinedOutput()
	if err != nil {
		h.t.Fatalf("%s: %s %s: %v\n%s", name, filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// freePorts returns n distinct free loopback ports below 32768: Temporal keeps
// membership ports in a smallint column, so the kernel's ephemeral range (from
// 32768 up) will not do. They are free when returned, and the processes that take
// them start right after.
func (h *harness) freePorts(n int) []int {
	h.t.Helper()
	var lns []net.Listener
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 10000 {
			h.t.Fatalf("no %d free loopback ports below 32768", n)
		}
		port := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		lns = append(lns, ln)
		ports = append(ports, port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// waitFor polls cond until it returns nil or the timeout passes, and fails the test
// with cond's last error then. A process in dead, if exited, fails it at once.
func (h *harness) waitFor(what string, timeout time.Duration, cond func() error, dead ...*proc) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		for _, p := range dead {
			if p.exited() {
				h.t.Fatalf("waiting for %s: %s exited: %v (log %s)", what, p.name, p.err, p.log)
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// binaries are the executables the harness runs.
type binaries struct {
	sever, temporal, sqlTool string
	schema                   string // go.temporal.io/server's schema/postgresql/v12
}

// moduleRoot is the repository root, two levels up from this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(filepath.Dir(wd))
}

// findBinaries uses $SEVER_CLUSTER_BIN, or builds the three binaries from go.mod's
// pinned modules into the user cache dir (the Go build cache makes a rebuild cheap).
func findBinaries(t *testing.T) binaries {
	t.Helper()
	root := moduleRoot(t)
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "go.temporal.io/server").Output()
	if err != nil {
		t.Fatalf("go list -m go.temporal.io/server: %v", err)
	}
	b := binaries{schema: filepath.Join(strings.TrimSpace(string(out)), "schema", "postgresql", "v12")}
	dir := os.Getenv(envBin)
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(cache, "sever-cluster")
		for bin, pkg := range map[string]string{
			"sever": "./cmd/sever", "temporal-server": "go.temporal.io/server/cmd/server",
			"temporal-sql-tool": "go.temporal.io/server/cmd/tools/sql",
		} {
			start := time.Now()
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, bin), pkg)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go build %s: %v\n%s", pkg, err, out)
			}
			t.Logf("built %s in %v", bin, time.Since(start).Round(time.Second))
		}
	}
	b.sever, b.temporal, b.sqlTool = filepath.Join(dir, "sever"), filepath.Join(dir, "temporal-server"), filepath.Join(dir, "temporal-sql-tool")
	for _, p := range []string{b.sever, b.temporal, b.sqlTool} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("cluster binary: %v (make test-cluster builds them)", err)
		}
	}
	return b
}

// postgres is a PostgreSQL server on a loopback port with a scratch data dir.
type postgres struct {
	port int
	user string // superuser, trust authentication on loopback
}

// url is a connection URL for database db.
func (pg *postgres) url(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", pg.user, pg.port, db)
}

// pgBinDir finds initdb and postgres.
func pgBinDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv(envPGBin); d != "" {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) < pgMajor(dirs[j]) })
	if len(dirs) == 0 {
		t.Fatalf("PostgreSQL is not installed: apt-get install -y postgresql (or set %s)", envPGBin)
	}
	return dirs[len(dirs)-1]
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// startPostgres runs initdb and postgres. As root it runs them as the postgres user,
// since PostgreSQL refuses to run as root.
func (h *harness) startPostgres() *postgres {
	h.t.Helper()
	bin := pgBinDir(h.t)
	dir := filepath.Join(h.root, "postgres")
	if err := os.MkdirAll(filepath.Join(dir, "sock"), 0o700); err != nil {
		h.t.Fatal(err)
	}
	var o procOptions
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			h.t.Fatalf("running as root needs the postgres user (from the postgresql package): %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		o.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		for _, p := range []string{dir, filepath.Join(dir, "sock")} {
			if err := os.Chown(p, uid, gid); err != nil {
				h.t.Fatal(err)
			}
		}
	}
	o.dir = dir
	pg := &postgres{port: h.freePorts(1)[0], user: "sever"}
	data := filepath.Join(dir, "data")
	// --no-sync and fsync=off: a scratch cluster need not survive a power cut.
	h.run("initdb", o, filepath.Join(bin, "initdb"), "-D", data, "-U", pg.user, "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C")
	p := h.start("postgres", o, filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(pg.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+filepath.Join(dir, "sock"),
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=300")
	h.waitFor("PostgreSQL to accept connections", time.Minute, func() error {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", pg.port), time.Second)
		if err != nil {
			return err
		}
		c.Close()
		return nil
	}, p)
	return pg
}

// temporalCluster is Temporal's server as four processes.
type temporalCluster struct {
	frontend  string // host:port
	namespace string
	procs     map[string]*proc
	tls       *tls.Config // mutual TLS of the harness's own clients
}

// temporalConfig is the server's config: PostgreSQL persistence and visibility, each
// service on its own loopback gRPC and membership ports.
const temporalConfig = `log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: 4
  datastores:
    default:
      sql:
        pluginName: postgres12
        databaseName: temporal
        connectAddr: "127.0.0.1:{{.PG}}"
        connectProtocol: tcp
        user: {{.User}}
        password: ""
        maxConns: 10
        maxIdleConns: 10
        maxConnLifetime: 1h
    visibility:
      sql:
        pluginName: postgres12
        databaseName: temporal_visibility
        connectAddr: "127.0.0.1:{{.PG}}"
        connectProtocol: tcp
        user: {{.User}}
        password: ""
        maxConns: 4
        maxIdleConns: 4
        maxConnLifetime: 1h
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
  # Mutual TLS on the frontend, as a managed cluster has it: every client presents a
  # certificate from the cluster's CA, Temporal's own system worker included.
  tls:
    frontend:
      server:
        certFile: "{{.ServerCert}}"
        keyFile: "{{.ServerKey}}"
        clientCaFiles: ["{{.CA}}"]
        requireClientAuth: true
      client:
        serverName: {{.ServerName}}
        rootCaFiles: ["{{.CA}}"]
    systemWorker:
      certFile: "{{.ClientCert}}"
      keyFile: "{{.ClientKey}}"
      client:
        serverName: {{.ServerName}}
        rootCaFiles: ["{{.CA}}"]
services:
  frontend:
    rpc: {grpcPort: {{.FrontendGRPC}}, membershipPort: {{.FrontendMembership}}, httpPort: {{.FrontendHTTP}}, bindOnLocalHost: true}
  history:
    rpc: {grpcPort: {{.HistoryGRPC}}, membershipPort: {{.HistoryMembership}}, bindOnLocalHost: true}
  matching:
    rpc: {grpcPort: {{.MatchingGRPC}}, membershipPort: {{.MatchingMembership}}, bindOnLocalHost: true}
  worker:
    rpc: {grpcPort: {{.WorkerGRPC}}, membershipPort: {{.WorkerMembership}}, bindOnLocalHost: true}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:{{.FrontendGRPC}}"
dcRedirectionPolicy:
  policy: noop
publicClient:
  hostPort: "127.0.0.1:{{.FrontendGRPC}}"
dynamicConfigClient:
  filepath: "{{.DynamicConfig}}"
  pollInterval: 10s
`

// dynamicConfig is the server's dynamic config: search attributes added to a
// fresh namespace are seen at once.
const dynamicConfig = `system.forceSearchAttributesCacheRefreshOnRead:
  - value: true
`

// startTemporal applies the schemas with the module's SQL tool, then starts the four
// services as separate processes and registers the namespace.
func (h *harness) startTemporal(b binaries, pg *postgres, certs *pki, namespace string) *temporalCluster {
	h.t.Helper()
	start := time.Now()
	sql := func(db string, args ...string) {
		base := []string{"--plugin", "postgres12", "--ep", "127.0.0.1", "-p", strconv.Itoa(pg.port), "-u", pg.user, "--db", db}
		h.run("temporal-sql-tool", procOptions{}, b.sqlTool, append(base, args...)...)
	}
	for db, schema := range map[string]string{"temporal": "temporal", "temporal_visibility": "visibility"} {
		sql(db, "create-database")
		sql(db, "setup-schema", "-v", "0.0")
		sql(db, "update-schema", "-d", filepath.Join(b.schema, schema, "versioned"))
	}
	h.t.Logf("Temporal schemas applied in %v", time.Since(start).Round(time.Millisecond))

	ports := h.freePorts(9)
	vals := map[string]string{
		"PG": strconv.Itoa(pg.port), "User": pg.user,
		"FrontendGRPC": strconv.Itoa(ports[0]), "FrontendMembership": strconv.Itoa(ports[1]), "FrontendHTTP": strconv.Itoa(ports[2]),
		"HistoryGRPC": strconv.Itoa(ports[3]), "HistoryMembership": strconv.Itoa(ports[4]),
		"MatchingGRPC": strconv.Itoa(ports[5]), "MatchingMembership": strconv.Itoa(ports[6]),
		"WorkerGRPC": strconv.Itoa(ports[7]), "WorkerMembership": strconv.Itoa(ports[8]),
		"DynamicConfig": filepath.Join(h.root, "temporal-dynamic.yaml"),
		"CA":            certs.ca, "ServerCert": certs.serverCert, "ServerKey": certs.serverKey,
		"ClientCert": certs.clientCert, "ClientKey": certs.clientKey, "ServerName": frontendName,
	}
	cfg := temporalConfig
	for k, v := range vals {
		cfg = strings.ReplaceAll(cfg, "{{."+k+"}}", v)
	}
	cfgPath := filepath.Join(h.root, "temporal.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(vals["DynamicConfig"], []byte(dynamicConfig), 0o644); err != nil {
		h.t.Fatal(err)
	}
	tc := &temporalCluster{frontend: "127.0.0.1:" + vals["FrontendGRPC"], namespace: namespace, procs: map[string]*proc{}, tls: certs.client}
	var all []*proc
	// One at a time: each service writes the cluster's metadata and system namespace
	// at its first start, and two doing that at once make one of them exit.
	for _, svc := range []struct{ name, port string }{
		{"history", "HistoryGRPC"}, {"matching", "MatchingGRPC"}, {"frontend", "FrontendGRPC"}, {"worker", "WorkerGRPC"},
	} {
		p := h.start("temporal-"+svc.name, procOptions{dir: h.root}, b.temporal,
			"--config-file", cfgPath, "--allow-no-auth", "start", "--service", svc.name)
		tc.procs[svc.name] = p
		all = append(all, p)
		h.waitFor("Temporal "+svc.name+" to listen", 2*time.Minute, func() error {
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+vals[svc.port], time.Second)
			if err != nil {
				return err
			}
			return c.Close()
		}, all...)
	}

	var c client.Client
	h.waitFor("the Temporal frontend", 2*time.Minute, func() error {
		var err error
		c, err = client.Dial(client.Options{HostPort: tc.frontend, Namespace: "temporal-system", Logger: quietLogger{},
			ConnectionOptions: client.ConnectionOptions{TLS: tc.tls}})
		if err != nil {
			return err
		}
		if _, err := c.CheckHealth(context.Background(), &client.CheckHealthRequest{}); err != nil {
			c.Close()
			return err
		}
		return nil
	}, all...)
	defer c.Close()
	nc, err := client.NewNamespaceClient(client.Options{HostPort: tc.frontend, Logger: quietLogger{},
		ConnectionOptions: client.ConnectionOptions{TLS: tc.tls}})
	if err != nil {
		h.t.Fatal(err)
	}
	defer nc.Close()
	h.waitFor("namespace "+namespace, 2*time.Minute, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace: namespace, WorkflowExecutionRetentionPeriod: durationpb.New(72 * time.Hour)})
		var exists *serviceerror.NamespaceAlreadyExists
		if err != nil && !errors.As(err, &exists) {
			return err
		}
		_, err = nc.Describe(ctx, namespace)
		return err
	}, all...)
	h.t.Logf("Temporal cluster (4 processes) up in %v on %s", time.Since(start).Round(time.Millisecond), tc.frontend)
	return tc
}

// quietLogger drops the SDK's log lines: the harness reports what matters.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
