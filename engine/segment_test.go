package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/faya-load/faya/internal/session"
	"github.com/faya-load/faya/metrics"
)

func TestParseSegment(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Segment
		err  string
	}{
		{"0/3", Segment{0, 3}, ""},
		{" 6/7 ", Segment{6, 7}, ""},
		{"0/1", Segment{0, 1}, ""},
		{"3/3", Segment{}, "below N"},
		{"-1/3", Segment{}, "I counts from 0"},
		{"1/0", Segment{}, "N must be from 1"},
		{"1", Segment{}, "want I/N"},
		{"a/3", Segment{}, "whole numbers"},
		{"0/10001", Segment{}, "N must be from 1 to 10000"},
	} {
		got, err := ParseSegment(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSegment(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSegment(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	if s := (Segment{2, 7}).String(); s != "2/7" {
		t.Errorf("String = %q", s)
	}
}

// The shares of N segments add up to the whole, each index owned once,
// and the iteration split of a closed scenario loses nothing.
func TestSegmentShares(t *testing.T) {
	for n := 1; n <= 12; n++ {
		for total := int64(0); total <= 100; total++ {
			var sum int64
			owned := map[int64]int{}
			for i := range n {
				s := Segment{i, n}
				sum += s.Share(total)
				for j := range s.Share(total) {
					g := s.Global(j)
					if !s.Owns(g) || g >= total {
						t.Fatalf("segment %v: index %d of %d is %d, not its own or out of range", s, j, total, g)
					}
					owned[g]++
				}
			}
			if sum != total || len(owned) != int(total) {
				t.Fatalf("N=%d total=%d: shares add up to %d, %d distinct", n, total, sum, len(owned))
			}
			for vus := 1; vus <= 9; vus++ {
				var its, vs int64
				for i := range n {
					s := Segment{i, n}
					k := s.Iterations(total, vus)
					if s.Share(int64(vus)) == 0 && k != 0 {
						t.Fatalf("segment %v has no VUs of %d but %d iterations", s, vus, k)
					}
					its += k
					vs += s.Share(int64(vus))
				}
				if its != total || vs != int64(vus) {
					t.Fatalf("N=%d: %d iterations over %d VUs split into %d iterations, %d VUs", n, total, vus, its, vs)
				}
				// Row takes: 3 rounds of takes per VU are the run's
				// takes 0 to 3*vus-1, each once.
				takes := map[int64]bool{}
				for i := range n {
					s := Segment{i, n}
					for k := range 3 * s.Share(int64(vus)) {
						takes[s.take(k, int64(vus))] = true
					}
				}
				for g := range int64(3 * vus) {
					if !takes[g] {
						t.Fatalf("N=%d vus=%d: no segment takes row %d (%d taken)", n, vus, g, len(takes))
					}
				}
			}
		}
	}
}

// segLog records what the VUs of one run did.
type segLog struct {
	mu   sync.Mutex
	vus  map[int]int64 // requests per VU id
	urls map[int][]string
}

type logClient struct {
	fakeClient
	vu  int
	log *segLog
}

func (c logClient) do(ctx context.Context, r *request, intended time.Duration, s *metrics.Sample, out *session.Response) error {
	c.log.mu.Lock()
	c.log.vus[c.vu]++
	if r.url != "" {
		c.log.urls[c.vu] = append(c.log.urls[c.vu], r.url)
	}
	c.log.mu.Unlock()
	return c.fakeClient.do(ctx, r, intended, s, out)
}

type segRun struct {
	res *Result
	at  []time.Duration // intended starts, sorted
	log *segLog
}

// runSegment runs segment seg of p on fake clients, in a synctest bubble.
func runSegment(t *testing.T, p Plan, seg Segment, service time.Duration) segRun {
	t.Helper()
	var out segRun
	synctest.Test(t, func(t *testing.T) {
		e, err := New(p, WithSegment(seg))
		if err != nil {
			t.Fatal(err)
		}
		seen := &intents{}
		lg := &segLog{vus: map[int]int64{}, urls: map[int][]string{}}
		e.fakeClock = true
		e.newClient = func(_ *Scenario, vu int) (client, error) {
			return logClient{fakeClient{service, e, seen}, vu, lg}, nil
		}
		res, err := e.Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(seen.at)
		out = segRun{res, seen.at, lg}
	})
	return out
}

// unionOf runs every segment of n and returns the union of what they did.
func unionOf(t *testing.T, p Plan, n int, service time.Duration) (segRun, []segRun) {
	t.Helper()
	u := segRun{res: &Result{Total: &metrics.Snapshot{}}, log: &segLog{vus: map[int]int64{}, urls: map[int][]string{}}}
	var parts []segRun
	for i := range n {
		r := runSegment(t, p, Segment{i, n}, service)
		parts = append(parts, r)
		u.res.Total.Merge(r.res.Total)
		u.at = append(u.at, r.at...)
		for vu, k := range r.log.vus {
			if _, dup := u.log.vus[vu]; dup {
				t.Errorf("N=%d: VU %d ran on two segments", n, vu)
			}
			u.log.vus[vu] += k
		}
		for vu, l := range r.log.urls {
			u.log.urls[vu] = append(u.log.urls[vu], l...)
		}
	}
	slices.Sort(u.at)
	return u, parts
}

var segmentCounts = []int{1, 2, 3, 7}

// Open model, constant and ramping rates: iteration i goes to exactly one
// segment and keeps its intended start, for N segments that do not divide
// the schedule evenly.
func TestSegmentOpenUnion(t *testing.T) {
	ramp := Plan{Scenarios: []Scenario{{
		Name: "ramp",
		Executor: Executor{Type: RampingRate, PreVUs: 7, MaxVUs: 70, Stages: []RateStage{
			{Duration: 700 * time.Millisecond, From: RatePerSecond(0), To: RatePerSecond(301)},
			{Duration: 500 * time.Millisecond, From: RatePerSecond(301), To: RatePerSecond(301)},
			{Duration: 300 * time.Millisecond, From: RatePerSecond(301), To: RatePerSecond(17)},
		}},
		Steps: []Step{{URL: "http://127.0.0.1:1/"}},
	}}}
	for name, p := range map[string]Plan{
		"rate 7/s":      ratePlan(mustRate(t, "7"), 3*time.Second, 7, 7),
		"rate 1000/3 s": ratePlan(Rate{Count: 1000, Per: 3 * time.Second}, 2*time.Second, 7, 14),
		"ramping":       ramp,
	} {
		t.Run(name, func(t *testing.T) {
			whole := runSegment(t, p, Segment{}, time.Millisecond)
			ws := whole.res.Total
			if ws.Intended == 0 || ws.Dropped != 0 || int64(len(whole.at)) != ws.Sent {
				t.Fatalf("whole run: intended %d sent %d dropped %d, %d starts", ws.Intended, ws.Sent, ws.Dropped, len(whole.at))
			}
			for _, n := range segmentCounts {
				u, parts := unionOf(t, p, n, time.Millisecond)
				s := u.res.Total
				if s.Intended != ws.Intended || s.Sent != ws.Sent || s.Dropped != 0 || s.Requests != ws.Requests {
					t.Errorf("N=%d: intended %d sent %d dropped %d requests %d; the whole run: %d %d %d %d",
						n, s.Intended, s.Sent, s.Dropped, s.Requests, ws.Intended, ws.Sent, ws.Dropped, ws.Requests)
				}
				if !slices.Equal(u.at, whole.at) {
					t.Errorf("N=%d: the segments' intended starts (%d) differ from the whole run's (%d)", n, len(u.at), len(whole.at))
				}
				// Segment i's VUs are the run's VUs i, i+N, ...
				for i, part := range parts {
					for vu := range part.log.vus {
						if vu%n != i {
							t.Errorf("N=%d: segment %d ran VU %d", n, i, vu)
						}
					}
				}
			}
		})
	}
}

// Iteration i of the schedule is the segment's iteration (i - I) / N:
// checked index by index on the cursors.
func TestSegmentCursorIndices(t *testing.T) {
	sched, err := newArrivals([]RateStage{{Duration: time.Second, From: RatePerSecond(0), To: RatePerSecond(200)}, {Duration: time.Second, From: RatePerSecond(97), To: RatePerSecond(97)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range segmentCounts {
		got := map[time.Duration]int{}
		var taken int64
		for i := range n {
			r := &runner{seg: Segment{i, n}}
			c := r.newCursor(sched)
			for {
				at, ok := c.take(time.Hour)
				if !ok {
					break
				}
				g := int64(i) + c.next.Load()*int64(n) - int64(n)
				if want := sched.at(g); at != want {
					t.Fatalf("N=%d segment %d: its iteration %d is at %v, want the schedule's %d at %v", n, i, c.next.Load()-1, at, g, want)
				}
				got[at]++
				taken++
			}
		}
		if taken != sched.total {
			t.Errorf("N=%d: took %d iterations, the schedule has %d", n, taken, sched.total)
		}
	}
}

// Closed model: the VUs and -n split with no remainder lost; VU k is the
// same user (its per-vu data row) on whichever segment runs it.
func TestSegmentClosedUnion(t *testing.T) {
	p := fakePlan(5, 23, time.Hour)
	p.Data = []DataSource{{Name: "users", Columns: []string{"name"}, Mode: DataPerVU,
		Rows: [][]string{{"u0"}, {"u1"}, {"u2"}, {"u3"}, {"u4"}}}}
	p.Scenarios[0].Steps[0].URL = "http://127.0.0.1:1/{{ .data.users.name }}/{{ .vu }}"
	for _, n := range segmentCounts {
		u, parts := unionOf(t, p, n, 10*time.Millisecond)
		if u.res.Total.Requests != 23 || u.res.Total.Iterations != 23 {
			t.Errorf("N=%d: %d requests, %d iterations; want 23", n, u.res.Total.Requests, u.res.Total.Iterations)
		}
		if ids := slices.Sorted(maps.Keys(u.log.vus)); !slices.Equal(ids, []int{0, 1, 2, 3, 4}) {
			t.Errorf("N=%d: VUs %v ran, want 0 to 4 each on one segment", n, ids)
		}
		for vu, urls := range u.log.urls {
			want := fmt.Sprintf("http://127.0.0.1:1/u%d/%d", vu, vu+1)
			for _, got := range urls {
				if got != want {
					t.Errorf("N=%d: VU %d sent %s, want %s (its own row and number)", n, vu, got, want)
				}
			}
		}
		for i, part := range parts {
			for vu := range part.log.vus {
				if vu%n != i {
					t.Errorf("N=%d: segment %d ran VU %d", n, i, vu)
				}
			}
		}
	}
}

// Ramping VUs: each VU does on its segment exactly what it does in the
// whole run (the fake clock makes the counts exact).
func TestSegmentRampingVUsUnion(t *testing.T) {
	p := Plan{Scenarios: []Scenario{{
		Name: "ramp",
		Executor: Executor{Type: RampingVUs, VUStages: []VUStage{
			{Duration: time.Second, From: 0, To: 8}, {Duration: 500 * time.Millisecond, From: 8, To: 8}, {Duration: 500 * time.Millisecond, From: 8, To: 3},
		}},
		Steps: []Step{{URL: "http://127.0.0.1:1/"}},
	}}}
	whole := runSegment(t, p, Segment{}, 30*time.Millisecond)
	if len(whole.log.vus) != 8 {
		t.Fatalf("the whole run used %d VUs, want 8", len(whole.log.vus))
	}
	for _, n := range segmentCounts {
		u, _ := unionOf(t, p, n, 30*time.Millisecond)
		if !maps.Equal(u.log.vus, whole.log.vus) {
			t.Errorf("N=%d: requests per VU %v, the whole run's %v", n, u.log.vus, whole.log.vus)
		}
		if u.res.Total.Requests != whole.res.Total.Requests {
			t.Errorf("N=%d: %d requests, the whole run %d", n, u.res.Total.Requests, whole.res.Total.Requests)
		}
	}
}

// Sequential rows: the segments' takes are the run's takes, so no two
// segments take a row before the rows wrap around.
func TestSegmentSequentialRows(t *testing.T) {
	p := fakePlan(3, 12, time.Hour)
	rows := make([][]string, 12)
	for i := range rows {
		rows[i] = []string{fmt.Sprint("r", i)}
	}
	p.Data = []DataSource{{Name: "items", Columns: []string{"id"}, Mode: DataSequential, Rows: rows}}
	p.Scenarios[0].Steps[0].URL = "http://127.0.0.1:1/{{ .data.items.id }}"
	for _, n := range segmentCounts {
		u, _ := unionOf(t, p, n, 10*time.Millisecond)
		seen := map[string]int{}
		for _, urls := range u.log.urls {
			for _, x := range urls {
				seen[x]++
			}
		}
		// Each VU takes a row as it starts (its setup's) and one per
		// iteration after the first: 3 + 12 - 3 = 12 takes, the 12 rows.
		if len(seen) != 12 {
			t.Errorf("N=%d: rows sent %v, want each of the 12 once", n, seen)
		}
	}
}

// A segment of an open scenario with fewer VUs than segments is refused
// before the run.
func TestSegmentTooFewVUs(t *testing.T) {
	_, err := New(ratePlan(RatePerSecond(100), time.Second, 1, 2), WithSegment(Segment{0, 3}))
	if err == nil || !strings.Contains(err.Error(), "give at least 3") {
		t.Fatalf("err = %v, want a refusal naming the VUs to give", err)
	}
}

// The segment's pool is sized for its VUs; explicit limits are split.
func TestSegmentTransport(t *testing.T) {
	p := fakePlan(10, 0, time.Second)
	e, err := New(p, WithSegment(Segment{2, 3}))
	if err != nil {
		t.Fatal(err)
	}
	if c := e.Plan().Transport.Concurrency; c != 3 {
		t.Errorf("concurrency = %d, want 3 (VUs 2, 5, 8)", c)
	}
	p.Transport.MaxConnsPerHost = 100
	p.Transport.MaxIdleConns = 2
	e, err = New(p, WithSegment(Segment{0, 3}))
	if err != nil {
		t.Fatal(err)
	}
	if tr := e.Plan().Transport; tr.MaxConnsPerHost != 34 || tr.MaxIdleConns != 1 {
		t.Errorf("max conns per host %d, max idle %d; want 34 and 1", tr.MaxConnsPerHost, tr.MaxIdleConns)
	}
}

// WithStart: the run's clock starts at the given time, not when Run was
// called; a start missed by more than MissedStart is an error.
func TestWithStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now().Add(2 * time.Second)
		e, err := New(ratePlan(RatePerSecond(10), time.Second, 2, 2), WithStart(start))
		if err != nil {
			t.Fatal(err)
		}
		seen := &intents{}
		e.fakeClock = true
		e.newClient = func(*Scenario, int) (client, error) { return fakeClient{time.Millisecond, e, seen}, nil }
		res, err := e.Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !res.Start.Equal(start) || res.Total.Sent != 10 {
			t.Errorf("start %v sent %d, want %v and 10", res.Start, res.Total.Sent, start)
		}
		if lag := Quantile(res.Total, metrics.ScheduleLag, 1); lag >= scheduleQuantum {
			t.Errorf("max lag %v: the schedule counted from the wrong start", lag)
		}
		late, _ := New(ratePlan(RatePerSecond(10), time.Second, 2, 2), WithStart(time.Now().Add(-2*time.Second)))
		if _, err := late.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "missed the start") {
			t.Errorf("a start 2s ago: err = %v", err)
		}
	})
}

// A redacted plan keeps no credentials nor data rows, and leaves the
// plan it came from as it was.
func TestPlanRedacted(t *testing.T) {
	p := fakePlan(2, 0, time.Second)
	p.Scenarios[0].Steps[0].URL = "http://bob:hunter2@127.0.0.1:1/"
	p.Scenarios[0].Steps[0].Header = map[string][]string{"Authorization": {"Bearer s3cret"}, "Accept": {"text/html"}}
	p.Scenarios[0].Steps[0].JSON = map[string]any{"user": "bob", "password": "hunter2"}
	p.Scenarios[0].Setup = []Step{{URL: "http://127.0.0.1:1/login", Body: []byte("pw=hunter2"), Form: []Param{{"password", "hunter2"}}}}
	p.Proxy.URLs = []string{"http://u:proxypw@127.0.0.1:3128"}
	p.Data = []DataSource{{Name: "users", Columns: []string{"pw"}, Rows: [][]string{{"rowsecret"}}}}
	b, err := json.Marshal(p.Redacted())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hunter2", "s3cret", "proxypw", "rowsecret"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("the redacted plan holds %q: %s", secret, b)
		}
	}
	if !strings.Contains(string(b), "text/html") || !strings.Contains(string(b), "bob") {
		t.Errorf("the redacted plan lost what is not secret: %s", b)
	}
	if p.Scenarios[0].Steps[0].Header.Get("Authorization") != "Bearer s3cret" || p.Data[0].Rows[0][0] != "rowsecret" {
		t.Error("Redacted changed the plan it was called on")
	}
}
