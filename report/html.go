package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/metrics"
)

// HTML writes r as one self-contained HTML page: the run's configuration,
// the summary, the findings and thresholds, charts drawn as inline SVG
// (requests and errors per second, latency over time, the latency
// spectrum, the phases, new and open connections, status codes) and the
// tables of the text report. The page loads nothing (no script, font or
// style sheet from elsewhere), so it can be mailed or archived as it is,
// and it holds no time of its own, so the same report gives the same page.
func HTML(w io.Writer, r *Report) error {
	var buf bytes.Buffer
	if err := htmlTemplate.Execute(&buf, newHTMLPage(r)); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// htmlPage is what the template shows, formatted.
type htmlPage struct {
	Title     string
	Version   string
	Schema    int
	Partial   bool
	Target    string // "GET http://host/path", or the scenario file
	File      bool
	Scenarios []scenarioRow
	Config    []kv
	Cards     []card

	Thresholds []thresholdRow
	Findings   []diagnose.Finding

	TimeCharts    []*chart
	LatencyCharts []*chart
	LatencyRows   []distTableRow
	PhaseRows     []distTableRow
	Schedule      []kv
	Shortfall     string
	ConnCharts    []*chart
	Conn          []kv
	Status        *chart
	Errors        []errorRow
	Steps         []stepRow
	StepScenarios bool // the steps are of several scenarios: name them
	Proxies       []proxyRow
	Agents        []Agent
	PartialText   string
}

type kv struct {
	K, V string
}

type card struct {
	Label, Value, Note, Class string
}

type scenarioRow struct {
	Name, Model, Steps string
}

type thresholdRow struct {
	Pass                    bool
	Threshold, Step, Result string
}

type distTableRow struct {
	Name  string
	Cells []string
}

type errorRow struct {
	Class, Count, Example string
}

type stepRow struct {
	Name, Scenario                    string
	Setup                             bool
	Requests, OK, HTTPErrors, Errors  int64
	ChecksPassed, ChecksFailed        int64
	P50, P99, Max, Wait, CheckFailure string
}

type proxyRow struct {
	URL                                    string
	Requests, Errors, Dialed, Fresh, Reuse int64
	Handshake                              string
}

func newHTMLPage(r *Report) *htmlPage {
	m := r.Run
	p := &htmlPage{Version: r.Version, Schema: r.SchemaVersion, Partial: r.Partial, Agents: r.Agents, PartialText: partialText(r)}
	if m.File != "" {
		p.File = true
		p.Target = m.File
		for _, sc := range m.Scenarios {
			p.Scenarios = append(p.Scenarios, scenarioRow{Name: sc.Name, Model: scenarioModel(sc), Steps: stepsText(sc)})
		}
	} else {
		p.Target = strings.TrimSpace(m.Method + " " + m.URL)
		p.Config = append(p.Config, kv{"model", modelText(m)})
	}
	p.Title = "faya report: " + p.Target
	p.Config = append(p.Config, configRows(m)...)
	p.Cards = cards(r)
	for _, th := range r.Thresholds {
		res := th.Display
		if th.Err != "" {
			res = th.Err
		}
		p.Thresholds = append(p.Thresholds, thresholdRow{Pass: th.Pass, Threshold: th.Threshold, Step: th.Step, Result: res})
	}
	p.Findings = r.Findings

	if len(r.Timeline) > 0 {
		p.TimeCharts = append(p.TimeCharts, throughputChart(r), latencyChart(r))
		p.ConnCharts = append(p.ConnCharts, dialChart(r), openChart(r))
	}
	if len(r.LatencySpectrum) > 0 {
		p.LatencyCharts = append(p.LatencyCharts, spectrumChart(r))
	}
	if c := phasesChart(r); c != nil {
		p.LatencyCharts = append(p.LatencyCharts, c)
	}
	if r.Latency.Count > 0 {
		p.LatencyRows = append(p.LatencyRows, distTable("latency", r.Latency, false), distTable("service time", r.ServiceTime, false))
		if r.Lag.Count > 0 {
			p.LatencyRows = append(p.LatencyRows, distTable("schedule lag", r.Lag, false))
		}
	}
	for ph := range metrics.NumPhases {
		name := metrics.Phase(ph).String()
		if d, ok := r.Phases[name]; ok {
			p.PhaseRows = append(p.PhaseRows, distTable(name, d, true))
		}
	}
	if m.Open {
		p.Schedule, p.Shortfall = scheduleRows(r)
	}
	p.Conn = connRows(r)
	p.Status = statusChart(r)
	for _, k := range sortedKeys(r.Errors) {
		e := r.Errors[k]
		p.Errors = append(p.Errors, errorRow{Class: k, Count: strconv.FormatInt(e.Count, 10), Example: e.Example})
	}
	scenarios := map[string]bool{}
	for _, s := range r.Steps {
		scenarios[s.Scenario] = true
	}
	p.StepScenarios = len(scenarios) > 1
	for _, s := range r.Steps {
		row := stepRow{
			Name: s.Name, Setup: s.Setup,
			Requests: s.Requests, OK: s.OK, HTTPErrors: s.HTTPErrors, Errors: s.Errors,
			ChecksPassed: s.ChecksPassed, ChecksFailed: s.ChecksFailed,
			P50: Duration(s.Latency.P50), P99: Duration(s.Latency.P99), Max: Duration(s.Latency.Max),
			Wait: Duration(s.PhasesMean["wait"]), CheckFailure: s.CheckFailure,
		}
		row.Scenario = s.Scenario
		if s.Latency.Count == 0 {
			row.P50, row.P99, row.Max = "-", "-", "-"
		}
		if _, ok := s.PhasesMean["wait"]; !ok {
			row.Wait = "-"
		}
		p.Steps = append(p.Steps, row)
	}
	for _, pr := range r.Proxies {
		hs := "-"
		if pr.HandshakeMean > 0 {
			hs = Duration(pr.HandshakeMean)
		}
		p.Proxies = append(p.Proxies, proxyRow{URL: pr.URL, Requests: pr.Requests, Errors: pr.Errors, Dialed: pr.Dialed,
			Fresh: pr.Fresh, Reuse: pr.Reused, Handshake: hs})
	}
	return p
}

var phaseColors = map[string]string{
	"blocked": "#9ca3af", "dns": "#a855f7", "connect": "#f97316", "proxy": "#eab308",
	"tls": "#14b8a6", "send": "#93c5fd", "wait": "#2563eb", "receive": "#22c55e",
}

const (
	colorBlue   = "#2563eb"
	colorRed    = "#dc2626"
	colorAmber  = "#d97706"
	colorPurple = "#7c3aed"
	colorTeal   = "#0f766e"
	colorGray   = "#9ca3af"
	colorPink   = "#db2777"
)

func stepsText(sc ScenarioMeta) string {
	s := plural(sc.Steps, "step")
	if sc.SetupSteps > 0 {
		s += " + " + plural(sc.SetupSteps, "setup step")
	}
	return s
}

// limit formats a pool limit (0: none).
func limit(n int) string {
	if n == 0 {
		return "no limit"
	}
	return strconv.Itoa(n)
}

func timeout(d time.Duration) string {
	if d == 0 {
		return "none"
	}
	return d.String()
}

func configRows(m Meta) []kv {
	var out []kv
	engine := m.Engine
	if s, ok := scopeNames[m.ConnScope]; ok {
		engine += ", " + s
	} else if m.ConnScope != "" {
		engine += ", pool scope " + m.ConnScope
	}
	out = append(out, kv{"engine", engine})
	pool := fmt.Sprintf("max conns per host %s · max idle per host %s · max idle %s · idle timeout %s",
		limit(m.Pool.MaxConnsPerHost), limit(m.Pool.MaxIdleConnsPerHost), limit(m.Pool.MaxIdleConns), timeout(m.Pool.IdleConnTimeout))
	if m.Pool.DisableKeepAlives {
		pool += " · keep-alives disabled"
	}
	out = append(out, kv{"pool", pool})
	out = append(out, kv{"timeouts", fmt.Sprintf("request %s · dial %s · TLS handshake %s · response header %s",
		timeout(m.Timeout), timeout(m.Pool.DialTimeout), timeout(m.Pool.TLSHandshakeTimeout), timeout(m.Pool.ResponseHeaderTimeout))})
	body := "no cap"
	if m.MaxBody > 0 {
		body = ByteSize(m.MaxBody)
	}
	out = append(out, kv{"body cap", body})
	if m.Open {
		out = append(out, kv{"schedule", fmt.Sprintf("late after %s · graceful stop %s", timeout(m.LateThreshold), timeout(m.GracefulStop))})
	}
	if m.Pool.Insecure {
		out = append(out, kv{"TLS", "certificates not verified (--insecure)"})
	}
	from := proxyFromEnv(m)
	switch len(m.Proxies) {
	case 0:
		if m.ProxyFromEnv {
			out = append(out, kv{"proxy", "none: HTTP_PROXY and HTTPS_PROXY are not set"})
		}
	case 1:
		out = append(out, kv{"proxy", m.Proxies[0] + from})
	default:
		out = append(out, kv{"proxies", fmt.Sprintf("%s, %s%s", strings.Join(m.Proxies, ", "), m.ProxyMode, from)})
	}
	return out
}

func pct(n, of int64) string {
	if of == 0 {
		return "0%"
	}
	return strconv.FormatFloat(100*float64(n)/float64(of), 'f', 2, 64) + "%"
}

func cards(r *Report) []card {
	q := r.Requests
	out := []card{{
		Label: "requests", Value: strconv.FormatInt(q.Total, 10),
		Note: fmt.Sprintf("ok %d · http errors %d · errors %d", q.OK, q.HTTPErrors, q.Errors),
	}}
	bad := q.HTTPErrors + q.Errors
	c := card{Label: "failed", Value: pct(bad, q.Total), Note: fmt.Sprintf("%d of %s", bad, plural(q.Total, "request")), Class: "good"}
	if bad > 0 {
		c.Class = "bad"
	}
	out = append(out, c,
		card{Label: "throughput", Value: strconv.FormatFloat(r.Throughput, 'f', 1, 64) + "/s", Note: "over " + Duration(r.Duration)})
	if r.Run.Open {
		s := r.Schedule
		c := card{Label: "rate achieved", Value: strconv.FormatFloat(s.AchievedRPS, 'f', 1, 64) + "/s",
			Note: fmt.Sprintf("target %.1f/s · dropped %d · late %d", s.TargetRPS, s.Dropped, s.Late)}
		if s.LimitedBy != "" {
			c.Class = "bad"
		}
		out = append(out, c)
	}
	if l := r.Latency; l.Count > 0 {
		out = append(out,
			card{Label: "latency p50", Value: Duration(l.P50), Note: "mean " + Duration(l.Mean)},
			card{Label: "latency p99", Value: Duration(l.P99), Note: "p99.9 " + Duration(l.P999)},
			card{Label: "latency max", Value: Duration(l.Max), Note: "min " + Duration(l.Min)})
	}
	cn := r.Connections
	out = append(out, card{Label: "connections dialed", Value: strconv.FormatInt(cn.Dialed, 10),
		Note: fmt.Sprintf("reused %s of requests · max open %d", pct(cn.Reused, cn.Fresh+cn.Reused), cn.MaxOpen)})
	out = append(out, card{Label: "received", Value: ByteSize(r.Bytes.Received),
		Note: "sent " + ByteSize(r.Bytes.Sent) + " · bodies " + ByteSize(r.Bytes.Body)})
	if g := r.Generator; g != nil {
		out = append(out, card{Label: "generator busy", Value: strconv.FormatFloat(100*g.Busy, 'f', 0, 64) + "%",
			Note: fmt.Sprintf("CPU %s on %s", Duration(g.CPU), plural(g.CPUs, "CPU"))})
	}
	if ch := r.Checks; ch.Passed+ch.Failed > 0 {
		c := card{Label: "checks passed", Value: strconv.FormatFloat(100*ch.Rate, 'f', 2, 64) + "%",
			Note: fmt.Sprintf("%d passed · %d failed", ch.Passed, ch.Failed), Class: "good"}
		if ch.Failed > 0 {
			c.Class = "bad"
		}
		out = append(out, c)
	}
	if len(r.Thresholds) > 0 {
		n := 0
		for _, th := range r.Thresholds {
			if th.Pass {
				n++
			}
		}
		c := card{Label: "thresholds", Value: fmt.Sprintf("%d/%d", n, len(r.Thresholds)), Note: "passed", Class: "good"}
		if n < len(r.Thresholds) {
			c.Class, c.Note = "bad", fmt.Sprintf("passed; %d failed", len(r.Thresholds)-n)
		}
		out = append(out, c)
	}
	return out
}

func distTable(name string, d Dist, count bool) distTableRow {
	row := distTableRow{Name: name, Cells: []string{
		Duration(d.P50), Duration(d.P90), Duration(d.P95), Duration(d.P99), Duration(d.P999), Duration(d.Max), Duration(d.Mean),
	}}
	if count {
		row.Cells = append(row.Cells, strconv.FormatInt(d.Count, 10))
	}
	return row
}

func scheduleRows(r *Report) ([]kv, string) {
	s := r.Schedule
	out := []kv{
		{"iterations", fmt.Sprintf("intended %d · sent %d · dropped %d (no free VU) · late %d (started over %s after their intended start)",
			s.Intended, s.Sent, s.Dropped, s.Late, Duration(int64(r.Run.LateThreshold)))},
		{"rate", fmt.Sprintf("target %.1f/s · achieved %.1f/s (%s)", s.TargetRPS, s.AchievedRPS, pctF(s.AchievedRPS, s.TargetRPS))},
	}
	if l := r.Lag; l.Count > 0 {
		out = append(out, kv{"lag", fmt.Sprintf("p50 %s · p99 %s · p99.9 %s · max %s (actual start − intended start)",
			Duration(l.P50), Duration(l.P99), Duration(l.P999), Duration(l.Max))})
	}
	out = append(out, kv{"VUs", fmt.Sprintf("busy at most %d · allocated %d of %d", s.VUsBusyMax, s.VUsAlloc, r.Run.MaxVUs)})
	short := ""
	if s.LimitedBy != "" {
		short = fmt.Sprintf("Shortfall (%s): %s", s.LimitedBy, s.Reason)
	}
	return out, short
}

func pctF(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return strconv.FormatFloat(100*a/b, 'f', 2, 64) + "%"
}

func connRows(r *Report) []kv {
	c := r.Connections
	out := []kv{
		{"dialed", fmt.Sprintf("%d (first used by a request %d · never used %d)", c.Dialed, c.Fresh, c.Unused)},
		{"reused", fmt.Sprintf("%d (reuse ratio %s)", c.Reused, strconv.FormatFloat(100*c.ReuseRate, 'f', 2, 64)+"%")},
	}
	if d := c.RequestsPerConn; d.Count > 0 {
		out = append(out, kv{"requests per connection", fmt.Sprintf("p50 %d · p99 %d · max %d · mean %d", d.P50, d.P99, d.Max, d.Mean)})
	}
	if d := c.IdleBeforeReuse; d.Count > 0 {
		out = append(out, kv{"idle before reuse", fmt.Sprintf("p50 %s · p99 %s · max %s", Duration(d.P50), Duration(d.P99), Duration(d.Max))})
	}
	if d := c.Lifetime; d.Count > 0 {
		out = append(out, kv{"connection lifetime", fmt.Sprintf("p50 %s · p99 %s · max %s", Duration(d.P50), Duration(d.P99), Duration(d.Max))})
	}
	if d := c.ServerIdleClose; d.Count > 0 {
		out = append(out, kv{"closed idle by the server", fmt.Sprintf("%d, after idle p50 %s · min %s", d.Count, Duration(d.P50), Duration(d.Min))})
	}
	if c.CloseAnswers > 0 || c.HTTP10 > 0 {
		out = append(out, kv{"answers asking to close", fmt.Sprintf("%d (HTTP/1.0 answers %d)", c.CloseAnswers, c.HTTP10)})
	}
	closed := fmt.Sprintf("%d (by the server %d", c.Closed, c.ClosedByServer)
	for _, k := range sortedKeys(c.CloseReasons) {
		if k == "server" || c.CloseReasons[k] == 0 {
			continue
		}
		closed += fmt.Sprintf(" · %s %d", strings.ReplaceAll(k, "_", " "), c.CloseReasons[k])
	}
	out = append(out, kv{"closed", closed + ")"})
	open := strconv.FormatInt(c.MaxOpen, 10)
	if c.OpenAtEnd > 0 {
		open += fmt.Sprintf(" (still open at the end %d)", c.OpenAtEnd)
	}
	out = append(out, kv{"max open", open})
	var fails []string
	for _, r := range putIdleReasons {
		if k, n := r.String(), c.PutIdleErrors[r.String()]; n > 0 {
			fails = append(fails, fmt.Sprintf("%s %d", k, n))
		}
	}
	if len(fails) == 0 {
		fails = []string{"none"}
	}
	out = append(out, kv{"not returned to the idle pool", strings.Join(fails, " · ")})
	if so := r.Sockets; so.Watched {
		out = append(out, kv{"TIME_WAIT to the target", fmt.Sprintf("%d before · %d after · at most %d during (ephemeral ports %d-%d)",
			so.TimeWaitBefore, so.TimeWaitAfter, so.TimeWaitPeak, so.PortLo, so.PortHi)})
	}
	return out
}

// Charts.

// chart is one SVG chart, laid out in Go: the template only writes the
// elements.
type chart struct {
	Name, Title, Note string
	W, H              float64
	Grid, Axes        []seg
	Marks             []mark
	Texts             []label
	Paths             []series
	Rects             []bar
	Dots              []dot
	Legend            []legendItem
}

type seg struct{ X1, Y1, X2, Y2 float64 }

type mark struct {
	X1, Y1, X2, Y2 float64
	Tip            string
}

type label struct {
	X, Y                float64
	Text, Anchor, Class string
}

type series struct {
	Name, Color, D string
	Points         int
	Width          float64
	Dash           bool
	// Partial is the part of a series to the run's last interval, when
	// that interval was cut short by the run's end.
	Partial bool
}

type bar struct {
	Series, Color, Tip, Value string
	X, Y, W, H                float64
}

type dot struct {
	X, Y       float64
	Color, Tip string
	Hollow     bool // a partial interval's point
}

type legendItem struct {
	X, Y        float64
	Color, Text string
	Box, Dash   bool
}

// The charts' size (the SVG's view box) and margins.
const (
	chartW     = 640.0
	chartH     = 270.0
	marginL    = 64.0
	marginR    = 18.0
	marginB    = 30.0
	legendLine = 18.0
)

// legend lays the items out in lines from the top left and returns the
// height they take.
func (c *chart) legend(items []legendItem) float64 {
	x, y := marginL, 14.0
	for _, it := range items {
		w := 22 + 7*float64(len([]rune(it.Text))) + 14
		if x+w > c.W-marginR && x > marginL {
			x, y = marginL, y+legendLine
		}
		it.X, it.Y = x, y
		c.Legend = append(c.Legend, it)
		x += w
	}
	return y + 12
}

// lineSeries is one line of a chart over time.
type lineSeries struct {
	Name, Color string
	Ys          []float64
	Width       float64
	Dash        bool
}

// yAxis is how a line chart's values are scaled and labeled.
type yAxis struct {
	Format  func(float64) string
	Integer bool // steps of whole numbers
	// Log scales log10(1+v), with a tick per power of ten: for values
	// orders of magnitude apart, zeros included.
	Log bool
}

// lineChart draws series over the timeline's times (s), from 0 to the
// last, on an axis from 0. partial, above 0, is the length (s) of the last
// interval when the run's end cut it short: its figures cover that much
// (a rate per second of it, the connections after the pool closed), so it
// is drawn dashed to a hollow marker rather than as a fall of the line.
func lineChart(name, title, note string, xs []float64, partial float64, ss []lineSeries, ya yAxis) *chart {
	c := &chart{Name: name, Title: title, Note: note, W: chartW, H: chartH}
	if partial > 0 {
		c.Note += fmt.Sprintf(" The last interval lasted %s, to the end of the run: dashed.", Duration(int64(partial*1e9)))
	}
	var items []legendItem
	for _, s := range ss {
		items = append(items, legendItem{Color: s.Color, Text: s.Name, Dash: s.Dash})
	}
	top := c.legend(items) + 10
	left, right, bottom := marginL, c.W-marginR, c.H-marginB
	xmax := 0.0
	for _, x := range xs {
		xmax = max(xmax, x)
	}
	if xmax <= 0 {
		xmax = 1
	}
	ymax := 0.0
	for _, s := range ss {
		for _, y := range s.Ys {
			ymax = max(ymax, y)
		}
	}
	yFmt := ya.Format
	var yt []float64
	scale := func(v float64) float64 { return v }
	if ya.Log {
		// No tick at 1: it would sit on the 0.
		yt = []float64{0, 10}
		for yt[len(yt)-1] < ymax {
			yt = append(yt, 10*yt[len(yt)-1])
		}
		scale = func(v float64) float64 { return math.Log10(1 + max(v, 0)) }
	} else {
		yt = niceTicks(ymax, 5, ya.Integer)
	}
	ytop := scale(yt[len(yt)-1])
	X := func(v float64) float64 { return left + (right-left)*v/xmax }
	Y := func(v float64) float64 { return bottom - (bottom-top)*scale(v)/ytop }
	for _, v := range yt {
		c.Grid = append(c.Grid, seg{left, Y(v), right, Y(v)})
		c.Texts = append(c.Texts, label{X: left - 6, Y: Y(v) + 4, Text: yFmt(v), Anchor: "end"})
	}
	for _, v := range timeTicks(xmax) {
		c.Axes = append(c.Axes, seg{X(v), bottom, X(v), bottom + 4})
		c.Texts = append(c.Texts, label{X: X(v), Y: bottom + 17, Text: fmtSeconds(v), Anchor: "middle"})
	}
	c.Axes = append(c.Axes, seg{left, bottom, right, bottom}, seg{left, top, left, bottom})
	last := len(xs) - 1
	for _, s := range ss {
		w := s.Width
		if w == 0 {
			w = 2
		}
		path := func(from, to int, partial bool) {
			var d strings.Builder
			for i := from; i <= to; i++ {
				cmd := "L"
				if i == from {
					cmd = "M"
				}
				fmt.Fprintf(&d, "%s%s %s", cmd, fmtF(X(xs[i])), fmtF(Y(s.Ys[i])))
			}
			c.Paths = append(c.Paths, series{Name: s.Name, Color: s.Color, D: d.String(), Points: to - from + 1, Width: w, Dash: s.Dash, Partial: partial})
		}
		if partial > 0 && last > 0 {
			path(0, last-1, false)
			path(last-1, last, true)
		} else {
			path(0, last, false)
		}
		for i, y := range s.Ys {
			tip := fmt.Sprintf("%s at %s: %s", s.Name, fmtSeconds(xs[i]), yFmt(y))
			switch {
			case i == last && partial > 0:
				c.Dots = append(c.Dots, dot{X: X(xs[i]), Y: Y(y), Color: s.Color, Hollow: true,
					Tip: tip + fmt.Sprintf(" (the last %s of the run: partial)", Duration(int64(partial*1e9)))})
			case len(xs) <= 60:
				c.Dots = append(c.Dots, dot{X: X(xs[i]), Y: Y(y), Color: s.Color, Tip: tip})
			}
		}
	}
	return c
}

// partialLast returns the length (s) of the timeline's last interval when
// the run's end cut it short (under 0.9 s of the 1 s intervals), or 0.
func partialLast(r *Report) float64 {
	n := len(r.Timeline)
	if n == 0 {
		return 0
	}
	dt := r.Timeline[n-1].T
	if n > 1 {
		dt -= r.Timeline[n-2].T
	}
	if dt <= 0 || dt >= 9e8 {
		return 0
	}
	return float64(dt) / 1e9
}

// timeline returns the points' times in seconds.
func timeline(r *Report) []float64 {
	xs := make([]float64, len(r.Timeline))
	for i, p := range r.Timeline {
		xs[i] = float64(p.T) / 1e9
	}
	return xs
}

// perPoint returns one value per point of the timeline; dt is the length of
// the point's interval in seconds, for rates.
func perPoint(r *Report, value func(p Point, dt float64) float64) []float64 {
	ys := make([]float64, len(r.Timeline))
	prev := int64(0)
	for i, p := range r.Timeline {
		dt := float64(p.T-prev) / 1e9
		if dt <= 0 {
			dt = 1
		}
		ys[i] = value(p, dt)
		prev = p.T
	}
	return ys
}

func rps(p Point, _ float64) float64 { return p.RPS }

func throughputChart(r *Report) *chart {
	eps := perPoint(r, func(p Point, dt float64) float64 { return float64(p.Errors) / dt })
	return lineChart("throughput", "Requests and errors per second",
		"Requests that ended in each interval; errors are http errors (status ≥ 400) and failed requests.",
		timeline(r), partialLast(r), []lineSeries{{Name: "requests/s", Color: colorBlue, Ys: perPoint(r, rps)}, {Name: "errors/s", Color: colorRed, Ys: eps}},
		yAxis{Format: fmtCount})
}

func latencyChart(r *Report) *chart {
	p50 := perPoint(r, func(p Point, _ float64) float64 { return float64(p.P50) })
	p99 := perPoint(r, func(p Point, _ float64) float64 { return float64(p.P99) })
	note := "The latency of the requests that ended in each interval."
	if r.Run.Open {
		note += " Open model: from the intended start, so a wait on the generator's side counts."
	}
	return lineChart("latency", "Latency over time", note,
		timeline(r), partialLast(r), []lineSeries{{Name: "p50", Color: colorBlue, Ys: p50}, {Name: "p99", Color: colorAmber, Ys: p99}},
		yAxis{Format: fmtDurTick})
}

func dialChart(r *Report) *chart {
	dps := perPoint(r, func(p Point, dt float64) float64 { return float64(p.Dialed) / dt })
	return lineChart("dials", "New connections vs requests per second",
		"Log scale. With keep-alive working, new connections stay near zero after the start, orders of magnitude below requests; the two lines close together mean connections are not reused.",
		timeline(r), partialLast(r), []lineSeries{{Name: "requests/s", Color: colorBlue, Ys: perPoint(r, rps)}, {Name: "new connections/s", Color: colorPink, Ys: dps}},
		yAxis{Format: fmtCount, Log: true})
}

func openChart(r *Report) *chart {
	return lineChart("connections", "Open connections",
		"At the end of each interval: open = carrying a request (active) + idle in the pool.",
		timeline(r), partialLast(r), []lineSeries{
			{Name: "open", Color: colorTeal, Ys: perPoint(r, func(p Point, _ float64) float64 { return float64(p.ConnsOpen) }), Width: 3},
			{Name: "active", Color: colorBlue, Ys: perPoint(r, func(p Point, _ float64) float64 { return float64(p.ConnsActive) })},
			{Name: "idle", Color: colorGray, Ys: perPoint(r, func(p Point, _ float64) float64 { return float64(p.ConnsIdle) }), Dash: true},
		}, yAxis{Format: fmtCount, Integer: true})
}

// nines maps a percentile to the log axis of the spectrum: 0 → 0, 90 → 1,
// 99 → 2, 99.9 → 3.
func nines(p float64) float64 {
	if p <= 0 {
		return 0
	}
	return -math.Log10(1 - p/100)
}

func ninesLabel(k int) string {
	switch k {
	case 0:
		return "0"
	case 1:
		return "90"
	}
	s := "99"
	if k > 2 {
		s += "." + strings.Repeat("9", k-2)
	}
	return s
}

func fmtPercentile(p float64) string {
	switch p {
	case 0:
		return "min"
	case 100:
		return "max"
	}
	return "p" + strconv.FormatFloat(p, 'f', -1, 64)
}

func spectrumChart(r *Report) *chart {
	sp := r.LatencySpectrum
	c := &chart{
		Name:  "spectrum",
		Title: "Latency by percentile",
		Note:  "The whole run's latency at each percentile, on a log scale of nines: each step to the right is ten times rarer. The right end is the maximum.",
		W:     chartW,
		H:     chartH,
	}
	top := c.legend([]legendItem{{Color: colorPurple, Text: "latency"}}) + 10
	left, right, bottom := marginL, c.W-marginR, c.H-marginB
	kmax, hasMax := 1, false
	ymax := 0.0
	for _, p := range sp {
		ymax = max(ymax, float64(p.Value))
		if p.Percentile >= 100 {
			hasMax = true
			continue
		}
		kmax = max(kmax, int(math.Ceil(nines(p.Percentile)-1e-9)))
	}
	xmax := float64(kmax)
	if hasMax {
		xmax += 0.5
	}
	px := func(p float64) float64 {
		if p >= 100 {
			return xmax
		}
		return nines(p)
	}
	yt := niceTicks(ymax, 5, false)
	ytop := yt[len(yt)-1]
	X := func(v float64) float64 { return left + (right-left)*v/xmax }
	Y := func(v float64) float64 { return bottom - (bottom-top)*v/ytop }
	for _, v := range yt {
		c.Grid = append(c.Grid, seg{left, Y(v), right, Y(v)})
		c.Texts = append(c.Texts, label{X: left - 6, Y: Y(v) + 4, Text: fmtDurTick(v), Anchor: "end"})
	}
	for k := 0; k <= kmax; k++ {
		c.Grid = append(c.Grid, seg{X(float64(k)), top, X(float64(k)), bottom})
		c.Texts = append(c.Texts, label{X: X(float64(k)), Y: bottom + 17, Text: ninesLabel(k), Anchor: "middle"})
	}
	if hasMax {
		c.Grid = append(c.Grid, seg{X(xmax), top, X(xmax), bottom})
		c.Texts = append(c.Texts, label{X: X(xmax), Y: bottom + 17, Text: "max", Anchor: "middle"})
	}
	c.Axes = append(c.Axes, seg{left, bottom, right, bottom}, seg{left, top, left, bottom})
	var d strings.Builder
	for i, p := range sp {
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		x, y := X(px(p.Percentile)), Y(float64(p.Value))
		fmt.Fprintf(&d, "%s%s %s", cmd, fmtF(x), fmtF(y))
		c.Dots = append(c.Dots, dot{X: x, Y: y, Color: colorPurple, Tip: fmtPercentile(p.Percentile) + ": " + Duration(p.Value)})
	}
	c.Paths = append(c.Paths, series{Name: "latency", Color: colorPurple, D: d.String(), Points: len(sp), Width: 2})
	return c
}

// phasesChart stacks the phases' p50, p90 and p99; nil without phases.
func phasesChart(r *Report) *chart {
	var names []string
	for ph := range metrics.NumPhases {
		if n := metrics.Phase(ph).String(); r.Phases[n].Count > 0 {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil
	}
	rows := []struct {
		Label   string
		Get     func(Dist) int64
		Latency int64
	}{
		{"p50", func(d Dist) int64 { return d.P50 }, r.Latency.P50},
		{"p90", func(d Dist) int64 { return d.P90 }, r.Latency.P90},
		{"p99", func(d Dist) int64 { return d.P99 }, r.Latency.P99},
	}
	c := &chart{
		Name:  "phases",
		Title: "Phases by percentile",
		Note:  "Each phase at its own percentile, over the requests where it happened (connect, tls and proxy only on new connections), stacked; the black tick is the latency at that percentile.",
		W:     chartW,
	}
	var items []legendItem
	for _, n := range names {
		text := n
		if cnt, all := r.Phases[n].Count, r.Latency.Count; all > 0 && cnt*200 < all*199 {
			text += " (" + shareText(cnt, all) + " of requests)"
		}
		items = append(items, legendItem{Color: phaseColors[n], Text: text, Box: true})
	}
	items = append(items, legendItem{Color: "#111827", Text: "latency"})
	top := c.legend(items) + 12
	const rowH, gap = 38.0, 20.0
	left, right := 48.0, c.W-86
	bottom := top + float64(len(rows))*(rowH+gap) - gap
	c.H = bottom + marginB
	xmax := 0.0
	for _, row := range rows {
		sum := int64(0)
		for _, n := range names {
			sum += row.Get(r.Phases[n])
		}
		xmax = max(xmax, float64(sum), float64(row.Latency))
	}
	X := barAxis(c, top, bottom, left, right, xmax, false, fmtDurTick)
	for i, row := range rows {
		y := top + float64(i)*(rowH+gap)
		c.Texts = append(c.Texts, label{X: left - 8, Y: y + rowH/2 + 4, Text: row.Label, Anchor: "end", Class: "strong"})
		sum := int64(0)
		for _, n := range names {
			v := row.Get(r.Phases[n])
			if v <= 0 {
				continue
			}
			c.Rects = append(c.Rects, bar{Series: n, Color: phaseColors[n], Value: strconv.FormatInt(v, 10),
				Tip: fmt.Sprintf("%s %s: %s", row.Label, n, Duration(v)),
				X:   X(float64(sum)), Y: y, W: X(float64(sum+v)) - X(float64(sum)), H: rowH})
			sum += v
		}
		if row.Latency > 0 {
			lx := X(float64(row.Latency))
			c.Marks = append(c.Marks, mark{X1: lx, Y1: y - 3, X2: lx, Y2: y + rowH + 3,
				Tip: fmt.Sprintf("latency %s: %s", row.Label, Duration(row.Latency))})
		}
		c.Texts = append(c.Texts, label{X: max(X(float64(sum)), X(float64(row.Latency))) + 6, Y: y + rowH/2 + 4,
			Text: "Σ " + Duration(sum), Anchor: "start"})
	}
	return c
}

// barAxis draws a horizontal bar chart's value axis, from 0 to a round
// value at or above xmax, with its grid lines and the two axes, and returns
// the x of a value.
func barAxis(c *chart, top, bottom, left, right, xmax float64, integer bool, format func(float64) string) func(float64) float64 {
	xt := niceTicks(xmax, 5, integer)
	xtop := xt[len(xt)-1]
	X := func(v float64) float64 { return left + (right-left)*v/xtop }
	for _, v := range xt {
		c.Grid = append(c.Grid, seg{X(v), top - 4, X(v), bottom})
		c.Texts = append(c.Texts, label{X: X(v), Y: bottom + 17, Text: format(v), Anchor: "middle"})
	}
	c.Axes = append(c.Axes, seg{left, bottom, right, bottom}, seg{left, top - 4, left, bottom})
	return X
}

// shareText is n/of as a percentage with two significant digits or so:
// 0.48%, 12%.
func shareText(n, of int64) string {
	v := 100 * float64(n) / float64(of)
	switch {
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 0, 64) + "%"
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 1, 64) + "%"
	}
	return strconv.FormatFloat(v, 'g', 2, 64) + "%"
}

func statusColor(code int) string {
	switch {
	case code >= 500:
		return colorRed
	case code >= 400:
		return "#f59e0b"
	case code >= 300:
		return "#0ea5e9"
	case code >= 200:
		return "#16a34a"
	}
	return "#6b7280"
}

// statusChart draws a bar per status code; nil without responses.
func statusChart(r *Report) *chart {
	codes := sortedKeys(r.Status)
	sort.SliceStable(codes, func(i, j int) bool {
		a, _ := strconv.Atoi(codes[i])
		b, _ := strconv.Atoi(codes[j])
		return a < b
	})
	if len(codes) == 0 {
		return nil
	}
	total := int64(0)
	for _, k := range codes {
		total += r.Status[k]
	}
	c := &chart{Name: "status", Title: "Status codes", Note: "Responses by status code (a request without a response has none: see errors).", W: chartW}
	const rowH, gap = 22.0, 10.0
	top, left, right := 16.0, 64.0, c.W-120
	bottom := top + float64(len(codes))*(rowH+gap) - gap
	c.H = bottom + marginB
	xmax := 0.0
	for _, k := range codes {
		xmax = max(xmax, float64(r.Status[k]))
	}
	X := barAxis(c, top, bottom, left, right, xmax, true, fmtCount)
	for i, k := range codes {
		n := r.Status[k]
		code, _ := strconv.Atoi(k)
		name := k
		if k == "0" {
			name = "other"
		}
		y := top + float64(i)*(rowH+gap)
		share := pct(n, total)
		c.Texts = append(c.Texts, label{X: left - 8, Y: y + rowH/2 + 4, Text: name, Anchor: "end", Class: "strong"})
		c.Rects = append(c.Rects, bar{Series: name, Color: statusColor(code), Value: strconv.FormatInt(n, 10),
			Tip: fmt.Sprintf("%s: %d (%s)", name, n, share), X: left, Y: y, W: max(X(float64(n))-left, 1), H: rowH})
		c.Texts = append(c.Texts, label{X: left + max(X(float64(n))-left, 1) + 6, Y: y + rowH/2 + 4,
			Text: fmt.Sprintf("%d (%s)", n, share), Anchor: "start"})
	}
	return c
}

// Axes.

// niceTicks returns ticks from 0 to at least v in steps of 1, 2 or 5
// times a power of ten, about n of them; integer keeps steps whole.
func niceTicks(v float64, n int, integer bool) []float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		v = 1
	}
	raw := v / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if raw <= m*mag*(1+1e-9) {
			step = m * mag
			break
		}
	}
	if integer && step < 1 {
		step = 1
	}
	k := int(math.Ceil(v/step - 1e-9))
	out := make([]float64, 0, k+1)
	for i := 0; i <= k; i++ {
		out = append(out, float64(i)*step)
	}
	return out
}

// timeTicks returns the ticks of a time axis from 0 to xmax seconds, in
// steps people count in.
func timeTicks(xmax float64) []float64 {
	if xmax <= 10 {
		t := niceTicks(xmax, 5, false)
		if t[len(t)-1] > xmax*(1+1e-9) {
			t = t[:len(t)-1]
		}
		return t
	}
	step := 0.0
	for _, s := range []float64{5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400} {
		if xmax/s <= 8 {
			step = s
			break
		}
	}
	if step == 0 {
		step = niceTicks(xmax/86400, 6, true)[1] * 86400
	}
	var out []float64
	for i := 0; float64(i)*step <= xmax*(1+1e-9); i++ {
		out = append(out, float64(i)*step)
	}
	return out
}

// fmtF formats an SVG coordinate with at most one decimal.
func fmtF(v float64) string {
	v = math.Round(v*10) / 10
	if v == 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// trimFloat formats v with at most 3 decimals and no trailing zeros.
func trimFloat(v float64) string {
	s := strconv.FormatFloat(v, 'f', 3, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// fmtCount formats a count or a rate on an axis: 950, 1.5k, 2M.
func fmtCount(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e9:
		return trimFloat(v/1e9) + "G"
	case a >= 1e6:
		return trimFloat(v/1e6) + "M"
	case a >= 1e3:
		return trimFloat(v/1e3) + "k"
	}
	return trimFloat(v)
}

// fmtDurTick formats ns on an axis: 0, 500µs, 1.5ms, 2s.
func fmtDurTick(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case a < 1e3:
		return trimFloat(v) + "ns"
	case a < 1e6:
		return trimFloat(v/1e3) + "µs"
	case a < 1e9:
		return trimFloat(v/1e6) + "ms"
	}
	return trimFloat(v/1e9) + "s"
}

// fmtSeconds formats a time axis' tick: 0, 0.5s, 30s, 2m, 1m30s, 1h, 1h30m.
func fmtSeconds(s float64) string {
	if s == 0 {
		return "0"
	}
	if s < 60 || s != math.Trunc(s) {
		return trimFloat(s) + "s"
	}
	n := int64(s)
	out := ""
	for _, u := range []struct {
		n    int64
		unit string
	}{{n / 3600, "h"}, {n / 60 % 60, "m"}, {n % 60, "s"}} {
		if u.n > 0 {
			out += strconv.FormatInt(u.n, 10) + u.unit
		}
	}
	return out
}

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"f":    fmtF,
	"add":  func(a, b float64) float64 { return a + b },
	"dur":  agentDuration,
	"sdur": signedDuration,
	"pct":  func(v float64) float64 { return 100 * v },
}).Parse(htmlSource))

const htmlSource = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<meta name="generator" content="faya {{.Version}}">
<title>{{.Title}}</title>
<style>
:root { --fg: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f5f6f8; --card: #fff; --good: #15803d; --bad: #b91c1c; --warn: #b45309; --accent: #2563eb; }
* { box-sizing: border-box; }
html { background: var(--bg); color: var(--fg); color-scheme: light; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1320px; margin: 0 auto; padding: 24px 24px 48px; }
h1 { font-size: 22px; margin: 0 0 2px; font-weight: 650; }
h1 .brand { color: var(--accent); }
h2 { font-size: 17px; margin: 32px 0 12px; font-weight: 650; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 0 0 4px; font-weight: 600; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12.5px; }
.target { font-size: 15px; word-break: break-all; margin: 0 0 14px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
header.card { padding: 18px 20px; }
.config { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; }
.config dt { color: var(--muted); }
.config dd { margin: 0; word-break: break-word; }
.banner { margin: 12px 0 0; padding: 8px 12px; border-radius: 8px; background: #fef3c7; color: #78350f; font-weight: 600; }
.banner.bad { background: #fee2e2; color: #7f1d1d; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 12px; margin-top: 16px; }
.stat .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.stat .value { font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums; line-height: 1.3; }
.stat .note { color: var(--muted); font-size: 12px; }
.stat.good .value { color: var(--good); }
.stat.bad .value { color: var(--bad); }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(560px, 100%), 1fr)); gap: 16px; }
figure { margin: 0; }
figcaption p { margin: 0 0 8px; color: var(--muted); font-size: 12.5px; }
svg.chart { display: block; width: 100%; height: auto; }
svg.chart text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: #4b5563; }
svg.chart text.strong { font-weight: 600; fill: #1f2937; }
svg.chart .grid line { stroke: #eceef1; }
svg.chart .axis line { stroke: #9ca3af; }
table { border-collapse: collapse; width: 100%; background: var(--card); font-variant-numeric: tabular-nums; }
.table { padding: 0; overflow-x: auto; }
th, td { padding: 7px 12px; text-align: left; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .03em; background: #fafafb; }
tr:last-child td { border-bottom: 0; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.fail { color: var(--bad); font-weight: 600; }
tr.detail td { color: var(--bad); font-size: 12.5px; padding-top: 0; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 11.5px; font-weight: 700; text-transform: uppercase; letter-spacing: .04em; white-space: nowrap; }
.badge.pass, .badge.info { background: #dcfce7; color: #166534; }
.badge.fail, .badge.error { background: #fee2e2; color: #991b1b; }
.badge.warning { background: #fef3c7; color: #92400e; }
.badge.setup { background: #e0e7ff; color: #3730a3; }
.findings { display: grid; gap: 12px; }
.finding { border-left: 4px solid #16a34a; }
.finding.warning { border-left-color: #d97706; }
.finding.error { border-left-color: #dc2626; }
.finding h3 { display: flex; gap: 10px; align-items: baseline; }
.finding p { margin: 6px 0 0; }
.finding .k { color: var(--muted); font-weight: 600; margin-right: 6px; }
.stack { display: grid; gap: 16px; margin-top: 16px; }
.two { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(560px, 100%), 1fr)); gap: 16px; align-items: start; }
.kv { display: grid; grid-template-columns: max-content 1fr; gap: 6px 18px; margin: 0; }
.kv dt { color: var(--muted); }
.kv dd { margin: 0; font-variant-numeric: tabular-nums; }
.scenarios { margin-top: 12px; }
p.note { color: var(--muted); font-size: 12.5px; margin: 8px 0 0; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; text-align: center; }
</style>
</head>
<body>
<main>
<header class="card">
<h1><span class="brand">faya</span> load test report</h1>
<p class="target mono">{{if .File}}scenario file {{end}}{{.Target}}</p>
<dl class="config">
{{- range .Config}}
<dt>{{.K}}</dt><dd>{{.V}}</dd>
{{- end}}
</dl>
{{- if .Scenarios}}
<div class="scenarios table card">
<table>
<thead><tr><th>scenario</th><th>model</th><th>steps</th></tr></thead>
<tbody>
{{- range .Scenarios}}
<tr><td>{{.Name}}</td><td>{{.Model}}</td><td>{{.Steps}}</td></tr>
{{- end}}
</tbody>
</table>
</div>
{{- end}}
{{- if .Partial}}
{{- if .Agents}}
<p class="banner">{{.PartialText}}.</p>
{{- else}}
<p class="banner">Partial: the run was interrupted; the numbers cover what ran until then.</p>
{{- end}}
{{- end}}
</header>

<section class="cards" aria-label="summary">
{{- range .Cards}}
<div class="card stat{{if .Class}} {{.Class}}{{end}}"><div class="label">{{.Label}}</div><div class="value">{{.Value}}</div><div class="note">{{.Note}}</div></div>
{{- end}}
</section>
{{- if .Thresholds}}

<h2 id="thresholds">Thresholds</h2>
<div class="table card">
<table>
<thead><tr><th>result</th><th>threshold</th><th>step</th><th>value</th></tr></thead>
<tbody>
{{- range .Thresholds}}
<tr><td>{{if .Pass}}<span class="badge pass">pass</span>{{else}}<span class="badge fail">fail</span>{{end}}</td><td class="mono">{{.Threshold}}</td><td>{{.Step}}</td><td>{{.Result}}</td></tr>
{{- end}}
</tbody>
</table>
</div>
{{- end}}

<h2 id="findings">Findings</h2>
<div class="findings">
{{- range .Findings}}
<article class="card finding {{.Severity}}">
<h3><span class="badge {{.Severity}}">{{.Severity}}</span><span>{{.Title}}</span></h3>
{{- if .Evidence}}
<p><span class="k">Evidence</span>{{.Evidence}}</p>
{{- end}}
{{- if .Fix}}
<p><span class="k">Fix</span><code>{{.Fix}}</code></p>
{{- end}}
</article>
{{- else}}
<p>None.</p>
{{- end}}
</div>
{{- if .TimeCharts}}

<h2 id="over-time">Over time</h2>{{template "charts" .TimeCharts}}
{{- end}}

<h2 id="latency">Latency</h2>
{{- if .LatencyCharts}}{{template "charts" .LatencyCharts}}
{{- end}}
{{- if .LatencyRows}}
<div class="stack">
<div class="table card">
<table>
<thead><tr><th></th><th class="num">p50</th><th class="num">p90</th><th class="num">p95</th><th class="num">p99</th><th class="num">p99.9</th><th class="num">max</th><th class="num">mean</th></tr></thead>
<tbody>
{{- range .LatencyRows}}
<tr><td>{{.Name}}</td>{{range .Cells}}<td class="num">{{.}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
</div>
{{- if .PhaseRows}}
<div class="table card">
<table>
<thead><tr><th>phase</th><th class="num">p50</th><th class="num">p90</th><th class="num">p95</th><th class="num">p99</th><th class="num">p99.9</th><th class="num">max</th><th class="num">mean</th><th class="num">count</th></tr></thead>
<tbody>
{{- range .PhaseRows}}
<tr><td>{{.Name}}</td>{{range .Cells}}<td class="num">{{.}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
</div>
{{- end}}
</div>
{{- else}}
<p>No request completed.</p>
{{- end}}
{{- if .Schedule}}

<h2 id="schedule">Schedule</h2>
<div class="card">{{template "kv" .Schedule}}
{{- if .Shortfall}}
<p class="banner bad">{{.Shortfall}}</p>
{{- end}}
</div>
{{- end}}

<h2 id="connections">Connections</h2>
{{- if .ConnCharts}}{{template "charts" .ConnCharts}}
{{- end}}
<div class="stack">
<div class="card">{{template "kv" .Conn}}
</div>
</div>
{{- if or .Status .Errors}}

<h2 id="responses">Responses</h2>
<div class="two">
{{- with .Status}}{{template "chart" .}}{{end}}
{{- if .Errors}}
<div class="table card">
<table>
<thead><tr><th>error</th><th class="num">count</th><th>example</th></tr></thead>
<tbody>
{{- range .Errors}}
<tr><td>{{.Class}}</td><td class="num">{{.Count}}</td><td><code>{{.Example}}</code></td></tr>
{{- end}}
</tbody>
</table>
</div>
{{- end}}
</div>
{{- end}}
{{- if .Steps}}

<h2 id="steps">Steps</h2>
<div class="table card">
<table>
<thead><tr>{{if .StepScenarios}}<th>scenario</th>{{end}}<th>step</th><th class="num">requests</th><th class="num">ok</th><th class="num">http errors</th><th class="num">errors</th><th class="num">checks passed</th><th class="num">checks failed</th><th class="num">p50</th><th class="num">p99</th><th class="num">max</th><th class="num">mean wait</th></tr></thead>
<tbody>
{{- $scenarios := .StepScenarios}}
{{- range .Steps}}
<tr>{{if $scenarios}}<td>{{.Scenario}}</td>{{end}}<td>{{if .Setup}}<span class="badge setup">setup</span> {{end}}{{.Name}}</td><td class="num">{{.Requests}}</td><td class="num">{{.OK}}</td><td class="num">{{.HTTPErrors}}</td><td class="num">{{.Errors}}</td><td class="num">{{.ChecksPassed}}</td><td class="num{{if .ChecksFailed}} fail{{end}}">{{.ChecksFailed}}</td><td class="num">{{.P50}}</td><td class="num">{{.P99}}</td><td class="num">{{.Max}}</td><td class="num">{{.Wait}}</td></tr>
{{- if .CheckFailure}}
<tr class="detail"><td colspan="{{if $scenarios}}12{{else}}11{{end}}">first failed check: {{.CheckFailure}}</td></tr>
{{- end}}
{{- end}}
</tbody>
</table>
</div>
{{- end}}
{{- if .Proxies}}

<h2 id="proxies">Proxies</h2>
<div class="table card">
<table>
<thead><tr><th>proxy</th><th class="num">requests</th><th class="num">errors</th><th class="num">dialed</th><th class="num">fresh</th><th class="num">reused</th><th class="num">handshake mean</th></tr></thead>
<tbody>
{{- range .Proxies}}
<tr><td class="mono">{{.URL}}</td><td class="num">{{.Requests}}</td><td class="num{{if .Errors}} fail{{end}}">{{.Errors}}</td><td class="num">{{.Dialed}}</td><td class="num">{{.Fresh}}</td><td class="num">{{.Reuse}}</td><td class="num">{{.Handshake}}</td></tr>
{{- end}}
</tbody>
</table>
</div>
<p class="note">Handshake: TLS to an HTTPS proxy, the CONNECT round trip or the SOCKS5 negotiation, per connection.</p>
{{- end}}
{{- if .Agents}}

<h2 id="agents">Agents</h2>
<div class="table card">
<table>
<thead><tr><th>agent</th><th>segment</th><th class="num">requests</th><th class="num">errors</th><th class="num">rate/s</th><th class="num">p99</th><th class="num">CPU busy</th><th class="num">clock offset</th><th>state</th></tr></thead>
<tbody>
{{- range .Agents}}
<tr><td class="mono">{{.Name}}</td><td>{{.Segment}}</td><td class="num">{{.Requests}}</td><td class="num{{if .Errors}} fail{{end}}">{{.Errors}}</td><td class="num">{{printf "%.1f" .Rate}}</td><td class="num">{{dur .P99}}</td><td class="num">{{if .Busy}}{{printf "%.0f%%" (pct .Busy)}}{{else}}-{{end}}</td><td class="num">{{if .ClockKnown}}{{sdur .ClockOffset}}{{else}}unknown{{end}}</td><td class="{{if ne .State "ok"}}fail{{end}}">{{.State}}{{if .Reason}}: {{.Reason}}{{end}}</td></tr>
{{- end}}
</tbody>
</table>
</div>
{{- end}}

<footer>faya {{.Version}} · report schema {{.Schema}}</footer>
</main>
</body>
</html>
{{define "charts"}}
<div class="charts">
{{- range .}}{{template "chart" .}}{{end}}
</div>{{end}}{{define "kv"}}
<dl class="kv">
{{- range .}}
<dt>{{.K}}</dt><dd>{{.V}}</dd>
{{- end}}
</dl>{{end}}{{define "chart"}}
<figure class="card">
<figcaption><h3>{{.Title}}</h3><p>{{.Note}}</p></figcaption>
<svg class="chart" data-chart="{{.Name}}" viewBox="0 0 {{f .W}} {{f .H}}" width="{{f .W}}" height="{{f .H}}" role="img" aria-label="{{.Title}}">
<g class="grid">{{range .Grid}}<line x1="{{f .X1}}" y1="{{f .Y1}}" x2="{{f .X2}}" y2="{{f .Y2}}"/>{{end}}</g>
<g class="axis">{{range .Axes}}<line x1="{{f .X1}}" y1="{{f .Y1}}" x2="{{f .X2}}" y2="{{f .Y2}}"/>{{end}}</g>
<g class="labels">{{range .Texts}}<text x="{{f .X}}" y="{{f .Y}}" text-anchor="{{.Anchor}}"{{if .Class}} class="{{.Class}}"{{end}}>{{.Text}}</text>{{end}}</g>
{{- range .Rects}}
<rect data-series="{{.Series}}" data-points="1" data-value="{{.Value}}" x="{{f .X}}" y="{{f .Y}}" width="{{f .W}}" height="{{f .H}}" fill="{{.Color}}"><title>{{.Tip}}</title></rect>
{{- end}}
{{- range .Marks}}
<line x1="{{f .X1}}" y1="{{f .Y1}}" x2="{{f .X2}}" y2="{{f .Y2}}" stroke="#111827" stroke-width="2"><title>{{.Tip}}</title></line>
{{- end}}
{{- range .Paths}}
<path data-{{if .Partial}}partial{{else}}series{{end}}="{{.Name}}" data-points="{{.Points}}" d="{{.D}}" fill="none" stroke="{{.Color}}" stroke-width="{{f .Width}}" stroke-linejoin="round" stroke-linecap="round"{{if .Partial}} stroke-dasharray="2 4" stroke-opacity="0.6"{{else if .Dash}} stroke-dasharray="5 4"{{end}}/>
{{- end}}
{{- if .Dots}}
<g class="dots">{{range .Dots}}<circle cx="{{f .X}}" cy="{{f .Y}}" r="{{if .Hollow}}3.5" fill="white" stroke="{{.Color}}" stroke-width="1.5{{else}}2.5" fill="{{.Color}}{{end}}"><title>{{.Tip}}</title></circle>{{end}}</g>
{{- end}}
<g class="legend">{{range .Legend}}{{if .Box}}<rect x="{{f .X}}" y="{{f .Y}}" width="14" height="10" rx="2" fill="{{.Color}}"/>{{else}}<line x1="{{f .X}}" y1="{{f (add .Y 5)}}" x2="{{f (add .X 14)}}" y2="{{f (add .Y 5)}}" stroke="{{.Color}}" stroke-width="{{if .Box}}10{{else}}2.5{{end}}"{{if .Dash}} stroke-dasharray="4 3"{{end}}/>{{end}}<text x="{{f .X}}" y="{{f .Y}}" dx="20" dy="9.5">{{.Text}}</text>{{end}}</g>
</svg>
</figure>
{{end}}`
