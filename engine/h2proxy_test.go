package engine_test

import (
	"strings"
	"testing"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// HTTP/2 through proxies, --http 2 and auto, on both engines: an HTTP
// proxy's CONNECT tunnel (with credentials; plain and over TLS) and
// SOCKS5 (with credentials) carry ALPN h2 to an https target; every
// request is HTTP/2 as the target saw it, from the proxy's address, and
// the per-proxy accounts add up to the connections the proxy accepted.
func TestH2ViaProxy(t *testing.T) { forEachEngine(t, testH2ViaProxy) }

func testH2ViaProxy(t *testing.T, eng string) {
	opts := testserver.ProxyOptions{User: "u", Password: "p w", SourceIP: proxyIP}
	tlsOpts := opts
	tlsOpts.TLS = true
	for _, tc := range []struct {
		name  string
		start func(testing.TB, testserver.ProxyOptions) *testserver.Proxy
		opts  testserver.ProxyOptions
	}{
		{"http CONNECT", testserver.StartHTTPProxy, opts},
		{"https CONNECT", testserver.StartHTTPProxy, tlsOpts},
		{"socks5", testserver.StartSOCKS5Proxy, opts},
	} {
		for _, mode := range []transport.HTTPVersion{transport.HTTP2, transport.HTTPAuto} {
			t.Run(tc.name+" "+mode.String(), func(t *testing.T) {
				srv := startALPN(t, true)
				px := tc.start(t, tc.opts)
				const n, vus = 300, 10
				p := via(eng, srv.URL+"/", vus, n, px.URLWithAuth())
				p.Transport.HTTP = mode
				if pem := px.CertificatePEM(); pem != nil {
					p.Proxy.CAPEM = pem
				}
				s := run(t, p).Total
				if s.OK != n {
					t.Fatalf("ok %d of %d: %v %v", s.OK, n, s.ErrCount, s.ErrExample)
				}
				if s.Protocols[metrics.ProtoH2] != n || srv.h2.Load() != n || srv.h1.Load() != 0 {
					t.Errorf("requests by protocol %v; the target saw h2 %d, h1 %d", s.Protocols, srv.h2.Load(), srv.h1.Load())
				}
				if st := srv.tg.Stats(); st.Peers[proxyIP] != n {
					t.Errorf("the target saw %v: want all %d from the proxy's %s", st.Peers, n, proxyIP)
				}
				if len(s.Proxies) != 1 {
					t.Fatalf("per-proxy accounts %+v", s.Proxies)
				}
				a := s.Proxies[0]
				if a.Requests != n || a.Dialed != s.Dialed || a.Dialed < 1 || a.Dialed > vus || a.Fresh+a.Reused != n || a.Handshakes != a.Fresh {
					t.Errorf("proxy accounts %+v (run dialed %d): want %d requests on 1 to %d connections, a handshake per connection", a, s.Dialed, n, vus)
				}
				if st := px.Stats(); st.Conns != s.Dialed || st.Connects != s.Dialed || st.AuthFailures != 0 {
					t.Errorf("the proxy's counts %+v, faya dialed %d", st, s.Dialed)
				}
				if s.DialedProto[metrics.ProtoH2] != s.Dialed {
					t.Errorf("connections by protocol %v", s.DialedProto)
				}
				// Through a proxy net/http runs Go's own pool over the
				// TLS it does itself: the frames are not seen, and the
				// accounts taken from them are unknown, not 0. The
				// default engine's client reads them.
				switch h := s.H2; {
				case eng == engine.EngineNetHTTP && h.Unknown != metrics.H2UnknownFrames:
					t.Errorf("net/http through a proxy: unknown %v, want %v", h.Unknown, metrics.H2UnknownFrames)
				case eng == engine.EngineH1 && (h.Unknown != 0 || h.Settings != s.Dialed):
					t.Errorf("unknown %v, SETTINGS %d on %d connections", h.Unknown, h.Settings, s.Dialed)
				}
			})
		}
	}
}

// A wrong proxy password fails HTTP/2 requests as the proxy's refusal,
// as it does HTTP/1.1's.
func TestH2ViaProxyAuth(t *testing.T) { forEachEngine(t, testH2ViaProxyAuth) }

func testH2ViaProxyAuth(t *testing.T, eng string) {
	srv := startALPN(t, true)
	px := testserver.StartHTTPProxy(t, testserver.ProxyOptions{User: "u", Password: "right", SourceIP: proxyIP})
	p := via(eng, srv.URL+"/", 1, 3, strings.Replace(px.URL, "://", "://u:wrong@", 1))
	p.Transport.HTTP = transport.HTTP2
	s := run(t, p).Total
	if s.ErrCount[metrics.ErrProxyAuth] != 3 || srv.h2.Load()+srv.h1.Load() != 0 {
		t.Errorf("errors %v (%v), the target answered %d", s.ErrCount, s.ErrExample, srv.h2.Load()+srv.h1.Load())
	}
	if len(s.Proxies) != 1 || s.Proxies[0].Requests != 3 {
		t.Errorf("per-proxy accounts %+v", s.Proxies)
	}
}

// h2c (--http 2 on an http:// URL) through an HTTP proxy that would
// forward it: refused before any traffic with the proxy named, for a
// proxy of the plan; one from HTTP_PROXY fails each request as
// protocol_negotiation, saying why. Through SOCKS5 (a tunnel) h2c goes.
func TestH2cViaProxy(t *testing.T) {
	srv := startH2(t, "h2c", nil)
	px := testserver.StartHTTPProxy(t, testserver.ProxyOptions{})
	p := via(engine.EngineH1, srv.URL+"/path?token=secret", 1, 2, px.URL)
	p.Transport.HTTP = transport.HTTP2
	err := p.Validate()
	if err == nil || !strings.Contains(err.Error(), "through the HTTP proxy "+px.URL) || !strings.Contains(err.Error(), "h2c") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("Validate: %v", err)
	}

	// Go's proxy rules never proxy a loopback target: a name that no
	// request resolves (each fails before its dial).
	t.Setenv("HTTP_PROXY", px.URL)
	t.Setenv("NO_PROXY", "")
	p = via(engine.EngineH1, "http://h2c.test/", 1, 2)
	p.Transport.HTTP = transport.HTTP2
	p.Proxy = engine.ProxyPlan{FromEnv: true}
	s := run(t, p).Total
	if s.ErrCount[metrics.ErrProtocolNegotiation] != 2 || !strings.Contains(s.ErrExample[metrics.ErrProtocolNegotiation], "h2c cannot go through it") || s.Dialed != 0 || px.Stats().Conns != 0 {
		t.Errorf("errors %v (%v); dialed %d, the proxy accepted %d", s.ErrCount, s.ErrExample, s.Dialed, px.Stats().Conns)
	}

	socks := testserver.StartSOCKS5Proxy(t, testserver.ProxyOptions{SourceIP: proxyIP})
	p = via(engine.EngineH1, srv.URL+"/", 2, 50, socks.URL)
	p.Transport.HTTP = transport.HTTP2
	s = run(t, p).Total
	if s.OK != 50 || s.Protocols[metrics.ProtoH2] != 50 || srv.h2.Load() != 50 || socks.Stats().Conns != s.Dialed {
		t.Errorf("h2c through SOCKS5: ok %d (%v), protocols %v, target h2 %d, proxy conns %d of %d dialed", s.OK, s.ErrExample, s.Protocols, srv.h2.Load(), socks.Stats().Conns, s.Dialed)
	}
}
