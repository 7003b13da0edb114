package report

import (
	"bytes"
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
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
	if err := htmlTemplate().Execute(&buf, newHTMLPage(r)); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// htmlSource is the page's template: html.tmpl, with the charts drawn
// from the [chart]s laid out in charts.go.
//
//go:embed html.tmpl
var htmlSource string

// htmlTemplate parses the page's template the first time a page is
// written: parsing takes milliseconds and a hundred kilobytes, which
// every command would pay at start.
var htmlTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"f":    fmtF,
		"add":  func(a, b float64) float64 { return a + b },
		"dur":  agentDuration,
		"sdur": signedDuration,
		"pct":  func(v float64) float64 { return 100 * v },
	}).Parse(htmlSource))
})

// htmlPage is what the template shows, formatted.
type htmlPage struct {
	Title   string
	Version string
	Schema  int
	Partial bool
	// PartialText says why a distributed run is partial.
	PartialText string
	Agents      []Agent
	Target      string // "GET http://host/path", or "scenario file shop.yaml"
	Scenarios   []scenarioRow
	Config      []kv
	Cards       []card

	Thresholds []thresholdRow
	Findings   []diagnose.Finding

	TimeCharts    []*chart
	LatencyCharts []*chart
	LatencyTable  distTable
	PhaseTable    distTable
	Schedule      []kv
	Shortfall     string
	ConnCharts    []*chart
	Conn          []kv
	H2            []kv // the HTTP/2 accounts; nil when the run neither used nor offered HTTP/2
	Status        *chart
	Errors        []errorRow
	Steps         []stepRow
	StepScenarios bool // the steps are of several scenarios: name them
	Proxies       []proxyRow
	// Sources and Dests are the per-address tables; SourceTW says the
	// sources have TIME_WAIT readings, Ports the range each address has.
	Sources  []sourceRow
	SourceTW bool
	Ports    int
	Dests    []destRow
}

type sourceRow struct {
	Addr           string
	Dialed         int64
	TimeWait, Peak int
}

type destRow struct {
	Addr                     string
	Dialed, Requests, Errors int64
	P50, P99, Max            string
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

// distTable is a table of distributions, a row each: the latency table
// and the phase table (Count adds a count column).
type distTable struct {
	Head  string // the first column's heading
	Count bool
	Rows  []distTableRow
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
	p.Target = m.target()
	if m.manyScenarios() {
		for _, sc := range m.Scenarios {
			p.Scenarios = append(p.Scenarios, scenarioRow{Name: sc.Name, Model: scenarioModel(sc), Steps: stepsText(sc)})
		}
	} else {
		p.Config = append(p.Config, kv{"model", modelText(m)})
	}
	p.Title = "faya report: " + cmp.Or(m.File, p.Target)
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
		if c := idleChart(r); c != nil {
			p.ConnCharts = append(p.ConnCharts, c)
		}
	}
	if len(r.LatencySpectrum) > 0 {
		p.LatencyCharts = append(p.LatencyCharts, spectrumChart(r))
	}
	if c := phasesChart(r); c != nil {
		p.LatencyCharts = append(p.LatencyCharts, c)
	}
	p.LatencyTable, p.PhaseTable = distTables(r)
	if m.Open {
		p.Schedule, p.Shortfall = scheduleRows(r)
	}
	p.Conn = connRows(r)
	p.H2 = h2Rows(r)
	p.Status = statusChart(r)
	for _, k := range sortedKeys(r.Errors) {
		e := r.Errors[k]
		p.Errors = append(p.Errors, errorRow{Class: k, Count: strconv.FormatInt(e.Count, 10), Example: e.Example})
	}
	p.Steps, p.StepScenarios = stepRows(r.Steps)
	p.Proxies = proxyRows(r.Proxies)
	p.addressRows(r)
	return p
}

// addressRows fill the per-address tables.
func (p *htmlPage) addressRows(r *Report) {
	a := r.Addresses
	if a == nil {
		return
	}
	for _, s := range a.Sources {
		row := sourceRow{Addr: s.Addr, Dialed: s.Dialed}
		if s.TimeWait != nil && s.TimeWaitPeak != nil {
			p.SourceTW = true
			row.TimeWait, row.Peak = *s.TimeWait, *s.TimeWaitPeak
		}
		p.Sources = append(p.Sources, row)
	}
	p.Ports = r.Sockets.PortHi - r.Sockets.PortLo + 1
	for _, d := range a.Destinations {
		row := destRow{Addr: d.Addr, Dialed: d.Dialed, Requests: d.Requests, Errors: d.Errors, P50: "-", P99: "-", Max: "-"}
		if d.Latency.Count > 0 {
			row.P50, row.P99, row.Max = Duration(d.Latency.P50), Duration(d.Latency.P99), Duration(d.Latency.Max)
		}
		p.Dests = append(p.Dests, row)
	}
}

// distTables are the latency table (latency, service time, schedule lag)
// and the phase table; both empty when no request completed.
func distTables(r *Report) (latency, phases distTable) {
	latency, phases = distTable{}, distTable{Head: "phase", Count: true}
	if r.Latency.Count > 0 {
		latency.add("latency", r.Latency)
		latency.add("service time", r.ServiceTime)
		if r.Lag.Count > 0 {
			latency.add("schedule lag", r.Lag)
		}
	}
	for ph := range metrics.NumPhases {
		name := metrics.Phase(ph).String()
		if d, ok := r.Phases[name]; ok {
			phases.add(name, d)
		}
	}
	return latency, phases
}

// stepRows are the step table's rows; several says the steps are of
// more than one scenario, which the table then names.
func stepRows(steps []Step) (rows []stepRow, several bool) {
	scenarios := map[string]bool{}
	for _, s := range steps {
		scenarios[s.Scenario] = true
	}
	for _, s := range steps {
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
		rows = append(rows, row)
	}
	return rows, len(scenarios) > 1
}

// proxyRows are the proxy table's rows.
func proxyRows(proxies []ProxyReport) []proxyRow {
	var rows []proxyRow
	for _, pr := range proxies {
		hs := "-"
		if pr.HandshakeMean > 0 {
			hs = Duration(pr.HandshakeMean)
		}
		rows = append(rows, proxyRow{URL: pr.URL, Requests: pr.Requests, Errors: pr.Errors, Dialed: pr.Dialed,
			Fresh: pr.Fresh, Reuse: pr.Reused, Handshake: hs})
	}
	return rows
}

func stepsText(sc ScenarioMeta) string {
	s := plural(sc.Steps, "step")
	if sc.SetupSteps > 0 {
		s += " + " + plural(sc.SetupSteps, "setup step")
	}
	return s
}

// limit formats a pool limit (0 or negative: none).
func limit(n int) string {
	if n <= 0 {
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
	if dns := dnsRow(m.Pool); dns != "" {
		out = append(out, kv{"DNS", dns})
	}
	if m.Pool.InsecureSkipVerify {
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

// add adds d's row, named name.
func (t *distTable) add(name string, d Dist) {
	row := distTableRow{Name: name, Cells: []string{
		Duration(d.P50), Duration(d.P90), Duration(d.P95), Duration(d.P99), Duration(d.P999), Duration(d.Max), Duration(d.Mean),
	}}
	if t.Count {
		row.Cells = append(row.Cells, strconv.FormatInt(d.Count, 10))
	}
	t.Rows = append(t.Rows, row)
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

// dnsRow describes the pool's DNS settings when any is not the default
// (one lookup per name for the run, the first address, both families).
func dnsRow(p Pool) string {
	if p.DNSTTL == 0 && p.DNSMode == transport.DNSFirst && p.IPFamily == transport.IPAny {
		return ""
	}
	ttl := "looked up once per name for the run"
	switch {
	case p.DNSTTL < 0:
		ttl = "looked up on every new connection (--dns-ttl 0)"
	case p.DNSTTL > 0:
		ttl = "answers kept " + p.DNSTTL.String() + " (--dns-ttl)"
	}
	family := "IPv4 and IPv6"
	if p.IPFamily != transport.IPAny {
		family = "IPv" + string(p.IPFamily) + " only"
	}
	return ttl + " · dials the " + map[transport.DNSMode]string{transport.DNSFirst: "first address", transport.DNSRoundRobin: "addresses in turn", transport.DNSRandom: "addresses at random"}[p.DNSMode] + " · " + family
}
