package transport

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
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
// turn; nil without --local-addr.
func (p *Dialer) localAddr() net.Addr {
	n := len(p.cfg.LocalAddrs)
	if n == 0 {
		return nil
	}
	i := (p.localNext.Add(1) - 1) % uint64(n)
	return &net.TCPAddr{IP: p.cfg.LocalAddrs[i].AsSlice()}
}
