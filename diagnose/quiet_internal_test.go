package diagnose

import (
	"testing"
	"time"
)

func TestQuietStretch(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name       string
		stages     []Stage
		ok         bool
		start, end time.Duration
		level      float64
	}{
		{"ramp up, hold, down, hold", []Stage{{s, 0, 200}, {3 * s, 200, 200}, {s, 200, 20}, {8 * s, 20, 20}}, true, 5 * s, 13 * s, 20},
		{"a drop at once", []Stage{{4 * s, 200, 200}, {8 * s, 20, 20}}, true, 4 * s, 12 * s, 20},
		{"two quiet stages in a row join", []Stage{{4 * s, 200, 200}, {3 * s, 20, 20}, {5 * s, 20, 40}}, true, 4 * s, 12 * s, 40},
		{"the longest of two", []Stage{{2 * s, 100, 100}, {2 * s, 10, 10}, {2 * s, 100, 100}, {6 * s, 5, 5}}, true, 6 * s, 12 * s, 5},
		{"the ramp down itself is not quiet", []Stage{{4 * s, 200, 200}, {10 * s, 200, 0}}, false, 0, 0, 0},
		{"a start at a low level is not quiet", []Stage{{5 * s, 10, 10}, {5 * s, 200, 200}}, false, 0, 0, 0},
		{"down by less than half", []Stage{{5 * s, 200, 200}, {5 * s, 101, 101}}, false, 0, 0, 0},
		{"no stages", nil, false, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, ok := quietStretch(tc.stages)
			if ok != tc.ok || ok && (q.start != tc.start || q.end != tc.end || q.level != tc.level) {
				t.Errorf("quietStretch = %+v, %v; want %v-%v at %g, %v", q, ok, tc.start, tc.end, tc.level, tc.ok)
			}
		})
	}
}

func TestRoundUpPool(t *testing.T) {
	for n, want := range map[int64]int64{0: 2, 1: 2, 2: 2, 7: 7, 10: 10, 11: 15, 20: 20, 23: 25, 101: 110, 999: 1000, 1001: 1100} {
		if got := roundUpPool(n); got != want {
			t.Errorf("roundUpPool(%d) = %d, want %d", n, got, want)
		}
	}
}
