package transport

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faya-load/faya/metrics"
)

// DNSMode is how a new connection picks among the addresses its host
// name resolved to (--dns-mode; [Config.DNSMode]). Whichever it picks
// first, the others are tried after it if it does not answer.
type DNSMode string

// The modes of --dns-mode.
const (
	// DNSFirst ("first", the zero value) dials the first address in the
	// resolver's order (Go's orders them by RFC 6724: IPv6 before IPv4
	// where the machine can reach it).
	DNSFirst DNSMode = ""
	// DNSRoundRobin ("round-robin") dials the addresses in turn, one per
	// new connection, in address order.
	DNSRoundRobin DNSMode = "round-robin"
	// DNSRandom ("random") dials an address drawn at random per new
	// connection.
	DNSRandom DNSMode = "random"
)

// ParseDNSMode parses a value of --dns-mode: "first" (or empty),
// "round-robin" or "random".
func ParseDNSMode(s string) (DNSMode, error) {
	switch s {
	case "", "first":
		return DNSFirst, nil
	case string(DNSRoundRobin), string(DNSRandom):
		return DNSMode(s), nil
	}
	return DNSFirst, fmt.Errorf("%q: want first, round-robin or random", s)
}

// String returns the mode as --dns-mode takes it ("first" for DNSFirst).
func (m DNSMode) String() string {
	if m == DNSFirst {
		return "first"
	}
	return string(m)
}

// IPFamily is the address family a run's lookups ask for (--ip-family;
// [Config.IPFamily]).
type IPFamily string

// The families of --ip-family.
const (
	// IPAny ("any", the zero value) asks for both A and AAAA records.
	IPAny IPFamily = ""
	// IPv4 ("4") asks for A records only.
	IPv4 IPFamily = "4"
	// IPv6 ("6") asks for AAAA records only.
	IPv6 IPFamily = "6"
)

// ParseIPFamily parses a value of --ip-family: "4", "6" or "any" (or
// empty).
func ParseIPFamily(s string) (IPFamily, error) {
	switch s {
	case "", "any":
		return IPAny, nil
	case "4", "6":
		return IPFamily(s), nil
	}
	return IPAny, fmt.Errorf("%q: want 4, 6 or any", s)
}

// String returns the family as --ip-family takes it ("any" for IPAny).
func (f IPFamily) String() string {
	if f == IPAny {
		return "any"
	}
	return string(f)
}

// Has reports whether a is of family f (every address is of IPAny).
func (f IPFamily) Has(a netip.Addr) bool {
	switch f {
	case IPv4:
		return a.Unmap().Is4()
	case IPv6:
		return !a.Unmap().Is4()
	}
	return true
}

// Conflict returns the first of addrs that is not of family f, and
// whether there is one: a source address (--local-addr) or a --resolve
// address that contradicts --ip-family.
func (f IPFamily) Conflict(addrs []netip.Addr) (netip.Addr, bool) {
	for _, a := range addrs {
		if !f.Has(a) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// network is the network Go's resolver takes for f.
func (f IPFamily) network() string {
	switch f {
	case IPv4:
		return "ip4"
	case IPv6:
		return "ip6"
	}
	return "ip"
}

// DNSNoCache is the [Config.DNSTTL] of --dns-ttl 0: every new connection
// looks its host up.
const DNSNoCache time.Duration = -1

// ParseDNSTTL parses a value of --dns-ttl: a duration of 0 or more, 0
// meaning no cache ([DNSNoCache]).
func ParseDNSTTL(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q: want a duration such as 30s (0: look up on every new connection; leave it out to look up once for the run)", s)
	}
	switch {
	case d < 0:
		return 0, fmt.Errorf("%q: must not be negative (0: look up on every new connection; leave it out to look up once for the run)", s)
	case d == 0:
		return DNSNoCache, nil
	}
	return d, nil
}

// Resolver looks up the host names a run dials, as its [Config] asks:
// A and AAAA records, or one family ([Config.IPFamily]); the answers kept
// for the run, for [Config.DNSTTL], or not at all; one address picked per
// new connection ([Config.DNSMode]). Where answers are kept, dials that
// find their name being looked up wait for that lookup rather than send
// their own; with --dns-ttl 0 every new connection sends its own lookup,
// dials at once too. A failed lookup is not kept: the next dial asks
// again.
//
// Give every [Dialer] of a run the same Resolver ([WithResolver]) so that
// a name is looked up once per TTL for the run, not once per pool. It is
// safe for concurrent use.
type Resolver struct {
	ttl    time.Duration
	mode   DNSMode
	family IPFamily
	lookup func(ctx context.Context, network, host string) ([]netip.Addr, error)

	mu    sync.Mutex
	names map[string]*dnsName // by host name in lower case
	rand  *rand.Rand          // DNSRandom's draws, under mu
}

// dnsName is what a Resolver keeps of one host name.
type dnsName struct {
	next atomic.Uint64 // DNSRoundRobin: the dials it answered
	// Under Resolver.mu:
	ips    []netip.Addr // the last answer
	at     time.Time    // when it came (zero: none kept)
	flight *dnsFlight   // the lookup in flight, if any
}

// dnsFlight is one lookup in flight, shared by the dials that wait for it.
type dnsFlight struct {
	done chan struct{} // closed when ips and err are set
	ips  []netip.Addr
	err  error
}

// NewResolver returns a Resolver for cfg's DNS settings that asks r
// (nil: [net.DefaultResolver]).
func NewResolver(cfg Config, r *net.Resolver) *Resolver {
	if r == nil {
		r = net.DefaultResolver
	}
	return &Resolver{
		ttl:    cfg.DNSTTL,
		mode:   cfg.DNSMode,
		family: cfg.IPFamily,
		lookup: func(ctx context.Context, network, host string) ([]netip.Addr, error) {
			// A Resolver of its own per lookup: a *net.Resolver shares a
			// lookup in flight among the callers that ask for the same
			// name, and with --dns-ttl 0 each new connection sends its own.
			own := &net.Resolver{PreferGo: r.PreferGo, StrictErrors: r.StrictErrors, Dial: r.Dial}
			return own.LookupNetIP(ctx, network, host)
		},
		names: map[string]*dnsName{},
		rand:  rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
	}
}

// Resolve returns the addresses a new connection to host tries, in order
// (the one [Config.DNSMode] picks first), and how long the dial waited
// for a lookup: 0 when the answer was kept from an earlier lookup.
func (r *Resolver) Resolve(ctx context.Context, host string) ([]netip.Addr, time.Duration, error) {
	n, ips, dns, err := r.answer(ctx, host)
	return r.order(n, ips), dns, err
}

// Addrs returns all the addresses host resolves to as r's dials get them
// (the answer kept, when r keeps answers and has one; else a lookup, kept
// as a dial's would be), in the resolver's order, without taking a turn
// of [Config.DNSMode]: the addresses a run's connections to host go to,
// for counting its sockets or checking where it would send.
func (r *Resolver) Addrs(ctx context.Context, host string) ([]netip.Addr, error) {
	_, ips, _, err := r.answer(ctx, host)
	return ips, err
}

// answer is host's answer, as Resolve's before its order: the name's
// entry, the addresses, the wait for a lookup (0: kept) and its error.
func (r *Resolver) answer(ctx context.Context, host string) (*dnsName, []netip.Addr, time.Duration, error) {
	start := time.Now()
	key := strings.ToLower(host)
	r.mu.Lock()
	n := r.names[key]
	if n == nil {
		n = &dnsName{}
		r.names[key] = n
	}
	if r.ttl < 0 {
		r.mu.Unlock()
		ips, err := r.ask(ctx, host)
		return n, ips, max(time.Since(start), 1), err
	}
	for {
		if !n.at.IsZero() && (r.ttl == 0 || time.Since(n.at) < r.ttl) {
			ips := n.ips
			r.mu.Unlock()
			return n, ips, 0, nil
		}
		if f := n.flight; f != nil {
			// Another dial is looking the name up: its answer is this
			// dial's, and the wait its DNS phase.
			r.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return n, nil, time.Since(start), ctx.Err()
			}
			if f.err == nil || !isContextErr(f.err) {
				return n, f.ips, max(time.Since(start), 1), f.err
			}
			// That dial gave up (its request ended); this one asks again.
			r.mu.Lock()
			continue
		}
		break
	}
	f := &dnsFlight{done: make(chan struct{})}
	n.flight = f
	r.mu.Unlock()
	f.ips, f.err = r.ask(ctx, host)
	r.mu.Lock()
	if f.err == nil {
		n.ips, n.at = f.ips, time.Now()
	}
	n.flight = nil
	r.mu.Unlock()
	close(f.done)
	return n, f.ips, max(time.Since(start), 1), f.err
}

// ask sends one lookup of host for r's family.
func (r *Resolver) ask(ctx context.Context, host string) ([]netip.Addr, error) {
	ips, err := r.lookup(ctx, r.family.network(), host)
	if err == nil && len(ips) == 0 {
		err = &net.DNSError{Err: "no address", Name: host, IsNotFound: true}
	}
	if err != nil && r.family != IPAny {
		return nil, fmt.Errorf("%w (--ip-family %s: IPv%s addresses only)", err, r.family, r.family)
	}
	return ips, err
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// order returns the addresses of one answer in the order a new
// connection tries them: as the resolver gave them (DNSFirst), or in
// address order from the next in turn (DNSRoundRobin) or from one drawn
// at random (DNSRandom), the others after it.
func (r *Resolver) order(n *dnsName, ips []netip.Addr) []netip.Addr {
	if len(ips) < 2 || r.mode == DNSFirst {
		return ips
	}
	sorted := slices.Clone(ips)
	slices.SortFunc(sorted, func(a, b netip.Addr) int { return a.Unmap().Compare(b.Unmap()) })
	var i uint64
	if r.mode == DNSRoundRobin {
		i = (n.next.Add(1) - 1) % uint64(len(sorted))
	} else {
		r.mu.Lock()
		i = r.rand.Uint64N(uint64(len(sorted)))
		r.mu.Unlock()
	}
	out := make([]netip.Addr, 0, len(sorted))
	return append(append(out, sorted[i:]...), sorted[:i]...)
}

// IPFamilyError is a dial to an address (an IP in the URL) of another
// family than --ip-family allows. Its class is local: the fix is the
// run's.
type IPFamilyError struct {
	Family IPFamily
	Addr   string // the host:port dialed
}

func (e *IPFamilyError) Error() string {
	return fmt.Sprintf("dial %s: --ip-family %s allows IPv%s addresses only; use a URL of that family, or --ip-family any", e.Addr, e.Family, e.Family)
}

// ErrClass is local.
func (e *IPFamilyError) ErrClass() metrics.ErrClass { return metrics.ErrLocal }

// FamilyConflict returns an error when a source address (cfg.LocalAddrs)
// or a --resolve address is not of cfg.IPFamily, naming the inputs as
// the caller calls them (familyName: --ip-family or transport.ip_family;
// localName, resolveName likewise) and the fix; nil when they agree.
func FamilyConflict(cfg Config, familyName, localName, resolveName string) error {
	f := cfg.IPFamily
	if f == IPAny {
		return nil
	}
	other := IPv6
	if f == IPv6 {
		other = IPv4
	}
	if a, bad := f.Conflict(cfg.LocalAddrs); bad {
		return fmt.Errorf("%s %s and %s %s contradict: an IPv%s-only run cannot bind an IPv%s source address; give %s IPv%s addresses only, or %s %s (or any)",
			familyName, f, localName, a, f, other, localName, f, familyName, other)
	}
	keys := make([]string, 0, len(cfg.Resolve))
	for k := range cfg.Resolve {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if a, bad := f.Conflict(cfg.Resolve[k]); bad {
			return fmt.Errorf("%s %s and %s %s:%s contradict: an IPv%s-only run cannot dial an IPv%s address; give %s IPv%s addresses only, or %s any",
				familyName, f, resolveName, k, a, f, other, resolveName, f, familyName)
		}
	}
	return nil
}
