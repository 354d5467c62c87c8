package httpapi

import (
	"net/http/httptest"
	"testing"
)

func TestPreferRespondAsync(t *testing.T) {
	for _, tc := range []struct {
		prefer []string
		want   bool
	}{
		{nil, false},
		{[]string{"respond-async"}, true},
		{[]string{"return=minimal, Respond-Async"}, true},
		{[]string{"wait=10", "respond-async"}, true},
		{[]string{"respond-asynchronously"}, false},
	} {
		r := httptest.NewRequest("POST", "/v1/signals", nil)
		for _, p := range tc.prefer {
			r.Header.Add("Prefer", p)
		}
		if got := respondAsync(withPreferences(r).Context()); got != tc.want {
			t.Errorf("Prefer %q: respondAsync = %v, want %v", tc.prefer, got, tc.want)
		}
	}
}
