package h2

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"math"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The client's receive windows: what it announces (SETTINGS_INITIAL_WINDOW_SIZE
// for each stream, and the connection's window raised at the start), and
// gives back in WINDOW_UPDATE frames once half is used.
const (
	streamWindow = 4 << 20
	connWindow   = 1 << 30
	// defaultLimit is the streams a connection carries when the server
	// sets no MAX_CONCURRENT_STREAMS and the client no cap.
	defaultLimit = 1000
	// maxStreamID is the last client stream id (2^31-1).
	maxStreamID = 1<<31 - 1
)

// Conn is one HTTP/2 connection: a reader goroutine demultiplexing frames
// to streams, writes coalesced by whoever finds the socket free.
type Conn struct {
	p  *Pool
	h  *host
	tc *transport.Conn // the counted TCP connection
	nc net.Conn        // tc, or TLS over it
	// tlsState is nc's TLS state (nil on h2c), for the answers' captures.
	tlsState *tls.ConnectionState
	br       *bufio.Reader
	fr       *http2.Framer // reads (the reader goroutine's)

	dec    *decoder // the reader's; emits to cur
	emitFn func(name, value []byte)
	block  []byte // a header block split over CONTINUATION frames

	// The write side, under wmu: frames are appended to wbuf; the
	// goroutine that finds no flush running writes them (and whatever
	// others append meanwhile) to the socket, outside the lock.
	wmu      sync.Mutex
	wbuf     []byte
	wspare   []byte
	flushing bool
	// rflush: the reader has read from the socket and will flush the
	// queued frames before it next reads from it (beforeRead), so a
	// client that queues a request's frames meanwhile leaves them.
	rflush bool
	queued int // HEADERS queued since the reader's last beforeRead
	werr   error
	fw     *http2.Framer // writes into wbuf
	hbuf   []byte        // a header block with an added field

	// Under mu: the streams, windows and the connection's state.
	mu       sync.Mutex
	streams  map[uint32]*stream
	nextID   uint32
	maxFrame uint32 // the server's SETTINGS_MAX_FRAME_SIZE
	peerWin  int32  // the server's SETTINGS_INITIAL_WINDOW_SIZE
	sendWin  int32  // the connection's send window
	winCh    chan struct{}
	winWait  int // goroutines waiting on winCh
	goaway   bool
	lastID   uint32        // the GOAWAY's last stream id
	goawayEr http2.ErrCode // its code
	dead     error
	recvConn int32 // bytes received and not given back

	// The pool's, under p.mu.
	active    int           // streams open, and slots handed out
	limit     int           // min(the server's MAX_CONCURRENT_STREAMS, the pool's cap)
	started   int64         // streams started on this connection
	peak      int           // the most streams at once
	idleSince time.Duration // when active fell to 0, on the dialer's clock
	gone      bool          // takes no new streams (GOAWAY, dead, out of ids)
	closing   bool          // closed, or about to be, by the pool

	// ending is set by the reader, before anything else, when a GOAWAY
	// came or it ended: the pool hands the connection to no request from
	// then on, even before gone is set (a request handed it would find it
	// ending, go again at once, and be handed it again).
	ending atomic.Bool

	ready    chan struct{} // closed at the server's first SETTINGS, or the reader's end
	readyErr error         // set before ready is closed when the reader ended first

	// The reader's.
	cur        *stream // the stream whose header block is being decoded (nil: none wanted)
	curEnd     bool    // END_STREAM on the HEADERS of that block
	inBlock    bool
	settings   bool   // the server's first SETTINGS was read
	flushAfter bool   // control frames were queued: flush once no frame is buffered
	hdrBuf     []byte // a HEADERS frame's payload
	pingSent   time.Duration
	pingData   [8]byte
	woke       int // streams ended since the last read from the socket
	deferred   int // flushes put off for answers waiting in the socket, in a row

	// Liveness (--h2-ping-timeout, Pool.pingAfter > 0): the reader counts
	// the frames it reads; a timer, every pingAfter, sends a PING when
	// none came since its last look, and ends the connection when that
	// PING's ACK has not come by the next one.
	frames     atomic.Uint32
	lastFrames atomic.Uint32
	liveSent   atomic.Int64 // when the PING out was sent (dialer's clock); 0: none out
	pingT      *time.Timer
	pingErr    atomic.Pointer[PingTimeoutError]
	ended      atomic.Bool // the reader ended: the timer stops
}

// livePing is the payload of liveness PINGs (the first PING, measuring
// one round trip, carries "faya").
var livePing = [8]byte{'f', 'a', 'y', 'a', 'l', 'i', 'v', 'e'}

// checkAlive is the liveness timer's look at c (see Conn.frames).
func (c *Conn) checkAlive() {
	after := c.p.pingAfter
	if c.ended.Load() {
		return
	}
	if c.liveSent.Load() != 0 {
		if c.pingErr.CompareAndSwap(nil, &PingTimeoutError{After: after}) {
			c.p.rec.H2Ping(-1) // not answered in time
		}
		c.tc.SetCloseReason(closeH2Error)
		_ = c.nc.Close() // the reader ends and fails the streams
		return
	}
	if n := c.frames.Load(); n != c.lastFrames.Swap(n) {
		c.pingT.Reset(after) // frames came: alive
		return
	}
	c.liveSent.Store(int64(max(c.p.d.Now(), 1)))
	c.wmu.Lock()
	_ = c.fw.WritePing(false, livePing)
	c.unlockAndFlush()
	c.pingT.Reset(after)
}

// stream is one request's exchange on a connection. A client reuses its
// stream from request to request, unless it gave one up (a timeout) while
// the reader could still touch it.
type stream struct {
	id    uint32
	wake  chan struct{} // its client's alarm: rung when the stream ends
	ended atomic.Bool   // set (by finish) once the fields below are final

	// Set by the client before the stream starts.
	head       bool
	maxBody    int64
	capture    *[]byte
	captureMax int64
	onHeader   func(name, value []byte)
	follow     bool // decode Location on a 3xx answer

	// Set by the reader under c.mu; read by the client after done.
	status     int
	firstHdr   time.Duration // the final answer's HEADERS
	end        time.Duration
	bodyBytes  int64
	truncated  bool
	location   string
	hdrBytes   int // decoded, as RFC 9113 counts them (32 more per field)
	blockBytes int // encoded
	hdrErr     error
	err        error
	final      bool // the final (non-1xx) HEADERS came
	finished   bool
	sendWin    int32 // the stream's send window
	recv       int32 // bytes received and not given back
}

func newStream(wake chan struct{}) *stream { return &stream{wake: wake} }

// reset readies s for a new request.
func (s *stream) reset() {
	*s = stream{wake: s.wake}
}

// appender is the write framer's writer: it appends to the connection's
// write buffer (wmu is held).
type appender struct{ c *Conn }

func (a appender) Write(b []byte) (int, error) {
	a.c.wbuf = append(a.c.wbuf, b...)
	return len(b), nil
}

// tlsState returns nc's TLS state, or nil when nc is not TLS.
func tlsState(nc net.Conn) *tls.ConnectionState {
	t, ok := nc.(*tls.Conn)
	if !ok {
		return nil
	}
	st := t.ConnectionState()
	return &st
}

// newConn starts the HTTP/2 connection over nc: the preface, SETTINGS,
// the connection window raised, and the reader goroutine.
func newConn(p *Pool, h *host, tc *transport.Conn, nc net.Conn) *Conn {
	c := &Conn{
		p: p, h: h, tc: tc, nc: nc, tlsState: tlsState(nc),
		streams:  map[uint32]*stream{},
		nextID:   1,
		maxFrame: 16384,
		peerWin:  65535,
		sendWin:  65535,
		winCh:    make(chan struct{}),
		ready:    make(chan struct{}),
		limit:    1,
	}
	// Raw system calls for the socket's reads and writes: no hand-off of
	// the P to another thread during a write (transport.Conn.RawIO).
	tc.RawIO()
	c.br = bufio.NewReaderSize(nc, 32<<10)
	c.fr = http2.NewFramer(nil, c.br)
	c.fr.SetReuseFrames()
	c.fr.SetMaxReadFrameSize(16384)
	c.dec = newDecoder(4096, p.maxHeader)
	c.emitFn = c.emit
	c.fw = http2.NewFramer(appender{c}, nil)
	c.wmu.Lock()
	c.wbuf = append(c.wbuf, http2.ClientPreface...)
	_ = c.fw.WriteSettings(
		http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: streamWindow},
	)
	_ = c.fw.WriteWindowUpdate(0, connWindow-65535)
	c.unlockAndFlush()
	if p.pingAfter > 0 {
		c.pingT = time.AfterFunc(time.Hour, c.checkAlive)
		c.pingT.Reset(p.pingAfter)
	}
	tc.TimeReads() // the reader's busy time, for the report (read_loop_busy)
	go c.readLoop()
	return c
}

// unlockAndFlush writes the queued frames unless another goroutine is
// writing (it will write them too), and unlocks wmu.
func (c *Conn) unlockAndFlush() {
	if c.flushing {
		c.wmu.Unlock()
		return
	}
	c.flushing = true
	for len(c.wbuf) > 0 && c.werr == nil {
		buf := c.wbuf
		c.wbuf = c.wspare[:0]
		c.wmu.Unlock()
		_, err := c.nc.Write(buf)
		c.wmu.Lock()
		c.wspare = buf[:0]
		if err != nil {
			c.werr = err
		}
	}
	c.wbuf = c.wbuf[:0]
	failed := c.werr != nil
	c.flushing = false
	c.wmu.Unlock()
	if failed {
		_ = c.nc.Close() // the reader ends and fails the streams
	}
}

// flush writes what was queued.
func (c *Conn) flush() {
	c.wmu.Lock()
	c.unlockAndFlush()
}

// writeHeaders queues a HEADERS frame (and CONTINUATIONs) carrying
// block. wmu is held.
func (c *Conn) writeHeaders(id uint32, block []byte, endStream bool, maxFrame uint32) {
	first := block
	if uint32(len(first)) > maxFrame {
		first = first[:maxFrame]
	}
	rest := block[len(first):]
	_ = c.fw.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndStream: endStream, EndHeaders: len(rest) == 0})
	for len(rest) > 0 {
		n := min(uint32(len(rest)), maxFrame)
		_ = c.fw.WriteContinuation(id, int(n) == len(rest), rest[:n])
		rest = rest[n:]
	}
}

// start opens stream st for r: an id, the HEADERS (with cookie, when
// set, as one more field), then the body within the flow-control
// windows. A wait for window ends when ctx is done or the request's
// deadline (due) passes, as a says. It returns an *errUnprocessed when
// the connection took no stream.
func (c *Conn) start(ctx context.Context, st *stream, r *Request, cookie string, due time.Duration, a *alarm) error {
	c.mu.Lock()
	if c.dead != nil || c.goaway || c.nextID > maxStreamID {
		err := c.dead
		first := c.nextID == 1 && c.goaway && c.goawayEr != http2.ErrCodeNo
		if first && err == nil {
			err = &ConnError{Code: c.goawayEr, Remote: true}
		}
		c.mu.Unlock()
		return &errUnprocessed{goaway: true, unsent: true, cause: err, final: first}
	}
	st.id = c.nextID
	c.nextID += 2
	if c.nextID > maxStreamID {
		// The last stream id: the connection takes no more streams and
		// closes once they are done; the next requests get another.
		defer c.p.goingAway(c)
	}
	st.sendWin = c.peerWin
	c.streams[st.id] = st
	maxFrame := c.maxFrame
	// With other streams in flight, their clients are likely about to
	// write too (woken by the answers the reader just handed out): the
	// flush yields once, so that one write carries all their frames.
	yield := len(c.streams) > 1
	c.wmu.Lock()
	c.mu.Unlock()
	c.tc.StreamOpened()
	block := r.block
	if cookie != "" {
		c.hbuf = appendLiteral(append(c.hbuf[:0], block...), "cookie", cookie)
		block = c.hbuf
	}
	body := r.body
	c.writeHeaders(st.id, block, len(body) == 0, maxFrame)
	c.queued++
	if c.rflush && len(body) == 0 {
		c.wmu.Unlock() // the reader writes it before it next reads (beforeRead)
		return nil
	}
	if yield && !c.flushing {
		c.flushing = true
		c.wmu.Unlock()
		runtime.Gosched()
		c.wmu.Lock()
		c.flushing = false
	}
	c.unlockAndFlush()
	for len(body) > 0 {
		c.mu.Lock()
		if st.finished || c.dead != nil {
			c.mu.Unlock()
			return nil // answered (or failed) before the whole body was sent
		}
		n := min(len(body), int(c.maxFrame), int(st.sendWin), int(c.sendWin))
		if n <= 0 {
			ch := c.winCh
			c.winWait++
			connWin := st.sendWin > 0 // the connection's window is out, the stream's is not
			c.mu.Unlock()
			c.p.stats.FlowStalls.Add(1)
			t0 := time.Now()
			for woke := false; !woke; {
				if canceled, timeout := a.check(ctx, due); canceled != nil || timeout {
					c.p.rec.H2FlowStall(time.Since(t0), connWin)
					if timeout {
						return errWindowTimeout
					}
					return errWindowCanceled
				}
				select {
				case <-ch:
					woke = true
				case <-a.wake:
				}
			}
			c.p.rec.H2FlowStall(time.Since(t0), connWin)
			c.mu.Lock()
			c.winWait--
			c.mu.Unlock()
			continue
		}
		st.sendWin -= int32(n)
		c.sendWin -= int32(n)
		c.wmu.Lock()
		c.mu.Unlock()
		_ = c.fw.WriteData(st.id, n == len(body), body[:n])
		c.unlockAndFlush()
		body = body[n:]
	}
	return nil
}

var (
	errWindowTimeout  = errors.New("h2: waiting for the server's flow-control window")
	errWindowCanceled = errors.New("h2: canceled waiting for the server's flow-control window")
)

// appendLiteral appends a literal header field without indexing (RFC
// 7541 6.2.2, new name) to dst.
func appendLiteral(dst []byte, name, value string) []byte {
	dst = appendVarInt(dst, 4, 0, 0)
	dst = appendString(dst, name)
	return appendString(dst, value)
}

func appendString(dst []byte, s string) []byte {
	if n := hpack.HuffmanEncodeLength(s); n < uint64(len(s)) {
		dst = appendVarInt(dst, 7, 0x80, n)
		return hpack.AppendHuffmanString(dst, s)
	}
	dst = appendVarInt(dst, 7, 0, uint64(len(s)))
	return append(dst, s...)
}

// appendVarInt appends i as an HPACK integer with an n-bit prefix, the
// prefix's other bits set to first.
func appendVarInt(dst []byte, n byte, first byte, i uint64) []byte {
	k := uint64((1 << n) - 1)
	if i < k {
		return append(dst, first|byte(i))
	}
	dst = append(dst, first|byte(k))
	i -= k
	for ; i >= 128; i >>= 7 {
		dst = append(dst, byte(0x80|(i&0x7f)))
	}
	return append(dst, byte(i))
}

func errHeaderLimit(n int) error {
	return &ProtocolError{"response headers over " + strconv.Itoa(n) + " bytes"}
}

// abandon gives up st (a timeout, a cancel): it leaves the map, and
// RST_STREAM(CANCEL) is queued for the server (the caller flushes). It
// reports false when the reader had finished it first (its result
// stands). c.mu is held.
func (c *Conn) abandon(st *stream) bool {
	if st.finished {
		return false
	}
	st.finished = true
	delete(c.streams, st.id)
	if c.dead == nil && st.id != 0 {
		c.wmu.Lock()
		_ = c.fw.WriteRSTStream(st.id, http2.ErrCodeCancel)
		c.wmu.Unlock()
	}
	return true
}

// finish ends st with err (nil: the answer was read whole). c.mu is held.
func (c *Conn) finish(st *stream, err error) {
	if st.finished {
		return
	}
	st.finished = true
	st.err = err
	st.end = c.p.d.Now()
	delete(c.streams, st.id)
	wake := st.wake // read before ended: from then on the client may reset st
	st.ended.Store(true)
	c.woke++
	select {
	case wake <- struct{}{}:
	default: // a token is there already: the client looks at ended
	}
}

// readLoop reads frames until the connection fails or closes.
func (c *Conn) readLoop() {
	c.tc.SetReadHooks(transport.ReadHooks{Before: c.beforeRead, Idle: c.idle, After: c.afterRead})
	var err error
	var fh http2.FrameHeader
	for {
		if d := readerDelay.Load(); d != 0 {
			time.Sleep(time.Duration(d)) // SlowReaders: tests only
		}
		var f http2.Frame
		fh, err = c.fr.ReadFrameHeader() // the framer checks sizes and the HEADERS/CONTINUATION order
		if err == nil && fh.Type == http2.FrameHeaders && c.settings {
			if c.pingT != nil {
				c.frames.Add(1)
			}
			// Parsed here: the framer allocates a HeadersFrame each.
			if err = c.readHeaders(fh); err != nil {
				break
			}
			if c.flushAfter && c.br.Buffered() == 0 {
				c.flushAfter = false
				c.flush()
			}
			continue
		}
		if err == nil {
			if c.pingT != nil {
				c.frames.Add(1)
			}
			f, err = c.fr.ReadFrameForHeader(fh)
		}
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				c.resetStream(se.StreamID, se.Code, &ProtocolError{se.Error()})
				continue
			}
			break
		}
		if err = c.handle(f); err != nil {
			break
		}
		if c.flushAfter && c.br.Buffered() == 0 {
			c.flushAfter = false
			c.flush()
		}
	}
	if !c.settings && errors.Is(err, http2.ErrFrameTooLarge) && fh.Length == 'H'<<16|'T'<<8|'T' && fh.Type == 'P' && fh.Flags == '/' {
		// The first "frame" was an HTTP/1.x answer to the preface: its
		// header's bytes are "HTTP/" (the net/http engine's sniffer's
		// test). Other bytes too large for a frame are not HTTP/1.x:
		// a protocol error, as on the net/http engine.
		c.tc.SetCloseReason(metrics.CloseHandshakeFailed)
		err = &NotH2Error{Err: err}
	}
	c.fail(err)
}

// beforeRead runs on the reader before each read from the socket (see
// transport.Conn.SetReadHooks), afterRead after it. Between the two
// the reader processes what it read, and the clients whose streams it
// ended queue their next requests' frames (once it yields, or on other
// Ps): beforeRead writes them all, in one write, as an event loop writes
// once per turn (h2load does), unless more answers may be waiting in the
// socket: then it puts the write off (it returns true), and the read
// takes what the socket has without waiting (the transport tries it
// once), so that the clients of those answers queue their requests for
// the same write, at most maxDefer times in a row and while less than
// 16 KiB is queued. When the socket has nothing, idle writes the queued
// frames before the read waits; a client that queues frames while the
// reader waits writes them itself (start).
func (c *Conn) beforeRead() (putOff bool) {
	if woke := c.woke; woke > 0 {
		// The clients woken run, and queue their frames: a yield lets
		// at most 61 goroutines run first (the scheduler's fairness
		// check), so up to maxYield while they have not all queued one
		// (a client may end its iteration instead).
		c.woke = 0
		for range maxYield {
			runtime.Gosched()
			c.wmu.Lock()
			queued := c.queued
			c.wmu.Unlock()
			if queued >= woke {
				break
			}
		}
	}
	c.wmu.Lock()
	c.queued = 0
	if len(c.wbuf) > 0 && !c.flushing && c.deferred < maxDefer && len(c.wbuf) < 16<<10 {
		c.deferred++
		c.wmu.Unlock()
		return true
	}
	c.writeQueued()
	return false
}

// idle writes the frames beforeRead put off: the socket had nothing to
// read.
func (c *Conn) idle() {
	c.wmu.Lock()
	c.writeQueued()
}

// writeQueued writes what is queued (unless a client is writing: it
// writes all of it), and unlocks wmu: the reader is about to wait, and
// the clients that queue frames from now on write them.
func (c *Conn) writeQueued() {
	c.deferred = 0
	c.rflush = false
	if len(c.wbuf) > 0 && !c.flushing {
		c.unlockAndFlush()
		return
	}
	c.wmu.Unlock()
}

// maxDefer bounds the writes beforeRead puts off in a row, maxYield its
// yields for the clients it woke.
const (
	maxDefer = 4
	maxYield = 3
)

func (c *Conn) afterRead() {
	c.wmu.Lock()
	c.rflush = true
	c.wmu.Unlock()
}

// readHeaders reads a HEADERS frame's payload (after its header fh) and
// decodes its fragment.
func (c *Conn) readHeaders(fh http2.FrameHeader) error {
	if fh.StreamID == 0 {
		return connErr{http2.ErrCodeProtocol, "HEADERS frame with stream ID 0"}
	}
	if cap(c.hdrBuf) < int(fh.Length) {
		c.hdrBuf = make([]byte, fh.Length)
	}
	p := c.hdrBuf[:fh.Length]
	if _, err := io.ReadFull(c.br, p); err != nil {
		return err
	}
	pad := 0
	if fh.Flags.Has(http2.FlagHeadersPadded) {
		if len(p) < 1 {
			return connErr{http2.ErrCodeProtocol, "HEADERS frame too short for its padding"}
		}
		pad, p = int(p[0]), p[1:]
	}
	if fh.Flags.Has(http2.FlagHeadersPriority) {
		if len(p) < 5 {
			return connErr{http2.ErrCodeProtocol, "HEADERS frame too short for its priority"}
		}
		p = p[5:]
	}
	if pad > len(p) {
		c.resetStream(fh.StreamID, http2.ErrCodeProtocol, &ProtocolError{"HEADERS padding longer than the frame"})
		return nil
	}
	return c.onHeaders(fh.StreamID, p[:len(p)-pad], fh.Flags.Has(http2.FlagHeadersEndHeaders), fh.Flags.Has(http2.FlagHeadersEndStream))
}

// queue writes a control frame through w (wmu held) for the next flush.
func (c *Conn) queue(w func(*http2.Framer) error) {
	c.wmu.Lock()
	_ = w(c.fw)
	c.wmu.Unlock()
	c.flushAfter = true
}

// connErr is a connection error the client detects: it sends GOAWAY
// with code and ends the connection.
type connErr struct {
	code http2.ErrCode
	msg  string
}

func (e connErr) Error() string { return e.code.String() + ": " + e.msg }

func (c *Conn) handle(f http2.Frame) error {
	fh := f.Header()
	if !c.settings {
		if _, ok := f.(*http2.SettingsFrame); !ok || fh.Flags.Has(http2.FlagSettingsAck) {
			return connErr{http2.ErrCodeProtocol, "the server's first frame is not SETTINGS"}
		}
	}
	switch f := f.(type) {
	case *http2.SettingsFrame:
		return c.onSettings(f)
	case *http2.HeadersFrame: // only before the first SETTINGS, refused above
	case *http2.ContinuationFrame:
		return c.onHeaders(fh.StreamID, f.HeaderBlockFragment(), f.HeadersEnded(), false)
	case *http2.DataFrame:
		return c.onData(f)
	case *http2.RSTStreamFrame:
		c.p.stats.noteRST(f.ErrCode)
		c.p.rec.H2RSTStream(metrics.H2Code(f.ErrCode), f.ErrCode == http2.ErrCodeRefusedStream)
		if f.ErrCode == http2.ErrCodeRefusedStream {
			c.resetStream(fh.StreamID, 0, &errUnprocessed{})
		} else {
			c.resetStream(fh.StreamID, 0, &StreamError{Code: f.ErrCode})
		}
	case *http2.WindowUpdateFrame:
		return c.onWindowUpdate(fh.StreamID, f.Increment)
	case *http2.PingFrame:
		if f.IsAck() {
			if f.Data == livePing {
				if sent := c.liveSent.Swap(0); sent > 0 {
					rtt := c.p.d.Now() - time.Duration(sent)
					c.p.stats.notePing(rtt)
					c.p.rec.H2Ping(rtt)
				}
				return nil
			}
			if f.Data == c.pingData && c.pingSent > 0 {
				rtt := c.p.d.Now() - c.pingSent
				c.p.stats.notePing(rtt)
				c.p.rec.H2Ping(rtt)
				c.pingSent = 0
			}
			return nil
		}
		data := f.Data
		c.queue(func(fw *http2.Framer) error { return fw.WritePing(true, data) })
	case *http2.GoAwayFrame:
		c.onGoAway(f.LastStreamID, f.ErrCode)
	case *http2.PushPromiseFrame:
		return connErr{http2.ErrCodeProtocol, "PUSH_PROMISE with push disabled"}
	}
	return nil
}

func (c *Conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	if err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingMaxConcurrentStreams:
			c.p.stats.noteMaxStreams(s.Val)
			c.p.setLimit(c, int(min(s.Val, math.MaxInt32)))
		case http2.SettingInitialWindowSize:
			c.mu.Lock()
			delta := int32(s.Val) - c.peerWin
			c.peerWin = int32(s.Val)
			for _, st := range c.streams {
				st.sendWin += delta
			}
			c.windowGrew()
			c.mu.Unlock()
		case http2.SettingMaxFrameSize:
			c.mu.Lock()
			c.maxFrame = s.Val
			c.mu.Unlock()
		}
		return nil
	}); err != nil {
		var ce http2.ConnectionError
		if errors.As(err, &ce) {
			return connErr{http2.ErrCode(ce), err.Error()}
		}
		return err
	}
	c.queue(func(fw *http2.Framer) error { return fw.WriteSettingsAck() })
	var maxStreams uint32
	has := false
	_ = f.ForeachSetting(func(s http2.Setting) error {
		if s.ID == http2.SettingMaxConcurrentStreams {
			maxStreams, has = s.Val, true
		}
		return nil
	})
	c.p.rec.H2Settings(maxStreams, has, !c.settings)
	if !c.settings {
		c.settings = true
		// Without MAX_CONCURRENT_STREAMS in its first SETTINGS, the
		// server sets no limit.
		if !has {
			c.p.setLimit(c, defaultLimit)
		}
		// Measure one round trip: the PING's answer.
		c.pingSent = c.p.d.Now()
		c.pingData = [8]byte{'f', 'a', 'y', 'a'}
		c.queue(func(fw *http2.Framer) error { return fw.WritePing(false, c.pingData) })
		close(c.ready)
	}
	return nil
}

// windowGrew wakes the writers waiting for window. c.mu is held.
func (c *Conn) windowGrew() {
	if c.winWait > 0 {
		close(c.winCh)
		c.winCh = make(chan struct{})
	}
}

func (c *Conn) onWindowUpdate(id, incr uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id == 0 {
		if int64(c.sendWin)+int64(incr) > maxStreamID {
			return connErr{http2.ErrCodeFlowControl, "connection window over 2^31-1"}
		}
		c.sendWin += int32(incr)
	} else if st := c.streams[id]; st != nil {
		if int64(st.sendWin)+int64(incr) > maxStreamID {
			c.resetStreamLocked(st, http2.ErrCodeFlowControl, &ProtocolError{"stream window over 2^31-1"})
			return nil
		}
		st.sendWin += int32(incr)
	}
	c.windowGrew()
	return nil
}

// onHeaders decodes a header block fragment for stream id.
func (c *Conn) onHeaders(id uint32, frag []byte, endHeaders, endStream bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.inBlock {
		c.inBlock = true
		c.cur = c.streams[id]
		c.curEnd = endStream
		c.block = c.block[:0]
		if c.cur != nil {
			c.cur.hdrBytes, c.cur.blockBytes = 0, 0
			if !c.cur.final {
				c.cur.status = 0
			}
		}
	}
	if st := c.cur; st != nil && st.hdrErr == nil {
		// Fields skipped (not emitted) are not counted one by one; the
		// block's encoded size bounds their decoded size from below.
		st.blockBytes += len(frag)
		if st.blockBytes > c.p.maxHeader {
			st.hdrErr = errHeaderLimit(c.p.maxHeader)
		}
	}
	if !endHeaders || len(c.block) > 0 {
		// Decoded whole once the last fragment is in; bounded, since the
		// table's state depends on every byte of it.
		if len(c.block)+len(frag) > 2*c.p.maxHeader+64<<10 {
			return connErr{http2.ErrCodeEnhanceYourCalm, "header block over " + strconv.Itoa(2*c.p.maxHeader+64<<10) + " bytes"}
		}
		c.block = append(c.block, frag...)
		if !endHeaders {
			return nil
		}
		frag = c.block
	}
	c.inBlock = false
	if err := c.dec.decode(frag, c.emitFn); err != nil {
		return connErr{http2.ErrCodeCompression, err.Error()}
	}
	st := c.cur
	c.cur = nil
	if st == nil {
		return nil
	}
	switch {
	case st.hdrErr != nil:
		c.resetStreamLocked(st, http2.ErrCodeCancel, st.hdrErr)
	case st.final:
		// Trailers: they end the stream.
		if !c.curEnd {
			c.resetStreamLocked(st, http2.ErrCodeProtocol, &ProtocolError{"trailers without END_STREAM"})
			return nil
		}
		c.finish(st, nil)
	case st.status == 0:
		c.resetStreamLocked(st, http2.ErrCodeProtocol, &ProtocolError{"response without :status"})
	case st.status < 200 && st.status != 101:
		// An informational answer (100, 103): the final one follows.
		if c.curEnd {
			c.resetStreamLocked(st, http2.ErrCodeProtocol, &ProtocolError{"1xx answer with END_STREAM"})
		}
	default:
		st.final = true
		st.firstHdr = c.p.d.Now()
		if c.curEnd {
			c.finish(st, nil)
		}
	}
	return nil
}

// emit takes one decoded field of the block being decoded.
func (c *Conn) emit(name, value []byte) {
	st := c.cur
	if st == nil || st.hdrErr != nil {
		c.dec.skip = true
		return
	}
	st.hdrBytes += len(name) + len(value) + 32
	if st.hdrBytes > c.p.maxHeader {
		st.hdrErr = errHeaderLimit(c.p.maxHeader)
		c.dec.skip = true
		return
	}
	if string(name) == ":status" {
		n := 0
		for _, b := range value {
			if b < '0' || b > '9' {
				n = -1
				break
			}
			n = n*10 + int(b-'0')
		}
		if n < 100 || n > 999 || len(value) != 3 {
			st.hdrErr = &ProtocolError{"bad :status " + strconv.Quote(string(value))}
			return
		}
		if !st.final {
			st.status = n
		}
		if st.onHeader == nil && !(st.follow && n >= 300 && n < 400) {
			// Nothing else is wanted from this block: skip its strings
			// (fields added to the dynamic table are still decoded).
			c.dec.skip = true
		}
		return
	}
	if st.final {
		return // a trailer
	}
	if len(name) > 0 && name[0] == ':' {
		return
	}
	if string(name) == "location" {
		st.location = string(value)
	}
	if st.onHeader != nil {
		st.onHeader(name, value)
	}
}

func (c *Conn) onData(f *http2.DataFrame) error {
	id := f.Header().StreamID
	fl := int32(f.Header().Length) // flow control counts the padding too
	data := f.Data()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recvConn += fl
	if c.recvConn >= connWindow/2 {
		n := uint32(c.recvConn)
		c.recvConn = 0
		c.queue(func(fw *http2.Framer) error { return fw.WriteWindowUpdate(0, n) })
	}
	st := c.streams[id]
	if st == nil {
		return nil // a stream given up: its bytes still counted against the connection window
	}
	if !st.final {
		c.resetStreamLocked(st, http2.ErrCodeProtocol, &ProtocolError{"DATA before the response's HEADERS"})
		return nil
	}
	n := int64(len(data))
	if st.maxBody >= 0 && st.bodyBytes+n > st.maxBody {
		n = st.maxBody - st.bodyBytes
		st.truncated = true
	}
	if st.capture != nil {
		keep := min(n, st.captureMax-int64(len(*st.capture)))
		if keep > 0 {
			*st.capture = append(*st.capture, data[:keep]...)
		}
	}
	st.bodyBytes += n
	if st.truncated {
		// The cap: the rest is not read; the stream is reset.
		c.resetStreamLocked(st, http2.ErrCodeCancel, nil)
		return nil
	}
	if f.StreamEnded() {
		c.finish(st, nil)
		return nil
	}
	st.recv += fl
	if st.recv >= streamWindow/2 {
		n := uint32(st.recv)
		st.recv = 0
		sid := st.id
		c.queue(func(fw *http2.Framer) error { return fw.WriteWindowUpdate(sid, n) })
	}
	return nil
}

// resetStream ends stream id with err, and sends RST_STREAM(code) unless
// code is 0 (the server reset it).
func (c *Conn) resetStream(id uint32, code http2.ErrCode, err error) {
	c.mu.Lock()
	if st := c.streams[id]; st != nil {
		c.resetStreamLocked(st, code, err)
	}
	c.mu.Unlock()
}

func (c *Conn) resetStreamLocked(st *stream, code http2.ErrCode, err error) {
	if code != 0 {
		id := st.id
		c.queue(func(fw *http2.Framer) error { return fw.WriteRSTStream(id, code) })
	}
	c.finish(st, err)
}

// onGoAway: streams above lastID were not processed and fail as such
// (the client sends them again); the connection takes no new streams and
// closes once the others are done.
func (c *Conn) onGoAway(lastID uint32, code http2.ErrCode) {
	c.ending.Store(true)
	c.p.stats.noteGoAway(lastID, code)
	c.p.rec.H2GoAway(lastID, metrics.H2Code(code))
	c.mu.Lock()
	if !c.goaway || lastID < c.lastID {
		c.lastID = lastID
	}
	c.goaway = true
	c.goawayEr = code
	c.mu.Unlock()
	if code == http2.ErrCodeNo {
		c.tc.SetCloseReason(closeGoAway)
	} else {
		c.tc.SetCloseReason(closeH2Error)
	}
	// Out of the pool first: the requests finished below go again at
	// once, and must not be handed this connection.
	c.p.goingAway(c)
	c.mu.Lock()
	for id, st := range c.streams {
		switch {
		case id == 1 && code != http2.ErrCodeNo:
			// The connection's first stream, and a GOAWAY with an
			// error code: the server refuses new connections; another
			// one would fare no better (Go's Transport does not send it
			// again either).
			c.finish(st, &ConnError{Code: code, Remote: true})
		case id > c.lastID:
			c.finish(st, &errUnprocessed{goaway: true})
		}
	}
	c.mu.Unlock()
}

// fail ends the connection after the reader stopped with err: every
// stream still open fails, the pool forgets the connection, and the
// socket is closed.
func (c *Conn) fail(err error) {
	if c.pingT != nil {
		c.ended.Store(true)
		c.pingT.Stop()
	}
	var ce connErr
	if pe := c.pingErr.Load(); pe != nil {
		err = pe // the liveness timer closed it
	} else if errors.As(err, &ce) {
		c.wmu.Lock()
		_ = c.fw.WriteGoAway(0, ce.code, nil)
		c.wmu.Unlock()
		c.flush()
		c.tc.SetCloseReason(closeH2Error)
		err = &ConnError{Code: ce.code, Err: errors.New(ce.msg)}
	} else if ce, ok := err.(http2.ConnectionError); ok {
		// The framer found the server's frames broken.
		c.wmu.Lock()
		_ = c.fw.WriteGoAway(0, http2.ErrCode(ce), nil)
		c.wmu.Unlock()
		c.flush()
		c.tc.SetCloseReason(closeH2Error)
		err = &ConnError{Code: http2.ErrCode(ce), Err: err}
	} else if c.settings && errors.Is(err, http2.ErrFrameTooLarge) {
		// A frame over the client's SETTINGS_MAX_FRAME_SIZE (16384): a
		// connection error (RFC 9113 4.2), whatever frame it was.
		c.wmu.Lock()
		_ = c.fw.WriteGoAway(0, http2.ErrCodeFrameSize, nil)
		c.wmu.Unlock()
		c.flush()
		c.tc.SetCloseReason(closeH2Error)
		err = &ConnError{Code: http2.ErrCodeFrameSize, Err: err}
	} else if c.goawayEr != http2.ErrCodeNo && c.goaway {
		err = &ConnError{Code: c.goawayEr, Remote: true, Err: err}
	} else if err == nil || errors.Is(err, net.ErrClosed) {
		err = errConnClosed
	} else if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF // the server closed with streams open
	}
	// Out of the pool first: the unprocessed streams finished below go
	// again at once, and must not be handed this connection.
	c.ending.Store(true)
	c.p.dead(c)
	c.mu.Lock()
	if c.dead == nil {
		c.dead = err
	}
	if len(c.streams) > 0 {
		// The server closed or reset the connection under its streams
		// (server), as on HTTP/1.1; an idle one's close is the
		// transport's to judge.
		if cl := metrics.Classify(err); cl == metrics.ErrEOF || cl == metrics.ErrReset {
			c.tc.SetCloseReason(metrics.CloseServer)
		}
	}
	for id, st := range c.streams {
		if c.goaway && id > c.lastID {
			c.finish(st, &errUnprocessed{goaway: true, cause: err})
		} else {
			c.finish(st, err)
		}
	}
	c.windowGrew()
	c.mu.Unlock()
	if !c.settings {
		c.readyErr = err
		close(c.ready)
	}
	_ = c.nc.Close()
}

// Close reasons of HTTP/2 connections: one the server sent GOAWAY on, and
// one ended by an HTTP/2 connection error.
const (
	closeGoAway  = metrics.CloseGoAway
	closeH2Error = metrics.CloseH2Error
)

// Stats are the HTTP/2 facts of a pool's connections.
type Stats struct {
	// MaxStreams is the last MAX_CONCURRENT_STREAMS a server set (0: none).
	MaxStreams atomic.Uint32
	// PeakStreams is the most streams open at once on one connection.
	PeakStreams atomic.Int64
	// GoAways counts the GOAWAY frames received; LastGoAway is the last
	// one's last stream id and code.
	GoAways        atomic.Int64
	LastGoAwayID   atomic.Uint32
	LastGoAwayCode atomic.Uint32
	// RSTs counts the RST_STREAM frames received, by code (codes over 13
	// in the last slot).
	RSTs [14]atomic.Int64
	// FlowStalls counts the times a request body waited for the server's
	// flow-control window.
	FlowStalls atomic.Int64
	// Refused counts the streams sent again after the server did not
	// process them (REFUSED_STREAM, above a GOAWAY's last stream id).
	Refused atomic.Int64
	// Pings and PingRTT: the PING round trips measured (one per
	// connection, after the server's SETTINGS) and their sum.
	Pings   atomic.Int64
	PingRTT atomic.Int64
}

func (s *Stats) noteRST(code http2.ErrCode) {
	s.RSTs[min(int(code), len(s.RSTs)-1)].Add(1)
}

func (s *Stats) noteGoAway(last uint32, code http2.ErrCode) {
	s.GoAways.Add(1)
	s.LastGoAwayID.Store(last)
	s.LastGoAwayCode.Store(uint32(code))
}

func (s *Stats) noteMaxStreams(n uint32) { s.MaxStreams.Store(n) }

func (s *Stats) notePing(rtt time.Duration) {
	s.Pings.Add(1)
	s.PingRTT.Add(int64(rtt))
}

func (s *Stats) notePeak(n int) {
	for {
		old := s.PeakStreams.Load()
		if int64(n) <= old || s.PeakStreams.CompareAndSwap(old, int64(n)) {
			return
		}
	}
}
