package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/faya-load/faya/metrics"
)

// JSON writes r as an indented JSON document.
func JSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Text writes r for people: a summary, latency, phases, connections,
// status codes and errors.
func Text(w io.Writer, r *Report) error {
	tw := &textWriter{w: w}
	tw.header(r)
	tw.summary(r)
	tw.schedule(r)
	tw.latency(r)
	tw.phases(r)
	tw.connections(r)
	tw.h2(r)
	tw.proxies(r)
	tw.addresses(r)
	tw.agents(r)
	tw.status(r)
	tw.errors(r)
	tw.steps(r)
	tw.thresholds(r)
	tw.findings(r)
	return tw.err
}

type textWriter struct {
	w   io.Writer
	err error
}

func (t *textWriter) printf(format string, a ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, a...)
	}
}

func (t *textWriter) table(write func(w io.Writer)) {
	if t.err != nil {
		return
	}
	tab := tabwriter.NewWriter(t.w, 0, 0, 2, ' ', tabwriter.AlignRight)
	write(tab)
	t.err = tab.Flush()
}

func (t *textWriter) header(r *Report) {
	m := r.Run
	if m.manyScenarios() {
		t.printf("faya %s: %s\n", m.Version, m.target())
		for _, sc := range m.Scenarios {
			t.printf("  %s: %s; %s\n", sc.Name, scenarioModel(sc), plural(sc.Steps, "step"))
		}
		t.printf("  %s engine%s, %s\n", m.Engine, pipelineText(m.Pipeline), scopeNames[m.ConnScope])
	} else {
		t.printf("faya %s: %s\n", m.Version, m.target())
		t.printf("  %s, %s engine%s, %s\n", modelText(m), m.Engine, pipelineText(m.Pipeline), scopeNames[m.ConnScope])
	}
	t.proxyLine(m)
	if m.Segment != "" {
		t.printf("  segment %s of the plan: the numbers are this segment's (faya merge joins the segments)\n", m.Segment)
	}
	if r.Partial {
		t.printf("  %s\n", partialText(r))
	}
	t.printf("\n")
}

// manyScenarios says the header lists the scenarios: a scenario file's
// run, or a plan of several.
func (m Meta) manyScenarios() bool { return m.File != "" || len(m.Scenarios) > 1 }

// target names what the run sent requests to: the scenario file, the
// scenarios, or the first scenario's request (its name when it has none
// to show: a scenario in Go).
func (m Meta) target() string {
	switch {
	case m.File != "":
		return "scenario file " + m.File
	case len(m.Scenarios) > 1:
		return plural(len(m.Scenarios), "scenario")
	case m.URL == "" && len(m.Scenarios) == 1:
		return "scenario " + m.Scenarios[0].Name
	}
	return strings.TrimSpace(m.Method + " " + m.URL)
}

// modelText describes a single URL's run model.
func modelText(m Meta) string {
	switch m.Executor {
	case "rate":
		return fmt.Sprintf("open model: %s/s for %v, %s pre-allocated, at most %d", m.Rate, m.Duration, plural(m.PreVUs, "VU"), m.MaxVUs)
	case "ramping-rate":
		return fmt.Sprintf("open model, ramping rate %s (per second), %s pre-allocated, at most %d", m.Stages, plural(m.PreVUs, "VU"), m.MaxVUs)
	case "ramping-vus":
		return fmt.Sprintf("closed model, ramping VUs %s, at most %d", m.Stages, m.VUs)
	}
	return fmt.Sprintf("closed model: %s, %s", plural(m.VUs, "VU"), bound(m.Requests, "request", m.Duration))
}

// bound says what ends a closed-model run: n of what, a duration, either.
func bound(n int64, what string, d time.Duration) string {
	switch {
	case n > 0 && d > 0:
		return fmt.Sprintf("%s or %v", plural(n, what), d)
	case n > 0:
		return plural(n, what)
	case d > 0:
		return d.String()
	}
	return "until stopped"
}

func (t *textWriter) summary(r *Report) {
	q := r.Requests
	t.printf("Summary\n")
	t.printf("  requests    %d  (ok %d, http errors %d, errors %d)\n", q.Total, q.OK, q.HTTPErrors, q.Errors)
	if q.Retries > 0 || q.Redirects > 0 || q.Truncated > 0 {
		t.printf("              retries %d, redirects %d, bodies cut at the cap %d\n", q.Retries, q.Redirects, q.Truncated)
	}
	if q.Setup > 0 {
		t.printf("              setup requests %d (the VUs' logins: in the step table, not in these counts)", q.Setup)
		if q.SetupFailed > 0 {
			t.printf(", FAILED %d:%s", q.SetupFailed, setupBreakdown(q))
		}
		t.printf("\n")
	}
	if q.CookiesDropped > 0 {
		t.printf("              cookies dropped %d (over a browser's limits: 50 per domain, 3,000 per VU, 4,096 bytes each)\n", q.CookiesDropped)
	}
	if q.VUsStopped > 0 {
		t.printf("              VUs stopped %d (a step failed with on_failure: stop-vu)\n", q.VUsStopped)
	}
	if q.Total > 0 {
		t.printf("  success     %.2f%%  (ok: a response with a status below 400)\n", 100*float64(q.OK)/float64(q.Total))
	}
	if c := r.Checks; c.Passed+c.Failed > 0 {
		t.printf("  checks      %.2f%% passed (%d passed, %d failed)\n", 100*c.Rate, c.Passed, c.Failed)
	}
	if q.Interrupted > 0 {
		t.printf("              interrupted %d (canceled when --graceful-stop ran out)\n", q.Interrupted)
	}
	t.printf("  duration    %s\n", Duration(r.Duration))
	t.printf("  throughput  %.1f req/s\n", r.Throughput)
	if g := r.Generator; g != nil {
		t.printf("  generator   CPU %s on %s: %.0f%% busy\n", Duration(g.CPU), plural(g.CPUs, "CPU"), 100*g.Busy)
	}
	t.printf("  bytes       sent %s, received %s (bodies %s)\n", ByteSize(r.Bytes.Sent), ByteSize(r.Bytes.Received), ByteSize(r.Bytes.Body))
	t.printf("\n")
}

// setupBreakdown lists the setup requests by status and error class:
// " status 401 10, 200 40; errors refused 2".
func setupBreakdown(q Requests) string {
	var b strings.Builder
	if len(q.SetupStatus) > 0 {
		b.WriteString(" status")
		for i, k := range sortedKeys(q.SetupStatus) {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " %s %d", k, q.SetupStatus[k])
		}
	}
	if len(q.SetupErrors) > 0 {
		if b.Len() > 0 {
			b.WriteString(";")
		}
		b.WriteString(" errors")
		for i, k := range sortedKeys(q.SetupErrors) {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " %s %d", k, q.SetupErrors[k])
		}
	}
	return b.String()
}

// scenarioModel describes a scenario's executor in a line.
func scenarioModel(sc ScenarioMeta) string {
	setup := ""
	if sc.SetupSteps > 0 {
		setup = fmt.Sprintf(", %s of setup per VU", plural(sc.SetupSteps, "step"))
	}
	switch sc.Executor {
	case "rate":
		rate := sc.Rate
		if !strings.Contains(rate, "/") {
			rate += "/s"
		}
		return fmt.Sprintf("open model, %s for %v, at most %s%s", rate, sc.Duration, plural(sc.MaxVUs, "VU"), setup)
	case "ramping-rate":
		return fmt.Sprintf("open model, ramping rate %s (per second), at most %s%s", sc.Stages, plural(sc.MaxVUs, "VU"), setup)
	case "ramping-vus":
		return fmt.Sprintf("closed model, ramping VUs %s%s", sc.Stages, setup)
	}
	return fmt.Sprintf("closed model, %s, %s%s", plural(sc.VUs, "VU"), bound(sc.Iterations, "iteration", sc.Duration), setup)
}

// plural writes n and what, made plural unless n is 1: "1 VU", "2 VUs".
func plural[N int | int64](n N, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

var scopeNames = map[string]string{"shared": "one shared pool", "vu": "one pool per VU"}

var distCols = "min\tp50\tp90\tp95\tp99\tp99.9\tmax\tmean\t"

func distRow(d Dist) string {
	return strings.Join([]string{
		Duration(d.Min), Duration(d.P50), Duration(d.P90), Duration(d.P95), Duration(d.P99),
		Duration(d.P999), Duration(d.Max), Duration(d.Mean),
	}, "\t") + "\t"
}

func (t *textWriter) schedule(r *Report) {
	if !r.Run.Open {
		return
	}
	s := r.Schedule
	t.printf("Schedule\n")
	t.printf("  iterations  intended %d, sent %d, dropped %d (no free VU), late %d (started over %s after their intended start)\n",
		s.Intended, s.Sent, s.Dropped, s.Late, Duration(int64(r.Run.LateThreshold)))
	pct := 0.0
	if s.TargetRPS > 0 {
		pct = 100 * s.AchievedRPS / s.TargetRPS
	}
	t.printf("  rate        target %.1f/s, achieved %.1f/s (%.2f%%)\n", s.TargetRPS, s.AchievedRPS, pct)
	if l := r.Lag; l.Count > 0 {
		t.printf("  lag         p50 %s, p99 %s, p99.9 %s, max %s (actual start - intended start)\n",
			Duration(l.P50), Duration(l.P99), Duration(l.P999), Duration(l.Max))
	}
	t.printf("  VUs         busy at most %d, allocated %d of %d\n", s.VUsBusyMax, s.VUsAlloc, r.Run.MaxVUs)
	if s.LimitedBy != "" {
		t.printf("  SHORTFALL (%s): %s\n", s.LimitedBy, s.Reason)
	}
	t.printf("\n")
}

func (t *textWriter) latency(r *Report) {
	if r.Run.Open {
		t.printf("Latency (from the intended start: includes any wait on the generator's side)\n")
	} else {
		t.printf("Latency\n")
	}
	if r.Latency.Count == 0 {
		t.printf("  no requests completed\n\n")
		return
	}
	t.table(func(w io.Writer) {
		fmt.Fprintf(w, "  \t%s\n", distCols)
		fmt.Fprintf(w, "  %-12s\t%s\n", "latency", distRow(r.Latency))
		fmt.Fprintf(w, "  %-12s\t%s\n", "service time", distRow(r.ServiceTime))
	})
	t.printf("  (service time: from having a connection to the end of the body, without waiting for the pool or the schedule)\n")
	t.printf("\n")
}

func (t *textWriter) phases(r *Report) {
	if len(r.Phases) == 0 {
		return
	}
	t.printf("Phases (a phase that did not happen is not counted)\n")
	t.table(func(w io.Writer) {
		fmt.Fprintf(w, "  \t%scount\t\n", distCols)
		for ph := range metrics.NumPhases {
			name := metrics.Phase(ph).String()
			d, ok := r.Phases[name]
			if !ok {
				continue
			}
			fmt.Fprintf(w, "  %-12s\t%s%d\t\n", name, distRow(d), d.Count)
		}
		if e := r.ExpectContinue; e != nil {
			fmt.Fprintf(w, "  %-12s\t%s%d\t\n", "100-continue", distRow(e.Wait), e.Wait.Count)
		}
	})
	if e := r.ExpectContinue; e != nil {
		t.printf("  100-continue: the wait, head written, for the server's 100 Continue (got it %d, none within the timeout %d, a final answer first %d)\n",
			e.Got100, e.Timeout, e.FinalFirst)
	}
	t.printf("\n")
}

func (t *textWriter) connections(r *Report) {
	c := r.Connections
	t.printf("Connections\n")
	t.printf("  dialed      %d  (first used by a request %d, never used %d)\n", c.Dialed, c.Fresh, c.Unused)
	t.printf("  reused      %d  (reuse ratio %.2f%%)\n", c.Reused, 100*c.ReuseRate)
	if d := c.RequestsPerConn; d.Count > 0 {
		t.printf("  requests per connection  p50 %d, p99 %d, max %d, mean %d\n", d.P50, d.P99, d.Max, d.Mean)
	}
	if d := c.IdleBeforeReuse; d.Count > 0 {
		t.printf("  idle before reuse        p50 %s, p99 %s, max %s\n", Duration(d.P50), Duration(d.P99), Duration(d.Max))
	}
	if d := c.Lifetime; d.Count > 0 {
		t.printf("  connection lifetime      p50 %s, p99 %s, max %s\n", Duration(d.P50), Duration(d.P99), Duration(d.Max))
	}
	if d := c.ServerIdleClose; d.Count > 0 {
		t.printf("  closed idle by server    %d, after idle p50 %s, min %s\n", d.Count, Duration(d.P50), Duration(d.Min))
	}
	if c.CloseAnswers > 0 || c.HTTP10 > 0 {
		t.printf("  answers asking to close  %d (HTTP/1.0 answers %d)\n", c.CloseAnswers, c.HTTP10)
	}
	t.printf("  closed      %d  (by the server %d", c.Closed, c.ClosedByServer)
	for _, k := range sortedKeys(c.CloseReasons) {
		if k == "server" || c.CloseReasons[k] == 0 {
			continue
		}
		t.printf(", %s %d", strings.ReplaceAll(k, "_", " "), c.CloseReasons[k])
	}
	t.printf(")\n")
	t.printf("  max open    %d", c.MaxOpen)
	if c.OpenAtEnd > 0 {
		t.printf(", still open at the end %d", c.OpenAtEnd)
	}
	t.printf("\n")
	var fails []string
	for _, r := range putIdleReasons {
		if k, n := r.String(), c.PutIdleErrors[r.String()]; n > 0 {
			fails = append(fails, fmt.Sprintf("%s %d", k, n))
		}
	}
	if len(fails) == 0 {
		t.printf("  not returned to the idle pool: none\n")
	} else {
		t.printf("  not returned to the idle pool: %s\n", strings.Join(fails, ", "))
	}
	if so := r.Sockets; so.Watched {
		t.printf("  TIME_WAIT to the target     %d before, %d after, at most %d during (ephemeral ports %d-%d)\n",
			so.TimeWaitBefore, so.TimeWaitAfter, so.TimeWaitPeak, so.PortLo, so.PortHi)
	}
	t.printf("\n")
}

// h2 prints the protocols and the HTTP/2 accounts; nothing for a run that
// neither used nor asked for HTTP/2.
func (t *textWriter) h2(r *Report) {
	h := r.Connections.H2
	if h == nil {
		return
	}
	q, c := r.Requests.Protocols, r.Connections.Protocols
	t.printf("HTTP/2\n")
	t.printf("  protocols   requests h1 %d, h2 %d; connections h1 %d, h2 %d\n", q["h1"], q["h2"], c["h1"], c["h2"])
	if d := h.StreamsPerConn; d.Count > 0 {
		t.printf("  streams per connection   p50 %d, p99 %d, max %d (%d connections closed)\n", d.P50, d.P99, d.Max, h.Connections)
	}
	t.printf("  peak concurrent streams  %d", h.PeakStreams)
	if n := h.maxStreamsNote(); n != "" {
		t.printf("; %s", n)
	}
	t.printf("\n")
	if g := h.GoAways; g.Count > 0 {
		t.printf("  GOAWAY received          %d (%s), last-stream-id p50 %d, max %d\n", g.Count, codeList(g.Codes), g.LastStreamID.P50, g.LastStreamID.Max)
	}
	if len(h.RSTStreams) > 0 || h.RefusedRetried == nil {
		t.printf("  RST_STREAM received      %s (REFUSED_STREAM retried %s)\n", codeList(h.RSTStreams), count(h.RefusedRetried))
	}
	dur := func(ns int64) string { return Duration(ns) }
	if n := h.pingNote(dur, ","); n != "" {
		t.printf("  PING round trips         %s\n", n)
	}
	if n := h.stallNote(dur, ","); n != "" {
		t.printf("  flow-control stalls      %s\n", n)
	}
	if v, ok := readLoopRow(h); ok {
		t.printf("  read loop busy           %s\n", strings.ReplaceAll(v, " · ", ", "))
	}
	t.printf("\n")
}

// codeList is "CODE n, CODE n", by name.
func codeList(m map[string]int64) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func (t *textWriter) findings(r *Report) {
	t.printf("Findings\n")
	if len(r.Findings) == 0 {
		t.printf("  none\n")
		return
	}
	for _, f := range r.Findings {
		t.printf("  [%s] %s\n", f.Severity, printable(f.Title))
		if f.Evidence != "" {
			t.printf("      evidence: %s\n", printable(f.Evidence))
		}
		if f.Fix != "" {
			t.printf("      fix: %s\n", printable(f.Fix))
		}
	}
}

func (t *textWriter) status(r *Report) {
	if len(r.Status) == 0 {
		return
	}
	t.printf("Status codes\n")
	codes := sortedKeys(r.Status)
	sort.Slice(codes, func(i, j int) bool {
		a, _ := strconv.Atoi(codes[i])
		b, _ := strconv.Atoi(codes[j])
		return a < b
	})
	for _, c := range codes {
		label := c
		if c == "0" {
			label = "other"
		}
		t.printf("  %-5s %d\n", label, r.Status[c])
	}
	t.printf("\n")
}

func (t *textWriter) errors(r *Report) {
	if len(r.Errors) == 0 {
		return
	}
	t.printf("Errors\n")
	for _, k := range sortedKeys(r.Errors) {
		e := r.Errors[k]
		t.printf("  %-9s %d  e.g. %s\n", k, e.Count, printable(e.Example))
	}
	t.printf("\n")
}

func (t *textWriter) steps(r *Report) {
	if len(r.Steps) == 0 {
		return
	}
	scenarios := map[string]bool{}
	for _, s := range r.Steps {
		scenarios[s.Scenario] = true
	}
	t.printf("Steps\n")
	t.table(func(w io.Writer) {
		fmt.Fprintf(w, "  %-24s\trequests\terrors\tchecks failed\tp50\tp99\tmax\tmean wait\t\n", "step")
		for _, s := range r.Steps {
			name := stepLabel(s, len(scenarios) > 1)
			fmt.Fprintf(w, "  %-24s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t\n", name, s.Requests, s.Errors+s.HTTPErrors, s.ChecksFailed,
				Duration(s.Latency.P50), Duration(s.Latency.P99), Duration(s.Latency.Max), Duration(s.PhasesMean["wait"]))
		}
	})
	for _, s := range r.Steps {
		if s.CheckFailure != "" {
			t.printf("  %s: %s failed, the first: %s\n", stepLabel(s, len(scenarios) > 1), plural(s.ChecksFailed, "check"), printable(s.CheckFailure))
		}
	}
	t.printf("\n")
}

// proxyFromEnv notes, for a run whose proxies come from the environment,
// where they come from and what goes direct.
func proxyFromEnv(m Meta) string {
	if !m.ProxyFromEnv {
		return ""
	}
	return " (from HTTP_PROXY/HTTPS_PROXY; NO_PROXY and loopback targets go direct)"
}

// proxyLine says which proxies carried the traffic.
func (t *textWriter) proxyLine(m Meta) {
	from := proxyFromEnv(m)
	switch len(m.Proxies) {
	case 0:
		if m.ProxyFromEnv {
			t.printf("  no proxy: HTTP_PROXY and HTTPS_PROXY are not set\n")
		}
	case 1:
		t.printf("  through proxy %s%s\n", m.Proxies[0], from)
	default:
		t.printf("  through %d proxies, %s%s\n", len(m.Proxies), m.ProxyMode, from)
	}
}

// proxies prints the accounts per proxy.
func (t *textWriter) proxies(r *Report) {
	if len(r.Proxies) == 0 {
		return
	}
	t.printf("Proxies\n")
	width := len("proxy")
	for _, p := range r.Proxies {
		width = max(width, len(p.URL))
	}
	t.table(func(w io.Writer) {
		fmt.Fprintf(w, "  %-*s\trequests\terrors\tdialed\treused\thandshake mean\t\n", width, "proxy")
		for _, p := range r.Proxies {
			hs := "-"
			if p.HandshakeMean > 0 {
				hs = Duration(p.HandshakeMean)
			}
			fmt.Fprintf(w, "  %-*s\t%d\t%d\t%d\t%d\t%s\t\n", width, p.URL, p.Requests, p.Errors, p.Dialed, p.Reused, hs)
		}
	})
	t.printf("  (handshake: TLS to an https:// proxy, the CONNECT round trip or the SOCKS5 negotiation, per connection)\n\n")
}

// addresses prints the accounts per source and per destination address.
func (t *textWriter) addresses(r *Report) {
	a := r.Addresses
	if a == nil {
		return
	}
	if len(a.Sources) > 0 {
		t.printf("Source addresses (--local-addr)\n")
		width := len("address")
		for _, s := range a.Sources {
			width = max(width, len(s.Addr))
		}
		watched := a.Sources[0].TimeWait != nil
		t.table(func(w io.Writer) {
			if watched {
				fmt.Fprintf(w, "  %-*s\tdialed\tTIME_WAIT\tpeak\t\n", width, "address")
			} else {
				fmt.Fprintf(w, "  %-*s\tdialed\t\n", width, "address")
			}
			for _, s := range a.Sources {
				if watched && s.TimeWait != nil {
					fmt.Fprintf(w, "  %-*s\t%d\t%d\t%d\t\n", width, s.Addr, s.Dialed, *s.TimeWait, *s.TimeWaitPeak)
				} else {
					fmt.Fprintf(w, "  %-*s\t%d\t\n", width, s.Addr, s.Dialed)
				}
			}
		})
		if watched {
			t.printf("  (TIME_WAIT: sockets to the target after the run, peak: the most during it; each address has its own %d ephemeral ports)\n", r.Sockets.PortHi-r.Sockets.PortLo+1)
		}
		t.printf("\n")
	}
	if len(a.Destinations) > 0 {
		t.printf("Destination addresses\n")
		width := len("address")
		for _, d := range a.Destinations {
			width = max(width, len(d.Addr))
		}
		t.table(func(w io.Writer) {
			fmt.Fprintf(w, "  %-*s\tdialed\trequests\terrors\tp50\tp99\tmax\t\n", width, "address")
			for _, d := range a.Destinations {
				p50, p99, mx := "-", "-", "-"
				if d.Latency.Count > 0 {
					p50, p99, mx = Duration(d.Latency.P50), Duration(d.Latency.P99), Duration(d.Latency.Max)
				}
				fmt.Fprintf(w, "  %-*s\t%d\t%d\t%d\t%s\t%s\t%s\t\n", width, d.Addr, d.Dialed, d.Requests, d.Errors, p50, p99, mx)
			}
		})
		t.printf("  (the addresses connected to; latency at 2 significant digits; past 32 addresses the rest count as other)\n\n")
	}
}

// stepLabel names a step in the text report: "(setup) login", with its
// scenario when the run had several.
func stepLabel(s Step, withScenario bool) string {
	name := s.Name
	if withScenario {
		name = s.Scenario + ": " + name
	}
	if s.Setup {
		name = "(setup) " + name
	}
	return name
}

func (t *textWriter) thresholds(r *Report) {
	if len(r.Thresholds) == 0 {
		return
	}
	t.printf("Thresholds\n")
	for _, th := range r.Thresholds {
		mark := "PASS"
		if !th.Pass {
			mark = "FAIL"
		}
		scope := ""
		if th.Step != "" {
			scope = " (step " + th.Step + ")"
		}
		if th.Err != "" {
			t.printf("  %s  %s%s: %s\n", mark, th.Threshold, scope, printable(th.Err))
			continue
		}
		t.printf("  %s  %s%s: %s\n", mark, th.Threshold, scope, th.Display)
	}
	t.printf("\n")
}

// printable escapes what a terminal would obey in text a server or a
// proxy may have chosen (examples, check failures, findings quoting them):
// the text report goes to terminals, as the JSON and HTML reports escape
// for their readers.
func printable(s string) string { return metrics.Printable(s) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Duration formats ns with three significant digits in a fitting unit.
func Duration(ns int64) string {
	if ns < 1000 {
		return fmt.Sprintf("%dns", ns)
	}
	v := float64(ns) / 1e3
	for _, unit := range []string{"µs", "ms"} {
		if v < 999.5 { // would not print as 1000 of this unit
			return sig3(v) + unit
		}
		v /= 1e3
	}
	return sig3(v) + "s"
}

func sig3(v float64) string {
	switch {
	case v >= 99.95:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 9.995:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// ByteSize formats n in B, kB, MB or GB (powers of 1000).
func ByteSize(n int64) string {
	f := float64(n)
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1e6:
		return sig3(f/1e3) + " kB"
	case n < 1e9:
		return sig3(f/1e6) + " MB"
	default:
		return sig3(f/1e9) + " GB"
	}
}

// pipelineText describes HTTP/1.1 pipelining for the header, if on.
func pipelineText(n int) string {
	if n <= 1 {
		return ""
	}
	return fmt.Sprintf(" pipelining %s per connection", plural(n, "request"))
}
