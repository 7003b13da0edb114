package h2

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/faya-load/faya/transport"
)

// fakeClock is the dialer's clock inside a synctest bubble.
type fakeClock struct{ epoch time.Time }

func (c fakeClock) Now() time.Duration { return time.Since(c.epoch) }

// tokens counts the tokens waiting on a's channel (0 or 1) and takes it.
func tokens(a *alarm) int {
	select {
	case <-a.wake:
		return 1
	default:
		return 0
	}
}

// The lazy timer: armed at the first request's deadline, it finds a later
// request in flight there and waits for that one's deadline instead, rings
// only when the request in flight is overdue, and disarms when none is.
func TestAlarmLazyTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := fakeClock{time.Now()}
		a := newAlarm(clk)
		defer a.close()
		ctx := context.Background()
		const timeout = 100 * time.Millisecond
		// Twenty requests of 30 ms each: 600 ms, six timeouts long, and
		// none overdue.
		for range 20 {
			now := clk.Now()
			due := now + timeout
			a.start(ctx, now, due)
			time.Sleep(30 * time.Millisecond)
			synctest.Wait()
			if _, timeout := a.check(ctx, due); timeout || tokens(a) != 0 {
				t.Fatalf("a request of 30 ms timed out (at %v)", clk.Now())
			}
			a.end()
		}
		// Idle: the timer fires once more, finds nothing in flight and
		// disarms.
		time.Sleep(time.Second)
		synctest.Wait()
		a.mu.Lock()
		armed := a.armed
		a.mu.Unlock()
		if armed || tokens(a) != 0 {
			t.Fatalf("idle alarm: armed %v", armed)
		}
		// A request overdue: one token at its deadline, not before.
		now := clk.Now()
		due := now + timeout
		a.start(ctx, now, due)
		time.Sleep(timeout - time.Millisecond)
		synctest.Wait()
		if _, timeout := a.check(ctx, due); timeout || tokens(a) != 0 {
			t.Fatal("rang before the deadline")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if _, timeout := a.check(ctx, due); !timeout || tokens(a) != 1 {
			t.Fatal("did not ring at the deadline")
		}
		a.end()
		// The next request, with a shorter timeout, is not taken for
		// the overdue one, and its own deadline rings.
		now = clk.Now()
		due = now + timeout/2
		a.start(ctx, now, due)
		if _, timeout := a.check(ctx, due); timeout {
			t.Fatal("a new request taken for overdue")
		}
		time.Sleep(timeout / 2)
		synctest.Wait()
		if _, timeout := a.check(ctx, due); !timeout || tokens(a) != 1 {
			t.Fatal("a shorter timeout did not ring at its deadline")
		}
		a.end()
	})
}

// A context's cancel rings the alarm of the request waiting, and its
// error is the wait's; a context after it is registered in its place.
func TestAlarmCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := fakeClock{time.Now()}
		a := newAlarm(clk)
		defer a.close()
		ctx, cancel := context.WithCancel(context.Background())
		due := clk.Now() + time.Hour
		a.start(ctx, clk.Now(), due)
		go func() {
			time.Sleep(time.Second)
			cancel()
		}()
		<-a.wake
		if canceled, _ := a.check(ctx, due); !errors.Is(canceled, context.Canceled) {
			t.Fatalf("woke with %v", canceled)
		}
		a.end()
		ctx2, cancel2 := context.WithCancel(context.Background())
		a.start(ctx2, clk.Now(), clk.Now()+time.Hour)
		cancel2()
		synctest.Wait()
		if tokens(a) != 1 {
			t.Fatal("the second context's cancel did not ring")
		}
		a.end()
	})
}

// Through the client: a request the server does not answer times out
// (TimeoutError) after the client's Timeout, and the requests after it on
// the same client and connection are not woken by what is left of it; a
// canceled one fails with its context's error; a request waiting for a
// stream slot times out there.
func TestClientTimeoutAndCancel(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	s := startServer(t, false, nil, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			select {
			case <-hold:
			case <-r.Context().Done():
			}
			return
		}
		ok(w, r)
	})
	p, o := newPool(t, transport.Config{Concurrency: 2, MaxConnsPerHost: 1}, 1)
	cl := NewClient(p)
	defer cl.Close()
	cl.Timeout = 200 * time.Millisecond
	hang, fast := mustPrepare(t, "GET", s.URL+"/hang", nil), mustPrepare(t, "GET", s.URL+"/", nil)
	var res Result
	ctx := context.Background()
	t0 := time.Now()
	err := cl.Do(ctx, hang, Call{}, &res)
	var te *TimeoutError
	if !errors.As(err, &te) || time.Since(t0) < cl.Timeout {
		t.Fatalf("unanswered request: %v after %v, want a TimeoutError after %v", err, time.Since(t0), cl.Timeout)
	}
	for i := range 50 {
		if err := cl.Do(ctx, fast, Call{}, &res); err != nil || res.Status != 200 {
			t.Fatalf("request %d after the timeout: %v, %d", i, err, res.Status)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	cl.Timeout = 10 * time.Second
	if err := cl.Do(cctx, hang, Call{}, &res); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled request: %v", err)
	}
	if err := cl.Do(ctx, fast, Call{}, &res); err != nil || res.Status != 200 {
		t.Fatalf("request after the cancel: %v, %d", err, res.Status)
	}
	// One stream per connection, one connection: a second client waits
	// for the slot the first holds, and times out waiting.
	held := make(chan error, 1)
	hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
	defer hcancel()
	go func() {
		c := NewClient(p)
		defer c.Close()
		c.Timeout = 10 * time.Second
		var r Result
		held <- c.Do(hctx, hang, Call{}, &r)
	}()
	for i := 0; s.inflight.Load() == 0; i++ {
		if i > 5000 {
			t.Fatal("the holding request never reached the server")
		}
		time.Sleep(time.Millisecond)
	}
	cl.Timeout = 150 * time.Millisecond
	err = cl.Do(ctx, fast, Call{}, &res)
	if !errors.As(err, &te) || res.StreamWait < cl.Timeout {
		t.Fatalf("request waiting for a slot: %v, stream wait %v, want a TimeoutError after %v", err, res.StreamWait, cl.Timeout)
	}
	hcancel()
	if err := <-held; !errors.Is(err, context.Canceled) {
		t.Errorf("holding request: %v", err)
	}
	if got := s.conns.Load(); got != 1 {
		t.Errorf("server saw %d connections, want 1", got)
	}
	if dialed, _ := o.counts(); dialed != 1 {
		t.Errorf("dialed %d, want 1", dialed)
	}
	// 1 + 50 + 1 + 1 + 1: the slot's waiter never reached the server.
	if got := s.requests.Load(); got != 54 {
		t.Errorf("server saw %d requests, want 54", got)
	}
}
