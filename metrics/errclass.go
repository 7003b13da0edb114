package metrics

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
)

// ErrClass is a bounded classification of request failures. Reports count
// failures per class and keep one example message per class, never a map
// keyed by raw error text (which grows with every ephemeral port).
type ErrClass uint8

// The error classes. ErrNone means the request got a response.
const (
	ErrNone         ErrClass = iota
	ErrDNS                   // name resolution failed
	ErrRefused               // connection refused: nothing listens
	ErrReset                 // connection reset or broken pipe
	ErrTimeout               // a timeout: dial, TLS, response headers or the whole request
	ErrTLS                   // TLS handshake or certificate failure
	ErrEOF                   // the server closed the connection before or within the response
	ErrProtocol              // the response was not valid HTTP/1.x
	ErrCanceled              // canceled by the run (a hard stop)
	ErrLocal                 // the generator ran out of a local resource (file descriptors, ports)
	ErrOther                 // anything else
	ErrProxyRefused          // the proxy could not be reached (refused, reset)
	ErrProxyAuth             // the proxy refused the credentials (407, SOCKS5 authentication)
	ErrProxyConnect          // an HTTP proxy rejected the CONNECT (its status in the message)
	ErrProxySOCKS            // a SOCKS5 proxy answered a failure code
	// ErrProtocolNegotiation: --http 2 was asked and the server did not
	// speak HTTP/2: its ALPN did not pick h2 (it picked HTTP/1.1, or
	// nothing), or it answered the h2c preface in HTTP/1.x.
	ErrProtocolNegotiation

	numErrClasses
)

// NumErrClasses is the number of ErrClass values, ErrNone included.
const NumErrClasses = int(numErrClasses)

var errClassNames = [...]string{"none", "dns", "refused", "reset", "timeout", "tls", "eof", "protocol", "canceled", "local", "other",
	"proxy_refused", "proxy_auth", "proxy_connect", "proxy_socks", "protocol_negotiation"}

// String returns the class's stable name, used as a JSON key.
func (c ErrClass) String() string { return errClassNames[c] }

// ParseErrClass returns the class named s.
func ParseErrClass(s string) (ErrClass, bool) {
	for i, n := range errClassNames {
		if n == s {
			return ErrClass(i), true
		}
	}
	return 0, false
}

// Classify returns the class of a request error. A nil error is ErrNone.
func Classify(err error) ErrClass {
	if err == nil {
		return ErrNone
	}
	var (
		dnsErr  *net.DNSError
		recErr  tls.RecordHeaderError
		alert   tls.AlertError
		verify  *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		netErr  net.Error
	)
	var classed interface{ ErrClass() ErrClass }
	switch {
	case errors.Is(err, context.Canceled):
		return ErrCanceled
	case errors.As(err, &classed):
		return classed.ErrClass()
	case errors.As(err, &dnsErr):
		if dnsErr.IsTimeout {
			return ErrTimeout
		}
		return ErrDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return ErrReset
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE),
		errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.ENOBUFS):
		return ErrLocal
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return ErrTimeout
	case errors.As(err, &netErr) && netErr.Timeout():
		return ErrTimeout
	case errors.As(err, &recErr), errors.As(err, &alert), errors.As(err, &verify),
		errors.As(err, &unknown), errors.As(err, &host), errors.As(err, &invalid):
		return ErrTLS
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return ErrEOF
	}
	// net/http's parse errors are unexported types (or errors.New); their
	// texts are stable.
	msg := err.Error()
	if i := strings.Index(msg, "stream error: stream ID "); i >= 0 {
		// Go's HTTP/2: the server's RST_STREAM ("stream error: stream
		// ID 3; CANCEL", or "...; CANCEL; received from peer" since the
		// cause is set for it) is a reset, as a TCP reset on HTTP/1.1;
		// with another cause ("; CODE; cause") it is the client's own
		// verdict on what the server sent.
		if n := strings.Count(msg[i:], "; "); n == 1 || n == 2 && strings.HasSuffix(msg, "; received from peer") {
			return ErrReset
		}
		return ErrProtocol
	}
	for _, m := range messageClasses {
		if strings.Contains(msg, m.text) {
			return m.class
		}
	}
	return ErrOther
}

// messageClasses are the classes of net/http's errors without a type,
// by a part of their text, first match first.
var messageClasses = []struct {
	text  string
	class ErrClass
}{
	// Go's HTTP/2 (net/http's and x/net's) read an HTTP/1.x answer to its
	// connection preface: the server does not speak h2c on that port.
	{"the frame header looked like an HTTP/1.1 header", ErrProtocolNegotiation},
	// A frame over the client's SETTINGS_MAX_FRAME_SIZE (16384): an
	// HTTP/2 connection error (FRAME_SIZE_ERROR), the default engine's
	// class for it too.
	{"http2: frame too large", ErrProtocol},
	// Go's HTTP/2 closed the connection under the request (after another
	// request on it failed): the connection ended before the answer, as
	// eof says on HTTP/1.1.
	{"http2: client connection force closed", ErrEOF},
	// What the server sent is not HTTP/1.x: the status line, a header
	// (its name, a value with a NUL or a bare CR, a folded first line),
	// Content-Length, Transfer-Encoding, the chunks, the trailers, too
	// many header bytes (1xx answers included).
	{"malformed HTTP", ErrProtocol},
	{"malformed MIME header", ErrProtocol},
	{"server response headers exceeded", ErrProtocol},
	{"too many 1xx informational responses", ErrProtocol},
	{"invalid Trailer", ErrProtocol},
	{"bad trailer key", ErrProtocol},
	{"suspiciously long trailer", ErrProtocol},
	{"bad Content-Length", ErrProtocol},
	{"invalid empty Content-Length", ErrProtocol},
	{"multiple Content-Length headers", ErrProtocol},
	{"unsupported transfer encoding", ErrProtocol},
	{"too many transfer encodings", ErrProtocol},
	{"invalid Transfer-Encoding", ErrProtocol},
	{"chunk length", ErrProtocol}, // invalid byte in, too large, empty hex number for
	{"chunked line", ErrProtocol}, // ends with bare LF, invalid CR in
	{"malformed chunked encoding", ErrProtocol},
	{"chunked encoding contains too much non-data", ErrProtocol},
	{"header line too long", ErrProtocol}, // a chunk-size line
	{"message too large", ErrProtocol},    // textproto: a header line past its limit
	// Bytes came on an idle connection, unasked: net/http closes it with
	// "readLoopPeekFailLocked: %!w(<nil>)" (its peek found no error, only
	// bytes). An EOF or a reset there is wrapped and classed above.
	{"readLoopPeekFailLocked", ErrProtocol},
	{"unexpected EOF reading trailer", ErrEOF},
	{"server closed idle connection", ErrEOF},
	{"tls: ", ErrTLS},
	// Go's HTTP/2: a GOAWAY that left the request unanswered is the
	// server closing the connection before the response, as an EOF on
	// HTTP/1.1; a connection error is what the server sent breaking the
	// protocol; a PING unanswered (--h2-ping-timeout) a timeout.
	{"server sent GOAWAY and closed the connection", ErrEOF},
	{"graceful shutdown GOAWAY", ErrEOF},
	{"connection error: ", ErrProtocol},
	// Go's HTTP/2: a GOAWAY with an error code on a new connection, its
	// first stream above the last-stream-id: the server ended the
	// connection in error (not sent again), a connection error as the
	// default engine's.
	{"Transport received GOAWAY from server ErrCode:", ErrProtocol},
	// Go's HTTP/2: the connection closed before its first request was
	// sent (the server closed it after its SETTINGS): the server ended
	// the connection before the response, as eof.
	{"http2: client conn could not be established", ErrEOF},
	{"http2: client connection lost", ErrTimeout},
}
