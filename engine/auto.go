package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faya-load/faya/internal/h2"
	"github.com/faya-load/faya/internal/http1"
	"github.com/faya-load/faya/internal/session"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// This file is the default engine's --http auto: what Go's http.Transport
// does with TLSNextProto. An https request to a destination whose
// protocol is not known yet goes to the HTTP/2 pool, whose dialer offers
// h2,http/1.1 by ALPN; the server's pick decides where the connection
// goes: an h2 connection stays in the HTTP/2 pool, an http/1.1 one is
// handed to the http1 pool (http1.Pool.Adopt) and the request is sent on
// it there. The pick is remembered per destination (alpnMemo): later
// requests go straight to the right pool, whose dials offer h2,http/1.1
// (HTTP/2 pool) or http/1.1 alone (http1 pool). While a destination's
// protocol is unknown, one request at a time dials it and the others wait
// for the pick (their blocked phase), so that the two pools never hold
// more than --max-conns-per-host connections to it between them. http://
// requests speak HTTP/1.1, as Go's do.

// autoClients builds the pools of a plan run by the default engine with
// --http auto (per connection scope, an http1 pool and an HTTP/2 pool)
// and a factory of clients over them.
func autoClients(plan Plan, proxies *proxySet, obs transport.Observer, dial []transport.Option) (clientFactory, []pool, error) {
	memo := &alpnMemo{}
	opts := h2Options(plan, obs)
	opts.Auto = true
	opts.Dialed = memo.dialed
	opts.KnownHTTP1 = memo.knownHTTP1
	cfg := h1PoolConfig(plan, proxies)
	turns := transport.NewTurns(cfg) // one turn for the two pools' dials
	newPools := func() (*autoPools, error) {
		d1, err := transport.NewDialer(cfg, obs, append(slices.Clip(dial), transport.WithTurns(turns))...)
		if err != nil {
			return nil, err
		}
		d2, err := transport.NewDialer(cfg, obs, append(slices.Clip(dial), transport.WithTurns(turns), transport.WithHTTP2())...)
		if err != nil {
			return nil, err
		}
		p2, err := h2.NewPool(d2, opts)
		if err != nil {
			return nil, err
		}
		return &autoPools{h1: http1.NewPool(d1), h2: p2}, nil
	}
	poolOf, pools, err := scopedPools(plan, newPools)
	if err != nil {
		return nil, nil, err
	}
	static := &sharedRequests{} // the HTTP/1.1 clients' static requests
	factory := func(sc *Scenario, vu int) (client, error) {
		ap := poolOf(vu)
		return &autoClient{
			h1:      newH1Client(plan, sc, ap.h1, proxies, vu, static),
			h2:      newH2Client(plan, ap.h2, proxies, vu),
			h1p:     ap.h1,
			d:       ap.h2.Dialer(),
			memo:    memo,
			timeout: plan.Timeout,
		}, nil
	}
	return factory, pools, nil
}

// usesAuto reports whether the default engine runs plan with its --http
// auto client: --http auto, no pipelining (HTTP/1.1's), and a step, or a
// Go scenario, that may send to an https URL. A plan of http:// URLs
// alone speaks HTTP/1.1 on the http1 pool.
func (p *Plan) usesAuto() bool {
	if p.Transport.HTTP != transport.HTTPAuto || p.Pipeline > 1 {
		return false
	}
	for _, sc := range p.Scenarios {
		if sc.Func != nil {
			return true
		}
		for _, st := range append(append([]Step(nil), sc.Setup...), sc.Steps...) {
			if !hasPrefixFold(st.URL, "http://") {
				return true // https, or a template
			}
		}
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// autoPools are one connection scope's pools under --http auto.
type autoPools struct {
	h1 *http1.Pool
	h2 *h2.Pool
}

// Close closes the HTTP/2 pool first: connections it handed to the http1
// pool were dialed, and are accounted, by its dialer, which then knows
// the run is ending when the http1 pool closes them.
func (a *autoPools) Close() {
	a.h2.Close()
	a.h1.Close()
}

// Conns adds up both pools' connections (each is counted by the dialer
// that made it, once).
func (a *autoPools) Conns() (open, active int) {
	o1, a1 := a.h1.Conns()
	o2, a2 := a.h2.Conns()
	return o1 + o2, a1 + a2
}

// Dialing adds up both pools' dials in flight.
func (a *autoPools) Dialing() int64 { return a.h1.Dialing() + a.h2.Dialing() }

// alpnMemo remembers, per destination ("scheme|host:port"), the protocol
// its server picked by ALPN. It is the run's: every connection scope
// shares it.
type alpnMemo struct{ m sync.Map } // dest -> *destState

// destState is one destination's protocol, and its discovery.
type destState struct {
	proto atomic.Uint32 // metrics.Protocol + 1; 0: not known yet

	mu      sync.Mutex
	probing bool          // a request is dialing it
	wake    chan struct{} // closed when that dial ends
}

func (m *alpnMemo) state(dest string) *destState {
	v, ok := m.m.Load(dest)
	if !ok {
		v, _ = m.m.LoadOrStore(dest, &destState{})
	}
	return v.(*destState)
}

// dialed is the HTTP/2 pool's word on a dial's protocol (h2.Options.Dialed):
// an h2 connection makes its destination h2 at once, before the server's
// SETTINGS, so that requests waiting for it go to the HTTP/2 pool. An
// http/1.1 one is learned when the request that dialed it hands it to the
// http1 pool (autoClient.onHTTP1), so that the connection counts there
// before any other request may dial.
func (m *alpnMemo) dialed(dest string, p metrics.Protocol) {
	if p == metrics.ProtoH2 {
		m.state(dest).set(p)
	}
}

// knownHTTP1 reports whether dest is known to pick HTTP/1.1
// (h2.Options.KnownHTTP1: a redirect's destination).
func (m *alpnMemo) knownHTTP1(dest string) bool {
	v, ok := m.m.Load(dest)
	if !ok {
		return false
	}
	p, ok := v.(*destState).known()
	return ok && p == metrics.ProtoH1
}

// known returns the destination's protocol, false when not known yet.
func (st *destState) known() (metrics.Protocol, bool) {
	v := st.proto.Load()
	return metrics.Protocol(v - 1), v != 0
}

// set records the destination's protocol and ends a dial's wait.
func (st *destState) set(p metrics.Protocol) {
	st.proto.Store(uint32(p) + 1)
	st.done()
}

// claim makes the caller the destination's prober (probe) when none is
// dialing it, or returns the channel to wait on; neither when the
// protocol became known.
func (st *destState) claim() (probe bool, wait <-chan struct{}) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.proto.Load() != 0 {
		return false, nil
	}
	if !st.probing {
		st.probing = true
		st.wake = make(chan struct{})
		return true, nil
	}
	return false, st.wake
}

// done ends a probe, whatever its outcome: the waiters look again (after
// a failed dial, the next one dials).
func (st *destState) done() {
	st.mu.Lock()
	if st.probing {
		st.probing = false
		close(st.wake)
		st.wake = nil
	}
	st.mu.Unlock()
}

// autoClient sends one VU's requests under --http auto: https ones on the
// protocol their destination's server picked, http ones on HTTP/1.1.
type autoClient struct {
	h1      *h1Client
	h2      *h2Client
	h1p     *http1.Pool
	d       *transport.Dialer // the clock (both pools share the run's)
	memo    *alpnMemo
	timeout time.Duration
	dests   stepCache[*destState] // static steps' destinations
}

// https reports whether rq's URL is https.
func (rq *request) https() bool {
	if rq.step.static {
		return hasPrefixFold(rq.step.URL, "https://")
	}
	return hasPrefixFold(rq.url, "https://")
}

func (c *autoClient) do(ctx context.Context, rq *request, intended time.Duration, s *metrics.Sample, out *session.Response) error {
	if !rq.https() {
		return c.h1.do(ctx, rq, intended, s, out)
	}
	req2, err := c.h2.prepare(rq)
	if err != nil {
		return c.h1.do(ctx, rq, intended, s, out) // which says what is wrong with it
	}
	px := c.h1.pick(req2.URL)
	st := c.dest(rq, req2)
	ho, proto, probe, err := c.await(ctx, st)
	if err != nil {
		c.failed(s, ho, intended, err)
		return err
	}
	if proto == metrics.ProtoH1 {
		req1, err := c.h1.prepare(rq)
		if err != nil {
			return err
		}
		return c.h1.send(ctx, rq, req1, px, ho, intended, s, out)
	}
	if probe {
		// Ended when the request is: an h2 dial sets the pick at once
		// (alpnMemo.dialed), an http/1.1 one once its connection counts
		// in the http1 pool (onHTTP1); ending the probe before that let
		// a waiter see no pick yet and dial offering h2 again.
		defer st.done()
	}
	err = c.h2.send(ctx, rq, req2, px, ho, intended, s, out)
	he, ok := err.(*h2.HTTP1Error)
	if !ok {
		return err
	}
	if ho.early == 0 {
		ho.early = c.h2.res.Start
	}
	return c.onHTTP1(ctx, rq, req2, px, he, st, ho, intended, s, out)
}

// onHTTP1 sends rq on HTTP/1.1 after the HTTP/2 pool's dial for it got
// an http/1.1 connection (he): the connection goes to the http1 pool,
// the request on it, and the destination is remembered as HTTP/1.1.
func (c *autoClient) onHTTP1(ctx context.Context, rq *request, req2 *h2.Request, px *transport.Proxy, he *h2.HTTP1Error, st *destState, ho handover, intended time.Duration, s *metrics.Sample, out *session.Response) error {
	if he.Request != req2 {
		return c.redirectedToHTTP1(ctx, rq, px, he, ho, intended, s, out)
	}
	req1, err := c.h1.prepare(rq)
	if err != nil {
		he.Close()
		return err
	}
	ho.conn = c.h1p.Adopt(req1, he.Proxy, he.Conn, he.NetConn)
	if ho.conn != nil {
		tc := he.Conn
		ho.dialed = tc.DNS + tc.Connect + tc.Proxy + tc.TLS
	}
	st.set(metrics.ProtoH1)
	return c.h1.send(ctx, rq, req1, px, ho, intended, s, out)
}

// redirectedToHTTP1 goes on with a request whose redirect, followed by
// the HTTP/2 client, led to a destination that picked HTTP/1.1 (he is
// that hop's dial): the destination is remembered, its connection goes
// to the http1 pool and the request's remaining hops go on HTTP/1.1 from
// that one, its HTTP/2 hops counted in the same sample.
func (c *autoClient) redirectedToHTTP1(ctx context.Context, rq *request, px *transport.Proxy, he *h2.HTTP1Error, ho handover, intended time.Duration, s *metrics.Sample, out *session.Response) error {
	hop := he.Request
	c.memo.state(hop.Destination()).set(metrics.ProtoH1)
	header, body := hop.Parts()
	req1, err := http1.Prepare(hop.Method, hop.URL.String(), header, body)
	if err != nil {
		he.Close()
		fillFromH2(s, &c.h2.res, intended, err)
		proxied(s, px)
		return err
	}
	prior := c.h2.res
	if ho.early > 0 && ho.early < prior.Start {
		prior.Timings.Add(metrics.PhaseBlocked, prior.Start-ho.early) // it waited for the first destination's pick
		prior.Start = ho.early
	}
	ho = handover{prior: &prior}
	if he.Conn != nil {
		ho.conn = c.h1p.Adopt(req1, he.Proxy, he.Conn, he.NetConn)
	}
	if ho.conn != nil {
		tc := he.Conn
		ho.dialed = tc.DNS + tc.Connect + tc.Proxy + tc.TLS
	}
	return c.h1.send(ctx, rq, req1, px, ho, intended, s, out)
}

// dest returns the state of req2's destination (a static step's is kept).
func (c *autoClient) dest(rq *request, req2 *h2.Request) *destState {
	if !rq.step.static {
		return c.memo.state(req2.Destination())
	}
	if st := c.dests.get(rq.step.seq); st != nil {
		return st
	}
	st := c.memo.state(req2.Destination())
	c.dests.put(rq.step.seq, st)
	return st
}

// errAwaitPick is what a request that timed out waiting for its
// destination's first connection was waiting for.
var errAwaitPick = errors.New("waiting for the destination's first connection, dialed by another request, to learn its protocol (--http auto)")

// await returns the destination's protocol, waiting while another request
// dials it; probe says the caller dials it (through the HTTP/2 pool) for
// the others, and must end that with destState.done. A request woken by
// a dial that failed dials for itself (HTTP/2, probe false), without
// waiting for another turn: a destination that fails every dial fails
// its requests about as fast as without auto, not one dial at a time.
// ho.early is when the wait started (0: no wait).
func (c *autoClient) await(ctx context.Context, st *destState) (ho handover, proto metrics.Protocol, probe bool, err error) {
	if p, ok := st.known(); ok {
		return ho, p, false, nil
	}
	probe, wait := st.claim()
	switch {
	case probe:
		return ho, metrics.ProtoH2, true, nil
	case wait == nil: // known meanwhile
		p, _ := st.known()
		return ho, p, false, nil
	}
	ho.early = c.d.Now()
	t := time.NewTimer(c.timeout)
	defer t.Stop()
	select {
	case <-wait:
	case <-ctx.Done():
		return ho, 0, false, fmt.Errorf("request canceled: %w", ctx.Err())
	case <-t.C:
		return ho, 0, false, &h2.TimeoutError{After: c.timeout, Err: errAwaitPick}
	}
	if p, ok := st.known(); ok {
		return ho, p, false, nil
	}
	return ho, metrics.ProtoH2, false, nil // the dial failed: dial too
}

// failed fills s for a request that failed waiting for its destination's
// protocol: the wait was its blocked phase.
func (c *autoClient) failed(s *metrics.Sample, ho handover, intended time.Duration, err error) {
	var tm transport.Timings
	end := c.d.Now()
	start := ho.early
	if start == 0 {
		start = end
	}
	tm.Add(metrics.PhaseBlocked, end-start)
	transport.FillTimes(s, start, end, intended, &tm)
	s.Err = metrics.Classify(err)
}

// pipeline is HTTP/1.1's (Plan.Validate allows it only there).
func (c *autoClient) pipeline(ctx context.Context, rq *request, ss []metrics.Sample, errs []error) {
	c.h1.pipeline(ctx, rq, ss, errs)
}

func (c *autoClient) pick(u *url.URL) *transport.Proxy { return c.h1.pick(u) }

// exchange sends a Go scenario's request as do sends a step's. When the
// HTTP/2 pool's dial for it gets an http/1.1 connection, that connection
// is closed unused and the request goes to the http1 pool, which dials
// again (its body was read for the first try).
func (c *autoClient) exchange(req *http.Request, px *transport.Proxy, done func(*metrics.Sample, error)) (*http.Response, error) {
	if !strings.EqualFold(req.URL.Scheme, "https") {
		return c.h1.exchange(req, px, done)
	}
	dest, err := transport.DestinationOf(req.URL)
	if err != nil {
		return c.h1.exchange(req, px, done)
	}
	st := c.memo.state(dest.Key)
	ho, proto, probe, err := c.await(req.Context(), st)
	if err != nil {
		var s metrics.Sample
		c.failed(&s, ho, unscheduled, err)
		done(&s, err)
		return nil, err
	}
	if proto == metrics.ProtoH1 {
		return c.h1.exchangeOn(req, px, ho, done)
	}
	var body []byte
	if req.Body != nil {
		body, err = io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	t0 := c.d.Now()
	resp, err := c.h2.exchange(req, px, done)
	if probe {
		st.done()
	}
	he, ok := err.(*h2.HTTP1Error)
	if !ok {
		return resp, err
	}
	he.Close()
	c.memo.state(he.Request.Destination()).set(metrics.ProtoH1)
	if req.Body != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	if ho.early == 0 {
		ho.early = t0
	}
	return c.h1.exchangeOn(req, px, ho, done)
}
