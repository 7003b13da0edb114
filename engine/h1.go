package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/faya-load/faya/internal/http1"
	"github.com/faya-load/faya/internal/session"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// h1Clients builds the http1 pools of a plan (one shared, or one per VU)
// and a factory of clients over them.
func h1Clients(plan Plan, proxies *proxySet, obs transport.Observer, epoch time.Time) (clientFactory, []pool, error) {
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
	newPool := func() (*http1.Pool, error) {
		d, err := transport.NewDialer(cfg, obs, transport.WithEpoch(epoch))
		if err != nil {
			return nil, err
		}
		return http1.NewPool(d), nil
	}
	var shared *http1.Pool
	var perVU []*http1.Pool
	var pools []pool
	if plan.ConnScope != ScopeVU {
		p, err := newPool()
		if err != nil {
			return nil, nil, err
		}
		shared = p
		pools = append(pools, p)
	} else {
		perVU = make([]*http1.Pool, plan.VUs())
		for i := range perVU {
			p, err := newPool()
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
		cl := http1.NewClient(p)
		cl.Timeout = plan.Timeout
		cl.ResponseHeaderTimeout = plan.Transport.ResponseHeaderTimeout
		cl.ExpectContinueTimeout = plan.Transport.WithDefaults().ExpectContinueTimeout
		cl.MaxBody = plan.MaxBody
		cl.MaxRedirects = plan.MaxRedirects
		cl.Patient = sc.Executor.Open()
		return &h1Client{cl: cl, closeConns: plan.Transport.DisableKeepAlives, maxBody: plan.MaxBody,
			proxies: proxies, proxy: proxies.forVU(vu)}, nil
	}
	return factory, pools, nil
}

// h1Client sends one VU's requests through the http1 engine.
type h1Client struct {
	cl         *http1.Client
	static     []*http1.Request // static steps, prepared once, by step seq
	res        http1.Result
	capture    http1.Capture
	closeConns bool
	maxBody    int64
	proxies    *proxySet        // nil: direct
	proxy      *transport.Proxy // per-vu mode: this VU's
}

// captureLimit bounds the body kept for extractions and checks when the
// body cap does not.
const captureLimit = 1 << 20

// prepare returns the http1 request for r.
func (c *h1Client) prepare(r *request) (*http1.Request, error) {
	st := r.step
	if st.static {
		for len(c.static) <= st.seq {
			c.static = append(c.static, nil)
		}
		if p := c.static[st.seq]; p != nil {
			return p, nil
		}
		p, err := http1.Prepare(st.Method, st.URL, c.header(st.Header), st.Body)
		if err != nil {
			return nil, err
		}
		c.static[st.seq] = p
		return p, nil
	}
	return http1.Prepare(r.method, r.url, c.header(r.header), r.body)
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
	c.cl.Jar = nil
	if rq.jar != nil {
		c.cl.Jar = rq.jar
	}
	c.cl.Capture = nil
	if out != nil && (rq.step.capture || rq.step.headers) {
		c.capture.BodyLimit = captureLimit
		if c.maxBody >= 0 {
			c.capture.BodyLimit = min(c.maxBody, captureLimit)
		}
		c.cl.Capture = &c.capture
	}
	px := c.proxies.pick(c.proxy, req.URL)
	c.cl.Proxy = px
	err = c.cl.Do(ctx, req, &c.res)
	r := &c.res
	if out != nil {
		out.Status = r.Status
		out.URL = req.URL
		if c.cl.Capture != nil {
			out.Header, out.Body, out.URL = c.capture.Header, c.capture.Body, c.capture.URL
		}
	}
	fillFromResult(s, r, intended, err)
	proxied(s, px)
	return err
}

// proxied marks a sample that went through px; a 407 answer from an HTTP
// proxy that forwards requests is the proxy's refusal, not the target's.
func proxied(s *metrics.Sample, px *transport.Proxy) {
	if px == nil {
		return
	}
	s.Proxy = px.Index + 1
	if s.Err == metrics.ErrNone && s.Status == http.StatusProxyAuthRequired {
		s.Err = metrics.ErrProxyAuth
	}
}

// fillFromResult fills a sample from what the http1 client measured.
// doPipeline sends len(res) requests of rq's step pipelined on one
// connection (see http1.Client.DoPipeline).
func (c *h1Client) doPipeline(ctx context.Context, rq *request, res []http1.Result, errs []error) {
	req, err := c.prepare(rq)
	if err != nil {
		for k := range res {
			res[k], errs[k] = http1.Result{}, err
		}
		return
	}
	c.cl.Jar, c.cl.Capture, c.cl.Proxy = nil, nil, nil
	c.cl.DoPipeline(ctx, req, res, errs)
}

func fillFromResult(s *metrics.Sample, r *http1.Result, intended time.Duration, err error) {
	fillTimes(s, r.Start, r.End, intended, &r.Timings)
	s.Err = metrics.Classify(err)
	if err == nil {
		s.Status = r.Status
	}
	s.BodyBytes, s.Truncated = r.BodyBytes, r.Truncated
	s.CloseAnswers, s.HTTP10 = r.CloseAnswers, r.HTTP10
	s.Fresh, s.Reused = r.Fresh, r.Reused
	s.WasIdle, s.IdleTime = r.WasIdle, r.IdleTime
	s.Retries, s.Redirects = r.Retries, r.Redirects
	s.Expect, s.ContinueWait = r.Expect, r.ContinueWait
	s.BytesSent, s.BytesReceived = r.BytesSent, r.BytesReceived
}

// roundTripper returns a RoundTripper over the VU's http1 client for a Go
// scenario. http.Client follows the redirects and applies the VU's jar, so
// the http1 client does neither here.
func (c *h1Client) roundTripper(rec recordFunc) http.RoundTripper {
	return &h1RoundTripper{c: c, rec: rec}
}

type h1RoundTripper struct {
	mu      sync.Mutex // a VU's client serves one request at a time
	c       *h1Client
	rec     recordFunc
	capture http1.Capture
	res     http1.Result
}

func (t *h1RoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	header := req.Header
	if req.Host != "" && req.Host != req.URL.Host {
		header = header.Clone()
		header.Set("Host", req.Host)
	}
	pr, err := http1.Prepare(req.Method, req.URL.String(), header, body)
	if err != nil {
		return nil, err
	}
	cl := t.c.cl
	defer func(max int, jar http1.CookieJar, cp *http1.Capture) {
		cl.MaxRedirects, cl.Jar, cl.Capture = max, jar, cp
	}(cl.MaxRedirects, cl.Jar, cl.Capture)
	cl.MaxRedirects, cl.Jar = -1, nil
	t.capture.BodyLimit = 1<<62 - 1
	if t.c.maxBody >= 0 {
		t.capture.BodyLimit = t.c.maxBody
	}
	cl.Capture = &t.capture
	px := t.c.proxies.pick(t.c.proxy, req.URL)
	cl.Proxy = px
	err = cl.Do(req.Context(), pr, &t.res)
	var s metrics.Sample
	fillFromResult(&s, &t.res, unscheduled, err)
	proxied(&s, px)
	t.rec(req.Context(), req.Method, req.URL.Path, &s, err)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, len(t.capture.Header))
	for _, kv := range t.capture.Header {
		h.Add(kv[0], kv[1])
	}
	out := append([]byte(nil), t.capture.Body...)
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", t.res.Status, http.StatusText(t.res.Status)),
		StatusCode:    t.res.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(out)),
		ContentLength: int64(len(out)),
		Request:       req,
	}, nil
}
