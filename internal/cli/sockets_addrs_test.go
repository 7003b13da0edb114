package cli

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/transport"
)

// The sockets watched are to the addresses the run dials, by its rules:
// --ip-family's records only, --resolve's addresses for its host:port
// (no query), a --local-addr's family, each URL's port (or its scheme's).
func TestTargetAddrsAsTheRunDials(t *testing.T) {
	dns := testserver.StartDNS(t, map[string][]netip.Addr{
		"shop.test": {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")},
	})
	v4src := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	v6src := []netip.Addr{netip.MustParseAddr("::1")}
	resolve := map[string][]netip.Addr{"shop.test:8080": {netip.MustParseAddr("127.0.0.9")}, "nowhere.test:443": {netip.MustParseAddr("127.0.0.8")}}
	for _, tc := range []struct {
		name    string
		cfg     transport.Config
		urls    []string
		want    []string
		a, aaaa int // the DNS server's queries for shop.test
	}{
		{"both families", transport.Config{}, []string{"http://shop.test/"}, []string{"127.0.0.1:80", "[::1]:80"}, 1, 1},
		{"ip-family 4", transport.Config{IPFamily: transport.IPv4}, []string{"http://shop.test:8081/"}, []string{"127.0.0.1:8081"}, 1, 0},
		{"ip-family 6", transport.Config{IPFamily: transport.IPv6}, []string{"https://shop.test/"}, []string{"[::1]:443"}, 0, 1},
		{"resolve", transport.Config{Resolve: resolve}, []string{"http://shop.test:8080/", "https://nowhere.test/"}, []string{"127.0.0.9:8080", "127.0.0.8:443"}, 0, 0},
		{"resolve names another port", transport.Config{Resolve: resolve, IPFamily: transport.IPv4}, []string{"http://shop.test/"}, []string{"127.0.0.1:80"}, 1, 0},
		{"v4 source", transport.Config{LocalAddrs: v4src}, []string{"http://shop.test/"}, []string{"127.0.0.1:80"}, 1, 1},
		{"v6 source", transport.Config{LocalAddrs: v6src}, []string{"socks5://shop.test"}, []string{"[::1]:1080"}, 1, 1},
		{"address of another family", transport.Config{IPFamily: transport.IPv6}, []string{"http://127.0.0.1:9/"}, nil, 0, 0},
		{"not found", transport.Config{}, []string{"http://missing.test/"}, nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a0, aaaa0 := dns.Queries("shop.test", "A"), dns.Queries("shop.test", "AAAA")
			var got []string
			for _, ap := range targetAddrs(t.Context(), tc.urls, tc.cfg, transport.NewResolver(tc.cfg, dns.Resolver())) {
				got = append(got, ap.String())
			}
			slices.Sort(got) // Go's resolver sorts its answer (RFC 6724)
			slices.Sort(tc.want)
			if !slices.Equal(got, tc.want) {
				t.Errorf("targetAddrs(%v) = %v; want %v", tc.urls, got, tc.want)
			}
			if a, aaaa := dns.Queries("shop.test", "A")-a0, dns.Queries("shop.test", "AAAA")-aaaa0; a != tc.a || aaaa != tc.aaaa {
				t.Errorf("queries for shop.test: %d A, %d AAAA; want %d, %d", a, aaaa, tc.a, tc.aaaa)
			}
		})
	}
}
