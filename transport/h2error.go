package transport

import (
	"strconv"
	"strings"

	"github.com/faya-load/faya/metrics"
)

// H2Fault is what a request's error says of its HTTP/2 connection, for
// Go's HTTP/2 (net/http's bundled copy, whose error types are unexported:
// they are read from their fixed texts).
type H2Fault struct {
	// GoAway: the server sent GOAWAY with LastStreamID and Code.
	GoAway       bool
	LastStreamID uint32
	// RST: the server reset the request's stream (RST_STREAM with Code).
	RST bool
	// ConnError: the connection failed (a connection error of Code, or a
	// PING not answered: Lost).
	ConnError, Lost bool
	Code            metrics.H2Code
}

var h2Codes = func() map[string]metrics.H2Code {
	m := map[string]metrics.H2Code{}
	for c := range metrics.NumH2Codes - 1 {
		m[metrics.H2Code(c).String()] = metrics.H2Code(c)
	}
	return m
}()

// h2Code reads an error code as Go writes it: its name, or
// "unknown error code 0x1f".
func h2Code(s string) metrics.H2Code {
	s = strings.TrimSpace(s)
	if c, ok := h2Codes[s]; ok {
		return c
	}
	if i := strings.LastIndex(s, "0x"); i >= 0 {
		if v, err := strconv.ParseUint(s[i+2:], 16, 32); err == nil {
			return metrics.H2Code(v)
		}
	}
	return metrics.H2CodeUnknown
}

// H2FaultOf reads err (a request's error on an HTTP/2 connection); ok is
// false when it says nothing of HTTP/2.
func H2FaultOf(err error) (f H2Fault, ok bool) {
	if err == nil {
		return f, false
	}
	msg := err.Error()
	if i := strings.Index(msg, "server sent GOAWAY and closed the connection; LastStreamID="); i >= 0 {
		rest := msg[i+len("server sent GOAWAY and closed the connection; LastStreamID="):]
		id, rest, _ := strings.Cut(rest, ", ErrCode=")
		code, _, _ := strings.Cut(rest, ", debug=")
		v, _ := strconv.ParseUint(id, 10, 32)
		return H2Fault{GoAway: true, LastStreamID: uint32(v), Code: h2Code(code)}, true
	}
	if i := strings.Index(msg, "stream error: stream ID "); i >= 0 {
		// "stream error: stream ID 3; CODE" is the server's RST_STREAM,
		// and so is "...; CODE; received from peer"; with another third
		// part (a cause) it is the client's own.
		parts := strings.Split(msg[i:], "; ")
		if len(parts) == 2 || len(parts) == 3 && parts[2] == "received from peer" {
			return H2Fault{RST: true, Code: h2Code(parts[1])}, true
		}
		return H2Fault{Code: h2Code(parts[1])}, true
	}
	if i := strings.Index(msg, "connection error: "); i >= 0 {
		return H2Fault{ConnError: true, Code: h2Code(msg[i+len("connection error: "):])}, true
	}
	if strings.Contains(msg, "http2: frame too large") && !strings.Contains(msg, "looked like an HTTP/1.1 header") {
		// A frame over the client's SETTINGS_MAX_FRAME_SIZE: Go ends
		// the connection.
		return H2Fault{ConnError: true, Code: metrics.H2FrameSizeError}, true
	}
	if strings.Contains(msg, "http2: client connection lost") {
		return H2Fault{ConnError: true, Lost: true}, true
	}
	if strings.Contains(msg, "http2: Transport received Server's graceful shutdown GOAWAY") {
		return H2Fault{GoAway: true}, true
	}
	return f, false
}

// H2Observer is an [Observer] that also takes the HTTP/2 frames a
// request's error revealed.
type H2Observer interface {
	Observer
	// H2GoAway is called once per connection that got a GOAWAY.
	H2GoAway(lastStreamID uint32, code metrics.H2Code)
	// H2RSTStream is called per stream the server reset.
	H2RSTStream(code metrics.H2Code)
}

// FramesCounted says c's HTTP/2 frames are counted as they pass (the
// net/http engine's own pool reads them): a request's error then counts
// no GOAWAY or RST_STREAM again. Call it before c carries a request.
func (c *Conn) FramesCounted() { c.frames = true }

// RequestFailed sets c's close reason after a request on it failed with
// err, of class cl. On HTTP/1.x the failure is the connection's
// ([FailedReason]). On HTTP/2 most failures are the stream's and the
// connection lives on: only a GOAWAY (goaway, or h2_error with an error
// code), a connection error or an unanswered PING (h2_error), and the
// server closing or resetting the TCP connection (server) end it; a
// GOAWAY and a RST_STREAM are counted for the report, unless c's frames
// are ([Conn.FramesCounted]).
func (p *Dialer) RequestFailed(c *Conn, err error, cl metrics.ErrClass) {
	if c.Proto != metrics.ProtoH2 {
		if r, ok := FailedReason(cl); ok {
			c.SetCloseReason(r)
		}
		return
	}
	f, ok := H2FaultOf(err)
	obs, _ := p.obs.(H2Observer)
	if c.frames {
		obs = nil // counted from the frames themselves
	}
	switch {
	case ok && f.GoAway:
		r := metrics.CloseGoAway
		if f.Code != metrics.H2NoError {
			r = metrics.CloseH2Error
		}
		c.SetCloseReason(r)
		if obs != nil && c.goaway.CompareAndSwap(false, true) && f.LastStreamID > 0 {
			obs.H2GoAway(f.LastStreamID, f.Code)
		}
	case ok && f.RST:
		if obs != nil {
			obs.H2RSTStream(f.Code)
		}
	case ok && f.ConnError:
		c.SetCloseReason(metrics.CloseH2Error)
	case cl == metrics.ErrEOF || cl == metrics.ErrReset:
		c.SetCloseReason(metrics.CloseServer)
	}
}
