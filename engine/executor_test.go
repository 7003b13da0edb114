package engine

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/faya-load/faya/internal/http1"
	"github.com/faya-load/faya/internal/session"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// fakeClient answers every request after a fixed time, on the bubble's
// fake clock, and records the intended starts it was given.
type fakeClient struct {
	service time.Duration
	e       *Engine
	seen    *intents
}

type intents struct {
	mu sync.Mutex
	at []time.Duration
}

func (f fakeClient) exchange(*http.Request, *transport.Proxy, func(*metrics.Sample, error)) (*http.Response, error) {
	return nil, errors.New("fakeClient: no Go scenarios")
}

func (f fakeClient) pipeline(_ context.Context, _ *request, ss []metrics.Sample, errs []error) {
	for k := range ss {
		errs[k] = errors.New("fakeClient: no pipelining")
	}
}

func (f fakeClient) pick(*url.URL) *transport.Proxy { return nil }

func (f fakeClient) do(ctx context.Context, _ *request, intended time.Duration, s *metrics.Sample, out *session.Response) error {
	if out != nil {
		out.Status = 200
	}
	start := time.Since(f.e.epoch)
	if intended >= 0 && f.seen != nil {
		f.seen.mu.Lock()
		f.seen.at = append(f.seen.at, intended)
		f.seen.mu.Unlock()
	}
	t := time.NewTimer(f.service)
	defer t.Stop()
	var err error
	select {
	case <-t.C:
		s.Status = 200
	case <-ctx.Done():
		err = ctx.Err()
		s.Err = metrics.Classify(err)
	}
	end := time.Since(f.e.epoch)
	s.End = end
	s.Latency, s.ServiceTime = end-start, end-start
	if intended >= 0 {
		s.Scheduled, s.Lag, s.Latency = true, start-intended, end-intended
	}
	return err
}

func fakePlan(vus int, n int64, d time.Duration) Plan {
	return Plan{Scenarios: []Scenario{{
		Name:     "fake",
		Executor: Executor{Type: VUs, VUs: vus, Iterations: n, Duration: d},
		Steps:    []Step{{URL: "http://127.0.0.1:1/"}},
	}}}
}

func runFake(t *testing.T, ctx context.Context, p Plan, service time.Duration) *Result {
	t.Helper()
	res, _ := runFakeSeen(t, ctx, p, service)
	return res
}

// runFakeSeen runs p with fake clients and returns the intended starts the
// VUs were handed, in order.
func runFakeSeen(t *testing.T, ctx context.Context, p Plan, service time.Duration) (*Result, []time.Duration) {
	t.Helper()
	e, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	seen := &intents{}
	e.fakeClock = true
	e.newClient = func(*Scenario, int) (client, error) { return fakeClient{service, e, seen}, nil }
	res, err := e.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(seen.at)
	return res, seen.at
}

func TestClosedDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 2 VUs, 30 ms per request, 1 s: each VU starts requests at
		// 0, 30, ..., 990 ms (34 of them); the last ends at 1020 ms.
		res := runFake(t, t.Context(), fakePlan(2, 0, time.Second), 30*time.Millisecond)
		if res.Total.Requests != 68 {
			t.Errorf("requests = %d, want 68", res.Total.Requests)
		}
		if res.Duration != 1020*time.Millisecond {
			t.Errorf("duration = %v, want 1.02s (the last request started before the deadline finishes)", res.Duration)
		}
		if res.Interrupted {
			t.Error("a run that reached its duration is not interrupted")
		}
		// One point per second, and one for the tail after the last tick.
		if len(res.Timeline) != 2 || res.Timeline[0].Requests != 66 || res.Timeline[1].Requests != 2 {
			t.Errorf("timeline = %+v, want 66 requests in the first second and 2 after", res.Timeline)
		}
	})
}

func TestClosedIterationsBeforeDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := runFake(t, t.Context(), fakePlan(3, 10, time.Hour), 10*time.Millisecond)
		if res.Total.Requests != 10 {
			t.Errorf("requests = %d, want 10", res.Total.Requests)
		}
		// 10 requests on 3 VUs: 4 rounds of 10 ms.
		if res.Duration != 40*time.Millisecond {
			t.Errorf("duration = %v, want 40ms: -n ends the run without waiting for -d", res.Duration)
		}
	})
}

func TestClosedStopFinishesInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(500*time.Millisecond, cancel)
		// Starts at 0, 40, ..., 480 ms (13 per VU); the ones started at
		// 480 ms finish at 520 ms.
		res := runFake(t, ctx, fakePlan(2, 0, time.Minute), 40*time.Millisecond)
		if !res.Interrupted {
			t.Error("Interrupted = false after the context was canceled")
		}
		if res.Total.Requests != 26 {
			t.Errorf("requests = %d, want 26", res.Total.Requests)
		}
		if res.Duration != 520*time.Millisecond {
			t.Errorf("duration = %v, want 520ms", res.Duration)
		}
	})
}

func ratePlan(r Rate, d time.Duration, pre, max int) Plan {
	return Plan{Scenarios: []Scenario{{
		Name:     "open",
		Executor: Executor{Type: ConstantRate, Rate: r, Duration: d, PreVUs: pre, MaxVUs: max},
		Steps:    []Step{{URL: "http://127.0.0.1:1/"}},
	}}}
}

func mustRate(t *testing.T, s string) Rate {
	t.Helper()
	r, err := ParseRate(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Constant rates send exactly rate × duration iterations (rounded up: the
// first starts at 0), each at floor(i / rate) to the nanosecond.
func TestConstantRateExact(t *testing.T) {
	for _, tc := range []struct {
		rate string
		d    time.Duration
		want int64
	}{
		{"7", 3 * time.Second, 21},
		{"0.5", 3 * time.Second, 2},
		{"1000", 2 * time.Second, 2000},
		{"3", 1500 * time.Millisecond, 5}, // 0, 333.33ms, 666.67ms, 1s, 1.33s
		{"30/1m", 10 * time.Second, 5},
	} {
		t.Run(tc.rate, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := mustRate(t, tc.rate)
				res, at := runFakeSeen(t, t.Context(), ratePlan(r, tc.d, 10, 10), time.Millisecond)
				s := res.Total
				if s.Intended != tc.want || s.Sent != tc.want || s.Dropped != 0 || s.Requests != tc.want {
					t.Fatalf("intended %d sent %d dropped %d requests %d, want %d sent", s.Intended, s.Sent, s.Dropped, s.Requests, tc.want)
				}
				for i, got := range at {
					// floor(i * Per / Count), exactly
					want := time.Duration(int64(i) * int64(r.Per) / r.Count)
					if got != want {
						t.Errorf("iteration %d intended at %v, want %v", i, got, want)
					}
				}
				// The scheduler wakes on its grid: at most a quantum late.
				if lag := Quantile(s, metrics.ScheduleLag, 1); lag >= scheduleQuantum {
					t.Errorf("max schedule lag = %v on a fake clock, want under %v", lag, scheduleQuantum)
				}
			})
		})
	}
}

// Quantile is a test helper over a snapshot's histogram.
func Quantile(s *metrics.Snapshot, m metrics.Metric, q float64) time.Duration {
	return time.Duration(metrics.Quantile(s.Hist(m), q))
}

func rampPlan(t *testing.T, stages string, max int) Plan {
	st, err := ParseRateStages(stages)
	if err != nil {
		t.Fatal(err)
	}
	return Plan{Scenarios: []Scenario{{
		Name:     "ramp",
		Executor: Executor{Type: RampingRate, Stages: st, PreVUs: max, MaxVUs: max},
		Steps:    []Step{{URL: "http://127.0.0.1:1/"}},
	}}}
}

func TestRampingRateExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 0 to 2000/s over 10 s: 10,000 iterations; arrivals so far are
		// 100 t², so iteration k² starts at k/10 s exactly.
		res, at := runFakeSeen(t, t.Context(), rampPlan(t, "10s:0-2000", 50), time.Millisecond)
		if s := res.Total; s.Intended != 10_000 || s.Sent != 10_000 || s.Requests != 10_000 {
			t.Fatalf("intended %d sent %d requests %d, want 10000", s.Intended, s.Sent, s.Requests)
		}
		for k := range 100 {
			if got, want := at[k*k], time.Duration(k)*100*time.Millisecond; got != want {
				t.Errorf("iteration %d at %v, want %v", k*k, got, want)
			}
		}
		for i := 1; i < len(at); i++ {
			if at[i] < at[i-1] {
				t.Fatalf("intended starts go back: %v then %v", at[i-1], at[i])
			}
		}
	})
}

func TestRampingRateStagesExact(t *testing.T) {
	for _, tc := range []struct {
		stages string
		want   int64
	}{
		{"10s:0-2000,30s:2000,10s:2000-0", 10_000 + 60_000 + 10_000},
		{"3s:7-7", 21},
		{"3s:0.5-0.5", 2},
		{"1s:0-3", 2},            // 1.5 arrivals: iterations 0 and 1
		{"2s:1-2,1s:0-0", 3},     // 3 arrivals in the ramp, none in the pause
		{"1s:0,1s:0-10", 5},      // nothing for 1 s, then a ramp of 5 arrivals
		{"3s:7", 11},             // a single target ramps from 0: 10.5 arrivals
		{"2s:1-2,1s:0", 4},       // 3 in the first ramp, 1 in the ramp from 2 to 0
		{"1s:10,2s:10,1s:0", 30}, // 5 in the ramp up, 20 held, 5 in the ramp down
	} {
		t.Run(tc.stages, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				res, at := runFakeSeen(t, t.Context(), rampPlan(t, tc.stages, 100), time.Millisecond)
				if s := res.Total; s.Intended != tc.want || s.Sent != tc.want {
					t.Errorf("intended %d sent %d, want %d", s.Intended, s.Sent, tc.want)
				}
				if tc.stages == "1s:0,1s:0-10" && (len(at) == 0 || at[0] != time.Second) {
					t.Errorf("first iteration at %v, want 1s (after the pause)", at)
				}
			})
		})
	}
}

// With too few VUs the iterations are dropped and counted, never delayed.
func TestDropsWhenVUsRunOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 100/s for 1 s, 45 ms per request, 2 VUs: each VU takes every
		// fifth arrival, so 40 are sent and 60 dropped.
		res, at := runFakeSeen(t, t.Context(), ratePlan(RatePerSecond(100), time.Second, 2, 2), 45*time.Millisecond)
		s := res.Total
		if s.Intended != 100 || s.Sent != 40 || s.Dropped != 60 || s.Requests != 40 {
			t.Errorf("intended %d sent %d dropped %d requests %d, want 100 = 40 + 60", s.Intended, s.Sent, s.Dropped, s.Requests)
		}
		for _, a := range at {
			if a%(50*time.Millisecond) != 0 && a%(50*time.Millisecond) != 10*time.Millisecond {
				t.Errorf("an iteration intended at %v was sent: only those at 0 and 10 ms of each 50 ms can be", a)
			}
		}
		if lag := Quantile(s, metrics.ScheduleLag, 1); lag != 0 {
			t.Errorf("max lag %v: a sent iteration must start at its intended time, not be delayed", lag)
		}
		if s.VUsAllocated != 2 || s.VUsBusyMax != 2 {
			t.Errorf("VUs allocated %d busy %d, want 2 and 2", s.VUsAllocated, s.VUsBusyMax)
		}
	})
}

// VUs grow from the pre-allocated ones as needed, up to MaxVUs.
func TestVUsGrow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 100/s with 25 ms per request needs 3 VUs at once.
		res := runFake(t, t.Context(), ratePlan(RatePerSecond(100), time.Second, 1, 50), 25*time.Millisecond)
		s := res.Total
		if s.Sent != 100 || s.Dropped != 0 {
			t.Errorf("sent %d dropped %d, want 100 and 0", s.Sent, s.Dropped)
		}
		if s.VUsAllocated != 3 || s.VUsBusyMax != 3 {
			t.Errorf("VUs allocated %d, busy at most %d; want 3 and 3", s.VUsAllocated, s.VUsBusyMax)
		}
		if len(res.Timeline) == 0 || res.Timeline[0].VUsBusy != 3 || res.Timeline[0].Intended != 100 {
			t.Errorf("timeline %+v, want the first second to show 100 intended, 3 VUs busy", res.Timeline)
		}
	})
}

func TestRampingVUs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, err := ParseVUStages("1s:0-4,1s:4")
		if err != nil {
			t.Fatal(err)
		}
		p := Plan{Scenarios: []Scenario{{
			Name:     "rvus",
			Executor: Executor{Type: RampingVUs, VUStages: st},
			Steps:    []Step{{URL: "http://127.0.0.1:1/"}},
		}}}
		// VU k starts at k × 250 ms and loops 100 ms iterations until 2 s:
		// 18 + 15 + 13 + 10 iterations; the last ends at 2.05 s.
		res := runFake(t, t.Context(), p, 100*time.Millisecond)
		if res.Total.Requests != 56 {
			t.Errorf("requests = %d, want 56", res.Total.Requests)
		}
		if res.Duration != 2050*time.Millisecond {
			t.Errorf("duration = %v, want 2.05s", res.Duration)
		}
		if res.Total.VUsAllocated != 4 {
			t.Errorf("VUs allocated = %d, want 4", res.Total.VUsAllocated)
		}
	})
}

func TestRampingVUsDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, _ := ParseVUStages("1s:2-0,1s:0-2")
		p := Plan{Scenarios: []Scenario{{
			Name:     "down",
			Executor: Executor{Type: RampingVUs, VUStages: st},
			Steps:    []Step{{URL: "http://127.0.0.1:1/"}},
		}}}
		// 2 VUs from 0, one stops at 500 ms, the other at 1 s; then one
		// starts at 1.5 s (the second would at 2 s, the end). 100 ms
		// iterations: 5 + 10 + 5 = 20.
		res := runFake(t, t.Context(), p, 100*time.Millisecond)
		if res.Total.Requests != 20 {
			t.Errorf("requests = %d, want 20", res.Total.Requests)
		}
	})
}

// At the end, iterations in flight get the graceful stop, then their
// requests are canceled and counted.
func TestGracefulStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ratePlan(RatePerSecond(10), time.Second, 20, 20)
		p.GracefulStop = 1500 * time.Millisecond
		res := runFake(t, t.Context(), p, 5*time.Second)
		s := res.Total
		if s.Sent != 10 || s.Requests != 10 || s.ErrCount[metrics.ErrCanceled] != 10 {
			t.Errorf("sent %d requests %d canceled %d, want 10 canceled", s.Sent, s.Requests, s.ErrCount[metrics.ErrCanceled])
		}
		if res.Duration != 2500*time.Millisecond {
			t.Errorf("duration = %v, want 2.5s (1 s schedule + 1.5 s grace)", res.Duration)
		}
	})
}

func TestArrivalsAt(t *testing.T) {
	// A pure check of the schedule's arithmetic, across stage boundaries.
	st, _ := ParseRateStages("2s:10-10,2s:10-30,1s:0-0")
	s, err := newArrivals(st)
	if err != nil {
		t.Fatal(err)
	}
	// 20 in the first stage, 40 in the ramp (2 s × (10+30)/2), none after.
	if s.total != 60 || s.end != 5*time.Second {
		t.Fatalf("total %d end %v", s.total, s.end)
	}
	if got := s.at(19); got != 1900*time.Millisecond {
		t.Errorf("at(19) = %v", got)
	}
	// In the ramp, arrivals after τ are 10τ + 5τ²: 15 arrivals take 1 s.
	if got := s.at(35); got != 3*time.Second {
		t.Errorf("at(35) = %v, want 3s", got)
	}
	if got := s.at(59); got >= 4*time.Second || got < 3900*time.Millisecond {
		t.Errorf("at(59) = %v, want just before 4s", got)
	}
}

// Think time is a pause after each step, inside the iteration.
func TestThinkTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := fakePlan(1, 3, 0)
		p.Scenarios[0].Steps = []Step{
			{URL: "http://127.0.0.1:1/a", Think: Think{Min: 100 * time.Millisecond}},
			{URL: "http://127.0.0.1:1/b", Think: Think{Min: 50 * time.Millisecond, Max: 150 * time.Millisecond}},
		}
		res := runFake(t, t.Context(), p, 10*time.Millisecond)
		if res.Total.Requests != 6 {
			t.Fatalf("requests = %d, want 6", res.Total.Requests)
		}
		// Each iteration: 10 + 100 + 10 + [50, 150] ms.
		if res.Duration < 3*170*time.Millisecond || res.Duration > 3*270*time.Millisecond {
			t.Errorf("duration = %v, want 3 iterations of 170-270ms", res.Duration)
		}
		// Latency is the request's, not the pause's.
		if max := time.Duration(res.Total.Hist(metrics.Latency).Max()); max > 11*time.Millisecond {
			t.Errorf("latency max %v includes the think time", max)
		}
	})
}

func TestDataModes(t *testing.T) {
	ds := &DataSource{Name: "d", Columns: []string{"c"}, Rows: [][]string{{"0"}, {"1"}, {"2"}}}
	var cursor atomic.Int64
	for _, tc := range []struct {
		mode string
		vu   int
		want []string
	}{
		{DataPerVU, 1, []string{"1", "1", "1"}},
		{DataPerVU, 4, []string{"1", "1", "1"}},
		{DataSequential, 0, []string{"0", "1", "2", "0"}},
	} {
		ds.Mode = tc.mode
		cursor.Store(0)
		p := rowPick{ds: ds, row: map[string]string{}, next: &cursor}
		var got []string
		for range tc.want {
			p.take(tc.vu)
			got = append(got, p.row["c"])
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s vu %d: rows %v, want %v", tc.mode, tc.vu, got, tc.want)
		}
	}
	ds.Mode = DataRandom
	p := rowPick{ds: ds, row: map[string]string{}}
	seen := map[string]bool{}
	for range 200 {
		p.take(0)
		seen[p.row["c"]] = true
	}
	if len(seen) != 3 {
		t.Errorf("random mode took %v of 3 rows in 200 picks", seen)
	}
}

// TestCursorTake: the scheduler and the VUs take iterations from one
// cursor; taken concurrently, every iteration is taken exactly once, none
// before its intended start.
func TestCursorTake(t *testing.T) {
	st, _ := ParseRateStages("1s:1000-1000,1s:1000-3000")
	s, err := newArrivals(st)
	if err != nil {
		t.Fatal(err)
	}
	c := &cursor{sched: s}
	if _, ok := c.take(-1); ok {
		t.Fatal("took an iteration before its start")
	}
	if at, ok := c.take(0); !ok || at != 0 {
		t.Fatalf("take(0) = %v, %v; want the first iteration at 0", at, ok)
	}
	var mu sync.Mutex
	var got []time.Duration
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			// Each goroutine's clock moves on in its own steps.
			for now := time.Duration(g) * time.Millisecond; ; now += 7 * time.Millisecond {
				at, ok := c.take(now)
				if ok && at > now {
					t.Errorf("took an iteration intended at %v at %v", at, now)
				}
				if !ok && c.next.Load() >= s.total {
					return
				}
				if ok {
					mu.Lock()
					got = append(got, at)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	want := make([]time.Duration, 0, s.total)
	for i := int64(1); i < s.total; i++ {
		want = append(want, s.at(i))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("took %d iterations, want %d, each once (%d in the schedule)", len(got), len(want), s.total)
	}
}

// Open-model VUs send through patient http1 clients (their dials are paced
// when every connection is busy: http1.TestPatientDials); closed-model VUs
// dial at once, one connection each.
func TestOpenModelClientsArePatient(t *testing.T) {
	open := Scenario{Executor: Executor{Type: ConstantRate, Rate: RatePerSecond(100), Duration: time.Second, MaxVUs: 1}}
	closed := Scenario{Executor: Executor{Type: VUs, VUs: 1, Iterations: 1}}
	factory := testH1Clients(t)
	for _, tc := range []struct {
		sc   Scenario
		want bool
	}{{open, true}, {closed, false}} {
		c, err := factory(&tc.sc, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.(*h1Client).cl.Patient; got != tc.want {
			t.Errorf("%s: patient = %v, want %v", tc.sc.Executor.Type, got, tc.want)
		}
	}
}

// The VUs of a run share each static step's prepared http1 request (one
// copy, whose cache lines every VU's request reads): the same *Request
// for every client, another for another step.
func TestH1StaticRequestsShared(t *testing.T) {
	sc := Scenario{Executor: Executor{Type: VUs, VUs: 3, Iterations: 3}}
	factory := testH1Clients(t)
	steps := []*cstep{
		{Step: Step{Method: "GET", URL: "http://127.0.0.1:1/a"}, seq: 0, static: true},
		{Step: Step{Method: "GET", URL: "http://127.0.0.1:1/b"}, seq: 3, static: true},
	}
	var got [2][3]*http1.Request
	for vu := range 3 {
		c, err := factory(&sc, vu)
		if err != nil {
			t.Fatal(err)
		}
		for i, st := range steps {
			if got[i][vu], err = c.(*h1Client).prepare(&request{step: st}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range steps {
		if got[i][0] == nil || got[i][1] != got[i][0] || got[i][2] != got[i][0] {
			t.Errorf("step %d: requests %p %p %p, want one shared", i, got[i][0], got[i][1], got[i][2])
		}
	}
	if got[0][0] == got[1][0] || got[1][0].URL.Path != "/b" {
		t.Errorf("step 1's request is %v, want its own (/b)", got[1][0].URL)
	}
}

// testH1Clients makes the h1 engine's client factory for a plain plan;
// its pools close with the test.
func testH1Clients(t *testing.T) func(*Scenario, int) (client, error) {
	t.Helper()
	ps, err := newProxySet(ProxyPlan{}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	factory, pools, err := h1Clients(Plan{}, ps, observer{metrics.NewRecorder(1)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, p := range pools {
			p.Close()
		}
	})
	return factory
}
