// Package doctor probes a target with a bounded sequence of short runs and
// says how its connections behave and how to configure a client's pool for
// it: does the server keep connections alive, how many requests it allows
// per connection, after how long it closes an idle connection, and up to
// what concurrency its throughput stays at its best. The saturation
// ladder's decision is a pure function of the measured steps ([Judge]).
package doctor

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
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
	Repeats           int           // each step is run this many times; 0: 3
	StepTime          time.Duration // each run of a step at most this long; 0: 500ms
	StepRequests      int64         // and at most this many requests; 0: 5000
	// The HTTP/2 GOAWAY probe: at most H2Streams streams on one
	// connection (0: 10,000) for at most H2Time (0: 3s).
	H2Streams int64
	H2Time    time.Duration
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
	def(&o.StepTime, 500*time.Millisecond)
	if o.Repeats <= 0 {
		o.Repeats = 3
	}
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
		"  3. saturation: concurrency 1, 2, 4, ... up to %d, each step run %d times for at most %v and %d requests, "+
		"stopping on errors or when throughput drops beyond the steps' own spread",
		3+steps*o.Repeats+o.Repeats, o.URL, o.KeepAliveRequests, o.KeepAliveTime, o.IdleWait, o.MaxConcurrency, o.Repeats, o.StepTime, o.StepRequests) +
		quietPlan(o) + o.h2Plan()
}

// Step is one saturation step: a concurrency, run Repeats times.
type Step struct {
	Concurrency int
	// Runs are each run's throughput (requests per second); RPS is their
	// median.
	Runs     []float64
	RPS      float64
	P50, P99 time.Duration // over the runs together
	Requests int64
	Errors   int64
	Dialed   int64
	// Busy is the share of its CPUs faya used during the step (0 to 1; 0
	// where it cannot be read).
	Busy float64
}

// lo and hi are the step's slowest and fastest runs (RPS when there are
// none).
func (s Step) lo() float64 { return slices.Min(s.runs()) }
func (s Step) hi() float64 { return slices.Max(s.runs()) }

func (s Step) runs() []float64 {
	if len(s.Runs) == 0 {
		return []float64{s.RPS}
	}
	return s.Runs
}

// median is the median of the runs (RPS when there are none).
func (s Step) median() float64 {
	if len(s.Runs) == 0 {
		return s.RPS
	}
	r := slices.Sorted(slices.Values(s.Runs))
	if len(r)%2 == 1 {
		return r[len(r)/2]
	}
	return (r[len(r)/2-1] + r[len(r)/2]) / 2
}

// erred reports whether more than 1% of the step's requests failed: past
// what the server takes.
func (s Step) erred() bool { return s.Requests > 0 && float64(s.Errors) > 0.01*float64(s.Requests) }

// Verdict is the saturation ladder's decision on the steps measured so far.
type Verdict struct {
	// Stop says not to climb further: the last step had errors, or its
	// throughput dropped beyond the spread (Reason says which).
	Stop   bool
	Reason string
	// Best is the index of the step with the highest median throughput
	// (-1: none).
	Best int
	// Knee is the lowest concurrency whose throughput was within the
	// spread of the best; Recommend the highest (never below it: a pool
	// capped lower would cost throughput). Both 1 when nothing was
	// measured.
	Knee, Recommend int
}

// spreadFloor is the least spread a step is given, as a share of the
// best's median: with one run (or runs that agree to the digit) there is
// no spread to go by, and a 2% dip is noise on any machine.
const spreadFloor = 0.02

// Judge decides the ladder from the measured steps alone (no clock, no
// traffic). A step is within the best when its fastest run reaches the
// best step's slowest run (less 2% of the best's median); the ladder stops
// only when the last step has errors or falls below that, a drop beyond
// the steps' own spread, not at the first step that fails to grow.
func Judge(steps []Step) Verdict {
	v := Verdict{Best: -1, Knee: 1, Recommend: 1}
	for i, s := range steps {
		if !s.erred() && (v.Best < 0 || s.median() > steps[v.Best].median()) {
			v.Best = i
		}
	}
	if n := len(steps); n > 0 && steps[n-1].erred() {
		v.Stop, v.Reason = true, fmt.Sprintf("errors at %d concurrent requests", steps[n-1].Concurrency)
	}
	if v.Best < 0 {
		return v
	}
	best := steps[v.Best]
	floor := best.lo() - spreadFloor*best.median()
	within := func(s Step) bool { return !s.erred() && s.hi() >= floor }
	v.Knee, v.Recommend = best.Concurrency, best.Concurrency
	for _, s := range steps {
		if within(s) {
			v.Knee, v.Recommend = min(v.Knee, s.Concurrency), max(v.Recommend, s.Concurrency)
		}
	}
	if last := steps[len(steps)-1]; !v.Stop && !within(last) {
		v.Stop, v.Reason = true, fmt.Sprintf("throughput dropped beyond the spread at %d concurrent requests (%.0f req/s at best, against %.0f at %d)",
			last.Concurrency, last.hi(), best.median(), best.Concurrency)
	}
	return v
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
	Saturation int    // the lowest concurrency whose throughput was within the spread of the best
	Stopped    string // why the ladder stopped before MaxConcurrency ("" when it did not)
	// SharedCPU says the target is on faya's machine (loopback or one of
	// its addresses): the throughput is what both got of its CPUs, so the
	// recommendation is a lower bound. CPUs is faya's GOMAXPROCS.
	SharedCPU bool
	CPUs      int

	// Busy-then-quiet probe (nil: not run) and its verdict, applied to
	// IdleConnTimeout.
	Quiet        *Quiet
	QuietVerdict QuietVerdict

	Findings []diagnose.Finding
	// Holds is the highest concurrency whose throughput was within the
	// spread of the best (the ladder's; 0: MaxConnsPerHost).
	Holds int
	// The recommended pool: Holds connections, never fewer than
	// diagnose.MinPool; an idle timeout below the server's, never below
	// diagnose.MinIdleTimeout (a server that closes sooner is the
	// server's to fix: idleTooShort).
	MaxConnsPerHost int
	IdleConnTimeout time.Duration
	// H2 is what the HTTP/2 probes found and the pool for HTTP/2.
	H2 *H2Report
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
	if u, err := url.Parse(o.URL); err == nil {
		r.SharedCPU = SharesCPU(ctx, u.Hostname())
	}
	r.CPUs = runtime.GOMAXPROCS(0)
	for c := 1; c <= o.MaxConcurrency && ctx.Err() == nil; c *= 2 {
		step, err := o.step(ctx, c)
		if err != nil {
			return nil, err
		}
		r.Steps = append(r.Steps, step)
		if Judge(r.Steps).Stop {
			break
		}
	}
	v := Judge(r.Steps)
	r.Saturation, r.Holds, r.Stopped = v.Knee, v.Recommend, v.Reason
	r.MaxConnsPerHost, r.IdleConnTimeout = recommendPool(v.Recommend, r.IdleSeen, r.IdleTimeout)

	// 4. Busy then quiet.
	if err := o.quietProbe(ctx, r); err != nil {
		return nil, err
	}

	// 5. HTTP/2.
	if ctx.Err() == nil {
		if r.H2, err = o.probeH2(ctx, r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// step runs concurrency c Repeats times.
func (o Options) step(ctx context.Context, c int) (Step, error) {
	step := Step{Concurrency: c}
	all := &metrics.Snapshot{}
	var busy float64
	for range o.Repeats {
		if ctx.Err() != nil {
			break
		}
		res, err := o.run(ctx, engine.Executor{Type: engine.VUs, VUs: c, Iterations: o.StepRequests, Duration: o.StepTime}, transport.Config{})
		if err != nil {
			return Step{}, err
		}
		st := res.Total
		all.Merge(st)
		rps := 0.0
		if res.Duration > 0 {
			rps = float64(st.Requests) / res.Duration.Seconds()
			if res.CPUs > 0 {
				busy += res.CPU.Seconds() / (res.Duration.Seconds() * float64(res.CPUs))
			}
		}
		step.Runs = append(step.Runs, rps)
	}
	lat := metrics.DistOf(all.Hist(metrics.Latency))
	step.RPS, step.P50, step.P99 = step.median(), lat.P50, lat.P99
	step.Requests, step.Errors, step.Dialed = all.Requests, all.Errors+all.HTTPErrors, all.Dialed
	if n := len(step.Runs); n > 0 {
		step.Busy = min(busy/float64(n), 1)
	}
	return step, nil
}

// SharesCPU reports whether host (a name or an address) is this machine:
// loopback, or one of its interfaces' addresses. A name is resolved; one
// that does not resolve is taken as another machine.
func SharesCPU(ctx context.Context, host string) bool {
	ips := []net.IP{net.ParseIP(host)}
	if ips[0] == nil {
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil {
			return false
		}
		ips = ips[:0]
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	local, _ := net.InterfaceAddrs()
	for _, ip := range ips {
		if ip.IsLoopback() {
			return true
		}
		for _, a := range local {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
				return true
			}
		}
	}
	return false
}

// recommendPool is the pool to recommend from the ladder's highest
// concurrency within the best (holds) and the idle probe's measure of the
// server's timeout (seen: it closed the connection after server): holds
// connections, at least diagnose.MinPool (one connection makes a request
// wait while it closes and another is dialed, and a burst queues); 80% of
// the server's timeout, at least minIdle (below, the client would
// reconnect after every pause); Go's default without a timeout seen.
func recommendPool(holds int, seen bool, server time.Duration) (conns int, idle time.Duration) {
	conns, idle = max(holds, diagnose.MinPool), transport.DefaultIdleConnTimeout
	if seen {
		idle = max(suggestIdle(server), minIdle)
	}
	return conns, idle
}

// idleTooShort reports a server idle timeout so short that 80% of it is
// below minIdle: the recommended timeout is minIdle, above the server's
// 80%, and the server's keep-alive timeout is the one to raise.
func (r *Report) idleTooShort() bool { return r.IdleSeen && suggestIdle(r.IdleTimeout) < minIdle }

// holds is Holds, or MaxConnsPerHost for a report that did not set it.
func (r *Report) holds() int {
	if r.Holds > 0 {
		return r.Holds
	}
	return r.MaxConnsPerHost
}

// suggestIdle is 80% of the server's idle timeout, rounded down to what a
// person would type (at least 1 ms); recommendPool holds it to minIdle.
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
	if pool.HTTP == transport.HTTPAuto {
		// The keep-alive, idle and saturation probes measure HTTP/1.1
		// whatever an engine's auto would offer; HTTP/2 has its own.
		pool.HTTP = transport.HTTP1
	}
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
func (w *idleWatch) ConnClosed(c *transport.Conn, r metrics.CloseReason, _, _ int64) {
	if d, ok := c.ServerIdleClose(); ok && r == metrics.CloseServerIdle {
		select {
		case w.closed <- d:
		default:
		}
	}
}
func (w *idleWatch) PutIdleFailed(metrics.CloseReason) {}

// idleProbe sends one request, keeps its connection idle in the pool, and
// waits for the server to close it, at most IdleWait.
func (o Options) idleProbe(ctx context.Context, r *Report) error {
	w := &idleWatch{closed: make(chan time.Duration, 1)}
	p, err := transport.New(transport.Config{Concurrency: 1, IdleConnTimeout: o.IdleWait + time.Minute, InsecureSkipVerify: o.Insecure, HTTP: transport.HTTP1}, w)
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

// runs is the number of runs of the first step.
func (r *Report) runs() int {
	if len(r.Steps) == 0 {
		return 0
	}
	return len(r.Steps[0].Runs)
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
	MaxConnsPerHost:       %d, // %s
	MaxIdleConnsPerHost:   %d, // not Go's default of 2: keep every connection the pool may open
	MaxIdleConns:          %d,
	IdleConnTimeout:       %s,%s
	TLSHandshakeTimeout:   10 * time.Second,
	ResponseHeaderTimeout: 30 * time.Second,
}`, n, r.capComment(), n, n, idle, r.idleComment())
}

// capComment says where the recommended cap comes from.
func (r *Report) capComment() string {
	s := fmt.Sprintf("throughput was within the spread of its best up to %d concurrent requests", r.holds())
	if r.MaxConnsPerHost > r.holds() {
		s = fmt.Sprintf("at least %d, though throughput was at its best at %d concurrent requests: with fewer, a request waits while a connection closes", diagnose.MinPool, r.holds())
	}
	if r.lowerBound() {
		s += " (a lower bound)"
	}
	return s
}

// lowerBound reports whether the measured throughput was capped by faya's
// own machine: the target shares its CPUs, or faya's CPU was busy.
func (r *Report) lowerBound() bool { return r.SharedCPU || r.generatorBusy() >= generatorLimit }

// generatorLimit is the CPU share above which faya itself was a limit.
const generatorLimit = 0.9

// generatorBusy is faya's CPU share at the best step.
func (r *Report) generatorBusy() float64 {
	if v := Judge(r.Steps); v.Best >= 0 {
		return r.Steps[v.Best].Busy
	}
	return 0
}

func (r *Report) idleComment() string {
	if r.idleTooShort() {
		return fmt.Sprintf(" // the least faya recommends: the server's %s is too short to stay below without reconnecting after every pause; raise it", r.IdleTimeout.Round(time.Millisecond))
	}
	if r.IdleSeen {
		return fmt.Sprintf(" // below the server's %s, so the client closes first%s", r.IdleTimeout.Round(time.Millisecond), r.quietComment())
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
	fmt.Fprintf(&b, "\nSaturation (closed model, doubling the concurrency, each step %d runs)\n", max(1, r.runs()))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  concurrency\treq/s (median)\tslowest-fastest run\tp50\tp99\terrors\tconnections\tfaya CPU\t\n")
	for _, s := range r.Steps {
		cpu := "-"
		if s.Busy > 0 {
			cpu = fmt.Sprintf("%.0f%%", 100*s.Busy)
		}
		fmt.Fprintf(tw, "  %d\t%.0f\t%.0f-%.0f\t%s\t%s\t%d\t%d\t%s\t\n", s.Concurrency, s.RPS, s.lo(), s.hi(),
			s.P50.Round(time.Microsecond), s.P99.Round(time.Microsecond), s.Errors, s.Dialed, cpu)
	}
	_ = tw.Flush()
	if r.Saturation == r.holds() {
		fmt.Fprintf(&b, "  throughput reaches its best (within the steps' spread) at %d concurrent requests\n", r.Saturation)
	} else {
		fmt.Fprintf(&b, "  throughput reaches its best (within the steps' spread) at %d concurrent requests and holds up to %d\n", r.Saturation, r.holds())
	}
	if r.MaxConnsPerHost > r.holds() {
		fmt.Fprintf(&b, "  the pool below has %d connections all the same: with one, a request waits while the connection closes and another is dialed\n", r.MaxConnsPerHost)
	}
	if r.Stopped != "" {
		fmt.Fprintf(&b, "  stopped: %s\n", r.Stopped)
	}
	if r.SharedCPU {
		fmt.Fprintf(&b, "  faya and the target share this machine's %d CPUs: the throughput measured is what both got together, so the recommendation is a lower bound (run faya from another machine for the target's own limit)\n", r.CPUs)
	}
	if busy := r.generatorBusy(); busy >= generatorLimit {
		fmt.Fprintf(&b, "  faya's CPU was %.0f%% busy at the best step: the generator was a limit too, so the recommendation is a lower bound\n", 100*busy)
	}
	if r.KeepAlive {
		b.WriteString(r.quietText())
	}
	r.h2Text(&b)
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
	switch {
	case r.idleTooShort():
		fmt.Fprintf(&b, "  [warning] The server closes idle connections after %s: too soon for a client to close them first without reconnecting after every pause\n"+
			"      fix: raise the server's keep-alive timeout (e.g. nginx keepalive_timeout) well above %s; the pool below keeps idle connections %s, the least faya recommends, so requests will sometimes meet a connection the server is closing\n",
			r.IdleTimeout.Round(time.Millisecond), minIdle, r.IdleConnTimeout)
	case r.IdleSeen:
		fmt.Fprintf(&b, "  [warning] The server closes idle connections after %s; a client keeping them longer sends on closing connections\n      fix: --idle-conn-timeout %s\n",
			r.IdleTimeout.Round(time.Millisecond), r.IdleConnTimeout)
	}
	fmt.Fprintf(&b, "\nRecommended pool\n  faya run %s URL\n\n  In Go:\n", r.Flags())
	for _, line := range strings.Split(r.GoTransport(), "\n") {
		fmt.Fprintf(&b, "  %s\n", line)
	}
	r.h2Pool(&b)
	_, err := io.WriteString(w, b.String())
	return err
}
