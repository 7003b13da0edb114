package cluster

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/transport"
)

// ParseAllow parses --allow-targets: networks in CIDR form (127.0.0.0/8,
// ::1/128) or single addresses, separated by commas.
func ParseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("%q is not a network (CIDR, e.g. 10.1.0.0/16) nor an address", item)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no networks given: write CIDR,..., e.g. 127.0.0.0/8,10.1.0.0/16")
	}
	return out, nil
}

// CheckTargets refuses a plan that would send to an address outside
// allow: every address the run would connect to for a step's host:port
// (and a proxy's) must be allowed, found as the run's dials find them
// (transport.Config.DialAddrs: the plan's --resolve addresses for a
// host:port, without a lookup; else a lookup through r, nil:
// net.DefaultResolver, of the plan's --ip-family records). An IP address
// in a URL is checked as it is. A host written as a template cannot be
// checked and is refused, and so is a name that resolves to nothing.
func CheckTargets(ctx context.Context, p engine.Plan, allow []netip.Prefix, r *net.Resolver) error {
	if len(allow) == 0 {
		return nil
	}
	var urls []string
	for _, sc := range p.Scenarios {
		if sc.Func != nil {
			return fmt.Errorf("scenario %s is Go code: an agent runs only plans of steps", sc.Name)
		}
		for _, st := range append(append([]engine.Step(nil), sc.Setup...), sc.Steps...) {
			urls = append(urls, st.URL)
		}
	}
	urls = append(urls, p.Proxy.URLs...)
	if p.Proxy.FromEnv {
		return fmt.Errorf("the plan takes its proxies from the agent's environment, which --allow-targets cannot check")
	}
	resolver := transport.NewResolver(p.Transport, r)
	seen := map[string]bool{}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || u.Hostname() == "" || strings.Contains(u.Host, "{{") {
			return fmt.Errorf("target %q: its host is not a plain name or address, which --allow-targets cannot check", raw)
		}
		host, port := u.Hostname(), u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}[u.Scheme]
		}
		if seen[host+" "+port] {
			continue
		}
		seen[host+" "+port] = true
		var addrs []netip.Addr
		if a, err := netip.ParseAddr(host); err == nil {
			addrs = []netip.Addr{a}
		} else if addrs, err = p.Transport.DialAddrs(ctx, resolver, host, port); err != nil {
			return fmt.Errorf("target %s: %w", host, err)
		}
		if len(addrs) == 0 {
			return fmt.Errorf("target %s:%s: no address the run could dial (--ip-family, --local-addr), which --allow-targets cannot check", host, port)
		}
		for _, a := range addrs {
			a = a.Unmap()
			ok := false
			for _, p := range allow {
				if p.Contains(a) {
					ok = true
					break
				}
			}
			if !ok {
				return fmt.Errorf("target %s (%s) is outside --allow-targets %s", host, a, prefixes(allow))
			}
		}
	}
	return nil
}

func prefixes(ps []netip.Prefix) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	return strings.Join(s, ",")
}
