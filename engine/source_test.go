package engine_test

import (
	"net/netip"
	"testing"
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
