package transport_test

import (
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

func TestParseLifetime(t *testing.T) {
	for _, tc := range []struct {
		in        string
		d, jitter time.Duration
		bad       bool
	}{
		{in: "30s", d: 30 * time.Second},
		{in: "30s±5s", d: 30 * time.Second, jitter: 5 * time.Second},
		{in: "30s+-5s", d: 30 * time.Second, jitter: 5 * time.Second},
		{in: "1m ± 10s", d: time.Minute, jitter: 10 * time.Second},
		{in: "", bad: true},
		{in: "30", bad: true},
		{in: "0s", bad: true},
		{in: "-1s", bad: true},
		{in: "30s±", bad: true},
		{in: "30s±30s", bad: true},
		{in: "30s±-1s", bad: true},
	} {
		d, j, err := transport.ParseLifetime(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseLifetime(%q) = %v, %v; want an error", tc.in, d, j)
			}
			continue
		}
		if err != nil || d != tc.d || j != tc.jitter {
			t.Errorf("ParseLifetime(%q) = %v, %v, %v; want %v, %v", tc.in, d, j, err, tc.d, tc.jitter)
		}
	}
}

// Each connection's lifetime is drawn within D±J, spread over the range.
func TestLifetimeJitter(t *testing.T) {
	const d, j = time.Second, 200 * time.Millisecond
	dl, err := transport.NewDialer(transport.Config{MaxConnLifetime: d, MaxConnLifetimeJitter: j}, newRecorder())
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := d+j, d-j
	for range 1000 {
		a, b := net.Pipe()
		c := dl.Track(a, time.Now(), 0)
		lo, hi = min(lo, c.MaxAge), max(hi, c.MaxAge)
		_ = c.Close()
		_ = b.Close()
	}
	if lo < d-j || hi > d+j {
		t.Errorf("lifetimes from %v to %v, want within %v±%v", lo, hi, d, j)
	}
	if lo > d-j/2 || hi < d+j/2 {
		t.Errorf("1000 lifetimes from %v to %v only: the jitter is not spread over %v±%v", lo, hi, d, j)
	}
}

// A connection's last request is its MaxRequestsPerConn-th, or the first
// it gets once older than its lifetime; the reason is recorded for its
// close.
func TestConnLast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		dl, err := transport.NewDialer(transport.Config{MaxRequestsPerConn: 3, MaxConnLifetime: time.Second}, rec)
		if err != nil {
			t.Fatal(err)
		}
		use := func(c *transport.Conn) (metrics.CloseReason, bool) {
			c.Acquire()
			r, ok := c.Last()
			c.Release(dl.Now())
			return r, ok
		}
		a, b := net.Pipe()
		defer b.Close()
		c := dl.Track(a, time.Now(), 0)
		for i := 1; i <= 3; i++ {
			r, ok := use(c)
			if want := i == 3; ok != want || ok && r != metrics.CloseMaxRequests {
				t.Errorf("request %d: Last = %v, %v; want %v for max_requests", i, r, ok, want)
			}
		}
		_ = c.Close()

		a2, b2 := net.Pipe()
		defer b2.Close()
		c2 := dl.Track(a2, time.Now(), 0)
		if _, ok := use(c2); ok {
			t.Error("a new connection's first request is its last")
		}
		time.Sleep(time.Second - time.Millisecond)
		if c2.Expired() {
			t.Error("expired before its lifetime")
		}
		time.Sleep(time.Millisecond)
		if !c2.Expired() {
			t.Error("not expired at its lifetime")
		}
		if r, ok := use(c2); !ok || r != metrics.CloseLifetime {
			t.Errorf("at its lifetime: Last = %v, %v; want lifetime", r, ok)
		}
		_ = c2.Close()
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if rec.closed[metrics.CloseMaxRequests] != 1 || rec.closed[metrics.CloseLifetime] != 1 {
			t.Errorf("closed %v, want one max_requests and one lifetime", rec.closed)
		}
	})
}
