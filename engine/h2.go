package engine

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/faya-load/faya/internal/h2"
	"github.com/faya-load/faya/internal/session"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// h2Clients builds the HTTP/2 pools of a plan run by the default engine
// with --http 2 (one shared, or one per VU) and a factory of clients over
// them. A connection carries at most H2MaxStreams streams, by default
// ceil(Concurrency / MaxConnsPerHost) (and never more than the server's
// MAX_CONCURRENT_STREAMS), so that the pool's VUs spread over the
// connections the pool allows: -c 100 --max-conns-per-host 10 is 10
// connections of 10 streams each. Requests through a proxy go through a
// tunnel (CONNECT, SOCKS5): ALPN h2 with the target over it.
func h2Clients(plan Plan, proxies *proxySet, obs transport.Observer, dial []transport.Option) (clientFactory, []pool, error) {
	opts := h2Options(plan, obs)
	turns := transport.NewTurns(plan.Transport)
	newPool := func() (*h2.Pool, error) {
		d, err := transport.NewDialer(plan.Transport, obs, append(slices.Clip(dial), transport.WithTurns(turns))...)
		if err != nil {
			return nil, err
		}
		return h2.NewPool(d, opts)
	}
	poolOf, pools, err := scopedPools(plan, newPool)
	if err != nil {
		return nil, nil, err
	}
	factory := func(sc *Scenario, vu int) (client, error) {
		return newH2Client(plan, poolOf(vu), proxies, vu), nil
	}
	return factory, pools, nil
}

// h2Options are the plan's HTTP/2 pool options (see h2Clients).
func h2Options(plan Plan, obs transport.Observer) h2.Options {
	cfg := plan.Transport.WithDefaults()
	opts := h2.Options{MaxStreams: cfg.H2MaxStreams, Strict: cfg.H2StrictStreams}
	if opts.MaxStreams == 0 && cfg.MaxConnsPerHost > 0 {
		opts.MaxStreams = (max(cfg.Concurrency, 1) + cfg.MaxConnsPerHost - 1) / cfg.MaxConnsPerHost
	}
	if o, ok := obs.(observer); ok {
		opts.Recorder = o.rec
	}
	return opts
}

// newH2Client returns VU vu's HTTP/2 client over p.
func newH2Client(plan Plan, p *h2.Pool, proxies *proxySet, vu int) *h2Client {
	cl := h2.NewClient(p)
	cl.Timeout = plan.Timeout
	cl.MaxBody = plan.MaxBody
	cl.MaxRedirects = plan.MaxRedirects
	return &h2Client{cl: cl, maxBody: plan.MaxBody, proxyRoute: proxyRoute{proxies: proxies, proxy: proxies.forVU(vu)}}
}

// h2Client sends one VU's requests through the HTTP/2 client: directly,
// or through a proxy's tunnel. It does not pipeline.
type h2Client struct {
	proxyRoute
	cl      *h2.Client
	static  stepCache[*h2.Request]
	res     h2.Result
	capture transport.Capture
	maxBody int64

	goMu      sync.Mutex // a Go scenario's goroutines may share the VU
	goRes     h2.Result
	goCapture transport.Capture
}

// ForwardedH2CError is an http:// request with --http 2 whose proxy
// forwards requests (an HTTP proxy): the proxy speaks HTTP/1.1 to faya,
// so HTTP/2 without TLS (h2c) cannot go through it. Plan.Validate refuses
// it for the proxies it can see; one from the environment (HTTP_PROXY)
// fails here.
type ForwardedH2CError struct{ Proxy string }

func (e *ForwardedH2CError) Error() string {
	return "--http 2 to an http:// URL through the HTTP proxy " + e.Proxy +
		": an HTTP proxy forwards HTTP/1.1 requests, so h2c cannot go through it; use an https:// URL (HTTP/2 by ALPN through a CONNECT tunnel), a socks5:// proxy, or --http 1.1"
}

// ErrClass is metrics.ErrProtocolNegotiation: HTTP/2 cannot be spoken
// on that route.
func (e *ForwardedH2CError) ErrClass() metrics.ErrClass { return metrics.ErrProtocolNegotiation }

func (c *h2Client) prepare(r *request) (*h2.Request, error) {
	st := r.step
	if !st.static {
		return h2.Prepare(r.method, r.url, r.header, r.body)
	}
	if p := c.static.get(st.seq); p != nil {
		return p, nil
	}
	p, err := h2.Prepare(st.Method, st.URL, st.Header, st.Body)
	if err != nil {
		return nil, err
	}
	c.static.put(st.seq, p)
	return p, nil
}

func (c *h2Client) do(ctx context.Context, rq *request, intended time.Duration, s *metrics.Sample, out *session.Response) error {
	req, err := c.prepare(rq)
	if err != nil {
		return err
	}
	return c.send(ctx, rq, req, c.pick(req.URL), handover{}, intended, s, out)
}

// forwarded returns the error of a request to u through px that px would
// forward (h2c through an HTTP proxy), or nil.
func forwarded(u *url.URL, px *transport.Proxy) error {
	if px != nil && px.Forwards(strings.EqualFold(u.Scheme, "https")) {
		return &ForwardedH2CError{Proxy: px.String()}
	}
	return nil
}

// send sends the prepared request req of rq through px (nil: direct).
// An --http auto pool's dial that the server answered with http/1.1
// returns its *h2.HTTP1Error with s left as it was, for the caller to
// send the request on HTTP/1.1.
func (c *h2Client) send(ctx context.Context, rq *request, req *h2.Request, px *transport.Proxy, ho handover, intended time.Duration, s *metrics.Sample, out *session.Response) error {
	if err := forwarded(req.URL, px); err != nil {
		s.Err = metrics.Classify(err)
		proxied(s, px)
		return err
	}
	call := h2.Call{Proxy: px}
	if rq.jar != nil {
		call.Jar = rq.jar
	}
	if wantsCapture(rq, out) {
		c.capture.BodyLimit = bodyLimit(c.maxBody, captureLimit)
		call.Capture = &c.capture
	}
	err := c.cl.Do(ctx, req, call, &c.res)
	if err != nil {
		var he *h2.HTTP1Error
		if errors.As(err, &he) {
			return he
		}
	}
	ho.patch(&c.res.Start, &c.res.Timings)
	if out != nil {
		out.Status = c.res.Status
		out.URL = req.URL
		if call.Capture != nil {
			out.Header, out.Body, out.URL = c.capture.Header, c.capture.Body, c.capture.URL
		}
	}
	fillFromH2(s, &c.res, intended, err)
	proxied(s, px)
	return err
}

// pipeline fails: HTTP/2 multiplexes instead (Plan.Validate refuses
// pipelining with it).
func (c *h2Client) pipeline(_ context.Context, _ *request, ss []metrics.Sample, errs []error) {
	for k := range ss {
		errs[k] = errors.New("HTTP/2 does not pipeline")
		ss[k].Err = metrics.Classify(errs[k])
	}
}

// fillFromH2 fills a sample from what the HTTP/2 client measured; the
// wait for a stream slot is its stream_wait phase (not in service time,
// as blocked is not).
func fillFromH2(s *metrics.Sample, r *h2.Result, intended time.Duration, err error) {
	if r.StreamWait > 0 {
		r.Timings.Add(metrics.PhaseStreamWait, r.StreamWait)
	}
	transport.FillTimes(s, r.Start, r.End, intended, &r.Timings)
	s.ServiceTime -= r.StreamWait
	s.Proto = metrics.ProtoH2
	s.Err = metrics.Classify(err)
	if err == nil {
		s.Status = r.Status
	}
	s.BodyBytes, s.Truncated = r.BodyBytes, r.Truncated
	s.Fresh, s.Reused, s.Dest = r.Fresh, r.Reused, r.Dest
	s.Retries, s.Redirects = r.Retries, r.Redirects
	s.BytesSent, s.BytesReceived = r.BytesSent, r.BytesReceived
}

// exchange sends a Go scenario's request on the VU's HTTP/2 client
// (no redirects, no jar: the http.Client above does both) through px
// (nil: direct) and reads its answer whole (up to the body cap).
func (c *h2Client) exchange(req *http.Request, px *transport.Proxy, done func(*metrics.Sample, error)) (*http.Response, error) {
	c.goMu.Lock()
	defer c.goMu.Unlock()
	if err := forwarded(req.URL, px); err != nil {
		s := metrics.Sample{Err: metrics.Classify(err)}
		done(&s, err)
		return nil, err
	}
	header, body, err := goRequestParts(req)
	if err != nil {
		return nil, err
	}
	pr, err := h2.Prepare(req.Method, req.URL.String(), header, body)
	if err != nil {
		return nil, err
	}
	c.goCapture.BodyLimit = bodyLimit(c.maxBody, noLimit)
	err = c.cl.Do(req.Context(), pr, h2.Call{Capture: &c.goCapture, NoRedirects: true, Proxy: px}, &c.goRes)
	if err != nil {
		var he *h2.HTTP1Error
		if errors.As(err, &he) {
			return nil, he // --http auto: the caller sends it on HTTP/1.1
		}
	}
	var s metrics.Sample
	fillFromH2(&s, &c.goRes, unscheduled, err)
	done(&s, err)
	if err != nil {
		return nil, err
	}
	return c.goCapture.Response(req, 2, 0), nil
}
