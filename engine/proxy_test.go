package engine_test

import (
	"strings"
	"testing"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// via is a closed plan of n requests from vus VUs to url through proxies.
func via(eng, url string, vus int, n int64, proxies ...string) engine.Plan {
	p := closedOn(eng, url, vus, n)
	p.Proxy.URLs = proxies
	p.Transport.InsecureSkipVerify = true // httptest's certificate
	return p
}

const proxyIP = "127.0.0.3" // the test proxies' outgoing address

// checkProxied asserts that every request reached the target from the
// proxy's address, over connections reused through the proxy.
func checkProxied(t *testing.T, s *metrics.Snapshot, srv *testserver.Server, px *testserver.Proxy, n int64, vus int, handshake bool) {
	t.Helper()
	st := srv.Stats()
	if s.Requests != n || s.OK != n || s.Errors != 0 {
		t.Fatalf("requests %d ok %d errors %d (%v); want %d ok", s.Requests, s.OK, s.Errors, s.ErrExample, n)
	}
	if st.Peers[proxyIP] != n || st.Requests != n {
		t.Errorf("the target saw %v (total %d): want all %d from the proxy's %s", st.Peers, st.Requests, n, proxyIP)
	}
	if len(s.Proxies) != 1 {
		t.Fatalf("per-proxy accounts: %+v", s.Proxies)
	}
	p := s.Proxies[0]
	if p.Requests != n || p.Dialed != s.Dialed || p.Dialed < 1 || p.Dialed > int64(vus)+replaced(s) || p.Fresh+p.Reused != n {
		t.Errorf("proxy accounts %+v (run dialed %d): want %d requests, at most %d connections, reused", p, s.Dialed, n, vus)
	}
	if got := px.Stats().Conns; got != s.Dialed {
		t.Errorf("the proxy accepted %d connections, faya dialed %d", got, s.Dialed)
	}
	count := func(m metrics.Metric) int64 { return histCount(s, m) }
	// The dial's phases are charged to each connection's first request:
	// once per connection that carried a request, on both engines.
	phases, connects := count(metrics.Proxy), count(metrics.Connect)
	if connects != p.Fresh {
		t.Errorf("connect measured %d times, want once per connection first used (%d)", connects, p.Fresh)
	}
	switch {
	case handshake && (phases != p.Fresh || p.Handshakes != p.Fresh || phases < 1):
		t.Errorf("proxy phase measured %d times (%d in the proxy's accounts), want once per connection first used (%d)", phases, p.Handshakes, p.Fresh)
	case !handshake && phases != 0:
		t.Errorf("a proxy phase was measured (%d) without a handshake", phases)
	}
}

func TestHTTPProxy(t *testing.T) { forEachEngine(t, testHTTPProxy) }

func testHTTPProxy(t *testing.T, eng string) {
	srv, tls := testserver.Start(t), testserver.StartTLS(t)
	px := testserver.StartHTTPProxy(t, testserver.ProxyOptions{User: "u", Password: "p w", SourceIP: proxyIP})
	// An http target: the proxy forwards absolute-form requests.
	res := run(t, via(eng, srv.URL+"/", 10, 500, px.URLWithAuth()))
	checkProxied(t, res.Total, srv, px, 500, 10, false)
	if st := px.Stats(); st.Forwards != 500 || st.Connects != 0 || st.AuthFailures != 0 {
		t.Errorf("proxy stats %+v: want 500 forwards", st)
	}
	// An https target: a CONNECT tunnel per connection, TLS through it.
	px2 := testserver.StartHTTPProxy(t, testserver.ProxyOptions{User: "u", Password: "p w", SourceIP: proxyIP})
	res = run(t, via(eng, tls.URL+"/", 10, 500, px2.URLWithAuth()))
	checkProxied(t, res.Total, tls, px2, 500, 10, true)
	if st := px2.Stats(); st.Connects != res.Total.Dialed {
		t.Errorf("CONNECTs %d, connections %d", st.Connects, res.Total.Dialed)
	}
	if tlsN, conN := histCount(res.Total, metrics.TLS), histCount(res.Total, metrics.Connect); tlsN != conN || tlsN < 1 {
		t.Errorf("TLS to the target measured %d times, connect %d: want both once per dial charged to a request", tlsN, conN)
	}
}

func TestHTTPSProxy(t *testing.T) { forEachEngine(t, testHTTPSProxy) }

func testHTTPSProxy(t *testing.T, eng string) {
	srv, tls := testserver.Start(t), testserver.StartTLS(t)
	for _, tc := range []struct {
		name   string
		target *testserver.Server
	}{{"http target", srv}, {"https target", tls}} {
		t.Run(tc.name, func(t *testing.T) {
			px := testserver.StartHTTPProxy(t, testserver.ProxyOptions{TLS: true, SourceIP: proxyIP})
			p := via(eng, tc.target.URL+"/", 5, 200, px.URL)
			p.Proxy.CAPEM = px.CertificatePEM()
			res := run(t, p)
			checkProxied(t, res.Total, tc.target, px, 200, 5, true) // TLS to the proxy is the handshake
		})
	}
	// Without the proxy's CA, its certificate is not trusted.
	px := testserver.StartHTTPProxy(t, testserver.ProxyOptions{TLS: true})
	s := run(t, via(eng, srv.URL+"/", 1, 3, px.URL)).Total
	if s.ErrCount[metrics.ErrTLS] != 3 || !strings.Contains(s.ErrExample[metrics.ErrTLS], "TLS to the proxy") {
		t.Errorf("untrusted proxy: errors %v (%v), want 3 tls", s.ErrCount, s.ErrExample[metrics.ErrTLS])
	}
}

func TestSOCKS5Proxy(t *testing.T) { forEachEngine(t, testSOCKS5Proxy) }

func testSOCKS5Proxy(t *testing.T, eng string) {
	srv, tls := testserver.Start(t), testserver.StartTLS(t)
	for _, tc := range []struct {
		name, scheme string
		target       *testserver.Server
	}{{"socks5 http", "socks5", srv}, {"socks5h https", "socks5h", tls}} {
		t.Run(tc.name, func(t *testing.T) {
			px := testserver.StartSOCKS5Proxy(t, testserver.ProxyOptions{User: "user", Password: "secret", SourceIP: proxyIP})
			u := strings.Replace(px.URLWithAuth(), "socks5://", tc.scheme+"://", 1)
			target := strings.Replace(tc.target.URL, "127.0.0.1", "localhost", 1) // a name: resolved by faya or by the proxy
			p := via(eng, target+"/", 8, 400, u)
			p.Transport.DNSTTL = transport.DNSNoCache
			res := run(t, p)
			checkProxied(t, res.Total, tc.target, px, 400, 8, true)
			if st := px.Stats(); st.Connects != res.Total.Dialed {
				t.Errorf("SOCKS5 CONNECTs %d, connections %d", st.Connects, res.Total.Dialed)
			}
			// socks5: faya looks the name up, once per connection with
			// --dns-ttl 0; socks5h: the proxy does, so faya has no DNS
			// phase.
			want := res.Total.Proxies[0].Fresh
			if tc.scheme == "socks5h" {
				want = 0
			}
			if got := histCount(res.Total, metrics.DNS); got != want {
				t.Errorf("%s: dns phase measured %d times, want %d", tc.scheme, got, want)
			}
			if tc.scheme == "socks5h" {
				return
			}
			// By default the run looks the name up once: later connections
			// have no DNS phase (those that waited for that lookup do).
			p = via(eng, target+"/", 1, 20, u)
			p.Transport.DisableKeepAlives = true
			res = run(t, p)
			if got := histCount(res.Total, metrics.DNS); got != 1 || res.Total.Dialed != 20 {
				t.Errorf("socks5, one VU without keep-alives: dns phase measured %d times over %d connections, want once over 20", got, res.Total.Dialed)
			}
		})
	}
}

// Proxy failures are their own error classes, with the reason, and never
// show the password.
func TestProxyFailures(t *testing.T) { forEachEngine(t, testProxyFailures) }

func testProxyFailures(t *testing.T, eng string) {
	srv, tls := testserver.Start(t), testserver.StartTLS(t)
	hp := testserver.StartHTTPProxy(t, testserver.ProxyOptions{User: "u", Password: "right"})
	reject := testserver.StartHTTPProxy(t, testserver.ProxyOptions{RejectConnect: 403})
	sp := testserver.StartSOCKS5Proxy(t, testserver.ProxyOptions{User: "u", Password: "right"})
	open := testserver.StartSOCKS5Proxy(t, testserver.ProxyOptions{})
	wrong := func(u string) string { return strings.Replace(u, "://", "://u:wrong-password@", 1) }
	for _, tc := range []struct {
		name, target, proxy string
		class               metrics.ErrClass
		msg                 string
	}{
		{"CONNECT 407", tls.URL, wrong(hp.URL), metrics.ErrProxyAuth, "407 Proxy Authentication Required: the proxy refused the user and password"},
		{"forward 407", srv.URL, wrong(hp.URL), metrics.ErrProxyAuth, ""},
		{"CONNECT without credentials", tls.URL, hp.URL, metrics.ErrProxyAuth, "give user:password in the proxy URL"},
		{"CONNECT rejected", tls.URL, reject.URL, metrics.ErrProxyConnect, "answered 403"},
		{"SOCKS5 wrong password", srv.URL, wrong(sp.URL), metrics.ErrProxyAuth, "SOCKS5 authentication failed"},
		{"SOCKS5 without credentials", srv.URL, sp.URL, metrics.ErrProxyAuth, "no acceptable authentication method"},
		{"SOCKS5 target refused", testserver.RefusedURL(t), open.URL, metrics.ErrProxySOCKS, "SOCKS5 failure 5: connection refused"},
		{"proxy refused", srv.URL, strings.Replace(testserver.RefusedURL(t), "http://", "socks5://u:wrong-password@", 1), metrics.ErrProxyRefused, "proxy socks5://u:xxxxx@"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := run(t, via(eng, tc.target+"/", 1, 3, tc.proxy)).Total
			if s.Errors != 3 || s.ErrCount[tc.class] != 3 {
				t.Fatalf("errors %d %v (%v), want 3 of class %s", s.Errors, s.ErrCount, s.ErrExample, tc.class)
			}
			if msg := s.ErrExample[tc.class]; !strings.Contains(msg, tc.msg) || strings.Contains(msg, "wrong-password") {
				t.Errorf("error %q: want it to say %q, without the password", msg, tc.msg)
			}
			if len(s.Proxies) != 1 || s.Proxies[0].Errors != 3 {
				t.Errorf("per-proxy accounts %+v, want 3 errors", s.Proxies)
			}
		})
	}
}

// With several proxies, per-vu keeps each VU on one proxy and
// round-robin spreads each VU's requests over all of them.
func TestProxyModes(t *testing.T) { forEachEngine(t, testProxyModes) }

func testProxyModes(t *testing.T, eng string) {
	srv := testserver.Start(t)
	a := testserver.StartHTTPProxy(t, testserver.ProxyOptions{SourceIP: "127.0.0.3"})
	b := testserver.StartSOCKS5Proxy(t, testserver.ProxyOptions{SourceIP: "127.0.0.4"})
	for _, tc := range []struct {
		mode  string
		scope engine.ConnScope
		// conns is the connections each proxy carries: with a pool per VU,
		// a VU sticking to its proxy makes one connection (4 VUs, 2
		// proxies: 2 each); going round, every VU makes one to each.
		conns int64
	}{{engine.ProxyPerVU, engine.ScopeVU, 2}, {engine.ProxyRoundRobin, engine.ScopeVU, 4}, {engine.ProxyPerVU, engine.ScopeShared, 0}, {engine.ProxyRoundRobin, engine.ScopeShared, 0}} {
		t.Run(tc.mode+"/"+string(tc.scope), func(t *testing.T) {
			srv.Target.Reset()
			p := via(eng, srv.URL+"/", 4, 400, a.URL, b.URL)
			p.Proxy.Mode, p.ConnScope = tc.mode, tc.scope
			s := run(t, p).Total
			st := srv.Stats()
			if s.OK != 400 || len(s.Proxies) != 2 {
				t.Fatalf("ok %d, per-proxy accounts %+v", s.OK, s.Proxies)
			}
			for i, ip := range []string{"127.0.0.3", "127.0.0.4"} {
				ps := s.Proxies[i]
				if ps.Requests == 0 || st.Peers[ip] != ps.Requests {
					t.Errorf("proxy %d: faya counted %d requests through it, the target %d from %s", i, ps.Requests, st.Peers[ip], ip)
				}
				// Connections net/http dropped after a late write report
				// (write_late, a loaded machine) were replaced.
				// Going round, a VU the loaded machine starved (it ran one
				// of the 400 requests, or none) made fewer: at least half
				// the VUs reached each proxy.
				least := tc.conns
				if tc.mode == engine.ProxyRoundRobin {
					least = tc.conns / 2
				}
				if extra := replaced(s); tc.conns > 0 && (ps.Dialed < least || ps.Dialed > tc.conns+extra) || ps.Dialed < 1 || ps.Dialed > 4+extra {
					t.Errorf("proxy %d: %d connections, want %d (1 to 4, and %d replaced after write_late)", i, ps.Dialed, tc.conns, extra)
				}
			}
			if tc.mode == engine.ProxyRoundRobin && (s.Proxies[0].Requests != 200 || s.Proxies[1].Requests != 200) {
				t.Errorf("round-robin: %d and %d requests, want 200 each", s.Proxies[0].Requests, s.Proxies[1].Requests)
			}
		})
	}
}

// histCount is how many values the histogram of m holds.
func histCount(s *metrics.Snapshot, m metrics.Metric) int64 {
	if h := s.Hist(m); h != nil {
		return h.TotalCount()
	}
	return 0
}
