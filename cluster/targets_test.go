package cluster

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/transport"
)

// CheckTargets checks the addresses the run would dial, found by its own
// rules: --resolve's for a host:port (the lookup's answer does not
// matter then, nor whether there is one), --ip-family's records only.
func TestCheckTargetsAsTheRunDials(t *testing.T) {
	dns := testserver.StartDNS(t, map[string][]netip.Addr{
		"shop.test":  {netip.MustParseAddr("127.0.0.1")},
		"mixed.test": {netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("2001:db8::1")},
	})
	allow, err := ParseAllow("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	res := func(kv ...string) map[string][]netip.Addr {
		m := map[string][]netip.Addr{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = []netip.Addr{netip.MustParseAddr(kv[i+1])}
		}
		return m
	}
	for _, tc := range []struct {
		name string
		url  string
		tr   transport.Config
		err  string // "": allowed
	}{
		{"lookup allowed", "http://shop.test/", transport.Config{}, ""},
		{"resolve outside, lookup inside", "http://shop.test/", transport.Config{Resolve: res("shop.test:80", "10.0.0.1")}, "target shop.test (10.0.0.1) is outside --allow-targets 127.0.0.0/8"},
		{"resolve of another port", "http://shop.test/", transport.Config{Resolve: res("shop.test:8080", "10.0.0.1")}, ""},
		{"resolve of a name DNS has not", "https://nowhere.test/", transport.Config{Resolve: res("nowhere.test:443", "127.0.0.5")}, ""},
		{"a name DNS has not", "https://nowhere.test/", transport.Config{}, "target nowhere.test"},
		{"both families", "http://mixed.test/", transport.Config{}, "target mixed.test (2001:db8::1) is outside"},
		{"ip-family 4", "http://mixed.test/", transport.Config{IPFamily: transport.IPv4}, ""},
		{"ip-family 6", "http://mixed.test/", transport.Config{IPFamily: transport.IPv6}, "target mixed.test (2001:db8::1) is outside"},
		{"address outside", "http://10.1.2.3/", transport.Config{}, "target 10.1.2.3 (10.1.2.3) is outside"},
		{"template", "http://{{.host}}/", transport.Config{}, "cannot check"},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			p := engine.Plan{Transport: tc.tr, Scenarios: []engine.Scenario{{Name: "s", Steps: []engine.Step{{URL: tc.url}}}}}
			err := CheckTargets(t.Context(), p, allow, dns.Resolver())
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("CheckTargets(%s, %+v) = %v; want %q", tc.url, tc.tr, err, tc.err)
			}
		})
	}
	// A proxy's host:port likewise.
	p := engine.Plan{Transport: transport.Config{Resolve: res("proxy.test:3128", "10.0.0.2")},
		Scenarios: []engine.Scenario{{Name: "s", Steps: []engine.Step{{URL: "http://shop.test/"}}}}}
	p.Proxy.URLs = []string{"http://proxy.test:3128"}
	if err := CheckTargets(t.Context(), p, allow, dns.Resolver()); err == nil || !strings.Contains(err.Error(), "target proxy.test (10.0.0.2) is outside") {
		t.Errorf("a proxy resolved outside: %v", err)
	}
}
