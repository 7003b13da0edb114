package engine_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/metrics"
)

// countAtLeast counts the values of h at or above v.
func countAtLeast(h *hdrhistogram.Histogram, v time.Duration) int64 {
	var n int64
	if h == nil {
		return 0
	}
	for _, b := range h.Distribution() {
		if b.From >= int64(v) {
			n += b.Count
		}
	}
	return n
}

// The stall test (coordinated omission): the server stops answering for
// 1 s in the middle of a 5 s run at 200/s. Arrivals do not wait for it, so
// the ~200 requests that arrived during the stall wait for it, and latency
// from the intended start shows it. Ten connections are allowed, so most of
// them wait in the pool, not on the server: their service time (once they
// had a connection) is short, and service time alone would hide the stall.
func TestStallShowsInLatencyFromIntendedStart(t *testing.T) {
	forEachEngine(t, testStallShowsInLatencyFromIntendedStart)
}

func testStallShowsInLatencyFromIntendedStart(t *testing.T, eng string) {
	if testing.Short() {
		t.Skip("a 5 s run")
	}
	var mu sync.Mutex
	stalled := false
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		s := stalled
		mu.Unlock()
		if s {
			<-release
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	go func() {
		time.Sleep(2 * time.Second)
		mu.Lock()
		stalled = true
		mu.Unlock()
		time.Sleep(time.Second)
		mu.Lock()
		stalled = false
		mu.Unlock()
		close(release)
	}()

	p := engine.Plan{Engine: eng, Scenarios: []engine.Scenario{{
		Name:     "stall",
		Executor: engine.Executor{Type: engine.ConstantRate, Rate: engine.RatePerSecond(200), Duration: 5 * time.Second, PreVUs: 50, MaxVUs: 400},
		Steps:    []engine.Step{{URL: srv.URL + "/"}},
	}}}
	p.Transport.MaxConnsPerHost = 10
	s := run(t, p).Total
	if s.Intended != 1000 || s.Sent != 1000 || s.Dropped != 0 || s.OK != 1000 {
		t.Fatalf("intended %d sent %d dropped %d ok %d, want 1000 sent and answered", s.Intended, s.Sent, s.Dropped, s.OK)
	}
	lat, svc := s.Hist(metrics.Latency), s.Hist(metrics.ServiceTime)
	if p99 := time.Duration(metrics.Quantile(lat, 0.99)); p99 < 800*time.Millisecond {
		t.Errorf("latency p99 = %v, want the stall (about 1 s)", p99)
	}
	// Arrivals in the first half of the stall waited at least 500 ms.
	if n := countAtLeast(lat, 500*time.Millisecond); n < 80 {
		t.Errorf("%d requests with latency >= 500ms, want about 100", n)
	}
	if n := countAtLeast(svc, 500*time.Millisecond); n > 20 {
		t.Errorf("%d requests with service time >= 500ms, want only those on the 10 stalled connections", n)
	}
	if p95 := time.Duration(metrics.Quantile(svc, 0.95)); p95 > 100*time.Millisecond {
		t.Errorf("service time p95 = %v: the wait in the pool is not service time", p95)
	}
	if p99 := time.Duration(metrics.Quantile(s.Hist(metrics.Blocked), 0.99)); p99 < 500*time.Millisecond {
		t.Errorf("blocked p99 = %v, want the wait for one of the 10 connections", p99)
	}
}

// An open-model run over real sockets sends exactly its schedule.
func TestRateRealSockets(t *testing.T) { forEachEngine(t, testRateRealSockets) }

func testRateRealSockets(t *testing.T, eng string) {
	srv := testserver.Start(t)
	p := engine.Plan{Engine: eng, Scenarios: []engine.Scenario{{
		Name:     "rate",
		Executor: engine.Executor{Type: engine.ConstantRate, Rate: engine.RatePerSecond(500), Duration: time.Second, PreVUs: 5, MaxVUs: 100},
		Steps:    []engine.Step{{URL: srv.URL + "/"}},
	}}}
	s := run(t, p).Total
	st := srv.Stats()
	if s.Intended != 500 || s.Sent+s.Dropped != 500 || st.Requests != s.Sent {
		t.Errorf("intended %d sent %d dropped %d; the server saw %d", s.Intended, s.Sent, s.Dropped, st.Requests)
	}
	if s.Dialed > 100 || s.Dialed != st.ConnsNew {
		t.Errorf("dialed %d, server %d, want equal and at most max-vus", s.Dialed, st.ConnsNew)
	}
}
