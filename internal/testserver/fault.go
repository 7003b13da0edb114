package testserver

import (
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// AnswerURL returns a server that reads each request, writes answer (any
// bytes, HTTP or not) and closes the connection.
func AnswerURL(t testing.TB, answer string) string {
	return Raw(t, func(c net.Conn) {
		if readRequest(c) == nil {
			_, _ = c.Write([]byte(answer))
		}
		_ = c.Close()
	})
}

// FloodURL returns a server that reads each request, writes head, then
// writes repeat again and again until the client goes away: headers that
// never end, or 1xx answers that never stop.
func FloodURL(t testing.TB, head, repeat string) string {
	return Raw(t, func(c net.Conn) {
		defer func() { _ = c.Close() }()
		if readRequest(c) != nil {
			return
		}
		_ = c.SetWriteDeadline(time.Now().Add(30 * time.Second)) // bounded, whatever the client does
		if _, err := c.Write([]byte(head)); err != nil {
			return
		}
		chunk := []byte(strings.Repeat(repeat, max(1, 16<<10/len(repeat))))
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
}

// BodyResetURL returns a server that reads each request, answers 200 with
// a Content-Length of 1000 and 10 bytes of that body, then resets the
// connection: a response whose body failed.
func BodyResetURL(t testing.TB) string {
	return Raw(t, func(c net.Conn) {
		if readRequest(c) == nil {
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789"))
			time.Sleep(10 * time.Millisecond) // the head is read before the reset
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
	})
}

// ResetNewURL returns a server that resets every new connection as soon
// as it is accepted, before reading anything, and the count of the
// connections it accepted.
func ResetNewURL(t testing.TB) (string, *atomic.Int64) {
	accepted := new(atomic.Int64)
	return Raw(t, func(c net.Conn) {
		accepted.Add(1)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
	}), accepted
}

// HTTP2Settings is what a server that speaks only HTTP/2 (nginx with
// "listen ... http2" and no TLS, for one) answers an HTTP/1.1 request
// with: its SETTINGS frame, then a GOAWAY with PROTOCOL_ERROR.
const HTTP2Settings = "\x00\x00\x12\x04\x00\x00\x00\x00\x00" + // SETTINGS, 18 bytes, stream 0
	"\x00\x03\x00\x00\x00\x80" + // MAX_CONCURRENT_STREAMS 128
	"\x00\x04\x00\x01\x00\x00" + // INITIAL_WINDOW_SIZE 65536
	"\x00\x05\x00\xff\xff\xff" + // MAX_FRAME_SIZE 16777215
	"\x00\x00\x04\x08\x00\x00\x00\x00\x00\x7f\xff\x00\x00" + // WINDOW_UPDATE
	"\x00\x00\x08\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01" // GOAWAY, PROTOCOL_ERROR
