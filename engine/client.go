package engine

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/faya-load/faya/internal/session"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// This file is the seam between the engine and its HTTP engines (h1.go,
// nethttp.go): the client interface and what every engine shares, so
// that a new one (HTTP/2, HTTP/3) sends requests and reports their facts
// and inherits the accounting. The rules an engine applies inside one
// hop live in transport, where internal/http1 reaches them too:
// transport.FillTimes (latency, service time, lag, phases),
// transport.RedirectOf and CrossHostHeader (the redirect rule),
// transport.AnswerCloseReason and FailedReason (a connection's close
// reason from the answer's facts or the request's error class).

// client sends requests for one VU. Each VU has its own, used by one
// goroutine at a time (exchange excepted: a Go scenario's goroutines may
// share it).
type client interface {
	// do sends r, reads the response, and fills s (zeroed by the caller,
	// its step set). intended is the iteration's intended start on the
	// run's clock for the first step of an open-model iteration, and -1
	// otherwise. resp, when not nil, receives the status, headers, body
	// (up to the body cap) and final URL, for extractions and checks. do
	// returns the request's error, which is also classified in s.Err; the
	// error is data, not a reason to stop.
	do(ctx context.Context, r *request, intended time.Duration, s *metrics.Sample, resp *session.Response) error
	// pipeline sends len(ss) requests of r's step pipelined on one
	// connection (Plan.Pipeline) and fills ss[k] (its step set by the
	// caller) and errs[k] with request k's measurements and failure. An
	// engine that cannot pipeline fails them all (Plan.Validate allows
	// pipelining only where it can).
	pipeline(ctx context.Context, r *request, ss []metrics.Sample, errs []error)
	// exchange sends a Go scenario's request through px (nil: direct)
	// without following redirects or applying cookies (the http.Client
	// above does both) and calls done once with its sample: when the
	// response returned was read, or when it failed (then the response is
	// nil).
	exchange(req *http.Request, px *transport.Proxy, done func(*metrics.Sample, error)) (*http.Response, error)
	// pick returns the proxy a request to u goes through, or nil.
	pick(u *url.URL) *transport.Proxy
}

// recordFunc records a Go scenario's request: ctx names its step, method
// and path name it otherwise.
type recordFunc func(ctx context.Context, method, path string, s *metrics.Sample, err error)

// clientFactory returns the client for VU vu (0-based, unique in the run)
// of scenario sc.
type clientFactory func(sc *Scenario, vu int) (client, error)

// unscheduled marks an iteration of a closed-model executor: it has no
// intended start.
const unscheduled time.Duration = -1

// goRoundTripper is a Go scenario VU's http.RoundTripper over its client:
// it picks each request's proxy, has the engine send it, and records its
// sample, marked with the proxy.
type goRoundTripper struct {
	c   client
	rec recordFunc
}

// RoundTrip sends req through the VU's client.
func (t *goRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	px := t.c.pick(req.URL)
	ctx, method, path := req.Context(), req.Method, req.URL.Path
	return t.c.exchange(req, px, func(s *metrics.Sample, err error) {
		proxied(s, px)
		t.rec(ctx, method, path, s, err)
	})
}

// proxyRoute picks the proxy of one VU's requests.
type proxyRoute struct {
	proxies *proxySet        // nil: direct
	proxy   *transport.Proxy // per-vu mode: this VU's
}

// pick returns the proxy a request to u goes through, or nil.
func (r proxyRoute) pick(u *url.URL) *transport.Proxy { return r.proxies.pick(r.proxy, u) }

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

// captureLimit bounds the body kept for a step's extractions and checks
// when the body cap does not.
const captureLimit = 1 << 20

// noLimit is a body limit that does not bind: a Go scenario's response
// body is kept whole (up to the body cap).
const noLimit = 1<<62 - 1

// bodyLimit is how much of a response body an engine keeps for its
// reader: limit, or the body cap (Plan.MaxBody, negative: none) when it
// is lower.
func bodyLimit(maxBody, limit int64) int64 {
	if maxBody >= 0 {
		return min(maxBody, limit)
	}
	return limit
}

// wantsCapture reports whether a request's response must be kept for its
// step's extractions and checks.
func wantsCapture(r *request, out *session.Response) bool {
	return out != nil && (r.step.capture || r.step.headers)
}

// stepCache keeps what an engine prepares once per static step (its
// serialized request, its request template), by the step's seq; the zero
// T is "not made yet".
type stepCache[T comparable] []T

// get returns the value of step seq, or the zero T.
func (c stepCache[T]) get(seq int) T {
	if seq < len(c) {
		return c[seq]
	}
	var zero T
	return zero
}

// put keeps v for step seq.
func (c *stepCache[T]) put(seq int, v T) {
	for len(*c) <= seq {
		var zero T
		*c = append(*c, zero)
	}
	(*c)[seq] = v
}

// goRequestParts returns the header and the whole body of a Go scenario's
// request, for an engine's client to prepare: the body read and closed,
// and a Host other than the URL's carried as the Host header.
func goRequestParts(req *http.Request) (http.Header, []byte, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, nil, err
		}
		body = b
	}
	header := req.Header
	if req.Host != "" && req.Host != req.URL.Host {
		header = header.Clone()
		header.Set("Host", req.Host)
	}
	return header, body, nil
}

// scopedPools makes an engine's pools for the plan's connection scope:
// one shared by every VU, or one per VU (--conn-scope vu). poolOf returns
// VU vu's pool; pools lists them all, for the run's end and readings.
func scopedPools[P pool](plan Plan, newPool func() (P, error)) (poolOf func(vu int) P, pools []pool, err error) {
	n := 1
	if plan.ConnScope == ScopeVU {
		n = plan.VUs()
	}
	made := make([]P, n)
	for i := range made {
		if made[i], err = newPool(); err != nil {
			return nil, nil, err
		}
		pools = append(pools, made[i])
	}
	if plan.ConnScope != ScopeVU {
		return func(int) P { return made[0] }, pools, nil
	}
	return func(vu int) P { return made[vu] }, pools, nil
}
