package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
	"golang.org/x/net/http/httpguts"
)

// netHTTPClients builds the pools of a plan and a factory of net/http
// clients over them: one shared pool, or one per VU.
func netHTTPClients(plan Plan, obs transport.Observer, epoch time.Time) (clientFactory, []pool, error) {
	var shared *transport.Pool
	var perVU []*transport.Pool
	var pools []pool
	if plan.ConnScope != ScopeVU {
		p, err := transport.New(plan.Transport, obs, transport.WithEpoch(epoch))
		if err != nil {
			return nil, nil, err
		}
		shared = p
		pools = append(pools, p)
	} else {
		perVU = make([]*transport.Pool, plan.VUs())
		for i := range perVU {
			p, err := transport.New(plan.Transport, obs, transport.WithEpoch(epoch))
			if err != nil {
				return nil, nil, err
			}
			perVU[i] = p
			pools = append(pools, p)
		}
	}
	factory := func(sc *Scenario, vu int) (client, error) {
		p := shared
		if p == nil {
			p = perVU[vu]
		}
		return newNetHTTPClient(plan, sc, p)
	}
	return factory, pools, nil
}

// netHTTPClient sends one VU's requests through net/http, traced.
type netHTTPClient struct {
	pool         *transport.Pool
	rt           http.RoundTripper
	maxRedirects int
	steps        []*http.Request // templates, one per step; never sent as they are
	bodies       [][]byte
	timeout      time.Duration
	maxBody      int64

	base   context.Context // the request context the tracer was attached to
	tracer *transport.Tracer
	traced context.Context
	lr     io.LimitedReader // reused by drain
}

func newNetHTTPClient(plan Plan, sc *Scenario, p *transport.Pool) (*netHTTPClient, error) {
	c := &netHTTPClient{
		pool:    p,
		timeout: plan.Timeout,
		maxBody: plan.MaxBody,
	}
	c.rt = p.HTTP()
	c.maxRedirects = plan.MaxRedirects
	for i, st := range sc.Steps {
		req, err := http.NewRequest(st.Method, st.URL, nil)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", i+1, err)
		}
		req.Header = st.Header.Clone()
		if req.Header == nil {
			req.Header = http.Header{}
		}
		if h := req.Header.Get("Host"); h != "" {
			req.Host = h
			req.Header.Del("Host")
		}
		if len(st.Body) > 0 {
			body := st.Body
			req.ContentLength = int64(len(body))
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		c.steps = append(c.steps, req)
		c.bodies = append(c.bodies, st.Body)
	}
	return c, nil
}

// roundTrip sends req through the Transport and follows redirects the
// way the h1 engine does: 301, 302 and 303 become a GET without a body
// (HEAD stays HEAD), 307 and 308 repeat the method and body, at most
// maxRedirects of them; then the 3xx itself is the answer. It goes around
// http.Client, whose per-request bookkeeping (a header copy per request
// for redirects that rarely come, a slice of requests) costs CPU a load
// generator does not need to spend.
func (c *netHTTPClient) roundTrip(req *http.Request, body []byte) (*http.Response, *http.Request, error) {
	for n := 0; ; n++ {
		resp, err := c.rt.RoundTrip(req)
		if err != nil || c.maxRedirects < 0 || n >= c.maxRedirects {
			return resp, req, err
		}
		next, nextBody := redirectOf(req, resp, body)
		if next == nil {
			return resp, req, nil
		}
		// Read the redirect's body so its connection can be reused.
		_, _ = discard.ReadFrom(io.LimitReader(resp.Body, 1<<16))
		_ = resp.Body.Close()
		req, body = next, nextBody
	}
}

// redirectOf returns the request a redirect leads to, or nil.
func redirectOf(req *http.Request, resp *http.Response, body []byte) (*http.Request, []byte) {
	switch resp.StatusCode {
	case 301, 302, 303, 307, 308:
	default:
		return nil, nil
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, nil
	}
	u, err := req.URL.Parse(loc)
	if err != nil {
		return nil, nil
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
		return nil, nil
	}
	next.Header = req.Header.Clone()
	if u.Host == req.URL.Host {
		next.Host = req.Host
	}
	return next, body
}

func (c *netHTTPClient) do(ctx context.Context, step int, intended time.Duration, s *metrics.Sample) error {
	if c.tracer == nil || c.base != ctx {
		c.tracer = transport.NewTracer(c.pool)
		c.base = ctx
		c.traced = c.tracer.Context(ctx)
	}
	tr := c.tracer
	start := tr.Start()

	rctx, cancel := context.WithTimeout(c.traced, c.timeout)
	req := c.steps[step].WithContext(rctx)
	if b := c.bodies[step]; len(b) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, last, err := c.roundTrip(req, c.bodies[step])
	if err == nil {
		req = last
		s.Status = resp.StatusCode
		s.HTTP10 = resp.ProtoMajor == 1 && resp.ProtoMinor == 0
		if resp.Close && !clientClose(req) {
			s.CloseAnswer = true
			if conn := tr.Conn(); conn != nil {
				conn.SetCloseReason(transport.CloseServer)
			}
		}
		s.BodyBytes, s.Truncated, err = c.drain(resp.Body)
		if s.Truncated {
			if conn := tr.Conn(); conn != nil {
				conn.SetCloseReason(transport.CloseBodyNotDrained)
			}
		}
		_ = resp.Body.Close()
	}
	end := c.pool.Now()
	if err != nil && ctx.Err() == nil && errors.Is(rctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timeout after %v: %w", c.timeout, err)
	}
	cancel()

	fillTimes(s, start, end, intended, tr.Finish(end))
	s.Fresh, s.Reused = tr.Uses()
	s.WasIdle, s.IdleTime = tr.Idle()
	s.Retries, s.Redirects = tr.Retries(), tr.Redirects()
	s.Err = metrics.Classify(err)
	if conn := tr.Conn(); conn != nil && (s.Err == metrics.ErrTimeout || s.Err == metrics.ErrCanceled) {
		conn.SetCloseReason(transport.CloseCanceled)
	}
	s.BytesReceived, s.BytesSent = tr.Release(end)
	if err != nil || !tr.Reusable() {
		c.tracer = nil // a late hook of this request must not touch the next
	}
	return err
}

// drain reads body to EOF, up to the cap, counting bytes. A body longer
// than the cap is cut: the rest is not read and the connection is not
// reused.
func (c *netHTTPClient) drain(body io.Reader) (n int64, truncated bool, err error) {
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
	blocked, _ := tm.Get(transport.Blocked)
	s.ServiceTime = s.Latency - blocked
	if intended >= 0 {
		s.Scheduled = true
		s.Lag = start - intended
		s.Latency = end - intended
	}
	for i := range metrics.NumPhases {
		if d, ok := tm.Get(transport.Phase(i)); ok {
			s.Phases[i] = d
			s.PhaseSet |= 1 << i
		}
	}
}
