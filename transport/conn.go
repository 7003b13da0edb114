package transport

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/faya-load/faya/metrics"
)

// FailedReason is why a connection closes after its request failed with
// an error of class c, for both engines: canceled for a timeout or a
// stop, server when the server closed or reset it, broken when its
// answer was not HTTP (the connection is in an unknown state), handshake
// failures as such; 0 and false when the class says nothing of the
// connection.
func FailedReason(c metrics.ErrClass) (metrics.CloseReason, bool) {
	switch c {
	case metrics.ErrTimeout, metrics.ErrCanceled:
		return metrics.CloseCanceled, true
	case metrics.ErrEOF, metrics.ErrReset:
		return metrics.CloseServer, true
	case metrics.ErrProtocol:
		return metrics.CloseBroken, true
	case metrics.ErrTLS, metrics.ErrProxyAuth, metrics.ErrProxyConnect, metrics.ErrProxySOCKS, metrics.ErrProtocolNegotiation:
		return metrics.CloseHandshakeFailed, true
	}
	return 0, false
}

// PutIdleReason maps the error net/http passes to
// [net/http/httptrace.ClientTrace.PutIdleConn] to a metrics.CloseReason. net/http's
// errors are unexported, so they are matched by their fixed messages.
func PutIdleReason(err error) metrics.CloseReason {
	switch err.Error() {
	case "http: putIdleConn: too many idle connections for host":
		return metrics.CloseTooManyIdleForHost
	case "http: putIdleConn: too many idle connections":
		return metrics.CloseTooManyIdle
	case "http: putIdleConn: keep alives disabled":
		return metrics.CloseKeepAlivesDisabled
	case "http: putIdleConn: connection is in bad state":
		return metrics.CloseBroken
	case "http: putIdleConn: CloseIdleConnections was called":
		return metrics.CloseClosedIdle
	}
	return metrics.CloseOther
}

// Conn is a connection made by the pool's dialer. It counts the bytes that
// cross it, the requests it carried and how it ended, and keeps how long
// its DNS lookup, connect and TLS handshake took.
//
// The timings are set before the Conn is handed to net/http and are read
// only after; the counters are atomic. A Conn reaches a request through
// [ConnOf] on the connection in [net/http/httptrace.GotConnInfo].
type Conn struct {
	// The fields an HTTP/1.1 request reads or writes come first, in the
	// first two cache lines (Conn's size class is a multiple of 64 bytes,
	// so that each Conn starts on a line), then the exchange's state:
	// with many connections a request finds its connection's lines out
	// of the L1 cache, and each one it touches is a miss
	// (bench/instr.sh cache).
	net.Conn // the TCP connection

	pool *Dialer

	requests atomic.Int64
	rx, tx   atomic.Int64 // wire bytes read and written (Read, Write)
	seenRx   atomic.Int64 // bytes already attributed to a request
	seenTx   atomic.Int64
	lastUse  atomic.Int64  // monotonic ns (Pool clock) when the last request released it
	inflight atomic.Int32  // requests carried now (HTTP/2: its open streams)
	peak     atomic.Int32  // the most at once
	state    atomic.Uint32 // stateInUse | stateClosed | stateReported
	reason   atomic.Int32  // metrics.CloseReason+1 once known before Close; 0: not known
	// Dest is 1 + the slot of the address the connection was made to in
	// the run's accounts ([metrics.Recorder.ConnDialedAt]), 0 when not
	// known: set by the [Observer]'s ConnDialed, before the connection
	// carries a request, and copied to each request's sample.
	Dest     int32
	answered atomic.Bool // the last request's answer was read whole (NoteAnswered)
	// MaxAge is how old the connection may grow before it is retired
	// ([Config.MaxConnLifetime] with its jitter); 0: no limit.
	MaxAge  time.Duration
	pending error // a read error Exchange met, for the next Read
	// The wire bytes Exchange moved, not yet taken (TakeBytes): plain
	// fields, as Exchange is for the one goroutine that holds the
	// connection (an HTTP/1.1 request), and whoever takes them or closes
	// the connection comes after it (the pool hands connections on under
	// its lock).
	xrx, xtx int64
	x        exchanger // Exchange's state: used by one request at a time

	// Phases of the dial, zero when they did not happen (DNS for an IP
	// literal, Proxy without a proxy, TLS for plain HTTP). Proxy is the
	// proxy's handshake: TLS to an HTTPS proxy, CONNECT, SOCKS5.
	DNS, Connect, Proxy, TLS time.Duration
	// ProxyIndex is 1 + the index of the proxy the connection goes
	// through ([Proxy.Index]), 0 for a direct connection.
	ProxyIndex int
	// DialedAt is when the dial started.
	DialedAt time.Time
	// Proto is the protocol the connection speaks: what TLS's ALPN
	// negotiated, ProtoH2 for prior-knowledge h2c (--http 2 on http).
	// Set before the connection is reported dialed.
	Proto metrics.Protocol
	// Local is the source address the connection bound
	// ([Config.LocalAddrs]); the zero Addr when it bound none.
	Local netip.Addr

	goaway    atomic.Bool           // HTTP/2: a GOAWAY was counted
	streams   atomic.Int32          // HTTP/2: streams open now (headers written, not yet released)
	peakOpen  atomic.Int32          // HTTP/2: the most streams open at once
	ownCount  atomic.Bool           // HTTP/2: its pool counts its streams (PoolCountsStreams)
	frames    bool                  // HTTP/2: its frames are counted as they pass (FramesCounted)
	idleClose atomic.Int64          // when the server closed it idle: how long it had been idle (ns)
	closedAt  atomic.Int64          // lifetime at close (ns)
	reset     atomic.Pointer[error] // the first read or write that failed as a reset ([Conn.ResetCause])
	closeOnce sync.Once

	// The busy time of the one goroutine reading c ([Conn.TimeReads]):
	// the time between a Read returning and the next Read call. timed,
	// readBase and readFrom are set before the reader starts; readWait
	// is the reader's: the time it spent inside Read, on readBase's
	// clock. readMark is its state, for any goroutine: inside Read, -1
	// minus its busy time so far; between reads, readWait (its busy time
	// is then the time since readBase less readWait).
	timed    bool
	readBase time.Time     // the reads' clock (monotonic)
	readFrom time.Duration // c's age at TimeReads
	readWait time.Duration
	readMark atomic.Int64

	hooks ReadHooks // SetReadHooks'
	fd    int       // Readable's: 0 not looked up, -1 none
	raw   *rawIO    // RawIO's: reads and writes are raw system calls; nil: net.Conn's

	// lastRead is when the last plain Read (net.Conn's: net/http's read
	// loop, TLS) returned bytes, monotonic ns (Pool clock); 0: none. The
	// start of an idle period the server ends (NoteServerIdleClose): the
	// release comes later, by how long the goroutine that releases waited
	// for a CPU (seconds on a starved machine).
	lastRead atomic.Int64
}

// ReadHooks run on the goroutine that reads a Conn, around each of its
// reads from the TCP connection ([Conn.SetReadHooks]); nil ones do
// nothing.
type ReadHooks struct {
	// Before runs before each read. It returns true when it put work off
	// (writes queued) for as long as answers are waiting in the socket:
	// the read then takes what the socket has without waiting for more,
	// and when the socket has nothing, Idle runs before the read waits.
	Before func() (putOff bool)
	// Idle runs when Before put work off and the socket had nothing to
	// read, before the read waits for it. It may write to the connection
	// (with RawIO it runs inside the read, which holds the socket's read
	// side, so that the readiness noted from the empty read on wakes the
	// wait; a Close meanwhile returns before the socket is closed), not
	// read from it.
	Idle func()
	// After runs after each read.
	After func()
}

// SetReadHooks sets the hooks run around each read from the TCP
// connection. Set them before reading starts, from the goroutine that
// reads.
func (c *Conn) SetReadHooks(h ReadHooks) { c.hooks = h }

// Read modes of rawRead: readWait reads, waiting until the socket has
// something; readIdle too, running the hooks' Idle when its first read
// finds the socket empty.
type readMode int

const (
	readWait readMode = iota
	readIdle
)

// hookedRead reads from the TCP connection between the read hooks.
func (c *Conn) hookedRead(b []byte) (n int, err error) {
	h := &c.hooks
	switch {
	case h.Before == nil || !h.Before():
		n, err = c.readConn(b)
	case c.raw != nil:
		// The read says whether answers are waiting: if so they are read
		// (and the put-off work stays put off), else Idle does the work
		// and the read waits, without another look at the socket.
		n, err = c.rawRead(b, readIdle)
	default:
		if c.Readable() == 0 {
			c.idle()
		}
		n, err = c.readConn(b)
	}
	if h.After != nil {
		h.After()
	}
	return n, err
}

// idle runs the hooks' Idle.
func (c *Conn) idle() {
	if c.hooks.Idle != nil {
		c.hooks.Idle()
	}
}

// readConn is one read from the TCP connection (raw with RawIO).
func (c *Conn) readConn(b []byte) (int, error) {
	if c.raw != nil {
		return c.rawRead(b, readWait)
	}
	return c.Conn.Read(b)
}

// Readable returns the bytes waiting in the socket's receive queue
// (FIONREAD on Linux), 0 when it cannot tell (elsewhere, or not a
// socket). For the goroutine that reads, while the connection is open: a
// hint, not a promise (the descriptor is looked up once, and a closed
// one's number may be another's by then).
func (c *Conn) Readable() int {
	if c.fd == 0 {
		c.fd = -1
		if sc, ok := c.Conn.(syscall.Conn); ok {
			if rc, err := sc.SyscallConn(); err == nil {
				_ = rc.Control(func(fd uintptr) { c.fd = int(fd) })
			}
		}
	}
	if c.fd < 0 {
		return 0
	}
	return readable(c.fd)
}

// Conn states. A connection closed while it carries a request is reported
// when the request is released, not when it closes: net/http may close it
// (a "Connection: close" answer, a canceled request) before the engine
// has read the answer and said why.
const (
	stateInUse uint32 = 1 << iota
	stateClosed
	stateReported
)

// update applies f to c's state atomically and reports whether this change
// is the one that must report the close.
func (c *Conn) update(f func(uint32) uint32) (report bool) {
	for {
		old := c.state.Load()
		next := f(old)
		if next&stateClosed != 0 && next&stateInUse == 0 && next&stateReported == 0 {
			next |= stateReported
			report = true
		}
		if c.state.CompareAndSwap(old, next) {
			return report
		}
		report = false
	}
}

// NegotiationError is a TLS handshake whose ALPN did not pick h2 when
// HTTP/2 was required (--http 2): its class is protocol_negotiation.
type NegotiationError struct {
	Addr string
	// Got is the protocol the server picked ("" when it picked none).
	Got string
	// Alert: the server refused the handshake (no_application_protocol:
	// it speaks none of h2); err is the handshake's error.
	Alert bool
	err   error
}

func (e *NegotiationError) Error() string {
	if e.Alert {
		return "HTTP/2 required (--http 2) but " + e.Addr + " does not speak h2: " + e.err.Error()
	}
	got := e.Got
	if got == "" {
		got = "no protocol by ALPN (it ignored ALPN: HTTP/1.1 only)"
	} else {
		got += " by ALPN"
	}
	return "HTTP/2 required (--http 2) but " + e.Addr + " picked " + got + ", not h2"
}

// Unwrap returns the handshake's error, if any.
func (e *NegotiationError) Unwrap() error { return e.err }

// ErrClass classes it for the reports.
func (e *NegotiationError) ErrClass() metrics.ErrClass { return metrics.ErrProtocolNegotiation }

// ConnOf returns the pool's Conn behind a connection net/http reports
// (plain or TLS), or nil for a connection the pool did not make.
func ConnOf(c net.Conn) *Conn {
	switch c := c.(type) {
	case *Conn:
		return c
	case *layered:
		return c.c
	case *tls.Conn:
		// The pool's TLS (net/http needs a *tls.Conn for h2), maybe over
		// TLS to an HTTPS proxy, or net/http's over a Conn (see
		// Dialer.Track).
		return ConnOf(c.NetConn())
	}
	return nil
}

// layered is a connection over a pool's Conn: TLS to an HTTPS proxy, or
// a tunnel with bytes buffered ahead.
type layered struct {
	net.Conn
	c *Conn
}

// Remote is the address c is connected to (a proxy's, through one); the
// zero AddrPort when it is not a TCP connection.
func (c *Conn) Remote() netip.AddrPort {
	if a, ok := c.Conn.RemoteAddr().(*net.TCPAddr); ok {
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

// AddDialPhases adds the phases of c's dial that happened (DNS, connect,
// the proxy handshake, TLS) to t and returns their sum: the part of a
// request's wait for a connection spent dialing it.
func (c *Conn) AddDialPhases(t *Timings) time.Duration {
	t.Add(metrics.PhaseConnect, c.Connect)
	dial := c.Connect
	for _, ph := range [...]struct {
		p metrics.Phase
		d time.Duration
	}{{metrics.PhaseDNS, c.DNS}, {metrics.PhaseProxy, c.Proxy}, {metrics.PhaseTLS, c.TLS}} {
		if ph.d > 0 {
			t.Add(ph.p, ph.d)
			dial += ph.d
		}
	}
	return dial
}

// AddRequests counts n more requests carried by c, besides the one
// Acquire counted: pipelined requests written with it.
func (c *Conn) AddRequests(n int64) { c.requests.Add(n) }

// Acquire counts one more request carried by c and reports whether it is
// the connection's first.
func (c *Conn) Acquire() (first bool) {
	if c.answered.Load() {
		// Only net/http's engine notes answers: the http1 client's
		// connections skip the store (a locked exchange on amd64).
		c.answered.Store(false)
	}
	n := c.inflight.Add(1)
	for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
	}
	c.update(func(s uint32) uint32 { return s | stateInUse })
	return c.requests.Add(1) == 1
}

// StreamOpened counts a stream opened on c (an HTTP/2 request's headers
// written: it had its stream slot); StreamClosed its end.
func (c *Conn) StreamOpened() {
	n := c.streams.Add(1)
	for p := c.peakOpen.Load(); n > p && !c.peakOpen.CompareAndSwap(p, n); p = c.peakOpen.Load() {
	}
}

// StreamClosed counts the end of a stream StreamOpened counted.
func (c *Conn) StreamClosed() { c.streams.Add(-1) }

// PoolCountsStreams says c's pool counts the streams open on it itself
// ([Conn.StreamsOpen]) as it gives out their slots: a request's [Tracer]
// then does not. (Under Go's HTTP/2 client a stream's slot is free once
// its END_STREAM was read, before the request that had it is done.)
func (c *Conn) PoolCountsStreams() { c.ownCount.Store(true) }

// StreamsOpen records that n streams are open on c now, for its peak.
func (c *Conn) StreamsOpen(n int) {
	for p := c.peakOpen.Load(); int32(n) > p && !c.peakOpen.CompareAndSwap(p, int32(n)); p = c.peakOpen.Load() {
	}
}

// PeakStreams is the most HTTP/2 streams c had open at once: requests
// whose headers were written and that had not ended (a request handed c
// but waiting for a stream slot is not one).
func (c *Conn) PeakStreams() int { return int(c.peakOpen.Load()) }

// PeakInFlight is the most requests c was handed at once: 1 on
// HTTP/1.x; on HTTP/2 those waiting for a stream slot too.
func (c *Conn) PeakInFlight() int { return int(c.peak.Load()) }

// Last reports whether the request c was just acquired for ([Conn.Acquire])
// must be its last, and why: it is its MaxRequestsPerConn-th
// ([metrics.CloseMaxRequests]), or c is older than its MaxAge
// ([metrics.CloseLifetime]). It records that reason for c's close
// ([Conn.SetCloseReason]) then and there: the client has decided, and
// under net/http the close may come before the request's end is known
// (net/http frees a connection for the next request before the last
// one's body was read to its end). The engine asks the server to close
// and closes c after the answer.
func (c *Conn) Last() (metrics.CloseReason, bool) {
	r := metrics.CloseReason(0)
	switch {
	case c.pool.cfg.MaxRequestsPerConn > 0 && c.requests.Load() >= c.pool.cfg.MaxRequestsPerConn:
		r = metrics.CloseMaxRequests
	case c.MaxAge > 0 && time.Since(c.DialedAt) >= c.MaxAge:
		r = metrics.CloseLifetime
	default:
		return 0, false
	}
	c.SetCloseReason(r)
	return r, true
}

// Expired reports whether c, idle, is past its MaxAge: a pool that owns
// its idle list closes it ([metrics.CloseLifetime]) rather than reuse it.
func (c *Conn) Expired() bool {
	return c.MaxAge > 0 && time.Since(c.DialedAt) >= c.MaxAge
}

// NoteAnswered records that the request on c got its whole answer (the
// body read to its end) without an error. Call it before [Conn.Release].
// A connection closed after such a request for no reason the engine saw
// is put down to net/http's wait for its writer ([metrics.CloseWriteLate]).
func (c *Conn) NoteAnswered() { c.answered.Store(true) }

// Requests is the number of requests c has carried so far.
func (c *Conn) Requests() int64 { return c.requests.Load() }

// TakeBytes returns the wire bytes read and written on c since the last
// call, so that each request is charged with the bytes of its exchange
// and the total over all calls (and the close) is exact.
func (c *Conn) TakeBytes() (received, sent int64) {
	received, sent = c.xrx, c.xtx
	if c.xrx|c.xtx != 0 { // only Exchange's connections write them
		c.xrx, c.xtx = 0, 0
	}
	// A counter that did not move since the last take is not swapped
	// (a locked instruction): an HTTP/1.1 request's bytes usually all
	// went through Exchange.
	if rx := c.rx.Load(); rx != c.seenRx.Load() {
		received += rx - c.seenRx.Swap(rx)
	}
	if tx := c.tx.Load(); tx != c.seenTx.Load() {
		sent += tx - c.seenTx.Swap(tx)
	}
	return received, sent
}

// Release marks the end of a request on c at now (the Pool's clock).
//
// Call it once the request's outcome is known and any reason for closing
// is set: a connection net/http closed during the request is reported to
// the pool's observer now.
func (c *Conn) Release(now time.Duration) {
	c.lastUse.Store(int64(now))
	if c.inflight.Add(-1) > 0 {
		return // an HTTP/2 connection with other streams open
	}
	if c.update(func(s uint32) uint32 { return s &^ stateInUse }) {
		c.pool.closed(c)
	}
}

// InUse reports whether c is carrying a request.
func (c *Conn) InUse() bool { return c.state.Load()&stateInUse != 0 }

// Lifetime is how long c has been open (until its close, once closed).
func (c *Conn) Lifetime() time.Duration {
	if d := c.closedAt.Load(); d != 0 {
		return time.Duration(d)
	}
	return time.Since(c.DialedAt)
}

// ServerIdleClose reports whether the server closed c while it was idle,
// and how long it had been idle then: an estimate of the server's
// keep-alive timeout.
func (c *Conn) ServerIdleClose() (time.Duration, bool) {
	d := c.idleClose.Load()
	return time.Duration(d - 1), d != 0
}

// SetCloseReason records why c is about to be closed, when the caller knows
// it first (a PutIdleConn error, a "Connection: close" response). The first
// reason set wins.
func (c *Conn) SetCloseReason(r metrics.CloseReason) {
	c.reason.CompareAndSwap(0, int32(r)+1)
}

// TimeReads has Read measure the busy time of the one goroutine that
// reads c from now on (an HTTP/2 connection's reader: it alone calls
// Read): the time between a Read returning and its next Read call, spent
// on what it read (TLS records decrypted, frames handled, answers handed
// to their requests), as opposed to the time it waited inside Read for
// the socket. It costs two readings of the monotonic clock per Read.
// Call it before that goroutine starts, and before [Conn.ReadBusy].
func (c *Conn) TimeReads() {
	c.readBase = time.Now()
	c.readFrom = c.readBase.Sub(c.DialedAt)
	c.timed = true
}

// ReadBusy reports the time since [Conn.TimeReads] to c's close (or now,
// while it is open), and how much of it the reader was busy (see
// TimeReads), counting the time it has been busy since its last Read
// returned when it is not in a Read now; ok is false when c's reads were
// not timed.
func (c *Conn) ReadBusy() (busy, span time.Duration, ok bool) {
	if !c.timed {
		return 0, 0, false
	}
	span = max(c.Lifetime()-c.readFrom, 0)
	if m := c.readMark.Load(); m < 0 {
		busy = time.Duration(-m - 1)
	} else {
		busy = span - time.Duration(m)
	}
	return min(max(busy, 0), span), span, true
}

// Read reads from the TCP connection and counts the bytes. An EOF or a
// reset means the server closed the connection.
func (c *Conn) Read(b []byte) (int, error) {
	var n int
	var err error
	if c.pending != nil {
		err, c.pending = c.pending, nil
	} else if c.timed {
		// The read hooks count as waiting, not busy: the HTTP/2 reader's
		// yields there let its clients run.
		t := time.Since(c.readBase)
		c.readMark.Store(-int64(t-c.readWait) - 1)
		n, err = c.hookedRead(b)
		c.readWait += time.Since(c.readBase) - t
		c.readMark.Store(int64(c.readWait))
	} else if c.raw != nil || c.hooks.Before != nil || c.hooks.After != nil {
		n, err = c.hookedRead(b)
	} else {
		n, err = c.Conn.Read(b)
		if n > 0 {
			c.lastRead.Store(int64(c.pool.now()))
		}
	}
	c.rx.Add(int64(n))
	if err != nil {
		c.noteReset(err)
	}
	if err != nil && (err == io.EOF || errors.Is(err, syscall.ECONNRESET)) {
		if !c.InUse() {
			// net/http's read loop waits on every idle connection; an EOF
			// there is the server's idle timeout.
			c.NoteServerIdleClose()
		} else if c.Proto != metrics.ProtoH2 || err != io.EOF {
			// On HTTP/2 an EOF while a stream is open is the server
			// closing after its GOAWAY, its last answer maybe whole: a
			// request it cut fails and says so (RequestFailed).
			c.SetCloseReason(metrics.CloseServer)
		}
	}
	return n, err
}

// QuickClose is how soon after its last request's end a connection the
// server closed counts as closed after that request (without saying so:
// no "Connection: close"), not for sitting idle: no keep-alive timeout is
// this short, and a server that closes after each answer is seen this
// soon, or sooner, on the next request.
const QuickClose = 50 * time.Millisecond

// NoteServerIdleClose records that the server closed c while it sat idle,
// and for how long it had been idle then. A close seen within
// [QuickClose] of the last request's end is the server closing after
// that request ([metrics.CloseServer]). At the run's end nothing is noted: the
// run closed its connections itself, and what a server answers to that
// (a TLS close_notify, an EOF) is not its idle timeout.
func (c *Conn) NoteServerIdleClose() {
	if c.pool.ending.Load() {
		return
	}
	since := time.Duration(c.lastUse.Load())
	if since == 0 {
		since = c.pool.since(c.DialedAt)
	}
	if r := time.Duration(c.lastRead.Load()); r > 0 && r < since {
		since = r // the answer's last bytes came before its release
	}
	idle := c.pool.now() - since
	if idle < QuickClose && c.requests.Load() > 0 {
		r := metrics.CloseServer
		if c.Proto == metrics.ProtoH2 {
			// An HTTP/2 server ends a connection it keeps no more with a
			// GOAWAY (RFC 9113 6.8), and closes it when its streams are
			// done: just after the last one, as here.
			r = metrics.CloseGoAway
		}
		c.reason.Store(int32(r) + 1)
		return
	}
	if c.idleClose.CompareAndSwap(0, int64(max(idle, 0))+1) {
		// Definite: it overrides a guess made while reading (an EOF on a
		// connection that had just been handed a request).
		c.reason.Store(int32(metrics.CloseServerIdle) + 1)
	}
}

// Write writes to the TCP connection and counts the bytes.
func (c *Conn) Write(b []byte) (int, error) {
	var n int
	var err error
	if c.raw != nil {
		n, err = c.rawWrite(b)
	} else {
		n, err = c.Conn.Write(b)
	}
	c.tx.Add(int64(n))
	if err != nil {
		c.noteReset(err)
	}
	return n, err
}

// noteReset keeps err when it is c's first read or write that failed as
// a reset (a TCP RST, a broken pipe).
func (c *Conn) noteReset(err error) {
	if c.reset.Load() == nil && metrics.Classify(err) == metrics.ErrReset {
		c.reset.CompareAndSwap(nil, &err)
	}
}

// h2ForceClosed is Go's HTTP/2 client's error for a stream of a
// connection closed by ClientConn.Close.
const h2ForceClosed = "http2: client connection force closed via ClientConn.Close"

// ResetCause is err, a request's error on c, with c's reset as its cause
// when err is Go's HTTP/2 "client connection force closed" and a read or
// write on c failed as a reset: Go's client closes the connection itself
// after a write failed (the reset seen by that write, whose reads then
// see only an EOF), and its other streams fail as closed by ClientConn.Close,
// an eof, before its read loop fails them with the reset. The class is
// then the reset's, as on HTTP/1.1 and on the default engine, which fail
// every stream with the connection's first error.
func (c *Conn) ResetCause(err error) error {
	if err == nil {
		return nil
	}
	r := c.reset.Load()
	if r == nil || !strings.Contains(err.Error(), h2ForceClosed) {
		return err
	}
	return &resetCauseError{err: err, cause: *r}
}

// resetCauseError is a stream Go closed after its connection's reset.
type resetCauseError struct{ err, cause error }

func (e *resetCauseError) Error() string { return e.cause.Error() + " (" + e.err.Error() + ")" }
func (e *resetCauseError) Unwrap() error { return e.cause }

// Close closes the connection once and reports it to the pool's observer
// with the reason it ended (when it carries no request; otherwise when the
// request is released).
func (c *Conn) Close() error {
	var err error
	if c.raw.idling() {
		// From the read hooks' Idle (a write that failed), inside a raw
		// read, or while the reader is there: the descriptor's close waits
		// for that read to let it go, so it is made on another goroutine;
		// the read's wait ends at once, seeing the close.
		go c.Conn.Close()
	} else {
		err = c.Conn.Close()
	}
	c.closeOnce.Do(func() {
		c.closedAt.Store(int64(max(time.Since(c.DialedAt), 1)))
		if c.update(func(s uint32) uint32 { return s | stateClosed }) {
			c.pool.closed(c)
		}
	})
	return err
}

// closeReason decides why c closed, given what was recorded before Close.
func (c *Conn) closeReason(p *Dialer) metrics.CloseReason {
	// Without keep-alives every connection closes after its request, by
	// the client's choice, whatever else was seen on the way.
	if p.cfg.DisableKeepAlives && c.requests.Load() > 0 {
		return metrics.CloseKeepAlivesDisabled
	}
	if r := c.reason.Load(); r != 0 {
		return metrics.CloseReason(r - 1)
	}
	if p.ending.Load() {
		return metrics.CloseRunEnd
	}
	// net/http closes a connection idle for IdleConnTimeout from a timer,
	// with no hook; recognise it by how long the connection sat unused.
	last := c.lastUse.Load()
	if last == 0 {
		last = int64(p.since(c.DialedAt))
	}
	if idle := time.Duration(int64(p.now()) - last); idle >= p.cfg.IdleConnTimeout*9/10 {
		return metrics.CloseIdleTimeout
	}
	if c.requests.Load() == 0 {
		return metrics.CloseUnused
	}
	if c.Proto == metrics.ProtoH2 {
		// Go's HTTP/2 client closes a connection with no error in one
		// case besides the run's end and the idle timer: the server's
		// GOAWAY (it has no write-late rule), after the streams below its
		// last stream id ended; the last request handed the connection
		// may have been one above it, which Go sent again on another
		// connection, unanswered here.
		return metrics.CloseGoAway
	}
	// net/http closes a connection without a hook after an answer read
	// whole in one case only: its writer had not reported the request
	// written 50 ms after the answer (persistConn.wroteRequest). Its other
	// silent closes leave a reason: an EOF seen by Read, a canceled
	// request, a PutIdleConn error, the run's end, the idle timer.
	if c.answered.Load() {
		return metrics.CloseWriteLate
	}
	return metrics.CloseOther
}
