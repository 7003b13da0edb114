package engine

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in    string
		count int64
		per   time.Duration
		str   string
	}{
		{"5000", 1, 200 * time.Microsecond, "5000"},
		{"0.5", 1, 2 * time.Second, "0.5"},
		{"7", 7, time.Second, "7"},
		{"2.5", 1, 400 * time.Millisecond, "2.5"},
		{"30/1m", 1, 2 * time.Second, "0.5"},
		{"100/s", 1, 10 * time.Millisecond, "100"},
		{"1/3s", 1, 3 * time.Second, "1/3s"},
		{"0", 0, time.Second, "0"},
		{"0.000000001", 1, 1e9 * time.Second, "0.000000001"},
	} {
		r, err := ParseRate(tc.in)
		if err != nil {
			t.Errorf("ParseRate(%q): %v", tc.in, err)
			continue
		}
		if r.Count != tc.count || r.Per != tc.per || r.String() != tc.str {
			t.Errorf("ParseRate(%q) = %d per %v (%s), want %d per %v (%s)", tc.in, r.Count, r.Per, r, tc.count, tc.per, tc.str)
		}
	}
	for _, bad := range []string{"", "fast", "-5", "1e3", "5/", "5/0s", "5/-1s", "1/2/3", "0.0000000001", "2000000000"} {
		if _, err := ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) succeeded", bad)
		}
	}
}

func TestParseStages(t *testing.T) {
	st, err := ParseRateStages("10s:0-2000, 30s:2000,10s:2000-0")
	if err != nil {
		t.Fatal(err)
	}
	want := []RateStage{
		{10 * time.Second, RatePerSecond(0), RatePerSecond(2000)},
		{30 * time.Second, RatePerSecond(2000), RatePerSecond(2000)},
		{10 * time.Second, RatePerSecond(2000), RatePerSecond(0)},
	}
	if len(st) != 3 {
		t.Fatalf("stages %v", st)
	}
	for i := range want {
		if st[i].Duration != want[i].Duration || st[i].From.PerSecond() != want[i].From.PerSecond() || st[i].To.PerSecond() != want[i].To.PerSecond() {
			t.Errorf("stage %d = %+v, want %+v", i, st[i], want[i])
		}
	}
	vs, err := ParseVUStages("30s:0-200,60s:200")
	if err != nil || len(vs) != 2 || vs[0] != (VUStage{30 * time.Second, 0, 200}) || vs[1] != (VUStage{time.Minute, 200, 200}) {
		t.Errorf("ParseVUStages = %v, %v", vs, err)
	}
	for _, bad := range []string{"", "10s", "10s:", "x:5", "0s:5", "-1s:5", "10s:a-b", "10s:5-", "10s:5,,"} {
		if _, err := ParseRateStages(bad); err == nil {
			t.Errorf("ParseRateStages(%q) succeeded", bad)
		}
	}
}

// A single target ramps from the previous stage's end (0 at the start),
// as k6's --stage does; FROM-TO gives both ends.
func TestStagesSingleTarget(t *testing.T) {
	vs, err := ParseVUStages("30s:20,1m:20,10s:5,5s:8-8,5s:0")
	want := []VUStage{{30 * time.Second, 0, 20}, {time.Minute, 20, 20}, {10 * time.Second, 20, 5}, {5 * time.Second, 8, 8}, {5 * time.Second, 8, 0}}
	if err != nil || !slices.Equal(vs, want) {
		t.Errorf("ParseVUStages = %v, %v; want %v", vs, err, want)
	}
	rs, err := ParseRateStages("10s:100,10s:100,5s:50-200,5s:0.5")
	if err != nil || len(rs) != 4 {
		t.Fatalf("ParseRateStages = %v, %v", rs, err)
	}
	for i, w := range [][2]float64{{0, 100}, {100, 100}, {50, 200}, {200, 0.5}} {
		if rs[i].From.PerSecond() != w[0] || rs[i].To.PerSecond() != w[1] {
			t.Errorf("rate stage %d = %v-%v, want %v-%v", i+1, rs[i].From, rs[i].To, w[0], w[1])
		}
	}
	// 0 to 100/s over 10s, then 100/s for 10s: 500 + 1000 iterations.
	a, err := newArrivals(rs[:2])
	if err != nil || a.total != 1500 {
		t.Errorf("arrivals of 10s:100,10s:100: %d (%v), want 1500", a.total, err)
	}
}

func TestVUSchedule(t *testing.T) {
	st, _ := ParseVUStages("1s:0-4,1s:4,1s:4-2,1s:5-5")
	got, end := vuSchedule(st)
	want := []vuChange{{0, 0}, {250 * time.Millisecond, 1}, {500 * time.Millisecond, 2}, {750 * time.Millisecond, 3},
		{time.Second, 4}, {2500 * time.Millisecond, 3}, {3 * time.Second, 5}}
	if end != 4*time.Second || len(got) != len(want) {
		t.Fatalf("vuSchedule = %v (end %v), want %v", got, end, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("change %d = %v, want %v", i, got[i], want[i])
		}
	}
}

// FuzzParseRate: never panics, and what it accepts prints back to the
// same rate.
func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"5000", "0.5", "30/1m", "1/3s", "0", "7.25", "100/s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			return
		}
		back, err := ParseRate(r.String())
		if err != nil || back != r {
			t.Fatalf("ParseRate(%q) = %v; its String %q parses to %v, %v", s, r, r.String(), back, err)
		}
	})
}

// FuzzParseRateStages: never panics; accepted stages have positive
// durations and build a schedule whose intended starts never go back.
func FuzzParseRateStages(f *testing.F) {
	for _, s := range []string{"10s:0-2000,30s:2000", "1s:0.5", "2s:1-2,1s:0", "1ms:1000-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseRateStages(s)
		if err != nil {
			return
		}
		var total time.Duration
		for _, x := range st {
			if x.Duration <= 0 {
				t.Fatalf("%q: stage duration %v", s, x.Duration)
			}
			total += x.Duration
		}
		if total > time.Minute || strings.Count(s, ",") > 8 {
			return // keep each case small
		}
		a, err := newArrivals(st)
		if err != nil || a.total > 100_000 {
			return
		}
		prev := time.Duration(-1)
		for i := range a.total {
			at := a.at(i)
			if at < prev || at < 0 || at >= a.end {
				t.Fatalf("%q: iteration %d at %v after %v (end %v)", s, i, at, prev, a.end)
			}
			prev = at
		}
	})
}

// The open model's default VU bound is the peak rate times the timeout
// (exact, rounded up), at least 10, at most what DefaultVUMemory holds.
func TestDefaultMaxVUs(t *testing.T) {
	for _, tc := range []struct {
		rate    string
		timeout time.Duration
		engine  string
		want    int
	}{
		{"100", 30 * time.Second, EngineH1, 3000},
		{"100", 0, "", 3000}, // the default timeout, the default engine
		{"0.5", 30 * time.Second, EngineH1, 15},
		{"0.1", 30 * time.Second, EngineH1, 10},
		{"1/3s", 30 * time.Second, EngineH1, 10},
		{"7", 1500 * time.Millisecond, EngineH1, 11},
		{"333.333333333", 30 * time.Second, EngineH1, 10000},
		{"5000", 30 * time.Second, EngineH1, DefaultVUMemory / (20 << 10)},
		{"5000", 30 * time.Second, EngineNetHTTP, DefaultVUMemory / (64 << 10)},
		{"1000000000", time.Hour, EngineH1, 13107},
	} {
		r, err := ParseRate(tc.rate)
		if err != nil {
			t.Fatal(err)
		}
		if got := DefaultMaxVUs(r, tc.timeout, tc.engine); got != tc.want {
			t.Errorf("DefaultMaxVUs(%s/s, %v, %q) = %d, want %d", tc.rate, tc.timeout, tc.engine, got, tc.want)
		}
	}
	for _, tc := range []struct {
		rate      string
		max, want int
	}{
		{"100", 3000, 1}, {"5000", 3000, 10}, {"1000000", 100, 100}, {"0.1", 10, 1},
	} {
		r, _ := ParseRate(tc.rate)
		if got := DefaultPreVUs(r, tc.max); got != tc.want {
			t.Errorf("DefaultPreVUs(%s/s, %d) = %d, want %d", tc.rate, tc.max, got, tc.want)
		}
	}
}

// DeriveVUs derives only the bounds not given: a given MaxVUs stays and
// bounds the derived PreVUs; a given PreVUs stays.
func TestDeriveVUs(t *testing.T) {
	r, _ := ParseRate("5000")
	for _, tc := range []struct {
		name               string
		max, pre           int
		maxGiven, preGiven bool
		wantMax, wantPre   int
	}{
		{"both derived", 0, 0, false, false, 13107, 10},
		{"max given", 4, 0, true, false, 4, 4},
		{"pre given", 0, 0, false, true, 13107, 0},
		{"both given", 50, 7, true, true, 50, 7},
	} {
		ex := Executor{Type: ConstantRate, Rate: r, Duration: time.Second, MaxVUs: tc.max, PreVUs: tc.pre}
		ex.DeriveVUs(30*time.Second, EngineH1, tc.maxGiven, tc.preGiven)
		if ex.MaxVUs != tc.wantMax || ex.PreVUs != tc.wantPre {
			t.Errorf("%s: max %d pre %d, want %d and %d", tc.name, ex.MaxVUs, ex.PreVUs, tc.wantMax, tc.wantPre)
		}
	}
}
