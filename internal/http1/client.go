package http1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// Client sends one VU's requests through a Pool, one at a time. It is not
// safe for concurrent use; give each VU its own.
type Client struct {
	// The fields each request reads or writes come first, together (the
	// configuration's among them, then the request's state): with many
	// VUs a request finds its client's cache lines cold, and each line it
	// touches is a miss (bench/instr.sh cache).
	pool *Pool
	rd   *Reader

	// Timeout bounds each request, redirects and body included.
	Timeout time.Duration
	// ResponseHeaderTimeout, when positive, bounds the wait for the
	// response headers after the request was written.
	ResponseHeaderTimeout time.Duration
	// MaxBody caps the body bytes read per response (negative: no cap).
	MaxBody int64
	// MaxRedirects is how many redirects to follow (negative: none).
	MaxRedirects int
	// OnHeader, if set, sees every header of every final response.
	OnHeader HeaderFunc
	// Patient makes a request that finds no idle connection dial only
	// while few dials to its destination are in flight (two, plus one per
	// 250 µs of the quickest dial there so far); otherwise it waits for a
	// connection to be returned or for its turn to dial, and the wait is
	// its blocked phase. Open-model VUs are patient, because their number
	// follows the arrivals: impatient, a burst of arrivals that finds
	// every connection busy dials one connection each.
	Patient  bool
	rhtArmed bool

	call     Call                 // the inputs of the request in flight
	cur      atomic.Pointer[Conn] // the connection a request is on, for aborting
	ctx      context.Context
	deadline time.Duration // the request's deadline, as set on its connection (dialer's clock)
	due      time.Duration // when the request times out, on the dialer's clock
	last     *Conn         // the connection it put in the idle list last; guarded by the pool's mutex
	location []byte        // the last response's Location
	headFn   func()        // cl.headDone, bound once
	wroteFn  func()        // sets wrote, bound once
	wrote    time.Duration

	// ExpectContinueTimeout is how long a request sent with "Expect:
	// 100-continue" waits, its head written, for the server's 100
	// Continue before it sends its body anyway; 0 or negative: no wait.
	ExpectContinueTimeout time.Duration

	stopWait func() bool
	conn     *Conn // the connection whose response-header timeout is armed
	hdrFn    HeaderFunc
	pbuf     []byte // a pipelined batch: copies of praw
	praw     []byte
	wbuf     []byte   // a request with a Cookie header
	cookies  [][]byte // Set-Cookie lines of the last response
	ckBuf    []byte
}

// Call is what one request takes beside the [Request]: the per-request
// inputs, passed to [Client.Do] rather than set on the client.
type Call struct {
	// Jar, if set, gives each hop its Cookie header and keeps the cookies
	// its answer sets (redirects included).
	Jar transport.CookieJar
	// Capture, if set, receives the final response's status, headers,
	// body (up to Capture.BodyLimit) and URL.
	Capture *transport.Capture
	// Proxy, if set, is the proxy the request goes through; its
	// connections are pooled apart from direct ones and other proxies'.
	Proxy *transport.Proxy
	// NoRedirects makes the first answer the request's, a redirect
	// included, whatever MaxRedirects says (an http.Client above follows
	// them).
	NoRedirects bool
	// Conn, if set, is a connection [Pool.Adopt] returned for this
	// request: its first hop goes on it, as on one dialed for it.
	Conn *Conn
}

// onHeader keeps Set-Cookie lines for the jar and the headers for the
// capture, then calls the user's OnHeader.
func (cl *Client) onHeader(name, value []byte) {
	if cl.call.Jar != nil && equalFold(name, "set-cookie") {
		start := len(cl.ckBuf)
		cl.ckBuf = append(cl.ckBuf, value...)
		cl.cookies = append(cl.cookies, cl.ckBuf[start:len(cl.ckBuf):len(cl.ckBuf)])
	}
	if cp := cl.call.Capture; cp != nil {
		cp.Header = append(cp.Header, [2]string{string(name), string(value)})
	}
	if cl.OnHeader != nil {
		cl.OnHeader(name, value)
	}
}

// NewClient returns a client over p.
func NewClient(p *Pool) *Client {
	cl := &Client{pool: p, rd: NewReader(), Timeout: 30 * time.Second, MaxBody: -1, MaxRedirects: 10}
	cl.headFn = cl.headDone
	cl.wroteFn = func() { cl.wrote = p.d.Now() }
	cl.rd.now = p.d.Now
	cl.rd.MaxHeaderBytes = int(min(p.cfg.MaxResponseHeaderBytes, math.MaxInt32))
	cl.hdrFn = cl.onHeader
	return cl
}

// Result is what one request measured: the same facts the net/http engine
// reports.
type Result struct {
	Status  int
	Timings transport.Timings
	// Start and End are on the dialer's clock.
	Start, End time.Duration
	// Connections got: first use, or used before.
	Fresh, Reused int
	// Dest is the last connection's destination slot ([transport.Conn.Dest]).
	Dest int32
	// WasIdle says the last connection came from the idle list, after
	// IdleTime.
	WasIdle  bool
	IdleTime time.Duration
	// Retries counts requests re-sent after a reused connection turned
	// out closed before any answer; Redirects the redirects followed.
	Retries, Redirects int
	// Expect is how the wait for the server's 100 Continue ended (a
	// request sent with "Expect: 100-continue"), ContinueWait how long
	// it lasted.
	Expect        metrics.ExpectOutcome
	ContinueWait  time.Duration
	BytesSent     int64
	BytesReceived int64
	BodyBytes     int64
	Truncated     bool
	// CloseAnswers and HTTP10 count the hops' answers that asked to close
	// the connection, and those that were HTTP/1.0.
	CloseAnswers int32
	HTTP10       int32
}

// aLongTimeAgo is a deadline in the past: it makes blocked I/O return.
var aLongTimeAgo = time.Unix(1, 0)

// watch arranges for ctx's cancellation to abort the request in flight.
func (cl *Client) watch(ctx context.Context) {
	if ctx == cl.ctx {
		return
	}
	if cl.stopWait != nil {
		cl.stopWait()
	}
	cl.ctx = ctx
	cl.stopWait = context.AfterFunc(ctx, func() {
		if c := cl.cur.Load(); c != nil {
			c.armed.Store(0)
			_ = c.nc.SetDeadline(aLongTimeAgo)
		}
	})
}

// Close stops watching the last context.
func (cl *Client) Close() {
	if cl.stopWait != nil {
		cl.stopWait()
	}
}

// Do sends req with call's inputs and reads the answer to its end,
// following redirects, and fills res (which it resets). The error is the
// request's failure, nil when a response was read whole.
func (cl *Client) Do(ctx context.Context, req *Request, call Call, res *Result) error {
	cl.call = call
	err := cl.do(ctx, req, res)
	cl.call = Call{} // the client keeps no jar, capture or proxy between requests
	return err
}

// do is Do once cl.call is set: without a deferred reset, whose record
// and call each request would run.
func (cl *Client) do(ctx context.Context, req *Request, res *Result) error {
	*res = Result{}
	cl.watch(ctx)
	d := cl.pool.d
	res.Start = d.Now()
	cl.due = res.Start + cl.Timeout
	r := req
	t0 := res.Start
	for {
		retry, err := cl.hop(ctx, r, res, t0)
		t0 = -1
		if retry {
			continue
		}
		if err != nil {
			res.End = d.Now()
			if ctx.Err() != nil {
				return fmt.Errorf("request canceled: %w", ctx.Err())
			}
			return err
		}
		loc := cl.location
		if cl.maxRedirects() < 0 || res.Redirects >= cl.MaxRedirects || len(loc) == 0 {
			return nil
		}
		next, err := r.redirect(res.Status, loc)
		if err != nil {
			return err
		}
		if next == nil {
			return nil
		}
		res.Redirects++
		r = next
	}
}

// maxRedirects is how many redirects the request in flight follows
// (negative: none).
func (cl *Client) maxRedirects() int {
	if cl.call.NoRedirects {
		return -1
	}
	return cl.MaxRedirects
}

// hop sends one request on one connection. retry says the request must
// be sent again on another connection (a reused one turned out closed).
//
// Long (as net/http's persistConn.roundTrip is): one request's steps on
// its connection in their order (get, arm, write, read, account, put),
// which share the connection, the clock readings and the result; split,
// they would pass all of them along on the hot path.
func (cl *Client) hop(ctx context.Context, r *Request, res *Result, t0 time.Duration) (retry bool, err error) {
	d := cl.pool.d
	if t0 < 0 {
		t0 = d.Now()
	}
	rt := r.route(cl.call.Proxy)
	var c *Conn
	var src source
	if c = cl.call.Conn; c != nil {
		cl.call.Conn, src = nil, fromDial
	} else {
		c, src, err = cl.pool.get(ctx, cl, r, rt, t0, cl.Patient, cl.due)
	}
	got := d.Now()
	if err != nil {
		return false, cl.noConn(ctx, res, t0, got, err)
	}
	tc := c.tc
	if tc.Acquire() {
		res.Fresh++
	} else {
		res.Reused++
	}
	res.Dest = tc.Dest
	wait := got - t0
	res.WasIdle, res.IdleTime = false, 0
	switch src {
	case fromDial:
		wait = max(wait-tc.AddDialPhases(&res.Timings), 0)
	case fromIdle:
		res.WasIdle, res.IdleTime = true, got-c.idleSince
	}
	res.Timings.Add(metrics.PhaseBlocked, wait)

	cl.cur.Store(c)
	cl.arm(c)
	if ctx.Err() != nil {
		c.abort()
	}
	out := rt.raw
	ck := ""
	if cl.call.Jar != nil {
		ck = cl.call.Jar.CookieHeader(r.URL)
	}
	// The connection's last request (MaxRequestsPerConn, MaxConnLifetime)
	// asks the server to close, as net/http's Request.Close does.
	_, last := tc.Last()
	if ck != "" || last {
		out = cl.withHeaders(rt, ck, last)
	}
	got0 := 0 // answer bytes read with the write
	primed := false
	if r.expect && cl.ExpectContinueTimeout > 0 || c.nc != net.Conn(tc) || cl.ResponseHeaderTimeout > 0 {
		primed, err = cl.write(c, r, out, res)
	} else if got0, err = tc.Exchange(out, cl.wroteFn, cl.rd.buf); err != nil {
		// A plain connection: write and read in one poller wait.
		cl.wrote = d.Now()
	}
	wrote := cl.wrote
	var resp Response
	if err == nil {
		if cl.ResponseHeaderTimeout > 0 {
			cl.armHeaderTimeout(c)
		}
		if !primed {
			cl.rd.Reset(c.nc)
			cl.rd.w = got0
		}
		if cl.rhtArmed {
			cl.rd.onHead = cl.headFn // headDone acts only then
		}
		onHeader := cl.OnHeader
		if cl.call.Jar != nil || cl.call.Capture != nil {
			onHeader = cl.startCapture()
		}
		err = cl.rd.readResponse(&resp, r.head, cl.MaxBody, onHeader, cl.maxRedirects() >= 0)
		cl.rd.onHead, cl.rd.capture = nil, nil
		if res.Expect == metrics.ExpectFinal || cl.call.Jar != nil || cl.call.Capture != nil {
			err = cl.afterAnswer(c, r, out, &resp, res, err)
		}
	}
	end := d.Now()
	cl.cur.Store(nil)
	rx, tx := tc.TakeBytes()
	res.BytesReceived += rx
	res.BytesSent += tx

	cl.location = nil
	if err != nil {
		return cl.failed(ctx, c, r, src, res, end, err)
	}

	cl.location = resp.Location
	first := resp.FirstByte
	res.Timings.Add(metrics.PhaseSend, wrote-got)
	res.Timings.Add(metrics.PhaseWait, first-wrote)
	res.Timings.Add(metrics.PhaseReceive, end-first)
	res.Status = resp.Status
	res.BodyBytes += resp.BodyBytes
	res.Truncated = res.Truncated || resp.Truncated
	res.CloseAnswers += b2i(resp.CloseAnswer && !last && !r.closes)
	res.HTTP10 += b2i(resp.HTTP10())
	res.End = end

	if !last && tc.Expired() {
		// It grew past its lifetime during this request: close it now,
		// after its request in flight.
		tc.SetCloseReason(metrics.CloseLifetime)
		last = true
	}
	extra := cl.rd.Buffered() != 0
	reusable := !resp.Close && !last && !extra
	if last {
		// the reason is set (Conn.Last, or just above)
	} else if why, ok := transport.AnswerCloseReason(resp.Truncated, resp.Close, cl.pool.cfg.DisableKeepAlives || r.closes, extra); ok {
		tc.SetCloseReason(why)
	}
	cl.pool.put(c, reusable, end, cl)
	tc.Release(end)
	return false, nil
}

// The rare parts of hop, out of its line: a request's path runs hop's
// code from a cache that the kernel and 50 VUs' requests have emptied
// (bench/instr.sh cache), and code that it skips, in between, is lines
// fetched for nothing.

// noConn ends a hop that got no connection at got with err: the wait
// is its blocked phase; the timeout covers the wait for a connection,
// the dial, the TLS handshake and a proxy's handshake, as net/http's
// does.
//
//go:noinline
func (cl *Client) noConn(ctx context.Context, res *Result, t0, got time.Duration, err error) error {
	res.Timings.Add(metrics.PhaseBlocked, got-t0)
	if ctx.Err() == nil && got >= cl.due {
		err = &TimeoutError{After: cl.Timeout, Err: err}
	}
	return err
}

// abort makes c's blocked I/O return (the request's context is done).
//
//go:noinline
func (c *Conn) abort() {
	c.armed.Store(0)
	_ = c.nc.SetDeadline(aLongTimeAgo)
}

// withHeaders returns rt's request with a Cookie header ck and
// "Connection: close" when last, in cl.wbuf.
//
//go:noinline
func (cl *Client) withHeaders(rt *route, ck string, last bool) []byte {
	cl.wbuf = rt.appendHeaders(cl.wbuf[:0], ck, last)
	return cl.wbuf
}

// write sends out on c but for a plain connection's exchange: with
// "Expect: 100-continue" (primed: an answer may be buffered already),
// or over TLS, a proxy's tunnel or with a response-header timeout.
//
//go:noinline
func (cl *Client) write(c *Conn, r *Request, out []byte, res *Result) (primed bool, err error) {
	if r.expect && cl.ExpectContinueTimeout > 0 {
		return true, cl.expectContinue(c, out, len(out)-len(r.body), res)
	}
	_, err = c.nc.Write(out)
	cl.wrote = cl.pool.d.Now()
	return false, err
}

// armHeaderTimeout sets the response-header timeout on c, if it ends
// before the request's deadline.
func (cl *Client) armHeaderTimeout(c *Conn) {
	if dl := time.Now().Add(cl.ResponseHeaderTimeout); dl.Before(cl.pool.d.At(cl.deadline)) {
		_ = c.nc.SetReadDeadline(dl)
		cl.rhtArmed, cl.conn = true, c
	}
}

// startCapture readies the jar's and the capture's buffers for an
// answer and returns the header callback that fills them.
func (cl *Client) startCapture() HeaderFunc {
	cl.cookies, cl.ckBuf = cl.cookies[:0], cl.ckBuf[:0]
	if cp := cl.call.Capture; cp != nil {
		cp.Header = cp.Header[:0]
		cp.Body = cp.Body[:0]
		cl.rd.capture, cl.rd.captureMax = &cp.Body, cp.BodyLimit
	}
	return cl.hdrFn
}

// afterAnswer finishes an answer read with err (nil: whole) on c: the
// body of a request whose "Expect: 100-continue" got a final answer
// first, the cookies it set, the capture.
func (cl *Client) afterAnswer(c *Conn, r *Request, out []byte, resp *Response, res *Result, err error) error {
	if err == nil && res.Expect == metrics.ExpectFinal {
		// A final answer came before the body: the connection stays in
		// step only with the body sent (as net/http does), or closes.
		if resp.Close {
			c.tc.SetCloseReason(metrics.CloseServer)
		} else {
			_, err = c.nc.Write(out[len(out)-len(r.body):])
			cl.wrote = cl.pool.d.Now()
		}
	}
	if err == nil && cl.call.Jar != nil && len(cl.cookies) > 0 {
		cl.call.Jar.SetCookieLines(r.URL, cl.cookies)
	}
	if cp := cl.call.Capture; cp != nil {
		cp.Status, cp.URL, cp.TLS = resp.Status, r.URL, c.tlsOf(r)
	}
	return err
}

// failed ends a hop on c whose answer failed with err at end: the
// connection closes, and the request is sent again (retry) if the
// server had closed the idle connection as it was sent.
func (cl *Client) failed(ctx context.Context, c *Conn, r *Request, src source, res *Result, end time.Duration, err error) (retry bool, _ error) {
	tc := c.tc
	nothing := !cl.rd.gotBytes()
	if src != fromDial && nothing && r.idempotent && res.Retries < maxRetries && ctx.Err() == nil && isClosedConn(err) {
		// The server closed this idle connection as we sent on it:
		// send again on another, as net/http does (each retry drops
		// a dead connection; the last resort is a new one).
		res.Retries++
		tc.AddRequests(-1) // not a request the connection carried: the server had closed it
		tc.NoteServerIdleClose()
		cl.pool.put(c, false, end, cl)
		tc.Release(end)
		return true, nil
	}
	if ctx.Err() != nil || isTimeout(err) {
		tc.SetCloseReason(metrics.CloseCanceled)
	} else if r, ok := transport.FailedReason(metrics.Classify(err)); ok {
		tc.SetCloseReason(r)
	}
	cl.pool.put(c, false, end, cl)
	tc.Release(end)
	if ctx.Err() == nil && isTimeout(err) {
		if cl.rhtArmed {
			err = &TimeoutError{After: cl.ResponseHeaderTimeout, Header: true, Err: err}
		} else {
			err = &TimeoutError{After: cl.Timeout, Err: err}
		}
	}
	cl.rhtArmed, cl.conn = false, nil
	return false, err
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// expectContinue writes a request sent with "Expect: 100-continue": its
// head (out[:bodyAt]), then its body once the server answered 100
// Continue, or after ExpectContinueTimeout without an answer. When a
// final answer comes first the body is not written here: the caller reads
// the answer and writes the body only if the connection stays open. The
// bytes read are left in the reader for ReadResponse. It records the
// outcome and the wait in res.
func (cl *Client) expectContinue(c *Conn, out []byte, bodyAt int, res *Result) error {
	d := cl.pool.d
	if _, err := c.nc.Write(out[:bodyAt]); err != nil {
		cl.wrote = d.Now()
		return err
	}
	start := d.Now()
	cl.rd.Reset(c.nc)
	wait := cl.pool.d.At(start + cl.ExpectContinueTimeout)
	early := wait.Before(cl.pool.d.At(cl.deadline))
	if early {
		_ = c.nc.SetReadDeadline(wait)
	}
	err := cl.rd.fill(cl.rd.MaxHeaderBytes)
	for err == nil && cl.rd.Buffered() < len("HTTP/1.1 100") {
		err = cl.rd.fill(cl.rd.MaxHeaderBytes)
	}
	now := d.Now()
	res.ContinueWait = now - start
	if early {
		_ = c.nc.SetReadDeadline(cl.pool.d.At(cl.deadline))
	}
	switch {
	case err != nil && early && isTimeout(err) && cl.rd.Buffered() == 0:
		res.Expect = metrics.ExpectTimeout
	case err != nil:
		cl.wrote = now
		return err
	case is100(cl.rd.buf[cl.rd.r:cl.rd.w]):
		res.Expect = metrics.ExpectGot100
	default:
		res.Expect = metrics.ExpectFinal
		cl.wrote = now
		return nil
	}
	_, err = c.nc.Write(out[bodyAt:])
	cl.wrote = d.Now()
	return err
}

// is100 reports whether b starts a "100 Continue" status line.
func is100(b []byte) bool {
	return len(b) >= 12 && string(b[:7]) == "HTTP/1." && string(b[8:12]) == " 100"
}

// maxRetries bounds the retries of one request on pooled connections that
// turn out closed (a server that closes every connection after its answer
// without saying so leaves the idle list full of them).
const maxRetries = 32

// arm sets c's deadline for the request due at cl.due. Setting a socket
// deadline reads the clock twice and moves a runtime timer, so a deadline
// already set by an earlier request is kept while it falls between the due
// time and deadlineSlack after it: the timeout fires at most that late,
// never early.
func (cl *Client) arm(c *Conn) {
	a := time.Duration(c.armed.Load())
	if a < cl.due || a > cl.due+deadlineSlack(cl.Timeout) {
		a = cl.due + deadlineSlack(cl.Timeout)
		c.armed.Store(int64(a))
		_ = c.nc.SetDeadline(cl.pool.d.At(a))
	}
	cl.deadline = a
}

// deadlineSlack is how late a request's timeout may fire: 1/64 of it, at
// most 100 ms.
func deadlineSlack(timeout time.Duration) time.Duration {
	return min(timeout/64, 100*time.Millisecond)
}

// headDone runs when the headers were read: the header timeout no longer
// applies to the body.
func (cl *Client) headDone() {
	if cl.rhtArmed {
		_ = cl.conn.nc.SetReadDeadline(cl.pool.d.At(cl.deadline))
		cl.rhtArmed, cl.conn = false, nil
	}
}

// TimeoutError is a request that ran out of time: the whole-request
// timeout (whatever it was waiting for: a connection, the dial, a
// handshake, the answer) or the response-header timeout. Its class is
// timeout, even when what it cut was a proxy's handshake.
type TimeoutError struct {
	After  time.Duration
	Header bool // the response-header timeout, not the whole request's
	Err    error
}

func (e *TimeoutError) Error() string {
	if e.Header {
		return fmt.Sprintf("timeout awaiting response headers after %v (the response-header timeout): %v", e.After, e.Err)
	}
	return fmt.Sprintf("timeout after %v: %v", e.After, e.Err)
}

// Unwrap returns what the timeout cut.
func (e *TimeoutError) Unwrap() error { return e.Err }

// Timeout reports true.
func (e *TimeoutError) Timeout() bool { return true }

// ErrClass is metrics.ErrTimeout.
func (e *TimeoutError) ErrClass() metrics.ErrClass { return metrics.ErrTimeout }

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// isClosedConn reports an error that means the server had closed the
// connection: EOF, a reset, a broken pipe.
func isClosedConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
