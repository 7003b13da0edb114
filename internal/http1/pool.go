package http1

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// Pool holds the connections of one pool, per destination, with net/http's
// knobs and accounts: at most MaxConnsPerHost connections per destination
// (dialing, in use and idle; a request that finds the cap reached waits,
// and that wait is its blocked phase), at most MaxIdleConnsPerHost and
// MaxIdleConns idle ones (a connection returned to a full idle list is
// closed, counted as too_many_idle_for_host or too_many_idle), idle
// connections closed after IdleConnTimeout, keep-alives optional.
//
// Idle connections are reused last-in first-out, as net/http does. Unlike
// net/http, a request dials only when it may (never a connection it will
// not use), and idle connections are not read while idle: a sweeper looks
// at them a few times a second, and a connection idle for a while is
// checked before it is handed out, to find the ones the server closed.
// Patient requests (Client.Patient) also wait while a few dials to their
// destination are in flight, and take a returned connection if one comes
// first: it goes to the idle list, and the first patient waiter is woken to
// look there.
type Pool struct {
	d   *transport.Dialer
	cfg transport.Config

	mu        sync.Mutex
	hosts     map[string]*host // never removed
	last      *host            // the last one get looked up: most runs have one
	idleTotal int
	closed    bool

	stop chan struct{}
	done chan struct{}
}

type host struct {
	key     string
	idle    []*Conn // last-in first-out
	n       int     // connections open or being dialed
	waiters []*waiter

	dialing int           // of n, the ones being dialed
	minDial time.Duration // the quickest dial so far
	closing bool          // the last connection returned was closed, not kept
}

// waiter is a request waiting for a connection: it is handed an idle one,
// or nil, meaning it may dial.
type waiter struct {
	ch      chan *Conn
	patient bool
}

// Conn is a pooled connection.
type Conn struct {
	tc        *transport.Conn // the counted TCP connection
	nc        net.Conn        // what requests go through: tc, or TLS over it
	h         *host
	idleSince time.Duration // on the dialer's clock
	// armed is the deadline set on nc (dialer's clock), 0 when none is
	// known: a request keeps a deadline an earlier one set if it fits.
	armed atomic.Int64
	// Guarded by the pool's mutex: at is 1 + the connection's index in
	// its host's idle list (0: not idle); owner is the client that put it
	// there, which keeps it (see Pool.choose) while owner.last is it.
	at    int
	owner *Client
	// tlsState is nc's TLS state once a capture asked for it (see
	// tlsOf); only the request on the connection reads and sets it.
	tlsState *tls.ConnectionState
}

// tlsOf returns the TLS state of c, an https request's connection to its
// target (nil for an http request's, whose TLS, if any, is a proxy's).
func (c *Conn) tlsOf(r *Request) *tls.ConnectionState {
	if !r.tls {
		return nil
	}
	if c.tlsState == nil {
		if t, ok := c.nc.(*tls.Conn); ok {
			st := t.ConnectionState()
			c.tlsState = &st
		}
	}
	return c.tlsState
}

// NewPool returns a pool dialing through d.
func NewPool(d *transport.Dialer) *Pool {
	p := &Pool{d: d, cfg: d.Config(), hosts: map[string]*host{}, stop: make(chan struct{}), done: make(chan struct{})}
	go p.sweep()
	return p
}

// Dialer returns the pool's dialer.
func (p *Pool) Dialer() *transport.Dialer { return p.d }

// sweepEvery is how often the sweeper looks at idle connections: ten
// times a second (or more often for a very short idle timeout). A look at
// a connection idle that long is one non-blocking peek.
func (p *Pool) sweepEvery() time.Duration {
	return max(min(p.cfg.IdleConnTimeout/3, 100*time.Millisecond), time.Millisecond)
}

// source says where get found a connection.
type source uint8

const (
	fromIdle    source = iota // the idle list
	fromDial                  // dialed for this request
	fromHandoff               // returned by another request while this one waited
)

// errPoolClosed is returned by get after Close.
var errPoolClosed = errors.New("http1: pool closed")

// get returns a connection to r's destination: an idle one, a new one, or
// one freed while waiting, and says which. now is the time on the
// dialer's clock. A patient request (Client.Patient) dials only while
// few dials to the destination are in flight (see patientDials); else it
// waits for a returned connection or its turn to dial. due (on the
// dialer's clock; 0: none) is when the request times out: the wait, the
// dial, the TLS handshake and a proxy's handshake end then, with
// context.DeadlineExceeded. Long: one wait's cases under one lock (idle,
// dial, wait, handed a connection or a slot, woken for nothing, timed
// out), which share the destination's state.
func (p *Pool) get(ctx context.Context, cl *Client, r *Request, rt *route, now time.Duration, patient bool, due time.Duration) (c *Conn, src source, err error) {
	front := false // a patient waiter woken for nothing waits again first in line
again:
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, 0, errPoolClosed
	}
	h := p.last
	if h == nil || h.key != rt.key {
		if h = p.hosts[rt.key]; h == nil {
			h = &host{key: rt.key}
			p.hosts[rt.key] = h
		}
		p.last = h
	}
	for len(h.idle) > 0 {
		i := len(h.idle) - 1
		if cl != nil && !patient && h.idle[i] != cl.last {
			if i = p.choose(h, cl); i < 0 {
				break
			}
		}
		c = p.take(h, i)
		idle := now - c.idleSince
		if idle >= p.cfg.IdleConnTimeout || p.cfg.MaxConnLifetime > 0 && c.tc.Expired() {
			h.n--
			p.wake(h)
			p.mu.Unlock()
			if idle >= p.cfg.IdleConnTimeout {
				c.tc.SetCloseReason(metrics.CloseIdleTimeout)
			} else {
				c.tc.SetCloseReason(metrics.CloseLifetime)
			}
			_ = c.nc.Close()
			p.mu.Lock()
			continue
		}
		if idle >= p.sweepEvery() {
			// Idle long enough that the server may have closed it: look.
			p.mu.Unlock()
			if alive(c) {
				return c, fromIdle, nil
			}
			c.tc.NoteServerIdleClose()
			_ = c.nc.Close()
			p.mu.Lock()
			h.n--
			p.wake(h)
			continue
		}
		p.mu.Unlock()
		return c, fromIdle, nil
	}
	if p.mayDial(h, patient) {
		h.n++
		h.dialing++
		p.mu.Unlock()
		return p.dial(ctx, r, rt, h, due)
	}
	c, giveUp := p.await(ctx, h, patient, front, due)
	switch {
	case giveUp != nil:
		return nil, 0, giveUp
	case c == retry:
		front = true
		goto again
	case c != nil:
		return c, fromHandoff, nil
	}
	return p.dial(ctx, r, rt, h, due) // a slot was freed for us
}

// await queues a request for h's next connection (p.mu is held; it is
// released) and waits for it until ctx is done or due (on the dialer's
// clock; 0: none). It returns the connection handed over, retry (look at
// the idle list again), nil (a slot to dial was freed), or why it gave up.
// Apart from get, whose fast path (an idle connection) then has no defer
// to run on its way out.
func (p *Pool) await(ctx context.Context, h *host, patient, front bool, due time.Duration) (c *Conn, giveUp error) {
	w := &waiter{ch: make(chan *Conn, 1), patient: patient}
	if front {
		h.waiters = slices.Insert(h.waiters, 0, w)
	} else {
		h.waiters = append(h.waiters, w)
	}
	p.mu.Unlock()
	var expired <-chan time.Time
	if due > 0 {
		t := time.NewTimer(time.Until(p.d.At(due)))
		defer t.Stop()
		expired = t.C
	}
	select {
	case c = <-w.ch:
	case <-ctx.Done():
		giveUp = ctx.Err()
	case <-expired:
		giveUp = context.DeadlineExceeded
	}
	if giveUp != nil {
		p.mu.Lock()
		if h.remove(w) {
			p.mu.Unlock()
			return nil, giveUp
		}
		p.mu.Unlock()
		// Handed something just now: give it back.
		switch c = <-w.ch; c {
		case retry:
			p.mu.Lock()
			p.signal(h) // for the next waiter
			p.mu.Unlock()
		case nil:
			p.mu.Lock()
			h.n--
			h.dialing--
			p.wakeAll(h)
			p.mu.Unlock()
		default:
			p.put(c, true, p.d.Now(), nil)
		}
		return nil, giveUp
	}
	return c, nil
}

// retry is what a patient waiter is sent to look at the idle list again.
var retry = new(Conn)

// choose returns the index of the idle connection a closed-model client's
// request takes when the last one returned is not its own, or -1 to dial
// instead. p.mu is held. (A patient request, the open model's, whose VUs
// take turns, takes the last one returned.) A closed-model VU takes the
// one it returned last, if it is still idle; else the last one
// returned that is not kept for another VU (its owner's last), else it
// dials if it may, and takes another VU's as the last resort. So each VU
// keeps its connection, as a browser's or Locust user's does, and a VU
// that closed its connection (its request limit, its lifetime, the
// server's close) replaces it rather than taking another VU's, which
// would only move the dial to that VU: -c 10 -n 10000
// --max-requests-per-conn 100 opens exactly 100 connections of 100
// requests each. The scan past kept connections happens only when a VU
// has lost its own.
func (p *Pool) choose(h *host, cl *Client) int {
	if c := cl.last; c != nil && c.at > 0 && c.h == h {
		return c.at - 1
	}
	for i := len(h.idle) - 1; i >= 0; i-- {
		if c := h.idle[i]; c.owner == nil || c.owner.last != c {
			return i
		}
	}
	if p.mayDial(h, false) {
		return -1
	}
	return len(h.idle) - 1
}

// push puts c on top of h's idle list, kept for owner (nil: anyone's).
// p.mu is held.
func (p *Pool) push(h *host, c *Conn, now time.Duration, owner *Client) {
	c.idleSince = now
	h.idle = append(h.idle, c)
	c.at = len(h.idle)
	if c.owner != owner { // changing hands (stores only then)
		if o := c.owner; o != nil && o.last == c {
			o.last = nil
		}
		c.owner = owner
	}
	if owner != nil && owner.last != c {
		owner.last = c
	}
	p.idleTotal++
}

// disown says that c, not going to the idle list, is kept for no client:
// neither for cl, which returned it, nor for the client that put it there
// last. p.mu is held.
func disown(c *Conn, cl *Client) {
	if cl != nil {
		cl.last = nil
	}
	if o := c.owner; o != nil {
		if o.last == c {
			o.last = nil
		}
		c.owner = nil
	}
}

// take removes the idle connection at index i from h's idle list and
// returns it; the top one takes its place. p.mu is held.
func (p *Pool) take(h *host, i int) *Conn {
	c := h.idle[i]
	top := len(h.idle) - 1
	if i != top {
		m := h.idle[top]
		h.idle[i], m.at = m, i+1
	}
	h.idle = h.idle[:top]
	c.at = 0
	p.idleTotal--
	return c
}

// signal wakes the first waiter to take an idle connection, if there is
// one: a patient waiter is sent retry, another is handed the connection.
// p.mu is held.
func (p *Pool) signal(h *host) {
	if len(h.waiters) == 0 || len(h.idle) == 0 {
		return
	}
	w := h.waiters[0]
	h.waiters = h.waiters[1:]
	if w.patient {
		w.ch <- retry
		return
	}
	w.ch <- p.take(h, len(h.idle)-1)
}

// remove takes w off the waiters, if it is still there. p.mu is held.
func (h *host) remove(w *waiter) bool {
	for i, x := range h.waiters {
		if x == w {
			h.waiters = append(h.waiters[:i], h.waiters[i+1:]...)
			return true
		}
	}
	return false
}

// patientDials is how many dials to one destination patient requests may
// have in flight: 2, plus one per dialTimePerDial of the quickest dial
// seen (200 for a 50 ms dial), so that a target far away still gets
// hundreds of connections within a second. Unbounded, a burst of
// open-model arrivals that finds every connection busy dials one each; on
// a generator whose CPU is the bottleneck those dials queue behind each
// other and behind the answers, which are then read late, so the next
// arrivals find every connection busy too (at 50,000/s on one core:
// ~1,000 dials in the first second and starts 40-60 ms late).
func (h *host) patientDials() int {
	return 2 + int(h.minDial/dialTimePerDial)
}

// dialTimePerDial is the dial time that earns patient requests one more
// dial in flight (a variable for tests).
var dialTimePerDial = 250 * time.Microsecond

// mayDial says whether a request to h may dial now. A patient one waits
// for a returned connection only while connections are being returned:
// not when the last one was closed after its request (keep-alives off, or
// a server that closes), since none would come back. p.mu is held.
func (p *Pool) mayDial(h *host, patient bool) bool {
	return !limitReached(h.n, p.cfg.MaxConnsPerHost) && (!patient || h.closing || h.dialing < h.patientDials())
}

// dial dials a connection for h in a slot counted in h.n and h.dialing,
// giving up at due (0: no deadline but the dialer's own timeouts).
func (p *Pool) dial(ctx context.Context, r *Request, rt *route, h *host, due time.Duration) (*Conn, source, error) {
	if due > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, p.d.At(due))
		defer cancel()
	}
	start := p.d.Now()
	var tc *transport.Conn
	var nc net.Conn
	var err error
	if rt.px == nil {
		tc, nc, err = p.d.Dial(ctx, r.addr, r.tls, r.serverName)
	} else {
		tc, nc, err = p.d.DialVia(ctx, rt.px, r.addr, r.tls, r.serverName, rt.forward)
	}
	took := p.d.Now() - start
	p.mu.Lock()
	h.dialing--
	if err != nil {
		h.n--
	} else if h.minDial == 0 || took < h.minDial {
		h.minDial = took
	}
	p.wakeAll(h)
	p.mu.Unlock()
	if err != nil {
		return nil, fromDial, err
	}
	return &Conn{tc: tc, nc: nc, h: h}, fromDial, nil
}

// Adopt takes tc (nc: what requests go through, tc or TLS over it), a
// connection to r's destination through px (nil: direct) dialed and
// counted elsewhere: an HTTP/2 pool's dial whose server picked http/1.1
// by ALPN (--http auto), handed over as Go's TLSNextProto hands
// connections between its pools. It counts against MaxConnsPerHost like
// one dialed here, and is returned for the request that dialed it
// ([Call.Conn]); at the cap (or after Close) it is closed, as unused,
// and Adopt returns nil.
func (p *Pool) Adopt(r *Request, px *transport.Proxy, tc *transport.Conn, nc net.Conn) *Conn {
	rt := r.route(px)
	p.mu.Lock()
	h := p.hosts[rt.key]
	if h == nil {
		h = &host{key: rt.key}
		p.hosts[rt.key] = h
	}
	if p.closed || limitReached(h.n, p.cfg.MaxConnsPerHost) {
		p.mu.Unlock()
		tc.SetCloseReason(metrics.CloseUnused)
		_ = nc.Close()
		return nil
	}
	h.n++
	p.mu.Unlock()
	return &Conn{tc: tc, nc: nc, h: h}
}

// Conns returns the connections open now and how many carry a request.
func (p *Pool) Conns() (open, active int) { return p.d.Conns() }

// Dialing is the number of dials in flight (see [transport.Dialer.Dialing]).
func (p *Pool) Dialing() int64 { return p.d.Dialing() }

// wake gives a waiter the slot of a connection that closed: it may dial.
// p.mu is held.
func (p *Pool) wake(h *host) bool {
	if len(h.waiters) == 0 || !p.mayDial(h, h.waiters[0].patient) {
		return false
	}
	w := h.waiters[0]
	h.waiters = h.waiters[1:]
	h.n++
	h.dialing++
	w.ch <- nil
	return true
}

// put returns c after cl's request (cl nil: a request that did not use
// it): to a waiter, to the idle list (kept for cl), or closed when it
// cannot be reused or kept. now is the time on the dialer's clock.
func (p *Pool) put(c *Conn, reusable bool, now time.Duration, cl *Client) {
	h := c.h
	p.mu.Lock()
	h.closing = !reusable || p.cfg.DisableKeepAlives
	if reusable && !p.cfg.DisableKeepAlives && !p.closed && len(h.waiters) == 0 &&
		!limitReached(len(h.idle), p.cfg.MaxIdleConnsPerHost) && !limitReached(p.idleTotal, p.cfg.MaxIdleConns) {
		// The usual case, idle: the rest is out of its line.
		p.push(h, c, now, cl)
		p.mu.Unlock()
		return
	}
	p.putRare(h, c, reusable, now, cl)
}

// putRare is put's cases but the usual one (a connection that closes, a
// waiter, a full idle list); p.mu is held, and released.
func (p *Pool) putRare(h *host, c *Conn, reusable bool, now time.Duration, cl *Client) {
	if !reusable || p.cfg.DisableKeepAlives || p.closed {
		disown(c, cl)
		h.n--
		p.wake(h)
		p.mu.Unlock()
		_ = c.nc.Close()
		return
	}
	if len(h.waiters) > 0 && !h.waiters[0].patient {
		w := h.waiters[0]
		h.waiters = h.waiters[1:]
		disown(c, cl)
		p.mu.Unlock()
		w.ch <- c
		return
	}
	if len(h.waiters) > 0 {
		// A patient waiter is woken to look at the idle list, where the
		// connection goes: whoever runs first takes it. Handed to the
		// waiter, it would sit unused until the waiter's goroutine ran,
		// behind every runnable one when the CPU is short, while the
		// goroutine that returned it, running, found none for its next
		// request (measured: every request's wait grew by the length of
		// the run queue).
		p.push(h, c, now, cl)
		p.signal(h)
		p.mu.Unlock()
		return
	}
	reason, full := metrics.CloseReason(0), false
	switch {
	case limitReached(len(h.idle), p.cfg.MaxIdleConnsPerHost):
		reason, full = metrics.CloseTooManyIdleForHost, true
	case limitReached(p.idleTotal, p.cfg.MaxIdleConns):
		reason, full = metrics.CloseTooManyIdle, true
	}
	if full {
		disown(c, cl)
		h.n--
		p.mu.Unlock()
		p.d.PutIdleFailed(c.tc, reason)
		_ = c.nc.Close()
		return
	}
	p.push(h, c, now, cl)
	p.mu.Unlock()
}

func limitReached(n, limit int) bool { return limit > 0 && n >= limit }

// Close closes the idle connections and stops the sweeper; connections
// in use close when they are returned. The connections still open are
// marked as ended by the run.
func (p *Pool) Close() {
	p.d.Ending()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	var idle []*Conn
	for _, h := range p.hosts {
		for _, c := range h.idle {
			c.at, c.owner = 0, nil
		}
		idle = append(idle, h.idle...)
		h.n -= len(h.idle)
		h.idle = nil
	}
	p.idleTotal = 0
	p.mu.Unlock()
	close(p.stop)
	<-p.done
	for _, c := range idle {
		_ = c.nc.Close()
	}
}

// sweep closes connections idle for IdleConnTimeout, and the ones the
// server closed while they sat idle.
func (p *Pool) sweep() {
	defer close(p.done)
	t := time.NewTicker(p.sweepEvery())
	defer t.Stop()
	var expired, suspect []*Conn
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		now := p.d.Now()
		expired, suspect = expired[:0], suspect[:0]
		p.mu.Lock()
		for _, h := range p.hosts {
			keep := h.idle[:0]
			for _, c := range h.idle {
				switch idle := now - c.idleSince; {
				case idle >= p.cfg.IdleConnTimeout:
					c.at = 0
					expired = append(expired, c)
					h.n--
					p.idleTotal--
					continue
				case idle >= p.sweepEvery():
					suspect = append(suspect, c)
				}
				keep = append(keep, c)
				c.at = len(keep)
			}
			clear(h.idle[len(keep):])
			h.idle = keep
			p.wakeAll(h)
		}
		p.mu.Unlock()
		for _, c := range expired {
			c.tc.SetCloseReason(metrics.CloseIdleTimeout)
			_ = c.nc.Close()
		}
		// Peek outside the lock; act only on connections still idle.
		for _, c := range suspect {
			if alive(c) || !p.removeIdle(c) {
				continue
			}
			c.tc.NoteServerIdleClose()
			_ = c.nc.Close()
		}
	}
}

// wakeAll lets waiters dial while there is room under the cap. p.mu is
// held.
func (p *Pool) wakeAll(h *host) {
	for p.wake(h) {
	}
}

// removeIdle takes c out of its idle list, if it is still there.
func (p *Pool) removeIdle(c *Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.at == 0 {
		return false
	}
	h := c.h
	p.take(h, c.at-1)
	h.n--
	p.wakeAll(h)
	return true
}
