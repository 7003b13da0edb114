package report_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/report"
	"github.com/faya-load/faya/transport"
)

// The pool's DNS settings go into the JSON only when set, and read back
// as they were: --dns-ttl 0 as 0 (no cache), the default as absent.
func TestPoolDNSJSON(t *testing.T) {
	for _, tc := range []struct {
		pool report.Pool
		json string // what the object ends with
	}{
		{report.Pool{}, `"insecure":false}`},
		{report.Pool{DNSTTL: transport.DNSNoCache, DNSMode: transport.DNSRoundRobin}, `"insecure":false,"dns_ttl_ns":0,"dns_mode":"round-robin"}`},
		{report.Pool{DNSTTL: 30 * time.Second, IPFamily: transport.IPv6}, `"insecure":false,"dns_ttl_ns":30000000000,"ip_family":"6"}`},
		{report.Pool{DNSMode: transport.DNSRandom, IPFamily: transport.IPv4}, `"insecure":false,"dns_mode":"random","ip_family":"4"}`},
	} {
		b, err := json.Marshal(tc.pool)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(string(b), tc.json) {
			t.Errorf("%+v: %s; want it to end with %s", tc.pool, b, tc.json)
		}
		var back report.Pool
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back.DNSTTL != tc.pool.DNSTTL || back.DNSMode != tc.pool.DNSMode || back.IPFamily != tc.pool.IPFamily {
			t.Errorf("%s read back as ttl %v mode %q family %q", b, back.DNSTTL, back.DNSMode, back.IPFamily)
		}
	}
}

// The HTML report's configuration has a DNS row when a DNS setting is
// not the default, and none otherwise.
func TestHTMLDNSRow(t *testing.T) {
	rep := report.Build(fixture())
	if page := renderHTML(t, rep); strings.Contains(page, "looked up") {
		t.Errorf("a run with the default DNS settings has a DNS row")
	}
	rep.Run.Pool.DNSTTL = transport.DNSNoCache
	rep.Run.Pool.DNSMode = transport.DNSRoundRobin
	rep.Run.Pool.IPFamily = transport.IPv4
	if page := renderHTML(t, rep); !strings.Contains(page, "looked up on every new connection (--dns-ttl 0) · dials the addresses in turn · IPv4 only") {
		t.Errorf("the DNS row is missing or wrong")
	}
}
