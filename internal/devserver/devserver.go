// Package devserver embeds a real Temporal server (frontend, history,
// matching and worker services in one process) on a SQLite file, optionally
// with the Temporal Web UI, for `sever dev` and for tests.
//
// It is the only package in sever that imports go.temporal.io/server: the
// server is not a semver-stable library, so everything that depends on its
// internals stays here. A data directory written by one server version is
// never opened by another (see ErrIncompatibleDataDir).
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	temporalserver "go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Defaults applied by Start to zero-valued Options fields.
const (
	DefaultFrontendIP = "127.0.0.1"
	// DefaultFrontendPort is the conventional Temporal port. Start does not
	// apply it (FrontendPort 0 means "pick a free port"); the CLI flag uses it.
	DefaultFrontendPort = 7233
	DefaultNamespace    = "default"
	DefaultRetention    = 7 * 24 * time.Hour
)

const (
	clusterName = "active"
	// internalIP is where history, matching and worker listen: they are only
	// reached from inside this process, whatever FrontendIP is.
	internalIP = "127.0.0.1"
	// uiReadyTimeout bounds the wait for the UI listener after its start.
	uiReadyTimeout = 10 * time.Second
)

// Options configure Start.
type Options struct {
	// DataDir is required. The SQLite database is DataDir/temporal.db and the
	// schema-version guard DataDir/temporal-schema.json. The directory is
	// created (0700) when missing.
	DataDir string
	// FrontendIP is the IP the frontend (and the UI) listen on; default
	// 127.0.0.1. It must be an IP address, not a host name.
	FrontendIP string
	// FrontendPort is the frontend gRPC port; 0 picks a free port.
	// `sever dev` passes DefaultFrontendPort (7233) unless told otherwise.
	FrontendPort int
	// UIPort is the Web UI port when UI is set. 0 means FrontendPort+1000
	// (8233 for 7233), or a free port when FrontendPort is 0 too.
	UIPort int
	// UI serves the Temporal Web UI like `temporal server start-dev`.
	UI bool
	// Namespace is created on first boot; default "default".
	Namespace string
	// Retention is the namespace's workflow retention, applied on every boot;
	// default 7 days.
	Retention time.Duration
	// SearchAttributes are registered on the namespace on every boot. SQLite
	// offers a fixed number of slots per type (10 Keyword, 3 of each other).
	SearchAttributes map[string]enums.IndexedValueType
	// Logger receives the server's logs at WARN and above; nil discards them.
	Logger *slog.Logger
}

// Server is a running embedded Temporal server.
type Server struct {
	server    temporalserver.Server
	ui        *uiserver.Server
	uiDone    chan struct{} // closed when the UI's Start returns
	logLevel  *slog.LevelVar
	frontend  string
	uiAddr    string
	namespace string
	lock      *os.File // flock on DataDir/temporal.lock; nil where unsupported
	config    *devConfig

	stopOnce sync.Once
	stopErr  error
}

// FrontendAddress is the host:port SDK clients dial, e.g. "127.0.0.1:7233".
func (s *Server) FrontendAddress() string { return s.frontend }

// UIAddress is the Web UI's host:port, or "" when the UI is off.
func (s *Server) UIAddress() string { return s.uiAddr }

// Namespace is the namespace Start created or reused.
func (s *Server) Namespace() string { return s.namespace }

// Start boots the server and returns once the frontend accepts calls, the
// namespace has its retention and search attributes, and the UI (if any)
// listens. Stop it with Stop.
func Start(ctx context.Context, o Options) (*Server, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("devserver: create data dir: %w", err)
	}
	lock, err := lockDataDir(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("devserver: %w", err)
	}
	s, err := start(ctx, o, lock)
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		return nil, err
	}
	return s, nil
}

func start(ctx context.Context, o Options, lock *os.File) (*Server, error) {
	fresh, err := checkGuard(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("devserver: %w", err)
	}
	ports, err := o.choosePorts()
	if err != nil {
		return nil, fmt.Errorf("devserver: %w", err)
	}
	if err := prepareDatabase(o, fresh); err != nil {
		return nil, fmt.Errorf("devserver: %w", err)
	}

	level := &slog.LevelVar{}
	level.Set(slog.LevelWarn)
	dc := newDevConfig()
	srv, err := temporalserver.NewServer(serverOptions(o, ports, serverLogger{out: o.Logger, level: level}, dc)...)
	if err != nil {
		return nil, fmt.Errorf("devserver: configure Temporal server: %w", err)
	}
	// On failure the server has already rolled back what it started.
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("devserver: start Temporal server: %w", err)
	}
	s := &Server{
		server:    srv,
		logLevel:  level,
		frontend:  ports.frontendDial,
		namespace: o.Namespace,
		lock:      lock,
		config:    dc,
	}
	added, err := reconcileNamespace(ctx, s.frontend, o)
	if err != nil {
		s.shutdown()
		return nil, fmt.Errorf("devserver: %w", err)
	}
	dc.settle(added)
	if o.UI {
		if err := s.startUI(ctx, o, ports); err != nil {
			s.shutdown()
			return nil, fmt.Errorf("devserver: %w", err)
		}
	}
	return s, nil
}

// Stop shuts down the UI, then the server. It is safe to call more than
// once. Shutdown warnings are suppressed: the server emits several routinely.
//
// Two resources outlive Stop because the libraries offer no way to release
// them: the server's SQLite plugin keeps its connection to the database file
// open for the life of the process (a later Start on the same DataDir reuses
// it), and the UI server never closes its gRPC client connection.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.stopErr = s.shutdown()
		if s.lock != nil {
			s.lock.Close() // releases the data dir
		}
	})
	return s.stopErr
}

// shutdown stops the UI and the server, leaving the data dir locked.
func (s *Server) shutdown() error {
	s.logLevel.Set(slog.LevelError)
	s.config.stop()
	if s.ui != nil {
		s.ui.Stop()
		<-s.uiDone
	}
	if err := s.server.Stop(); err != nil {
		return fmt.Errorf("devserver: stop Temporal server: %w", err)
	}
	return nil
}

func (o Options) withDefaults() (Options, error) {
	if o.DataDir == "" {
		return o, errors.New("devserver: DataDir is required")
	}
	dir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return o, fmt.Errorf("devserver: data dir: %w", err)
	}
	// The SQLite plugin builds a "file:<path>?<params>" URI without escaping.
	if strings.ContainsAny(dir, "?#") {
		return o, fmt.Errorf("devserver: data dir %q must not contain '?' or '#'", dir)
	}
	o.DataDir = dir
	if o.FrontendIP == "" {
		o.FrontendIP = DefaultFrontendIP
	}
	if net.ParseIP(o.FrontendIP) == nil {
		return o, fmt.Errorf("devserver: frontend IP %q is not an IP address", o.FrontendIP)
	}
	if o.FrontendPort < 0 || o.FrontendPort > 65535 {
		return o, fmt.Errorf("devserver: frontend port %d out of range", o.FrontendPort)
	}
	if o.UIPort < 0 || o.UIPort > 65535 {
		return o, fmt.Errorf("devserver: UI port %d out of range", o.UIPort)
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.Retention < 0 {
		return o, fmt.Errorf("devserver: negative retention %v", o.Retention)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// portPlan holds every port the server will bind.
type portPlan struct {
	frontend     int
	frontendDial string // address clients use (loopback when bound to 0.0.0.0)
	ui           int    // 0 when the UI is off
	http         int    // frontend HTTP API (also serves Nexus)
	history      int
	matching     int
	worker       int
}

func (o Options) choosePorts() (portPlan, error) {
	var p portPlan
	var err error
	if o.FrontendPort != 0 {
		if err := checkPortFree(o.FrontendIP, o.FrontendPort, "Temporal frontend"); err != nil {
			return p, err
		}
		p.frontend = o.FrontendPort
	} else if p.frontend, err = freePort(o.FrontendIP); err != nil {
		return p, err
	}
	p.frontendDial = hostPort(dialIP(o.FrontendIP), p.frontend)

	if o.UI {
		switch {
		case o.UIPort != 0:
			p.ui = o.UIPort
		case o.FrontendPort != 0:
			p.ui = min(o.FrontendPort+1000, 65535)
		}
		if p.ui != 0 {
			if err := checkPortFree(o.FrontendIP, p.ui, "Temporal Web UI"); err != nil {
				return p, err
			}
		} else if p.ui, err = freePort(o.FrontendIP); err != nil {
			return p, err
		}
	}
	for _, port := range []*int{&p.history, &p.matching, &p.worker} {
		if *port, err = freePort(internalIP); err != nil {
			return p, err
		}
	}
	// Without an HTTP port the server warns on every boot that Nexus is off.
	if p.http, err = freePort(o.FrontendIP); err != nil {
		return p, err
	}
	return p, nil
}

// dialIP is the address a local client uses to reach a listener bound to
// ip: loopback for a wildcard address, else ip itself.
func dialIP(ip string) string {
	if net.ParseIP(ip).IsUnspecified() {
		return internalIP
	}
	return ip
}

// sqlConfig is the one SQLite store behind both the default and the
// visibility store. Connection attributes other than URI parameters become
// `_pragma=key=value`, hence no leading underscores. MaxConns stays
// unset (one connection): with 4, measured here, writes failed with
// SQLITE_BUSY (5 and 517) despite busy_timeout: a transaction that reads
// first and then writes gets BUSY at once instead of waiting.
func sqlConfig(dataDir string) *config.SQL {
	return &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: filepath.Join(dataDir, dbFileName),
		ConnectAttributes: map[string]string{
			"mode":         "rwc",
			"journal_mode": "wal",
			"synchronous":  "normal",
			"busy_timeout": "10000",
		},
	}
}

// prepareDatabase creates the schema for a new database, writes the guard
// file, makes sure the namespace exists (a no-op when it does) and trims the
// visibility indexes to those the stack queries (trimVisibilityIndexes).
func prepareDatabase(o Options, fresh bool) error {
	if fresh {
		removeDB(o.DataDir) // stray WAL files of a deleted database
		if err := sqliteschema.SetupSchema(sqlConfig(o.DataDir)); err != nil {
			removeDB(o.DataDir)
			return fmt.Errorf("create SQLite schema in %s: %w", o.DataDir, err)
		}
		if err := writeGuard(o.DataDir, time.Now()); err != nil {
			removeDB(o.DataDir)
			return err
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, o.Namespace, false, o.SearchAttributes)
	if err != nil {
		return fmt.Errorf("namespace %q: %w", o.Namespace, err)
	}
	// Created with the right retention, so a first boot has nothing to fix.
	ns.Detail.Config.Retention = durationpb.New(o.Retention)
	if err := sqliteschema.CreateNamespaces(sqlConfig(o.DataDir), ns); err != nil {
		return fmt.Errorf("create namespace %q: %w", o.Namespace, err)
	}
	return trimVisibilityIndexes(o.DataDir)
}

// dynamicConfig holds the dev-server settings, after `temporal server
// start-dev`. Whether search attributes are re-read on every use is not among
// them: devConfig decides that.
func dynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		dynamicconfig.ForceNexusEndpointRefreshOnRead.Key(): true,
		// Signal intake answers each POST with a consistent query (was this a
		// duplicate?); a storm about one credential queues many at once, and the
		// default buffer of 1 turns all but one into ResourceExhausted retries.
		dynamicconfig.MaxBufferedQueryCount.Key(): 256,
		// The cache refresh above costs reads: raise persistence QPS limits
		// in the same ratio as the defaults.
		dynamicconfig.FrontendPersistenceMaxQPS.Key(): 10000,
		dynamicconfig.HistoryPersistenceMaxQPS.Key():  45000,
		// Visibility (list/count) calls are the UI's and the CLI's bread and
		// butter; the default of 10/s is throttled by one open browser tab.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		// A smaller mutable-state cache (default 128k entries) keeps a
		// long-running dev process lean.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): 8096,
		// One process serves every partition: a single partition per task
		// queue spares matching the forwarding between partitions.
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  1,
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): 1,
		// History starts 512 task-processing goroutines per queue (about
		// 2,200 idle goroutines in all); one shard on one SQLite connection
		// cannot use them. 64 measured ~10-20 MB less RSS and less CPU per
		// workflow, at equal or better throughput.
		dynamicconfig.TimerProcessorSchedulerWorkerCount.Key():                  64,
		dynamicconfig.TransferProcessorSchedulerWorkerCount.Key():               64,
		dynamicconfig.VisibilityProcessorSchedulerWorkerCount.Key():             64,
		dynamicconfig.ReplicationProcessorSchedulerWorkerCount.Key():            8, // single cluster: unused
		dynamicconfig.ReplicationLowPriorityProcessorSchedulerWorkerCount.Key(): 8,
		// The transfer queue hands every new workflow task to matching. Its reader
		// polls at most 20 times a second per shard by default, sized for clusters
		// of hundreds of shards; on this one shard every workflow task waited for
		// the next poll, ~40 ms each: 250 ms for a 4-step incident that takes 55
		// ms without the cap. New tasks still wake the reader; it only stops
		// waiting for the rate limiter.
		dynamicconfig.TransferProcessorMaxPollRPS.Key(): 1000,
		// A history long poll (the UI following an incident, a client waiting for
		// a run's result) can miss the notification of its last event: the
		// server's per-watcher channel holds one and drops the rest. It then sat
		// out the default 20 s expiry; seen on ~1 in 130 runs once the transfer
		// queue stopped spacing workflow tasks out. The poll now re-reads the
		// state every second instead.
		dynamicconfig.HistoryLongPollExpirationInterval.Key(): time.Second,
		// The server never stops the SDK workers of these system components
		// (its code says so), so they keep long-polling the frontend: Stop
		// then waits out the frontend's 1 s drain and leaks their
		// goroutines. None is needed on a single-node dev store: history
		// applies parent-close policies inline without the worker, and the
		// scanners only garbage-collect idle task queues and orphaned
		// history branches.
		dynamicconfig.EnableParentClosePolicyWorker.Key(): false,
		dynamicconfig.TaskQueueScannerEnabled.Key():       false,
		dynamicconfig.HistoryScannerEnabled.Key():         false,
	}
}

func serverOptions(o Options, p portPlan, logger serverLogger, dc *devConfig) []temporalserver.ServerOption {
	var conf config.Config
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = internalIP

	conf.Persistence.DefaultStore = "sqlite"
	conf.Persistence.VisibilityStore = "sqlite"
	conf.Persistence.NumHistoryShards = 1 // fixed for the life of the file
	conf.Persistence.DataStores = map[string]config.DataStore{"sqlite": {SQL: sqlConfig(o.DataDir)}}

	conf.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             p.frontendDial,
				HTTPAddress:            hostPort(dialIP(o.FrontendIP), p.http),
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"

	service := func(ip string, port int) config.Service {
		var s config.Service
		s.RPC.GRPCPort = port
		s.RPC.BindOnIP = ip
		return s
	}
	frontend := service(o.FrontendIP, p.frontend)
	frontend.RPC.HTTPPort = p.http
	conf.Services = map[string]config.Service{
		string(primitives.FrontendService): frontend,
		string(primitives.HistoryService):  service(internalIP, p.history),
		string(primitives.MatchingService): service(internalIP, p.matching),
		string(primitives.WorkerService):   service(internalIP, p.worker),
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	// The server's own clients (the worker service's system workflows) dial
	// this; the server panics without it.
	conf.PublicClient.HostPort = p.frontendDial

	return []temporalserver.ServerOption{
		temporalserver.WithConfig(&conf),
		temporalserver.ForServices(temporalserver.DefaultServices),
		// Static membership: no ringpop, no membership ports.
		temporalserver.WithStaticHosts(map[primitives.ServiceName]static.Hosts{
			primitives.FrontendService: static.SingleLocalHost(p.frontendDial),
			primitives.HistoryService:  static.SingleLocalHost(hostPort(internalIP, p.history)),
			primitives.MatchingService: static.SingleLocalHost(hostPort(internalIP, p.matching)),
			primitives.WorkerService:   static.SingleLocalHost(hostPort(internalIP, p.worker)),
		}),
		temporalserver.WithLogger(logger),
		temporalserver.WithDynamicConfigClient(dc),
	}
}

func (s *Server) startUI(ctx context.Context, o Options, p portPlan) error {
	s.uiAddr = hostPort(o.FrontendIP, p.ui)
	dialUI := hostPort(dialIP(o.FrontendIP), p.ui)
	host := o.FrontendIP
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // the UI server formats "%s:%d"
	}
	s.ui = uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
		Host:                host,
		Port:                p.ui,
		TemporalGRPCAddress: s.frontend,
		EnableUI:            true,
		DefaultNamespace:    o.Namespace,
		CORS:                uiconfig.CORS{CookieInsecure: true},
		HideLogs:            true,
		DisableNewsFetch:    true,
	}))
	s.uiDone = make(chan struct{})
	// Start blocks until Stop, and exits the process when it cannot listen:
	// choosePorts checked the port beforehand.
	go func() {
		defer close(s.uiDone)
		_ = s.ui.Start()
	}()

	// Return only once the UI accepts connections.
	deadline := time.Now().Add(uiReadyTimeout)
	var d net.Dialer
	for {
		dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		conn, err := d.DialContext(dctx, "tcp", dialUI)
		cancel()
		if err == nil {
			return conn.Close()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("web UI did not listen on %s within %v: %w", s.uiAddr, uiReadyTimeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
