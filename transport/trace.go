package transport

import (
	"context"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"

	"github.com/faya-load/faya/metrics"
)

// Timings are the phases one request went through. A phase that did not
// happen (DNS on a reused connection) is absent, not zero.
type Timings struct {
	d   [metrics.NumPhases]time.Duration
	set uint16
}

// Set records phase p as having taken d. Negative d (a clock oddity) is
// recorded as zero.
func (t *Timings) Set(p metrics.Phase, d time.Duration) {
	t.d[p] = max(d, 0)
	t.set |= 1 << p
}

// Add adds d to phase p (a redirected request goes through phases again).
func (t *Timings) Add(p metrics.Phase, d time.Duration) {
	if t.set&(1<<p) == 0 {
		t.Set(p, d)
		return
	}
	t.d[p] += max(d, 0)
}

// Get returns phase p and whether it happened.
func (t *Timings) Get(p metrics.Phase) (time.Duration, bool) {
	return t.d[p], t.set&(1<<p) != 0
}

// Reset clears all phases.
func (t *Timings) Reset() { *t = Timings{} }

// Tracer measures requests through [net/http/httptrace] hooks. One Tracer
// serves one VU's requests one after another: call [Tracer.Start] before
// each request, [Tracer.Finish] after its body was read, and take a new
// Tracer when [Tracer.Reusable] says a late hook might still fire (net/http
// may call hooks after RoundTrip returned for failed requests).
//
// DNS, Connect and TLS come from the [Conn] the request got, not from
// hooks: net/http dials on behalf of the pool, detached from the request
// that asked, and a request may be handed a connection another dial made.
type Tracer struct {
	pool  *Dialer
	trace httptrace.ClientTrace

	// Set on the request's goroutine (GetConn and GotConn run there).
	start     time.Duration
	getConn   time.Duration
	gotConn   time.Duration
	conn      *Conn
	acquired  []*Conn // every connection the request got (redirects, retries)
	buf       [2]*Conn
	fresh     bool
	uses      [2]int // connections got: [0] first use, [1] reuse
	wasIdle   bool
	idleTime  time.Duration
	hops      int // GetConn calls
	retries   int
	hopGot    bool // the hop got a connection (GotConn)
	redirects int
	timings   Timings

	// Set from net/http's write and read loops.
	wrote     atomic.Int64 // pool clock ns + 1; 0: not yet
	firstByte atomic.Int64
	waitCont  atomic.Int64         // the head written, waiting for 100 Continue
	got100    atomic.Int64         // the server's 100 Continue
	headers   time.Duration        // the final answer's head was had (GotHeaders); 0: not known
	stream    atomic.Pointer[Conn] // the HTTP/2 connection whose stream count this request holds
	expect    bool                 // the request asks "Expect: 100-continue" (ExpectsContinue)

	sending http.Header // the header of the hop being sent (Sending)
}

// NewTracer returns a Tracer whose times are on p's clock.
func NewTracer(p *Pool) *Tracer {
	t := &Tracer{pool: p.Dialer}
	t.trace = httptrace.ClientTrace{
		GetConn:              t.onGetConn,
		GotConn:              t.onGotConn,
		WroteHeaders:         t.onWroteHeaders,
		WroteRequest:         t.onWroteRequest,
		GotFirstResponseByte: t.onFirstByte,
		PutIdleConn:          t.onPutIdleConn,
		Wait100Continue:      func() { t.waitCont.CompareAndSwap(0, int64(t.pool.now())+1) },
		Got100Continue:       func() { t.got100.CompareAndSwap(0, int64(t.pool.now())+1) },
	}
	return t
}

// Context returns ctx carrying the tracer's hooks. Derive each request's
// context from it.
func (t *Tracer) Context(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &t.trace)
}

// Start resets the tracer for a new request starting now and returns now.
func (t *Tracer) Start() time.Duration {
	now := t.pool.now()
	t.start = now
	t.getConn, t.gotConn = 0, 0
	t.conn = nil
	clear(t.buf[:])
	t.acquired = t.buf[:0]
	t.fresh, t.wasIdle, t.idleTime = false, false, 0
	t.uses = [2]int{}
	t.hops, t.retries, t.redirects = 0, 0, 0
	t.hopGot = false
	t.timings.Reset()
	t.wrote.Store(0)
	t.firstByte.Store(0)
	t.waitCont.Store(0)
	t.got100.Store(0)
	t.headers = 0
	t.expect = false
	t.sending = nil
	return now
}

// ExpectsContinue says the request started asks "Expect: 100-continue"
// with a body: a final answer may come before net/http's writer even
// waits for the 100 (then no hook fires).
func (t *Tracer) ExpectsContinue() { t.expect = true }

// GotHeaders notes that the final answer's head was had (net/http has no
// hook for it; RoundTrip returns then), for a request sent with "Expect:
// 100-continue": the first response byte net/http reports is then the 100
// Continue's, before the body was written, and the wait runs to this
// instead. For other requests it costs one atomic load.
func (t *Tracer) GotHeaders() {
	if t.waitCont.Load() != 0 {
		t.headers = t.pool.now()
	}
}

// Expect says how a request sent with "Expect: 100-continue" went on
// after its head was written, and how long it waited: for the 100
// Continue, for a final answer that came first, or for the timeout (the
// body then went anyway). ExpectNone for other requests.
func (t *Tracer) Expect() (metrics.ExpectOutcome, time.Duration) {
	w, ok := stamp(&t.waitCont)
	if !ok {
		if first, okF := stamp(&t.firstByte); t.expect && okF {
			// The answer came before the writer waited for it: final.
			return metrics.ExpectFinal, max(first-t.gotConn, 0)
		}
		return metrics.ExpectNone, 0
	}
	if g, ok := stamp(&t.got100); ok {
		return metrics.ExpectGot100, max(g-w, 0)
	}
	// Without a 100: a final answer came first if it came before the
	// timeout (the writer's hooks may run after the answer was read, so
	// their stamps cannot tell).
	timeout := t.pool.cfg.ExpectContinueTimeout
	if first, okF := stamp(&t.firstByte); okF && first-w < timeout {
		return metrics.ExpectFinal, max(first-w, 0)
	}
	return metrics.ExpectTimeout, timeout
}

func stamp(a *atomic.Int64) (time.Duration, bool) {
	v := a.Load()
	return time.Duration(v - 1), v != 0
}

func (t *Tracer) onGetConn(string) {
	if t.hops > 0 && !t.hopGot {
		// net/http asks again without having had a connection: its
		// HTTP/2 pool had none to give (http2 ErrNoCachedConn, after a
		// dial race) and it looks once more. Nothing was sent: the wait
		// for a connection goes on from the first ask.
		return
	}
	t.hopGot = false
	now := t.pool.now()
	if t.hops > 0 {
		// A second GetConn within one request is either a redirect (the
		// previous hop got an answer) or net/http's silent retry on a
		// stale connection (it did not).
		t.endHop(now)
		if _, ok := stamp(&t.firstByte); ok {
			t.redirects++
		} else {
			t.retries++
			if t.conn != nil {
				// The connection was found closed under the request:
				// not a request it carried (the server saw none).
				t.conn.AddRequests(-1)
			}
		}
		t.wrote.Store(0)
		t.firstByte.Store(0)
	}
	t.hops++
	t.getConn = now
}

// endHop charges the hop that ended at now to the send, wait and receive
// phases.
func (t *Tracer) endHop(now time.Duration) {
	if t.conn == nil {
		return
	}
	wrote, okW := stamp(&t.wrote)
	first, okF := stamp(&t.firstByte)
	if okF && okW && first < wrote && t.headers > wrote {
		// The first byte was a 100 Continue's, before the body: the
		// final answer's head came when RoundTrip returned.
		first = t.headers
	}
	if okW && wrote >= t.gotConn {
		t.timings.Add(metrics.PhaseSend, wrote-t.gotConn)
		if okF && first >= wrote {
			t.timings.Add(metrics.PhaseWait, first-wrote)
		}
	}
	if okF && now >= first {
		t.timings.Add(metrics.PhaseReceive, now-first)
	}
}

// onWroteHeaders counts an HTTP/2 stream open: its headers written, the
// request had a stream slot. It runs on Go's HTTP/2 writer goroutine,
// after GotConn set t.conn.
func (t *Tracer) onWroteHeaders() {
	if c := t.conn; c != nil && c.Proto == metrics.ProtoH2 && !c.ownCount.Load() {
		c.StreamOpened()
		t.stream.Store(c)
	}
}

// endStream counts the end of the stream onWroteHeaders counted, if any.
func (t *Tracer) endStream() {
	if c := t.stream.Swap(nil); c != nil {
		c.StreamClosed()
	}
}

// Sending names the header of the hop about to be sent, owned by that
// hop (not shared with later requests): when the connection it gets must
// close after it ([Conn.Last]), "Connection: close" is added to it, so
// that the server closes and net/http does not reuse the connection.
// Needed only when [Config.MaxRequestsPerConn] or [Config.MaxConnLifetime]
// is set.
func (t *Tracer) Sending(h http.Header) { t.sending = h }

func (t *Tracer) onGotConn(info httptrace.GotConnInfo) {
	t.endStream() // the previous hop's
	t.hopGot = true
	now := t.pool.now()
	t.gotConn = now
	c := ConnOf(info.Conn)
	t.conn = c
	t.wasIdle, t.idleTime = info.WasIdle, info.IdleTime
	if c == nil {
		t.timings.Add(metrics.PhaseBlocked, now-t.getConn)
		return
	}
	t.fresh = c.Acquire()
	// HTTP/2 has no Connection header (RFC 9113 8.2.2): rotation there is
	// not done yet, an h2 connection is never told to close this way.
	if c.Proto != metrics.ProtoH2 {
		if _, ok := c.Last(); ok && t.sending != nil {
			t.sending["Connection"] = []string{"close"}
		}
	}
	t.acquired = append(t.acquired, c)
	if t.fresh {
		t.uses[0]++
	} else {
		t.uses[1]++
	}
	wait := now - t.getConn
	// A connection's dial phases are charged to its first request, so
	// that they are counted once per connection that carried a request,
	// as on the h1 engine. Handed over straight from the dial, the dial
	// was (part of) this request's wait; the rest was for a pool slot.
	// A connection that sat idle first was dialed for a request that got
	// another one (net/http's dial race): its first request did not wait
	// for the dial.
	if t.fresh {
		dial := c.AddDialPhases(&t.timings)
		if !info.WasIdle {
			// The dial may have started before this request asked.
			wait = max(wait-dial, 0)
		}
	}
	t.timings.Add(metrics.PhaseBlocked, wait)
}

func (t *Tracer) onWroteRequest(info httptrace.WroteRequestInfo) {
	if info.Err == nil {
		t.wrote.CompareAndSwap(0, int64(t.pool.now())+1)
	}
}

func (t *Tracer) onFirstByte() {
	t.firstByte.CompareAndSwap(0, int64(t.pool.now())+1)
}

func (t *Tracer) onPutIdleConn(err error) {
	if err == nil {
		return
	}
	r := PutIdleReason(err)
	if c := t.conn; c != nil {
		c.SetCloseReason(r)
	}
	t.pool.obs.PutIdleFailed(r)
}

// Finish ends the request at now (after its body was read and closed) and
// returns its phases.
func (t *Tracer) Finish(now time.Duration) *Timings {
	t.endHop(now)
	return &t.timings
}

// Release releases every connection the request got (see [Conn.Release])
// at now, after any close reason was set, and returns the wire bytes they
// carried since the last request.
func (t *Tracer) Release(now time.Duration) (received, sent int64) {
	t.endStream()
	for _, c := range t.acquired {
		rx, tx := c.TakeBytes()
		received += rx
		sent += tx
		c.Release(now)
	}
	return received, sent
}

// Conn is the connection the request's last hop got, or nil.
func (t *Tracer) Conn() *Conn { return t.conn }

// Uses returns how many connections the request got that carried their
// first request (fresh) and how many had carried one before (reused).
// Without redirects or retries, exactly one of them is 1.
func (t *Tracer) Uses() (fresh, reused int) { return t.uses[0], t.uses[1] }

// Idle reports whether the last hop's connection came from the idle pool,
// and for how long it had been idle.
func (t *Tracer) Idle() (bool, time.Duration) { return t.wasIdle, t.idleTime }

// Retries is the number of times net/http silently re-sent the request on
// another connection.
func (t *Tracer) Retries() int { return t.retries }

// Redirects is the number of redirects followed.
func (t *Tracer) Redirects() int { return t.redirects }

// Reusable reports whether no hook of the finished request can still fire,
// so the Tracer may serve the next request: the request asked for one
// connection, its write and its first response byte were seen.
func (t *Tracer) Reusable() bool {
	_, w := stamp(&t.wrote)
	_, f := stamp(&t.firstByte)
	return w && f && t.retries == 0 && t.conn != nil
}
