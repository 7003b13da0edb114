package h2

import (
	"context"
	"fmt"
	"math"
	"net"
	"sync"
	"time"

	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// Pool holds the HTTP/2 connections of one pool, per destination: at most
// MaxConnsPerHost connections each (dialing or taking streams; one that
// retires, by a request or age limit or the server's GOAWAY, leaves the
// count as it stops taking streams, so its replacement may be dialed
// while its last streams finish); a request takes a
// stream slot on the open connection with the most free slots, a new
// connection is dialed only when every one is full, and at the cap the
// request waits for a slot (its stream wait). A connection's slots are
// min(the server's MAX_CONCURRENT_STREAMS, the pool's per-connection cap).
// Connections without a stream for IdleConnTimeout are closed.
type Pool struct {
	d         *transport.Dialer
	cfg       transport.Config
	maxConns  int // per destination; 0: no limit
	maxSlots  int // per connection, the client's cap; 0: the server's
	maxHeader int
	strict    bool
	rotates   bool // MaxRequestsPerConn or MaxConnLifetime: connections retire
	stats     Stats
	rec       Recorder

	auto      bool
	dialed    func(dest string, proto metrics.Protocol)
	knownH1   func(dest string) bool
	pingAfter time.Duration // --h2-ping-timeout; 0: no PINGs for liveness

	mu     sync.Mutex
	hosts  map[hostKey]*host
	closed bool

	stop chan struct{}
	done chan struct{}
}

// hostKey is a destination's key and the proxy its connections go
// through (nil: direct), as http1 pools them.
type hostKey struct {
	key string
	px  *transport.Proxy
}

type host struct {
	key     string
	px      *transport.Proxy
	conns   []*Conn
	dialing int
	waiters []*waiter
}

// waiter is a request waiting for a stream slot: it is handed a
// connection with the slot taken for it, or nil, meaning it may dial.
type waiter struct {
	ch chan *Conn
}

// Options are a Pool's HTTP/2 settings.
type Options struct {
	// MaxStreams caps the streams per connection (0: as many as the
	// server allows).
	MaxStreams int
	// Strict never dials another connection to a destination while one
	// is open: requests wait for a stream slot on it.
	Strict bool
	// Recorder, if set, receives the connections' HTTP/2 events.
	Recorder Recorder
	// Auto is --http auto: the dialer offers h2 and http/1.1 by ALPN
	// (transport.WithHTTP2), and a dial the server answers with
	// http/1.1 fails with an *HTTP1Error that hands the connection to
	// the caller (for its HTTP/1.1 pool), as Go's TLSNextProto does.
	Auto bool
	// Dialed, if set, is told the protocol of each connection dialed, by
	// destination (Request.Destination), as soon as its TLS handshake
	// ends: before the server's SETTINGS, and before an *HTTP1Error.
	Dialed func(dest string, proto metrics.Protocol)
	// KnownHTTP1, if set (auto pools), says a destination's server is
	// known to pick http/1.1: a redirect to it is not followed here but
	// returned as an *HTTP1Error without a connection.
	KnownHTTP1 func(dest string) bool
}

// Recorder receives the HTTP/2 events of a pool's connections, per frame
// or connection, not per request ([metrics.Recorder] is one).
type Recorder interface {
	H2Settings(maxStreams uint32, has, first bool)
	H2GoAway(lastStreamID uint32, code metrics.H2Code)
	H2RSTStream(code metrics.H2Code, retried bool)
	H2Ping(rtt time.Duration)
	H2FlowStall(d time.Duration, conn bool)
	H2Streams(n int)
}

type nopRecorder struct{}

func (nopRecorder) H2Settings(uint32, bool, bool)    {}
func (nopRecorder) H2GoAway(uint32, metrics.H2Code)  {}
func (nopRecorder) H2RSTStream(metrics.H2Code, bool) {}
func (nopRecorder) H2Ping(time.Duration)             {}
func (nopRecorder) H2FlowStall(time.Duration, bool)  {}
func (nopRecorder) H2Streams(int)                    {}

// NewPool returns a pool dialing through d.
func NewPool(d *transport.Dialer, o Options) (*Pool, error) {
	cfg := d.Config()
	switch {
	case o.Auto && (cfg.HTTP != transport.HTTPAuto || !d.HTTP2()):
		return nil, fmt.Errorf("h2: an auto pool needs a dialer in --http auto offering h2 (transport.WithHTTP2), not %v", cfg.HTTP)
	case !o.Auto && cfg.HTTP != transport.HTTP2:
		return nil, fmt.Errorf("h2: the dialer's configuration must require HTTP/2 (--http 2), not %v", cfg.HTTP)
	}
	p := &Pool{
		d: d, cfg: cfg,
		maxConns:  max(cfg.MaxConnsPerHost, 0),
		maxSlots:  max(o.MaxStreams, 0),
		strict:    o.Strict,
		rotates:   cfg.MaxRequestsPerConn > 0 || cfg.MaxConnLifetime > 0,
		rec:       o.Recorder,
		auto:      o.Auto,
		dialed:    o.Dialed,
		knownH1:   o.KnownHTTP1,
		pingAfter: cfg.H2PingTimeout,
		maxHeader: int(min(cfg.MaxResponseHeaderBytes, math.MaxInt32)),
		hosts:     map[hostKey]*host{},
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	if p.rec == nil {
		p.rec = nopRecorder{}
	}
	go p.sweep()
	return p, nil
}

// Dialer returns the pool's dialer.
func (p *Pool) Dialer() *transport.Dialer { return p.d }

// Stats returns the pool's HTTP/2 counters.
func (p *Pool) Stats() *Stats { return &p.stats }

// source says how get found a slot.
type source uint8

const (
	fromOpen source = iota // an open connection with a free slot
	fromDial               // a connection dialed for this request
	fromWait               // a slot freed while the request waited
)

// get returns a connection with a stream slot taken for the request: on
// an open connection, on a new one, or freed while waiting. The wait ends
// when ctx is done or the deadline (due) passes, as a says; due bounds
// the dial. px is the proxy the request goes
// through (nil: direct): its connections are pooled apart.
func (p *Pool) get(ctx context.Context, r *Request, px *transport.Proxy, w *waiter, due time.Duration, a *alarm) (*Conn, source, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, 0, errPoolClosed
	}
	hk := hostKey{r.key, px}
	h := p.hosts[hk]
	if h == nil {
		h = &host{key: r.key, px: px}
		p.hosts[hk] = h
	}
	c, stale := p.pick(h)
	if c != nil {
		p.take(c)
		p.mu.Unlock()
		if stale != nil {
			_ = stale.nc.Close()
		}
		return c, fromOpen, nil
	}
	if p.mayDial(h) {
		h.dialing++
		p.mu.Unlock()
		if stale != nil {
			_ = stale.nc.Close()
		}
		c, err := p.dial(ctx, r, h, due)
		return c, fromDial, err
	}
	h.waiters = append(h.waiters, w)
	p.mu.Unlock()
	if stale != nil {
		_ = stale.nc.Close()
	}
	var giveUp error
	for got := false; !got; {
		if canceled, timeout := a.check(ctx, due); canceled != nil {
			giveUp = canceled
			break
		} else if timeout {
			giveUp = context.DeadlineExceeded
			break
		}
		select {
		case c = <-w.ch:
			got = true
		case <-a.wake:
		}
	}
	if giveUp != nil {
		p.mu.Lock()
		if h.remove(w) {
			p.mu.Unlock()
			return nil, fromWait, giveUp
		}
		p.mu.Unlock()
		// Handed something just now: give it back.
		if c = <-w.ch; c != nil {
			p.release(c, p.d.Now())
		} else {
			p.mu.Lock()
			h.dialing--
			p.wakeDialers(h)
			p.mu.Unlock()
		}
		return nil, fromWait, giveUp
	}
	if c == nil {
		c, err := p.dial(ctx, r, h, due) // a dial slot was freed for us
		return c, fromDial, err
	}
	return c, fromWait, nil
}

// pick returns the open connection with the most free slots, nil when
// every one is full. A connection past its lifetime (--max-conn-lifetime)
// is retired instead: it takes no new stream and closes once its streams
// are done; stale is one such connection without a stream, taken out of
// the pool, for the caller to close once p.mu is released. p.mu is held.
func (p *Pool) pick(h *host) (best, stale *Conn) {
	for i := 0; i < len(h.conns); i++ {
		c := h.conns[i]
		if c.gone || c.ending.Load() {
			continue
		}
		if p.cfg.MaxConnLifetime > 0 && c.tc.Expired() {
			if c.active == 0 && stale != nil {
				continue // the next request's, or the sweeper's
			}
			c.tc.SetCloseReason(metrics.CloseLifetime)
			if c.active == 0 {
				c.closing = true
				stale = c
			}
			p.retire(c)
			i-- // retire took it out of h.conns
			continue
		}
		if c.active >= c.limit {
			continue
		}
		if best == nil || c.limit-c.active > best.limit-best.active {
			best = c
		}
	}
	return best, stale
}

// take gives the request a slot on c. A connection that reaches its
// --max-requests-per-conn with it (or is past its lifetime) is retired:
// this stream is its last. p.mu is held.
func (p *Pool) take(c *Conn) {
	c.active++
	c.started++
	p.stats.notePeak(c.active)
	if c.active > c.peak {
		c.peak = c.active
		p.rec.H2Streams(c.active)
	}
	c.tc.Acquire()
	if p.rotates {
		if _, last := c.tc.Last(); last { // the close reason is set
			p.retire(c)
		}
	}
}

// retire makes c take no new stream: it leaves its host's connections
// (a waiter may dial in its place) and closes once its last stream ends
// (release). p.mu is held.
func (p *Pool) retire(c *Conn) {
	if c.gone {
		return
	}
	c.gone = true
	p.unlist(c)
}

func (p *Pool) mayDial(h *host) bool {
	if p.strict && len(h.conns)+h.dialing > 0 {
		return false
	}
	return p.maxConns <= 0 || len(h.conns)+h.dialing < p.maxConns
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

// hand gives c's free slots to waiters. p.mu is held.
func (p *Pool) hand(h *host, c *Conn) {
	for len(h.waiters) > 0 && !c.gone && !c.ending.Load() && c.active < c.limit {
		w := h.waiters[0]
		h.waiters = h.waiters[1:]
		p.take(c)
		w.ch <- c
	}
}

// wakeDialers lets waiters dial while the cap allows. p.mu is held.
func (p *Pool) wakeDialers(h *host) {
	for len(h.waiters) > 0 && p.mayDial(h) {
		w := h.waiters[0]
		h.waiters = h.waiters[1:]
		h.dialing++
		w.ch <- nil
	}
}

// dial dials a connection for h in a slot counted in h.dialing, waits
// for the server's SETTINGS, and takes a stream slot on it.
func (p *Pool) dial(ctx context.Context, r *Request, h *host, due time.Duration) (*Conn, error) {
	if due > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, p.d.At(due))
		defer cancel()
	}
	c, err := p.connect(ctx, r, h)
	p.mu.Lock()
	h.dialing--
	if err != nil {
		p.wakeDialers(h)
		p.mu.Unlock()
		return nil, err
	}
	if p.closed {
		p.mu.Unlock()
		c.tc.SetCloseReason(metrics.CloseUnused)
		_ = c.nc.Close()
		return nil, errPoolClosed
	}
	p.take(c)
	if c.gone {
		// GOAWAY or an error already, before it was listed: goingAway
		// and dead found nothing to unlist, so it is never listed (it
		// would hold a place under MaxConnsPerHost for good, every later
		// request waiting for a dial slot until its timeout). The
		// request finds it ending and goes again, or fails with its
		// cause; the waiters may dial in its place.
		p.wakeDialers(h)
		p.mu.Unlock()
		return c, nil
	}
	h.conns = append(h.conns, c)
	p.hand(h, c)
	p.mu.Unlock()
	return c, nil
}

// connect dials (directly, or through the host's proxy: a CONNECT or
// SOCKS5 tunnel), runs TLS with ALPN h2 (or speaks h2c with prior
// knowledge on plain connections), starts the connection and waits for
// the server's SETTINGS.
func (p *Pool) connect(ctx context.Context, r *Request, h *host) (*Conn, error) {
	// With --http 2 the dialer offers h2 alone by ALPN, fails a server
	// that does not pick it as protocol_negotiation, and marks plain
	// connections h2 (prior knowledge); with auto it offers h2 and
	// http/1.1 and the server's pick decides.
	var tc *transport.Conn
	var nc net.Conn
	var err error
	if h.px == nil {
		tc, nc, err = p.d.Dial(ctx, r.addr, r.tls, r.serverName)
	} else {
		tc, nc, err = p.d.DialVia(ctx, h.px, r.addr, r.tls, r.serverName, false)
	}
	if err != nil {
		return nil, err
	}
	if p.dialed != nil {
		p.dialed(r.key, tc.Proto)
	}
	if p.auto && tc.Proto != metrics.ProtoH2 {
		return nil, &HTTP1Error{Request: r, Proxy: h.px, Conn: tc, NetConn: nc}
	}
	c := newConn(p, h, tc, nc)
	select {
	case <-c.ready:
		if c.readyErr != nil {
			return nil, c.readyErr
		}
		return c, nil
	case <-ctx.Done():
		tc.SetCloseReason(metrics.CloseCanceled)
		_ = nc.Close()
		<-c.ready // the reader ends
		return nil, fmt.Errorf("h2: waiting for the server's SETTINGS: %w", ctx.Err())
	}
}

// setLimit sets c's stream slots from the server's MAX_CONCURRENT_STREAMS
// (n), under the pool's cap, and hands new free slots to waiters.
func (p *Pool) setLimit(c *Conn, n int) {
	if p.maxSlots > 0 {
		n = min(n, p.maxSlots)
	}
	p.mu.Lock()
	c.limit = n
	if c.h != nil && p.listed(c) {
		p.hand(c.h, c)
	}
	p.mu.Unlock()
}

// listed reports whether c is one of its host's connections. p.mu is held.
func (p *Pool) listed(c *Conn) bool {
	for _, x := range c.h.conns {
		if x == c {
			return true
		}
	}
	return false
}

// release frees a stream slot of c at now (the dialer's clock): it goes
// to a waiter, or the connection closes when it is going away and has no
// stream left.
func (p *Pool) release(c *Conn, now time.Duration) {
	p.mu.Lock()
	c.active--
	if c.active == 0 {
		c.idleSince = now
	}
	c.tc.Release(now) // the last one reports a connection closed meanwhile
	closeIt := false
	if c.gone || p.closed {
		closeIt = c.active == 0 && !c.closing
		if closeIt {
			c.closing = true
			p.unlist(c)
		}
	} else {
		p.hand(c.h, c)
	}
	p.mu.Unlock()
	if closeIt {
		_ = c.nc.Close()
	}
}

// unlist takes c out of its host's connections and lets waiters dial in
// its place. p.mu is held.
func (p *Pool) unlist(c *Conn) {
	h := c.h
	for i, x := range h.conns {
		if x == c {
			h.conns = append(h.conns[:i], h.conns[i+1:]...)
			break
		}
	}
	p.wakeDialers(h)
}

// goingAway: the server sent GOAWAY on c; it takes no new stream, and
// closes when its last stream ends.
func (p *Pool) goingAway(c *Conn) {
	p.mu.Lock()
	c.gone = true
	closeIt := c.active == 0 && !c.closing && p.listed(c)
	if closeIt {
		c.closing = true
	}
	p.unlist(c)
	p.mu.Unlock()
	if closeIt {
		_ = c.nc.Close()
	}
}

// dead: c's reader ended.
func (p *Pool) dead(c *Conn) {
	p.mu.Lock()
	c.gone = true
	c.closing = true
	p.unlist(c)
	p.mu.Unlock()
}

// Conns returns the connections open now and how many carry a request.
func (p *Pool) Conns() (open, active int) { return p.d.Conns() }

// Dialing is the number of dials in flight.
func (p *Pool) Dialing() int64 { return p.d.Dialing() }

// Close closes the connections without a stream and stops the sweeper;
// the others close when their last stream ends.
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
		keep := h.conns[:0]
		for _, c := range h.conns {
			if c.active == 0 {
				c.closing = true
				idle = append(idle, c)
				continue
			}
			keep = append(keep, c)
		}
		clear(h.conns[len(keep):])
		h.conns = keep
	}
	p.mu.Unlock()
	close(p.stop)
	<-p.done
	for _, c := range idle {
		_ = c.nc.Close()
	}
}

// sweep closes connections without a stream for IdleConnTimeout, and
// those without a stream past their lifetime.
func (p *Pool) sweep() {
	defer close(p.done)
	every := max(min(p.cfg.IdleConnTimeout/3, time.Second), time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	var expired []*Conn
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		now := p.d.Now()
		expired = expired[:0]
		p.mu.Lock()
		for _, h := range p.hosts {
			for _, c := range h.conns {
				if c.active > 0 || c.closing {
					continue
				}
				switch {
				case now-c.idleSince >= p.cfg.IdleConnTimeout:
					c.tc.SetCloseReason(metrics.CloseIdleTimeout)
				case p.cfg.MaxConnLifetime > 0 && c.tc.Expired():
					c.tc.SetCloseReason(metrics.CloseLifetime)
				default:
					continue
				}
				c.closing = true
				expired = append(expired, c)
			}
			for _, c := range expired {
				if c.h == h {
					p.unlist(c)
				}
			}
		}
		p.mu.Unlock()
		for _, c := range expired {
			_ = c.nc.Close()
		}
	}
}
