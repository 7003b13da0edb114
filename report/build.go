package report

import (
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/threshold"
	"github.com/faya-load/faya/transport"
)

// Build derives the report of a run: each section from the run's total
// snapshot and time series, then the findings, which diagnose draws from
// the same numbers and the run's configuration.
func Build(r Run) *Report {
	s := r.Total
	if s == nil {
		s = &metrics.Snapshot{}
	}
	rep := &Report{
		SchemaVersion:   SchemaVersion,
		Version:         r.Meta.Version,
		Partial:         r.Interrupted,
		Run:             r.Meta,
		Duration:        int64(r.Duration),
		LatencySpectrum: spectrum(s.Hist(metrics.Latency)),
		Requests:        requests(s, r.Steps, askedH2(r.Meta)),
		Bytes:           Bytes{Sent: s.BytesSent, Received: s.BytesReceived, Body: s.BodyBytes},
		Latency:         dist(s, metrics.Latency),
		ServiceTime:     dist(s, metrics.ServiceTime),
		Lag:             dist(s, metrics.ScheduleLag),
		Phases:          phases(s),
		ExpectContinue:  expectContinue(s),
		Connections:     connections(s, r.OpenAtEnd, askedH2(r.Meta)),
		Status:          statusCodes(s),
		Errors:          errorClasses(s),
		Sockets:         socketsOf(r.Sockets),
		Checks:          checks(s),
		Steps:           steps(s, r.Steps),
		Thresholds:      r.Thresholds,
		Proxies:         proxies(r.Meta.Proxies, s.Proxies),
		Addresses:       addresses(s, r.Sockets),
		Timeline:        timelineOf(r.Timeline),
		Generator:       generator(r),
		Agents:          r.Agents,
		NotRun:          r.NotRun,
	}
	if rep.Thresholds == nil {
		rep.Thresholds = []threshold.Result{}
	}
	if r.Duration > 0 {
		rep.Throughput = float64(s.Requests) / r.Duration.Seconds()
	}
	in := diagnoseInput(r, s, rep.Generator)
	rep.Schedule = schedule(r, diagnose.RateShortfall(in))
	rep.Findings = diagnose.Analyze(in)
	return rep
}

// askedH2 reports whether the run asked for HTTP/2 (--http 2, or auto
// on an https target with an engine that speaks it).
func askedH2(m Meta) bool {
	if m.Pool.HTTP == transport.HTTP2 {
		return true
	}
	return m.Pool.HTTP == transport.HTTPAuto && m.H2Offered
}

// requests counts the requests by outcome, and the setup requests apart
// (steps names the snapshot's steps, to find the setup ones).
func requests(s *metrics.Snapshot, steps []engine.StepInfo, h2 bool) Requests {
	q := Requests{
		Total:      s.Requests,
		OK:         s.OK,
		HTTPErrors: s.HTTPErrors,
		Errors:     s.Errors,
		Retries:    s.Retries,
		Redirects:  s.Redirects,
		Truncated:  s.Truncated,

		Interrupted:    s.ErrCount[metrics.ErrCanceled],
		Setup:          s.Setup,
		SetupFailed:    s.SetupFailed,
		VUsStopped:     s.VUsStopped,
		CookiesDropped: s.CookiesDropped,
	}
	if h2 || usedH2(s) {
		q.Protocols = protocolCounts(&s.Protocols)
	}
	for i := range s.Steps {
		if i >= len(steps) || !steps[i].Setup {
			continue
		}
		st := &s.Steps[i]
		for code, n := range st.Status {
			if q.SetupStatus == nil {
				q.SetupStatus = map[string]int64{}
			}
			q.SetupStatus[strconv.Itoa(code)] += n
		}
		for c, n := range st.ErrCount {
			if n > 0 && c > 0 {
				if q.SetupErrors == nil {
					q.SetupErrors = map[string]int64{}
				}
				q.SetupErrors[metrics.ErrClass(c).String()] += n
			}
		}
	}
	return q
}

// dist is the distribution of one of the snapshot's metrics.
func dist(s *metrics.Snapshot, m metrics.Metric) Dist {
	return distOf(metrics.DistOf(s.Hist(m)))
}

// phases are the distributions of the phases that happened, by name.
func phases(s *metrics.Snapshot) map[string]Dist {
	out := map[string]Dist{}
	for m := metrics.Blocked; m <= metrics.StreamWait; m++ {
		if d := dist(s, m); d.Count > 0 {
			out[m.String()] = d
		}
	}
	return out
}

// expectContinue is how the waits for 100 Continue ended; nil when no
// request asked for one.
func expectContinue(s *metrics.Snapshot) *ExpectContinue {
	e := s.Expect
	if e[metrics.ExpectGot100]+e[metrics.ExpectTimeout]+e[metrics.ExpectFinal] == 0 {
		return nil
	}
	return &ExpectContinue{Got100: e[metrics.ExpectGot100], Timeout: e[metrics.ExpectTimeout],
		FinalFirst: e[metrics.ExpectFinal], Wait: dist(s, metrics.ContinueWait)}
}

// putIdleReasons are the reasons net/http's PutIdleConn hook names, in
// the order reports list them (their names are the JSON keys).
// keepalives_disabled and idle_timeout never reach the hook; they are
// counted where the connection closes.
var putIdleReasons = []metrics.CloseReason{metrics.CloseTooManyIdleForHost, metrics.CloseTooManyIdle, metrics.CloseKeepAlivesDisabled,
	metrics.CloseBroken, metrics.CloseClosedIdle, metrics.CloseIdleTimeout, metrics.CloseOther}

// connections is what the pool did; openAtEnd is the connections still
// open when the run's result was taken; h2 says the run asked for
// HTTP/2, whose accounts are then listed even if none was used.
func connections(s *metrics.Snapshot, openAtEnd int64, h2 bool) Connections {
	c := Connections{
		Dialed:          s.Dialed,
		Fresh:           s.ConnFresh,
		Reused:          s.ConnReused,
		Unused:          max(s.Dialed-s.ConnFresh, 0),
		Closed:          s.Closed,
		ClosedByServer:  s.CloseReasons[metrics.CloseServer],
		OpenAtEnd:       openAtEnd,
		MaxOpen:         s.MaxOpen,
		CloseReasons:    map[string]int64{},
		PutIdleErrors:   map[string]int64{},
		RequestsPerConn: dist(s, metrics.ConnRequests),
		IdleBeforeReuse: dist(s, metrics.IdleBeforeReuse),
		Lifetime:        dist(s, metrics.ConnLifetime),
		ServerIdleClose: dist(s, metrics.ServerIdleClose),
		CloseAnswers:    s.CloseAnswers,
		HTTP10:          s.HTTP10,
	}
	if used := c.Fresh + c.Reused; used > 0 {
		c.ReuseRate = float64(c.Reused) / float64(used)
	}
	h2 = h2 || usedH2(s)
	for i := range metrics.NumCloseReasons {
		r := metrics.CloseReason(i)
		if (r == metrics.CloseGoAway || r == metrics.CloseH2Error) && !h2 && s.CloseReasons[i] == 0 {
			continue // an HTTP/1.x run's report is what it was
		}
		c.CloseReasons[r.String()] = s.CloseReasons[i]
	}
	if h2 {
		c.Protocols = protocolCounts(&s.DialedProto)
		c.H2 = h2Connections(s)
		if c.H2 == nil {
			c.H2 = &H2Connections{RSTStreams: map[string]int64{}, GoAways: H2GoAways{Codes: map[string]int64{}}}
			c.H2.measured(&s.H2, s)
		}
	}
	for _, r := range putIdleReasons {
		switch r {
		case metrics.CloseKeepAlivesDisabled, metrics.CloseIdleTimeout:
			c.PutIdleErrors[r.String()] = s.CloseReasons[r]
		default:
			c.PutIdleErrors[r.String()] = s.PutIdleErrors[r]
		}
	}
	return c
}

// statusCodes counts the responses by status code, the codes seen only.
func statusCodes(s *metrics.Snapshot) map[string]int64 {
	out := map[string]int64{}
	for code, n := range s.Status {
		if n > 0 {
			out[strconv.Itoa(code)] = n
		}
	}
	return out
}

// errorClasses counts the failed requests by error class, with an example
// each, the classes seen only.
func errorClasses(s *metrics.Snapshot) map[string]ErrorClass {
	out := map[string]ErrorClass{}
	for i := 1; i < metrics.NumErrClasses; i++ {
		if n := s.ErrCount[i]; n > 0 {
			out[metrics.ErrClass(i).String()] = ErrorClass{Count: n, Example: s.ErrExample[i]}
		}
	}
	return out
}

// checks counts the checks; the rate is 1 when there were none.
func checks(s *metrics.Snapshot) Checks {
	c := Checks{Passed: s.ChecksPassed, Failed: s.ChecksFailed, Rate: 1}
	if n := s.ChecksPassed + s.ChecksFailed; n > 0 {
		c.Rate = float64(s.ChecksPassed) / float64(n)
	}
	return c
}

// steps are the per-step numbers, named by names index for index (a step
// without a name has none).
func steps(s *metrics.Snapshot, names []engine.StepInfo) []Step {
	out := []Step{}
	for i := range s.Steps {
		st := &s.Steps[i]
		var name engine.StepInfo
		if i < len(names) {
			name = names[i]
		}
		step := Step{
			Scenario: name.Scenario, Name: name.Name, Setup: name.Setup,
			Requests: st.Requests, OK: st.OK, HTTPErrors: st.HTTPErrors, Errors: st.Errors,
			Status: map[string]int64{}, ChecksPassed: st.ChecksPassed, ChecksFailed: st.ChecksFailed, CheckFailure: st.CheckFailure,
			Latency: distOf(metrics.DistOf(st.Latency())), PhasesMean: map[string]int64{},
		}
		for code, n := range st.Status {
			step.Status[strconv.Itoa(code)] = n
		}
		for p := range metrics.NumPhases {
			if n := st.PhaseCount[p]; n > 0 {
				step.PhasesMean[(metrics.Blocked + metrics.Metric(p)).String()] = int64(st.PhaseSum[p]) / n
			}
		}
		out = append(out, step)
	}
	return out
}

// proxies are the accounts of the proxies named by urls, index for index
// with the snapshot's; nil without proxies.
func proxies(urls []string, stats []metrics.ProxyStats) []ProxyReport {
	var out []ProxyReport
	for i, url := range urls {
		var ps metrics.ProxyStats
		if i < len(stats) {
			ps = stats[i]
		}
		pr := ProxyReport{URL: url, Requests: ps.Requests, Errors: ps.Errors, Dialed: ps.Dialed, Fresh: ps.Fresh, Reused: ps.Reused}
		if ps.Handshakes > 0 {
			pr.HandshakeMean = int64(ps.HandshakeSum) / ps.Handshakes
		}
		out = append(out, pr)
	}
	return out
}

// socketsOf are the socket readings as the report gives them.
func socketsOf(so diagnose.Sockets) Sockets {
	return Sockets{Watched: so.Watched, TimeWaitBefore: so.TimeWaitBefore, TimeWaitAfter: so.TimeWaitAfter,
		TimeWaitPeak: so.TimeWaitPeak, HostPeak: so.HostPeak, PortLo: so.PortLo, PortHi: so.PortHi}
}

// addresses are the accounts per source address (with the TIME_WAIT
// readings by address) and per destination address, when there are
// several destinations; nil when there is neither.
func addresses(s *metrics.Snapshot, so diagnose.Sockets) *Addresses {
	a := &Addresses{}
	tw := map[string]diagnose.SourceSockets{}
	for _, x := range so.Sources {
		tw[x.Addr.String()] = x
	}
	for _, x := range s.Sources {
		row := SourceAddr{Addr: x.Addr, Dialed: x.Dialed}
		if t, ok := tw[x.Addr]; ok && so.Watched {
			after, peak := t.TimeWaitAfter, max(t.TimeWaitPeak, t.TimeWaitAfter)
			row.TimeWait, row.TimeWaitPeak = &after, &peak
		}
		a.Sources = append(a.Sources, row)
	}
	if len(s.Dests) > 1 {
		for i := range s.Dests {
			x := &s.Dests[i]
			a.Destinations = append(a.Destinations, DestAddr{Addr: x.Addr, Dialed: x.Dialed, Requests: x.Requests, Errors: x.Errors,
				Latency: distOf(metrics.DistOf(x.Latency()))})
		}
	}
	if a.Sources == nil && a.Destinations == nil {
		return nil
	}
	return a
}

// timelineOf is the time series, one point per interval.
func timelineOf(points []metrics.Point) []Point {
	out := make([]Point, 0, len(points))
	for _, p := range points {
		out = append(out, Point{
			T: int64(p.T), Requests: p.Requests, Errors: p.Errors, Dialed: p.Dialed,
			RPS: p.RPS, P50: int64(p.P50), P99: int64(p.P99),
			Intended: p.Intended, Dropped: p.Dropped, LagP99: int64(p.LagP99),
			VUsBusy: p.VUsBusy, VUsAlloc: p.VUsAllocated,
			ConnsOpen: p.ConnsOpen, ConnsActive: p.ConnsActive, ConnsIdle: p.ConnsOpen - p.ConnsActive,
			TimeWait: p.TimeWait, IdleTimeoutCloses: p.IdleTimeoutCloses, ServerIdleCloses: p.ServerIdleCloses,
		})
	}
	return out
}

// generator is the CPU the generator used; nil where it is unknown.
func generator(r Run) *Generator {
	if r.CPU <= 0 || r.CPUs <= 0 || r.Duration <= 0 {
		return nil
	}
	return &Generator{CPU: int64(r.CPU), CPUs: r.CPUs,
		Busy:     r.CPU.Seconds() / (r.Duration.Seconds() * float64(r.CPUs)),
		RunDelay: int64(r.RunDelay)}
}

// DiagnoseConfig maps the run's description to what the findings need:
// the one place the run's configuration becomes diagnose's (where a limit
// of 0 is no limit).
func (m Meta) DiagnoseConfig() diagnose.Config {
	return diagnose.Config{
		Engine:              m.Engine,
		Concurrency:         m.VUs,
		Open:                m.Open,
		PerVUPools:          m.ConnScope == "vu",
		MaxConnsPerHost:     max(m.Pool.MaxConnsPerHost, 0),
		MaxIdleConnsPerHost: max(m.Pool.MaxIdleConnsPerHost, 0),
		MaxIdleConns:        max(m.Pool.MaxIdleConns, 0),
		IdleConnTimeout:     m.Pool.IdleConnTimeout,
		DisableKeepAlives:   m.Pool.DisableKeepAlives,
		MaxBody:             m.MaxBody,
		LateThreshold:       m.LateThreshold,
		HTTP:                string(m.Pool.HTTP),
		H2Offered:           m.H2Offered,
		H2MaxStreams:        max(m.Pool.H2MaxStreams, 0),
		H2StrictStreams:     m.Pool.H2StrictStreams,
		Proxied:             len(m.Proxies) > 0 || m.ProxyFromEnv,
		Stages:              m.loadStages(),
		StagesRate:          m.Executor == string(engine.RampingRate),
	}
}

// loadStages are the run's stages as diagnose reads them, from the stages
// Describe wrote (DURATION:FROM-TO,...); nil for a constant load, a plan
// of several scenarios (no one load over time) or stages that do not read
// back (a saved run from elsewhere).
func (m Meta) loadStages() []diagnose.Stage {
	if m.Stages == "" || len(m.Scenarios) > 1 || (m.Executor != string(engine.RampingVUs) && m.Executor != string(engine.RampingRate)) {
		return nil
	}
	var out []diagnose.Stage
	for _, part := range strings.Split(m.Stages, ",") {
		d, ends, ok := strings.Cut(part, ":")
		// The dash between the ends, not one of an exponent (%g: 1e-05).
		i := strings.IndexByte(ends, '-')
		for i > 0 && ends[i-1] == 'e' {
			j := strings.IndexByte(ends[i+1:], '-')
			if j < 0 {
				i = -1
				break
			}
			i += 1 + j
		}
		ok2 := i > 0
		from, to := ends, ends
		if ok2 {
			from, to = ends[:i], ends[i+1:]
		}
		dur, err := time.ParseDuration(d)
		f, err1 := strconv.ParseFloat(from, 64)
		t, err2 := strconv.ParseFloat(to, 64)
		if !ok || !ok2 || err != nil || err1 != nil || err2 != nil || dur <= 0 || f < 0 || t < 0 {
			return nil
		}
		out = append(out, diagnose.Stage{Duration: dur, From: f, To: t})
	}
	return out
}

// diagnoseInput is what diagnose reads of the run: its configuration,
// its numbers, and the generator's CPU (gen; nil where unknown).
func diagnoseInput(r Run, s *metrics.Snapshot, gen *Generator) diagnose.Input {
	in := diagnose.Input{
		Config:     r.Meta.DiagnoseConfig(),
		Total:      s,
		Timeline:   r.Timeline,
		Duration:   r.Duration,
		Scheduling: r.Scheduling,
		Sockets:    r.Sockets,
		Start:      r.Start,
	}
	for _, st := range r.Steps {
		in.StepSetup = append(in.StepSetup, st.Setup)
	}
	if gen != nil {
		in.GeneratorBusy, in.CPUs, in.RunDelay = gen.Busy, gen.CPUs, r.RunDelay
	}
	return in
}

// schedule is how the iterations were started, with what limited the
// rate (sf) when it fell short.
func schedule(r Run, sf diagnose.Shortfall) Schedule {
	s := r.Total
	if s == nil {
		s = &metrics.Snapshot{}
	}
	sc := Schedule{
		Intended:   s.Intended,
		Sent:       s.Sent,
		Dropped:    s.Dropped,
		Late:       s.Late,
		Scheduling: int64(r.Scheduling),
		VUsBusyMax: s.VUsBusyMax,
		VUsAlloc:   s.VUsAllocated,
		LimitedBy:  sf.LimitedBy,
		Reason:     sf.Reason,
	}
	if !r.Meta.Open {
		sc.Intended, sc.Sent = s.Iterations, s.Iterations
	}
	if r.Scheduling > 0 {
		sc.TargetRPS = float64(sc.Intended) / r.Scheduling.Seconds()
		sc.AchievedRPS = float64(sc.Sent) / r.Scheduling.Seconds()
	}
	if sf.Fix != "" {
		sc.Reason += "; fix: " + sf.Fix
	}
	return sc
}

// spectrum is h's values at [SpectrumPercentiles]; empty when h is.
func spectrum(h *hdrhistogram.Histogram) []SpectrumPoint {
	out := []SpectrumPoint{}
	if h == nil || h.TotalCount() == 0 {
		return out
	}
	for _, p := range SpectrumPercentiles {
		out = append(out, SpectrumPoint{Percentile: p, Value: metrics.Quantile(h, p/100)})
	}
	return out
}

func distOf(d metrics.Dist) Dist {
	return Dist{
		Count: d.Count, Min: int64(d.Min), Mean: int64(d.Mean), Max: int64(d.Max),
		P50: int64(d.P50), P90: int64(d.P90), P95: int64(d.P95), P99: int64(d.P99), P999: int64(d.P999),
	}
}
