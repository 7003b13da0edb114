package engine_test

import (
	"strings"
	"testing"

	"github.com/faya-load/faya/internal/realproxy"
	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/metrics"
)

// Real proxies from Debian's packages (installed by .ci/run; skipped
// outside CI when absent): the target counts the requests by peer, so it
// sees those that came through the proxy's outgoing address.
const realProxyIP = "127.0.0.2"

// checkReal asserts the requests went through the proxy, its phase was
// measured, and the connections through it were reused (at most one per
// VU).
func checkReal(t *testing.T, s *metrics.Snapshot, srv *testserver.Server, n int64, vus int) {
	t.Helper()
	if s.OK != n || s.Errors != 0 {
		t.Fatalf("ok %d errors %d (%v), want %d ok", s.OK, s.Errors, s.ErrExample, n)
	}
	if got := srv.Stats().Peers[realProxyIP]; got != n {
		t.Errorf("the target saw %d requests from the proxy's %s (%v), want %d", got, realProxyIP, srv.Stats().Peers, n)
	}
	if len(s.Proxies) != 1 || s.Proxies[0].Requests != n {
		t.Fatalf("per-proxy accounts %+v", s.Proxies)
	}
	if p := s.Proxies[0]; p.Dialed < 1 || p.Dialed > int64(vus)+replaced(s) || p.Reused != n-p.Fresh {
		t.Errorf("%d connections through the proxy for %d VUs, %d replaced after write_late (%+v): want them reused", p.Dialed, vus, replaced(s), p)
	}
	if ph, co := histCount(s, metrics.Proxy), histCount(s, metrics.Connect); ph < 1 || ph != co {
		t.Errorf("proxy phase measured %d times, connect %d: want one per dial charged to a request", ph, co)
	}
}

func TestTinyproxy(t *testing.T) { forEachEngine(t, testTinyproxy) }

func testTinyproxy(t *testing.T, eng string) {
	px := realproxy.Tinyproxy(t, realproxy.Options{SourceIP: realProxyIP})
	tls := testserver.StartTLS(t)
	// https: a CONNECT tunnel per connection, kept alive.
	checkReal(t, run(t, via(eng, tls.URL+"/", 10, 1000, px.URL)).Total, tls, 1000, 10)
	// http: tinyproxy forwards absolute-form requests and closes the
	// connection after each answer (1.11 has no keep-alive there); faya
	// counts that as the server's close.
	srv := testserver.Start(t)
	s := run(t, via(eng, srv.URL+"/", 5, 100, px.URL)).Total
	if s.OK != 100 || srv.Stats().Peers[realProxyIP] != 100 {
		t.Fatalf("ok %d (%v), the target saw %v", s.OK, s.ErrExample, srv.Stats().Peers)
	}
	if closedBy := s.CloseReasons[metrics.CloseServer] + s.CloseReasons[metrics.CloseServerIdle]; s.Dialed < 95 || closedBy < s.Dialed-5 {
		t.Errorf("dialed %d, closed by the server %d (%v): tinyproxy closes after each answer", s.Dialed, closedBy, s.CloseReasons)
	}
}

func TestStunnelHTTPSProxy(t *testing.T) { forEachEngine(t, testStunnelHTTPSProxy) }

func testStunnelHTTPSProxy(t *testing.T, eng string) {
	px := realproxy.HTTPSProxy(t, realproxy.Options{SourceIP: realProxyIP})
	tls := testserver.StartTLS(t)
	p := via(eng, tls.URL+"/", 10, 1000, px.URL)
	p.Proxy.CAPEM = px.CAPEM
	checkReal(t, run(t, p).Total, tls, 1000, 10)
}

func TestDante(t *testing.T) { forEachEngine(t, testDante) }

func testDante(t *testing.T, eng string) {
	srv := testserver.Start(t)
	open := realproxy.Dante(t, realproxy.Options{SourceIP: realProxyIP})
	checkReal(t, run(t, via(eng, srv.URL+"/", 10, 1000, open.URL)).Total, srv, 1000, 10)

	auth := realproxy.Dante(t, realproxy.Options{User: realproxy.SOCKSUser, Password: realproxy.SOCKSPassword, SourceIP: realProxyIP})
	srv.Target.Reset()
	u := strings.Replace(auth.URLWithAuth(), "socks5://", "socks5h://", 1)
	checkReal(t, run(t, via(eng, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)+"/", 10, 1000, u)).Total, srv, 1000, 10)

	// A wrong password is the proxy's refusal, its own error class.
	srv.Target.Reset()
	wrong := strings.Replace(auth.URL, "://", "://"+realproxy.SOCKSUser+":wrong@", 1)
	s := run(t, via(eng, srv.URL+"/", 1, 3, wrong)).Total
	if s.ErrCount[metrics.ErrProxyAuth] != 3 || srv.Stats().Requests != 0 {
		t.Errorf("wrong password: errors %v (%v), target saw %d", s.ErrCount, s.ErrExample, srv.Stats().Requests)
	}
}
