package metrics

import "time"

// Protocol is the HTTP version a request or a connection spoke.
type Protocol uint8

// The protocols. ProtoH1 is the zero value: what a request or connection
// records when its engine does not say (HTTP/1.0 and HTTP/1.1 alike).
const (
	ProtoH1 Protocol = iota // HTTP/1.x
	ProtoH2                 // HTTP/2 (over TLS by ALPN, or h2c with prior knowledge)

	numProtocols
)

// NumProtocols is the number of Protocol values.
const NumProtocols = int(numProtocols)

var protocolNames = [...]string{ProtoH1: "h1", ProtoH2: "h2"}

// String returns the protocol's stable name, used as a JSON key ("h1",
// "h2").
func (p Protocol) String() string {
	if int(p) < len(protocolNames) {
		return protocolNames[p]
	}
	return "h1"
}

// H2Code is an HTTP/2 error code (RFC 9113 section 7), as carried by
// GOAWAY and RST_STREAM frames.
type H2Code uint32

// The HTTP/2 error codes faya counts one by one; any other code is
// counted under H2CodeUnknown.
const (
	H2NoError            H2Code = 0x0
	H2ProtocolError      H2Code = 0x1
	H2InternalError      H2Code = 0x2
	H2FlowControlError   H2Code = 0x3
	H2SettingsTimeout    H2Code = 0x4
	H2StreamClosed       H2Code = 0x5
	H2FrameSizeError     H2Code = 0x6
	H2RefusedStream      H2Code = 0x7
	H2Cancel             H2Code = 0x8
	H2CompressionError   H2Code = 0x9
	H2ConnectError       H2Code = 0xa
	H2EnhanceYourCalm    H2Code = 0xb
	H2InadequateSecurity H2Code = 0xc
	H2HTTP11Required     H2Code = 0xd
	// H2CodeUnknown is the slot of the codes RFC 9113 does not define.
	H2CodeUnknown H2Code = 0xe
)

// NumH2Codes is the number of slots of an array indexed by [H2Code.Index].
const NumH2Codes = int(H2CodeUnknown) + 1

var h2CodeNames = [NumH2Codes]string{"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
	"SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR",
	"CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED", "UNKNOWN"}

// Index is c's slot in an array of NumH2Codes: the code itself, or
// H2CodeUnknown's for a code RFC 9113 does not define.
func (c H2Code) Index() int {
	if c >= H2CodeUnknown {
		return int(H2CodeUnknown)
	}
	return int(c)
}

// String returns the code's RFC name ("REFUSED_STREAM"), "UNKNOWN" for a
// code RFC 9113 does not define; used as a JSON key.
func (c H2Code) String() string { return h2CodeNames[c.Index()] }

// H2Stats are the HTTP/2 connections' accounts: what the server's frames
// said and what the client's streams met. Counters add when snapshots
// merge; the Min and Max fields (and PeakStreams) take the minimum and
// the maximum. The distributions (streams per connection, the GOAWAYs'
// last stream IDs, the PING round trips, the readers' busy shares) are
// metrics of the snapshot: [H2Streams], [H2GoAwayLastStream],
// [H2PingRTT], [H2ReadBusy].
type H2Stats struct {
	// Conns counts the HTTP/2 connections closed (their streams are in
	// the H2Streams distribution).
	Conns int64
	// Settings counts the server's SETTINGS frames seen; those with a
	// SETTINGS_MAX_CONCURRENT_STREAMS are in MaxStreamsSeen, and its
	// smallest and largest values in MaxStreamsMin and MaxStreamsMax (0:
	// none seen). SettingsUnlimited counts the connections whose first
	// SETTINGS had no MAX_CONCURRENT_STREAMS (no limit).
	Settings, MaxStreamsSeen     int64
	MaxStreamsMin, MaxStreamsMax int64
	SettingsUnlimited            int64
	// PeakStreams is the most streams open at once on one connection.
	PeakStreams int64
	// GoAways counts the GOAWAY frames received, GoAwayCodes by error
	// code (index: [H2Code.Index]).
	GoAways     int64
	GoAwayCodes [NumH2Codes]int64
	// RSTStreams counts the RST_STREAM frames the server sent, by error
	// code; Refused counts the REFUSED_STREAM ones whose request was
	// sent again (a refused stream was not processed: it is safe to
	// retry).
	RSTStreams [NumH2Codes]int64
	Refused    int64
	// Pings counts the PING round trips measured (their times are the
	// H2PingRTT distribution); PingTimeouts those not answered within the
	// ping timeout (the connection was then closed).
	Pings, PingTimeouts int64
	// FlowStalls counts the times a request's body waited for the
	// server's flow-control window (a WINDOW_UPDATE) before it could send
	// more, FlowStallTime the time those waits took together.
	// FlowStallsConn and FlowStallConnTime are the part of them that
	// waited for the connection's window (shared by all its streams:
	// another connection has its own) while the stream's own had room.
	FlowStalls        int64
	FlowStallTime     time.Duration
	FlowStallsConn    int64
	FlowStallConnTime time.Duration
	// ReadLoops counts the closed connections whose reader (the one
	// goroutine reading the connection, handling its frames and handing
	// the answers to their requests) was timed: the default engine's (0:
	// not measured, as under the net/http engine). ReadBusyMax is the
	// busiest one's busy time (between a read returning and the next
	// read call), ReadBusyMaxSpan the time it was timed (from its start
	// to the connection's close); their shares per connection are the
	// H2ReadBusy distribution.
	ReadLoops       int64
	ReadBusyMax     time.Duration
	ReadBusyMaxSpan time.Duration
	// Unknown names the accounts above that the run could not take (an
	// engine that does not see its connections' frames): they are not
	// 0, they are unknown, and a report shows them so. Merged snapshots
	// keep the union.
	Unknown H2Unknown
}

// ReadBusyScale is the unit of the [H2ReadBusy] distribution: per mille
// (which its histogram holds exactly); ReadBusyScale is a reader busy
// all of its time.
const ReadBusyScale = 1000

// H2Unknown is a set of [H2Stats] accounts not measured.
type H2Unknown uint8

// The accounts an engine may not see.
const (
	// H2UnknownSettings: Settings, MaxStreamsSeen, MaxStreamsMin,
	// MaxStreamsMax and SettingsUnlimited.
	H2UnknownSettings H2Unknown = 1 << iota
	// H2UnknownPing: Pings (the H2PingRTT distribution) and
	// PingTimeouts.
	H2UnknownPing
	// H2UnknownRefused: Refused.
	H2UnknownRefused
	// H2UnknownFlow: the FlowStall fields.
	H2UnknownFlow

	// H2UnknownFrames is every account taken from the frames: what a
	// connection whose frames faya does not see leaves unknown.
	H2UnknownFrames = H2UnknownSettings | H2UnknownPing | H2UnknownRefused | H2UnknownFlow
)

// Has reports whether every account of x is unknown in u.
func (u H2Unknown) Has(x H2Unknown) bool { return u&x == x }

// Used reports whether anything was recorded in s (what is unknown is not
// a record).
func (s *H2Stats) Used() bool {
	c := *s
	c.Unknown = 0
	return c != H2Stats{}
}

// merge adds o into s.
func (s *H2Stats) merge(o *H2Stats) {
	s.Conns += o.Conns
	s.Settings += o.Settings
	s.MaxStreamsSeen += o.MaxStreamsSeen
	s.MaxStreamsMin = minPositive(s.MaxStreamsMin, o.MaxStreamsMin)
	s.MaxStreamsMax = max(s.MaxStreamsMax, o.MaxStreamsMax)
	s.SettingsUnlimited += o.SettingsUnlimited
	s.PeakStreams = max(s.PeakStreams, o.PeakStreams)
	s.GoAways += o.GoAways
	for i := range s.GoAwayCodes {
		s.GoAwayCodes[i] += o.GoAwayCodes[i]
		s.RSTStreams[i] += o.RSTStreams[i]
	}
	s.Refused += o.Refused
	s.Pings += o.Pings
	s.PingTimeouts += o.PingTimeouts
	s.FlowStalls += o.FlowStalls
	s.FlowStallTime += o.FlowStallTime
	s.FlowStallsConn += o.FlowStallsConn
	s.FlowStallConnTime += o.FlowStallConnTime
	s.Unknown |= o.Unknown
	s.ReadLoops += o.ReadLoops
	if o.ReadBusyMax > s.ReadBusyMax {
		s.ReadBusyMax, s.ReadBusyMaxSpan = o.ReadBusyMax, o.ReadBusyMaxSpan
	}
}

// minPositive is the smaller of a and b, where 0 means none.
func minPositive(a, b int64) int64 {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}

// The HTTP/2 recording methods. They are called per connection or per
// frame, not per request (a request's protocol and its stream_wait phase
// travel in its [Sample]), and take the recorder's connection lock for a
// few additions.

// H2Settings counts a SETTINGS frame from the server. maxStreams is its
// SETTINGS_MAX_CONCURRENT_STREAMS when has is set; first marks the
// connection's first SETTINGS (a first one without the setting counts as
// "no limit").
func (r *Recorder) H2Settings(maxStreams uint32, has, first bool) {
	r.connMu.Lock()
	h := &r.conns.H2
	h.Settings++
	switch {
	case has:
		h.MaxStreamsSeen++
		v := int64(maxStreams)
		h.MaxStreamsMin = minPositive(h.MaxStreamsMin, max(v, 1))
		h.MaxStreamsMax = max(h.MaxStreamsMax, v)
	case first:
		h.SettingsUnlimited++
	}
	r.connMu.Unlock()
}

// H2GoAway counts a GOAWAY frame from the server: the last stream it will
// process and its error code.
func (r *Recorder) H2GoAway(lastStreamID uint32, code H2Code) {
	r.connMu.Lock()
	r.conns.H2.GoAways++
	r.conns.H2.GoAwayCodes[code.Index()]++
	r.conns.record(H2GoAwayLastStream, time.Duration(lastStreamID))
	r.connMu.Unlock()
}

// H2RSTStream counts a RST_STREAM frame from the server; retried says the
// request was sent again (REFUSED_STREAM).
func (r *Recorder) H2RSTStream(code H2Code, retried bool) {
	r.connMu.Lock()
	r.conns.H2.RSTStreams[code.Index()]++
	if retried {
		r.conns.H2.Refused++
	}
	r.connMu.Unlock()
}

// H2Refused counts a REFUSED_STREAM whose request was sent again, for an
// engine that counts the frame (H2RSTStream, retried false) apart from the
// retry.
func (r *Recorder) H2Refused() {
	r.connMu.Lock()
	r.conns.H2.Refused++
	r.connMu.Unlock()
}

// H2NotMeasured marks accounts of the run as unknown (see
// [H2Stats].Unknown): every snapshot flushed from now on says so.
func (r *Recorder) H2NotMeasured(u H2Unknown) {
	for {
		old := r.h2Unknown.Load()
		if old&uint32(u) == uint32(u) || r.h2Unknown.CompareAndSwap(old, old|uint32(u)) {
			return
		}
	}
}

// H2Ping counts a PING round trip; a negative rtt is a PING the server did
// not answer in time.
func (r *Recorder) H2Ping(rtt time.Duration) {
	r.connMu.Lock()
	if rtt < 0 {
		r.conns.H2.PingTimeouts++
	} else {
		r.conns.H2.Pings++
		r.conns.record(H2PingRTT, rtt)
	}
	r.connMu.Unlock()
}

// H2FlowStall counts a request body's wait of d for the server's
// flow-control window; conn says it was the connection's window that was
// exhausted (the stream's had room).
func (r *Recorder) H2FlowStall(d time.Duration, conn bool) {
	r.connMu.Lock()
	h := &r.conns.H2
	h.FlowStalls++
	h.FlowStallTime += d
	if conn {
		h.FlowStallsConn++
		h.FlowStallConnTime += d
	}
	r.connMu.Unlock()
}

// H2Streams records that n streams were open at once on one connection
// (the engine calls it when a connection's count reaches a new high; the
// recorder keeps the run's peak).
func (r *Recorder) H2Streams(n int) {
	r.connMu.Lock()
	r.conns.H2.PeakStreams = max(r.conns.H2.PeakStreams, int64(n))
	r.connMu.Unlock()
}

// readLoop counts a closed connection's timed reader (connMu is held):
// busy of span.
func (s *Snapshot) readLoop(busy, span time.Duration) {
	h := &s.H2
	h.ReadLoops++
	busy = min(max(busy, 0), span)
	if h.ReadLoops == 1 || busy > h.ReadBusyMax {
		h.ReadBusyMax, h.ReadBusyMaxSpan = busy, span
	}
	share := time.Duration(0)
	if span > 0 {
		share = time.Duration(float64(busy) / float64(span) * ReadBusyScale)
	}
	s.record(H2ReadBusy, share)
}
