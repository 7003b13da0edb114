package transport

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/faya-load/faya/metrics"
)

// MaxLocalAddrs bounds the source addresses --local-addr may expand to.
const MaxLocalAddrs = 1024

// ParseLocalAddrs reads source addresses as --local-addr takes them:
// IPv4 or IPv6 addresses, or CIDR prefixes that stand for every address
// they hold (127.0.0.0/29: 127.0.0.0 to 127.0.0.7), each item possibly a
// comma-separated list. It refuses more than [MaxLocalAddrs] addresses in
// all.
func ParseLocalAddrs(items []string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, item := range items {
		for _, s := range strings.Split(item, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			if ip, err := netip.ParseAddr(s); err == nil {
				if ip.Zone() != "" {
					return nil, fmt.Errorf("%q: want an address without a zone", s)
				}
				out = append(out, ip.Unmap())
				continue
			}
			pfx, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("%q: want an IPv4 or IPv6 address (127.0.0.2, ::1) or a CIDR prefix (127.0.0.0/29)", s)
			}
			pfx = pfx.Masked()
			if bits := pfx.Addr().BitLen() - pfx.Bits(); bits > 10 || len(out)+1<<bits > MaxLocalAddrs {
				return nil, fmt.Errorf("%q: more than %d addresses; want a narrower prefix", s, MaxLocalAddrs)
			}
			for ip := pfx.Addr(); pfx.Contains(ip); ip = ip.Next() {
				out = append(out, ip.Unmap())
				if !ip.Next().IsValid() {
					break
				}
			}
		}
		if len(out) > MaxLocalAddrs {
			return nil, fmt.Errorf("more than %d addresses", MaxLocalAddrs)
		}
	}
	if len(out) == 0 && len(items) > 0 {
		return nil, fmt.Errorf("%q: no address", strings.Join(items, ","))
	}
	return out, nil
}

// CheckLocal returns an error naming the first of addrs that is not an
// address of this machine (net.InterfaceAddrs). An address inside a
// loopback prefix an interface holds (127.0.0.1/8 on Linux's lo) is local:
// the kernel answers for the whole prefix.
func CheckLocal(addrs []netip.Addr) error {
	if len(addrs) == 0 {
		return nil
	}
	ifs, err := net.InterfaceAddrs()
	if err != nil {
		return fmt.Errorf("listing the machine's addresses: %w", err)
	}
	return checkLocal(addrs, ifs)
}

func checkLocal(addrs []netip.Addr, ifs []net.Addr) error {
	var own []netip.Prefix
	for _, a := range ifs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		bits, _ := n.Mask.Size()
		if ip.Is4() && bits > 32 {
			bits -= 96
		}
		if ip.IsLoopback() {
			own = append(own, netip.PrefixFrom(ip, bits).Masked())
		} else {
			own = append(own, netip.PrefixFrom(ip, ip.BitLen()))
		}
	}
	for _, a := range addrs {
		local := false
		for _, p := range own {
			if p.Contains(a) {
				local = true
				break
			}
		}
		if !local {
			return fmt.Errorf("%s is not an address of this machine; want one of its interfaces' addresses (ip addr), or add it to one", a)
		}
	}
	return nil
}

// localAddr returns the source address of the next new connection, in
// turn; ok is false without --local-addr.
func (p *Dialer) localAddr() (a netip.Addr, ok bool) {
	n := len(p.cfg.LocalAddrs)
	if n == 0 {
		return netip.Addr{}, false
	}
	return p.cfg.LocalAddrs[(p.turns.local.Add(1)-1)%uint64(n)], true
}

// sameFamily keeps the addresses of ips a socket bound to local can
// reach: those of its family.
func sameFamily(ips []netip.Addr, local netip.Addr) []netip.Addr {
	out := ips[:0:0]
	for _, ip := range ips {
		if ip.Unmap().Is4() == local.Is4() {
			out = append(out, ip)
		}
	}
	return out
}

// FamilyError is a dial whose source address (--local-addr) is of
// another family than every address of the target: IPv4 and IPv6 do not
// reach each other. Its class is local: the fix is the generator's.
type FamilyError struct {
	Local netip.Addr // the source address the dial took
	Addr  string     // the host:port dialed
}

func (e *FamilyError) Error() string {
	return fmt.Sprintf("dial %s from --local-addr %s: no address of the target in its family (IPv4 and IPv6 do not reach each other); give --local-addr addresses of the target's family", e.Addr, e.Local)
}

// ErrClass is local.
func (e *FamilyError) ErrClass() metrics.ErrClass { return metrics.ErrLocal }

// ParseResolve reads --resolve entries in curl's syntax, HOST:PORT:ADDR
// with one or more comma-separated addresses (an IPv6 one in brackets or
// bare: shop.test:443:[::1],127.0.0.1). The map it returns is keyed by
// "host:port" with the host in lower case; entries for the same
// HOST:PORT add their addresses up.
func ParseResolve(items []string) (map[string][]netip.Addr, error) {
	if len(items) == 0 {
		return nil, nil
	}
	out := map[string][]netip.Addr{}
	for _, item := range items {
		host, rest, ok1 := strings.Cut(strings.TrimSpace(item), ":")
		port, list, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%q: want HOST:PORT:ADDR[,ADDR...], e.g. shop.test:443:127.0.0.1", item)
		}
		if !validHost(host) {
			return nil, fmt.Errorf("%q: host %q is no host name (letters, digits, '-', '.'); want e.g. shop.test:443:127.0.0.1", item, host)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '+' {
			return nil, fmt.Errorf("%q: port %q: want a number from 1 to 65535, e.g. shop.test:443:127.0.0.1", item, port)
		}
		key := strings.ToLower(host) + ":" + strings.TrimLeft(port, "0")
		for _, s := range strings.Split(list, ",") {
			s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "["), "]")
			ip, err := netip.ParseAddr(s)
			if err != nil || ip.Zone() != "" {
				return nil, fmt.Errorf("%q: address %q: want an IPv4 or IPv6 address, e.g. shop.test:443:127.0.0.1,[::1]", item, s)
			}
			out[key] = append(out[key], ip.Unmap())
		}
	}
	return out, nil
}

// ResolvedAddrs returns the addresses --resolve gives, each with its
// entry's port, by entry (sorted by host:port) in the order given: the
// destinations the run's accounts list first.
func (c Config) ResolvedAddrs() []netip.AddrPort {
	var out []netip.AddrPort
	for _, key := range slices.Sorted(maps.Keys(c.Resolve)) {
		_, p, _ := strings.Cut(key, ":")
		port, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			continue
		}
		for _, a := range c.Resolve[key] {
			out = append(out, netip.AddrPortFrom(a.Unmap(), uint16(port)))
		}
	}
	return out
}

// validHost reports whether h is a DNS host name: dot-separated labels of
// letters, digits and hyphens (underscores too, as some names have).
func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// resolveKey is host:port's key in [Config.Resolve], as a dial of
// host:port (port as the URL has it, or its scheme's default) looks it up.
func resolveKey(host, port string) string { return strings.ToLower(host) + ":" + port }

// DialAddrs returns the addresses a run with c's settings connects to for
// host:port, as its dials find them: an IP address as it is (none when it
// is not of c.IPFamily: the dial fails), the addresses --resolve gives
// host:port (no lookup), or r's answer for the name (c.IPFamily's
// records; r made by [NewResolver] for c, the lookup the run's own); of
// those, with --local-addr, the ones of a source address's family. All of
// them, not the one a connection would pick first ([Config.DNSMode] takes
// no turn): the run's connections may go to any.
func (c Config) DialAddrs(ctx context.Context, r *Resolver, host, port string) ([]netip.Addr, error) {
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		if c.IPFamily.Has(ip) {
			ips = []netip.Addr{ip}
		}
	} else if given, ok := c.Resolve[resolveKey(host, port)]; ok && len(given) > 0 {
		ips = slices.Clone(given)
	} else if ips, err = r.Addrs(ctx, host); err != nil {
		return nil, err
	}
	if len(c.LocalAddrs) == 0 {
		return ips, nil
	}
	return slices.DeleteFunc(slices.Clone(ips), func(ip netip.Addr) bool {
		return !slices.ContainsFunc(c.LocalAddrs, func(la netip.Addr) bool { return la.Unmap().Is4() == ip.Unmap().Is4() })
	}), nil
}

// resolved returns the addresses --resolve gives host:port, the next one
// in turn first and the others after it (tried if it does not answer);
// ok is false when --resolve does not name host:port.
func (p *Dialer) resolved(host, port string) (ips []netip.Addr, ok bool) {
	if len(p.cfg.Resolve) == 0 {
		return nil, false
	}
	key := resolveKey(host, port)
	addrs, ok := p.cfg.Resolve[key]
	if !ok || len(addrs) == 0 {
		return nil, false
	}
	n := uint64(len(addrs))
	var i uint64
	if next := p.turns.resolve[key]; next != nil {
		i = (next.Add(1) - 1) % n
	}
	ips = make([]netip.Addr, 0, n)
	ips = append(ips, addrs[i:]...)
	return append(ips, addrs[:i]...), true
}
