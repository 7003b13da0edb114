package transport

import (
	"context"
	"net/netip"
	"slices"
	"testing"
)

// Addrs is the whole answer, kept as a dial's: with --dns-mode
// round-robin it takes no turn (the next dial gets the address it would
// have had), and with the answer kept for the run a dial after it sends
// no lookup of its own.
func TestResolverAddrsTakesNoTurn(t *testing.T) {
	r, f := newFakeResolver(Config{DNSMode: DNSRoundRobin}, "127.0.0.3", "127.0.0.1", "127.0.0.2")
	for range 3 {
		ips, err := r.Addrs(t.Context(), "shop.test")
		if err != nil || len(ips) != 3 || ips[0].String() != "127.0.0.3" {
			t.Fatalf("Addrs: %v, %v; want the resolver's 3 in its order", ips, err)
		}
	}
	for i, want := range []string{"127.0.0.1", "127.0.0.2"} {
		if ips, _, err := r.Resolve(t.Context(), "shop.test"); err != nil || ips[0].String() != want {
			t.Errorf("dial %d after Addrs: %v, %v; want %s first, as without Addrs", i+1, ips, err, want)
		}
	}
	if n := f.n.Load(); n != 1 {
		t.Errorf("%d lookups, want the one kept for the run", n)
	}
	nc, f := newFakeResolver(Config{DNSTTL: DNSNoCache}, "127.0.0.1")
	for range 2 {
		_, _ = nc.Addrs(t.Context(), "shop.test")
	}
	if n := f.n.Load(); n != 2 {
		t.Errorf("--dns-ttl 0: %d lookups for 2 calls, want 2 (each its own, as each dial's)", n)
	}
}

// DialAddrs are the addresses the run's dials connect to, by the same
// rules: an IP address (none of another family than --ip-family),
// --resolve's for host:port (no lookup; another port of the host is
// looked up), the lookup of --ip-family's records, those of a source
// address's family with --local-addr.
func TestDialAddrs(t *testing.T) {
	answer := []string{"127.0.0.1", "::1", "127.0.0.2"}
	resolve := map[string][]netip.Addr{"shop.test:8080": {netip.MustParseAddr("127.0.0.9"), netip.MustParseAddr("::9")}}
	for _, tc := range []struct {
		name       string
		cfg        Config
		host, port string
		want       []string
		lookups    int64
		network    string
	}{
		{"lookup", Config{}, "shop.test", "80", []string{"127.0.0.1", "::1", "127.0.0.2"}, 1, "ip"},
		// The fake answers any network alike: A records alone were asked for.
		{"lookup, ipv4", Config{IPFamily: IPv4}, "shop.test", "80", []string{"127.0.0.1", "::1", "127.0.0.2"}, 1, "ip4"},
		{"resolve", Config{Resolve: resolve}, "Shop.Test", "8080", []string{"127.0.0.9", "::9"}, 0, ""},
		{"resolve names another port", Config{Resolve: resolve}, "shop.test", "80", []string{"127.0.0.1", "::1", "127.0.0.2"}, 1, "ip"},
		{"resolve, v4 source", Config{Resolve: resolve, LocalAddrs: []netip.Addr{netip.MustParseAddr("127.0.0.5")}}, "shop.test", "8080", []string{"127.0.0.9"}, 0, ""},
		{"lookup, v6 source", Config{LocalAddrs: []netip.Addr{netip.MustParseAddr("::1")}}, "shop.test", "80", []string{"::1"}, 1, "ip"},
		{"address", Config{}, "127.0.0.7", "80", []string{"127.0.0.7"}, 0, ""},
		{"address of another family", Config{IPFamily: IPv6}, "127.0.0.7", "80", nil, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, f := newFakeResolver(tc.cfg, answer...)
			ips, err := tc.cfg.DialAddrs(context.Background(), r, tc.host, tc.port)
			var got []string
			for _, ip := range ips {
				got = append(got, ip.String())
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("DialAddrs(%s, %s) = %v, %v; want %v", tc.host, tc.port, got, err, tc.want)
			}
			if n := f.n.Load(); n != tc.lookups {
				t.Errorf("%d lookups, want %d", n, tc.lookups)
			}
			if _, asked := f.nets.Load(tc.network); tc.network != "" && !asked {
				t.Errorf("no lookup for network %q", tc.network)
			}
		})
	}
	if ips, _ := (Config{Resolve: resolve}).DialAddrs(context.Background(), nil, "shop.test", "8080"); &ips[0] == &resolve["shop.test:8080"][0] {
		t.Error("DialAddrs returned --resolve's own slice")
	}
}
