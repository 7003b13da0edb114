package engine_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// reasons returns the close reasons counted, by name.
func reasons(s *metrics.Snapshot) map[string]int64 {
	m := map[string]int64{}
	for i, v := range s.CloseReasons {
		if v != 0 {
			m[metrics.CloseReason(i).String()] = v
		}
	}
	return m
}

func TestH2MaxRequestsPerConn(t *testing.T) { forEachEngine(t, testH2MaxRequestsPerConn) }

// --http 2 -c 10 -n 1000 --max-requests-per-conn 100 against Go's h2c
// server. On one connection of 10 streams at a time
// (--max-conns-per-host 1) the client stops opening streams on a
// connection at its 100th and dials the next: exactly 10 connections,
// each serving exactly 100 streams, all 10 closed as max_requests (the
// 1000th request is the last connection's 100th: none is left for
// run_end). With 10 connections of one stream each (the default pool),
// connections retire at different times: each serves at most 100, those
// that served 100 close as max_requests, the others (open at the end)
// as run_end.
func testH2MaxRequestsPerConn(t *testing.T, eng string) {
	const vus, n, per = 10, 1000, 100
	for _, tc := range []struct {
		name     string
		maxConns int
		exact    bool
	}{
		{"one connection at a time", 1, true},
		{"ten connections", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startH2(t, "h2c", nil)
			p := h2Plan(eng, srv.URL, transport.HTTP2, vus, n)
			p.Transport.MaxRequestsPerConn = per
			p.Transport.MaxConnsPerHost = tc.maxConns
			s := run(t, p).Total
			seen := srv.requestsPerConn()
			full, partial, total := 0, 0, 0
			for addr, k := range seen {
				total += k
				switch {
				case k == per:
					full++
				case k > per:
					t.Errorf("connection %s served %d streams, more than %d", addr, k, per)
				default:
					partial++
				}
			}
			if s.OK != n || total != n || srv.h2.Load() != n {
				t.Fatalf("ok %d, the server served %d (%d over h2), want %d; errors %v %v", s.OK, total, srv.h2.Load(), n, nonzero(s.ErrCount[:]), s.ErrExample)
			}
			if s.Dialed != int64(len(seen)) || s.Dialed != srv.conns.Load() || s.Closed != s.Dialed {
				t.Errorf("dialed %d, closed %d; the server accepted %d, served on %d", s.Dialed, s.Closed, srv.conns.Load(), len(seen))
			}
			if got := s.CloseReasons[metrics.CloseMaxRequests]; got != int64(full) {
				t.Errorf("closed as max_requests %d, the server saw %d connections serve %d (close reasons %v)", got, full, per, reasons(s))
			}
			if got := s.CloseReasons[metrics.CloseRunEnd]; got != int64(partial) {
				t.Errorf("closed at run_end %d, want the %d connections that served fewer than %d (close reasons %v)", got, partial, per, reasons(s))
			}
			if tc.exact && (len(seen) != n/per || full != n/per) {
				t.Errorf("%d connections, %d of them with %d streams: want exactly %d, each with %d (per connection %v)", len(seen), full, per, n/per, per, seen)
			}
			if full < n/per-vus {
				t.Errorf("%d connections served %d streams, want at least %d", full, per, n/per-vus)
			}
			if d := metrics.DistOf(s.Hist(metrics.H2Streams)); eng == engine.EngineH1 && (d.Count != s.Dialed || d.Max > per) {
				t.Errorf("streams per connection %+v over %d connections: want at most %d each", d, s.Dialed, per)
			}
			t.Logf("%d connections: %d served %d streams (max_requests), %d fewer (run_end)", len(seen), full, per, partial)
		})
	}
}

func TestH2MaxConnLifetime(t *testing.T) { forEachEngine(t, testH2MaxConnLifetime) }

// --http 2 --max-conn-lifetime 100ms, each answer taking at least 20 ms:
// a connection opens no stream once its lifetime is over, so each of its
// stream slots serves at most 100ms/20ms + 1 streams however slow the
// machine is, and every connection closes for its lifetime or at the
// run's end, some for their lifetime (each VU runs at least 400 ms).
func testH2MaxConnLifetime(t *testing.T, eng string) {
	const vus, n = 5, 100
	const life, each = 100 * time.Millisecond, 20 * time.Millisecond
	srv := startH2(t, "h2c", func(s *h2Server, _ *http.Server) { s.delay = each })
	p := h2Plan(eng, srv.URL, transport.HTTP2, vus, n)
	p.Transport.MaxConnLifetime = life
	s := run(t, p).Total
	if s.OK != n || srv.h2.Load() != n {
		t.Fatalf("ok %d, the server served %d over h2, want %d; errors %v %v", s.OK, srv.h2.Load(), n, nonzero(s.ErrCount[:]), s.ErrExample)
	}
	seen := srv.requestsPerConn()
	// The default pool: -c 5 is 5 connections of one stream each.
	most := int(life/each) + 1
	if eng == engine.EngineNetHTTP {
		most *= vus // Go's HTTP/2 puts every VU's stream on one connection
	}
	for addr, k := range seen {
		if k > most {
			t.Errorf("connection %s served %d streams of at least %v, want at most %d within its %v", addr, k, each, most, life)
		}
	}
	got := s.CloseReasons[metrics.CloseLifetime]
	if got == 0 || got+s.CloseReasons[metrics.CloseRunEnd] != s.Dialed {
		t.Errorf("closed for lifetime %d, at run end %d, dialed %d: want every connection closed for one of the two, some for lifetime (close reasons %v)",
			got, s.CloseReasons[metrics.CloseRunEnd], s.Dialed, reasons(s))
	}
	if s.Dialed != int64(len(seen)) || s.Dialed != srv.conns.Load() || s.Closed != s.Dialed {
		t.Errorf("dialed %d, closed %d; the server accepted %d, served on %d", s.Dialed, s.Closed, srv.conns.Load(), len(seen))
	}
	t.Logf("%d connections, close reasons %v", len(seen), reasons(s))
}
