package engine_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/realproxy"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// nginxH2 starts Debian's nginx on a loopback port with "listen ... ssl
// http2" (the form nginx before 1.25.1 takes; later ones warn), a
// self-signed certificate made here, and keepalive_requests at perConn,
// logging $server_protocol $connection $connection_requests.
// It returns the URL and the access log's path. Skipped when nginx is
// absent unless FAYA_CI=1 (.ci/run installs it).
func nginxH2(t *testing.T, perConn int) (url, accessLog string) {
	t.Helper()
	return nginxTLS(t, perConn, true)
}

// nginxTLS is nginxH2, with "listen ... ssl http2" when http2, else a
// plain "listen ... ssl" (HTTP/1.1 only: ALPN http/1.1).
func nginxTLS(t *testing.T, perConn int, http2 bool) (url, accessLog string) {
	t.Helper()
	listen := "ssl"
	if http2 {
		listen = "ssl http2"
	}
	addr := realproxy.FreeAddrs(t, 1)[0]
	dir := realproxy.Nginx(t, []string{addr}, func(dir string) string {
		return fmt.Sprintf(`	log_format h2 "$server_protocol $connection $connection_requests";
	access_log %[1]s/access.log h2;
	server {
		listen %[2]s %[4]s;
		ssl_certificate %[1]s/cert.pem;
		ssl_certificate_key %[1]s/key.pem;
		keepalive_requests %[3]d;
		location / { return 200 "ok"; }
	}`, dir, addr, perConn, listen)
	})
	return "https://" + addr, filepath.Join(dir, "access.log")
}

// nginx over TLS with HTTP/2 ends each connection after keepalive_requests
// (10) with a GOAWAY: the access log's connections are the ones faya
// dialed, every request was HTTP/2.0, each connection carried 10, and the
// connections nginx ended closed as goaway.
func TestNginxH2GoAway(t *testing.T) {
	h2Engines(t, func(t *testing.T, eng string) {
		url, accessLog := nginxH2(t, 10)
		// nginx's probe connection (the readiness dial) is in no log line.
		p := h2Plan(eng, url, transport.HTTP2, 1, 100)
		e, err := engine.New(p)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		s := res.Total
		if s.OK != 100 || s.Protocols[metrics.ProtoH2] != 100 {
			t.Fatalf("ok %d, protocols %v, errors %v %v", s.OK, s.Protocols, s.ErrCount, s.ErrExample)
		}
		f, err := os.Open(accessLog)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		conns, most, lines := map[string]int{}, 0, 0
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var proto, conn string
			var n int
			if _, err := fmt.Sscan(sc.Text(), &proto, &conn, &n); err != nil || proto != "HTTP/2.0" {
				t.Errorf("access log line %q: want HTTP/2.0", sc.Text())
			}
			lines++
			conns[conn]++
			most = max(most, n)
		}
		if lines != 100 || most != 10 || int64(len(conns)) != s.Dialed {
			t.Errorf("access log: %d requests on %d connections, at most %d per connection; faya dialed %d", lines, len(conns), most, s.Dialed)
		}
		// nginx ended the 10 connections; the last may close at the run's
		// end before its GOAWAY is acted on.
		if got := s.CloseReasons[metrics.CloseGoAway]; got < s.Dialed-1 || got > s.Dialed {
			t.Errorf("goaway closes %d of %d connections (close reasons %v)", got, s.Dialed, s.CloseReasons)
		}
		t.Logf("dialed %d, nginx connections %d, close reasons %v", s.Dialed, len(conns), s.CloseReasons)
		if d := metrics.DistOf(s.Hist(metrics.H2Streams)); d.Max != 10 || d.Min != 10 {
			t.Errorf("streams per connection %+v, want 10 each", d)
		}
	})
}

// --http auto against nginx: "listen ... ssl http2" picks h2, a plain ssl
// listener http/1.1; every request is of the picked protocol in nginx's
// log ($server_protocol), on the connections faya dialed.
func TestNginxAuto(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng string) {
		for _, h2 := range []bool{true, false} {
			proto, want := "HTTP/1.1", metrics.ProtoH1
			if h2 {
				proto, want = "HTTP/2.0", metrics.ProtoH2
			}
			t.Run(proto, func(t *testing.T) {
				url, accessLog := nginxTLS(t, 1000, h2)
				const n = 200
				s := run(t, h2Plan(eng, url, transport.HTTPAuto, 4, n)).Total
				if s.OK != n || s.Protocols[want] != n {
					t.Fatalf("ok %d, protocols %v, errors %v %v", s.OK, s.Protocols, s.ErrCount, s.ErrExample)
				}
				b, err := os.ReadFile(accessLog)
				if err != nil {
					t.Fatal(err)
				}
				conns, lines := map[string]int{}, 0
				for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
					var p, conn string
					var k int
					if _, err := fmt.Sscan(line, &p, &conn, &k); err != nil || p != proto {
						t.Errorf("access log line %q: want %s", line, proto)
					}
					lines++
					conns[conn]++
				}
				// Go's HTTP/2 dials for requests that then share another
				// connection: those carry none and close as unused.
				used := s.Dialed - s.CloseReasons[metrics.CloseUnused]
				if lines != n || int64(len(conns)) != used || s.DialedProto[want] != s.Dialed || s.Dialed > 4 {
					t.Errorf("access log: %d requests on %d connections; faya dialed %d (by protocol %v, %d unused), at most 4", lines, len(conns), s.Dialed, s.DialedProto, s.Dialed-used)
				}
				if eng == engine.EngineH1 && used != s.Dialed {
					t.Errorf("%d connections unused (%v)", s.Dialed-used, s.CloseReasons)
				}
			})
		}
	})
}

// nginx ending each connection after 5 streams while 4 VUs keep 4 in
// flight on one connection at a time: the streams above each GOAWAY's
// last id were not processed and go again on the next connection, where
// a few may be past the limit again; every request is answered (Go's
// Transport, too, sends such a request up to 6 times), and none counts
// as refused.
func TestNginxH2GoAwayBusy(t *testing.T) {
	h2Engines(t, func(t *testing.T, eng string) {
		url, _ := nginxH2(t, 5)
		const n = 1000
		p := h2Plan(eng, url, transport.HTTP2, 4, n)
		p.Transport.MaxConnsPerHost = 1
		e, err := engine.New(p)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		s := res.Total
		if s.OK != n || s.Errors != 0 {
			t.Fatalf("ok %d of %d, errors %v %v (retries %d)", s.OK, n, nonzero(s.ErrCount[:]), s.ErrExample, s.Retries)
		}
		if s.Dialed < n/5 || s.H2.Refused != 0 {
			t.Errorf("dialed %d (want at least %d: 5 streams each), refused %d (want 0: GOAWAY is no refusal)", s.Dialed, n/5, s.H2.Refused)
		}
		t.Logf("dialed %d, retries %d", s.Dialed, s.Retries)
	})
}
