package engine_test

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// addrServer is an HTTP server listening on several loopback addresses at
// one port, counting the connections it accepted by the address they
// came to.
type addrServer struct {
	port string
	mu   sync.Mutex
	by   map[string]int
}

// startAddrServer serves on each of addrs at one port (h2c: HTTP/2 by
// prior knowledge besides HTTP/1.1); it skips the test when an address
// cannot be listened on.
func startAddrServer(t *testing.T, h2c bool, addrs ...string) *addrServer {
	t.Helper()
	s := &addrServer{by: map[string]int{}, port: "0"}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }),
		ConnContext: func(ctx context.Context, nc net.Conn) context.Context {
			s.mu.Lock()
			s.by[nc.LocalAddr().(*net.TCPAddr).IP.String()]++
			s.mu.Unlock()
			return ctx
		},
	}
	if h2c {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	var lns []net.Listener
	for _, a := range addrs {
		ln, err := net.Listen("tcp", net.JoinHostPort(a, s.port))
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			t.Skipf("listen on %s port %s: %v", a, s.port, err)
		}
		_, s.port, _ = net.SplitHostPort(ln.Addr().String())
		lns = append(lns, ln)
	}
	for _, ln := range lns {
		go func() { _ = srv.Serve(ln) }()
	}
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// conns returns the connections the server accepted by address.
func (s *addrServer) conns() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.by))
	for k, v := range s.by {
		out[k] = v
	}
	return out
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

// runDNS runs p with its lookups sent to dns.
func runDNS(t *testing.T, p engine.Plan, dns *testserver.DNS) *metrics.Snapshot {
	t.Helper()
	e, err := engine.New(p, engine.WithResolver(dns.Resolver()))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return res.Total
}

func TestDNSTTL(t *testing.T) { forEachEngine(t, testDNSTTL) }

// The DNS server counts the lookups: by default one A and one AAAA query
// for the run, the first connection's DNS phase the only one; with
// --dns-ttl 0 one of each per connection dialed, each connection with
// its DNS phase; with --dns-ttl 1h as by default. Ten VUs that dial at
// once share the one lookup.
func testDNSTTL(t *testing.T, eng string) {
	srv := startAddrServer(t, false, "127.0.0.1")
	for _, tc := range []struct {
		name      string
		ttl       time.Duration
		vus       int
		n         int64
		keepAlive bool
		perConn   bool // a lookup per connection, else one for the run
	}{
		{"run", 0, 1, 10, false, false},
		{"ttl 0", transport.DNSNoCache, 1, 10, false, true},
		{"ttl 1h", time.Hour, 1, 10, false, false},
		{"ttl 0, 3 VUs", transport.DNSNoCache, 3, 30, false, true},
		{"run, 10 VUs", 0, 10, 200, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dns := testserver.StartDNS(t, map[string][]netip.Addr{"shop.test": addrs("127.0.0.1")})
			before := srv.conns()["127.0.0.1"]
			p := closedOn(eng, "http://shop.test:"+srv.port+"/", tc.vus, tc.n)
			p.Transport.DNSTTL = tc.ttl
			p.Transport.DisableKeepAlives = !tc.keepAlive
			s := runDNS(t, p, dns)
			if s.Requests != tc.n || s.OK != tc.n {
				t.Fatalf("%d requests, %d ok (%v); want %d ok", s.Requests, s.OK, s.ErrExample, tc.n)
			}
			if got := int64(srv.conns()["127.0.0.1"] - before); got != s.Dialed {
				t.Errorf("the server accepted %d connections, faya dialed %d", got, s.Dialed)
			}
			if !tc.keepAlive && s.Dialed != tc.n {
				t.Errorf("dialed %d connections without keep-alives; want %d", s.Dialed, tc.n)
			}
			a, aaaa := int64(dns.Queries("shop.test", "A")), int64(dns.Queries("shop.test", "AAAA"))
			phases := histCount(s, metrics.DNS)
			switch {
			case tc.perConn:
				if a != s.Dialed || aaaa != s.Dialed || phases != s.Dialed {
					t.Errorf("A queries %d, AAAA %d, DNS phases %d; want one each per connection dialed, %d", a, aaaa, phases, s.Dialed)
				}
			case tc.vus == 1:
				if a != 1 || aaaa != 1 || phases != 1 {
					t.Errorf("A queries %d, AAAA %d, DNS phases %d over %d connections; want 1, 1, 1", a, aaaa, phases, s.Dialed)
				}
			default: // the VUs that waited for the one lookup have its wait as their phase
				if a != 1 || aaaa != 1 || phases < 1 || phases > s.Dialed {
					t.Errorf("A queries %d, AAAA %d, DNS phases %d over %d connections; want 1, 1, 1 to %d", a, aaaa, phases, s.Dialed, s.Dialed)
				}
			}
		})
	}
}

func TestDNSMode(t *testing.T) { forEachEngine(t, testDNSMode) }

// A name with the answers 127.0.0.1 and 127.0.0.2, a server on both at
// one port, a connection per request (no keep-alives): --dns-mode
// round-robin splits 20 connections 10/10, first puts them all on
// 127.0.0.1, random uses both over 40 connections. One lookup serves
// them all.
func testDNSMode(t *testing.T, eng string) {
	for _, tc := range []struct {
		mode transport.DNSMode
		n    int64
		min  map[string]int // connections each address must have at least
		max  map[string]int
	}{
		{transport.DNSRoundRobin, 20, map[string]int{"127.0.0.1": 10, "127.0.0.2": 10}, map[string]int{"127.0.0.1": 10, "127.0.0.2": 10}},
		{transport.DNSFirst, 20, map[string]int{"127.0.0.1": 20}, map[string]int{"127.0.0.1": 20, "127.0.0.2": 0}},
		// Binomial(40, 1/2) is below 8 with a probability of 2e-5.
		{transport.DNSRandom, 40, map[string]int{"127.0.0.1": 8, "127.0.0.2": 8}, map[string]int{"127.0.0.1": 32, "127.0.0.2": 32}},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			srv := startAddrServer(t, false, "127.0.0.1", "127.0.0.2")
			dns := testserver.StartDNS(t, map[string][]netip.Addr{"shop.test": addrs("127.0.0.1", "127.0.0.2")})
			p := closedOn(eng, "http://shop.test:"+srv.port+"/", 2, tc.n)
			p.Transport.DNSMode = tc.mode
			p.Transport.DisableKeepAlives = true
			s := runDNS(t, p, dns)
			by := srv.conns()
			if s.OK != tc.n || s.Dialed != tc.n || int64(by["127.0.0.1"]+by["127.0.0.2"]) != s.Dialed {
				t.Errorf("%d ok over %d connections (the server saw %v); want %d over %d", s.OK, s.Dialed, by, tc.n, tc.n)
			}
			for a, n := range tc.min {
				if by[a] < n || by[a] > tc.max[a] {
					t.Errorf("connections by server address %v; want %s to have %d to %d", by, a, n, tc.max[a])
				}
			}
			if a := dns.Queries("shop.test", "A"); a != 1 {
				t.Errorf("%d A queries; want 1 for the run", a)
			}
		})
	}
}

func TestIPFamily(t *testing.T) { forEachEngine(t, testIPFamily) }

// A name with the answers ::1 and 127.0.0.1: --ip-family 4 sends only A
// queries and dials only 127.0.0.1, --ip-family 6 only AAAA and ::1.
func testIPFamily(t *testing.T, eng string) {
	srv := startAddrServer(t, false, "127.0.0.1", "::1")
	for _, tc := range []struct {
		family transport.IPFamily
		addr   string // where every connection goes
		asked  string // the one query type sent
	}{
		{transport.IPv4, "127.0.0.1", "A"},
		{transport.IPv6, "::1", "AAAA"},
	} {
		t.Run(tc.family.String(), func(t *testing.T) {
			dns := testserver.StartDNS(t, map[string][]netip.Addr{"shop.test": addrs("::1", "127.0.0.1")})
			before := srv.conns()
			p := closedOn(eng, "http://shop.test:"+srv.port+"/", 4, 40)
			p.Transport.IPFamily = tc.family
			p.Transport.DNSTTL = transport.DNSNoCache
			// A connection per request: net/http cancels a dial whose
			// request another connection served, after its lookup (CI:
			// 4 A queries for 3 connections with keep-alives).
			p.Transport.DisableKeepAlives = true
			s := runDNS(t, p, dns)
			after := srv.conns()
			got := after[tc.addr] - before[tc.addr]
			other := after["127.0.0.1"] + after["::1"] - before["127.0.0.1"] - before["::1"] - got
			if s.OK != 40 || int64(got) != s.Dialed || other != 0 {
				t.Errorf("%d ok, %d connections to %s and %d to the other family, of %d dialed; want 40 ok, all to %s", s.OK, got, tc.addr, other, s.Dialed, tc.addr)
			}
			a, aaaa := dns.Queries("shop.test", "A"), dns.Queries("shop.test", "AAAA")
			if n := map[string]int{"A": a, "AAAA": aaaa}[tc.asked]; int64(n) != s.Dialed || a+aaaa != n {
				t.Errorf("A queries %d, AAAA %d; want %d %s queries only (one per connection)", a, aaaa, s.Dialed, tc.asked)
			}
		})
	}
}

// The default engine's HTTP/2 (h2c) dials the same way: round-robin over
// the answers with --dns-ttl 0, a lookup per connection.
func TestDNSOverH2(t *testing.T) {
	h2Engines(t, func(t *testing.T, eng string) {
		srv := startAddrServer(t, true, "127.0.0.1", "127.0.0.2")
		dns := testserver.StartDNS(t, map[string][]netip.Addr{"shop.test": addrs("127.0.0.1", "127.0.0.2")})
		p := closedOn(eng, "http://shop.test:"+srv.port+"/", 4, 40)
		p.Transport.HTTP = transport.HTTP2
		p.Transport.DNSTTL = transport.DNSNoCache
		p.Transport.DNSMode = transport.DNSRoundRobin
		p.Transport.MaxConnsPerHost = 4
		p.Transport.H2MaxStreams = 1
		if eng == engine.EngineNetHTTP {
			p.Transport.H2MaxStreams = 0 // refused there; Go opens what MaxConnsPerHost allows
		}
		s := runDNS(t, p, dns)
		by := srv.conns()
		if s.OK != 40 || s.Protocols[metrics.ProtoH2] != 40 {
			t.Fatalf("%d ok, protocols %v; want 40 ok over h2", s.OK, s.Protocols)
		}
		if a := dns.Queries("shop.test", "A"); int64(a) != s.Dialed || int64(by["127.0.0.1"]+by["127.0.0.2"]) != s.Dialed {
			t.Errorf("%d A queries, the server saw %v, faya dialed %d; want a lookup per connection", a, by, s.Dialed)
		}
		if d := by["127.0.0.1"] - by["127.0.0.2"]; d < -1 || d > 1 {
			t.Errorf("connections by server address %v; want them split in turn", by)
		}
	})
}
