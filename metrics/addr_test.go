package metrics_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/faya-load/faya/metrics"
)

// addrRun records, on a recorder of two shards, conns connections from
// each source to each destination in the order given, and per connection
// reqs requests whose latency is the destination's position times 1 ms
// (plus 1 ms); it returns the flushed snapshot.
func addrRun(t *testing.T, sources []string, dests []string, conns, reqs int) *metrics.Snapshot {
	t.Helper()
	rec := metrics.NewRecorder(2)
	for c := range conns {
		for si, src := range sources {
			for di, dst := range dests {
				slot := rec.ConnDialedAt(metrics.ProtoH1, netip.MustParseAddr(src), netip.MustParseAddrPort(dst))
				for r := range reqs {
					x := metrics.Sample{Latency: time.Duration(di+1) * time.Millisecond, Status: 200, Dest: slot, Fresh: 1}
					rec.Shard(c+si+r).Record(&x, nil)
				}
			}
		}
	}
	return rec.Flush(nil)
}

func addrByName(list []metrics.AddrStats) map[string]metrics.AddrStats {
	m := map[string]metrics.AddrStats{}
	for _, a := range list {
		m[a.Addr] = a
	}
	return m
}

func TestAddrAccounts(t *testing.T) {
	s := addrRun(t, []string{"127.0.0.2", "127.0.0.3"}, []string{"127.0.0.1:80", "127.0.0.2:80"}, 3, 4)
	if s.Dialed != 12 || s.Requests != 48 {
		t.Fatalf("dialed %d, requests %d; want 12 and 48", s.Dialed, s.Requests)
	}
	src := addrByName(s.Sources)
	if len(s.Sources) != 2 || src["127.0.0.2"].Dialed != 6 || src["127.0.0.3"].Dialed != 6 {
		t.Errorf("sources %+v; want 6 connections from each of 127.0.0.2 and 127.0.0.3", s.Sources)
	}
	dst := addrByName(s.Dests)
	for i, name := range []string{"127.0.0.1:80", "127.0.0.2:80"} {
		a := dst[name]
		if a.Dialed != 6 || a.Requests != 24 {
			t.Errorf("%s: %d connections, %d requests; want 6 and 24", name, a.Dialed, a.Requests)
		}
		want := time.Duration(i+1) * time.Millisecond
		if got := time.Duration(metrics.Quantile(a.Latency(), 0.99)); got < want*99/100 || got > want*101/100 {
			t.Errorf("%s: p99 %v; want %v within 1%%", name, got, want)
		}
	}
}

// Snapshots of two agents that saw the addresses in other orders merge
// by address, and survive JSON.
func TestAddrMergeByName(t *testing.T) {
	a := addrRun(t, []string{"127.0.0.2"}, []string{"127.0.0.1:80", "127.0.0.2:80"}, 1, 2)
	b := addrRun(t, []string{"127.0.0.3", "127.0.0.2"}, []string{"127.0.0.2:80", "127.0.0.3:80"}, 1, 3)
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var back metrics.Snapshot
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	total := &metrics.Snapshot{}
	total.Merge(a)
	total.Merge(&back)
	src := addrByName(total.Sources)
	if len(total.Sources) != 2 || src["127.0.0.2"].Dialed != 2+2 || src["127.0.0.3"].Dialed != 2 {
		t.Errorf("sources %+v; want 127.0.0.2: 4, 127.0.0.3: 2", total.Sources)
	}
	dst := addrByName(total.Dests)
	for name, want := range map[string][2]int64{"127.0.0.1:80": {1, 2}, "127.0.0.2:80": {1 + 2, 2 + 6}, "127.0.0.3:80": {2, 6}} {
		if a := dst[name]; a.Dialed != want[0] || a.Requests != want[1] || a.Latency().TotalCount() != want[1] {
			t.Errorf("%s: %d connections, %d requests, %d latencies; want %d and %d", name, a.Dialed, a.Requests, a.Latency().TotalCount(), want[0], want[1])
		}
	}
	if len(total.Dests) != 3 {
		t.Errorf("%d destinations; want 3", len(total.Dests))
	}
}

// Past MaxDestAddrs-1 destinations the rest are counted under "other".
func TestAddrCap(t *testing.T) {
	var dests []string
	for i := range metrics.MaxDestAddrs + 10 {
		dests = append(dests, fmt.Sprintf("10.0.%d.%d:443", i/250, i%250+1))
	}
	s := addrRun(t, []string{"127.0.0.2"}, dests, 1, 1)
	if len(s.Dests) != metrics.MaxDestAddrs {
		t.Fatalf("%d destination slots; want %d", len(s.Dests), metrics.MaxDestAddrs)
	}
	o := s.Dests[len(s.Dests)-1]
	if o.Addr != metrics.OtherAddr || o.Dialed != 11 || o.Requests != 11 {
		t.Errorf("last slot %s: %d connections, %d requests; want %s with 11 and 11", o.Addr, o.Dialed, o.Requests, metrics.OtherAddr)
	}
	var sum int64
	for _, a := range s.Dests {
		sum += a.Requests
	}
	if sum != s.Requests {
		t.Errorf("the slots count %d requests; want all %d", sum, s.Requests)
	}
	// Merging two such snapshots keeps the cap.
	total := &metrics.Snapshot{}
	total.Merge(s)
	total.Merge(addrRun(t, []string{"127.0.0.2"}, dests[5:], 1, 1))
	if len(total.Dests) != metrics.MaxDestAddrs {
		t.Errorf("merged: %d destination slots; want %d", len(total.Dests), metrics.MaxDestAddrs)
	}
}

// RegisterAddrs lists addresses before any connection, in its order.
func TestRegisterAddrs(t *testing.T) {
	rec := metrics.NewRecorder(1)
	rec.RegisterAddrs([]netip.Addr{netip.MustParseAddr("127.0.0.3"), netip.MustParseAddr("127.0.0.2")},
		[]netip.AddrPort{netip.MustParseAddrPort("127.0.0.9:80")})
	rec.ConnDialedAt(metrics.ProtoH1, netip.MustParseAddr("127.0.0.2"), netip.MustParseAddrPort("127.0.0.1:80"))
	s := rec.Flush(nil)
	if len(s.Sources) != 2 || s.Sources[0].Addr != "127.0.0.3" || s.Sources[0].Dialed != 0 || s.Sources[1].Addr != "127.0.0.2" || s.Sources[1].Dialed != 1 {
		t.Errorf("sources %+v; want 127.0.0.3 (0), 127.0.0.2 (1)", s.Sources)
	}
	if len(s.Dests) != 2 || s.Dests[0].Addr != "127.0.0.9:80" || s.Dests[1].Addr != "127.0.0.1:80" || s.Dests[1].Dialed != 1 {
		t.Errorf("destinations %+v; want 127.0.0.9:80 (0), 127.0.0.1:80 (1)", s.Dests)
	}
}

// A damaged address latency is refused, as a damaged histogram is.
func TestAddrJSONRefused(t *testing.T) {
	for _, in := range []string{
		`{"Dests":[{"Addr":"127.0.0.1:80","Latency":"AAAA"}]}`,
		fmt.Sprintf(`{"Dests":[{"Addr":%q}]}`, string(make([]byte, 100))),
	} {
		var s metrics.Snapshot
		if err := json.Unmarshal([]byte(in), &s); err == nil {
			t.Errorf("%.60s: decoded; want an error", in)
		}
	}
}
