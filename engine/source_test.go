package engine_test

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"

	"github.com/faya-load/faya/metrics"
)

func TestLocalAddrs(t *testing.T) { forEachEngine(t, testLocalAddrs) }

// With --local-addr 127.0.0.2,127.0.0.3 each new connection binds the
// next source address in turn: 10 VUs, one connection each, and the
// server sees 5 connections from each address.
func testLocalAddrs(t *testing.T, eng string) {
	log, url := startConnLog(t)
	const vus, n = 10, 200
	p := closedOn(eng, url+"/", vus, n)
	p.Transport.LocalAddrs = []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")}
	s := run(t, p).Total
	by := map[string]int{}
	total := 0
	for _, c := range log.seen() {
		by[c.peer]++
		total += c.requests
	}
	if total != n || s.Requests != n {
		t.Errorf("the server served %d requests, faya counted %d; want %d", total, s.Requests, n)
	}
	if by["127.0.0.2"] != 5 || by["127.0.0.3"] != 5 || len(by) != 2 {
		t.Errorf("connections by source address %v; want 5 from 127.0.0.2 and 5 from 127.0.0.3", by)
	}
	if s.Dialed != vus {
		t.Errorf("dialed %d connections; want %d (one per VU)", s.Dialed, vus)
	}
}

func TestResolve(t *testing.T) { forEachEngine(t, testResolve) }

// --resolve shop.test:PORT:127.0.0.1,127.0.0.2 dials a server listening
// on both addresses at one port without a lookup (no DNS phase; shop.test
// resolves nowhere): the connections split between the two addresses in
// turn and every request's Host is shop.test:PORT.
func testResolve(t *testing.T, eng string) {
	var mu sync.Mutex
	byAddr, hosts := map[string]int{}, map[string]int{}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hosts[r.Host]++
			mu.Unlock()
			_, _ = w.Write([]byte("ok"))
		}),
		ConnContext: func(ctx context.Context, nc net.Conn) context.Context {
			mu.Lock()
			byAddr[nc.LocalAddr().(*net.TCPAddr).IP.String()]++
			mu.Unlock()
			return ctx
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln2, err := net.Listen("tcp", "127.0.0.2:"+port)
	if err != nil {
		_ = ln.Close()
		t.Skipf("listen on 127.0.0.2:%s: %v", port, err)
	}
	go func() { _ = srv.Serve(ln) }()
	go func() { _ = srv.Serve(ln2) }()
	t.Cleanup(func() { _ = srv.Close() })

	const vus, n = 10, 200
	host := "shop.test:" + port
	p := closedOn(eng, "http://"+host+"/", vus, n)
	p.Transport.Resolve = map[string][]netip.Addr{host: {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")}}
	s := run(t, p).Total
	if s.Requests != n || s.Dialed != vus {
		t.Errorf("%d requests over %d connections; want %d over %d", s.Requests, s.Dialed, n, vus)
	}
	if d := histCount(s, metrics.DNS); d != 0 {
		t.Errorf("%d DNS phases; want none", d)
	}
	mu.Lock()
	defer mu.Unlock()
	if byAddr["127.0.0.1"] != vus/2 || byAddr["127.0.0.2"] != vus/2 || len(byAddr) != 2 {
		t.Errorf("connections by server address %v; want %d to each of 127.0.0.1 and 127.0.0.2", byAddr, vus/2)
	}
	if hosts[host] != n || len(hosts) != 1 {
		t.Errorf("Host headers %v; want %q on all %d requests", hosts, host, n)
	}
}
