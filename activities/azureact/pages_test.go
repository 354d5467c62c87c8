package azureact

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sever-ir/sever/activities"
)

// readPages follows Graph's and ARM's next links, stops at max, and refuses a
// next link that would carry sever's token off the API.
func TestReadPages(t *testing.T) {
	var srv *httptest.Server
	var auth []string
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = append(auth, r.Header.Get("Authorization"))
		switch r.URL.Path {
		case "/graph/1":
			fmt.Fprintf(w, `{"value":[{"id":"a"},{"id":"b"}],"@odata.nextLink":"%s/graph/2"}`, srv.URL)
		case "/graph/2":
			fmt.Fprint(w, `{"value":[{"id":"c"}]}`)
		case "/arm/1":
			fmt.Fprintf(w, `{"value":[{"id":"d"}],"nextLink":"%s/arm/2"}`, srv.URL)
		case "/arm/2":
			fmt.Fprint(w, `{"value":[{"id":"e"}],"nextLink":"https://attacker.example/steal"}`)
		case "/broken":
			fmt.Fprint(w, `not json`)
		case "/throttled":
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	defer srv.Close()
	type item struct {
		ID string `json:"id"`
	}
	for _, c := range []struct {
		name, first   string
		max           int
		want          string
		wantTruncated bool
		wantErr       string
	}{
		{name: "graph pages", first: "/graph/1", max: 10, want: "abc"},
		{name: "stops at max", first: "/graph/1", max: 2, want: "ab", wantTruncated: true},
		{name: "next link off the API", first: "/arm/1", max: 10, wantErr: "next link leaves"},
		{name: "not a page", first: "/broken", max: 10, wantErr: "not a page of items"},
		{name: "throttled", first: "/throttled", max: 10, wantErr: "429"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &session{action: "azure.test", hc: srv.Client(), tokens: map[string]string{GraphScope: "tok"}}
			got, truncated, err := readPages[item](context.Background(), s, "read", srv.URL+c.first, srv.URL, GraphScope, "items", c.max)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want one saying %q", err, c.wantErr)
				}
				if typ, permanent := errType(err); c.name == "next link off the API" && (typ != activities.ErrInvalidArgument || !permanent) {
					t.Errorf("next link off the API: error type %q permanent %v, want a permanent %s", typ, permanent, activities.ErrInvalidArgument)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids string
			for _, it := range got {
				ids += it.ID
			}
			if ids != c.want || truncated != c.wantTruncated {
				t.Errorf("got %q truncated %v, want %q truncated %v", ids, truncated, c.want, c.wantTruncated)
			}
		})
	}
	for _, a := range auth {
		if a != "Bearer tok" {
			t.Errorf("request with Authorization %q", a)
		}
	}
}
