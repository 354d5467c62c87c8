package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/sever-ir/sever/internal/secretscan"
)

// requestInfo lets inner handlers report back to the logging middleware, which sits
// outside auth and so cannot see the principal in the request context.
type requestInfo struct {
	principal string
}

type requestInfoKey struct{}

func requestInfoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return info
}

// statusWriter remembers the status so logging can report it and panic recovery can
// tell whether a JSON error can still be sent.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests logs one debug line per request. It logs the path, redacted (see
// secretscan.RedactPath), but never the query, headers or body, which is where tokens and signal
// content would be.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info)))
		status := sw.status
		if status == 0 {
			status = http.StatusOK // net/http sends 200 for a handler that wrote nothing
		}
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "http request",
			slog.String("method", r.Method),
			slog.String("path", secretscan.RedactPath(r.URL.Path)),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start)),
			slog.String("principal", info.principal))
	})
}

// recoverPanics turns a panicking handler into a 500 JSON error instead of a dropped
// connection, and logs the stack so the bug can be found.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw, ok := w.(*statusWriter)
		if !ok {
			sw = &statusWriter{ResponseWriter: w}
		}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // the handler asked net/http to drop the connection
			}
			s.log.ErrorContext(r.Context(), "handler panicked", "op", "httpapi.recoverPanics",
				"method", r.Method, "path", secretscan.RedactPath(r.URL.Path), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if sw.status == 0 {
				writeError(sw, errInternal)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}
