package exporter

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/faya-load/faya/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// bounds are the upper bounds (le, in seconds) of every duration histogram:
// a 1-2-5 series from 100 µs to 20 s, then 30 s and 60 s (common timeouts).
var bounds = []float64{
	100e-6, 200e-6, 500e-6,
	1e-3, 2e-3, 5e-3,
	10e-3, 20e-3, 50e-3,
	100e-3, 200e-3, 500e-3,
	1, 2, 5,
	10, 20, 30, 60,
}

// boundsNS are bounds in nanoseconds, the HDR histograms' unit.
var boundsNS = func() []int64 {
	ns := make([]int64, len(bounds))
	for i, b := range bounds {
		ns[i] = int64(b * float64(time.Second))
	}
	return ns
}()

// histMetrics are the HDR histograms exported, in the order of state.hists:
// the latency, the phases (Blocked through Receive), the service time and
// the schedule lag.
var histMetrics = func() []metrics.Metric {
	ms := []metrics.Metric{metrics.Latency}
	for i := range metrics.NumPhases {
		ms = append(ms, metrics.Blocked+metrics.Metric(i))
	}
	return append(ms, metrics.ServiceTime, metrics.ScheduleLag)
}()

const (
	histLatency = 0
	histPhase0  = 1
	histService = histPhase0 + metrics.NumPhases
	histLag     = histService + 1
	numHists    = histLag + 1
)

// putIdleReasons are the reasons net/http gives for not returning a
// connection to its idle pool, as the JSON report lists them.
// keepalives_disabled and idle_timeout never reach net/http's PutIdleConn
// hook; like the report, they are counted where the connection closes.
var putIdleReasons = [...]metrics.CloseReason{
	metrics.CloseTooManyIdleForHost,
	metrics.CloseTooManyIdle,
	metrics.CloseKeepAlivesDisabled,
	metrics.CloseBroken,
	metrics.CloseClosedIdle,
	metrics.CloseIdleTimeout,
	metrics.CloseOther,
}

// hist is one histogram in Prometheus' form. Its buckets map is never
// written after it is built, so scrapes share it.
type hist struct {
	count   uint64
	sum     float64 // seconds
	buckets map[float64]uint64
}

// statusCount is the number of responses with one status code.
type statusCount struct {
	code  string
	count int64
}

// state is what a scrape reports: a copy of the latest update. A published
// state is never modified.
type state struct {
	status  []statusCount // codes with a count, ascending
	errs    [metrics.NumErrClasses]int64
	dialed  int64
	reused  int64
	closed  [metrics.NumCloseReasons]int64
	putIdle [len(putIdleReasons)]int64

	protocols, dialedProto [metrics.NumProtocols]int64
	goaways                int64

	connsOpen, connsActive int64
	vusBusy, vusAllocated  int64

	iterations, dropped, late  int64
	checksPassed, checksFailed int64
	setup                      int64

	hists [numHists]hist
}

// Exporter holds the latest state of a run for Prometheus scrapes.
type Exporter struct {
	mu  sync.Mutex // serializes Update
	cur atomic.Pointer[state]

	handler http.Handler
	d       descs
}

// descs are the exporter's metric descriptions.
type descs struct {
	requests, errors          *prometheus.Desc
	duration, phase           *prometheus.Desc
	service, lag              *prometheus.Desc
	dialed, closed, reuses    *prometheus.Desc
	open, active, putIdle     *prometheus.Desc
	vusBusy, vusAllocated     *prometheus.Desc
	iterations, dropped, late *prometheus.Desc
	checks, setup             *prometheus.Desc
	protocols, dialedProto    *prometheus.Desc
	goaways                   *prometheus.Desc
}

func newDescs() descs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("faya_"+name, help, labels, nil)
	}
	return descs{
		requests: d("requests_total",
			"Responses received, by HTTP status code (0: a code outside 0-599). Requests that failed without a response are in faya_request_errors_total only; one whose body failed after the status line is in both.",
			"status"),
		errors: d("request_errors_total",
			"Requests that failed without a complete response, by error class (every class is listed, zero when it did not happen).",
			"class"),
		duration: d("request_duration_seconds",
			"Request latency: from the intended start (open model) or the actual start (closed model) to the end of the response, failed requests included. Buckets come from an HDR histogram at 3 significant digits."),
		phase: d("request_phase_seconds",
			"Time requests spent in each phase (blocked: waiting for a pooled connection; dns; connect; proxy: the proxy handshake; tls; send; wait: for the first response byte; receive; stream_wait: HTTP/2, waiting for a free stream slot). A request is counted only in the phases it went through.",
			"phase"),
		service: d("request_service_time_seconds",
			"Request time once it had a connection: the latency without the client-side queueing (schedule lag and the wait for a pooled connection)."),
		lag: d("schedule_lag_seconds",
			"Open model: how much later than intended each iteration started."),
		dialed: d("connections_dialed_total",
			"Connections established to the target (or its proxy)."),
		closed: d("connections_closed_total",
			"Connections closed, by reason (every reason is listed).",
			"reason"),
		protocols: d("requests_by_protocol_total",
			"Requests by the protocol of their connection (h1, h2).",
			"protocol"),
		dialedProto: d("connections_dialed_by_protocol_total",
			"Connections established, by protocol (h1, h2: what ALPN negotiated, or h2c).",
			"protocol"),
		goaways: d("h2_goaways_total",
			"HTTP/2 GOAWAY frames received (the net/http engine sees those that reached a request as an error)."),
		reuses: d("connection_reuses_total",
			"Requests sent on a reused (kept-alive) connection."),
		open: d("connections_open",
			"Connections open at the end of the last interval."),
		active: d("connections_active",
			"Connections carrying a request at the end of the last interval (the rest of faya_connections_open are idle)."),
		putIdle: d("idle_put_errors_total",
			"Connections that could not go back to the idle pool after a request, by net/http's reason (keepalives_disabled and idle_timeout are counted when the connection closes, as in the JSON report).",
			"reason"),
		vusBusy: d("vus_busy",
			"VUs busy in an iteration: the most at once during the last interval."),
		vusAllocated: d("vus_allocated",
			"VUs allocated so far."),
		iterations: d("iterations_total",
			"Iterations started."),
		dropped: d("iterations_dropped_total",
			"Open model: iterations dropped because no VU was free at their intended start."),
		late: d("iterations_late_total",
			"Open model: iterations that started later than the late threshold after their intended start."),
		checks: d("checks_total",
			"Checks evaluated on responses, by result.",
			"result"),
		setup: d("setup_requests_total",
			"Setup requests (a VU's login), which are not counted in faya_requests_total."),
	}
}

// New returns an Exporter. Until the first Update it serves the state of
// an empty run: counters and gauges at zero, histograms empty, and no
// faya_requests_total series (status codes appear as they are seen).
func New() *Exporter {
	x := &Exporter{d: newDescs()}
	x.cur.Store(capture(&metrics.Snapshot{}, metrics.Point{}, nil))

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collector{x},
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	)
	x.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
	})
	return x
}

// Update records the run's cumulative snapshot and the last interval's
// point. It copies what it needs (the caller's snapshot is reused after
// the call); safe to call concurrently with scrapes.
//
// total must be the run's cumulative snapshot (Interval.Total), so that
// the counters only grow. A zero Point (the engine's final flush right
// after a tick carries none: Interval.HasPoint is false) leaves the
// gauges as the previous Update set them.
func (x *Exporter) Update(total *metrics.Snapshot, p metrics.Point) {
	if total == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.cur.Store(capture(total, p, x.cur.Load()))
}

// Handler returns the /metrics handler. It serves a registry of its own:
// the run's faya_* metrics, the process collector's process_* metrics
// (the generator's CPU, memory and file descriptors: a saturated or
// fd-starved generator skews what it measures) and the Go collector's
// go_* metrics (goroutines, GC pauses, which delay requests). Every call
// returns the same handler.
func (x *Exporter) Handler() http.Handler { return x.handler }

// shutdownGrace bounds how long Serve waits for scrapes in flight when
// its context is done.
const shutdownGrace = 2 * time.Second

// Serve listens on addr (host:port; port 0 picks a free port) and serves
// Handler at /metrics in the background until ctx is done. It returns once
// it listens, with the address it listens on, so that the caller can
// print "metrics on http://ADDR/metrics" before the run starts; a listen
// error comes back at once.
//
// The returned channel gets nil, or the error serving failed with, once
// the server has stopped (after ctx is done, scrapes in flight get up to
// 2 s to finish), and is then closed. Receive from it before exiting so
// that no goroutine outlives the server.
func (x *Exporter) Serve(ctx context.Context, addr string) (net.Addr, <-chan error, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", x.handler)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
	}
	done := make(chan error, 1)
	go func() {
		defer close(done)
		served := make(chan error, 1)
		go func() { served <- srv.Serve(l) }()
		var err error
		select {
		case err = <-served:
			_ = srv.Close()
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
			if srv.Shutdown(sctx) != nil {
				_ = srv.Close()
			}
			cancel()
			err = <-served
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		if err != nil {
			err = fmt.Errorf("metrics: %w", err)
		}
		done <- err
	}()
	return l.Addr(), done, nil
}

// capture copies from total and p what a scrape reports. prev is the
// previous state, whose gauges a zero Point keeps.
func capture(total *metrics.Snapshot, p metrics.Point, prev *state) *state {
	s := &state{
		errs:         total.ErrCount,
		dialed:       total.Dialed,
		reused:       total.ConnReused,
		closed:       total.CloseReasons,
		vusAllocated: total.VUsAllocated,
		iterations:   total.Iterations,
		dropped:      total.Dropped,
		late:         total.Late,
		checksPassed: total.ChecksPassed,
		checksFailed: total.ChecksFailed,
		setup:        total.Setup,
		protocols:    total.Protocols,
		dialedProto:  total.DialedProto,
		goaways:      total.H2.GoAways,
	}
	for code, n := range total.Status {
		if n > 0 {
			s.status = append(s.status, statusCount{strconv.Itoa(code), n})
		}
	}
	for i, r := range putIdleReasons {
		switch r {
		case metrics.CloseKeepAlivesDisabled, metrics.CloseIdleTimeout:
			s.putIdle[i] = total.CloseReasons[r]
		default:
			s.putIdle[i] = total.PutIdleErrors[r]
		}
	}
	switch {
	case p != (metrics.Point{}):
		s.connsOpen, s.connsActive = p.ConnsOpen, p.ConnsActive
		s.vusBusy = p.VUsBusy
		s.vusAllocated = max(s.vusAllocated, p.VUsAllocated)
	case prev != nil:
		s.connsOpen, s.connsActive = prev.connsOpen, prev.connsActive
		s.vusBusy = prev.vusBusy
		s.vusAllocated = max(s.vusAllocated, prev.vusAllocated)
	}
	for i, m := range histMetrics {
		h := total.Hist(m)
		var n int64
		if h != nil {
			n = h.TotalCount()
		}
		if prev != nil && prev.hists[i].count == uint64(n) {
			// Cumulative: the same count is the same histogram.
			s.hists[i] = prev.hists[i]
			continue
		}
		s.hists[i] = histOf(h)
	}
	return s
}

// histOf turns an HDR histogram of durations in nanoseconds into
// Prometheus' cumulative buckets in seconds. A value is counted under a
// bound when the lowest value of its HDR bucket is at or below it, so
// every value at or below a bound is counted under it, and values at most
// 0.1% (the HDR resolution) above it may be too. The sum takes each value
// as the middle of its HDR bucket, as hdrhistogram's Mean does: it is the
// mean times the count.
//
// It walks the histogram's counts (Export's copy, in the layout of HDR's
// serialized form) rather than h.Distribution, which allocates a bar per
// index up to the maximum: megabytes per update for a latency histogram.
func histOf(h *hdrhistogram.Histogram) hist {
	out := hist{buckets: make(map[float64]uint64, len(bounds))}
	counts := make([]uint64, len(bounds))
	if h != nil && h.TotalCount() > 0 {
		l := layoutOf(h)
		total := uint64(h.TotalCount())
		var sum float64
		j := 0
		for idx, c := range h.Export().Counts {
			if c <= 0 {
				continue
			}
			from, size := l.bucket(idx)
			sum += float64(c) * float64(from+size>>1)
			for j < len(boundsNS) && from > boundsNS[j] {
				j++
			}
			if j < len(boundsNS) {
				counts[j] += uint64(c)
			}
			if out.count += uint64(c); out.count >= total {
				break
			}
		}
		out.sum = sum / float64(time.Second)
	}
	var cum uint64
	for i, b := range bounds {
		cum += counts[i]
		out.buckets[b] = cum
	}
	return out
}

// layout is how an HDR histogram indexes its counts: bucket k > 0 holds
// the values [2^(k+unit) × half, 2^(k+unit+1) × half) in half sub-buckets
// of width 2^(k+unit); bucket 0 holds [0, 2 × half × 2^unit) in 2 × half.
type layout struct {
	halfMag int // log2 of half the sub-bucket count
	unitMag int // log2 of the lowest discernible value
}

// layoutOf derives h's layout from its parameters as hdrhistogram.New does.
func layoutOf(h *hdrhistogram.Histogram) layout {
	largest := 2 * math.Pow10(int(h.SignificantFigures())) // single-unit resolution up to here
	countMag := int(math.Ceil(math.Log2(largest)))
	return layout{
		halfMag: max(countMag, 1) - 1,
		unitMag: max(bits.Len64(uint64(max(h.LowestTrackableValue(), 1)))-1, 0),
	}
}

// bucket returns the lowest value and the width of the values counted at
// index idx (hdrhistogram's valueFromFlatIndex and
// sizeOfEquivalentValueRange).
func (l layout) bucket(idx int) (from, size int64) {
	half := 1 << l.halfMag
	bucket := idx>>l.halfMag - 1
	sub := idx&(half-1) + half
	if bucket < 0 {
		sub -= half
		bucket = 0
	}
	shift := uint(bucket + l.unitMag)
	return int64(sub) << shift, int64(1) << shift
}

// collector turns the latest state into const metrics at scrape time.
type collector struct{ x *Exporter }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	d := &c.x.d
	for _, desc := range []*prometheus.Desc{
		d.requests, d.errors, d.duration, d.phase, d.service, d.lag,
		d.dialed, d.closed, d.reuses, d.open, d.active, d.putIdle,
		d.vusBusy, d.vusAllocated, d.iterations, d.dropped, d.late,
		d.checks, d.setup, d.protocols, d.dialedProto, d.goaways,
	} {
		ch <- desc
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s, d := c.x.cur.Load(), &c.x.d
	counter := func(desc *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(desc *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(v))
	}
	histogram := func(desc *prometheus.Desc, h *hist, labels ...string) {
		ch <- prometheus.MustNewConstHistogram(desc, h.count, h.sum, h.buckets, labels...)
	}

	for _, st := range s.status {
		counter(d.requests, st.count, st.code)
	}
	for i := 1; i < metrics.NumErrClasses; i++ { // not ErrNone
		counter(d.errors, s.errs[i], metrics.ErrClass(i).String())
	}
	histogram(d.duration, &s.hists[histLatency])
	for i := range metrics.NumPhases {
		histogram(d.phase, &s.hists[histPhase0+i], metrics.Phase(i).String())
	}
	histogram(d.service, &s.hists[histService])
	histogram(d.lag, &s.hists[histLag])

	counter(d.dialed, s.dialed)
	for i, n := range s.closed {
		counter(d.closed, n, metrics.CloseReason(i).String())
	}
	counter(d.reuses, s.reused)
	for i := range metrics.NumProtocols {
		counter(d.protocols, s.protocols[i], metrics.Protocol(i).String())
		counter(d.dialedProto, s.dialedProto[i], metrics.Protocol(i).String())
	}
	counter(d.goaways, s.goaways)
	gauge(d.open, s.connsOpen)
	gauge(d.active, s.connsActive)
	for i, r := range putIdleReasons {
		counter(d.putIdle, s.putIdle[i], r.String())
	}

	gauge(d.vusBusy, s.vusBusy)
	gauge(d.vusAllocated, s.vusAllocated)
	counter(d.iterations, s.iterations)
	counter(d.dropped, s.dropped)
	counter(d.late, s.late)
	counter(d.checks, s.checksPassed, "passed")
	counter(d.checks, s.checksFailed, "failed")
	counter(d.setup, s.setup)
}
