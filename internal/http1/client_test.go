package http1

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// nopObserver ignores connection events.
type nopObserver struct{}

func (nopObserver) ConnDialed(*transport.Conn)                                    {}
func (nopObserver) ConnClosed(*transport.Conn, metrics.CloseReason, int64, int64) {}
func (nopObserver) PutIdleFailed(metrics.CloseReason)                             {}

// answerEach reads requests (bodiless, each ending at its blank line) from
// c, however many arrive in one read, and writes answer(k)'s bytes for the
// k-th; it stops when answer says so, or the connection ends.
func answerEach(c net.Conn, answer func(k int) (out []byte, last bool)) {
	buf := make([]byte, 64<<10)
	have := 0
	for k := 0; ; {
		n, err := c.Read(buf[have:])
		if err != nil {
			return
		}
		have += n
		for {
			i := bytes.Index(buf[:have], []byte("\r\n\r\n"))
			if i < 0 {
				break
			}
			copy(buf, buf[i+4:have])
			have -= i + 4
			out, last := answer(k)
			k++
			if _, err := c.Write(out); err != nil || last {
				return
			}
		}
	}
}

// cannedServer answers every request on a connection with the same bytes,
// without allocating per request, so that allocations measured in the
// client are the client's.
func cannedServer(t testing.TB, answer string) string {
	t.Helper()
	out := []byte(answer)
	return testserver.Raw(t, func(c net.Conn) {
		defer c.Close()
		answerEach(c, func(int) ([]byte, bool) { return out, false })
	})
}

func newTestClient(t testing.TB) (*Client, *Pool) {
	d, err := transport.NewDialer(transport.Config{Concurrency: 1}, nopObserver{})
	if err != nil {
		t.Fatal(err)
	}
	p := NewPool(d)
	t.Cleanup(p.Close)
	return NewClient(p), p
}

// One request on a kept-alive connection allocates nothing.
func TestClientAllocs(t *testing.T) {
	url := cannedServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	cl, _ := newTestClient(t)
	req, err := Prepare("GET", url, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	ctx := context.Background()
	if err := cl.Do(ctx, req, Call{}, &res); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(500, func() {
		if err := cl.Do(ctx, req, Call{}, &res); err != nil || res.Status != 200 {
			t.Fatal(err, res.Status)
		}
	})
	if allocs > 0 {
		t.Errorf("%v allocations per request, want 0", allocs)
	}
	if res.Reused != 1 || res.Fresh != 0 {
		t.Errorf("res %+v", res)
	}
}

func BenchmarkClientDo(b *testing.B) {
	url := cannedServer(b, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	cl, _ := newTestClient(b)
	req, _ := Prepare("GET", url, nil, nil)
	var res Result
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := cl.Do(ctx, req, Call{}, &res); err != nil {
			b.Fatal(err)
		}
	}
	_ = time.Second
}

// TestDeadlineKeptOrMoved: a request keeps the deadline an earlier request
// set on the connection only when it fits its own timeout: a client with a
// short timeout on a connection armed for a long one still times out on
// time, and a later deadline replaces one that passed.
func TestDeadlineKeptOrMoved(t *testing.T) {
	// The server answers the first two requests on a connection and
	// never the third.
	url := testserver.Raw(t, func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, 4096)
		for i := 0; ; i++ {
			if _, err := c.Read(buf); err != nil {
				return
			}
			if i < 2 {
				_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
			}
		}
	})
	d, err := transport.NewDialer(transport.Config{Concurrency: 1}, nopObserver{})
	if err != nil {
		t.Fatal(err)
	}
	p := NewPool(d)
	t.Cleanup(p.Close)
	long, short := NewClient(p), NewClient(p)
	long.Timeout, short.Timeout = time.Minute, 100*time.Millisecond
	req, err := Prepare("GET", url, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	ctx := context.Background()
	if err := long.Do(ctx, req, Call{}, &res); err != nil {
		t.Fatal(err)
	}
	// The connection is armed for a minute: too late for short, which
	// must move the deadline back.
	if err := short.Do(ctx, req, Call{}, &res); err != nil || res.Reused != 1 {
		t.Fatalf("second request: %v, reused %d", err, res.Reused)
	}
	start := time.Now()
	err = short.Do(ctx, req, Call{}, &res)
	took := time.Since(start)
	if err == nil || !isTimeout(err) {
		t.Fatalf("third request: %v, want a timeout", err)
	}
	if took < short.Timeout || took > short.Timeout+deadlineSlack(short.Timeout)+time.Second {
		t.Errorf("timed out after %v, want %v (+ at most %v of slack)", took, short.Timeout, deadlineSlack(short.Timeout))
	}
}

// The whole-request timeout covers the wait for a connection, as
// net/http's does: with the one connection the pool allows held by a
// request the server never answers, a second request times out at its
// own timeout, as a timeout.
func TestTimeoutCoversThePoolWait(t *testing.T) {
	url := testserver.SilentURL(t)
	cl, p := newTestClient(t) // Concurrency 1: one connection at most
	req, err := Prepare("GET", url, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan error, 1)
	hold, release := context.WithCancel(t.Context())
	go func() {
		holder := NewClient(p)
		holder.Timeout = 10 * time.Second
		var res Result
		held <- holder.Do(hold, req, Call{}, &res)
	}()
	for open, _ := p.Conns(); open == 0; open, _ = p.Conns() {
		time.Sleep(time.Millisecond)
	}
	cl.Timeout = 200 * time.Millisecond
	var res Result
	start := time.Now()
	err = cl.Do(t.Context(), req, Call{}, &res)
	took := time.Since(start)
	var te *TimeoutError
	if !errors.As(err, &te) || metrics.Classify(err) != metrics.ErrTimeout || !strings.Contains(err.Error(), "timeout after 200ms") {
		t.Fatalf("err %v, want a timeout after 200ms", err)
	}
	if took > 5*time.Second {
		t.Errorf("the request took %v waiting for a connection, its timeout is 200ms", took)
	}
	release()
	<-held
}
