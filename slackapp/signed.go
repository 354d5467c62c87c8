package slackapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/slack-go/slack"

	"github.com/sever-ir/sever/internal/refusal"
)

// requestGate is what interactivity (Handler) and the slash command
// (SlashHandler) share before a Slack request's body is trusted: the signing
// secret, the clock, the log and the refusal record (each handler keeps its own
// replay cache, built by orNewReplay). Both
// handlers build one from their own fields, so a request over either endpoint
// passes the same checks.
type requestGate struct {
	secret   string
	clock    func() time.Time
	logger   *slog.Logger
	refusals Refusals
	// what names the request in logs ("slack command") and in refusal records.
	what, logPrefix string
}

func (s requestGate) now() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Now()
}

func (s requestGate) log() *slog.Logger {
	if s.logger != nil {
		return s.logger
	}
	return slog.Default()
}

func (s requestGate) refused(ctx context.Context, f refusal.Refusal) {
	if s.refusals != nil {
		// The record outlives the request: Slack hanging up must not lose it.
		s.refusals.Refused(context.WithoutCancel(ctx), f)
	}
}

// orNewReplay is the replay cache to use: the one configured, else a fresh one.
func orNewReplay(r ReplayCache) ReplayCache {
	if r == nil {
		return NewReplayCache(0, 0)
	}
	return r
}

// read answers anything but a POST, reads the body (at most MaxBodyBytes) and
// checks its Slack signature and timestamp window. When it returns ok=false it has
// answered w and, for a bad signature, recorded the refusal.
func (s requestGate) read(w http.ResponseWriter, r *http.Request) (body []byte, ok bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpError(w, http.StatusMethodNotAllowed, "method not allowed; use POST")
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		httpError(w, http.StatusBadRequest, "could not read the request body")
		return nil, false
	}
	if len(body) > MaxBodyBytes {
		s.log().Warn(s.logPrefix+": request body too large", "limit", MaxBodyBytes)
		httpError(w, http.StatusBadRequest, fmt.Sprintf("request body is larger than %d bytes", MaxBodyBytes))
		return nil, false
	}
	if err := s.verify(r.Header, body); err != nil {
		s.log().Warn(s.logPrefix+": request refused", "reason", err.Error(), "remote", r.RemoteAddr)
		// The body is not trusted, so nothing in it names the incident or the person:
		// the record says where the request came from.
		s.refused(r.Context(), refusal.Refusal{Reason: refusal.ForgedSignature, Who: r.RemoteAddr, Channel: ChannelHTTP,
			What: s.what, Why: "invalid or expired Slack signature: " + err.Error()})
		httpError(w, http.StatusUnauthorized, "invalid or expired Slack signature")
		return nil, false
	}
	return body, true
}

// verify checks Slack's v0 signature over the raw body and the timestamp window.
func (s requestGate) verify(header http.Header, body []byte) error {
	if s.secret == "" {
		return errors.New("no signing secret configured")
	}
	sv, err := slack.NewSecretsVerifier(header, s.secret)
	if err != nil {
		return fmt.Errorf("signature headers: %w", err)
	}
	if _, err := sv.Write(body); err != nil {
		return err
	}
	if err := sv.Ensure(); err != nil {
		return err
	}
	// The verifier checks the window against the wall clock; check it against the
	// handler's clock too, so both must agree.
	ts, err := strconv.ParseInt(header.Get("X-Slack-Request-Timestamp"), 10, 64)
	if err != nil {
		return errors.New("bad request timestamp")
	}
	if s.now().Sub(time.Unix(ts, 0)).Abs() > signatureWindow {
		return slack.ErrExpiredTimestamp
	}
	return nil
}

func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}
