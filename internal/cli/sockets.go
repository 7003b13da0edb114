package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/sockstat"
	"github.com/faya-load/faya/transport"
)

// timeWaitLife is how long Linux keeps a socket in TIME_WAIT.
const timeWaitLife = 60 * time.Second

// socketWatch counts the local sockets in TIME_WAIT whose remote end is
// the target (or a proxy the run goes through), before, during (once a
// second, from the engine's collector) and after the run.
//
// The counts come from the kernel's socket diagnostics (netlink), which
// send only the sockets in the states asked for: cheap enough for a
// reading every second. Where they cannot be read, the full tables are
// read before and after the run, and the count during it is estimated
// from the host-wide rise (reading the full tables then could stall the
// run for hundreds of milliseconds when tens of thousands of sockets
// exist).
//
// With --local-addr the sockets are counted per source address too: each
// address has its own ephemeral ports.
type socketWatch struct {
	match sockstat.Match
	// portLo and portHi bound the targets' ports, for the kernel's filter.
	portLo, portHi uint16
	srcs           []netip.Addr    // --local-addr
	split          *sockstat.Split // the last reading per source address; mu
	srcBefore      []int
	srcPeak        []int // mu
	mu             sync.Mutex
	lo, hi         int
	before         int
	hostBefore     int
	hostPeak       atomic.Int64
	peak           atomic.Int64 // the most TIME_WAIT sockets to the targets seen
	diag           bool         // the kernel's socket diagnostics answer
	ok             bool
}

// targetAddrs resolves the host:port of each URL (http and https, a proxy
// URL alike) as the run's dials do (transport.Config.DialAddrs): the
// addresses --resolve gives a host:port, without a lookup; else r's
// lookup, of --ip-family's records; of a --local-addr's family. A lookup
// waits 2 s at most; one that fails adds nothing.
func targetAddrs(ctx context.Context, rawURLs []string, cfg transport.Config, r *transport.Resolver) []netip.AddrPort {
	var addrs []netip.AddrPort
	for _, raw := range rawURLs {
		u, err := url.Parse(raw)
		if err != nil || u.Hostname() == "" {
			continue
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}[u.Scheme]
		}
		p, err := netip.ParseAddrPort(net.JoinHostPort("0.0.0.0", port))
		if err != nil {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ips, _ := cfg.DialAddrs(rctx, r, u.Hostname(), port)
		cancel()
		for _, ip := range ips {
			addrs = append(addrs, netip.AddrPortFrom(ip.Unmap(), p.Port()))
		}
	}
	return addrs
}

// watchSockets resolves the targets' addresses (the URLs the run sends
// to, and its proxies) as the run does, through r (a Resolver for cfg),
// and takes the first reading, per source address of cfg.LocalAddrs too.
// Where the socket tables cannot be read, the watch is off.
func watchSockets(ctx context.Context, targets []string, cfg transport.Config, r *transport.Resolver) *socketWatch {
	w := &socketWatch{srcs: cfg.LocalAddrs}
	addrs := targetAddrs(ctx, targets, cfg, r)
	if len(addrs) == 0 {
		return w
	}
	w.match = sockstat.ToRemote(addrs...)
	// The kernel sends only sockets to the targets' ports.
	w.portLo, w.portHi = addrs[0].Port(), addrs[0].Port()
	for _, a := range addrs[1:] {
		w.portLo, w.portHi = min(w.portLo, a.Port()), max(w.portHi, a.Port())
	}
	lo, hi, err := sockstat.PortRange()
	if err != nil {
		return w
	}
	if len(w.srcs) > 0 {
		w.split = sockstat.BySource(w.srcs)
	}
	c, err := sockstat.DiagSplitTo(w.match, w.split, w.portLo, w.portHi)
	w.diag = err == nil
	if !w.diag {
		if c, err = sockstat.ReadSplit(w.match, w.split); err != nil {
			return w
		}
	}
	if w.split != nil {
		w.srcBefore = make([]int, len(w.srcs))
		w.srcPeak = make([]int, len(w.srcs))
		for i, c := range w.split.Counts {
			w.srcBefore[i], w.srcPeak[i] = c.TimeWait, c.TimeWait
		}
	}
	host, err := sockstat.HostTimeWait()
	if err != nil {
		return w
	}
	w.lo, w.hi, w.before, w.hostBefore, w.ok = lo, hi, c.TimeWait, host, true
	w.hostPeak.Store(int64(host))
	w.peak.Store(int64(c.TimeWait))
	return w
}

// raise sets a to n if n is larger.
func raise(a *atomic.Int64, n int64) {
	for {
		p := a.Load()
		if n <= p || a.CompareAndSwap(p, n) {
			return
		}
	}
}

// count reads the TIME_WAIT sockets to the targets now (for the engine's
// time series).
func (w *socketWatch) count() (int64, bool) {
	if !w.ok {
		return 0, false
	}
	h, err := sockstat.HostTimeWait()
	if err == nil {
		raise(&w.hostPeak, int64(h))
	}
	if w.diag {
		w.mu.Lock()
		c, err := sockstat.DiagSplitTo(w.match, w.split, w.portLo, w.portHi)
		if err == nil {
			w.raiseSources()
		}
		w.mu.Unlock()
		if err == nil {
			raise(&w.peak, int64(c.TimeWait))
			return int64(c.TimeWait), true
		}
	}
	if err != nil {
		return 0, false
	}
	n := timeWaitToTarget(w.before, w.hostBefore, h)
	raise(&w.peak, n)
	return n, true
}

// raiseSources takes the last reading's TIME_WAIT per source address
// into the peaks; mu is held.
func (w *socketWatch) raiseSources() {
	if w.split == nil {
		return
	}
	for i, c := range w.split.Counts {
		w.srcPeak[i] = max(w.srcPeak[i], c.TimeWait)
	}
}

// timeWaitToTarget estimates the TIME_WAIT sockets to the target from the
// host-wide count: those to it before the run plus the host's rise since.
// Sockets other programs left before the run are not the target's (they
// only expire during it), and the target cannot have more than the host.
// Only where the kernel's socket diagnostics cannot be read.
func timeWaitToTarget(before, hostBefore, hostNow int) int64 {
	return int64(min(before+max(hostNow-hostBefore, 0), hostNow))
}

// ports returns the ephemeral port range the watch read (0, 0: none).
func (w *socketWatch) ports() (lo, hi int) {
	if !w.ok {
		return 0, 0
	}
	return w.lo, w.hi
}

// result takes the last readings (the host's TIME_WAIT, and one reading
// of the sockets to the targets) and returns all of them.
func (w *socketWatch) result() diagnose.Sockets {
	if !w.ok {
		return diagnose.Sockets{}
	}
	if w.diag {
		// The reading below is the count's too.
		if h, err := sockstat.HostTimeWait(); err == nil {
			raise(&w.hostPeak, int64(h))
		}
	} else {
		w.count() // the estimate from the host's count, into the peak
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var c sockstat.Counts
	var err error
	if w.diag {
		c, err = sockstat.DiagSplitTo(w.match, w.split, w.portLo, w.portHi)
	}
	if !w.diag || err != nil {
		if c, err = sockstat.ReadSplit(w.match, w.split); err != nil {
			return diagnose.Sockets{}
		}
	}
	w.raiseSources()
	raise(&w.peak, int64(c.TimeWait))
	var srcs []diagnose.SourceSockets
	if w.split != nil {
		for i, a := range w.srcs {
			srcs = append(srcs, diagnose.SourceSockets{Addr: a, TimeWaitBefore: w.srcBefore[i],
				TimeWaitAfter: w.split.Counts[i].TimeWait, TimeWaitPeak: w.srcPeak[i]})
		}
	}
	return diagnose.Sockets{
		Sources:        srcs,
		Watched:        true,
		TimeWaitBefore: w.before,
		TimeWaitAfter:  c.TimeWait,
		TimeWaitPeak:   int(w.peak.Load()),
		HostPeak:       int(w.hostPeak.Load()),
		PortLo:         w.lo,
		PortHi:         w.hi,
	}
}

// preflight warns, before any traffic, when an open-model run with
// keep-alives disabled would use up the ephemeral ports: each connection
// can leave a socket in TIME_WAIT for a minute. With --local-addr each
// source address has the whole port range: the budget is theirs together.
func (w *socketWatch) preflight(stderr io.Writer, plan engine.Plan) {
	if !w.ok || !plan.Transport.DisableKeepAlives {
		return
	}
	ports := w.hi - w.lo + 1
	budget := fmt.Sprintf("this machine has %d (%d-%d)", ports, w.lo, w.hi)
	fix := "Keep connections alive, lower the rate, add source addresses (--local-addr), or widen net.ipv4.ip_local_port_range."
	if n := len(plan.Transport.LocalAddrs); n > 0 {
		budget = fmt.Sprintf("the %d source addresses of --local-addr have %d (%d ports each, %d-%d)", n, n*ports, ports, w.lo, w.hi)
		ports *= n
		fix = fmt.Sprintf("Keep connections alive, lower the rate, add source addresses to the %d of --local-addr, or widen net.ipv4.ip_local_port_range.", n)
	}
	for _, sc := range plan.Scenarios {
		ex := sc.Executor
		if !ex.Open() {
			continue
		}
		rate := ex.PeakRate().PerSecond()
		if rate <= 0 {
			continue
		}
		inUse := rate * timeWaitLife.Seconds()
		if inUse < float64(ports) {
			continue
		}
		after := time.Duration(float64(ports) / rate * float64(time.Second)).Round(100 * time.Millisecond)
		fmt.Fprintf(stderr, "faya: warning: at %.0f new connections a second (--disable-keepalives), sockets left in TIME_WAIT for %v would need %.0f ephemeral ports; %s, so connects may fail with \"cannot assign requested address\" after about %v. %s\n",
			rate, timeWaitLife, inUse, budget, after, fix)
	}
}

// socketTargets are the URLs a plan's connections go to: its steps' (those
// without a template in their host) and its proxies'.
func socketTargets(plan engine.Plan) []string {
	var urls []string
	seen := map[string]bool{}
	add := func(raw string) {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || strings.Contains(u.Host, "{{") || seen[u.Host] {
			return
		}
		seen[u.Host] = true
		urls = append(urls, raw)
	}
	for _, sc := range plan.Scenarios {
		for _, st := range sc.Steps {
			add(st.URL)
		}
		for _, st := range sc.Setup {
			add(st.URL)
		}
	}
	for _, px := range plan.Proxy.URLs {
		add(px)
	}
	return urls
}
