package transport_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/transport"
)

// exchangeServer serves the connection it returns with serve.
func exchangeServer(t *testing.T, serve func(c *net.TCPConn)) *transport.Conn {
	t.Helper()
	u, err := url.Parse(testserver.Raw(t, func(c net.Conn) {
		defer c.Close()
		serve(c.(*net.TCPConn))
	}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := transport.NewDialer(transport.Config{Concurrency: 1}, newRecorder())
	if err != nil {
		t.Fatal(err)
	}
	tc, _, err := d.Dial(context.Background(), u.Host, false, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tc.Close() })
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	return tc
}

// TestExchange: the request reaches the server whole, the answer's first
// bytes come back in the buffer, written runs once, and the bytes are
// counted.
func TestExchange(t *testing.T) {
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	answer := []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	got := make(chan []byte, 1)
	tc := exchangeServer(t, func(c *net.TCPConn) {
		b := make([]byte, len(req))
		_, _ = io.ReadFull(c, b)
		got <- b
		_, _ = c.Write(answer)
		_, _ = io.Copy(io.Discard, c)
	})
	buf := make([]byte, 4096)
	calls := 0
	n, err := tc.Exchange(req, func() { calls++ }, buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(<-got, req) {
		t.Error("the server did not get the request")
	}
	// The answer may come in more than one segment: read the rest.
	for n < len(answer) {
		m, err := tc.Read(buf[n:])
		if err != nil {
			t.Fatal(err)
		}
		n += m
	}
	if !bytes.Equal(buf[:n], answer) || calls != 1 {
		t.Errorf("read %q, written called %d times; want %q, once", buf[:n], calls, answer)
	}
	if rx, tx := tc.TakeBytes(); rx != int64(len(answer)) || tx != int64(len(req)) {
		t.Errorf("counted rx %d tx %d, want %d %d", rx, tx, len(answer), len(req))
	}
}

// TestExchangeLargeRequest: a request larger than the socket buffers is
// finished with a plain write, and arrives whole.
func TestExchangeLargeRequest(t *testing.T) {
	req := bytes.Repeat([]byte("x"), 16<<20)
	got := make(chan int, 1)
	tc := exchangeServer(t, func(c *net.TCPConn) {
		n, _ := io.CopyN(io.Discard, c, int64(len(req)))
		got <- int(n)
		_, _ = c.Write([]byte("ok"))
	})
	buf := make([]byte, 16)
	n, err := tc.Exchange(req, nil, buf)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		n, err = io.ReadAtLeast(tc, buf, 2)
	}
	if sent := <-got; err != nil || string(buf[:n]) != "ok" || sent != len(req) {
		t.Errorf("answer %q (%v); the server got %d of %d bytes", buf[:n], err, sent, len(req))
	}
	if _, tx := tc.TakeBytes(); tx != int64(len(req)) {
		t.Errorf("counted tx %d, want %d", tx, len(req))
	}
}

// TestExchangeServerCloses: a close without an answer reads nothing, and
// the next Read says how the connection ended, as a plain read would.
func TestExchangeServerCloses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reset bool
		want  error
	}{
		{"close", false, io.EOF},
		{"reset", true, syscall.ECONNRESET},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := exchangeServer(t, func(c *net.TCPConn) {
				_, _ = c.Read(make([]byte, 64))
				if tc.reset {
					_ = c.SetLinger(0)
				}
			})
			buf := make([]byte, 64)
			n, err := conn.Exchange([]byte("GET / HTTP/1.1\r\n\r\n"), nil, buf)
			if err != nil || n != 0 {
				t.Fatalf("Exchange = %d, %v; want 0, nil", n, err)
			}
			if _, err := conn.Read(buf); !errors.Is(err, tc.want) {
				t.Errorf("Read after Exchange: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestExchangeDeadline: a deadline that passes while waiting for the
// answer is reported by the next Read as a timeout.
func TestExchangeDeadline(t *testing.T) {
	conn := exchangeServer(t, func(c *net.TCPConn) { _, _ = io.Copy(io.Discard, c) })
	_ = conn.SetDeadline(time.Now().Add(20 * time.Millisecond))
	buf := make([]byte, 64)
	n, err := conn.Exchange([]byte("GET / HTTP/1.1\r\n\r\n"), nil, buf)
	if err != nil || n != 0 {
		t.Fatalf("Exchange = %d, %v; want 0, nil", n, err)
	}
	if _, err := conn.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read after Exchange: %v, want a deadline error", err)
	}
}
