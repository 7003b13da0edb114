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
	"slices"
	"strings"
	"time"

	"github.com/faya-load/faya/internal/session"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
	"golang.org/x/net/http/httpguts"
)

// netHTTPClients builds the pools of a plan and a factory of net/http
// clients over them: one shared set, or one per VU. A set has a pool per
// proxy (net/http keys its pool by proxy too) and a direct one when some
// requests go straight to their target.
func netHTTPClients(plan Plan, proxies *proxySet, obs transport.Observer, dial []transport.Option) (clientFactory, []pool, error) {
	var all []pool
	turns := transport.NewTurns(plan.Transport)
	newSet := func(only *transport.Proxy) (*netPools, error) {
		ps := &netPools{}
		if o, ok := obs.(observer); ok {
			ps.rec = o.rec
		}
		add := func(px *transport.Proxy) (*transport.Pool, error) {
			opts := append(slices.Clip(dial), transport.WithTurns(turns))
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
			ps.directRT = ps.direct.HTTP()
			if plan.Transport.HTTP != transport.HTTP1 {
				// HTTP/2 on faya's pool of Go's connections (nethttph2.go).
				h2, rt := newGoH2Pool(ps.direct, ps.rec)
				ps.h2, ps.directRT = h2, rt
				all[len(all)-1] = &netH2Pool{Pool: ps.direct, h2: h2, direct: rt}
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
	clock    *transport.Pool // any of them: they share the run's clock
	direct   *transport.Pool
	directRT *http.Transport // direct requests' Transport (HTTP/1.1)
	h2       *goH2Pool       // direct HTTP/2 requests; nil with --http 1.1
	via      []*transport.Pool
	// rec: the run's recorder, told when an HTTP/2 request went through
	// a proxy, on Go's own pool, whose frames faya does not see.
	rec *metrics.Recorder
}

// netHTTPClient sends one VU's requests through net/http, traced.
type netHTTPClient struct {
	proxyRoute
	pool         *transport.Pool // for the clock
	pools        *netPools
	px           *transport.Proxy // the proxy of the request in flight
	maxRedirects int
	static       stepCache[*http.Request] // static steps' templates; never sent as they are
	timeout      time.Duration
	maxBody      int64
	// retire: connections have a request or age limit, so each hop's
	// header is its own, for Tracer.Sending to add "Connection: close".
	retire bool

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
	rtraced context.Context          // the traced context rctx derives from
	sent    stepCache[*http.Request] // static steps' templates with rctx

	// The HTTP/2 destination of the last URL sent (a static step's URL
	// is one pointer from request to request), and the time the request
	// in flight waited for a stream slot.
	h2URL      *url.URL
	h2Host     *goH2Host
	streamWait time.Duration
	// h2Blind: this client told the recorder that an HTTP/2 request of
	// its went through a proxy on Go's own pool (frames not seen).
	h2Blind bool
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
	if r := c.sent.get(st.seq); r != nil {
		return r
	}
	r := tmpl.WithContext(ctx)
	c.sent.put(st.seq, r)
	return r
}

func newNetHTTPClient(plan Plan, ps *netPools, proxies *proxySet, fixed *transport.Proxy) *netHTTPClient {
	return &netHTTPClient{
		proxyRoute:   proxyRoute{proxies: proxies, proxy: fixed},
		pool:         ps.clock,
		pools:        ps,
		maxRedirects: plan.MaxRedirects,
		timeout:      plan.Timeout,
		maxBody:      plan.MaxBody,
		retire:       plan.Transport.MaxRequestsPerConn > 0 || plan.Transport.MaxConnLifetime > 0,
	}
}

// transportVia returns the Transport of requests through px (nil: direct).
func (c *netHTTPClient) transportVia(px *transport.Proxy) http.RoundTripper {
	if px == nil {
		return c.pools.directRT
	}
	return c.pools.via[px.Index].HTTP()
}

// send sends one hop through px (nil: direct): direct HTTP/2 on faya's
// pool (adding its wait for a stream slot to wait), the rest through the
// Transport.
func (c *netHTTPClient) send(req *http.Request, px *transport.Proxy, wait *time.Duration) (*http.Response, error) {
	if px == nil && c.pools.h2 != nil {
		h := c.h2Host
		if req.URL != c.h2URL {
			h = c.pools.h2.host(req.URL)
			c.h2URL, c.h2Host = req.URL, h
		}
		if h != nil {
			resp, err := c.pools.h2.roundTrip(req, h, wait)
			if err != errUseTransport {
				return resp, err
			}
		}
	}
	return c.transportVia(px).RoundTrip(req)
}

// chargeStreamWait moves a request's wait for a stream slot out of its
// blocked phase (the tracer saw one wait for a connection) into
// stream_wait, as the default engine's HTTP/2 measures it.
func chargeStreamWait(s *metrics.Sample, wait time.Duration) {
	if wait <= 0 {
		return
	}
	b := s.Phases[metrics.PhaseBlocked]
	wait = min(wait, b)
	s.Phases[metrics.PhaseBlocked] = b - wait
	s.Phases[metrics.PhaseStreamWait] += wait
	s.PhaseSet |= 1 << metrics.PhaseStreamWait
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
	if t := c.static.get(st.seq); t != nil {
		return t, st.Body, nil
	}
	t, err := newRequest(st.Method, st.URL, st.Header, st.Body)
	if err != nil {
		return nil, nil, err
	}
	c.static.put(st.seq, t)
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
// that asks to close counts as a close answer, a redirect's connection
// gets its close reason by transport.AnswerCloseReason (the last hop's
// is set by do, once its body was read), and its body bytes count as
// body received.
func (c *netHTTPClient) roundTrip(req *http.Request, body []byte, jar *session.Jar, s *metrics.Sample) (*http.Response, *http.Request, error) {
	for n := 0; ; n++ {
		if jar != nil {
			if ck := jar.CookieHeader(req.URL); ck != "" {
				// One Cookie line: the request's own, then the jar's,
				// as Go's Request.AddCookie joins them.
				if own := req.Header.Values("Cookie"); len(own) > 0 {
					ck = strings.Join(own, "; ") + "; " + ck
				}
				req.Header = req.Header.Clone()
				req.Header.Set("Cookie", ck)
			}
		}
		px := c.pick(req.URL)
		if n == 0 {
			c.px = px
		}
		if c.retire {
			req = ownHeader(req)
			c.tracer.Sending(req.Header)
		}
		resp, err := c.send(req, px, &c.streamWait)
		if err == nil {
			err = statusError(resp)
		}
		if err == nil {
			countAnswer(s, req, resp)
			if jar != nil {
				jar.SetCookies(req.URL, resp.Cookies())
			}
		}
		if err != nil || c.maxRedirects < 0 || n >= c.maxRedirects {
			return resp, req, err
		}
		next, nextBody, err := redirectOf(req, resp, body)
		if err != nil {
			c.closeReason(req, resp, false)
			_ = resp.Body.Close()
			return nil, req, err
		}
		if next == nil {
			return resp, req, nil
		}
		c.closeReason(req, resp, false)
		// Read the redirect's body so its connection can be reused.
		hopBody, _ := discard.ReadFrom(io.LimitReader(resp.Body, 1<<16))
		s.BodyBytes += hopBody
		_ = resp.Body.Close()
		req, body = next, nextBody
	}
}

// countAnswer counts an answer in s: HTTP/1.0, and a request to close the
// connection that the request did not make itself.
func countAnswer(s *metrics.Sample, req *http.Request, resp *http.Response) {
	if resp.ProtoMajor == 1 && resp.ProtoMinor == 0 {
		s.HTTP10++
	}
	if resp.Close && !clientClose(req) {
		s.CloseAnswers++
	}
}

// closeReason sets the close reason of the connection that carried
// resp, when the answer closes it (transport.AnswerCloseReason).
func (c *netHTTPClient) closeReason(req *http.Request, resp *http.Response, truncated bool) {
	setAnswerReason(c.tracer.Conn(), req, resp, truncated)
}

// setAnswerReason sets conn's close reason from the answer it carried.
func setAnswerReason(conn *transport.Conn, req *http.Request, resp *http.Response, truncated bool) {
	if conn == nil {
		return
	}
	if why, ok := transport.AnswerCloseReason(truncated, resp.Close, clientClose(req), false); ok {
		conn.SetCloseReason(why)
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

// redirectOf returns the request a redirect leads to, or nil, by
// transport.RedirectOf's rule. A Location that is no URL fails the
// request, as on the h1 engine.
func redirectOf(req *http.Request, resp *http.Response, body []byte) (*http.Request, []byte, error) {
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		return nil, nil, nil // not a redirect: no Location looked up (a map lookup per answer)
	}
	rd, ok, err := transport.RedirectOf(req.Method, req.URL, resp.StatusCode, resp.Header.Get("Location"))
	if !ok || err != nil {
		return nil, nil, err
	}
	if !rd.KeepBody {
		body = nil
	}
	var r io.Reader
	if len(body) > 0 {
		r = bytes.NewReader(body)
	}
	next, err := http.NewRequestWithContext(req.Context(), rd.Method, rd.URL.String(), r)
	if err != nil {
		return nil, nil, err
	}
	next.Header = req.Header.Clone()
	next.Header.Del("Cookie") // the jar sets the next hop's
	if rd.SameHost {
		next.Host = req.Host
	} else {
		next.Header = transport.CrossHostHeader(next.Header)
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
	c.streamWait = 0

	rctx := c.requestContext()
	req := c.withContext(tmpl, rq, rctx)
	if len(body) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(body))
		if httpguts.HeaderValuesContainsToken(req.Header["Expect"], "100-continue") {
			tr.ExpectsContinue()
		}
	}
	capture := wantsCapture(rq, out)
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
			setAnswerReason(conn, req, resp, s.Truncated)
			if !s.Truncated && err == nil {
				conn.NoteAnswered()
			}
		}
		_ = resp.Body.Close()
	}
	end := c.pool.Now()
	if c.requestDone() && err != nil && ctx.Err() == nil {
		err = fmt.Errorf("timeout after %v: %w", c.timeout, context.DeadlineExceeded)
	}

	tr.Measure(s, start, end, intended)
	chargeStreamWait(s, c.streamWait)
	if err != nil {
		if conn := tr.Conn(); conn != nil {
			err = conn.ResetCause(err)
		}
	}
	s.Err = metrics.Classify(err)
	if err != nil {
		s.Status = 0 // a response counts its status only when read whole
	}
	if conn := tr.Conn(); conn != nil {
		if err != nil {
			c.pool.RequestFailed(conn, err, s.Err) // HTTP/2: most failures are the stream's
		}
		if c.px != nil && !c.h2Blind && conn.Proto == metrics.ProtoH2 && c.pools.rec != nil {
			// Through a proxy Go's Transport makes its own HTTP/2
			// connections over TLS it does: their frames are not seen.
			c.h2Blind = true
			c.pools.rec.H2NotMeasured(metrics.H2UnknownFrames)
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
	limit := bodyLimit(c.maxBody, captureLimit)
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

// errNoPipelining fails pipelined requests on an engine without
// pipelining (Plan.Validate refuses such a plan).
var errNoPipelining = errors.New("pipelining needs the h1 engine")

// pipeline fails the requests: net/http does not pipeline.
func (c *netHTTPClient) pipeline(_ context.Context, _ *request, ss []metrics.Sample, errs []error) {
	for k := range ss {
		errs[k] = errNoPipelining
		ss[k].Err = metrics.Classify(errNoPipelining)
	}
}

// exchange sends a Go scenario's request through px's Transport, traced
// with a tracer of its own; done runs when the body returned is read to
// the end or closed.
func (c *netHTTPClient) exchange(req *http.Request, px *transport.Proxy, done func(*metrics.Sample, error)) (*http.Response, error) {
	tr := transport.NewTracer(c.pool)
	start := tr.Start()
	sent := req.WithContext(tr.Context(req.Context()))
	if c.retire {
		sent = ownHeader(sent)
		tr.Sending(sent.Header)
	}
	var wait time.Duration
	var resp *http.Response
	var err error
	if px == nil && c.pools.h2 != nil {
		if h := c.pools.h2.host(sent.URL); h != nil {
			resp, err = c.pools.h2.roundTrip(sent, h, &wait)
		}
	}
	if resp == nil && (err == nil || err == errUseTransport) {
		resp, err = c.transportVia(px).RoundTrip(sent)
	}
	tr.GotHeaders()
	if err == nil {
		err = statusError(resp)
	}
	if err != nil {
		var s metrics.Sample
		c.finish(&s, tr, start, c.pool.Now(), err)
		chargeStreamWait(&s, wait)
		done(&s, err)
		return nil, err
	}
	resp.Body = &measuredBody{ReadCloser: resp.Body, done: func(n int64, eof bool, rerr error) {
		end := c.pool.Now()
		if conn := tr.Conn(); conn != nil && eof {
			conn.NoteAnswered()
		}
		s := metrics.Sample{Status: resp.StatusCode, BodyBytes: n}
		countAnswer(&s, req, resp)
		setAnswerReason(tr.Conn(), req, resp, false)
		c.finish(&s, tr, start, end, rerr)
		chargeStreamWait(&s, wait)
		done(&s, rerr)
	}}
	return resp, nil
}

// finish fills a Go scenario request's sample from its tracer.
func (c *netHTTPClient) finish(s *metrics.Sample, tr *transport.Tracer, start, end time.Duration, err error) {
	tr.Measure(s, start, end, unscheduled)
	if err != nil {
		if conn := tr.Conn(); conn != nil {
			err = conn.ResetCause(err)
		}
	}
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

// ownHeader returns a shallow copy of req with a header of its own, for
// [transport.Tracer.Sending] to change.
func ownHeader(req *http.Request) *http.Request {
	r := *req
	r.Header = req.Header.Clone()
	if r.Header == nil {
		r.Header = http.Header{}
	}
	return &r
}

// clientClose reports whether the request itself asked to close the
// connection, so that a "Connection: close" answer is not the server's
// doing.
func clientClose(r *http.Request) bool {
	return r.Close || httpguts.HeaderValuesContainsToken(r.Header["Connection"], "close")
}
