package engine_test

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/enginetest"
	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// h2Server counts what an in-process Go server saw: connections (by
// ConnState), requests by protocol, and the most streams in flight at once.
type h2Server struct {
	URL              string
	conns            atomic.Int64
	h1, h2           atomic.Int64
	inflight, peak   atomic.Int64
	mu               sync.Mutex
	perConn          map[string]int // requests by remote address
	maxStreams       uint32
	keepaliveRequest int
	delay            time.Duration // each answer waits this long
}

func (s *h2Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.inflight.Add(1)
	defer s.inflight.Add(-1)
	for p := s.peak.Load(); n > p && !s.peak.CompareAndSwap(p, n); p = s.peak.Load() {
	}
	if r.ProtoMajor == 2 {
		s.h2.Add(1)
	} else {
		s.h1.Add(1)
	}
	s.mu.Lock()
	s.perConn[r.RemoteAddr]++
	k := s.perConn[r.RemoteAddr]
	s.mu.Unlock()
	if s.keepaliveRequest > 0 && k >= s.keepaliveRequest {
		w.Header().Set("Connection", "close") // net/http's h2 server answers it with a GOAWAY
	}
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	_, _ = w.Write([]byte("ok"))
}

// requestsPerConn returns the requests the server served on each
// connection, by the connection's remote address.
func (s *h2Server) requestsPerConn() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.perConn))
	for k, v := range s.perConn {
		out[k] = v
	}
	return out
}

// startH2 starts a server: TLS offering h2 and http/1.1 (tlsH2), TLS with
// http/1.1 only, or h2c (plain HTTP/2 with prior knowledge, and HTTP/1.1).
func startH2(t *testing.T, mode string, tune func(*h2Server, *http.Server)) *h2Server {
	t.Helper()
	s := &h2Server{perConn: map[string]int{}}
	srv := httptest.NewUnstartedServer(s)
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if tune != nil {
		tune(s, srv.Config)
	}
	if s.maxStreams > 0 {
		srv.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: int(s.maxStreams)}
	}
	switch mode {
	case "tls-h2":
		srv.EnableHTTP2 = true
		srv.StartTLS()
	case "tls-h1": // ALPN http/1.1: refuses a client that offers h2 only
		srv.StartTLS()
	case "tls-noalpn": // ignores ALPN
		srv.TLS = &tls.Config{NextProtos: []string{}}
		srv.StartTLS()
	case "h2c":
		srv.Config.Protocols = new(http.Protocols)
		srv.Config.Protocols.SetHTTP1(true)
		srv.Config.Protocols.SetUnencryptedHTTP2(true)
		srv.Start()
	}
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// h2Engines are the engines that speak HTTP/2.
func h2Engines(t *testing.T, test func(t *testing.T, eng string)) {
	for _, eng := range engine.Engines() {
		if !engine.SpeaksH2(eng) {
			continue
		}
		t.Run(enginetest.Name(eng), func(t *testing.T) { test(t, eng) })
	}
}

func h2Plan(eng, url string, mode transport.HTTPVersion, vus int, n int64) engine.Plan {
	p := closedOn(eng, url+"/", vus, n)
	p.Transport.HTTP = mode
	p.Transport.InsecureSkipVerify = true
	return p
}

// The protocol each request and connection spoke, by --http mode and
// server: counted per request and per connection, the connections faya
// dialed being the ones the server accepted.
func TestH2Protocols(t *testing.T) {
	h2Engines(t, func(t *testing.T, eng string) {
		for _, tc := range []struct {
			name   string
			server string
			mode   transport.HTTPVersion
			h2     bool
		}{
			{"auto picks h2", "tls-h2", transport.HTTPAuto, engine.AutoH2(eng)}, // the default engine offers h2 only with --http 2
			{"1.1 forces h1", "tls-h2", transport.HTTP1, false},
			{"2 over TLS", "tls-h2", transport.HTTP2, true},
			{"auto on an h1 server", "tls-h1", transport.HTTPAuto, false},
			{"2 is h2c on http", "h2c", transport.HTTP2, true},
			{"auto is h1 on http", "h2c", transport.HTTPAuto, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				srv := startH2(t, tc.server, nil)
				const n = 200
				res := run(t, h2Plan(eng, srv.URL, tc.mode, 4, n))
				s := res.Total
				if s.Requests != n || s.OK != n {
					t.Fatalf("requests %d, ok %d, errors %v", s.Requests, s.OK, s.ErrCount)
				}
				want, other := metrics.ProtoH2, metrics.ProtoH1
				sh2, sh1 := srv.h2.Load(), srv.h1.Load()
				if !tc.h2 {
					want, other = other, want
					sh2, sh1 = sh1, sh2
				}
				if s.Protocols[want] != n || s.Protocols[other] != 0 || sh2 != n || sh1 != 0 {
					t.Errorf("requests by protocol %v; the server saw %d of the protocol, %d of the other", s.Protocols, sh2, sh1)
				}
				if s.Dialed != srv.conns.Load() || s.DialedProto[want] != s.Dialed {
					t.Errorf("dialed %d (by protocol %v), the server accepted %d", s.Dialed, s.DialedProto, srv.conns.Load())
				}
				if s.Closed != s.Dialed {
					t.Errorf("closed %d of %d dialed", s.Closed, s.Dialed)
				}
				if tc.h2 {
					// Four VUs share HTTP/2 connections: at most the four
					// MaxConnsPerHost allows, each carrying streams for
					// several requests.
					if s.Dialed > 4 || s.H2.Conns != s.Dialed {
						t.Errorf("h2: dialed %d, h2 connections closed %d", s.Dialed, s.H2.Conns)
					}
					// net/http asks its pool again when its HTTP/2 pool had
					// no connection yet (the dial race): nothing was sent
					// twice, so no retry.
					if s.Retries != 0 {
						t.Errorf("h2: %d retries counted; the server saw %d requests for %d", s.Retries, sh2, n)
					}
					if d := metrics.DistOf(s.Hist(metrics.H2Streams)); d.Count != s.Dialed || int64(d.Mean)*d.Count > n+d.Count {
						t.Errorf("streams per connection %+v over %d connections", d, s.Dialed)
					}
				}
			})
		}
	})
}

// --http 2 against a TLS server that picks HTTP/1.1: every request fails
// as protocol_negotiation, no request reaches the server, and each
// connection is counted (the server accepted it) and closed as a failed
// handshake.
func TestH2NegotiationRequired(t *testing.T) {
	h2Engines(t, func(t *testing.T, eng string) {
		t.Run("refused", func(t *testing.T) {
			testH2Negotiation(t, eng, "tls-h1", "does not speak h2: remote error: tls: no application protocol")
		})
		t.Run("ignored", func(t *testing.T) { testH2Negotiation(t, eng, "tls-noalpn", "picked no protocol by ALPN") })
	})
}

func testH2Negotiation(t *testing.T, eng, server, example string) {
	{
		srv := startH2(t, server, nil)
		res := run(t, h2Plan(eng, srv.URL, transport.HTTP2, 2, 10))
		s := res.Total
		if s.ErrCount[metrics.ErrProtocolNegotiation] != 10 || s.Requests != 10 {
			t.Fatalf("requests %d, errors %v, example %q; protocols %v, server h1 %d h2 %d; %v", s.Requests, s.ErrCount, s.ErrExample[metrics.ErrProtocolNegotiation], s.Protocols, srv.h1.Load(), srv.h2.Load(), s.ErrExample)
		}
		if !strings.Contains(s.ErrExample[metrics.ErrProtocolNegotiation], example) {
			t.Errorf("example %q", s.ErrExample[metrics.ErrProtocolNegotiation])
		}
		if got := srv.h1.Load() + srv.h2.Load(); got != 0 {
			t.Errorf("the server answered %d requests", got)
		}
		if s.Dialed != srv.conns.Load() || s.CloseReasons[metrics.CloseHandshakeFailed] != s.Dialed {
			t.Errorf("dialed %d, server accepted %d, close reasons %v", s.Dialed, srv.conns.Load(), s.CloseReasons)
		}
	}
}

// Streams share connections within the server's MAX_CONCURRENT_STREAMS
// (2 here): never more than 2 at once on a connection, as faya counted
// them and as the server saw them, every stream on a connection faya
// counted, and every connection faya dialed one the server accepted.
func TestH2StreamLimit(t *testing.T) {
	h2Engines(t, func(t *testing.T, eng string) {
		srv := startH2(t, "tls-h2", func(s *h2Server, _ *http.Server) { s.maxStreams = 2 })
		p := h2Plan(eng, srv.URL, transport.HTTP2, 8, 400)
		p.Transport.MaxConnsPerHost = 1
		res := run(t, p)
		s := res.Total
		if s.OK != 400 || s.Dialed != srv.conns.Load() || s.Closed != s.Dialed {
			t.Fatalf("ok %d, dialed %d, closed %d, server accepted %d, errors %v, close reasons %v", s.OK, s.Dialed, s.Closed, srv.conns.Load(), s.ErrCount, s.CloseReasons)
		}
		// Both engines open one stream on a new connection until the
		// server's SETTINGS are known (Go's own pool would assume 100
		// streams and have the server refuse those past 2): the peak is
		// the server's limit, and no stream is refused and sent again.
		if s.H2.PeakStreams != 2 || s.Retries != 0 {
			t.Errorf("peak streams on a connection: %d, retries %d; want the server's 2, none", s.H2.PeakStreams, s.Retries)
		}
		d := metrics.DistOf(s.Hist(metrics.H2Streams))
		if sum := int64(d.Mean) * d.Count; d.Count != s.Dialed || sum < 400-d.Count || sum > 400+d.Count {
			t.Errorf("streams per connection %+v: want %d connections carrying 400 requests' streams", d, s.Dialed)
		}
	})
}

// A server that ends each connection after 10 requests (net/http's h2
// server answers "Connection: close" with a GOAWAY): every connection but
// those the run's end closed closes as goaway, after the server's count.
func TestH2GoAwayCloses(t *testing.T) {
	h2Engines(t, func(t *testing.T, eng string) {
		srv := startH2(t, "tls-h2", func(s *h2Server, _ *http.Server) { s.keepaliveRequest = 10 })
		res := run(t, h2Plan(eng, srv.URL, transport.HTTP2, 1, 100))
		s := res.Total
		if s.OK != 100 || s.Dialed != srv.conns.Load() {
			t.Fatalf("ok %d, dialed %d, server accepted %d, errors %v %v", s.OK, s.Dialed, srv.conns.Load(), s.ErrCount, s.ErrExample)
		}
		if s.Dialed != 10 {
			t.Errorf("dialed %d for 100 requests, 10 per connection", s.Dialed)
		}
		if got := s.CloseReasons[metrics.CloseGoAway]; got < 9 {
			t.Errorf("closed by goaway %d, want at least 9 of %d (close reasons %v)", got, s.Dialed, s.CloseReasons)
		}
		if d := metrics.DistOf(s.Hist(metrics.ServerCloseRequests)); d.Min != 10 || d.Max != 10 {
			t.Errorf("requests per connection the server ended: %+v, want 10", d)
		}
	})
}

// h2c by prior knowledge (--http 2 on an http URL) to an HTTP/1.1-only
// server: the server answers the preface in HTTP/1.1, which is the
// negotiation failing, on each engine; never an unexplained "other".
func TestH2cToHTTP1Server(t *testing.T) {
	h2Engines(t, func(t *testing.T, eng string) {
		srv := testserver.Start(t)
		s := run(t, h2Plan(eng, srv.URL, transport.HTTP2, 2, 10)).Total
		if s.Requests != 10 || s.OK != 0 {
			t.Fatalf("requests %d, ok %d; want 10 failed", s.Requests, s.OK)
		}
		// Each engine gives a new connection one stream until the
		// server answered (its SETTINGS): each request meets the HTTP/1.1
		// answer itself.
		if neg := s.ErrCount[metrics.ErrProtocolNegotiation]; neg != 10 {
			t.Errorf("errors %v (examples %v): want protocol_negotiation for every request", nonzero(s.ErrCount[:]), s.ErrExample)
		}
	})
}
