package transport

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/metrics"
)

func TestParseDNSFlags(t *testing.T) {
	for _, tc := range []struct {
		parse func(string) (string, error)
		in    string
		want  string // the value, or the error's start
	}{
		{ttl, "30s", "30s"},
		{ttl, "0", "-1ns"}, // DNSNoCache
		{ttl, "0s", "-1ns"},
		{ttl, "-1s", `"-1s": must not be negative`},
		{ttl, "soon", `"soon": want a duration such as 30s`},
		{mode, "first", "first"},
		{mode, "", "first"},
		{mode, "round-robin", "round-robin"},
		{mode, "random", "random"},
		{mode, "rr", `"rr": want first, round-robin or random`},
		{family, "4", "4"},
		{family, "6", "6"},
		{family, "any", "any"},
		{family, "ipv4", `"ipv4": want 4, 6 or any`},
	} {
		got, err := tc.parse(tc.in)
		if err != nil {
			got = err.Error()
		}
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("parse %q = %s; want %s", tc.in, got, tc.want)
		}
	}
}

func ttl(s string) (string, error) {
	d, err := ParseDNSTTL(s)
	return d.String(), err
}

func mode(s string) (string, error) {
	m, err := ParseDNSMode(s)
	return m.String(), err
}

func family(s string) (string, error) {
	f, err := ParseIPFamily(s)
	return f.String(), err
}

// A Config whose source or --resolve addresses contradict its IP family
// does not validate.
func TestIPFamilyConflicts(t *testing.T) {
	v4, v6 := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("::1")
	for _, tc := range []struct {
		cfg  Config
		want string // "" or part of the error
	}{
		{Config{IPFamily: IPv4, LocalAddrs: []netip.Addr{v4}}, ""},
		{Config{IPFamily: IPv4, LocalAddrs: []netip.Addr{v4, v6}}, "local address ::1 is not of IP family 4"},
		{Config{IPFamily: IPv6, LocalAddrs: []netip.Addr{v4}}, "local address 127.0.0.2 is not of IP family 6"},
		{Config{LocalAddrs: []netip.Addr{v4, v6}}, ""},
		{Config{IPFamily: IPv6, Resolve: map[string][]netip.Addr{"a.test:80": {v6, v4}}}, "resolve a.test:80: address 127.0.0.2 is not of IP family 6"},
		{Config{IPFamily: "5"}, `IP family "5": want 4, 6 or any`},
		{Config{DNSMode: "rr"}, `DNS mode "rr": want first`},
	} {
		err := tc.cfg.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: Validate() = %v; want %q", tc.cfg, err, tc.want)
		}
	}
}

// The contradiction of --ip-family and --local-addr or --resolve names
// both inputs and the fix.
func TestFamilyConflict(t *testing.T) {
	v4, v6 := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("::1")
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{IPFamily: IPv4, LocalAddrs: []netip.Addr{v4}, Resolve: map[string][]netip.Addr{"a.test:80": {v4}}}, ""},
		{Config{LocalAddrs: []netip.Addr{v6}}, ""},
		{Config{IPFamily: IPv4, LocalAddrs: []netip.Addr{v4, v6}}, "--ip-family 4 and --local-addr ::1 contradict: an IPv4-only run cannot bind an IPv6 source address; give --local-addr IPv4 addresses only, or --ip-family 6 (or any)"},
		{Config{IPFamily: IPv6, Resolve: map[string][]netip.Addr{"b.test:80": {v6}, "a.test:80": {v4}}}, "--ip-family 6 and --resolve a.test:80:127.0.0.2 contradict: an IPv6-only run cannot dial an IPv4 address; give --resolve IPv6 addresses only, or --ip-family any"},
	} {
		got := fmt.Sprint(FamilyConflict(tc.cfg, "--ip-family", "--local-addr", "--resolve"))
		if tc.want == "" && got != "<nil>" || tc.want != "" && got != tc.want {
			t.Errorf("FamilyConflict(%+v) = %s; want %q", tc.cfg, got, tc.want)
		}
	}
}

// fakeLookup counts lookups and answers them with addrs.
type fakeLookup struct {
	n     atomic.Int64
	addrs []netip.Addr
	nets  sync.Map // the networks asked for
}

func (f *fakeLookup) lookup(_ context.Context, network, _ string) ([]netip.Addr, error) {
	f.n.Add(1)
	f.nets.Store(network, true)
	return f.addrs, nil
}

func newFakeResolver(cfg Config, addrs ...string) (*Resolver, *fakeLookup) {
	f := &fakeLookup{}
	for _, a := range addrs {
		f.addrs = append(f.addrs, netip.MustParseAddr(a))
	}
	r := NewResolver(cfg, nil)
	r.lookup = f.lookup
	return r, f
}

// A name's answer is kept for the TTL: a dial before it expires has no
// lookup and no DNS phase, the first after it looks up again. By default
// it is kept for the run; with --dns-ttl 0 every dial looks up.
func TestResolverTTL(t *testing.T) {
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		// lookups after dials at 0, 9.999s, 10s, 15s, 1h
		want []int64
	}{
		{"ttl 10s", 10 * time.Second, []int64{1, 1, 2, 2, 3}},
		{"run", 0, []int64{1, 1, 1, 1, 1}},
		{"no cache", DNSNoCache, []int64{1, 2, 3, 4, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r, f := newFakeResolver(Config{DNSTTL: tc.ttl}, "127.0.0.1")
				start := time.Now()
				for i, at := range []time.Duration{0, 10*time.Second - time.Millisecond, 10 * time.Second, 15 * time.Second, time.Hour} {
					time.Sleep(at - time.Since(start))
					before := f.n.Load()
					ips, dns, err := r.Resolve(t.Context(), "Shop.test")
					if err != nil || len(ips) != 1 {
						t.Fatalf("at %v: %v, %v", at, ips, err)
					}
					if got := f.n.Load(); got != tc.want[i] {
						t.Errorf("at %v: %d lookups; want %d", at, got, tc.want[i])
					}
					if looked := f.n.Load() > before; looked != (dns > 0) {
						t.Errorf("at %v: DNS phase %v with a lookup %v; want a phase exactly when a lookup was sent", at, dns, looked)
					}
				}
			})
		})
	}
}

// Dials that find their name being looked up wait for that lookup: one
// lookup for all, each with its wait as its DNS phase. When the dial that
// asked gives up, a waiting one asks again.
func TestResolverJoinsLookupInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewResolver(Config{}, nil)
		var n atomic.Int64
		release := make(chan struct{})
		r.lookup = func(ctx context.Context, _, _ string) ([]netip.Addr, error) {
			n.Add(1)
			select {
			case <-release:
				return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		leader, cancel := context.WithCancel(t.Context())
		errs := make(chan error, 1)
		go func() {
			_, _, err := r.Resolve(leader, "shop.test")
			errs <- err
		}()
		synctest.Wait()
		const waiters = 5
		var wg sync.WaitGroup
		dns := make([]time.Duration, waiters)
		for i := range waiters {
			wg.Go(func() {
				ips, d, err := r.Resolve(t.Context(), "shop.test")
				if err != nil || len(ips) != 1 {
					t.Errorf("waiter %d: %v, %v", i, ips, err)
				}
				dns[i] = d
			})
		}
		synctest.Wait()
		time.Sleep(time.Second) // the lookup takes a second
		cancel()                // and its dial gives up
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Errorf("the canceled dial's lookup: %v; want canceled", err)
		}
		synctest.Wait()
		close(release) // a waiter's own lookup answers
		wg.Wait()
		if got := n.Load(); got != 2 {
			t.Errorf("%d lookups; want 2 (the canceled one, then one for the %d waiters)", got, waiters)
		}
		for i, d := range dns {
			if d < time.Second {
				t.Errorf("waiter %d: DNS phase %v; want its wait, 1s", i, d)
			}
		}
		if _, d, _ := r.Resolve(t.Context(), "shop.test"); d != 0 || n.Load() != 2 {
			t.Errorf("after the lookup: DNS phase %v, %d lookups; want a kept answer", d, n.Load())
		}
	})
}

// A failed lookup is not kept: the next dial asks again. With
// --ip-family the error says which family was asked for, and is still
// class dns.
func TestResolverFailure(t *testing.T) {
	r := NewResolver(Config{IPFamily: IPv6}, nil)
	var n int
	r.lookup = func(_ context.Context, network, host string) ([]netip.Addr, error) {
		n++
		if network != "ip6" {
			t.Errorf("lookup of %s; want ip6", network)
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	for range 2 {
		_, _, err := r.Resolve(t.Context(), "shop.test")
		if metrics.Classify(err) != metrics.ErrDNS || !strings.Contains(err.Error(), "--ip-family 6: IPv6 addresses only") {
			t.Errorf("error %v (class %v); want class dns naming --ip-family 6", err, metrics.Classify(err))
		}
	}
	if n != 2 {
		t.Errorf("%d lookups for two dials after a failure; want 2", n)
	}
}

// The modes order the addresses of one answer: first as the resolver
// gave them, round-robin in address order from the next in turn, random
// from a drawn one; the others follow, for a dial that fails over.
func TestResolverOrder(t *testing.T) {
	answer := []string{"127.0.0.3", "127.0.0.1", "127.0.0.2"}
	for _, tc := range []struct {
		mode DNSMode
		want []string // the first address of dials 1 to 6; nil: random
	}{
		{DNSFirst, []string{"127.0.0.3", "127.0.0.3", "127.0.0.3", "127.0.0.3", "127.0.0.3", "127.0.0.3"}},
		{DNSRoundRobin, []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.1", "127.0.0.2", "127.0.0.3"}},
	} {
		r, _ := newFakeResolver(Config{DNSMode: tc.mode}, answer...)
		for i, want := range tc.want {
			ips, _, err := r.Resolve(t.Context(), "shop.test")
			if err != nil || len(ips) != 3 || ips[0].String() != want {
				t.Errorf("%s: dial %d: %v (%v); want %s first of all 3", tc.mode, i+1, ips, err, want)
			}
		}
	}
	r, _ := newFakeResolver(Config{DNSMode: DNSRandom}, answer...)
	r.rand = rand.New(rand.NewPCG(1, 2))
	by := map[string]int{}
	const dials = 300
	for range dials {
		ips, _, err := r.Resolve(t.Context(), "shop.test")
		if err != nil || len(ips) != 3 {
			t.Fatalf("random: %v, %v", ips, err)
		}
		by[ips[0].String()]++
	}
	for _, a := range answer {
		if by[a] < dials/3-30 || by[a] > dials/3+30 {
			t.Errorf("random: first addresses %v; want each of %v about %d times in %d (within 30)", by, answer, dials/3, dials)
		}
	}
}

// Dials through a Resolver over a real (in-process) DNS server: the
// server sees one A and one AAAA query for the run by default and one of
// each per connection with --dns-ttl 0; --ip-family 4 sends A queries
// only; only a dial that looked up has a DNS phase.
func TestDialLooksUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, tc := range []struct {
		name    string
		cfg     Config
		a, aaaa int // queries the server sees for 4 dials
		phases  int // dials with a DNS phase
	}{
		{"run", Config{}, 1, 1, 1},
		{"ttl 0", Config{DNSTTL: DNSNoCache}, 4, 4, 4},
		{"ttl 1h", Config{DNSTTL: time.Hour}, 1, 1, 1},
		{"ipv4", Config{IPFamily: IPv4, DNSTTL: DNSNoCache}, 4, 0, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testserver.StartDNS(t, map[string][]netip.Addr{"shop.test": {netip.MustParseAddr("127.0.0.1")}})
			d, err := NewDialer(tc.cfg, nopObserver{}, WithResolver(NewResolver(tc.cfg, srv.Resolver())))
			if err != nil {
				t.Fatal(err)
			}
			phases := 0
			for range 4 {
				c, _, err := d.Dial(t.Context(), "shop.test:"+port, false, "")
				if err != nil {
					t.Fatal(err)
				}
				if c.DNS > 0 {
					phases++
				}
				_ = c.Close()
			}
			a, aaaa := srv.Queries("shop.test", "A"), srv.Queries("shop.test", "AAAA")
			if a != tc.a || aaaa != tc.aaaa || phases != tc.phases {
				t.Errorf("A queries %d, AAAA %d, DNS phases %d over 4 dials; want %d, %d, %d", a, aaaa, phases, tc.a, tc.aaaa, tc.phases)
			}
		})
	}
}

// An IP address in the URL of another family than --ip-family fails the
// dial as class local, naming the flag.
func TestIPFamilyLiteral(t *testing.T) {
	d, err := NewDialer(Config{IPFamily: IPv6}, nopObserver{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = d.Dial(t.Context(), "127.0.0.1:1", false, "")
	if c := metrics.Classify(err); c != metrics.ErrLocal || !strings.Contains(fmt.Sprint(err), "--ip-family 6") {
		t.Errorf("dial 127.0.0.1 with --ip-family 6: %v (class %v); want class local naming --ip-family 6", err, c)
	}
}
