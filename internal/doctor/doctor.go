// Package doctor probes a target with a bounded sequence of short runs and
// says how its connections behave and how to configure a client's pool for
// it: does the server keep connections alive, how many requests it allows
// per connection, after how long it closes an idle connection, and at what
// concurrency its throughput stops growing.
package doctor

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// Options bound the probes. Zero values take the defaults.
type Options struct {
	URL      string
	Header   http.Header
	Insecure bool
	Timeout  time.Duration // per request; 0: 5s

	KeepAliveRequests int64         // first probe: requests from one VU; 0: 200
	KeepAliveTime     time.Duration // and at most this long; 0: 3s
	IdleWait          time.Duration // second probe: how long to hold an idle connection; 0: 15s
	MaxConcurrency    int           // third probe: the top of the doubling ladder; 0: 256
	StepTime          time.Duration // each step at most this long; 0: 1s
	StepRequests      int64         // and at most this many requests; 0: 5000
}

func (o Options) withDefaults() Options {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Timeout, 5*time.Second)
	def(&o.KeepAliveTime, 3*time.Second)
	def(&o.IdleWait, 15*time.Second)
	def(&o.StepTime, time.Second)
	if o.KeepAliveRequests <= 0 {
		o.KeepAliveRequests = 200
	}
	if o.MaxConcurrency <= 0 {
		o.MaxConcurrency = 256
	}
	if o.StepRequests <= 0 {
		o.StepRequests = 5000
	}
	return o
}

// Plan says what Run will do, for printing before it starts.
func (o Options) Plan() string {
	o = o.withDefaults()
	steps := 0
	for c := 1; c <= o.MaxConcurrency; c *= 2 {
		steps++
	}
	return fmt.Sprintf("up to %d short runs against %s:\n"+
		"  1. keep-alive: 1 VU, at most %d requests or %v\n"+
		"  2. idle timeout: 1 request, then its connection held idle for at most %v\n"+
		"  3. saturation: concurrency 1, 2, 4, ... up to %d, each step at most %v and %d requests, stopping when throughput stops growing",
		2+steps, o.URL, o.KeepAliveRequests, o.KeepAliveTime, o.IdleWait, o.MaxConcurrency, o.StepTime, o.StepRequests)
}

// Step is one saturation step.
type Step struct {
	Concurrency int
	RPS         float64
	P50, P99    time.Duration
	Errors      int64
	Dialed      int64
}

// Report is what the probes found.
type Report struct {
	URL string
	// Keep-alive probe.
	Requests        int64
	Dialed          int64
	KeepAlive       bool
	Proto           string
	RequestsPerConn int64 // the server's per-connection limit; 0: none seen
	// Idle probe: the server closed an idle connection after IdleTimeout
	// (IdleSeen), or kept it for all of IdleWait.
	IdleSeen    bool
	IdleTimeout time.Duration
	IdleWait    time.Duration
	// Saturation probe.
	Steps      []Step
	Saturation int // the concurrency at which throughput stopped growing

	Findings []diagnose.Finding
	// The recommended pool.
	MaxConnsPerHost int
	IdleConnTimeout time.Duration
}

// Run runs the probes. Request failures are data; Run fails only when a
// probe cannot run at all.
func Run(ctx context.Context, o Options) (*Report, error) {
	o = o.withDefaults()
	r := &Report{URL: o.URL, IdleWait: o.IdleWait}

	// 1. Keep-alive and the per-connection limit.
	ka, err := o.run(ctx, engine.Executor{Type: engine.VUs, VUs: 1, Iterations: o.KeepAliveRequests, Duration: o.KeepAliveTime}, transport.Config{})
	if err != nil {
		return nil, err
	}
	s := ka.Total
	r.Requests, r.Dialed = s.Requests, s.Dialed
	r.KeepAlive = s.OK > 0 && s.Dialed*2 <= s.Requests
	r.Proto = "HTTP/1.1"
	if s.HTTP10 > 0 {
		r.Proto = "HTTP/1.0"
	}
	if per := metrics.DistOf(s.Hist(metrics.ServerCloseRequests)); per.Count > 0 && per.P50 == per.Max && r.KeepAlive {
		r.RequestsPerConn = int64(per.P50)
	}
	r.Findings = diagnose.Analyze(diagnose.Input{
		Config: diagnose.Config{Concurrency: 1, MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, MaxIdleConns: 1,
			IdleConnTimeout: transport.DefaultIdleConnTimeout},
		Total: s, Duration: ka.Duration,
	})

	// 2. The server's idle timeout.
	if r.KeepAlive {
		if err := o.idleProbe(ctx, r); err != nil {
			return nil, err
		}
	}

	// 3. Saturation.
	var best float64
	for c := 1; c <= o.MaxConcurrency && ctx.Err() == nil; c *= 2 {
		res, err := o.run(ctx, engine.Executor{Type: engine.VUs, VUs: c, Iterations: o.StepRequests, Duration: o.StepTime}, transport.Config{})
		if err != nil {
			return nil, err
		}
		st := res.Total
		lat := metrics.DistOf(st.Hist(metrics.Latency))
		step := Step{Concurrency: c, P50: lat.P50, P99: lat.P99, Errors: st.Errors + st.HTTPErrors, Dialed: st.Dialed}
		if res.Duration > 0 {
			step.RPS = float64(st.Requests) / res.Duration.Seconds()
		}
		r.Steps = append(r.Steps, step)
		if st.Requests > 0 && float64(step.Errors) > 0.01*float64(st.Requests) {
			break // errors: past what the server takes
		}
		if step.RPS < 1.1*best {
			break // doubling the concurrency no longer adds 10%
		}
		best = max(best, step.RPS)
		r.Saturation = c
	}
	if r.Saturation == 0 {
		r.Saturation = 1
	}

	r.MaxConnsPerHost = r.Saturation
	r.IdleConnTimeout = transport.DefaultIdleConnTimeout
	if r.IdleSeen {
		r.IdleConnTimeout = suggestIdle(r.IdleTimeout)
	}
	return r, nil
}

func suggestIdle(server time.Duration) time.Duration {
	d := server * 8 / 10
	switch {
	case d >= 10*time.Second:
		return d.Truncate(time.Second)
	case d >= time.Second:
		return d.Truncate(100 * time.Millisecond)
	}
	return max(d.Truncate(time.Millisecond), time.Millisecond)
}

func (o Options) plan(ex engine.Executor, pool transport.Config) engine.Plan {
	pool.InsecureSkipVerify = o.Insecure
	return engine.Plan{
		Scenarios:    []engine.Scenario{{Name: "doctor", Executor: ex, Steps: []engine.Step{{URL: o.URL, Header: o.Header}}}},
		Transport:    pool,
		Timeout:      o.Timeout,
		GracefulStop: o.Timeout,
	}
}

func (o Options) run(ctx context.Context, ex engine.Executor, pool transport.Config) (*engine.Result, error) {
	e, err := engine.New(o.plan(ex, pool))
	if err != nil {
		return nil, err
	}
	return e.Run(ctx)
}

// idleWatch records the first connection the server closed while idle.
type idleWatch struct {
	closed chan time.Duration
}

func (w *idleWatch) ConnDialed(*transport.Conn) {}
func (w *idleWatch) ConnClosed(c *transport.Conn, r transport.CloseReason, _, _ int64) {
	if d, ok := c.ServerIdleClose(); ok && r == transport.CloseServerIdle {
		select {
		case w.closed <- d:
		default:
		}
	}
}
func (w *idleWatch) PutIdleFailed(transport.CloseReason) {}

// idleProbe sends one request, keeps its connection idle in the pool, and
// waits for the server to close it, at most IdleWait.
func (o Options) idleProbe(ctx context.Context, r *Report) error {
	w := &idleWatch{closed: make(chan time.Duration, 1)}
	p, err := transport.New(transport.Config{Concurrency: 1, IdleConnTimeout: o.IdleWait + time.Minute, InsecureSkipVerify: o.Insecure}, w)
	if err != nil {
		return err
	}
	defer p.Close()
	tr := transport.NewTracer(p)
	rctx, cancel := context.WithTimeout(tr.Context(ctx), o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, o.URL, nil)
	if err != nil {
		return err
	}
	req.Header = o.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	tr.Start()
	resp, err := p.HTTP().RoundTrip(req)
	if err != nil {
		return nil // the keep-alive probe reports failures
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	tr.Release(p.Now())
	t := time.NewTimer(o.IdleWait)
	defer t.Stop()
	select {
	case d := <-w.closed:
		r.IdleSeen, r.IdleTimeout = true, d
	case <-t.C:
	case <-ctx.Done():
	}
	return nil
}

// Flags is the recommended pool as faya flags.
func (r *Report) Flags() string {
	return fmt.Sprintf("--max-conns-per-host %d --max-idle-conns-per-host %d --max-idle-conns %d --idle-conn-timeout %s",
		r.MaxConnsPerHost, r.MaxConnsPerHost, r.MaxConnsPerHost, r.IdleConnTimeout)
}

// GoTransport is the recommended pool as a Go http.Transport literal.
func (r *Report) GoTransport() string {
	idle := "90 * time.Second"
	if r.IdleConnTimeout%time.Second == 0 {
		idle = fmt.Sprintf("%d * time.Second", r.IdleConnTimeout/time.Second)
	} else {
		idle = fmt.Sprintf("%d * time.Millisecond", r.IdleConnTimeout/time.Millisecond)
	}
	n := r.MaxConnsPerHost
	return fmt.Sprintf(`&http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	MaxConnsPerHost:       %d, // throughput stopped growing at %d concurrent requests
	MaxIdleConnsPerHost:   %d, // not Go's default of 2: keep every connection the pool may open
	MaxIdleConns:          %d,
	IdleConnTimeout:       %s,%s
	TLSHandshakeTimeout:   10 * time.Second,
	ResponseHeaderTimeout: 30 * time.Second,
	ForceAttemptHTTP2:     true,
}`, n, r.Saturation, n, n, idle, r.idleComment())
}

func (r *Report) idleComment() string {
	if r.IdleSeen {
		return fmt.Sprintf(" // below the server's %s, so the client closes first", r.IdleTimeout.Round(time.Millisecond))
	}
	return ""
}

// Text writes the report for people.
func (r *Report) Text(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Keep-alive\n")
	switch {
	case r.Requests == 0:
		fmt.Fprintf(&b, "  no request completed\n")
	case r.KeepAlive:
		fmt.Fprintf(&b, "  yes (%s): %d requests over %d connection(s)\n", r.Proto, r.Requests, r.Dialed)
	default:
		fmt.Fprintf(&b, "  no (%s): %d requests needed %d connections\n", r.Proto, r.Requests, r.Dialed)
	}
	switch {
	case r.RequestsPerConn > 0:
		fmt.Fprintf(&b, "  the server closes each connection after %d requests\n", r.RequestsPerConn)
	case r.KeepAlive:
		fmt.Fprintf(&b, "  no per-connection request limit within %d requests\n", r.Requests)
	}
	fmt.Fprintf(&b, "\nIdle timeout\n")
	switch {
	case !r.KeepAlive:
		fmt.Fprintf(&b, "  not probed: the server does not keep connections\n")
	case r.IdleSeen:
		fmt.Fprintf(&b, "  the server closed an idle connection after %s\n", r.IdleTimeout.Round(time.Millisecond))
	default:
		fmt.Fprintf(&b, "  the server kept an idle connection for all of %s (its timeout is longer, or it has none)\n", r.IdleWait)
	}
	fmt.Fprintf(&b, "\nSaturation (closed model, doubling the concurrency)\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  concurrency\treq/s\tp50\tp99\terrors\tconnections\t\n")
	for _, s := range r.Steps {
		fmt.Fprintf(tw, "  %d\t%.0f\t%s\t%s\t%d\t%d\t\n", s.Concurrency, s.RPS, s.P50.Round(time.Microsecond), s.P99.Round(time.Microsecond), s.Errors, s.Dialed)
	}
	_ = tw.Flush()
	fmt.Fprintf(&b, "  throughput stops growing at %d concurrent requests\n", r.Saturation)
	fmt.Fprintf(&b, "\nFindings\n")
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "  [%s] %s\n", f.Severity, f.Title)
		if f.Evidence != "" {
			fmt.Fprintf(&b, "      evidence: %s\n", f.Evidence)
		}
		if f.Fix != "" {
			fmt.Fprintf(&b, "      fix: %s\n", f.Fix)
		}
	}
	if r.IdleSeen {
		fmt.Fprintf(&b, "  [warning] The server closes idle connections after %s; a client keeping them longer sends on closing connections\n      fix: --idle-conn-timeout %s\n",
			r.IdleTimeout.Round(time.Millisecond), r.IdleConnTimeout)
	}
	fmt.Fprintf(&b, "\nRecommended pool\n  faya run %s URL\n\n  In Go:\n", r.Flags())
	for _, line := range strings.Split(r.GoTransport(), "\n") {
		fmt.Fprintf(&b, "  %s\n", line)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
