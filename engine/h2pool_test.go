package engine_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// streamLog is Go's HTTP/2 server (h2c by prior knowledge) at a given
// MAX_CONCURRENT_STREAMS, counting per connection it accepted the
// requests it served and the most in flight at once. A request waits
// ?ms= milliseconds before its answer.
type streamLog struct {
	URL   string
	mu    sync.Mutex
	order []*streamConn
	notH2 int
}

type streamConn struct {
	requests, inflight, peak int
}

type streamKey struct{}

func startStreamLog(t *testing.T, maxStreams int) *streamLog {
	t.Helper()
	l := &streamLog{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := r.Context().Value(streamKey{}).(*streamConn)
		l.mu.Lock()
		c.requests++
		c.inflight++
		c.peak = max(c.peak, c.inflight)
		if r.ProtoMajor != 2 {
			l.notH2++
		}
		l.mu.Unlock()
		if ms, err := strconv.Atoi(r.URL.Query().Get("ms")); err == nil {
			select { // a stream the client reset ends the wait
			case <-time.After(time.Duration(ms) * time.Millisecond):
			case <-r.Context().Done():
			}
		}
		l.mu.Lock()
		c.inflight--
		l.mu.Unlock()
		_, _ = w.Write([]byte("ok"))
	}))
	srv.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		c := &streamConn{}
		l.mu.Lock()
		l.order = append(l.order, c)
		l.mu.Unlock()
		return context.WithValue(ctx, streamKey{}, c)
	}
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: maxStreams}
	srv.Start()
	t.Cleanup(srv.Close)
	l.URL = srv.URL
	return l
}

// seen returns a copy of what the server saw, connection by connection.
func (l *streamLog) seen() []streamConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]streamConn, 0, len(l.order))
	for _, c := range l.order {
		out = append(out, *c)
	}
	return out
}

// h2cPlan is a closed run over h2c by prior knowledge.
func h2cPlan(eng, url string, vus int, n int64) engine.Plan {
	p := closedOn(eng, url, vus, n)
	p.Transport.HTTP = transport.HTTP2
	return p
}

// checkServed holds a run to what the server saw: every request served
// over HTTP/2, as many connections as faya dialed, all closed.
func checkServed(t *testing.T, l *streamLog, s *metrics.Snapshot, n int64) []streamConn {
	t.Helper()
	seen := l.seen()
	total := 0
	for _, c := range seen {
		total += c.requests
	}
	if s.OK != n || int64(total) != n || l.notH2 != 0 {
		t.Fatalf("ok %d, the server served %d (%d not over HTTP/2); want %d; errors %v %v", s.OK, total, l.notH2, n, nonzero(s.ErrCount[:]), s.ErrExample)
	}
	if s.Dialed != int64(len(seen)) || s.Closed != s.Dialed {
		t.Errorf("dialed %d, closed %d; the server accepted %d connections", s.Dialed, s.Closed, len(seen))
	}
	if d := metrics.DistOf(s.Hist(metrics.H2Streams)); d.Count != s.Dialed || d.Max < 1 {
		t.Errorf("streams per connection %+v over %d connections", d, s.Dialed)
	}
	return seen
}

// A server allowing 2 streams, one connection allowed (-c 8
// --max-conns-per-host 1): the 8 VUs share its 2 slots; the requests
// that found both taken waited for one, in the stream_wait phase (not
// in blocked), and the server never had more than 2 in flight.
func TestH2StreamWait(t *testing.T) {
	h2Engines(t, func(t *testing.T, eng string) {
		l := startStreamLog(t, 2)
		const n = 200
		p := h2cPlan(eng, l.URL+"/?ms=10", 8, n)
		p.Transport.MaxConnsPerHost = 1
		s := run(t, p).Total
		seen := checkServed(t, l, s, n)
		if len(seen) != 1 || seen[0].peak != 2 {
			t.Errorf("the server saw %+v: want one connection with 2 streams at once", seen)
		}
		// 8 VUs on 2 slots: at any time 6 wait, each request after the
		// first few waits behind the others.
		w := metrics.DistOf(s.Hist(metrics.StreamWait))
		if w.Count < n/2 || w.Max <= 0 {
			t.Errorf("stream_wait %+v over %d requests: want most of them", w, n)
		}
		if s.H2.PeakStreams != 2 {
			t.Errorf("peak streams %d, want the server's 2", s.H2.PeakStreams)
		}
		if h := s.H2; h.MaxStreamsSeen < 1 || h.MaxStreamsMin != 2 || h.MaxStreamsMax != 2 {
			t.Errorf("the server's SETTINGS_MAX_CONCURRENT_STREAMS as seen: %d times, %d to %d; want 2", h.MaxStreamsSeen, h.MaxStreamsMin, h.MaxStreamsMax)
		}
	})
}

// --h2-strict-streams: with the server's 2 streams taken no other
// connection is opened though --max-conns-per-host allows 4; without it
// faya opens the 4 the 8 VUs need.
func TestH2StrictStreams(t *testing.T) {
	h2Engines(t, func(t *testing.T, eng string) {
		for _, strict := range []bool{true, false} {
			t.Run(map[bool]string{true: "strict", false: "not strict"}[strict], func(t *testing.T) {
				l := startStreamLog(t, 2)
				const n = 400
				p := h2cPlan(eng, l.URL+"/?ms=2", 8, n)
				p.Transport.MaxConnsPerHost = 4
				p.Transport.H2StrictStreams = strict
				s := run(t, p).Total
				seen := checkServed(t, l, s, n)
				want := 4
				if strict {
					want = 1
				}
				if len(seen) != want {
					t.Errorf("the server accepted %d connections, want %d", len(seen), want)
				}
				for i, c := range seen {
					if c.peak > 2 {
						t.Errorf("connection %d carried %d streams at once, the server allows 2", i, c.peak)
					}
				}
				if w := metrics.DistOf(s.Hist(metrics.StreamWait)); strict && w.Count < n/2 {
					t.Errorf("strict: stream_wait %+v over %d requests: want most of them", w, n)
				}
			})
		}
	})
}

// --h2-max-streams 3 on a server allowing 100: no connection carries
// more than 3 streams at once, as the server saw it, and the 9 VUs
// spread over the 3 connections --max-conns-per-host allows.
func TestH2MaxStreams(t *testing.T) {
	h2Engines(t, func(t *testing.T, eng string) {
		l := startStreamLog(t, 100)
		const n = 450
		p := h2cPlan(eng, l.URL+"/?ms=2", 9, n)
		p.Transport.MaxConnsPerHost = 3
		p.Transport.H2MaxStreams = 3
		s := run(t, p).Total
		seen := checkServed(t, l, s, n)
		if len(seen) != 3 {
			t.Errorf("the server accepted %d connections, want 3", len(seen))
		}
		for i, c := range seen {
			if c.peak > 3 {
				t.Errorf("connection %d carried %d streams at once, want at most 3", i, c.peak)
			}
		}
		if s.H2.PeakStreams > 3 || s.H2.PeakStreams < 1 {
			t.Errorf("peak streams %d, want 1 to 3", s.H2.PeakStreams)
		}
	})
}

// A request that waits for a stream slot past its timeout fails as a
// timeout on both engines, its wait counted as stream_wait: one slot
// (the server's MAX_CONCURRENT_STREAMS 1, one connection), answers held
// for 2 s, a 200 ms timeout.
func TestH2StreamWaitTimeout(t *testing.T) {
	h2Engines(t, func(t *testing.T, eng string) {
		l := startStreamLog(t, 1)
		const n = 8
		p := h2cPlan(eng, l.URL+"/?ms=2000", 4, n)
		p.Transport.MaxConnsPerHost = 1
		p.Timeout = 200 * time.Millisecond
		s := run(t, p).Total
		if s.Requests != n || s.ErrCount[metrics.ErrTimeout] != n {
			t.Fatalf("requests %d, errors %v (%v): want %d timeouts", s.Requests, nonzero(s.ErrCount[:]), s.ErrExample, n)
		}
		if w := metrics.DistOf(s.Hist(metrics.StreamWait)); w.Count < 1 {
			t.Errorf("stream_wait %+v: want the requests that waited for the slot", w)
		}
		if seen := l.seen(); len(seen) != 1 || seen[0].peak != 1 {
			t.Errorf("the server saw %+v: want one connection, one stream at a time", seen)
		}
	})
}

// A Go scenario's requests over HTTP/2 (h2c) go through the engine's pool
// on both engines: counted as HTTP/2, every one served over HTTP/2 on the
// connections faya dialed.
func TestH2GoScenario(t *testing.T) {
	h2Engines(t, func(t *testing.T, eng string) {
		l := startStreamLog(t, 100)
		p := engine.Plan{Engine: eng, Scenarios: []engine.Scenario{{
			Name:     "code",
			Executor: engine.Executor{Type: engine.VUs, VUs: 4, Iterations: 40},
			Func: &engine.Func{Iteration: func(ctx context.Context, vu *engine.VU) error {
				req, _ := http.NewRequestWithContext(ctx, "GET", l.URL+"/", nil)
				resp, err := vu.Client().Do(req)
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				return resp.Body.Close()
			}},
		}}}
		p.Transport.HTTP = transport.HTTP2
		s := run(t, p).Total
		checkServed(t, l, s, 40)
		if s.Protocols[metrics.ProtoH2] != 40 {
			t.Errorf("requests by protocol %v, want 40 over HTTP/2", s.Protocols)
		}
	})
}
