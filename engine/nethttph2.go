package engine

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faya-load/faya/internal/h2"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// goH2Pool is the net/http engine's pool of HTTP/2 connections: Go's own
// HTTP/2 client does the framing (one http.ClientConn per connection,
// Go 1.26's Transport.NewClientConn), faya chooses the connection. A
// request takes a stream slot (ClientConn.Reserve: within the server's
// MAX_CONCURRENT_STREAMS) on the first open connection with one free,
// under --h2-max-streams; when every one is full it dials another, up to
// --max-conns-per-host (never while one is open with --h2-strict-streams),
// else it waits for a slot: its stream_wait, which Go's own pool cannot
// show (its GotConn fires before that wait). One dial at a time per
// destination, and a new connection carries one stream until Go's client
// has applied the server's SETTINGS (or, failing that, until its first
// answer), as Go's pool shares one dial: so the server's stream limit is
// known before streams are opened past it. --max-requests-per-conn and --max-conn-lifetime stop a
// connection's new streams and close it when its last one ends (close
// reasons max_requests, lifetime); a connection without a stream for
// IdleConnTimeout closes (idle_timeout); one the server sent GOAWAY
// takes no new stream and closes after its last (goaway).
//
// With --http auto an https destination whose server picks HTTP/1.1 by
// ALPN is marked so: its requests go to the Transport, which is handed
// the connection dialed to find it out (park).
type goH2Pool struct {
	d        *transport.Dialer
	tr       *http.Transport // makes ClientConns over connections faya dialed
	cfg      transport.Config
	maxConns int               // per destination, all open or dialing; 0: no limit
	maxSlots int               // streams per connection, the client's cap; 0: the server's
	strict   bool              // no dial while a connection takes streams
	h2c      bool              // http URLs speak h2 with prior knowledge (--http 2)
	auto     bool              // https: ALPN decides (--http auto)
	oneUse   bool              // keep-alives off: a connection per request
	rec      *metrics.Recorder // the server's SETTINGS; nil in tests without one

	mu     sync.Mutex
	hosts  map[string]*goH2Host
	parked map[string][]net.Conn // auto: HTTP/1.1 connections for the Transport
	closed bool

	waiting atomic.Int32 // requests waiting for a slot or a dial
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

// goH2Host is one destination's connections.
type goH2Host struct {
	dest    transport.Destination
	conns   []*goH2Conn
	dialing int
	waiters []*goH2Waiter
	h1      bool // auto: the server picked HTTP/1.1
	// failing: its last dial failed, so no SETTINGS are awaited: the
	// requests waiting dial in parallel (as Go's Transport would), not
	// one failed dial after another.
	failing bool
}

// goH2Conn is one HTTP/2 connection. Its fields but notify are guarded by
// the pool's mutex.
type goH2Conn struct {
	cc        *http.ClientConn
	tc        *transport.Conn
	nc        net.Conn
	wire      *h2Wire // what Go's client reads and writes: its frames counted
	h         *goH2Host
	started   int64 // streams given
	retiring  bool  // no new stream: a request or age limit, or going away
	hooked    bool  // its state hook is set (hookLocked)
	closing   bool
	idleSince time.Duration // the sweeper's first sight of it without a stream
	// settled: Go's client applied the server's first SETTINGS (wire's
	// applied) or its first answer came, so Available holds the server's
	// limit. notify: its state hook must tell the pool (retiring).
	settled, notify atomic.Bool
	sniff           *h1Sniffer // h2c: whether the server answered in HTTP/1.x
	// tls is the connection's TLS state, which Go's client, handed the
	// wrapped connection, cannot see: the answers' Response.TLS, as Go's
	// own pool sets it (nil on h2c).
	tls *tls.ConnectionState
}

// h1Sniffer is an h2c connection that notes whether the server's first
// bytes were an HTTP/1.x answer (an HTTP/1.1-only server answering the
// preface), so that its requests fail as protocol_negotiation, as on the
// default engine, and not as whatever Go's framer made of it. Only Go's
// read loop reads it.
type h1Sniffer struct {
	net.Conn
	seen bool
	h1   atomic.Bool
}

func (s *h1Sniffer) Read(b []byte) (int, error) {
	n, err := s.Conn.Read(b)
	if !s.seen && n > 0 {
		s.seen = true
		s.h1.Store(bytes.HasPrefix(b[:n], []byte("HTTP/")))
	}
	return n, err
}

// goH2Waiter is a request waiting for a stream slot or a dial: it is
// handed a connection with a slot reserved, nil (it may dial), or
// useTransport.
type goH2Waiter struct {
	ch     chan *goH2Conn
	stream bool // it waits for a slot on connections that are full
}

var (
	// useTransport hands a waiter over to the Transport (HTTP/1.1);
	// poolClosed tells it the run ended.
	useTransport = &goH2Conn{}
	poolClosed   = &goH2Conn{}
	// errUseTransport: the destination speaks HTTP/1.1; send through
	// the Transport.
	errUseTransport = errors.New("destination speaks HTTP/1.1")
	errH2PoolClosed = errors.New("net/http HTTP/2 pool closed: the run ended")
)

// preDialed carries the connection faya dialed to NewClientConn's dial.
type preDialed struct{}

// newGoH2Pool returns the HTTP/2 pool over p's dialer and the Transport
// the pool's other requests go through (p's, handed HTTP/1.1 connections
// this pool dialed under --http auto).
func newGoH2Pool(p *transport.Pool, rec *metrics.Recorder) (*goH2Pool, *http.Transport) {
	cfg := p.Config()
	hp := &goH2Pool{
		d:        p.Dialer,
		cfg:      cfg,
		maxConns: max(cfg.MaxConnsPerHost, 0),
		maxSlots: max(cfg.H2MaxStreams, 0),
		strict:   cfg.H2StrictStreams,
		h2c:      cfg.HTTP == transport.HTTP2,
		auto:     cfg.HTTP == transport.HTTPAuto,
		oneUse:   cfg.DisableKeepAlives,
		rec:      rec,
		hosts:    map[string]*goH2Host{},
		parked:   map[string][]net.Conn{},
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	fromCtx := func(ctx context.Context, _, _ string) (net.Conn, error) {
		if nc, ok := ctx.Value(preDialed{}).(net.Conn); ok {
			return nc, nil
		}
		return nil, errors.New("net/http HTTP/2 pool: no connection dialed")
	}
	hp.tr = p.HTTP().Clone()
	hp.tr.DialContext, hp.tr.DialTLSContext = fromCtx, fromCtx
	hp.tr.Proxy = nil
	hp.tr.IdleConnTimeout = 0 // the pool's sweeper closes idle connections, with a reason
	hp.tr.Protocols = new(http.Protocols)
	hp.tr.Protocols.SetHTTP2(true)
	hp.tr.Protocols.SetUnencryptedHTTP2(true)
	direct := p.HTTP()
	if hp.auto {
		direct = p.HTTP().Clone()
		dialTLS := direct.DialTLSContext
		direct.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if nc := hp.unpark(addr); nc != nil {
				return nc, nil
			}
			return dialTLS(ctx, network, addr)
		}
	}
	go hp.run()
	return hp, direct
}

// host returns the pool's destination for u, nil when its requests go
// to the Transport (an http URL with --http auto, a URL faya cannot
// dial).
func (p *goH2Pool) host(u *url.URL) *goH2Host {
	d, err := transport.DestinationOf(u)
	if err != nil || !d.TLS && !p.h2c {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.hosts[d.Key]
	if h == nil {
		h = &goH2Host{dest: d}
		p.hosts[d.Key] = h
	}
	return h
}

// roundTrip sends req on a stream of one of h's connections. wait grows
// by the time the request waited for a stream slot. A request the server
// did not process (REFUSED_STREAM, a GOAWAY below its stream, a
// connection that became unusable before it was sent) goes again, up to
// goMaxRetries times, as Go's Transport does. errUseTransport: h speaks HTTP/1.1.
func (p *goH2Pool) roundTrip(req *http.Request, h *goH2Host, wait *time.Duration) (*http.Response, error) {
	ctx := req.Context()
	trace := httptrace.ContextClientTrace(ctx)
	for try := 0; ; try++ {
		if trace != nil && trace.GetConn != nil {
			trace.GetConn(h.dest.Addr)
		}
		t0 := p.d.Now()
		c, fresh, waited, err := p.get(ctx, h)
		if waited {
			*wait += p.d.Now() - t0
		}
		if err != nil {
			return nil, err
		}
		if trace != nil && trace.GotConn != nil {
			trace.GotConn(httptrace.GotConnInfo{Conn: c.nc, Reused: !fresh, WasIdle: !fresh && c.cc.InFlight() == 1})
		}
		resp, err := c.cc.RoundTrip(req)
		if !c.settled.Load() && (err == nil || ctx.Err() == nil) {
			// Its first answer: the server's SETTINGS came before it. A
			// stream the server reset (RST_STREAM, REFUSED_STREAM) is an
			// answer too: the connection lives on. A connection whose
			// first request failed otherwise takes no other; one whose
			// first request timed out or was canceled stays unsettled
			// (one stream at a time) until an answer comes.
			f, _ := transport.H2FaultOf(err)
			p.mu.Lock()
			if err == nil || f.RST {
				c.settled.Store(true)
			} else {
				p.stopLocked(c)
			}
			p.mu.Unlock()
			p.signal()
		}
		if err == nil {
			if resp.TLS == nil {
				resp.TLS = c.tls
			}
			return resp, nil
		}
		if c.sniff != nil && c.sniff.h1.Load() {
			return nil, &h2.NotH2Error{Err: err}
		}
		if strings.Contains(err.Error(), "http2: client conn could not be established") {
			err = c.endedErr(err)
		}
		if try >= goMaxRetries || !unprocessed(err) || !rewind(req) || ctx.Err() != nil {
			return nil, err
		}
		if p.rec != nil && strings.Contains(err.Error(), "; REFUSED_STREAM") {
			p.rec.H2Refused() // its frame is counted by c.wire
		}
	}
}

// goMaxRetries is how many times Go's HTTP/2 Transport sends again a
// request the server did not process.
const goMaxRetries = 6

// unprocessed reports whether Go's HTTP/2 client says the server did not
// process the request (RFC 9113 8.7): safe to send again.
func unprocessed(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "; REFUSED_STREAM") ||
		strings.Contains(msg, "http2: client conn not usable") ||
		strings.Contains(msg, "http2: client conn is closed") ||
		strings.Contains(msg, "http2: Transport received Server's graceful shutdown GOAWAY")
}

// rewind readies req's body to be sent again.
func rewind(req *http.Request) bool {
	if req.Body == nil || req.Body == http.NoBody {
		return true
	}
	if req.GetBody == nil {
		return false
	}
	b, err := req.GetBody()
	if err != nil {
		return false
	}
	req.Body = b
	return true
}

// get returns a connection of h with a stream slot reserved for the
// request: an open one, one dialed for it (fresh), or one freed while it
// waited (waited: it waited for a slot on full connections).
func (p *goH2Pool) get(ctx context.Context, h *goH2Host) (c *goH2Conn, fresh, waited bool, err error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, false, false, errH2PoolClosed
	}
	if h.h1 {
		p.mu.Unlock()
		return nil, false, false, errUseTransport
	}
	if len(h.waiters) == 0 { // first come, first served
		if c := p.pickLocked(h); c != nil {
			p.mu.Unlock()
			return c, false, false, nil
		}
	}
	if len(h.waiters) == 0 && p.mayDialLocked(h) {
		h.dialing++
		p.mu.Unlock()
		c, err := p.dial(ctx, h)
		return c, true, false, err
	}
	w := &goH2Waiter{ch: make(chan *goH2Conn, 1), stream: h.live() > 0}
	h.waiters = append(h.waiters, w)
	p.waiting.Add(1)
	for _, c := range h.conns {
		p.hookLocked(c)
	}
	p.handLocked(h) // a slot freed before its hook was set
	p.mu.Unlock()
	select {
	case c = <-w.ch:
	case <-ctx.Done():
		p.mu.Lock()
		if h.remove(w) {
			p.waiting.Add(-1)
			p.mu.Unlock()
			return nil, false, w.stream, ctx.Err()
		}
		p.mu.Unlock()
		// Handed something just now: give it back.
		switch c = <-w.ch; c {
		case useTransport, poolClosed:
		case nil:
			p.mu.Lock()
			h.dialing--
			p.handLocked(h)
			p.mu.Unlock()
		default:
			c.cc.Release()
			p.signal()
		}
		return nil, false, w.stream, ctx.Err()
	}
	switch c {
	case useTransport:
		return nil, false, false, errUseTransport
	case poolClosed:
		return nil, false, false, errH2PoolClosed
	case nil: // a dial slot, given to us
		c, err := p.dial(ctx, h)
		return c, true, false, err
	}
	return c, false, w.stream, nil
}

// live is the number of h's connections that take new streams.
func (h *goH2Host) live() int {
	n := 0
	for _, c := range h.conns {
		if !c.retiring && !c.closing {
			n++
		}
	}
	return n
}

// remove takes w off the waiters, if it is still there.
func (h *goH2Host) remove(w *goH2Waiter) bool {
	for i, x := range h.waiters {
		if x == w {
			h.waiters = append(h.waiters[:i], h.waiters[i+1:]...)
			return true
		}
	}
	return false
}

// pickLocked reserves a stream slot on the first of h's connections with
// one free and returns it, nil when every one is full. It closes the
// connections that take no stream and have none left.
func (p *goH2Pool) pickLocked(h *goH2Host) *goH2Conn {
	for i := 0; i < len(h.conns); i++ {
		c := h.conns[i]
		if !c.retiring && c.tc.Expired() {
			p.retireLocked(c, metrics.CloseLifetime)
		}
		if c.retiring {
			if c.cc.InFlight() == 0 {
				p.closeLocked(c)
				i--
			}
			continue
		}
		if !c.settled.Load() || p.maxSlots > 0 {
			n := c.cc.InFlight()
			if !c.settled.Load() && n > 0 || p.maxSlots > 0 && n >= p.maxSlots {
				continue
			}
		}
		if err := c.cc.Reserve(); err != nil {
			// Full, or it takes no stream any more (a GOAWAY, closed).
			// Slots are reserved under p.mu only: with none in flight
			// seen after, a second refusal is not for being full.
			if c.cc.Err() == nil && c.cc.InFlight() > 0 {
				continue
			}
			if c.cc.Err() != nil || c.cc.Reserve() != nil {
				p.goneLocked(c)
				if c.closing {
					i--
				}
				continue
			}
		}
		p.takeLocked(c)
		return c
	}
	return nil
}

// takeLocked counts a stream given on c; the --max-requests-per-conn-th
// is its last.
func (p *goH2Pool) takeLocked(c *goH2Conn) {
	c.started++
	c.idleSince = 0
	c.tc.StreamsOpen(c.cc.InFlight())
	if m := p.cfg.MaxRequestsPerConn; m > 0 && c.started >= m {
		p.retireLocked(c, metrics.CloseMaxRequests)
	}
}

// retireLocked stops c's new streams for reason r; it closes when its
// last stream ends.
func (p *goH2Pool) retireLocked(c *goH2Conn, r metrics.CloseReason) {
	c.tc.SetCloseReason(r)
	p.stopLocked(c)
}

// stopLocked stops c's new streams; it closes when its last one ends.
func (p *goH2Pool) stopLocked(c *goH2Conn) {
	c.retiring = true
	c.notify.Store(true)
	p.hookLocked(c)
}

// hookLocked sets c's state hook, once: only a connection that requests
// wait for, or that retires, needs it (with a hook set Go's client reads
// its state three times per change).
func (p *goH2Pool) hookLocked(c *goH2Conn) {
	if !c.hooked {
		c.hooked = true
		c.cc.SetStateHook(func(*http.ClientConn) { p.changed(c) })
	}
}

// goneLocked: c takes no stream any more, for a reason of its own (the
// server's GOAWAY, or it closed). Closed, it leaves the list; open, it
// closes after its last stream, as a connection the server ended.
func (p *goH2Pool) goneLocked(c *goH2Conn) {
	if c.cc.Err() == nil {
		c.tc.SetCloseReason(metrics.CloseGoAway)
	}
	c.retiring = true
	c.notify.Store(true)
	p.hookLocked(c)
	if c.cc.Err() != nil || c.cc.InFlight() == 0 {
		p.closeLocked(c)
	}
}

// closeLocked closes c and takes it off its host's list.
func (p *goH2Pool) closeLocked(c *goH2Conn) {
	if c.closing {
		return
	}
	c.closing = true
	if c.cc.Err() == nil {
		c.wire.closing.Store(true) // the pool's close, not Go's (a PING unanswered)
	}
	h := c.h
	for i, x := range h.conns {
		if x == c {
			h.conns = append(h.conns[:i], h.conns[i+1:]...)
			break
		}
	}
	_ = c.cc.Close()
}

// mayDialLocked reports whether a request to h may dial a connection:
// under the cap, none being dialed or waiting for its first answer (the
// server's limit is not known yet), none open with strict streams.
func (p *goH2Pool) mayDialLocked(h *goH2Host) bool {
	n := len(h.conns) + h.dialing
	if p.strict && h.live()+h.dialing > 0 {
		return false
	}
	if p.maxConns > 0 && n >= p.maxConns {
		return false
	}
	if p.oneUse || h.failing {
		return true
	}
	if h.dialing > 0 {
		return false
	}
	for _, c := range h.conns {
		if !c.settled.Load() && !c.retiring {
			return false
		}
	}
	return true
}

// handLocked gives free slots, then dials, to h's waiters.
func (p *goH2Pool) handLocked(h *goH2Host) {
	for len(h.waiters) > 0 {
		var c *goH2Conn
		switch {
		case h.h1:
			c = useTransport
		case p.closed:
			return
		default:
			if c = p.pickLocked(h); c == nil {
				if !p.mayDialLocked(h) {
					return
				}
				h.dialing++
			}
		}
		w := h.waiters[0]
		h.waiters = h.waiters[1:]
		p.waiting.Add(-1)
		w.ch <- c
	}
}

// dial dials a connection to h in a slot counted in h.dialing and takes
// a stream slot on it.
func (p *goH2Pool) dial(ctx context.Context, h *goH2Host) (*goH2Conn, error) {
	c, err := p.connect(ctx, h)
	p.mu.Lock()
	defer p.mu.Unlock()
	h.dialing--
	if err == nil && p.closed {
		c.tc.SetCloseReason(metrics.CloseUnused)
		_ = c.cc.Close()
		err = errH2PoolClosed
	}
	if err != nil {
		if !errors.Is(err, errUseTransport) && !errors.Is(err, errH2PoolClosed) {
			h.failing = true
		}
		p.handLocked(h)
		return nil, err
	}
	h.failing = false
	h.conns = append(h.conns, c)
	if err := c.cc.Reserve(); err != nil {
		// Its read loop ended already.
		p.goneLocked(c)
		if c.sniff != nil && c.sniff.h1.Load() {
			err = &h2.NotH2Error{Err: err}
		} else {
			err = c.endedErr(err)
		}
		return nil, err
	}
	p.takeLocked(c)
	if p.waiting.Load() > 0 {
		p.hookLocked(c)
		p.handLocked(h) // c may have settled before it was listed
	}
	return c, nil
}

// endedErr is err, Go's word for a connection that ended before its
// first request ("connection is unavailable", "client conn could not be
// established"), with the cause its frames and reads showed, so that the
// request fails with the class the default engine gives it: a GOAWAY
// with an error code (the error Go gives when it comes after the
// stream: protocol), else the read's error (the server's close: eof; a
// reset).
func (c *goH2Conn) endedErr(err error) error {
	if c.wire.notH2.Load() {
		return &notH2FramesError{err: err}
	}
	if code := c.wire.goAwayErr.Load(); code != 0 {
		return fmt.Errorf("http2: Transport received GOAWAY from server ErrCode:%v before the connection's first request (%v)", metrics.H2Code(code), err)
	}
	if e := c.wire.readErr.Load(); e != nil {
		cause := *e
		if errors.Is(cause, io.EOF) {
			cause = io.ErrUnexpectedEOF // the server closed before answering
		}
		return fmt.Errorf("http2: the connection ended before its first request (%v): %w", err, cause)
	}
	return err
}

// notH2FramesError is a connection whose server's first bytes were no
// SETTINGS frame (nor an HTTP/1.x answer: that is protocol_negotiation),
// ended by Go's client before its first request: a protocol error, as
// the default engine's framer makes of them ("frame too large").
type notH2FramesError struct{ err error }

func (e *notH2FramesError) Error() string {
	return "http2: the server's first bytes were not an HTTP/2 SETTINGS frame (" + e.err.Error() + ")"
}

func (e *notH2FramesError) Unwrap() error { return e.err }

// ErrClass is metrics.ErrProtocol.
func (e *notH2FramesError) ErrClass() metrics.ErrClass { return metrics.ErrProtocol }

// connect dials h and starts Go's HTTP/2 client on the connection.
// Under --http auto a server that picks HTTP/1.1 marks h (errUseTransport)
// and its connection waits for the Transport.
func (p *goH2Pool) connect(ctx context.Context, h *goH2Host) (*goH2Conn, error) {
	d := h.dest
	tc, nc, err := p.d.Dial(ctx, d.Addr, d.TLS, d.ServerName)
	if err != nil {
		return nil, err
	}
	if tc.Proto != metrics.ProtoH2 {
		p.mu.Lock()
		h.h1 = true
		p.parked[d.Addr] = append(p.parked[d.Addr], nc)
		p.mu.Unlock()
		return nil, errUseTransport
	}
	// Go's client gets the connection wrapped, its frames read as they
	// pass (above TLS: Go takes a connection that is not a *tls.Conn as
	// HTTP/2 with prior knowledge, which it is once ALPN picked h2).
	var sink h2Sink = nopH2Sink{}
	if p.rec != nil {
		sink = p.rec
	}
	wire := newH2Wire(nc, sink, p.d.Now, p.cfg.H2PingTimeout)
	tc.FramesCounted()
	scheme, over := "https", net.Conn(wire)
	var sniff *h1Sniffer
	if !d.TLS {
		scheme = "http"
		sniff = &h1Sniffer{Conn: wire}
		over = sniff
	}
	gc := &goH2Conn{tc: tc, nc: nc, wire: wire, h: h, sniff: sniff}
	wire.applied = func() {
		// Go's client knows the server's stream limit now: Available
		// says it, and the requests waiting may take the slots or dial.
		gc.settled.Store(true)
		p.signal()
	}
	cc, err := p.tr.NewClientConn(context.WithValue(ctx, preDialed{}, over), scheme, d.Addr)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	gc.cc = cc
	tc.PoolCountsStreams()
	if t, ok := nc.(*tls.Conn); ok {
		st := t.ConnectionState()
		gc.tls = &st
	}
	return gc, nil
}

// unpark returns an HTTP/1.1 connection to addr dialed by the pool, for
// the Transport, or nil.
func (p *goH2Pool) unpark(addr string) net.Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.parked[addr]
	if len(l) == 0 {
		return nil
	}
	nc := l[0]
	p.parked[addr] = l[1:]
	return nc
}

// changed is c's state hook (a stream ended, a slot freed, it closed):
// the pool's goroutine hands slots to waiters and closes c if it is
// done. Nothing to do, it costs two loads.
func (p *goH2Pool) changed(c *goH2Conn) {
	if p.waiting.Load() > 0 || c.notify.Load() {
		p.signal()
	}
}

func (p *goH2Pool) signal() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// run tidies the connections when one's state changed, and sweeps the
// idle ones every IdleConnTimeout/3 (at most a second).
func (p *goH2Pool) run() {
	defer close(p.done)
	every := max(min(p.cfg.IdleConnTimeout/3, time.Second), time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		sweep := false
		select {
		case <-p.stop:
			return
		case <-p.kick:
		case <-t.C:
			sweep = true
		}
		now := p.d.Now()
		p.mu.Lock()
		for _, h := range p.hosts {
			for i := 0; i < len(h.conns); i++ {
				c := h.conns[i]
				n := c.cc.InFlight()
				switch {
				case c.cc.Err() != nil:
					p.goneLocked(c)
				case n == 0 && (c.retiring || c.tc.Expired()):
					p.retireLocked(c, metrics.CloseLifetime) // the first reason set wins
					p.closeLocked(c)
				case !sweep:
					continue
				case n > 0:
					c.idleSince = 0
					continue
				case c.idleSince == 0:
					c.idleSince = now
					continue
				case now-c.idleSince >= p.cfg.IdleConnTimeout-every:
					c.tc.SetCloseReason(metrics.CloseIdleTimeout)
					p.closeLocked(c)
				default:
					continue
				}
				if c.closing {
					i--
				}
			}
			p.handLocked(h)
			if sweep && len(h.waiters) == 0 {
				for _, c := range h.conns {
					p.unhookLocked(c)
				}
			}
		}
		p.mu.Unlock()
	}
}

// unhookLocked takes off c's state hook when nothing needs it any more:
// no request waits for c's host (a waiter sets it again) and c is not
// retiring. Set, Go's client runs it on every Reserve, RoundTrip and
// stream end (reading its state three times, and starting a goroutine
// when the state changed while it ran: 4 allocations per request, seen
// with 100 VUs on one connection, which kept it for the whole run once
// the VUs had waited for the first dial).
func (p *goH2Pool) unhookLocked(c *goH2Conn) {
	if !c.hooked || c.notify.Load() || c.closing || c.retiring {
		return
	}
	c.hooked = false
	c.cc.SetStateHook(nil)
}

// Close closes the pool's connections (the run ended: its requests are
// done) and the HTTP/1.1 connections parked for the Transport.
func (p *goH2Pool) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	for _, h := range p.hosts {
		for len(h.conns) > 0 {
			p.closeLocked(h.conns[0])
		}
		for _, w := range h.waiters {
			w.ch <- poolClosed
		}
		p.waiting.Add(-int32(len(h.waiters)))
		h.waiters = nil
	}
	for _, l := range p.parked {
		for _, nc := range l {
			if tc := transport.ConnOf(nc); tc != nil {
				tc.SetCloseReason(metrics.CloseUnused)
			}
			_ = nc.Close()
		}
	}
	clear(p.parked)
	p.mu.Unlock()
	close(p.stop)
	<-p.done
}

// nopH2Sink takes the frames' accounts of a pool without a recorder.
type nopH2Sink struct{}

func (nopH2Sink) H2Settings(uint32, bool, bool)    {}
func (nopH2Sink) H2GoAway(uint32, metrics.H2Code)  {}
func (nopH2Sink) H2RSTStream(metrics.H2Code, bool) {}
func (nopH2Sink) H2Ping(time.Duration)             {}
func (nopH2Sink) H2FlowStall(time.Duration, bool)  {}

// netH2Pool is a direct pool of the net/http engine that speaks HTTP/2:
// the Transport's pool (HTTP/1.1, and auto's http URLs) and faya's pool of
// HTTP/2 connections.
type netH2Pool struct {
	*transport.Pool
	h2     *goH2Pool
	direct *http.Transport
}

// Close ends the run's connections in both.
func (p *netH2Pool) Close() {
	p.Pool.Close()
	p.direct.CloseIdleConnections()
	p.h2.Close()
}
