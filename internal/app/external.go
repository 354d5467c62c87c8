package app

import (
	"context"
	"fmt"
	"net"

	"go.temporal.io/sdk/client"
)

// RunWorker runs a worker on c until ctx ends: `sever worker`, attached to any
// Temporal cluster, or to `sever dev`'s frontend port for scale-out on one machine.
func (p *Parts) RunWorker(ctx context.Context, c client.Client) error {
	if err := CheckLedgerKey(p.Config); err != nil {
		return err
	}
	if err := p.LoadDecisionKey(ctx, false); err != nil {
		return err
	}
	w, err := p.NewWorker(ctx, c)
	if err != nil {
		return err
	}
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	defer w.Stop()
	if h := p.WorkerHealth; h != nil {
		h.SetPolling(true)
		// Deferred after Stop, so it runs first: not ready from the moment it stops.
		defer h.SetPolling(false)
	}
	p.Logger.Info("worker running", "task_queue", p.Config.Temporal.TaskQueue, "namespace", p.Config.Temporal.Namespace)
	<-ctx.Done()
	return nil
}

// Serve serves the API on ln until ctx ends: `sever serve`. It needs API tokens
// in the config; sever dev is the only mode that makes its own.
func (p *Parts) Serve(ctx context.Context, c client.Client, ln net.Listener) error {
	if err := CheckLedgerKey(p.Config); err != nil {
		return err
	}
	tokens, err := p.APITokens(ctx)
	if err != nil {
		return err
	}
	if len(tokens) == 0 {
		return fmt.Errorf("serve: no API tokens configured (intake.tokens or operators[].token in the config)")
	}
	if err := p.LoadDecisionKey(ctx, false); err != nil {
		return err
	}
	signing, err := p.SigningSecret(ctx, false)
	if err != nil {
		return err
	}
	github, err := p.GitHubSecret(ctx, false)
	if err != nil {
		return err
	}
	if signing == "" {
		p.Logger.Info("slack.signing_secret is not set: the Slack interactivity endpoint is off")
	}
	if p.Ledger == nil {
		// Refused decisions are recorded where they are seen, in this process: it
		// writes to the same ledger as the worker (PostgreSQL with database.url).
		if err := p.openState(ctx); err != nil {
			return err
		}
	}
	eng := p.NewEngine(c)
	if err := p.Metrics.WatchIncidents(eng); err != nil {
		return err
	}
	stopSocket, err := p.StartSocketMode(ctx, eng)
	if err != nil {
		return err
	}
	if stopSocket != nil {
		defer stopSocket()
	}
	srv, err := p.NewHTTP(eng, HTTPOptions{Tokens: tokens, SlackSigningSecret: signing, GitHubWebhookSecret: github})
	if err != nil {
		return err
	}
	p.Logger.Info("serving API", "addr", ln.Addr().String())
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
