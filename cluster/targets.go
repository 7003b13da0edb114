package cluster

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/faya-load/faya/engine"
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
// allow: every step's host (and every proxy's) must resolve only to
// allowed addresses. A host written as a template cannot be checked and
// is refused.
func CheckTargets(ctx context.Context, p engine.Plan, allow []netip.Prefix, r *net.Resolver) error {
	if len(allow) == 0 {
		return nil
	}
	if r == nil {
		r = net.DefaultResolver
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
	seen := map[string]bool{}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || u.Hostname() == "" || strings.Contains(u.Host, "{{") {
			return fmt.Errorf("target %q: its host is not a plain name or address, which --allow-targets cannot check", raw)
		}
		host := u.Hostname()
		if seen[host] {
			continue
		}
		seen[host] = true
		var addrs []netip.Addr
		if a, err := netip.ParseAddr(host); err == nil {
			addrs = []netip.Addr{a}
		} else {
			ips, err := r.LookupNetIP(ctx, "ip", host)
			if err != nil {
				return fmt.Errorf("target %s: %w", host, err)
			}
			addrs = ips
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
