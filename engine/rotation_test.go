package engine_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/enginetest"
	"github.com/faya-load/faya/metrics"
)

// connLog is a server that counts, per connection it accepted, the
// requests it served and whether the last one asked to close.
type connLog struct {
	mu    sync.Mutex
	conns map[net.Conn]*connSeen
	order []*connSeen
}

type connSeen struct {
	requests  int
	lastClose bool
	peer      string
}

type connKey struct{}

func startConnLog(t *testing.T) (*connLog, string) {
	t.Helper()
	l := &connLog{conns: map[net.Conn]*connSeen{}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := r.Context().Value(connKey{}).(*connSeen)
		l.mu.Lock()
		c.requests++
		c.lastClose = r.Close
		l.mu.Unlock()
		if ms, err := strconv.Atoi(r.URL.Query().Get("ms")); err == nil {
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
		_, _ = w.Write([]byte("ok"))
	}))
	srv.Config.ConnContext = func(ctx context.Context, nc net.Conn) context.Context {
		c := &connSeen{}
		if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
			c.peer = a.IP.String()
		}
		l.mu.Lock()
		l.conns[nc] = c
		l.order = append(l.order, c)
		l.mu.Unlock()
		return context.WithValue(ctx, connKey{}, c)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return l, srv.URL
}

// seen returns a copy of what the server saw, connection by connection.
func (l *connLog) seen() []connSeen {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]connSeen, 0, len(l.order))
	for _, c := range l.order {
		out = append(out, *c)
	}
	return out
}

func TestMaxRequestsPerConn(t *testing.T) { forEachEngine(t, testMaxRequestsPerConn) }

// With --max-requests-per-conn N every connection the server saw served
// at most N requests; the ones that served N were told to close on the
// Nth and faya counts exactly those as max_requests; the rest were open
// at the run's end (run_end).
func testMaxRequestsPerConn(t *testing.T, eng string) {
	log, url := startConnLog(t)
	const vus, n, per = 10, 2000, 20
	p := closedOn(eng, url+"/", vus, n)
	p.Transport.MaxRequestsPerConn = per
	s := run(t, p).Total
	seen := log.seen()
	full, partial, total := 0, 0, 0
	for i, c := range seen {
		total += c.requests
		switch {
		case c.requests == per:
			full++
			if !c.lastClose {
				t.Errorf("connection %d: its %dth request did not ask to close", i, per)
			}
		case c.requests > per:
			t.Errorf("connection %d served %d requests, more than %d", i, c.requests, per)
		default:
			partial++
			if c.lastClose {
				t.Errorf("connection %d: its request %d of %d asked to close", i, c.requests, per)
			}
		}
	}
	if total != n || s.Requests != n {
		t.Errorf("the server served %d requests, faya counted %d; want %d", total, s.Requests, n)
	}
	if s.Dialed != int64(len(seen)) {
		t.Errorf("dialed %d, the server accepted %d connections", s.Dialed, len(seen))
	}
	if got := s.CloseReasons[metrics.CloseMaxRequests]; got != int64(full) {
		t.Errorf("closed for max_requests = %d, the server saw %d connections serve %d requests (reasons %v)", got, full, per, s.CloseReasons)
	}
	// Short connections were open at the end (run_end), or dialed in Go's
	// dial race and never used (unused: the server saw 0 requests), or,
	// on a loaded machine, dropped by Go's pool when its writer had not
	// reported the request written in time (write_late, net/http only).
	short := s.CloseReasons[metrics.CloseRunEnd] + s.CloseReasons[metrics.CloseUnused] + s.CloseReasons[metrics.CloseWriteLate]
	if got := short; got != int64(partial) {
		t.Errorf("closed at run_end, unused or write_late = %d, want the %d connections with fewer than %d requests (reasons %v)", got, partial, per, s.CloseReasons)
	}
	if full < n/per-vus {
		t.Errorf("%d connections served %d requests, want at least %d", full, per, n/per-vus)
	}
	if s.CloseAnswers != 0 {
		t.Errorf("close answers = %d: the server's answers to faya's own Connection: close are not the server's choice", s.CloseAnswers)
	}
}

// TestMaxRequestsPerConnExact is issue 19's check: -c 10 -n 10000
// --max-requests-per-conn 100 makes the server accept exactly 100
// connections of exactly 100 requests each, all closed as max_requests
// (the last 10 carried their 100th request as the run ended). Each VU runs
// its share of the iterations (1,000) on a connection of its own: the
// default engine's shared pool keeps a VU's connection for it, and with
// --conn-scope vu each VU has a pool of its own on both engines. Go's
// pool (net/http, shared) hands an idle connection to whichever goroutine
// asks, so there connections retire at different times (not checked).
func TestMaxRequestsPerConnExact(t *testing.T) {
	for _, tc := range []struct {
		eng   string
		scope engine.ConnScope
	}{
		{engine.EngineH1, engine.ScopeShared},
		{engine.EngineH1, engine.ScopeVU},
		{engine.EngineNetHTTP, engine.ScopeVU},
	} {
		t.Run(enginetest.Name(tc.eng)+"/"+string(tc.scope), func(t *testing.T) {
			log, url := startConnLog(t)
			const vus, n, per = 10, 10000, 100
			p := closedOn(tc.eng, url+"/", vus, n)
			p.ConnScope = tc.scope
			p.Transport.MaxRequestsPerConn = per
			s := run(t, p).Total
			seen := log.seen()
			if late := s.CloseReasons[metrics.CloseWriteLate]; late > 0 && tc.eng == engine.EngineNetHTTP {
				// net/http dropped connections whose writer had not
				// reported the request written 50 ms after the answer (a
				// loaded machine starved it), and the VU went on on a new
				// one: not 100 x 100, but every connection's count exact.
				full, total := 0, 0
				for i, c := range seen {
					total += c.requests
					if c.requests > per || (c.requests == per) != c.lastClose {
						t.Errorf("connection %d served %d requests (last asked to close: %v), want at most %d, asked to close on the %dth", i, c.requests, c.lastClose, per, per)
					}
					if c.requests == per {
						full++
					}
				}
				r := s.CloseReasons
				if total != n || s.Requests != n || s.Dialed != int64(len(seen)) || r[metrics.CloseMaxRequests] != int64(full) ||
					r[metrics.CloseMaxRequests]+late+r[metrics.CloseRunEnd] != s.Dialed {
					t.Errorf("the server accepted %d connections (%d of %d requests) and served %d requests, faya dialed %d and sent %d; want all, closed as max_requests (%d), write_late or run_end (reasons %v)",
						len(seen), full, per, total, s.Dialed, s.Requests, full, r)
				}
				return
			}
			for i, c := range seen {
				if c.requests != per || !c.lastClose {
					t.Errorf("connection %d served %d requests (last asked to close: %v), want %d", i, c.requests, c.lastClose, per)
				}
			}
			if len(seen) != n/per || s.Dialed != n/per || s.Requests != n {
				t.Errorf("the server accepted %d connections, faya dialed %d and sent %d requests; want %d and %d", len(seen), s.Dialed, s.Requests, n/per, n)
			}
			if got := s.CloseReasons[metrics.CloseMaxRequests]; got != n/per {
				t.Errorf("closed for max_requests = %d, want %d (reasons %v)", got, n/per, s.CloseReasons)
			}
		})
	}
}

func TestMaxConnLifetime(t *testing.T) { forEachEngine(t, testMaxConnLifetime) }

// With --max-conn-lifetime D each request taking at least 20 ms, a
// connection is retired by the first request it gets once D old, so it
// serves at most D/20ms + 1 requests however slow the machine is; faya
// counts as lifetime exactly the connections the server was told to
// close.
func testMaxConnLifetime(t *testing.T, eng string) {
	log, url := startConnLog(t)
	const vus, n = 5, 100
	const life, each = 100 * time.Millisecond, 20 * time.Millisecond
	p := closedOn(eng, url+"/?ms=20", vus, n)
	p.Transport.MaxConnLifetime = life
	s := run(t, p).Total
	seen := log.seen()
	told := 0
	for i, c := range seen {
		if c.lastClose {
			told++
		}
		if most := int(life/each) + 1; c.requests > most {
			t.Errorf("connection %d served %d requests of at least %v, want at most %d within its %v", i, c.requests, each, most, life)
		}
	}
	got := s.CloseReasons[metrics.CloseLifetime]
	if got == 0 || got+s.CloseReasons[metrics.CloseRunEnd] != s.Dialed {
		t.Errorf("closed for lifetime %d, at run end %d, dialed %d: want every connection closed for one of the two, some for lifetime (each VU runs at least %v)",
			got, s.CloseReasons[metrics.CloseRunEnd], s.Dialed, each*n/vus)
	}
	// net/http cannot close a connection it holds idle: the request it
	// gets after its lifetime is its last and asks the server to close.
	// h1 closes it itself after the request in flight (or idle).
	if eng == engine.EngineNetHTTP && int64(told) != got || int64(told) > got {
		t.Errorf("closed for lifetime = %d, the server was told to close %d connections", got, told)
	}
	if s.Dialed != int64(len(seen)) || s.Closed != s.Dialed {
		t.Errorf("dialed %d closed %d, the server accepted %d", s.Dialed, s.Closed, len(seen))
	}
}

// A pipelined plan cannot rotate its connections: refused before any
// traffic.
func TestRotationNotPipelined(t *testing.T) {
	p := closedOn(engine.EngineH1, "http://127.0.0.1:1/", 1, 1)
	p.Pipeline = 4
	p.Transport.MaxRequestsPerConn = 10
	if _, err := engine.New(p); err == nil {
		t.Fatal("a pipelined plan with max requests per conn was accepted")
	}
}
