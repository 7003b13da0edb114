package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/faya-load/faya/internal/http1"
	"github.com/faya-load/faya/internal/session"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
	"golang.org/x/net/http/httpguts"
)

// netHTTPClients builds the pools of a plan and a factory of net/http
// clients over them: one shared set, or one per VU. A set has a pool per
// proxy (net/http keys its pool by proxy too) and a direct one when some
// requests go straight to their target.
func netHTTPClients(plan Plan, proxies *proxySet, obs transport.Observer, epoch time.Time) (clientFactory, []pool, error) {
	var all []pool
	newSet := func(only *transport.Proxy) (*netPools, error) {
		ps := &netPools{}
		add := func(px *transport.Proxy) (*transport.Pool, error) {
			opts := []transport.Option{transport.WithEpoch(epoch)}
			if px != nil {
				opts = append(opts, transport.WithProxy(px))
			}
			p, err := transport.New(plan.Transport, obs, opts...)
			if err != nil {
				return nil, err
			}
			all = append(all, p)
			if ps.clock == nil {
				ps.clock = p
			}
			return p, nil
		}
		var err error
		if proxies == nil || proxies.env != nil {
			if ps.direct, err = add(nil); err != nil {
				return nil, err
			}
		}
		for _, px := range proxies.proxies() {
			if only != nil && px != only {
				ps.via = append(ps.via, nil)
				continue
			}
			p, err := add(px)
			if err != nil {
				return nil, err
			}
			ps.via = append(ps.via, p)
		}
		return ps, nil
	}
	var shared *netPools
	var perVU []*netPools
	if plan.ConnScope != ScopeVU {
		ps, err := newSet(nil)
		if err != nil {
			return nil, nil, err
		}
		shared = ps
	} else {
		perVU = make([]*netPools, plan.VUs())
		for i := range perVU {
			ps, err := newSet(proxies.forVU(i))
			if err != nil {
				return nil, nil, err
			}
			perVU[i] = ps
		}
	}
	factory := func(sc *Scenario, vu int) (client, error) {
		ps := shared
		if ps == nil {
			ps = perVU[vu]
		}
		return newNetHTTPClient(plan, ps, proxies, proxies.forVU(vu)), nil
	}
	return factory, all, nil
}

// netPools are the pools a net/http client sends through: direct, and
// one per proxy (by proxy index).
type netPools struct {
	clock  *transport.Pool // any of them: they share the run's clock
	direct *transport.Pool
	via    []*transport.Pool
}

// netHTTPClient sends one VU's requests through net/http, traced.
type netHTTPClient struct {
	pool         *transport.Pool // for the clock
	pools        *netPools
	proxies      *proxySet
	proxy        *transport.Proxy // per-vu mode: this VU's
	px           *transport.Proxy // the proxy of the request in flight
	maxRedirects int
	static       []*http.Request // static steps' templates, by step seq; never sent as they are
	timeout      time.Duration
	maxBody      int64

	base   context.Context // the request context the tracer was attached to
	tracer *transport.Tracer
	traced context.Context
	lr     io.LimitedReader // reused by drain
	capBuf []byte

	// The requests' context, reused from request to request while no
	// timeout fired and the tracer stays: traced, with a cancel a timer
	// (reset per request) fires after the timeout. A context and a timer
	// per request cost allocations and the parent's children map; this
	// costs a timer reset.
	rctx    context.Context
	rcancel context.CancelCauseFunc
	rtimer  *time.Timer
	rtraced context.Context // the traced context rctx derives from
	sent    []*http.Request // static steps' templates with rctx, by step seq
}

// errTimedOut is the cause of a request context canceled by its timer.
var errTimedOut = errors.New("request timeout")

// requestContext returns the context for the next request, its timer
// started.
func (c *netHTTPClient) requestContext() context.Context {
	if c.rctx == nil || c.rtraced != c.traced {
		if c.rcancel != nil {
			c.rtimer.Stop()
			c.rcancel(context.Canceled)
		}
		c.rctx, c.rcancel = context.WithCancelCause(c.traced)
		c.rtraced = c.traced
		clear(c.sent)
		cancel := c.rcancel
		c.rtimer = time.AfterFunc(time.Hour, func() { cancel(errTimedOut) })
	}
	c.rtimer.Reset(c.timeout)
	return c.rctx
}

// requestDone stops the timer; when it had fired, the context is done
// and the next request gets a new one. It reports whether the timeout
// fired.
func (c *netHTTPClient) requestDone() (timedOut bool) {
	if c.rtimer.Stop() {
		return false
	}
	timedOut = context.Cause(c.rctx) == errTimedOut
	c.rctx = nil
	return timedOut
}

// withContext returns tmpl with the request context: for a static step
// without a jar, one copy per VU, reused.
func (c *netHTTPClient) withContext(tmpl *http.Request, rq *request, ctx context.Context) *http.Request {
	st := rq.step
	if !st.static || rq.jar != nil {
		return tmpl.WithContext(ctx)
	}
	for len(c.sent) <= st.seq {
		c.sent = append(c.sent, nil)
	}
	if r := c.sent[st.seq]; r != nil {
		return r
	}
	r := tmpl.WithContext(ctx)
	c.sent[st.seq] = r
	return r
}

func newNetHTTPClient(plan Plan, ps *netPools, proxies *proxySet, fixed *transport.Proxy) *netHTTPClient {
	return &netHTTPClient{
		pool:         ps.clock,
		pools:        ps,
		proxies:      proxies,
		proxy:        fixed,
		maxRedirects: plan.MaxRedirects,
		timeout:      plan.Timeout,
		maxBody:      plan.MaxBody,
	}
}

// transportFor returns the Transport for a request to u, and its proxy.
func (c *netHTTPClient) transportFor(u *url.URL) (http.RoundTripper, *transport.Proxy) {
	px := c.proxies.pick(c.proxy, u)
	if px == nil {
		return c.pools.direct.HTTP(), nil
	}
	return c.pools.via[px.Index].HTTP(), px
}

// newRequest builds a request template (its context is set per request).
func newRequest(method, rawURL string, header http.Header, body []byte) (*http.Request, error) {
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if h := req.Header.Get("Host"); h != "" {
		req.Host = h
		req.Header.Del("Host")
	}
	if len(body) > 0 {
		req.ContentLength = int64(len(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return req, nil
}

// template returns the request template of r and its body.
func (c *netHTTPClient) template(r *request) (*http.Request, []byte, error) {
	st := r.step
	if !st.static {
		req, err := newRequest(r.method, r.url, r.header, r.body)
		return req, r.body, err
	}
	for len(c.static) <= st.seq {
		c.static = append(c.static, nil)
	}
	if t := c.static[st.seq]; t != nil {
		return t, st.Body, nil
	}
	t, err := newRequest(st.Method, st.URL, st.Header, st.Body)
	if err != nil {
		return nil, nil, err
	}
	c.static[st.seq] = t
	return t, st.Body, nil
}

// roundTrip sends req through the Transport and follows redirects the
// way the h1 engine does: 301, 302 and 303 become a GET without a body
// (HEAD stays HEAD), 307 and 308 repeat the method and body, at most
// maxRedirects of them; then the 3xx itself is the answer. A jar gives
// each hop its cookies and keeps what each response sets. It goes around
// http.Client, whose per-request bookkeeping (a header copy per request
// for redirects that rarely come, a slice of requests) costs CPU a load
// generator does not need to spend.
//
// Each hop's answer is accounted in s as the h1 engine does it: a hop
// that asks to close counts as a close answer and closes its connection
// for reason server, and its body bytes count as body received.
func (c *netHTTPClient) roundTrip(req *http.Request, body []byte, jar *session.Jar, s *metrics.Sample) (*http.Response, *http.Request, error) {
	for n := 0; ; n++ {
		if jar != nil {
			if ck := jar.CookieHeader(req.URL); ck != "" {
				req.Header = req.Header.Clone()
				req.Header.Set("Cookie", ck)
			}
		}
		rt, px := c.transportFor(req.URL)
		if n == 0 {
			c.px = px
		}
		resp, err := rt.RoundTrip(req)
		if err == nil {
			err = statusError(resp)
		}
		if err == nil {
			c.answered(s, req, resp)
			if jar != nil {
				jar.SetCookies(req.URL, resp.Cookies())
			}
		}
		if err != nil || c.maxRedirects < 0 || n >= c.maxRedirects {
			return resp, req, err
		}
		next, nextBody, err := redirectOf(req, resp, body)
		if err != nil {
			_ = resp.Body.Close()
			return nil, req, err
		}
		if next == nil {
			return resp, req, nil
		}
		// Read the redirect's body so its connection can be reused.
		hopBody, _ := discard.ReadFrom(io.LimitReader(resp.Body, 1<<16))
		s.BodyBytes += hopBody
		_ = resp.Body.Close()
		req, body = next, nextBody
	}
}

// answered accounts for one hop's answer: HTTP/1.0, and a request to
// close the connection (then closed for reason server).
func (c *netHTTPClient) answered(s *metrics.Sample, req *http.Request, resp *http.Response) {
	if resp.ProtoMajor == 1 && resp.ProtoMinor == 0 {
		s.HTTP10++
	}
	if resp.Close && !clientClose(req) {
		s.CloseAnswers++
		if conn := c.tracer.Conn(); conn != nil {
			conn.SetCloseReason(metrics.CloseServer)
		}
	}
}

// statusError fails a response whose status is below 100, as the h1
// engine does: net/http takes any three characters strconv.Atoi reads.
func statusError(resp *http.Response) error {
	if resp.StatusCode >= 100 {
		return nil
	}
	_ = resp.Body.Close()
	return fmt.Errorf("malformed HTTP response: status %d below 100", resp.StatusCode)
}

// redirectOf returns the request a redirect leads to, or nil. A Location
// that is no URL fails the request, as on the h1 engine.
func redirectOf(req *http.Request, resp *http.Response, body []byte) (*http.Request, []byte, error) {
	switch resp.StatusCode {
	case 301, 302, 303, 307, 308:
	default:
		return nil, nil, nil
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, nil, nil
	}
	u, err := req.URL.Parse(loc)
	if err != nil {
		return nil, nil, fmt.Errorf("malformed HTTP response: bad Location %q: %w", loc, err)
	}
	method := req.Method
	if resp.StatusCode <= 303 && method != http.MethodHead {
		method, body = http.MethodGet, nil
	}
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	next, err := http.NewRequestWithContext(req.Context(), method, u.String(), rd)
	if err != nil {
		return nil, nil, err
	}
	next.Header = req.Header.Clone()
	next.Header.Del("Cookie") // the jar sets the next hop's
	if u.Host == req.URL.Host {
		next.Host = req.Host
	} else {
		for _, h := range http1.CrossHostHeaders {
			next.Header.Del(h)
		}
	}
	return next, body, nil
}

func (c *netHTTPClient) do(ctx context.Context, rq *request, intended time.Duration, s *metrics.Sample, out *session.Response) error {
	tmpl, body, err := c.template(rq)
	if err != nil {
		return err
	}
	if c.tracer == nil || c.base != ctx {
		c.tracer = transport.NewTracer(c.pool)
		c.base = ctx
		c.traced = c.tracer.Context(ctx)
	}
	tr := c.tracer
	start := tr.Start()

	rctx := c.requestContext()
	req := c.withContext(tmpl, rq, rctx)
	if len(body) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(body))
		if httpguts.HeaderValuesContainsToken(req.Header["Expect"], "100-continue") {
			tr.ExpectsContinue()
		}
	}
	capture := out != nil && (rq.step.capture || rq.step.headers)
	resp, last, err := c.roundTrip(req, body, rq.jar, s)
	tr.GotHeaders()
	if err == nil {
		req = last
		s.Status = resp.StatusCode
		if out != nil {
			out.Status, out.URL = resp.StatusCode, req.URL
		}
		if capture {
			for name, vals := range resp.Header {
				for _, v := range vals {
					out.Header = append(out.Header, [2]string{name, v})
				}
			}
			c.capBuf, err = c.capture(resp.Body, c.capBuf[:0])
			s.BodyBytes += int64(len(c.capBuf))
			out.Body = c.capBuf
		}
		var n int64
		n, s.Truncated, err = c.drain(resp.Body, err)
		s.BodyBytes += n
		if conn := tr.Conn(); conn != nil {
			switch {
			case s.Truncated:
				conn.SetCloseReason(metrics.CloseBodyNotDrained)
			case err == nil:
				conn.NoteAnswered()
			}
		}
		_ = resp.Body.Close()
	}
	end := c.pool.Now()
	if c.requestDone() && err != nil && ctx.Err() == nil {
		err = fmt.Errorf("timeout after %v: %w", c.timeout, context.DeadlineExceeded)
	}

	fillTimes(s, start, end, intended, tr.Finish(end))
	s.Expect, s.ContinueWait = tr.Expect()
	s.Fresh, s.Reused = tr.Uses()
	s.WasIdle, s.IdleTime = tr.Idle()
	s.Retries, s.Redirects = tr.Retries(), tr.Redirects()
	s.Err = metrics.Classify(err)
	if err != nil {
		s.Status = 0 // a response counts its status only when read whole
	}
	if conn := tr.Conn(); conn != nil {
		if r, ok := transport.FailedReason(s.Err); ok {
			conn.SetCloseReason(r)
		}
	}
	s.BytesReceived, s.BytesSent = tr.Release(end)
	proxied(s, c.px)
	if err != nil || !tr.Reusable() {
		c.tracer = nil // a late hook of this request must not touch the next
	}
	return err
}

// capture reads the body into buf, up to the capture limit (and the body
// cap); drain reads the rest.
func (c *netHTTPClient) capture(body io.Reader, buf []byte) ([]byte, error) {
	limit := int64(captureLimit)
	if c.maxBody >= 0 {
		limit = min(limit, c.maxBody)
	}
	for int64(len(buf)) < limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		room := min(int64(cap(buf)-len(buf)), limit-int64(len(buf)))
		n, err := body.Read(buf[len(buf) : len(buf)+int(room)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// drain reads body to EOF, up to the cap, counting bytes. A body longer
// than the cap is cut: the rest is not read and the connection is not
// reused. An earlier error is returned as it is.
func (c *netHTTPClient) drain(body io.Reader, prev error) (n int64, truncated bool, err error) {
	if prev != nil {
		return 0, false, prev
	}
	c.lr.R, c.lr.N = body, math.MaxInt64
	if c.maxBody >= 0 {
		c.lr.N = c.maxBody + 1 // one byte more tells a body at the cap from a longer one
	}
	n, err = discard.ReadFrom(&c.lr)
	c.lr.R = nil
	if c.maxBody >= 0 && n > c.maxBody {
		return c.maxBody, true, err
	}
	return n, false, err
}

// discard reads into io.Discard's pooled buffers: no buffer per VU.
var discard = io.Discard.(io.ReaderFrom)

// roundTripper returns a RoundTripper for a Go scenario's VU: each request
// is traced with a tracer of its own and recorded when its body is read to
// the end or closed.
func (c *netHTTPClient) roundTripper(rec recordFunc) http.RoundTripper {
	return &netHTTPRoundTripper{c: c, rec: rec}
}

type netHTTPRoundTripper struct {
	c   *netHTTPClient
	rec recordFunc
}

func (t *netHTTPRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	tr := transport.NewTracer(t.c.pool)
	start := tr.Start()
	ctx := req.Context()
	rt, px := t.c.transportFor(req.URL)
	resp, err := rt.RoundTrip(req.WithContext(tr.Context(ctx)))
	tr.GotHeaders()
	if err == nil {
		err = statusError(resp)
	}
	if err != nil {
		end := t.c.pool.Now()
		var s metrics.Sample
		t.finish(&s, tr, start, end, err)
		proxied(&s, px)
		t.rec(ctx, req.Method, req.URL.Path, &s, err)
		return nil, err
	}
	resp.Body = &measuredBody{ReadCloser: resp.Body, done: func(n int64, eof bool, rerr error) {
		end := t.c.pool.Now()
		if c := tr.Conn(); c != nil && eof {
			c.NoteAnswered()
		}
		s := metrics.Sample{Status: resp.StatusCode, BodyBytes: n}
		if resp.ProtoMajor == 1 && resp.ProtoMinor == 0 {
			s.HTTP10 = 1
		}
		if resp.Close && !clientClose(req) {
			s.CloseAnswers = 1
			if c := tr.Conn(); c != nil {
				c.SetCloseReason(metrics.CloseServer)
			}
		}
		t.finish(&s, tr, start, end, rerr)
		proxied(&s, px)
		t.rec(ctx, req.Method, req.URL.Path, &s, rerr)
	}}
	return resp, nil
}

func (t *netHTTPRoundTripper) finish(s *metrics.Sample, tr *transport.Tracer, start, end time.Duration, err error) {
	fillTimes(s, start, end, unscheduled, tr.Finish(end))
	s.Expect, s.ContinueWait = tr.Expect()
	s.Fresh, s.Reused = tr.Uses()
	s.WasIdle, s.IdleTime = tr.Idle()
	s.Retries, s.Redirects = tr.Retries(), tr.Redirects()
	s.Err = metrics.Classify(err)
	if err != nil {
		s.Status = 0
	}
	s.BytesReceived, s.BytesSent = tr.Release(end)
}

// measuredBody calls done once, at the body's end or close.
type measuredBody struct {
	io.ReadCloser
	n    int64
	done func(n int64, eof bool, err error)
	once bool
}

func (b *measuredBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err != nil && !b.once {
		b.once = true
		var rerr error
		if err != io.EOF {
			rerr = err
		}
		b.done(b.n, err == io.EOF, rerr)
	}
	return n, err
}

func (b *measuredBody) Close() error {
	err := b.ReadCloser.Close()
	if !b.once {
		b.once = true
		b.done(b.n, false, nil)
	}
	return err
}

// clientClose reports whether the request itself asked to close the
// connection, so that a "Connection: close" answer is not the server's
// doing.
func clientClose(r *http.Request) bool {
	return r.Close || httpguts.HeaderValuesContainsToken(r.Header["Connection"], "close")
}

// fillTimes sets a sample's latency, service time, schedule lag and phases
// from a request's start and end (on the run's clock) and its timings. Both
// engines measure the same way through it.
func fillTimes(s *metrics.Sample, start, end, intended time.Duration, tm *transport.Timings) {
	s.End = end
	s.Latency = end - start
	blocked, _ := tm.Get(metrics.PhaseBlocked)
	s.ServiceTime = s.Latency - blocked
	if intended >= 0 {
		s.Scheduled = true
		s.Lag = start - intended
		s.Latency = end - intended
	}
	for i := range metrics.NumPhases {
		if d, ok := tm.Get(metrics.Phase(i)); ok {
			s.Phases[i] = d
			s.PhaseSet |= 1 << i
		}
	}
}
