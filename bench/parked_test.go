package main

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestSlope(t *testing.T) {
	for _, tc := range []struct {
		x, y []float64
		want float64
	}{
		{[]float64{0, 1000, 5000}, []float64{100, 300, 1100}, 0.2},
		{[]float64{0, 1000, 5000}, []float64{100, 350, 1100}, 0.19643},
		{[]float64{0}, []float64{100}, 0},
		{[]float64{1, 1}, []float64{1, 2}, 0},
	} {
		if got := slope(tc.x, tc.y); math.Abs(got-tc.want) > 1e-4 {
			t.Errorf("slope(%v, %v) = %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
}

func TestParkedLevels(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		want []int
		err  string
	}{
		{"1000,5000", []int{1000, 5000}, ""},
		{"0", nil, ""},
		{" 50, 100 ", []int{50, 100}, ""},
		{"5000,1000", nil, `"1000" is not a count larger`},
		{"10,x", nil, `"x"`},
		{"-5", nil, `"-5"`},
	} {
		o, err := parseFlags([]string{"-out", "", "-parked", tc.arg})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("-parked %s: err %v, want one containing %s", tc.arg, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(o.parked, tc.want) {
			t.Errorf("-parked %s = %v, %v; want %v", tc.arg, o.parked, err, tc.want)
		}
	}
}
