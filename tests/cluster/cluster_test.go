//go:build cluster

package cluster

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sever-ir/sever/drillcloud"
	"github.com/sever-ir/sever/drillcloud/drilltest"
	"github.com/sever-ir/sever/internal/pgstore"
	"github.com/sever-ir/sever/ledger"
)

// clusterRunbook is the AWS key runbook with short step timeouts, so a step held by a
// SIGKILLed worker is retried by the other within seconds rather than the built-in's
// minutes. It outranks the built-in (priority 10).
const clusterRunbook = `name: cluster-aws-key
version: "1"
description: Confirm the owner, capture, deactivate and verify, revoke older sessions.
match:
  credential_types: [aws_access_key]
  signal_kinds: [anomalous_usage]
  priority: 10
defaults:
  timeout: 5s
  max_attempts: 20
steps:
  - id: key-owner
    action: aws.sts.key_owner
  - id: capture
    action: sever.evidence.capture_signals
  - id: deactivate
    action: aws.iam.deactivate_access_key
    needs: [key-owner, capture]
    containment: true
    args: {reason: exposed credential}
    verify:
      action: aws.iam.key_status
      args: {expect: inactive}
  - id: revoke-sessions
    action: aws.iam.revoke_sessions
    needs: [deactivate]
  - id: notify
    action: sever.notify.log
    needs: [revoke-sessions]
    args: {message: deactivated}
`

// incidentsWanted is SEVER_CLUSTER_INCIDENTS, default 20.
func incidentsWanted(t *testing.T) int {
	if s := os.Getenv("SEVER_CLUSTER_INCIDENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 2 {
			t.Fatalf("SEVER_CLUSTER_INCIDENTS=%q: want a whole number of at least 2", s)
		}
		return n
	}
	return 20
}

// TestCluster runs the chaos workload on a real Temporal cluster: N stolen AWS keys
// reported through the API of a `sever serve` process while two `sever worker`
// processes, each with its own data dir, contain them; the drill cloud throttles,
// fails and drops calls, and each worker is SIGKILLed mid-workload and replaced by
// a fresh host. Every incident is contained, no key is deactivated twice, the one
// ledger in PostgreSQL verifies, and no data dir holds a file.
func TestCluster(t *testing.T) {
	wall := time.Now()
	h := newHarness(t)
	bins := findBinaries(t)
	t.Logf("binaries ready in %v", time.Since(wall).Round(time.Millisecond))

	pg := h.startPostgres()
	certs := newPKI(t, filepath.Join(h.root, "pki"))
	tc := h.startTemporal(bins, pg, certs, "sever")
	// sever's own database: the ledger, the token store and the evidence of every host.
	h.run("create sever database", procOptions{}, bins.sqlTool, "--plugin", "postgres12", "--ep", "127.0.0.1",
		"-p", strconv.Itoa(pg.port), "-u", pg.user, "--db", "sever", "create-database")

	// The drill cloud: a stolen key per incident, and faults on every kind of call.
	n := incidentsWanted(t)
	seed := drillcloud.DefaultSeed()
	var keys []string
	for i := range n {
		user, key := fmt.Sprintf("cluster-ci-%d", i), fmt.Sprintf("AKIACLUSTER%09d", i)
		seed.Accounts[0].Users = append(seed.Accounts[0].Users, drillcloud.SeedUser{Name: user, Keys: []drillcloud.SeedKey{{ID: key}}})
		keys = append(keys, key)
	}
	seed.RandSeed = 11
	seed.Faults = append(seed.Faults,
		drillcloud.Fault{Kind: drillcloud.FaultThrottle, Probability: 0.20},
		drillcloud.Fault{Kind: drillcloud.FaultServerError, Probability: 0.10},
		drillcloud.Fault{Kind: drillcloud.FaultDropResponse, Probability: 0.05})
	cloud := drilltest.Start(t, seed)
	cloudURL := cloud.URL()
	responder, err := cloud.Credentials(drillcloud.DefaultResponderKeyID)
	if err != nil {
		t.Fatal(err)
	}

	// One config for every sever process; each gets its own --data-dir. Secrets are
	// references to the environment, as in production.
	rbDir := filepath.Join(h.root, "runbooks")
	if err := os.MkdirAll(rbDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rbDir, "cluster-aws-key.yaml"), []byte(clusterRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(h.root, "ledger-signing-key.pem")
	if _, err := ledger.GenerateKey(keyPath); err != nil {
		t.Fatal(err)
	}
	httpPort := h.freePorts(1)[0]
	const token = "sever_cluster_token_0123456789abcdef"
	cfg := fmt.Sprintf(`temporal:
  address: %s
  namespace: %s
  decision_key: env:SEVER_CLUSTER_DECISION_KEY
  tls:
    ca: file:%s
    client_cert: file:%s
    client_key: file:%s
    server_name: %s
http:
  listen: 127.0.0.1:%d
intake:
  tokens:
    - name: cluster
      secret: env:SEVER_CLUSTER_TOKEN
      scopes: [signals:write, incidents:read, incidents:write]
runbooks:
  dir: %s
  policy: %s
aws:
  region: %s
  endpoint_url: %s
  s3_use_path_style: true
  evidence_bucket: %s
  evidence_lock_mode: GOVERNANCE
ledger:
  signing_key: file:%s
log:
  level: warn
database:
  url: env:SEVER_CLUSTER_DB_URL
`, tc.frontend, tc.namespace, certs.ca, certs.clientCert, certs.clientKey, frontendName, httpPort, rbDir, filepath.Join(moduleRoot(t), "runbooks", "policy", "aws-preapproved.yaml"),
		drillcloud.DefaultRegion, cloudURL, drillcloud.DefaultEvidenceBucket, keyPath)
	cfgPath := filepath.Join(h.root, "sever.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"SEVER_CLUSTER_DECISION_KEY=cluster-decision-key-0123456789abcdef0123456789",
		"SEVER_CLUSTER_TOKEN=" + token,
		// Not SEVER_DATABASE_URL: that name is the environment override of database.url
		// itself, which must hold a reference, not the URL.
		"SEVER_CLUSTER_DB_URL=" + pg.url("sever"),
		"AWS_ACCESS_KEY_ID=" + responder.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + responder.SecretAccessKey,
		"AWS_REGION=" + drillcloud.DefaultRegion,
		// No TEMPORAL_* from the caller's shell may redirect the processes.
		"TEMPORAL_ADDRESS=", "TEMPORAL_NAMESPACE=", "TEMPORAL_API_KEY=", "TEMPORAL_PROFILE=",
	}
	var dataDirs []string
	sever := func(name string, args ...string) *proc {
		dir := filepath.Join(h.root, "data", name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		dataDirs = append(dataDirs, dir)
		return h.start(name, procOptions{env: env, dir: h.root}, bins.sever,
			append([]string{"--config", cfgPath, "--data-dir", dir}, args...)...)
	}
	// As the README says: migrate once, then start the hosts.
	migrate := exec.Command(bins.sever, "--config", cfgPath, "--data-dir", filepath.Join(h.root, "data", "migrate"), "migrate")
	migrate.Env = append(os.Environ(), env...)
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("sever migrate: %v\n%s", err, out)
	}

	// A worker whose client certificate the frontend does not trust stops at once
	// and says why.
	rogue := exec.Command(bins.sever, "--config", cfgPath, "--data-dir", filepath.Join(h.root, "data", "rogue"), "worker")
	rogue.Env = append(append(os.Environ(), env...),
		"SEVER_TEMPORAL_TLS_CLIENT_CERT=file:"+certs.rogueCert, "SEVER_TEMPORAL_TLS_CLIENT_KEY=file:"+certs.rogueKey)
	rogue.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if out, err := rogue.CombinedOutput(); err == nil || !strings.Contains(string(out), "refused the client certificate") {
		t.Errorf("a worker with an untrusted client certificate: %v, want a failed start that says the frontend refused it:\n%s", err, out)
	} else {
		t.Logf("a worker with an untrusted client certificate stops: %s", strings.TrimSpace(string(out)))
	}

	start := time.Now()
	serve := sever("serve", "serve")
	w1 := sever("worker-1", "worker")
	w2 := sever("worker-2", "worker")
	api := &apiClient{base: fmt.Sprintf("http://127.0.0.1:%d", httpPort), token: token}
	h.waitFor("sever serve to answer", time.Minute, func() error {
		_, err := api.get("/healthz")
		return err
	}, serve, w1, w2)
	t.Logf("sever serve and two workers up in %v", time.Since(start).Round(time.Millisecond))

	// The workload.
	workload := time.Now()
	var ids []string
	for i, key := range keys {
		sig := map[string]any{
			"source": "cluster-siem", "source_event_id": fmt.Sprintf("ev-cluster-%d", i), "origin": "enterprise",
			"kind": "anomalous_usage", "observed_at": time.Now().UTC().Format(time.RFC3339), "severity": "critical",
			"summary": "InvokeModel from an unknown ASN with a CI key",
			"credential": map[string]any{"provider": "aws", "type": "aws_access_key", "id": key,
				"principal": fmt.Sprintf("cluster-ci-%d", i), "account": drillcloud.DefaultAccountID},
		}
		var id string
		// The first submission may meet a frontend whose namespace cache has not
		// seen the new namespace yet: retry until the API accepts.
		h.waitFor("the API to accept signal "+strconv.Itoa(i), time.Minute, func() error {
			var err error
			id, err = api.submit(sig)
			return err
		}, serve)
		ids = append(ids, id)
	}

	// A worker host lost mid-incident, twice: each time a fresh host replaces it.
	open := func() int {
		k := 0
		for _, id := range ids {
			if inc, err := api.incident(id); err != nil || inc.Status == "open" {
				k++
			}
		}
		return k
	}
	h.waitFor("the first key deactivation", 3*time.Minute, func() error {
		if cloud.Applied("UpdateAccessKey") == 0 {
			return fmt.Errorf("no key deactivated yet")
		}
		return nil
	}, serve, w1, w2)
	t.Logf("SIGKILL worker-1 with %d of %d incidents open", open(), n)
	w1.kill()
	w3 := sever("worker-3", "worker")
	h.waitFor("a quarter of the keys deactivated", 3*time.Minute, func() error {
		if got := cloud.Applied("UpdateAccessKey"); got < n/4 {
			return fmt.Errorf("%d of %d keys deactivated", got, n)
		}
		return nil
	}, serve, w2, w3)
	t.Logf("SIGKILL worker-2 with %d of %d incidents open", open(), n)
	w2.kill()
	w4 := sever("worker-4", "worker")

	// Poll every incident until all have ended, noting when each did: the slowest
	// say where the time went.
	ended := map[string]time.Duration{}
	final := map[string]incident{}
	h.waitFor("every incident to end", 5*time.Minute, func() error {
		var open []string
		for _, id := range ids {
			if _, done := ended[id]; done {
				continue
			}
			inc, err := api.incident(id)
			if err != nil {
				return err
			}
			if inc.Status == "open" {
				open = append(open, id+" ("+inc.steps()+")")
				continue
			}
			ended[id], final[id] = time.Since(workload), inc
		}
		if len(open) > 0 {
			return fmt.Errorf("%d open, first %s", len(open), open[0])
		}
		return nil
	}, serve, w3, w4)
	for _, id := range ids {
		if inc := final[id]; inc.Status != "contained" {
			t.Errorf("%s: %s (%s): %s", id, inc.Status, inc.Reason, inc.steps())
		}
	}
	slowest := slices.SortedFunc(maps.Keys(ended), func(a, b string) int { return cmp.Compare(ended[b], ended[a]) })
	for _, id := range slowest[:min(3, len(slowest))] {
		t.Logf("slow: %s ended %v after the workload began", id, ended[id].Round(time.Millisecond))
	}
	t.Logf("%d incidents ended in %v", n, time.Since(workload).Round(time.Millisecond))

	cloud.ClearFaults()
	for _, key := range keys {
		if k, _ := cloud.Key(key); k.Status != "Inactive" {
			t.Errorf("key %s is %s", key, k.Status)
		}
	}
	// Each key changed once, however many times a call was retried or a worker died.
	perKey := map[string]int{}
	faults := 0
	for _, e := range cloud.Calls() {
		if e.Applied && e.Operation == "UpdateAccessKey" {
			perKey[e.RequestParameters["accessKeyId"]]++
		}
		if e.Fault != "" {
			faults++
		}
	}
	if got := cloud.Applied("UpdateAccessKey"); got != n {
		t.Errorf("UpdateAccessKey applied %d times for %d keys: %v", got, n, perKey)
	}
	t.Logf("drill cloud: %d calls, %d shaped by a fault", len(cloud.Calls()), faults)

	// One ledger, in PostgreSQL, whichever host appended: every incident's chain is
	// whole, each fact is in it once, and it ends contained.
	verify := exec.Command(bins.sever, "--config", cfgPath, "--data-dir", filepath.Join(h.root, "data", "verify"), "ledger", "verify")
	verify.Env = append(os.Environ(), env...)
	if out, err := verify.CombinedOutput(); err != nil {
		t.Errorf("sever ledger verify against PostgreSQL: %v\n%s", err, out)
	} else {
		t.Logf("sever ledger verify: %s", strings.TrimSpace(string(out)))
	}
	ctx := context.Background()
	l, err := ledger.OpenPostgresURL(ctx, pg.url("sever"), pgstore.DefaultSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	h.waitFor("every incident's outcome in the ledger", time.Minute, func() error {
		for _, id := range ids {
			entries, err := l.Entries(ctx, id)
			if err != nil {
				return err
			}
			if len(entries) == 0 || entries[len(entries)-1].Detail["status"] != "contained" {
				return fmt.Errorf("%s: %d entries, not ending contained", id, len(entries))
			}
		}
		return nil
	})
	total := 0
	for _, id := range ids {
		entries, _ := l.Entries(ctx, id)
		keys := map[string]bool{}
		for i, e := range entries {
			if e.Seq != int64(i+1) {
				t.Errorf("%s: entry %d has seq %d", id, i+1, e.Seq)
			}
			if e.Key != "" && keys[e.Key] {
				t.Errorf("%s: fact %q recorded twice", id, e.Key)
			}
			keys[e.Key] = true
		}
		total += len(entries)
	}
	if brk, err := l.VerifyAll(ctx); err != nil || brk != nil {
		t.Errorf("ledger VerifyAll: %v %+v", err, brk)
	}
	t.Logf("ledger: %d entries for %d incidents in PostgreSQL", total, n)

	// Secrets only ever travel in the environment: no log holds one.
	secrets := []string{responder.SecretAccessKey, token}
	for _, key := range keys {
		if c, err := cloud.Credentials(key); err == nil {
			secrets = append(secrets, c.SecretAccessKey)
		}
	}
	logs, _ := os.ReadDir(h.logs)
	for _, l := range logs {
		b, _ := os.ReadFile(filepath.Join(h.logs, l.Name()))
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("a secret appears in %s", l.Name())
			}
		}
	}

	// Shared state lives in PostgreSQL: a data dir holds nothing a lost host takes
	// with it.
	for _, dir := range dataDirs {
		var files []string
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(dir, path)
				files = append(files, rel)
			}
			return nil
		})
		if len(files) > 0 {
			t.Errorf("%s holds files: %v", dir, files)
		}
	}
	t.Logf("cluster wall time: %v (workload %v)", time.Since(wall).Round(time.Second), time.Since(workload).Round(time.Second))
}

// apiClient is the little of sever's HTTP API the workload needs.
type apiClient struct {
	base, token string
}

func (c *apiClient) do(method, path string, body []byte) ([]byte, int, error) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return b, resp.StatusCode, err
}

func (c *apiClient) get(path string) ([]byte, error) {
	b, code, err := c.do(http.MethodGet, path, nil)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("GET %s: HTTP %d: %s", path, code, b)
	}
	return b, err
}

// submit posts a signal and returns the incident it opened or joined.
func (c *apiClient) submit(sig map[string]any) (string, error) {
	body, err := json.Marshal(sig)
	if err != nil {
		return "", err
	}
	b, code, err := c.do(http.MethodPost, "/v1/signals", body)
	if err != nil {
		return "", err
	}
	if code != http.StatusAccepted {
		return "", fmt.Errorf("POST /v1/signals: HTTP %d: %s", code, b)
	}
	var out struct {
		IncidentID string `json:"incident_id"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.IncidentID == "" {
		return "", fmt.Errorf("POST /v1/signals: answer %s: %v", b, err)
	}
	return out.IncidentID, nil
}

// incident is the part of GET /v1/incidents/{id} the test reads.
type incident struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
	Steps  []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"steps"`
}

func (i incident) steps() string {
	var s []string
	for _, st := range i.Steps {
		s = append(s, st.ID+"="+st.Status)
	}
	return strings.Join(s, " ")
}

func (c *apiClient) incident(id string) (incident, error) {
	var inc incident
	b, err := c.get("/v1/incidents/" + id)
	if err != nil {
		return inc, err
	}
	if err := json.Unmarshal(b, &inc); err != nil {
		return inc, fmt.Errorf("GET /v1/incidents/%s: %v", id, err)
	}
	return inc, nil
}
