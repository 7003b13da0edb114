package engine_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/target"
	"github.com/faya-load/faya/transport"
)

// alpnServer is the built-in target over TLS (h2 and http/1.1 offered,
// or http/1.1 alone) that counts the TLS handshakes whose client offered
// h2, and the requests by protocol.
type alpnServer struct {
	URL       string
	tg        *target.Target
	conns     atomic.Int64
	offeredH2 atomic.Int64
	hellos    atomic.Int64
	h1, h2    atomic.Int64
}

func startALPN(t *testing.T, h2 bool) *alpnServer {
	t.Helper()
	s := &alpnServer{tg: target.New()}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			s.h2.Add(1)
		} else {
			s.h1.Add(1)
		}
		s.tg.ServeHTTP(w, r)
	}))
	srv.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
		s.tg.ConnState(c, st)
	}
	srv.EnableHTTP2 = h2
	srv.StartTLS()
	srv.TLS.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		s.hellos.Add(1)
		if slices.Contains(hello.SupportedProtos, "h2") {
			s.offeredH2.Add(1)
		}
		return nil, nil
	}
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// --http auto on https, as Go's http.Transport: the server's ALPN pick
// decides each request's protocol, the connections of both pools stay
// within --max-conns-per-host, each connection's dial is charged to one
// request, and the default engine remembers the pick: against an
// HTTP/1.1 server only its first dial offers h2 (net/http offers it on
// every dial).
func TestAutoALPN(t *testing.T) { forEachEngine(t, testAutoALPN) }

func testAutoALPN(t *testing.T, eng string) {
	for _, h2 := range []bool{true, false} {
		name := map[bool]string{true: "h2 server", false: "h1 server"}[h2]
		t.Run(name, func(t *testing.T) {
			srv := startALPN(t, h2)
			const n, vus, maxConns = 400, 8, 2
			p := h2Plan(eng, srv.URL, transport.HTTPAuto, vus, n)
			p.Transport.MaxConnsPerHost = maxConns
			s := run(t, p).Total
			if s.OK != n {
				t.Fatalf("ok %d of %d: %v %v", s.OK, n, s.ErrCount, s.ErrExample)
			}
			want, other := metrics.ProtoH2, metrics.ProtoH1
			got, wrong := srv.h2.Load(), srv.h1.Load()
			if !h2 {
				want, other = other, want
				got, wrong = wrong, got
			}
			if s.Protocols[want] != n || s.Protocols[other] != 0 || got != n || wrong != 0 {
				t.Errorf("requests by protocol %v; the server saw %d of the protocol, %d of the other", s.Protocols, got, wrong)
			}
			// At most maxConns, and on net/http's HTTP/1.1 one more for
			// each connection it closed after an answer because its
			// writer had not reported the request written in time
			// (write_late: a loaded machine), which a later request
			// replaced.
			conns := srv.conns.Load()
			if s.Dialed != conns || conns < 1 || conns > maxConns+replaced(s) || s.DialedProto[want] != s.Dialed {
				t.Errorf("dialed %d (by protocol %v), the server accepted %d: want the same, at most %d (%d replaced after write_late); close reasons %v",
					s.Dialed, s.DialedProto, conns, maxConns+replaced(s), replaced(s), s.CloseReasons)
			}
			if s.Closed != s.Dialed {
				t.Errorf("closed %d of %d (%v)", s.Closed, s.Dialed, s.CloseReasons)
			}
			if eng == engine.EngineH1 {
				// One dial's phases per connection, on the request that
				// dialed it (the first one handed over included).
				if c, tl := histCount(s, metrics.Connect), histCount(s, metrics.TLS); c != s.Dialed || tl != s.Dialed {
					t.Errorf("connect measured %d times, TLS %d, for %d connections", c, tl, s.Dialed)
				}
				if s.CloseReasons[metrics.CloseUnused] != 0 {
					t.Errorf("unused connections %d (%v)", s.CloseReasons[metrics.CloseUnused], s.CloseReasons)
				}
			}
			offered, hellos := srv.offeredH2.Load(), srv.hellos.Load()
			switch {
			case h2 && offered != hellos:
				t.Errorf("%d of %d handshakes offered h2, want all", offered, hellos)
			case !h2 && eng == engine.EngineH1 && offered != 1:
				t.Errorf("%d of %d handshakes offered h2: want only the first (the pick is remembered)", offered, hellos)
			case !h2 && eng == engine.EngineNetHTTP && offered != hellos:
				t.Errorf("%d of %d handshakes offered h2: Go's Transport offers it on every dial", offered, hellos)
			}
		})
	}
}

// One scenario, two https destinations, one picking h2 and one HTTP/1.1:
// each request speaks its destination's protocol.
func TestAutoTwoDestinations(t *testing.T) { forEachEngine(t, testAutoTwoDestinations) }

func testAutoTwoDestinations(t *testing.T, eng string) {
	a, b := startALPN(t, true), startALPN(t, false)
	const iters = 100
	p := h2Plan(eng, a.URL, transport.HTTPAuto, 4, iters)
	p.Scenarios[0].Steps = append(p.Scenarios[0].Steps, engine.Step{URL: b.URL + "/"})
	s := run(t, p).Total
	if s.OK != 2*iters {
		t.Fatalf("ok %d of %d: %v %v", s.OK, 2*iters, s.ErrCount, s.ErrExample)
	}
	if s.Protocols[metrics.ProtoH2] != iters || s.Protocols[metrics.ProtoH1] != iters {
		t.Errorf("requests by protocol %v, want %d each", s.Protocols, iters)
	}
	if a.h2.Load() != iters || a.h1.Load() != 0 || b.h1.Load() != iters || b.h2.Load() != 0 {
		t.Errorf("h2 server saw h2 %d h1 %d; h1 server saw h1 %d h2 %d", a.h2.Load(), a.h1.Load(), b.h1.Load(), b.h2.Load())
	}
	if conns := a.conns.Load() + b.conns.Load(); s.Dialed != conns {
		t.Errorf("dialed %d, the servers accepted %d", s.Dialed, conns)
	}
}

// http:// on auto stays HTTP/1.1 on both engines, against a server that
// would speak h2c.
func TestAutoPlainIsH1(t *testing.T) { forEachEngine(t, testAutoPlainIsH1) }

func testAutoPlainIsH1(t *testing.T, eng string) {
	srv := startH2(t, "h2c", nil)
	s := run(t, h2Plan(eng, srv.URL, transport.HTTPAuto, 2, 50)).Total
	if s.OK != 50 || s.Protocols[metrics.ProtoH1] != 50 || srv.h1.Load() != 50 {
		t.Errorf("ok %d, protocols %v, server h1 %d h2 %d", s.OK, s.Protocols, srv.h1.Load(), srv.h2.Load())
	}
}

// Under auto, a redirect from an h2 destination to one whose server picks
// HTTP/1.1: the request follows it, the second hop on HTTP/1.1 on the
// connection the HTTP/2 pool dialed for it (handed over, not wasted), in
// one sample with both hops counted; once the pick is known, redirects to
// it go straight to the HTTP/1.1 pool.
func TestAutoRedirectToHTTP1(t *testing.T) { forEachEngine(t, testAutoRedirectToHTTP1) }

func testAutoRedirectToHTTP1(t *testing.T, eng string) {
	b := startALPN(t, false)
	a := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			http.Error(w, "not h2", http.StatusHTTPVersionNotSupported)
			return
		}
		http.Redirect(w, r, b.URL+"/", http.StatusFound)
	}))
	var aConns atomic.Int64
	a.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			aConns.Add(1)
		}
	}
	a.EnableHTTP2 = true
	a.StartTLS()
	t.Cleanup(a.Close)
	const n, vus = 40, 2
	p := h2Plan(eng, a.URL, transport.HTTPAuto, vus, n)
	s := run(t, p).Total
	if s.OK != n || s.Status[200] != n || s.Redirects != n {
		t.Fatalf("ok %d, statuses %v, redirects %d, errors %v %v: want %d answers after a redirect each", s.OK, s.Status, s.Redirects, s.ErrCount, s.ErrExample, n)
	}
	if b.h1.Load() != n || b.h2.Load() != 0 {
		t.Errorf("the HTTP/1.1 destination saw h1 %d, h2 %d", b.h1.Load(), b.h2.Load())
	}
	if conns := aConns.Load() + b.conns.Load(); b.conns.Load() < 1 || s.Dialed != conns {
		t.Errorf("faya dialed %d, the destinations accepted %d and %d", s.Dialed, aConns.Load(), b.conns.Load())
	}
	if eng == engine.EngineH1 {
		if bc := b.conns.Load(); bc > vus || s.CloseReasons[metrics.CloseUnused] != 0 {
			t.Errorf("the HTTP/1.1 destination accepted %d connections (at most %d), close reasons %v", bc, vus, s.CloseReasons)
		}
		// The redirects followed before its pick was known (at most one
		// per VU) dialed it offering h2; none after.
		if o := b.offeredH2.Load(); o < 1 || o > vus {
			t.Errorf("%d of %d handshakes to the HTTP/1.1 destination offered h2, want 1 to %d", o, b.hellos.Load(), vus)
		}
		if s.Protocols[metrics.ProtoH1] != n {
			t.Errorf("requests by protocol %v: want each counted on its last connection, HTTP/1.1", s.Protocols)
		}
	}
}

// A Go scenario's requests under auto speak what each https server picks,
// with a POST body sent whole on either protocol (the first request to the
// HTTP/1.1 server is sent again on HTTP/1.1 after its dial picked it).
func TestAutoGoScenario(t *testing.T) { forEachEngine(t, testAutoGoScenario) }

func testAutoGoScenario(t *testing.T, eng string) {
	for _, h2 := range []bool{true, false} {
		t.Run(map[bool]string{true: "h2 server", false: "h1 server"}[h2], func(t *testing.T) {
			var bodies, tlsSeen atomic.Int64
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				if string(b) == "payload" && (r.ProtoMajor == 2) == h2 {
					bodies.Add(1)
				}
				_, _ = w.Write([]byte("ok"))
			}))
			srv.EnableHTTP2 = h2
			srv.StartTLS()
			t.Cleanup(srv.Close)
			const vus, iters = 2, 20
			p := engine.Plan{Engine: eng, Scenarios: []engine.Scenario{{
				Name:     "code",
				Executor: engine.Executor{Type: engine.VUs, VUs: vus, Iterations: iters},
				Func: &engine.Func{Iteration: func(ctx context.Context, vu *engine.VU) error {
					req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/", strings.NewReader("payload"))
					resp, err := vu.Client().Do(req)
					if err != nil {
						return err
					}
					// The answer says what TLS carried it, as Go's
					// client says: the protocol ALPN picked.
					if st := resp.TLS; st != nil && st.HandshakeComplete && (st.NegotiatedProtocol == "h2") == h2 {
						tlsSeen.Add(1)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					return resp.Body.Close()
				}},
			}}}
			p.Transport.InsecureSkipVerify = true
			s := run(t, p).Total
			want := metrics.ProtoH1
			if h2 {
				want = metrics.ProtoH2
			}
			if s.OK != iters || s.ChecksFailed != 0 || bodies.Load() != iters || s.Protocols[want] != iters {
				t.Errorf("ok %d, checks failed %d, %d bodies whole on the right protocol, protocols %v (%v)", s.OK, s.ChecksFailed, bodies.Load(), s.Protocols, s.ErrExample)
			}
			if tlsSeen.Load() != iters {
				t.Errorf("%d of %d answers had Response.TLS with the protocol ALPN picked", tlsSeen.Load(), iters)
			}
		})
	}
}

// Nothing listens: under auto every request fails as refused on both
// engines, one dial each (the requests waiting for the destination's
// pick dial in turn when a dial fails).
func TestAutoRefused(t *testing.T) { forEachEngine(t, testAutoRefused) }

func testAutoRefused(t *testing.T, eng string) {
	// A port held bound and never listening (a port from :0, closed, could
	// be taken meanwhile, or be a dial's own source port: a self-connect).
	addr := strings.TrimSuffix(strings.TrimPrefix(testserver.RefusedURL(t), "http://"), "/")
	const n = 20
	s := run(t, h2Plan(eng, "https://"+addr, transport.HTTPAuto, 4, n)).Total
	if s.Requests != n || s.ErrCount[metrics.ErrRefused] != n || s.Dialed != 0 {
		t.Errorf("requests %d, errors %v (%v), dialed %d: want %d refused", s.Requests, s.ErrCount, s.ErrExample, s.Dialed, n)
	}
}

// A server that accepts TCP and never answers the TLS handshake: under
// auto every request fails when its handshake times out, the requests
// that waited for the first dial's pick dialing in parallel once it
// failed, so the run ends within about two handshake timeouts (not one
// per request in turn), on both engines.
func TestAutoSilentTLS(t *testing.T) { forEachEngine(t, testAutoSilentTLS) }

func testAutoSilentTLS(t *testing.T, eng string) {
	url := testserver.Raw(t, func(c net.Conn) {
		defer c.Close()
		_, _ = io.Copy(io.Discard, c)
	})
	url = strings.Replace(url, "http://", "https://", 1)
	const vus = 8
	p := h2Plan(eng, url, transport.HTTPAuto, vus, vus)
	p.Transport.TLSHandshakeTimeout = 200 * time.Millisecond
	p.Timeout = 30 * time.Second
	res := run(t, p)
	s := res.Total
	if s.Requests != vus || s.ErrCount[metrics.ErrTimeout] != vus {
		t.Errorf("requests %d, errors %v (%v): want %d handshake timeouts", s.Requests, s.ErrCount, s.ErrExample, vus)
	}
	// One handshake timeout at a time would be 8 x 200 ms = 1.6 s; two
	// rounds is 0.4 s: 1.2 s leaves a loaded machine room.
	if res.Duration >= 6*p.Transport.TLSHandshakeTimeout {
		t.Errorf("the run took %v for %d requests at a %v handshake timeout", res.Duration, vus, p.Transport.TLSHandshakeTimeout)
	}
}

// --conn-scope vu under auto: each VU's pools are its own, the pick is
// the run's: against an HTTP/1.1 server each VU holds one connection, and
// only the first dial of the run offered h2.
func TestAutoScopeVU(t *testing.T) {
	srv := startALPN(t, false)
	const vus, n = 4, 200
	p := h2Plan(engine.EngineH1, srv.URL, transport.HTTPAuto, vus, n)
	p.ConnScope = engine.ScopeVU
	s := run(t, p).Total
	if s.OK != n || s.Protocols[metrics.ProtoH1] != n {
		t.Fatalf("ok %d, protocols %v (%v)", s.OK, s.Protocols, s.ErrExample)
	}
	if s.Dialed != vus || srv.conns.Load() != vus || srv.offeredH2.Load() != 1 {
		t.Errorf("dialed %d, the server accepted %d, %d handshakes offered h2: want %d, %d, 1", s.Dialed, srv.conns.Load(), srv.offeredH2.Load(), vus, vus)
	}
}
