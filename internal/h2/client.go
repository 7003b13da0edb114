package h2

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// Client sends one VU's requests through a Pool, one at a time. It is not
// safe for concurrent use; give each VU its own.
type Client struct {
	pool *Pool

	// Timeout bounds each request: the wait for a stream slot, the dial,
	// the server's SETTINGS, the answer, redirects included.
	Timeout time.Duration
	// MaxBody caps the body bytes read per response (negative: no cap);
	// a stream cut at the cap is reset (RST_STREAM CANCEL).
	MaxBody int64
	// MaxRedirects is how many redirects to follow (negative: none).
	MaxRedirects int

	call    Call // the request's, for the length of Do
	st      *stream
	w       waiter
	a       *alarm
	hdrFn   func(name, value []byte)
	cookies [][]byte
	ckBuf   []byte
}

// Call is what one request brings to [Client.Do] besides the request.
type Call struct {
	// Jar, if set, gives each hop its Cookie header and keeps the cookies
	// its answer sets (redirects included).
	Jar transport.CookieJar
	// Capture, if set, receives the final response's status, headers,
	// body (up to Capture.BodyLimit) and URL.
	Capture *transport.Capture
	// NoRedirects makes the first answer the request's, a redirect
	// included, whatever MaxRedirects says (an http.Client above follows
	// them).
	NoRedirects bool
	// Proxy, if set, is the proxy the request goes through, by a tunnel
	// (CONNECT or SOCKS5; never forwarding: h2c cannot be forwarded);
	// its connections are pooled apart from direct ones and other
	// proxies'.
	Proxy *transport.Proxy
}

// Result is what one request measured.
type Result struct {
	Status  int
	Timings transport.Timings
	// StreamWait is the time the request waited for a stream slot on a
	// full connection (every connection allowed was open and at its
	// limit); it is not in Timings' blocked phase.
	StreamWait time.Duration
	// Start and End are on the dialer's clock.
	Start, End time.Duration
	// Streams got: the first on their connection, or on one used before.
	Fresh, Reused int
	// Dest is the connection's destination slot ([transport.Conn.Dest]).
	Dest int32
	// Retries counts requests sent again after the server did not
	// process them (REFUSED_STREAM, GOAWAY); Redirects the redirects
	// followed.
	Retries, Redirects int
	// BytesSent and BytesReceived are the connection's wire bytes since
	// the last request on it took them: exact over a run, shared out
	// among the streams in flight together.
	BytesSent     int64
	BytesReceived int64
	BodyBytes     int64
	Truncated     bool
}

// NewClient returns a client over p.
func NewClient(p *Pool) *Client {
	cl := &Client{pool: p, Timeout: 30 * time.Second, MaxBody: -1, MaxRedirects: 10}
	cl.a = newAlarm(p.d)
	cl.st = newStream(cl.a.wake)
	cl.w.ch = make(chan *Conn, 1)
	cl.hdrFn = cl.onHeader
	return cl
}

// onHeader keeps Set-Cookie lines for the jar and the headers for the
// capture (on the connection's reader, while the client waits).
func (cl *Client) onHeader(name, value []byte) {
	if cl.call.Jar != nil && string(name) == "set-cookie" {
		start := len(cl.ckBuf)
		cl.ckBuf = append(cl.ckBuf, value...)
		cl.cookies = append(cl.cookies, cl.ckBuf[start:len(cl.ckBuf):len(cl.ckBuf)])
	}
	if cl.call.Capture != nil {
		cl.call.Capture.Header = append(cl.call.Capture.Header, [2]string{string(name), string(value)})
	}
}

// Do sends req and reads the answer to its end, following redirects, and
// fills res (which it resets). The error is the request's failure, nil
// when a response was read whole.
func (cl *Client) Do(ctx context.Context, req *Request, call Call, res *Result) error {
	*res = Result{}
	cl.call = call
	defer func() { cl.call = Call{} }() // the client keeps no jar or capture between requests
	d := cl.pool.d
	res.Start = d.Now()
	due := res.Start + cl.Timeout
	cl.a.start(ctx, res.Start, due)
	defer cl.a.end()
	r := req
	var tries attempts
	t0 := res.Start // each hop's start (the first one's is the request's)
	for {
		retry, err := cl.hop(ctx, r, res, due, &tries, t0)
		if retry {
			t0 = d.Now()
			continue
		}
		res.End = d.Now()
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("request canceled: %w", ctx.Err())
			}
			return err
		}
		st := cl.st
		if cl.call.NoRedirects || cl.MaxRedirects < 0 || res.Redirects >= cl.MaxRedirects || st.location == "" {
			return nil
		}
		next, err := r.redirect(res.Status, st.location)
		if err != nil {
			return err
		}
		if next == nil {
			return nil
		}
		res.Redirects++
		if p := cl.pool; p.auto && p.knownH1 != nil && p.knownH1(next.key) {
			return &HTTP1Error{Request: next, Proxy: cl.call.Proxy} // for the caller's HTTP/1.1 pool
		}
		r = next
		t0 = d.Now()
	}
}

// hop sends one request on one stream. retry says it must be sent again
// (the server did not process it; once per request).
// t0 is when the hop started, on the dialer's clock.
// Long, as http1's hop is: one stream's steps in order (the connection
// or stream slot, the stream's setup, the write, the wait for its end,
// the release, the phases), whose clock readings and results pass from
// one step to the next on the hot path.
func (cl *Client) hop(ctx context.Context, r *Request, res *Result, due time.Duration, tries *attempts, t0 time.Duration) (retry bool, err error) {
	p := cl.pool
	d := p.d
	c, src, err := p.get(ctx, r, cl.call.Proxy, &cl.w, due, cl.a)
	got := d.Now()
	if err != nil {
		if src == fromWait {
			res.StreamWait += got - t0
		} else {
			res.Timings.Add(metrics.PhaseBlocked, got-t0)
		}
		if ctx.Err() == nil && (got >= due || errors.Is(err, context.DeadlineExceeded)) {
			err = &TimeoutError{After: cl.Timeout, Err: err}
		}
		return false, err
	}
	wait := got - t0
	res.Dest = c.tc.Dest
	switch src {
	case fromDial:
		res.Timings.Add(metrics.PhaseBlocked, max(wait-c.tc.AddDialPhases(&res.Timings), 0))
		res.Fresh++
	case fromWait:
		res.StreamWait += wait
		res.Reused++
	default:
		res.Timings.Add(metrics.PhaseBlocked, wait)
		res.Reused++
	}

	st := cl.st
	st.reset()
	st.head = r.head
	st.maxBody = cl.MaxBody
	st.follow = !cl.call.NoRedirects && cl.MaxRedirects >= 0
	cookie := ""
	if cl.call.Jar != nil {
		cookie = cl.call.Jar.CookieHeader(r.URL)
		cl.cookies, cl.ckBuf = cl.cookies[:0], cl.ckBuf[:0]
	}
	if cl.call.Jar != nil || cl.call.Capture != nil {
		st.onHeader = cl.hdrFn
	}
	if cl.call.Capture != nil {
		cl.call.Capture.Header = cl.call.Capture.Header[:0]
		cl.call.Capture.Body = cl.call.Capture.Body[:0]
		st.capture, st.captureMax = &cl.call.Capture.Body, cl.call.Capture.BodyLimit
	}
	err = c.start(ctx, st, r, cookie, due, cl.a)
	wrote := d.Now()
	switch err {
	case errWindowTimeout:
		err = &TimeoutError{After: cl.Timeout, Err: err}
	case errWindowCanceled:
		err = ctx.Err()
	}
	if _, ok := err.(*errUnprocessed); ok {
		p.release(c, wrote) // no stream was opened
		return cl.again(res, tries, err)
	}
	for err == nil && !st.ended.Load() {
		if canceled, timeout := cl.a.check(ctx, due); canceled != nil {
			err = canceled
		} else if timeout {
			err = &TimeoutError{After: cl.Timeout, Err: errors.New("awaiting the response")}
		} else {
			<-cl.a.wake
		}
	}
	if err != nil {
		// A timeout or a cancel (while sending, or waiting): give the
		// stream up, unless the reader finished it meanwhile.
		c.mu.Lock()
		gaveUp := c.abandon(st)
		c.mu.Unlock()
		if gaveUp {
			c.tc.StreamClosed()
			cl.st = newStream(cl.a.wake) // the old one may still be touched by the reader
			c.flush()
			end := d.Now()
			p.release(c, end)
			cl.takeBytes(c, res)
			return false, err
		}
		err = nil // the reader ended it first (st.ended is set)
	}
	c.tc.StreamClosed()
	end := st.end
	p.release(c, end)
	cl.takeBytes(c, res)
	if st.err != nil {
		if _, ok := st.err.(*errUnprocessed); ok {
			return cl.again(res, tries, st.err)
		}
		return false, st.err
	}
	if cl.call.Jar != nil && len(cl.cookies) > 0 {
		cl.call.Jar.SetCookieLines(r.URL, cl.cookies)
	}
	if cl.call.Capture != nil {
		cl.call.Capture.Status, cl.call.Capture.URL, cl.call.Capture.TLS = st.status, r.URL, c.tlsState
	}
	res.Timings.Add(metrics.PhaseSend, wrote-got)
	res.Timings.Add(metrics.PhaseWait, st.firstHdr-wrote)
	res.Timings.Add(metrics.PhaseReceive, end-st.firstHdr)
	res.Status = st.status
	res.BodyBytes += st.bodyBytes
	res.Truncated = res.Truncated || st.truncated
	return false, nil
}

// attempts counts a request's sends that the server did not process.
type attempts struct {
	retries int // refused, or above a GOAWAY's last stream: sent again
	unsent  int // not sent: the connection picked was ending already
}

// again decides whether a stream the server did not process goes again:
// a refused one up to maxUnprocessed times per request, as Go's HTTP/2
// Transport does; one above a GOAWAY's last stream up to maxGoAway times
// (within the request's timeout), since a server that ends each
// connection after a few streams (nginx's keepalive_requests) can leave
// the same request unprocessed on several connections in a row (Go backs
// off for seconds instead, which a load test cannot). Only REFUSED_STREAM
// counts as refused (refused_retried). A request that picked a connection
// already ending never reached the server: it goes again without
// counting as a retry, at most maxUnsent times.
func (cl *Client) again(res *Result, tries *attempts, err error) (bool, error) {
	u, _ := err.(*errUnprocessed)
	if u != nil && u.final {
		return false, u.cause
	}
	if u != nil && u.unsent {
		if tries.unsent++; tries.unsent > maxUnsent {
			return false, err
		}
		return true, nil
	}
	limit := maxUnprocessed
	if u != nil && u.goaway {
		limit = maxGoAway
	}
	if tries.retries >= limit {
		return false, err
	}
	tries.retries++
	res.Retries++
	if u != nil && !u.goaway {
		cl.pool.stats.Refused.Add(1)
	}
	return true, nil
}

// Bounds of [Client.again].
const (
	maxUnprocessed = 6
	maxGoAway      = 64
	maxUnsent      = 64
)

func (cl *Client) takeBytes(c *Conn, res *Result) {
	rx, tx := c.tc.TakeBytes()
	res.BytesReceived += rx
	res.BytesSent += tx
}

// Close releases the client's timer.
func (cl *Client) Close() { cl.a.close() }
