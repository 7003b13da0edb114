package engine_test

import (
	"context"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

func TestLocalAddrs(t *testing.T) { forEachEngine(t, testLocalAddrs) }

// With --local-addr 127.0.0.2,127.0.0.3 each new connection binds the
// next source address in turn: 10 VUs, one connection each (the server
// holds its answers until it has 10), and the server sees 5 connections
// from each address, with one pool or a pool per VU (which take the
// addresses in turn together: each started at the first before).
func testLocalAddrs(t *testing.T, eng string) {
	for _, scope := range []engine.ConnScope{engine.ScopeShared, engine.ScopeVU} {
		t.Run(string(scope), func(t *testing.T) { testLocalAddrsIn(t, eng, scope) })
	}
}

func testLocalAddrsIn(t *testing.T, eng string, scope engine.ConnScope) {
	const vus, n = 10, 200
	srv, port := startTwoAddrServer(t, false, vus)
	p := closedOn(eng, "http://127.0.0.1:"+port+"/", vus, n)
	p.ConnScope = scope
	p.Transport.LocalAddrs = []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")}
	s := run(t, p).Total
	srv.mu.Lock()
	by, total := maps.Clone(srv.byPeer), srv.reqs["127.0.0.1"]
	srv.mu.Unlock()
	if total != n || s.Requests != n {
		t.Errorf("the server served %d requests, faya counted %d; want %d", total, s.Requests, n)
	}
	// One connection per VU, and on net/http one more for each it closed
	// after an answer because its writer had not reported the request
	// written in time (write_late: a loaded machine), taken in turn too.
	want := vus + replaced(s)
	if s.Dialed != want {
		t.Errorf("dialed %d connections; want %d (one per VU, %d replaced after write_late); close reasons %v", s.Dialed, want, replaced(s), s.CloseReasons)
	}
	if by["127.0.0.2"] != int(want+1)/2 || by["127.0.0.3"] != int(want)/2 || len(by) != 2 {
		t.Errorf("connections by source address %v; want %d from 127.0.0.2 and %d from 127.0.0.3, in turn", by, (want+1)/2, want/2)
	}
	// The per-address table agrees with the server, address for address,
	// in --local-addr's order.
	got := map[string]int{}
	for _, a := range s.Sources {
		got[a.Addr] = int(a.Dialed)
	}
	if len(s.Sources) != 2 || s.Sources[0].Addr != "127.0.0.2" || s.Sources[1].Addr != "127.0.0.3" || !maps.Equal(got, by) {
		t.Errorf("faya's source addresses %+v; want the server's %v, in --local-addr's order", s.Sources, by)
	}
	// All of them to the one destination.
	if len(s.Dests) != 1 || s.Dests[0].Dialed != s.Dialed || s.Dests[0].Requests != n {
		t.Errorf("destinations %+v; want one with all %d connections and %d requests", s.Dests, s.Dialed, n)
	}
}

func TestResolve(t *testing.T) { forEachEngine(t, testResolve) }

// --resolve shop.test:PORT:127.0.0.1,127.0.0.2 dials a server listening
// on both addresses at one port without a lookup (no DNS phase; shop.test
// resolves nowhere): the connections split between the two addresses in
// turn and every request's Host is shop.test:PORT.
//
// The server holds its answers until it has 10 connections: one per VU.
// Which connection a request gets then is the pool's choice (net/http's
// is the most recently idle): the requests split as the server saw them,
// and faya's table says so. With a pool per VU (--conn-scope vu) the
// pools take the addresses in turn together (5 and 5, not 10 to the
// first). With keep-alives off each request has a connection of its own,
// and the requests split evenly, 100 and 100.
func testResolve(t *testing.T, eng string) {
	for _, tc := range []struct {
		name      string
		scope     engine.ConnScope
		keepAlive bool
	}{{"shared", engine.ScopeShared, true}, {"vu", engine.ScopeVU, true}, {"no-keepalive", engine.ScopeShared, false}} {
		t.Run(tc.name, func(t *testing.T) {
			const vus, n = 10, 200
			srv, port := startTwoAddrServer(t, false, vus)
			host := "shop.test:" + port
			p := closedOn(eng, "http://"+host+"/", vus, n)
			p.ConnScope = tc.scope
			p.Transport.DisableKeepAlives = !tc.keepAlive
			p.Transport.Resolve = map[string][]netip.Addr{host: {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")}}
			s := run(t, p).Total
			conns := vus + replaced(s) // on net/http, a dial for each write_late close
			if !tc.keepAlive {
				conns = n
			}
			checkResolved(t, srv, s, host, n, conns, !tc.keepAlive)
		})
	}
}

func TestResolveH2(t *testing.T) { h2Engines(t, testResolveH2) }

// --resolve and --local-addr on HTTP/2 (h2c by prior knowledge), which
// the default engine dials through internal/h2 and the net/http engine
// through its pool of Go's connections: one stream per connection (the
// server allows one, and holds its answers until it has 10 connections),
// so the connections split as on HTTP/1.1, 5 and 5, and the tables agree
// with the server. The net/http engine's pool dials the next connection
// once Go's client has applied the server's SETTINGS, not after the
// first answer: before, it dialed one connection per held answer (45 s
// here).
func testResolveH2(t *testing.T, eng string) {
	const vus, n = 10, 200
	srv, port := startTwoAddrServer(t, true, vus)
	host := "shop.test:" + port
	p := closedOn(eng, "http://"+host+"/", vus, n)
	p.Transport.HTTP = transport.HTTP2
	p.Transport.MaxConnsPerHost = vus
	p.Transport.Resolve = map[string][]netip.Addr{host: {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")}}
	p.Transport.LocalAddrs = []netip.Addr{netip.MustParseAddr("127.0.0.3"), netip.MustParseAddr("127.0.0.4")}
	s := run(t, p).Total
	if s.Protocols[metrics.ProtoH2] != n {
		t.Fatalf("%d requests over HTTP/2; want %d", s.Protocols[metrics.ProtoH2], n)
	}
	conns := int64(vus)
	checkResolved(t, srv, s, host, n, conns, false)
	srv.mu.Lock()
	defer srv.mu.Unlock()
	got := map[string]int{}
	for _, a := range s.Sources {
		got[a.Addr] = int(a.Dialed)
	}
	if d := srv.byPeer["127.0.0.3"] - srv.byPeer["127.0.0.4"]; !maps.Equal(got, srv.byPeer) || len(got) != 2 || d < 0 || d > 1 || conns > 0 && d != 0 {
		t.Errorf("faya's source addresses %v, the server's %v; want the same, taken in turn from 127.0.0.3 and 127.0.0.4", got, srv.byPeer)
	}
}

// twoAddrServer is a server listening on 127.0.0.1 and 127.0.0.2 at one
// port that counts, by the address it was reached on, the connections
// and the requests, and the connections by peer address and the Host
// headers.
type twoAddrServer struct {
	mu                  sync.Mutex
	conns, reqs, byPeer map[string]int
	hosts               map[string]int
	total               int           // connections accepted
	hold                int           // answer nothing until this many connections were accepted
	full                chan struct{} // closed then
}

// startTwoAddrServer starts a twoAddrServer. It holds every answer until
// hold connections were accepted (at most 5 s): then each of hold VUs has
// a connection of its own, whichever engine and however the machine
// schedules them (a VU that ended its request before another started
// would hand it its connection).
func startTwoAddrServer(t *testing.T, h2c bool, hold int) (*twoAddrServer, string) {
	t.Helper()
	s := &twoAddrServer{conns: map[string]int{}, reqs: map[string]int{}, byPeer: map[string]int{}, hosts: map[string]int{}, hold: hold, full: make(chan struct{})}
	if hold <= 0 {
		close(s.full)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-s.full:
			case <-time.After(5 * time.Second):
			}
			local := r.Context().Value(http.LocalAddrContextKey).(net.Addr).(*net.TCPAddr).IP.String()
			s.mu.Lock()
			s.hosts[r.Host]++
			s.reqs[local]++
			s.mu.Unlock()
			_, _ = w.Write([]byte("ok"))
		}),
		ConnContext: func(ctx context.Context, nc net.Conn) context.Context {
			s.mu.Lock()
			s.conns[nc.LocalAddr().(*net.TCPAddr).IP.String()]++
			s.byPeer[nc.RemoteAddr().(*net.TCPAddr).IP.String()]++
			if s.total++; s.total == s.hold {
				close(s.full)
			}
			s.mu.Unlock()
			return ctx
		},
	}
	if h2c {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
		srv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 1}
	}
	// A port free on both addresses: the one picked on 127.0.0.1 may be
	// taken on 127.0.0.2, by a connection an earlier test dialed from
	// 127.0.0.2 (--local-addr) that sits in TIME_WAIT there: another
	// port then (the test used to skip itself, 2 runs of 80 under load).
	var ln, ln2 net.Listener
	var port string
	for try := 0; ln2 == nil; try++ {
		var err error
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ = net.SplitHostPort(ln.Addr().String())
		if ln2, err = net.Listen("tcp", "127.0.0.2:"+port); err != nil {
			_ = ln.Close()
			if try == 20 {
				t.Fatalf("listen on 127.0.0.2 at a port free on 127.0.0.1: %v", err)
			}
		}
	}
	go func() { _ = srv.Serve(ln) }()
	go func() { _ = srv.Serve(ln2) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s, port
}

// checkResolved holds a run of n requests to host, which --resolve
// spread over 127.0.0.1 and 127.0.0.2, to what srv saw: the connections
// taken in turn (conns of them when not 0: half to each address, an odd one to the first), the
// requests split evenly when even, every Host header host, no DNS phase;
// and faya's per-address table agrees with the server exactly, address
// for address.
func checkResolved(t *testing.T, srv *twoAddrServer, s *metrics.Snapshot, host string, n, conns int64, even bool) {
	t.Helper()
	if s.Requests != n || conns > 0 && s.Dialed != conns {
		t.Errorf("%d requests over %d connections; want %d over %d (close reasons %v)", s.Requests, s.Dialed, n, conns, s.CloseReasons)
	}
	if d := histCount(s, metrics.DNS); d != 0 {
		t.Errorf("%d DNS phases; want none", d)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if d := srv.conns["127.0.0.1"] - srv.conns["127.0.0.2"]; len(srv.conns) != 2 || d < 0 || d > 1 || conns > 0 && srv.conns["127.0.0.1"] != int(conns+1)/2 {
		t.Errorf("connections by server address %v; want them in turn to 127.0.0.1 and 127.0.0.2 (%d)", srv.conns, s.Dialed)
	}
	if even && (srv.reqs["127.0.0.1"] != int(n/2) || srv.reqs["127.0.0.2"] != int(n/2)) {
		t.Errorf("requests by server address %v; want %d to each of 127.0.0.1 and 127.0.0.2", srv.reqs, n/2)
	}
	if srv.hosts[host] != int(n) || len(srv.hosts) != 1 {
		t.Errorf("Host headers %v; want %q on all %d requests", srv.hosts, host, n)
	}
	_, port, _ := net.SplitHostPort(host)
	byConns, byReqs := map[string]int{}, map[string]int{}
	for _, a := range s.Dests {
		ip, p, _ := net.SplitHostPort(a.Addr)
		if p != port {
			t.Errorf("destination %s: port %s; want %s", a.Addr, p, port)
		}
		byConns[ip], byReqs[ip] = int(a.Dialed), int(a.Requests)
		if a.Latency().TotalCount() != a.Requests || a.Errors != 0 {
			t.Errorf("destination %s: %d latencies, %d errors; want %d and 0", a.Addr, a.Latency().TotalCount(), a.Errors, a.Requests)
		}
	}
	if len(s.Dests) != 2 || s.Dests[0].Addr != "127.0.0.1:"+port || !maps.Equal(byConns, srv.conns) || !maps.Equal(byReqs, srv.reqs) {
		t.Errorf("faya's destinations %+v (connections %v, requests %v); want the server's %v and %v, in --resolve's order", s.Dests, byConns, byReqs, srv.conns, srv.reqs)
	}
}
