package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/faya-load/faya/internal/session"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
	"golang.org/x/sync/errgroup"
)

// Engine runs a Plan. Create it with [New]; run it once with [Engine.Run].
type Engine struct {
	plan      Plan
	log       *slog.Logger
	interval  time.Duration
	intervals func(Interval)
	timeWait  func() (int64, bool)
	newClient clientFactory // nil: the plan's engine's (h1 by default); tests set a fake
	epoch     time.Time     // the run's clock, set when Run starts
	fakeClock bool          // tests under testing/synctest: no timerfd
	env       session.Env
	seg       Segment   // the part of the plan run (WithSegment)
	start     time.Time // when the run starts (WithStart); zero: at once
	compiled  []*cscenario
	proxies   *proxySet
	resolver  *net.Resolver // WithResolver; nil: net.DefaultResolver
}

// Option injects behaviour into an Engine (configuration lives in the Plan).
type Option func(*Engine)

// WithLogger sets the logger for run lifecycle events. The default
// discards. The engine never logs per request.
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.log = l } }

// Interval is what the engine's collector hands WithIntervals once per
// interval: the interval's snapshot and summary, and the run's total so
// far. Both snapshots are the engine's: valid only during the call, read
// only (copy or encode what you keep).
type Interval struct {
	Snapshot *metrics.Snapshot
	// Point summarises the interval for the time series; HasPoint is
	// false for a final flush right after a tick, which adds none.
	Point    metrics.Point
	HasPoint bool
	// Total is the run's cumulative snapshot, this interval included.
	Total *metrics.Snapshot
	// Final is set on the last call, at the end of the run.
	Final bool
	// Busy is the share of its CPUs (CPUs: GOMAXPROCS) the process has
	// used since the run started, 0 where it cannot be read.
	Busy float64
	CPUs int
}

// WithIntervals calls f once per interval, and once more at the end, from
// the engine's collector goroutine (never from a request's path): for live
// views, saved results and metrics exporters.
func WithIntervals(f func(Interval)) Option { return func(e *Engine) { e.intervals = f } }

// WithTimeWait samples, once per interval, the number of local sockets to
// the target in TIME_WAIT (f reports false when it cannot tell); the time
// series carries it.
func WithTimeWait(f func() (int64, bool)) Option { return func(e *Engine) { e.timeWait = f } }

// WithResolver makes the run look host names up through r instead of
// [net.DefaultResolver] (tests: a resolver that asks an in-process DNS
// server). The plan's DNS settings (transport.Config's DNSTTL, DNSMode,
// IPFamily) apply to its answers.
func WithResolver(r *net.Resolver) Option { return func(e *Engine) { e.resolver = r } }

// WithInterval sets the length of the intervals of the time series.
// The default is one second.
func WithInterval(d time.Duration) Option { return func(e *Engine) { e.interval = d } }

// New validates plan and returns an Engine for it. Its steps are compiled
// once, here, with the environment of WithEnv.
func New(plan Plan, opts ...Option) (*Engine, error) {
	if err := errors.Join(plan.fieldErrors()...); err != nil {
		return nil, fmt.Errorf("invalid plan: %w", err)
	}
	e := &Engine{
		plan:     plan.withDefaults(),
		log:      slog.New(slog.DiscardHandler),
		interval: time.Second,
	}
	for _, o := range opts {
		o(e)
	}
	if !e.seg.Whole() {
		if err := e.seg.Validate(); err != nil {
			return nil, fmt.Errorf("invalid segment: %w", err)
		}
		if err := plan.CheckSegments(e.seg.Count); err != nil {
			return nil, fmt.Errorf("invalid plan for %d segments: %w", e.seg.Count, err)
		}
		p := plan
		e.seg.segmentTransport(&p)
		e.plan = p.withDefaults()
	}
	cs, err := e.plan.compileSteps(e.env)
	if err != nil {
		return nil, fmt.Errorf("invalid plan: %w", err)
	}
	e.compiled = cs
	if e.proxies, err = newProxySet(e.plan.Proxy, os.Getenv); err != nil {
		return nil, fmt.Errorf("invalid plan: %w", err)
	}
	return e, nil
}

// WithEnv sets where {{ env "NAME" }} in templates looks (for example
// os.LookupEnv). Without it, templates that read the environment fail.
func WithEnv(lookup func(name string) (string, bool)) Option {
	return func(e *Engine) { e.env = lookup }
}

// Proxies returns the proxies the run may use, passwords redacted, in the
// order of the per-proxy accounts (Snapshot.Proxies).
func (e *Engine) Proxies() []string {
	var out []string
	for _, px := range e.proxies.proxies() {
		out = append(out, px.String())
	}
	return out
}

// Plan returns the plan the engine runs, with defaults applied.
func (e *Engine) Plan() Plan { return e.plan }

// Result is what a run measured.
type Result struct {
	// Total aggregates every sample and connection event of the run.
	Total *metrics.Snapshot
	// Timeline has one point per interval.
	Timeline []metrics.Point
	// Duration is from the first request's start to the last one's end.
	Duration time.Duration
	// Start is when the run's clock started (wall time): intended starts
	// and the time series count from it.
	Start time.Time
	// Interrupted is set when the run was stopped (its context canceled)
	// before it completed its plan.
	Interrupted bool
	// OpenAtEnd is the number of connections still open when the result
	// was taken (normally 0: the pool is closed at the end).
	OpenAtEnd int64
	// Steps names the per-step stats of Total.Steps, index for index.
	Steps []StepInfo
	// Scheduling is how long iterations were started: the plan's length,
	// or until the stop when the run was interrupted (for a run bounded
	// only by an iteration count, Duration).
	Scheduling time.Duration
	// CPU is the CPU time (user and system) the process used during the
	// run, 0 where it cannot be read; CPUs is GOMAXPROCS. A generator
	// busy near CPUs x Duration was itself a limit: its requests started,
	// or their answers were read, late.
	CPU  time.Duration
	CPUs int
	// RunDelay is how long the process's threads waited for a CPU while
	// runnable during the run (Linux's schedstat), 0 where it cannot be
	// read. Long waits with little CPU used mean the generator was
	// starved by other processes, not busy.
	RunDelay time.Duration
}

// clients returns the factory of the VUs' clients under the plan's engine,
// and its pools (none for a test's fake).
func (e *Engine) clients(rec *metrics.Recorder, epoch time.Time) (clientFactory, []pool, error) {
	if e.newClient != nil {
		return e.newClient, nil, nil
	}
	newClients := h1Clients
	switch {
	case e.plan.Engine == EngineNetHTTP:
		newClients = netHTTPClients
	case e.plan.Transport.HTTP == transport.HTTP2:
		newClients = h2Clients
	case e.plan.usesAuto():
		newClients = autoClients
	}
	// Every dialer of the run shares its clock and its DNS lookups.
	dial := []transport.Option{transport.WithEpoch(epoch), transport.WithResolver(transport.NewResolver(e.plan.Transport, e.resolver))}
	return newClients(e.plan, e.proxies, observer{rec}, dial)
}

// registerSteps registers the steps with the recorder in the plan's
// order, so the report lists them so; stepIdx maps a compiled step's seq
// to its recorder index + 1.
func (e *Engine) registerSteps(rec *metrics.Recorder) (steps *stepTable, stepIdx []int) {
	steps = &stepTable{}
	for _, cs := range e.compiled {
		for _, st := range slices.Concat(cs.setup, cs.steps) {
			for len(stepIdx) <= st.seq {
				stepIdx = append(stepIdx, 0)
			}
			stepIdx[st.seq] = steps.index(rec, cs.sc.Name, st.name, st.setup) + 1
		}
	}
	return steps, stepIdx
}

// runScenarios runs every scenario's executor (this segment's part of
// it) and returns when all ended.
func (e *Engine) runScenarios(ctx context.Context, plan *Plan, factory clientFactory, rec *metrics.Recorder, steps *stepTable, stepIdx []int, epoch time.Time) error {
	cursors := map[string]*atomic.Int64{}
	for _, ds := range plan.Data {
		cursors[ds.Name] = new(atomic.Int64)
	}
	var g errgroup.Group
	vu := 0
	for i := range plan.Scenarios {
		cs := e.compiled[i]
		sc, ok := e.seg.scenario(plan.Scenarios[i])
		r := &runner{
			sc:        &sc,
			cs:        cs,
			plan:      plan,
			stepIdx:   stepIdx,
			cursors:   cursors,
			scripted:  !cs.plain(plan),
			steps:     steps,
			firstVU:   vu,
			newClient: factory,
			rec:       rec,
			epoch:     epoch,
			grace:     plan.GracefulStop,
			lateAfter: plan.LateThreshold,
			precise:   !e.fakeClock,
			seg:       e.seg,
		}
		if ok {
			g.Go(func() error { return r.run(ctx) })
		}
		vu += plan.Scenarios[i].Executor.PeakVUs()
	}
	return g.Wait()
}

// length is the longest scenario's scheduled length (0: none has one).
func (p *Plan) length() time.Duration {
	var d time.Duration
	for i := range p.Scenarios {
		d = max(d, p.Scenarios[i].Executor.Length())
	}
	return d
}

// Run executes the plan. Canceling ctx stops the run gracefully: no new
// iteration starts and requests in flight finish, each bounded by the
// request timeout. Request failures are data in the Result; Run returns an
// error only when the run could not proceed.
func (e *Engine) Run(ctx context.Context) (*Result, error) {
	plan := e.plan
	rec := metrics.NewRecorder(min(runtime.GOMAXPROCS(0), 8))
	rec.RegisterAddrs(plan.Transport.LocalAddrs, plan.Transport.ResolvedAddrs())
	epoch := time.Now()
	if !e.start.IsZero() {
		if err := e.waitStart(ctx); err != nil {
			return nil, err
		}
		if ctx.Err() != nil {
			return &Result{Total: &metrics.Snapshot{}, Interrupted: true, Start: e.start}, nil
		}
		epoch = e.start
	}
	cpu := newCPUMeter()
	e.epoch = epoch

	factory, pools, err := e.clients(rec, epoch)
	if err != nil {
		return nil, err
	}

	e.log.LogAttrs(ctx, slog.LevelInfo, "run start", slog.Int("vus", plan.VUs()))
	res := &Result{Total: &metrics.Snapshot{}, Start: epoch}
	collectorDone := make(chan struct{})
	stopCollector := make(chan struct{})
	conns := func() (open, active int64) {
		for _, p := range pools {
			o, a := p.Conns()
			open += int64(o)
			active += int64(a)
		}
		return open, active
	}
	go func() {
		defer close(collectorDone)
		e.collect(rec, res, epoch, cpu, conns, stopCollector)
	}()

	var stoppedAt atomic.Int64
	stopWatch := context.AfterFunc(ctx, func() { stoppedAt.Store(int64(time.Since(epoch))) })
	defer stopWatch()

	steps, stepIdx := e.registerSteps(rec)
	err = e.runScenarios(ctx, &plan, factory, rec, steps, stepIdx, epoch)
	res.Duration = time.Since(epoch)
	if used, ok := cpu.used(); ok {
		res.CPU, res.CPUs = used, runtime.GOMAXPROCS(0)
	}
	if d, ok := cpu.waited(); ok {
		res.RunDelay = d
	}
	res.Interrupted = ctx.Err() != nil
	res.Scheduling = plan.length()
	if res.Scheduling == 0 {
		res.Scheduling = res.Duration
	}
	if at := time.Duration(stoppedAt.Load()); res.Interrupted && at > 0 && at < res.Scheduling {
		res.Scheduling = at
	}

	for _, p := range pools {
		p.Close()
	}
	waitDials(pools, plan.Transport.WithDefaults().DialTimeout)
	waitClosed(rec)
	close(stopCollector)
	<-collectorDone
	res.OpenAtEnd = rec.Open()
	res.Steps = steps.all()
	e.log.LogAttrs(ctx, slog.LevelInfo, "run end",
		slog.Int64("requests", res.Total.Requests), slog.Duration("duration", res.Duration))
	if err != nil {
		return res, fmt.Errorf("run: %w", err)
	}
	return res, nil
}

// collect flushes the recorder once per interval into the run's total and
// time series, and once more when stop closes.
func (e *Engine) collect(rec *metrics.Recorder, res *Result, start time.Time, cpu cpuMeter, conns func() (int64, int64), stop <-chan struct{}) {
	t := time.NewTicker(e.interval)
	defer t.Stop()
	iv := &metrics.Snapshot{}
	last := start
	cpus := runtime.GOMAXPROCS(0)
	busy := func(now time.Time) float64 {
		used, ok := cpu.used()
		if !ok || !now.After(start) {
			return 0
		}
		return used.Seconds() / (now.Sub(start).Seconds() * float64(cpus))
	}
	flush := func(now time.Time, final bool) {
		rec.Flush(iv)
		runtime.Gosched()
		res.Total.MergeYield(iv, runtime.Gosched)
		if iv.Requests == 0 && iv.Dialed == 0 && iv.Closed == 0 && now.Sub(last) < e.interval/2 {
			// The final flush right after a tick adds no point.
			if final && e.intervals != nil {
				e.intervals(Interval{Snapshot: iv, Total: res.Total, Final: true, Busy: busy(now), CPUs: cpus})
			}
			return
		}
		p := metrics.PointOf(iv, now.Sub(start), now.Sub(last))
		p.ConnsOpen, p.ConnsActive = conns()
		p.TimeWait = -1
		if e.timeWait != nil {
			if n, ok := e.timeWait(); ok {
				p.TimeWait = n
			}
		}
		res.Timeline = append(res.Timeline, p)
		last = now
		if e.intervals != nil {
			e.intervals(Interval{Snapshot: iv, Point: p, HasPoint: true, Total: res.Total, Final: final, Busy: busy(now), CPUs: cpus})
		}
	}
	for {
		select {
		case now := <-t.C:
			flush(now, false)
		case <-stop:
			flush(time.Now(), true)
			return
		}
	}
}

// waitClosed gives connections that are closing (a "Connection: close"
// answer being torn down by net/http's read loop) a moment to report it,
// so that the counts add up. It waits at most 500 ms.
// waitDials waits, at most max (and 3 s), for the pools' dials in flight to
// end: a dial the server accepted is counted even when it completes after
// the last request (net/http dials for requests that then got another
// connection), so that faya's count equals the server's.
func waitDials(pools []pool, max time.Duration) {
	deadline := time.Now().Add(min(max, 3*time.Second))
	for _, p := range pools {
		for p.Dialing() > 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
}

func waitClosed(rec *metrics.Recorder) {
	for range 500 {
		if rec.Open() <= 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// pool is what the engine needs of a connection pool of either engine.
type pool interface {
	// Close closes the idle connections at the end of the run.
	Close()
	// Conns returns the connections open now and how many carry a request.
	Conns() (open, active int)
	// Dialing is the number of dials in flight.
	Dialing() int64
}

// observer forwards a pool's connection events to the recorder.
type observer struct{ rec *metrics.Recorder }

func (o observer) ConnDialed(c *transport.Conn) {
	c.Dest = o.rec.ConnDialedAt(c.Proto, c.Local, c.Remote())
	if c.ProxyIndex > 0 {
		o.rec.ProxyDialed(c.ProxyIndex - 1)
	}
}

func (o observer) ConnClosed(c *transport.Conn, r metrics.CloseReason, received, sent int64) {
	idle, idleClosed := c.ServerIdleClose()
	busy, span, timed := c.ReadBusy()
	o.rec.ConnClosed(metrics.ClosedConn{
		Reason:       r,
		Requests:     c.Requests(),
		Received:     received,
		Sent:         sent,
		Lifetime:     c.Lifetime(),
		ServerClosed: r == metrics.CloseServer || r == metrics.CloseGoAway,
		IdleClosed:   idleClosed && r == metrics.CloseServerIdle,
		IdleFor:      idle,
		Proto:        c.Proto,
		PeakStreams:  c.PeakStreams(),
		ReadTimed:    timed,
		ReadBusy:     busy,
		ReadSpan:     span,
	})
}

func (o observer) PutIdleFailed(r metrics.CloseReason) { o.rec.PutIdleFailed(r) }

// H2GoAway counts a GOAWAY a request's error revealed (net/http engine).
func (o observer) H2GoAway(lastStreamID uint32, code metrics.H2Code) {
	o.rec.H2GoAway(lastStreamID, code)
}

// H2RSTStream counts a stream the server reset (net/http engine).
func (o observer) H2RSTStream(code metrics.H2Code) { o.rec.H2RSTStream(code, false) }

var _ transport.Observer = observer{}
