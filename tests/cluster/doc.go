// Package cluster is sever on a real Temporal cluster: PostgreSQL from the
// distribution's package, Temporal's own server binary built from the pinned
// go.temporal.io/server module with its frontend, history, matching and worker
// services as separate processes, then `sever serve` and two `sever worker`
// processes, each with its own data dir. The chaos workload runs against it:
// workers SIGKILLed mid-incident and drill-cloud faults.
//
// The tests are behind the cluster build tag, because they need PostgreSQL's
// binaries and several minutes: run them with `make test-cluster`.
package cluster
