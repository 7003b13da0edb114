package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/sockstat"
)

// timeWaitLife is how long Linux keeps a socket in TIME_WAIT.
const timeWaitLife = 60 * time.Second

// socketWatch counts the local sockets to the target in TIME_WAIT, before,
// during (once a second, from the engine's collector: an estimate, see
// timeWaitToTarget) and after the run.
//
// The per-target counts come from the full socket tables, read before and
// after the run; during it, once a second, the host-wide count from the
// kernel's summary (reading the full tables then could stall the run for
// hundreds of milliseconds when tens of thousands of sockets exist).
type socketWatch struct {
	match      sockstat.Match
	lo, hi     int
	before     int
	hostBefore int
	hostPeak   atomic.Int64
	ok         bool
}

// watchSockets resolves the target's addresses and takes the first
// reading. Where the socket tables cannot be read, the watch is off.
func watchSockets(ctx context.Context, rawURL string) *socketWatch {
	w := &socketWatch{}
	u, err := url.Parse(rawURL)
	if err != nil {
		return w
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	p, err := netip.ParseAddrPort(net.JoinHostPort("0.0.0.0", port))
	if err != nil {
		return w
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil {
		ips = []netip.Addr{ip}
	} else {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ips, _ = net.DefaultResolver.LookupNetIP(rctx, "ip", u.Hostname())
		cancel()
	}
	if len(ips) == 0 {
		return w
	}
	var addrs []netip.AddrPort
	for _, ip := range ips {
		addrs = append(addrs, netip.AddrPortFrom(ip.Unmap(), p.Port()))
	}
	w.match = sockstat.ToRemote(addrs...)
	lo, hi, err := sockstat.PortRange()
	if err != nil {
		return w
	}
	c, err := sockstat.Read(w.match)
	if err != nil {
		return w
	}
	host, err := sockstat.HostTimeWait()
	if err != nil {
		return w
	}
	w.lo, w.hi, w.before, w.hostBefore, w.ok = lo, hi, c.TimeWait, host, true
	w.hostPeak.Store(int64(host))
	return w
}

// count reads the host's TIME_WAIT sockets now (for the engine's time
// series).
func (w *socketWatch) count() (int64, bool) {
	if !w.ok {
		return 0, false
	}
	h, err := sockstat.HostTimeWait()
	if err != nil {
		return 0, false
	}
	n := int64(h)
	for {
		p := w.hostPeak.Load()
		if n <= p || w.hostPeak.CompareAndSwap(p, n) {
			break
		}
	}
	return timeWaitToTarget(w.before, w.hostBefore, h), true
}

// timeWaitToTarget estimates the TIME_WAIT sockets to the target from the
// host-wide count: those to it before the run plus the host's rise since.
// Sockets other programs left before the run are not the target's (they
// only expire during it), and the target cannot have more than the host.
func timeWaitToTarget(before, hostBefore, hostNow int) int64 {
	return int64(min(before+max(hostNow-hostBefore, 0), hostNow))
}

// result takes the last readings and returns all of them. The peak for
// the target is estimated as its count before plus the host-wide rise.
func (w *socketWatch) result() diagnose.Sockets {
	if !w.ok {
		return diagnose.Sockets{}
	}
	c, err := sockstat.Read(w.match)
	if err != nil {
		return diagnose.Sockets{}
	}
	w.count()
	rise := int(w.hostPeak.Load()) - w.hostBefore
	return diagnose.Sockets{
		Watched:        true,
		TimeWaitBefore: w.before,
		TimeWaitAfter:  c.TimeWait,
		TimeWaitPeak:   max(c.TimeWait, w.before+rise),
		HostPeak:       int(w.hostPeak.Load()),
		PortLo:         w.lo,
		PortHi:         w.hi,
	}
}

// preflight warns, before any traffic, when an open-model run with
// keep-alives disabled would use up the ephemeral ports: each connection
// can leave a socket in TIME_WAIT for a minute.
func (w *socketWatch) preflight(stderr io.Writer, plan engine.Plan) {
	if !w.ok || !plan.Transport.DisableKeepAlives {
		return
	}
	ports := w.hi - w.lo + 1
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
		fmt.Fprintf(stderr, "faya: warning: at %.0f new connections a second (--disable-keepalives), sockets left in TIME_WAIT for %v would need %.0f ephemeral ports; this machine has %d (%d-%d), so connects may fail with \"cannot assign requested address\" after about %v. Keep connections alive, lower the rate, or widen net.ipv4.ip_local_port_range.\n",
			rate, timeWaitLife, inUse, ports, w.lo, w.hi, after)
	}
}
