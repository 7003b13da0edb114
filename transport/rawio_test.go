package transport_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/faya-load/faya/transport"
)

// TestRawIO: with raw reads and writes, a write larger than the socket
// buffers arrives whole (the writer waits in the poller while they are
// full), the reads get the server's bytes, both are counted, and the
// connection's end reads as net.Conn's does: an EOF, a reset, a close
// while waiting in a read, a deadline.
func TestRawIO(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	got := make(chan int, 1)
	tc := exchangeServer(t, func(c *net.TCPConn) {
		n, _ := io.CopyN(io.Discard, c, int64(len(big)))
		got <- int(n)
		_, _ = c.Write(big[:100000])
		_, _ = c.Read(make([]byte, 1)) // then the client's close: EOF
	})
	tc.RawIO()
	if n, err := tc.Write(big); n != len(big) || err != nil {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(big))
	}
	if n := <-got; n != len(big) {
		t.Fatalf("the server got %d bytes, want %d", n, len(big))
	}
	buf := make([]byte, 100000)
	if n, err := io.ReadFull(tc, buf); n != len(buf) || err != nil || !bytes.Equal(buf, big[:100000]) {
		t.Fatalf("ReadFull = %d, %v (bytes equal: %v)", n, err, bytes.Equal(buf[:n], big[:n]))
	}
	if rx, tx := tc.TakeBytes(); rx != 100000 || tx != int64(len(big)) {
		t.Errorf("counted rx %d tx %d, want 100000 %d", rx, tx, len(big))
	}

	for _, end := range []struct {
		name string
		want error
	}{{"close", io.EOF}, {"reset", syscall.ECONNRESET}} {
		t.Run(end.name, func(t *testing.T) {
			tc := exchangeServer(t, func(c *net.TCPConn) {
				_, _ = c.Read(make([]byte, 1))
				if end.want == syscall.ECONNRESET {
					_ = c.SetLinger(0)
				}
			})
			tc.RawIO()
			if _, err := tc.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			if _, err := tc.Read(make([]byte, 64)); !errors.Is(err, end.want) {
				t.Errorf("Read: %v, want %v", err, end.want)
			}
		})
	}

	t.Run("closed while reading", func(t *testing.T) {
		tc := exchangeServer(t, func(c *net.TCPConn) { _, _ = c.Read(make([]byte, 1)) })
		tc.RawIO()
		errc := make(chan error, 1)
		go func() {
			_, err := tc.Read(make([]byte, 64))
			errc <- err
		}()
		for range 3 {
			runtime.Gosched() // the read starts waiting (if not, it sees the close at once)
		}
		_ = tc.Close()
		if err := <-errc; !errors.Is(err, net.ErrClosed) {
			t.Errorf("Read: %v, want net.ErrClosed", err)
		}
		if _, err := tc.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Write after Close: %v, want net.ErrClosed", err)
		}
	})

	t.Run("deadline", func(t *testing.T) {
		tc := exchangeServer(t, func(c *net.TCPConn) { _, _ = c.Read(make([]byte, 1)) })
		tc.RawIO()
		_ = tc.SetReadDeadline(time.Now().Add(-time.Second))
		if _, err := tc.Read(make([]byte, 64)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Read past its deadline: %v, want os.ErrDeadlineExceeded", err)
		}
	})
}

// TestReadHooks: Before runs before each read and After after it; when
// Before puts work off, a read that finds bytes waiting takes them without
// Idle, and one that finds the socket empty runs Idle before it waits.
// Idle writes what the server answers: the wait that follows it sees that
// answer (no readiness is lost between the empty read and the wait). Raw
// and plain reads alike.
func TestReadHooks(t *testing.T) {
	for _, raw := range []bool{true, false} {
		name := "plain"
		if raw {
			name = "raw"
		}
		t.Run(name, func(t *testing.T) {
			ping := make(chan struct{})
			tc := exchangeServer(t, func(c *net.TCPConn) {
				_, _ = c.Write([]byte("first"))
				<-ping // the client has read it: now the socket is empty
				b := make([]byte, 4)
				for range 20 {
					if _, err := io.ReadFull(c, b); err != nil {
						return
					}
					_, _ = c.Write(b) // each of Idle's writes answered
				}
			})
			if raw {
				tc.RawIO()
			}
			var before, idle, after int
			putOff := false
			tc.SetReadHooks(transport.ReadHooks{
				Before: func() bool { before++; return putOff },
				Idle: func() {
					idle++
					if _, err := tc.Write([]byte("ping")); err != nil {
						t.Error(err)
					}
				},
				After: func() { after++ },
			})
			buf := make([]byte, 64)
			n, err := io.ReadAtLeast(tc, buf, 5)
			if err != nil || string(buf[:n]) != "first" {
				t.Fatalf("read %q, %v; want first", buf[:n], err)
			}
			reads := before
			if idle != 0 || after != before {
				t.Fatalf("nothing put off: Idle ran %d times, After %d of %d", idle, after, before)
			}
			close(ping)
			putOff = true
			for i := range 20 {
				n, err := io.ReadAtLeast(tc, buf, 4)
				if err != nil || string(buf[:n]) != "ping" {
					t.Fatalf("answer %d: %q, %v; want ping", i, buf[:n], err)
				}
			}
			// Each answer came to an empty socket after Idle's write (in
			// a read or two: the server's answer may come in pieces).
			if idle != 20 || after != before || before-reads < 20 {
				t.Errorf("Idle ran %d times for 20 answers; Before %d, After %d", idle, before-reads, after-reads)
			}
		})
	}
}

// TestReadHooksIdleCloses: an Idle that closes the connection (its write
// failed) does not hang the read it runs in: the read ends with
// net.ErrClosed, and the socket closes (the server reads an EOF).
func TestReadHooksIdleCloses(t *testing.T) {
	eof := make(chan error, 1)
	tc := exchangeServer(t, func(c *net.TCPConn) {
		_, err := c.Read(make([]byte, 1))
		eof <- err
	})
	tc.RawIO()
	tc.SetReadHooks(transport.ReadHooks{
		Before: func() bool { return true },
		Idle:   func() { _ = tc.Close() },
	})
	if _, err := tc.Read(make([]byte, 64)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read: %v, want net.ErrClosed", err)
	}
	if err := <-eof; err != io.EOF {
		t.Errorf("the server read %v, want EOF", err)
	}
}
