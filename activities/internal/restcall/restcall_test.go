package restcall

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/sever-ir/sever/activities"
)

func TestStatus(t *testing.T) {
	types := Retryable{Throttled: "VThrottled", Unavailable: "VUnavailable"}
	cases := []struct {
		status    int
		wantType  string
		retryable bool
	}{
		{http.StatusTooManyRequests, "VThrottled", true},
		{http.StatusInternalServerError, "VUnavailable", true},
		{http.StatusServiceUnavailable, "VUnavailable", true},
		{http.StatusUnauthorized, activities.ErrAccessDenied, false},
		{http.StatusForbidden, activities.ErrAccessDenied, false},
		{http.StatusNotFound, activities.ErrNotFound, false},
		{http.StatusConflict, activities.ErrInvalidArgument, false},
		{http.StatusBadRequest, activities.ErrInvalidArgument, false},
	}
	for _, c := range cases {
		err := Status(c.status, types, "act: op: vendor answered")
		var app *temporal.ApplicationError
		if !errors.As(err, &app) || app.Type() != c.wantType || app.NonRetryable() == c.retryable || app.Message() != "act: op: vendor answered" {
			t.Errorf("Status(%d) = %v; want %s, retryable %v", c.status, err, c.wantType, c.retryable)
		}
	}
}

func TestBound(t *testing.T) {
	if got := Bound(strings.Repeat("x", 300)); len(got) != 200 {
		t.Errorf("Bound(300 bytes) is %d bytes; want 200", len(got))
	}
	if got := Bound("short"); got != "short" {
		t.Errorf("Bound(short) = %q", got)
	}
}

func TestDo(t *testing.T) {
	type seen struct{ method, ua, ctype, auth, body string }
	var got seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = seen{r.Method, r.Header.Get("User-Agent"), r.Header.Get("Content-Type"), r.Header.Get("Authorization"), string(b)}
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte("0123456789"))
	}))
	t.Cleanup(srv.Close)
	cases := []struct {
		name       string
		req        Request
		want       seen
		wantStatus int
		wantBody   string
		wantErr    string
		wantType   string
	}{
		{name: "json body", req: Request{Method: http.MethodPost, URL: srv.URL, Body: map[string]int{"a": 1}, MaxBody: 100,
			Header: http.Header{"Authorization": {"Bearer t"}}},
			want: seen{"POST", "sever", "application/json", "Bearer t", `{"a":1}`}, wantStatus: http.StatusAccepted, wantBody: "0123456789"},
		{name: "no body, response bounded", req: Request{Method: http.MethodGet, URL: srv.URL, MaxBody: 4},
			want: seen{method: "GET", ua: "sever"}, wantStatus: http.StatusAccepted, wantBody: "0123"},
		{name: "malformed url names its setting", req: Request{Method: http.MethodGet, URL: "http://a b", URLSetting: "x.api_url"},
			wantErr: "act: op: x.api_url", wantType: activities.ErrInvalidArgument},
		{name: "body that cannot be encoded", req: Request{Method: http.MethodPost, URL: srv.URL, Body: func() {}},
			wantErr: "act: op: encode request", wantType: activities.ErrInvalidArgument},
		{name: "transport failure is retried", req: Request{Method: http.MethodGet, URL: "http://127.0.0.1:1"},
			wantErr: "act: op: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got = seen{}
			c.req.Action, c.req.Op = "act", "op"
			st, body, err := Do(context.Background(), srv.Client(), c.req)
			if c.wantErr != "" {
				var app *temporal.ApplicationError
				isApp := errors.As(err, &app)
				switch {
				case err == nil || !strings.HasPrefix(err.Error(), c.wantErr):
					t.Fatalf("err = %v; want it to start %q", err, c.wantErr)
				case c.wantType != "" && (!isApp || app.Type() != c.wantType || !app.NonRetryable()):
					t.Fatalf("err = %v; want non-retryable %s", err, c.wantType)
				case c.wantType == "" && isApp:
					t.Fatalf("err = %v; want a plain, retryable error", err)
				}
				return
			}
			if err != nil || st != c.wantStatus || string(body) != c.wantBody || got != c.want {
				t.Fatalf("Do = %d, %q, %v, server saw %+v; want %d, %q, server %+v", st, body, err, got, c.wantStatus, c.wantBody, c.want)
			}
		})
	}
}
