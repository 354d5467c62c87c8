// Package tests holds sever's end-to-end tests. Each test starts the real stack
// (embedded Temporal server, worker, engine and HTTP API) through app.StartDev, the
// same composition root `sever dev` uses, and talks to it only over HTTP, as a user
// would. The replay test needs no server: it replays histories committed under
// testdata/histories, which `go test ./tests -run TestReplayCommittedHistory -update`
// regenerates from a real run.
package tests
