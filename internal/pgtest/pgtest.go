// Package pgtest starts a scratch PostgreSQL server for the tests of a package: initdb
// and pg_ctl from the machine's PostgreSQL binaries, a data dir in a temporary
// directory, a loopback port, trust authentication, fsync off. Each test gets a schema
// of its own (Schema), so tests share the server but never each other's rows.
//
// Without the binaries the tests that need the server skip, saying so; with
// SEVER_REQUIRE_POSTGRES set (CI) they fail instead. A package that uses the server
// runs its tests through Main, which stops the server when they end.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// RequireEnv turns a missing PostgreSQL into a test failure instead of a skip.
const RequireEnv = "SEVER_REQUIRE_POSTGRES"

// BinDirEnv names a directory holding initdb and pg_ctl, when they are not on PATH or
// in /usr/lib/postgresql/<version>/bin.
const BinDirEnv = "SEVER_POSTGRES_BIN"

// Server is a running scratch PostgreSQL.
type Server struct {
	// URL connects to its postgres database as the superuser, over TCP on loopback.
	URL string

	dir, data, pgCtl string
	cred             *syscall.Credential // set when the tests run as root
}

// findBin returns the directory with initdb and pg_ctl, or "".
func findBin() string {
	var dirs []string
	if d := os.Getenv(BinDirEnv); d != "" {
		dirs = append(dirs, d)
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(m) > 0 {
		// The newest version first: the glob sorts "15" after "14".
		for i := len(m) - 1; i >= 0; i-- {
			dirs = append(dirs, m[i])
		}
	}
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d
		}
	}
	return ""
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Start runs initdb in a new directory under dir's parent temp space and starts the
// server on a free loopback port. PostgreSQL refuses to run as root, so as root it
// runs as the postgres user (or nobody) and the directory is handed to that user.
func Start(dir string) (*Server, error) {
	bin := findBin()
	if bin == "" {
		return nil, errNoBinaries
	}
	s := &Server{dir: dir, data: filepath.Join(dir, "data"), pgCtl: filepath.Join(bin, "pg_ctl")}
	if os.Geteuid() == 0 {
		cred, err := unprivileged()
		if err != nil {
			return nil, err
		}
		s.cred = cred
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, err
		}
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("pgtest: hand %s to uid %d: %w", dir, cred.Uid, err)
		}
		// The user must be able to reach dir: make its parents traversable.
		for p := filepath.Dir(dir); p != "/" && p != "."; p = filepath.Dir(p) {
			if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o001 == 0 {
				os.Chmod(p, fi.Mode().Perm()|0o011)
			}
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", s.data, "-U", "postgres", "--auth=trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := s.run(initdb); err != nil {
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	var lastErr error
	for range 3 { // a port found free can be taken before the server binds it
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
			port, dir)
		start := exec.Command(s.pgCtl, "-D", s.data, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "-o", opts, "start")
		out, err := s.run(start)
		if err == nil {
			s.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
			return s, nil
		}
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		lastErr = fmt.Errorf("pgtest: pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	return nil, lastErr
}

var errNoBinaries = errors.New("PostgreSQL binaries (initdb, pg_ctl) not found on PATH, in /usr/lib/postgresql/*/bin or $" + BinDirEnv)

func (s *Server) run(c *exec.Cmd) ([]byte, error) {
	if s.cred != nil {
		c.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
		c.Dir = s.dir
		c.Env = append(os.Environ(), "HOME="+s.dir)
	}
	return c.CombinedOutput()
}

// unprivileged returns the credential of the postgres user, or of nobody.
func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("pgtest: running as root and neither a postgres nor a nobody user exists to run PostgreSQL as")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Stop stops the server (fast shutdown) and removes its directory.
func (s *Server) Stop() error {
	_, err := s.run(exec.Command(s.pgCtl, "-D", s.data, "-m", "immediate", "-w", "stop"))
	os.RemoveAll(s.dir)
	return err
}

var (
	sharedOnce sync.Once
	shared     *Server
	sharedErr  error
	schemaN    atomic.Int64
)

// startShared starts the package's server once.
func startShared() error {
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sever-pgtest-")
		if err != nil {
			sharedErr = err
			return
		}
		shared, sharedErr = Start(dir)
		if sharedErr != nil {
			os.RemoveAll(dir)
		}
	})
	return sharedErr
}

// Shared returns the package's server, starting it on first use; it skips the test
// (fails it with SEVER_REQUIRE_POSTGRES set) when the PostgreSQL binaries are missing,
// and fails it when they are there but the server does not start.
func Shared(t testing.TB) *Server {
	t.Helper()
	if err := startShared(); err != nil {
		if errors.Is(err, errNoBinaries) && os.Getenv(RequireEnv) == "" {
			t.Skipf("skipping the PostgreSQL backend: %v (install postgresql; set %s=1 to make this a failure)", err, RequireEnv)
		}
		t.Fatalf("PostgreSQL backend: %v", err)
	}
	return shared
}

// Available starts the package's server and reports whether there is one, for a
// TestMain that runs a suite once per backend: false with a nil error when the
// binaries are missing (a skip), an error when they are there but the server does not
// start or SEVER_REQUIRE_POSTGRES is set.
func Available() (bool, error) {
	err := startShared()
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, errNoBinaries) && os.Getenv(RequireEnv) == "":
		return false, nil
	}
	return false, err
}

// Main runs the package's tests and then stops the shared server, if one started.
func Main(m *testing.M) int {
	code := m.Run()
	StopShared()
	return code
}

// StopShared stops the shared server, if one started.
func StopShared() {
	if shared != nil {
		shared.Stop()
		shared = nil
	}
}

// Schema returns the shared server's URL and a new, empty schema name for one test;
// the schema is dropped when the test ends. Skips like Shared.
func Schema(t testing.TB) (url, schema string) {
	t.Helper()
	s := Shared(t)
	schema = fmt.Sprintf("t%d_%d", os.Getpid(), schemaN.Add(1))
	t.Cleanup(func() {
		db, err := sql.Open("pgx", s.URL)
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db.ExecContext(ctx, `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`)
	})
	return s.URL, schema
}

// Exec runs statements on the shared server's postgres database as the superuser, with
// schema first on the search_path and triggers off (session_replication_role =
// replica): what someone with the database's owner rights could do. For tamper tests.
func Exec(t testing.TB, schema string, stmts ...string) {
	t.Helper()
	db := SuperDB(t, schema)
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// SuperDB opens one superuser connection to the shared server with schema first on the
// search_path and triggers off; it is closed when the test ends.
func SuperDB(t testing.TB, schema string) *sql.DB {
	t.Helper()
	s := Shared(t)
	sep := "&"
	if !strings.Contains(s.URL, "?") {
		sep = "?"
	}
	db, err := sql.Open("pgx", s.URL+sep+"search_path="+schema+"&session_replication_role=replica")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// New starts a server of the test's own in t.TempDir() and stops it when the test
// ends, for a package without pgtest.Main in its TestMain. Skips like Shared.
func New(t testing.TB) *Server {
	t.Helper()
	s, err := Start(t.TempDir())
	if err != nil {
		if errors.Is(err, errNoBinaries) && os.Getenv(RequireEnv) == "" {
			t.Skipf("skipping: %v (install postgresql; set %s=1 to make this a failure)", err, RequireEnv)
		}
		t.Fatalf("PostgreSQL: %v", err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}
