package h2

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
	"golang.org/x/net/http2"
)

// ProtocolError is an answer that broke HTTP/2's rules for one stream
// (a bad status, oversized headers, a bad Location): the request fails,
// the connection goes on.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "h2: " + e.Msg }

// ErrClass is metrics.ErrProtocol.
func (e *ProtocolError) ErrClass() metrics.ErrClass { return metrics.ErrProtocol }

// NotH2Error is a server that answered the connection preface in
// HTTP/1.x: it does not speak HTTP/2 on this port (h2c by prior knowledge
// to an HTTP/1.1-only server).
type NotH2Error struct{ Err error }

func (e *NotH2Error) Error() string {
	return "HTTP/2 required (--http 2) but the server answered in HTTP/1.x: it does not speak h2c on this port (use --http 1.1 or auto): " + e.Err.Error()
}

// Unwrap returns the framer's error.
func (e *NotH2Error) Unwrap() error { return e.Err }

// ErrClass is metrics.ErrProtocolNegotiation, as for a TLS server that
// does not pick h2 by ALPN.
func (e *NotH2Error) ErrClass() metrics.ErrClass { return metrics.ErrProtocolNegotiation }

// HTTP1Error is a dial of an auto pool (Options.Auto) whose server
// picked http/1.1 by ALPN (or a plain connection): the connection, dialed
// and counted, is the caller's, to speak HTTP/1.1 on or to close. It was
// dialed for Request (the hop that asked: the request's, or a redirect's)
// through Proxy (nil: direct). Conn is nil for a redirect to a
// destination known to speak HTTP/1.1 (Options.KnownHTTP1): not dialed.
type HTTP1Error struct {
	Request *Request
	Proxy   *transport.Proxy
	Conn    *transport.Conn // the counted TCP connection
	NetConn net.Conn        // Conn, or TLS over it
}

// Close closes the connection, if any, as unused.
func (e *HTTP1Error) Close() {
	if e.Conn != nil {
		e.Conn.SetCloseReason(metrics.CloseUnused)
		_ = e.NetConn.Close()
	}
}

func (e *HTTP1Error) Error() string {
	return "h2: " + e.Request.addr + " picked HTTP/1.1 by ALPN (--http auto): the connection goes to the HTTP/1.1 pool"
}

// ErrClass is metrics.ErrProtocolNegotiation (an engine that hands the
// connection over never reports it).
func (e *HTTP1Error) ErrClass() metrics.ErrClass { return metrics.ErrProtocolNegotiation }

// PingTimeoutError is a connection whose PING (--h2-ping-timeout) was not
// answered in time: every stream on it fails, as with Go's "http2:
// client connection lost".
type PingTimeoutError struct{ After time.Duration }

func (e *PingTimeoutError) Error() string {
	return fmt.Sprintf("h2: connection lost: no answer to a PING within %v (--h2-ping-timeout)", e.After)
}

// Timeout reports true.
func (e *PingTimeoutError) Timeout() bool { return true }

// ErrClass is metrics.ErrTimeout, as net/http's engine classes Go's
// "client connection lost".
func (e *PingTimeoutError) ErrClass() metrics.ErrClass { return metrics.ErrTimeout }

// StreamError is a stream the server reset (RST_STREAM) with Code.
type StreamError struct{ Code http2.ErrCode }

func (e *StreamError) Error() string { return "h2: stream reset by the server: " + e.Code.String() }

// ErrClass is metrics.ErrReset: the server gave up the request.
func (e *StreamError) ErrClass() metrics.ErrClass { return metrics.ErrReset }

// ConnError is a connection that ended in an HTTP/2 error: the server
// broke the protocol (the client sent GOAWAY with Code), or sent GOAWAY
// with an error code (Remote). Every stream on it fails.
type ConnError struct {
	Code   http2.ErrCode
	Remote bool
	Err    error
}

func (e *ConnError) Error() string {
	if e.Remote {
		return "h2: the server ended the connection: GOAWAY " + e.Code.String()
	}
	return fmt.Sprintf("h2: connection error %v: %v", e.Code, e.Err)
}

// Unwrap returns the cause.
func (e *ConnError) Unwrap() error { return e.Err }

// ErrClass is metrics.ErrProtocol.
func (e *ConnError) ErrClass() metrics.ErrClass { return metrics.ErrProtocol }

// errUnprocessed is a stream the server did not process: above a GOAWAY's
// last stream id, or refused (REFUSED_STREAM). It is safe to send again,
// whatever its method; after one retry it fails with its cause's class.
type errUnprocessed struct {
	goaway bool
	// unsent: the connection was ending before the stream was opened
	// (the request never reached the server).
	unsent bool
	cause  error
	// final: the connection was new and the server ended it with a
	// GOAWAY with an error code before its first stream: not sent again
	// (Go's Transport neither), it fails with cause.
	final bool
}

func (e *errUnprocessed) Error() string {
	if e.goaway {
		return "h2: stream not processed: the server sent GOAWAY"
	}
	return "h2: stream refused by the server (REFUSED_STREAM)"
}

// ErrClass is metrics.ErrReset for a refused stream, metrics.ErrEOF for
// one cut by the server's GOAWAY (the connection is going away).
func (e *errUnprocessed) ErrClass() metrics.ErrClass {
	if e.goaway {
		return metrics.ErrEOF
	}
	return metrics.ErrReset
}

// TimeoutError is a request that ran out of time: the whole-request
// timeout, whatever it was waiting for (a stream slot, the dial, the
// server's SETTINGS, the answer).
type TimeoutError struct {
	After time.Duration
	Err   error
}

func (e *TimeoutError) Error() string { return fmt.Sprintf("timeout after %v: %v", e.After, e.Err) }

// Unwrap returns what the timeout cut.
func (e *TimeoutError) Unwrap() error { return e.Err }

// Timeout reports true.
func (e *TimeoutError) Timeout() bool { return true }

// ErrClass is metrics.ErrTimeout.
func (e *TimeoutError) ErrClass() metrics.ErrClass { return metrics.ErrTimeout }

var (
	errConnClosed = errors.New("h2: connection closed")
	errPoolClosed = errors.New("h2: pool closed")
)
