package slackapp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// RunSocketMode receives interactivity over Slack's Socket Mode (no public endpoint)
// until ctx ends, and routes each click through h's decision path with channel
// "slack-socket". appToken is the app-level token (xapp-…, connections:write); client
// is the bot client, copied so the caller's client is left as it was. Envelopes are
// acknowledged as soon as they arrive, and replies to the clicker go through the
// click's response_url, as over HTTP. It returns nil when ctx ends, or the error that
// stopped the connection.
func RunSocketMode(ctx context.Context, appToken string, client *slack.Client, h *Handler) error {
	if !strings.HasPrefix(appToken, "xapp-") {
		return errors.New("slack socket mode: an app-level token (xapp-…) is required")
	}
	if client == nil || h == nil {
		return errors.New("slack socket mode: a Slack client and a handler are required")
	}
	h.init()
	c := *client
	slack.OptionAppLevelToken(appToken)(&c)
	sm := socketmode.New(&c)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sm.RunContext(ctx) }()

	var inflight sync.WaitGroup
	defer inflight.Wait()
	for {
		select {
		case <-ctx.Done():
			<-done
			return nil
		case err := <-done:
			if ctx.Err() != nil {
				return nil
			}
			if err == nil {
				err = errors.New("connection closed")
			}
			return fmt.Errorf("slack socket mode: %w", err)
		case evt := <-sm.Events:
			h.socketEvent(ctx, sm, evt, &inflight)
		}
	}
}

func (h *Handler) socketEvent(ctx context.Context, sm *socketmode.Client, evt socketmode.Event, inflight *sync.WaitGroup) {
	log := h.log()
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		log.Debug("slack socket mode: connecting")
	case socketmode.EventTypeConnected:
		log.Info("slack socket mode: connected")
	case socketmode.EventTypeConnectionError, socketmode.EventTypeInvalidAuth, socketmode.EventTypeIncomingError:
		// The data is an error from slack-go; it never carries the token.
		log.Warn("slack socket mode: connection problem", "event", string(evt.Type), "detail", fmt.Sprint(evt.Data))
	case socketmode.EventTypeInteractive:
		if evt.Request == nil {
			return
		}
		// Ack first: Slack redelivers an envelope that is not acknowledged in 3 s.
		if err := sm.AckCtx(ctx, evt.Request.EnvelopeID, nil); err != nil {
			log.Warn("slack socket mode: ack failed", "error", err.Error())
		}
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok {
			log.Warn("slack socket mode: interactive envelope without a callback")
			return
		}
		key := ""
		if evt.Request.EnvelopeID != "" {
			key = "envelope:" + evt.Request.EnvelopeID
		}
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			h.process(context.WithoutCancel(ctx), &cb, ChannelSocket, key)
		}()
	case socketmode.EventTypeSlashCommand:
		if evt.Request == nil || evt.Request.EnvelopeID == "" {
			return
		}
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok || h.Slash == nil {
			_ = sm.AckCtx(ctx, evt.Request.EnvelopeID, newEphemeral(
				"sever does not take commands over Socket Mode here; use `sever contain` or POST /v1/incidents."))
			return
		}
		// The reply is the acknowledgement's payload, due within Slack's 3 s; the
		// containment's own timeout keeps it inside that.
		id := evt.Request.EnvelopeID
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			var payload any
			if text := h.Slash.socketCommand(context.WithoutCancel(ctx), cmd, id); text != "" {
				payload = newEphemeral(text)
			}
			if err := sm.AckCtx(ctx, id, payload); err != nil {
				log.Warn("slack socket mode: ack failed", "error", err.Error())
			}
		}()
	default:
		// Acknowledge anything else that asks for it (events) so Slack does not
		// redeliver it; sever does not use them.
		if evt.Request != nil && evt.Request.EnvelopeID != "" {
			_ = sm.AckCtx(ctx, evt.Request.EnvelopeID, nil)
		}
	}
}
