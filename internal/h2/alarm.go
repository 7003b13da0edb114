package h2

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// alarm is what a client's goroutine sleeps on while a request waits: one
// channel, woken by the connection's reader when the client's stream
// ends, by the client's timer when the request's deadline passed, and by
// its context's cancel. A token says "look again", no more: the waiter
// checks what happened (the stream's done flag, [alarm.check]) and sleeps
// again when nothing did, so a token left over from an earlier request
// (the timer firing as it ended) costs one more look. A plain receive is
// cheaper than a select over the stream's channel, a timer's and the
// context's, which locks all three and (for the timer) moves it in and
// out of the timer heap, on every answer.
//
// The timer is lazy: it is not reset per request. It is armed at the
// first request's deadline; when it fires it looks at the request in
// flight (due), and sets itself again for that request's deadline when
// that is later (requests usually end long before their timeout), or
// disarms when none is in flight. The next request arms it again.
type alarm struct {
	wake chan struct{} // capacity 1

	d       interface{ Now() time.Duration }
	timer   *time.Timer
	due     atomic.Int64 // the request in flight's deadline on the dialer's clock; 0: none
	expired atomic.Int64 // the last deadline the timer found passed

	mu      sync.Mutex // the timer's state
	armed   bool
	firesAt time.Duration

	done <-chan struct{} // the context whose cancel wakes the channel (its Done)
	stop func() bool     // unregisters it
}

func newAlarm(d interface{ Now() time.Duration }) *alarm {
	a := &alarm{wake: make(chan struct{}, 1), d: d}
	a.timer = time.AfterFunc(time.Hour, a.fired)
	a.timer.Stop()
	return a
}

// ring leaves a token unless one is waiting already.
func (a *alarm) ring() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// start makes the alarm ring at due (a request's deadline, now +
// timeout on the dialer's clock) and when ctx is done.
func (a *alarm) start(ctx context.Context, now, due time.Duration) {
	a.due.Store(int64(due))
	a.mu.Lock()
	if !a.armed || a.firesAt > due {
		a.armed, a.firesAt = true, due
		a.timer.Reset(due - now)
	}
	a.mu.Unlock()
	if done := ctx.Done(); done != a.done {
		if a.stop != nil {
			a.stop()
		}
		a.done, a.stop = done, nil
		if done != nil {
			a.stop = context.AfterFunc(ctx, a.ring)
		}
	}
}

// end: no request is in flight.
func (a *alarm) end() { a.due.Store(0) }

// fired is the timer's.
func (a *alarm) fired() {
	a.mu.Lock()
	due := time.Duration(a.due.Load())
	if due == 0 {
		a.armed = false
		a.mu.Unlock()
		return
	}
	if now := a.d.Now(); now < due {
		a.firesAt = due
		a.timer.Reset(due - now)
		a.mu.Unlock()
		return
	}
	a.armed = false
	a.mu.Unlock()
	a.expired.Store(int64(due))
	a.ring()
}

// check says whether a wait for the request due at due must end: its
// context is done (canceled), or its deadline passed (timeout).
func (a *alarm) check(ctx context.Context, due time.Duration) (canceled error, timeout bool) {
	if err := ctx.Err(); err != nil {
		return err, false
	}
	return nil, a.expired.Load() == int64(due)
}

// close stops the timer and the context's registration.
func (a *alarm) close() {
	a.timer.Stop()
	if a.stop != nil {
		a.stop()
		a.done, a.stop = nil, nil
	}
}
