package engine

import (
	"crypto/tls"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faya-load/faya/metrics"
)

// h2Sink takes what an HTTP/2 connection's frames said: the methods of
// [metrics.Recorder] that the default engine's HTTP/2 client calls too.
type h2Sink interface {
	H2Settings(maxStreams uint32, has, first bool)
	H2GoAway(lastStreamID uint32, code metrics.H2Code)
	H2RSTStream(code metrics.H2Code, retried bool)
	H2Ping(rtt time.Duration)
	H2FlowStall(d time.Duration, conn bool)
}

// h2Wire is the connection Go's HTTP/2 client reads and writes, above TLS
// (the TCP connection for h2c): it reads the 9-byte headers of the frames
// passing both ways, and the few payload bytes it needs, so that the
// net/http engine counts what the default engine's own client counts:
// the server's SETTINGS (MAX_CONCURRENT_STREAMS; INITIAL_WINDOW_SIZE for
// the windows), RST_STREAM by code, GOAWAY (last-stream-id, code), the
// round trip of each PING the client sends to its ACK, and flow-control
// stalls (below). It changes no byte and allocates nothing per frame.
//
// Read is Go's read loop's alone; Write is called under Go's write lock
// (wmu here too, in case). The state both sides touch (windows, streams,
// PINGs out) is under mu, taken only for the frames that change it: a
// request without a body takes it for none.
//
// A flow-control stall is a period in which a stream had more of its
// request body to send (its HEADERS or last DATA did not end the stream)
// while its send window or the connection's was used up (at most 0, from
// the server's SETTINGS_INITIAL_WINDOW_SIZE and WINDOW_UPDATEs less the
// DATA written): the client cannot send then. Windows are read from the
// server's frames as Go's read loop reads them, before Go applies them, so
// this view is never behind Go's: a stall seen is one Go is in. It ends
// when the windows open (counted), or the stream ends otherwise: reset by
// either side, answered whole, above a GOAWAY's last stream, or the
// connection closed (counted); a stream that ends with an empty DATA or a
// trailers HEADERS had nothing left to send (not counted). conn says the
// connection's window was out while the stream's own had room, as the
// default engine reports it.
type h2Wire struct {
	net.Conn
	sink        h2Sink
	now         func() time.Duration
	pingTimeout time.Duration // --h2-ping-timeout: Go's health-check PINGs

	rd      h2Scan
	rdOff   bool // the server's first frame was not SETTINGS: not HTTP/2
	rdFirst bool // a SETTINGS frame came
	// applied, if set, is called once, by the first Read after the
	// server's first SETTINGS frame was passed whole: Go's read loop reads
	// and applies frames in turn (through its bufio.Reader), so it has
	// applied that frame's MAX_CONCURRENT_STREAMS by then. Set before Go's
	// client starts reading.
	applied func()
	rdErr   atomic.Bool
	set     struct {
		max  uint32
		has  bool
		win  int64
		hasW bool
	}

	wmu     sync.Mutex
	wr      h2Scan
	preface int  // preface bytes passed
	wrOff   bool // the client's preface was not HTTP/2's
	prevTyp uint8

	mu      sync.Mutex
	connWin int64 // the connection's send window
	initWin int64 // the server's SETTINGS_INITIAL_WINDOW_SIZE
	streams []h2FlowStream
	open    atomic.Int32 // len(streams), read without mu
	pings   [4]h2PingOut
	closing atomic.Bool // the pool closes it (not Go)
	closed  bool
	// goAwayErr is the error code of a GOAWAY the server sent with one
	// (not NO_ERROR); 0: none. readErr is the first read's error (the
	// server's close, a reset): the cause of a connection that ended
	// before Go's client could use it.
	goAwayErr atomic.Uint32
	readErr   atomic.Pointer[error]
	notH2     atomic.Bool // rdOff, for other goroutines
}

// h2FlowStream is a stream with more request body to send.
type h2FlowStream struct {
	id      uint32
	win     int64
	stalled bool
	conn    bool
	since   time.Duration
}

// h2PingOut is a PING the client sent, not yet ACKed.
type h2PingOut struct {
	data   [8]byte
	sent   time.Duration
	used   bool
	health bool // not the PING Go sends after a RST_STREAM of its own
}

// HTTP/2 frame types and flags read here (RFC 9113 section 6).
const (
	h2Data         = 0x0
	h2Headers      = 0x1
	h2RST          = 0x3
	h2SettingsType = 0x4
	h2PingType     = 0x6
	h2GoAwayType   = 0x7
	h2WindowUpdate = 0x8

	h2FlagEndStream = 0x1
	h2FlagAck       = 0x1

	h2DefaultWindow = 65535
)

const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

func newH2Wire(nc net.Conn, sink h2Sink, now func() time.Duration, pingTimeout time.Duration) *h2Wire {
	return &h2Wire{Conn: nc, sink: sink, now: now, pingTimeout: pingTimeout,
		connWin: h2DefaultWindow, initWin: h2DefaultWindow}
}

// h2Scan walks one direction's frames: their headers whole, and the first
// bytes of the payloads that say something (the code of RST_STREAM, the
// last stream and code of GOAWAY, PING's data, WINDOW_UPDATE's increment,
// SETTINGS's entries one by one); the rest passes uncopied.
type h2Scan struct {
	hdr   [9]byte
	nh    int // header bytes held; 9 while in the payload
	left  int // payload bytes of the frame not passed yet
	want  int // payload bytes to hold, from where it is
	buf   [8]byte
	nb    int
	typ   uint8
	flags uint8
	id    uint32
	size  int // payload length
}

// Scan events.
const (
	scanNone  = iota
	scanFrame // a header is whole (h.typ, h.flags, h.id, h.size)
	scanHeld  // the bytes wanted of the payload are held (h.buf[:h.nb])
)

// captureLen is how many payload bytes of a frame say something.
func captureLen(typ uint8, size int) int {
	n := 0
	switch typ {
	case h2RST, h2WindowUpdate:
		n = 4
	case h2PingType, h2GoAwayType:
		n = 8
	case h2SettingsType:
		n = 6
	}
	if size < n {
		return 0
	}
	return n
}

// step passes bytes of b up to the next event; it returns how many and
// the event.
func (h *h2Scan) step(b []byte) (int, int) {
	if h.nh < 9 {
		var hdr []byte
		n := 9
		if h.nh == 0 && len(b) >= 9 {
			hdr = b[:9] // whole here: read in place
		} else {
			n = copy(h.hdr[h.nh:], b)
			if h.nh += n; h.nh < 9 {
				return n, scanNone
			}
			hdr = h.hdr[:]
		}
		h.nh = 9
		h.size = int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		h.typ, h.flags = hdr[3], hdr[4]
		h.id = binary.BigEndian.Uint32(hdr[5:]) & (1<<31 - 1)
		h.left, h.nb = h.size, 0
		h.want = captureLen(h.typ, h.size)
		if h.left == 0 {
			h.nh = 0
		}
		return n, scanFrame
	}
	if h.want > 0 {
		n := copy(h.buf[h.nb:h.want], b)
		h.nb += n
		h.left -= n
		ev := scanNone
		if h.nb == h.want {
			ev = scanHeld
			h.want = 0
		}
		if h.left == 0 {
			h.nh = 0
		}
		return n, ev
	}
	n := min(h.left, len(b))
	h.left -= n
	if h.left == 0 {
		h.nh = 0
	}
	return n, scanNone
}

// again asks for the next SETTINGS entry, if the payload has one.
func (h *h2Scan) again() {
	h.nb = 0
	if h.typ == h2SettingsType && h.left >= 6 {
		h.want = 6
	}
}

// ended reports whether the frame of the last event is passed whole.
func (h *h2Scan) ended() bool { return h.nh == 0 }

func (w *h2Wire) Read(b []byte) (int, error) {
	if w.rdFirst && w.applied != nil {
		f := w.applied
		w.applied = nil
		f()
	}
	n, err := w.Conn.Read(b)
	if n > 0 && !w.rdOff {
		w.scanRead(b[:n])
	}
	if err != nil {
		w.rdErr.Store(true)
		w.readErr.CompareAndSwap(nil, &err)
	}
	return n, err
}

func (w *h2Wire) Write(b []byte) (int, error) {
	w.wmu.Lock()
	if !w.wrOff {
		w.scanWrite(b)
	}
	w.wmu.Unlock()
	return w.Conn.Write(b)
}

// Close ends the stalls in progress (counted) and counts a health-check
// PING outstanding when Go closes the connection on its own as lost: for
// at least half the ping timeout (Go closes it at the timeout), no read
// error seen (the server did not close it), not closed by the pool.
func (w *h2Wire) Close() error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		now := w.now()
		for i := range w.streams {
			w.endStall(&w.streams[i], now, true)
		}
		w.streams = w.streams[:0]
		w.open.Store(0)
		if w.pingTimeout > 0 && !w.closing.Load() && !w.rdErr.Load() {
			for i := range w.pings {
				p := &w.pings[i]
				if p.used && p.health && now-p.sent >= w.pingTimeout/2 {
					w.sink.H2Ping(-1)
					break
				}
			}
		}
	}
	w.mu.Unlock()
	if tc, ok := w.Conn.(*tls.Conn); ok {
		// As Go's client does to the *tls.Conn it no longer sees: a TLS
		// close can hang on a peer that does not read; the connection
		// under it closes after 250 ms.
		t := time.AfterFunc(250*time.Millisecond, func() {
			if nc := tc.NetConn(); nc != nil {
				_ = nc.Close()
			}
		})
		defer t.Stop()
	}
	return w.Conn.Close()
}

// frameEnd is where the frame whose 9-byte header starts b ends: its
// header and its payload's length.
func frameEnd(b []byte) int { return 9 + (int(b[0])<<16 | int(b[1])<<8 | int(b[2])) }

// scanRead reads the server's frames in b.
func (w *h2Wire) scanRead(b []byte) {
	h := &w.rd
	for len(b) > 0 && !w.rdOff {
		if h.nh == 0 && len(b) >= 9 && w.rdFirst && (b[3] == h2Data || b[3] == h2Headers) {
			// The common frame, whole in b and saying nothing here: an
			// answer's HEADERS or DATA while no body is being sent.
			if end := frameEnd(b); end <= len(b) && w.open.Load() == 0 {
				b = b[end:]
				continue
			}
		}
		n, ev := h.step(b)
		b = b[n:]
		switch ev {
		case scanFrame:
			w.readFrame(h)
		case scanHeld:
			w.readHeld(h)
		}
	}
}

// readFrame is a server frame's header.
func (w *h2Wire) readFrame(h *h2Scan) {
	if !w.rdFirst {
		if h.typ != h2SettingsType || h.flags&h2FlagAck != 0 {
			w.rdOff = true // an HTTP/1.x answer to h2c, or not HTTP/2
			w.notH2.Store(true)
			return
		}
	}
	switch h.typ {
	case h2SettingsType:
		if h.flags&h2FlagAck != 0 {
			return
		}
		w.set.max, w.set.has, w.set.hasW = 0, false, false
		if h.ended() {
			w.settingsEnd()
		}
	case h2Data, h2Headers:
		if h.flags&h2FlagEndStream != 0 && w.open.Load() > 0 {
			// Answered whole: the rest of its body will not go.
			w.mu.Lock()
			w.dropStream(h.id, true)
			w.mu.Unlock()
		}
	}
}

// readHeld is the payload bytes held of a server frame.
func (w *h2Wire) readHeld(h *h2Scan) {
	p := h.buf[:h.nb]
	switch h.typ {
	case h2SettingsType:
		v := binary.BigEndian.Uint32(p[2:])
		switch binary.BigEndian.Uint16(p) {
		case 0x3: // SETTINGS_MAX_CONCURRENT_STREAMS
			w.set.max, w.set.has = v, true
		case 0x4: // SETTINGS_INITIAL_WINDOW_SIZE
			w.set.win, w.set.hasW = int64(v), true
		}
		h.again()
		if h.ended() {
			w.settingsEnd()
		}
	case h2RST:
		w.sink.H2RSTStream(metrics.H2Code(binary.BigEndian.Uint32(p)), false)
		if w.open.Load() > 0 {
			w.mu.Lock()
			w.dropStream(h.id, true)
			w.mu.Unlock()
		}
	case h2GoAwayType:
		last := binary.BigEndian.Uint32(p) & (1<<31 - 1)
		code := binary.BigEndian.Uint32(p[4:])
		w.sink.H2GoAway(last, metrics.H2Code(code))
		if code != 0 {
			w.goAwayErr.Store(code)
		}
		if w.open.Load() > 0 {
			w.mu.Lock()
			now := w.now()
			for i := 0; i < len(w.streams); i++ {
				if w.streams[i].id > last {
					w.endStall(&w.streams[i], now, true)
					w.removeAt(i)
					i--
				}
			}
			w.mu.Unlock()
		}
	case h2PingType:
		if h.flags&h2FlagAck == 0 {
			return
		}
		var data [8]byte
		copy(data[:], p)
		w.mu.Lock()
		for i := range w.pings {
			if o := &w.pings[i]; o.used && o.data == data {
				o.used = false
				rtt := w.now() - o.sent
				w.mu.Unlock()
				w.sink.H2Ping(rtt)
				return
			}
		}
		w.mu.Unlock()
	case h2WindowUpdate:
		inc := int64(binary.BigEndian.Uint32(p) & (1<<31 - 1))
		if h.id != 0 && w.open.Load() == 0 {
			return
		}
		w.mu.Lock()
		if h.id == 0 {
			w.connWin += inc
			w.restall()
		} else if i := w.find(h.id); i >= 0 {
			w.streams[i].win += inc
			w.restallOne(&w.streams[i], w.now())
		}
		w.mu.Unlock()
	}
}

// settingsEnd is the end of one of the server's SETTINGS frames.
func (w *h2Wire) settingsEnd() {
	first := !w.rdFirst
	w.rdFirst = true
	if w.set.hasW {
		w.mu.Lock()
		delta := w.set.win - w.initWin
		w.initWin = w.set.win
		for i := range w.streams {
			w.streams[i].win += delta
		}
		w.restall()
		w.mu.Unlock()
	}
	w.sink.H2Settings(w.set.max, w.set.has, first)
}

// scanWrite reads the client's frames in b, after its preface.
func (w *h2Wire) scanWrite(b []byte) {
	if w.preface < len(h2Preface) {
		n := min(len(h2Preface)-w.preface, len(b))
		if string(b[:n]) != h2Preface[w.preface:w.preface+n] {
			w.wrOff = true
			return
		}
		w.preface += n
		b = b[n:]
	}
	h := &w.wr
	for len(b) > 0 {
		if h.nh == 0 && len(b) >= 9 && b[3] == h2Headers && b[4]&h2FlagEndStream != 0 {
			// A request without a body, its HEADERS whole in b, while
			// no body is being sent: nothing to track.
			if end := frameEnd(b); end <= len(b) && w.open.Load() == 0 {
				w.prevTyp = h2Headers
				b = b[end:]
				continue
			}
		}
		n, ev := h.step(b)
		b = b[n:]
		switch ev {
		case scanFrame:
			w.writeFrame(h)
			if h.typ != h2PingType {
				w.prevTyp = h.typ
			}
		case scanHeld:
			if h.typ == h2PingType && h.flags&h2FlagAck == 0 {
				w.pingSent(h.buf, w.prevTyp != h2RST)
			}
			w.prevTyp = h.typ
			h.nb = 0
		}
	}
}

// writeFrame is a client frame's header.
func (w *h2Wire) writeFrame(h *h2Scan) {
	end := h.flags&h2FlagEndStream != 0
	switch h.typ {
	case h2Headers:
		if end && w.open.Load() == 0 {
			return // a request without a body: nothing to track
		}
		w.mu.Lock()
		i := w.find(h.id)
		switch {
		case i >= 0 && end: // trailers: the body was all sent
			w.removeAt(i)
		case i < 0 && !end && !w.closed:
			w.streams = append(w.streams, h2FlowStream{id: h.id, win: w.initWin})
			w.open.Store(int32(len(w.streams)))
			w.restallOne(&w.streams[len(w.streams)-1], w.now())
		}
		w.mu.Unlock()
	case h2Data:
		n := int64(h.size)
		w.mu.Lock()
		w.connWin -= n
		i := w.find(h.id)
		if i >= 0 {
			s := &w.streams[i]
			s.win -= n
			if end {
				// An empty last DATA was not held back by a window.
				w.endStall(s, w.now(), n > 0)
				w.removeAt(i)
			}
		}
		if n > 0 {
			w.restall()
		}
		w.mu.Unlock()
	case h2RST:
		if w.open.Load() > 0 {
			w.mu.Lock()
			w.dropStream(h.id, true)
			w.mu.Unlock()
		}
	}
}

// pingSent notes a PING the client sent.
func (w *h2Wire) pingSent(data [8]byte, health bool) {
	w.mu.Lock()
	k := 0
	for i := range w.pings {
		if !w.pings[i].used {
			k = i
			break
		}
		if w.pings[i].sent < w.pings[k].sent {
			k = i // all out: the oldest gives way
		}
	}
	w.pings[k] = h2PingOut{data: data, sent: w.now(), used: true, health: health}
	w.mu.Unlock()
}

// find returns the index of stream id in w.streams, -1 if it has none.
// w.mu is held.
func (w *h2Wire) find(id uint32) int {
	for i := len(w.streams) - 1; i >= 0; i-- {
		if w.streams[i].id == id {
			return i
		}
	}
	return -1
}

// removeAt drops w.streams[i]. w.mu is held.
func (w *h2Wire) removeAt(i int) {
	last := len(w.streams) - 1
	w.streams[i] = w.streams[last]
	w.streams = w.streams[:last]
	w.open.Store(int32(last))
}

// dropStream ends stream id's body (reset, answered), its stall counted
// when count. w.mu is held.
func (w *h2Wire) dropStream(id uint32, count bool) {
	if i := w.find(id); i >= 0 {
		w.endStall(&w.streams[i], w.now(), count)
		w.removeAt(i)
	}
}

// endStall ends s's stall, if any, at now; counted when count.
func (w *h2Wire) endStall(s *h2FlowStream, now time.Duration, count bool) {
	if s.stalled {
		s.stalled = false
		if count {
			w.sink.H2FlowStall(now-s.since, s.conn)
		}
	}
}

// restall updates every stream's stall after a window changed. w.mu is
// held.
func (w *h2Wire) restall() {
	if len(w.streams) == 0 {
		return
	}
	now := w.now()
	for i := range w.streams {
		w.restallOne(&w.streams[i], now)
	}
}

// restallOne starts or ends s's stall as its windows say. w.mu is held.
func (w *h2Wire) restallOne(s *h2FlowStream, now time.Duration) {
	blocked := s.win <= 0 || w.connWin <= 0
	switch {
	case blocked && !s.stalled:
		s.stalled, s.since, s.conn = true, now, s.win > 0
	case !blocked && s.stalled:
		w.endStall(s, now, true)
	}
}
