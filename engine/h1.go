package engine

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faya-load/faya/internal/h2"
	"github.com/faya-load/faya/internal/http1"
	"github.com/faya-load/faya/internal/session"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// h1Clients builds the http1 pools of a plan (one shared, or one per VU)
// and a factory of clients over them.
func h1Clients(plan Plan, proxies *proxySet, obs transport.Observer, dial []transport.Option) (clientFactory, []pool, error) {
	cfg := h1PoolConfig(plan, proxies)
	turns := transport.NewTurns(cfg)
	newPool := func() (*http1.Pool, error) {
		d, err := transport.NewDialer(cfg, obs, append(slices.Clip(dial), transport.WithTurns(turns))...)
		if err != nil {
			return nil, err
		}
		return http1.NewPool(d), nil
	}
	poolOf, pools, err := scopedPools(plan, newPool)
	if err != nil {
		return nil, nil, err
	}
	static := &sharedRequests{}
	factory := func(sc *Scenario, vu int) (client, error) {
		return newH1Client(plan, sc, poolOf(vu), proxies, vu, static), nil
	}
	return factory, pools, nil
}

// h1PoolConfig is the configuration of a plan's http1 pools.
func h1PoolConfig(plan Plan, proxies *proxySet) transport.Config {
	cfg := plan.Transport
	if n := len(proxies.proxies()); n > 0 && cfg.MaxIdleConns == 0 {
		// One http1 pool holds the connections to every proxy (net/http
		// has a pool per proxy): each route keeps its idle connections.
		routes := n
		if proxies.env != nil {
			routes++ // and direct
		}
		cfg.MaxIdleConns = max(cfg.Concurrency, 1) * routes
	}
	return cfg
}

// newH1Client returns VU vu's client of scenario sc over p; static holds
// the static steps' requests, shared by the run's clients.
func newH1Client(plan Plan, sc *Scenario, p *http1.Pool, proxies *proxySet, vu int, static *sharedRequests) *h1Client {
	cl := http1.NewClient(p)
	cl.Timeout = plan.Timeout
	cl.ResponseHeaderTimeout = plan.Transport.ResponseHeaderTimeout
	cl.ExpectContinueTimeout = plan.Transport.WithDefaults().ExpectContinueTimeout
	cl.MaxBody = plan.MaxBody
	cl.MaxRedirects = plan.MaxRedirects
	cl.Patient = sc.Executor.Open()
	return &h1Client{cl: cl, closeConns: plan.Transport.DisableKeepAlives, maxBody: plan.MaxBody,
		proxyRoute: proxyRoute{proxies: proxies, proxy: proxies.forVU(vu)}, static: static}
}

// sharedRequests holds the static steps' requests, prepared once for all
// the VUs of a run (an http1.Request may be shared): each VU's request
// then reads the same, warm, cache lines instead of its own copy's. It is
// copied on write (once per step): a look-up is one load.
type sharedRequests struct {
	mu   sync.Mutex
	reqs atomic.Pointer[[]*http1.Request] // by step seq
}

// get returns step seq's request, or nil.
func (s *sharedRequests) get(seq int) *http1.Request {
	if p := s.reqs.Load(); p != nil && seq < len(*p) {
		return (*p)[seq]
	}
	return nil
}

// put keeps p for step seq unless another VU put one first, and returns
// the one kept.
func (s *sharedRequests) put(seq int, p *http1.Request) *http1.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var old []*http1.Request
	if o := s.reqs.Load(); o != nil {
		old = *o
	}
	if seq < len(old) && old[seq] != nil {
		return old[seq]
	}
	next := make([]*http1.Request, max(len(old), seq+1))
	copy(next, old)
	next[seq] = p
	s.reqs.Store(&next)
	return p
}

// h1Client sends one VU's requests through the http1 engine.
type h1Client struct {
	proxyRoute
	cl         *http1.Client
	static     *sharedRequests // static steps, prepared once (for all the run's VUs)
	res        http1.Result
	capture    transport.Capture
	pres       []http1.Result // a pipelined batch's results
	closeConns bool
	maxBody    int64

	goMu      sync.Mutex // a Go scenario's goroutines share the VU's client
	goCapture transport.Capture
	goRes     http1.Result
}

// prepare returns the http1 request for r.
func (c *h1Client) prepare(r *request) (*http1.Request, error) {
	st := r.step
	if !st.static {
		return http1.Prepare(r.method, r.url, c.header(r.header), r.body)
	}
	if p := c.static.get(st.seq); p != nil {
		return p, nil
	}
	p, err := http1.Prepare(st.Method, st.URL, c.header(st.Header), st.Body)
	if err != nil {
		return nil, err
	}
	return c.static.put(st.seq, p), nil
}

// header adds "Connection: close" when keep-alives are off, as net/http does.
func (c *h1Client) header(h http.Header) http.Header {
	if !c.closeConns {
		return h
	}
	h = h.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Connection", "close")
	return h
}

func (c *h1Client) do(ctx context.Context, rq *request, intended time.Duration, s *metrics.Sample, out *session.Response) error {
	req, err := c.prepare(rq)
	if err != nil {
		return err
	}
	px := c.pick(req.URL)
	if out != nil || rq.jar != nil {
		return c.send(ctx, rq, req, px, handover{}, intended, s, out)
	}
	// A plain request (no session, nothing to capture, nothing handed
	// over): send's path without its frame, which is one of the things
	// each VU's request finds out of the cache.
	err = c.cl.Do(ctx, req, http1.Call{Proxy: px}, &c.res)
	fillFromResult(s, &c.res, intended, err)
	proxied(s, px)
	return err
}

// handover is what an --http auto request brings to the client that
// sends it after waiting for, or dialing, its destination's first
// connection (autoClient): when it started (on the dialer's clock; 0:
// now), and the connection a dial handed over, with its dial's phases.
type handover struct {
	early  time.Duration
	conn   *http1.Conn
	dialed time.Duration
	// prior, when set, is the HTTP/2 part of a request whose redirect led
	// to a destination that picked HTTP/1.1 (conn was dialed for that
	// hop): its hops are the request's first ones.
	prior *h2.Result
}

// patch makes a result that started at start begin at the handover's
// early start instead: the time before start that its dial's phases do
// not account for is its wait for a connection (blocked).
func (h handover) patch(start *time.Duration, tm *transport.Timings) {
	if h.early <= 0 || h.early >= *start {
		return
	}
	tm.Add(metrics.PhaseBlocked, max(*start-h.early-h.dialed, 0))
	*start = h.early
}

// merge makes r, the HTTP/1.1 part of a request, the whole request with
// its HTTP/2 part p (the hops before a redirect to a destination that
// picked HTTP/1.1): p's phases, redirects, connections and bytes added,
// its start the request's; the dial that p's last hop waited for is in
// r's own dial phases, so it leaves p's blocked.
func (h handover) merge(r *http1.Result) {
	p := h.prior
	for i := range metrics.NumPhases {
		ph := metrics.Phase(i)
		d, ok := p.Timings.Get(ph)
		if ph == metrics.PhaseBlocked {
			d = max(d-h.dialed, 0)
		}
		if ok && d > 0 {
			r.Timings.Add(ph, d)
		}
	}
	if p.StreamWait > 0 {
		r.Timings.Add(metrics.PhaseStreamWait, p.StreamWait)
	}
	r.Start = min(r.Start, p.Start)
	r.Redirects += p.Redirects
	r.Retries += p.Retries
	r.Fresh += p.Fresh
	r.Reused += p.Reused
	r.BytesSent += p.BytesSent
	r.BytesReceived += p.BytesReceived
	r.BodyBytes += p.BodyBytes
}

// send sends the prepared request req of rq through px (nil: direct).
func (c *h1Client) send(ctx context.Context, rq *request, req *http1.Request, px *transport.Proxy, ho handover, intended time.Duration, s *metrics.Sample, out *session.Response) error {
	call := http1.Call{Proxy: px, Conn: ho.conn}
	if rq.jar != nil {
		call.Jar = rq.jar
	}
	if wantsCapture(rq, out) {
		c.capture.BodyLimit = bodyLimit(c.maxBody, captureLimit)
		call.Capture = &c.capture
	}
	if ho.prior != nil && c.cl.MaxRedirects >= 0 {
		// The redirects the HTTP/2 part followed are spent.
		defer func(n int) { c.cl.MaxRedirects = n }(c.cl.MaxRedirects)
		c.cl.MaxRedirects = max(c.cl.MaxRedirects-ho.prior.Redirects, 0)
	}
	err := c.cl.Do(ctx, req, call, &c.res)
	r := &c.res
	if ho.prior != nil {
		ho.merge(r)
	} else {
		ho.patch(&r.Start, &r.Timings)
	}
	if out != nil {
		out.Status = r.Status
		out.URL = req.URL
		if call.Capture != nil {
			out.Header, out.Body, out.URL = c.capture.Header, c.capture.Body, c.capture.URL
		}
	}
	fillFromResult(s, r, intended, err)
	proxied(s, call.Proxy)
	return err
}

// pipeline sends len(ss) requests of rq's step pipelined on one
// connection (see http1.Client.DoPipeline).
func (c *h1Client) pipeline(ctx context.Context, rq *request, ss []metrics.Sample, errs []error) {
	if cap(c.pres) < len(ss) {
		c.pres = make([]http1.Result, len(ss))
	}
	res := c.pres[:len(ss)]
	req, err := c.prepare(rq)
	if err != nil {
		for k := range res {
			res[k], errs[k] = http1.Result{}, err
		}
	} else {
		c.cl.DoPipeline(ctx, req, res, errs)
	}
	for k := range res {
		fillFromResult(&ss[k], &res[k], unscheduled, errs[k])
	}
}

// fillFromResult fills a sample from what the http1 client measured.
func fillFromResult(s *metrics.Sample, r *http1.Result, intended time.Duration, err error) {
	transport.FillTimes(s, r.Start, r.End, intended, &r.Timings)
	s.Err = metrics.Classify(err)
	if err == nil {
		s.Status = r.Status
	}
	s.BodyBytes, s.Truncated = r.BodyBytes, r.Truncated
	s.CloseAnswers, s.HTTP10 = r.CloseAnswers, r.HTTP10
	s.Fresh, s.Reused, s.Dest = r.Fresh, r.Reused, r.Dest
	s.WasIdle, s.IdleTime = r.WasIdle, r.IdleTime
	s.Retries, s.Redirects = r.Retries, r.Redirects
	s.Expect, s.ContinueWait = r.Expect, r.ContinueWait
	s.BytesSent, s.BytesReceived = r.BytesSent, r.BytesReceived
}

// exchange sends a Go scenario's request on the VU's http1 client and
// reads its answer whole (up to the body cap): the sample is done when
// exchange returns.
func (c *h1Client) exchange(req *http.Request, px *transport.Proxy, done func(*metrics.Sample, error)) (*http.Response, error) {
	return c.exchangeOn(req, px, handover{}, done)
}

// exchangeOn is exchange with an --http auto request's handover.
func (c *h1Client) exchangeOn(req *http.Request, px *transport.Proxy, ho handover, done func(*metrics.Sample, error)) (*http.Response, error) {
	c.goMu.Lock()
	defer c.goMu.Unlock()
	header, body, err := goRequestParts(req)
	if err != nil {
		return nil, err
	}
	pr, err := http1.Prepare(req.Method, req.URL.String(), header, body)
	if err != nil {
		return nil, err
	}
	c.goCapture.BodyLimit = bodyLimit(c.maxBody, noLimit)
	err = c.cl.Do(req.Context(), pr, http1.Call{Capture: &c.goCapture, Proxy: px, NoRedirects: true, Conn: ho.conn}, &c.goRes)
	ho.patch(&c.goRes.Start, &c.goRes.Timings)
	var s metrics.Sample
	fillFromResult(&s, &c.goRes, unscheduled, err)
	done(&s, err)
	if err != nil {
		return nil, err
	}
	return c.goCapture.Response(req, 1, 1), nil
}
