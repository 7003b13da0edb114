package report_test

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/report"
)

// timelineLen is the number of points of richFixture's timeline.
const timelineLen = 30

// richFixture is a scenario run with every part of the HTML report: a
// 30-second timeline with a ramp and a stall, steps with failed checks,
// thresholds, findings, two proxies, errors.
func richFixture() report.Run {
	run := fixture()
	sc := scenarioFixture()
	total := run.Total
	total.Merge(sc.Total)

	rec := metrics.NewRecorder(1)
	sh := rec.Shard(0)
	hs := int(metrics.Proxy - metrics.Blocked)
	for i := range 40 {
		s := &metrics.Sample{Status: 200, Latency: 2 * time.Millisecond, Proxy: 1 + i%2, Reused: 1}
		if i < 2 {
			s.Reused, s.Fresh = 0, 1
			s.Phases[hs], s.PhaseSet = 400*time.Microsecond, 1<<hs
		}
		sh.Record(s, nil)
	}
	rec.ProxyDialed(0)
	rec.ProxyDialed(1)
	total.Merge(rec.Flush(nil))

	run.Total = total
	run.Meta.File, run.Meta.Scenarios = sc.Meta.File, sc.Meta.Scenarios
	run.Meta.Proxies = []string{"http://127.0.0.1:3128", "socks5://u:xxxxx@127.0.0.1:1080"}
	run.Meta.ProxyMode = "round-robin"
	run.Steps, run.Thresholds = sc.Steps, sc.Thresholds
	run.Duration = timelineLen * time.Second

	run.Timeline = make([]metrics.Point, timelineLen)
	for i := range run.Timeline {
		p := metrics.Point{T: time.Duration(i+1) * time.Second, TimeWait: -1}
		wave := math.Sin(float64(i) / 3)
		p.Requests = int64(1000 + 120*wave)
		p.P50 = time.Duration(900+int64(80*wave)) * time.Microsecond
		p.P99 = time.Duration(2500+int64(400*wave)) * time.Microsecond
		p.ConnsOpen, p.ConnsActive = 8, int64(5+2*wave)
		switch {
		case i < 5: // ramp up
			p.Requests = int64(200 * (i + 1))
			p.Dialed, p.ConnsOpen, p.ConnsActive = 2, int64(2*(i+1)), int64(2*(i+1)-1)
		case i >= 18 && i < 22: // a stall: errors, slow requests, new connections
			p.Requests, p.Errors, p.Dialed = 300, 40, 6
			p.P50, p.P99 = 4*time.Millisecond, 42*time.Millisecond
			p.ConnsOpen, p.ConnsActive = 12, 12
		}
		p.RPS = float64(p.Requests)
		run.Timeline[i] = p
	}
	return run
}

func renderHTML(t *testing.T, rep *report.Report) string {
	t.Helper()
	var buf bytes.Buffer
	if err := report.HTML(&buf, rep); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestHTMLGolden(t *testing.T) {
	rep := report.Build(fixture())
	out := renderHTML(t, rep)
	golden(t, "report.html.golden", []byte(out))
	if again := renderHTML(t, rep); again != out {
		t.Error("two renderings of the same report differ")
	}
}

func TestHTMLScenarioGolden(t *testing.T) {
	golden(t, "report-scenario.html.golden", []byte(renderHTML(t, report.Build(scenarioFixture()))))
}

var (
	svgRe  = regexp.MustCompile(`<svg class="chart" data-chart="([^"]+)"`)
	pathRe = regexp.MustCompile(`<path data-series="([^"]+)" data-points="(\d+)" d="([^"]*)"`)
	rectRe = regexp.MustCompile(`<rect data-series="([^"]+)" data-points="1" data-value="(\d+)" x="([-\d.]+)" y="([-\d.]+)" width="([-\d.]+)" height="([-\d.]+)"`)
	cmdRe  = regexp.MustCompile(`([ML])([-\d.]+) ([-\d.]+)`)
)

// htmlCharts splits a page into its charts' SVG, by name.
func htmlCharts(t *testing.T, page string) (names []string, svg map[string]string) {
	t.Helper()
	svg = map[string]string{}
	locs := svgRe.FindAllStringSubmatchIndex(page, -1)
	for _, loc := range locs {
		name := page[loc[2]:loc[3]]
		end := strings.Index(page[loc[0]:], "</svg>")
		if end < 0 {
			t.Fatalf("chart %s has no </svg>", name)
		}
		if _, dup := svg[name]; dup {
			t.Errorf("two charts named %s", name)
		}
		names = append(names, name)
		svg[name] = page[loc[0] : loc[0]+end]
	}
	return names, svg
}

// The charts are there, in order, each with its series and as many
// points as the data has.
func TestHTMLCharts(t *testing.T) {
	rep := report.Build(richFixture())
	page := renderHTML(t, rep)
	names, svg := htmlCharts(t, page)
	want := []string{"throughput", "latency", "spectrum", "phases", "dials", "connections", "status"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("charts %v, want %v", names, want)
	}
	if strings.Count(page, `class="chart"`) != len(want) {
		t.Errorf("%d elements of class chart, want %d", strings.Count(page, `class="chart"`), len(want))
	}

	lines := map[string][]string{
		"throughput":  {"requests/s", "errors/s"},
		"latency":     {"p50", "p99"},
		"dials":       {"requests/s", "new connections/s"},
		"connections": {"open", "active", "idle"},
		"spectrum":    {"latency"},
	}
	for chart, series := range lines {
		paths := pathRe.FindAllStringSubmatch(svg[chart], -1)
		if len(paths) != len(series) {
			t.Errorf("%s: %d paths, want %d (%v)", chart, len(paths), len(series), series)
			continue
		}
		wantPoints := timelineLen
		if chart == "spectrum" {
			wantPoints = len(rep.LatencySpectrum)
		}
		for i, p := range paths {
			if p[1] != series[i] {
				t.Errorf("%s: series %d is %q, want %q", chart, i, p[1], series[i])
			}
			n, _ := strconv.Atoi(p[2])
			cmds := cmdRe.FindAllStringSubmatch(p[3], -1)
			if n != wantPoints || len(cmds) != wantPoints {
				t.Errorf("%s %s: data-points %d, %d points in d, want %d", chart, p[1], n, len(cmds), wantPoints)
				continue
			}
			// x grows from point to point: the series is drawn in order.
			prev := math.Inf(-1)
			for j, c := range cmds {
				x, _ := strconv.ParseFloat(c[2], 64)
				if (j == 0) != (c[1] == "M") || x <= prev {
					t.Errorf("%s %s: point %d %q out of order", chart, p[1], j, c[0])
					break
				}
				prev = x
			}
		}
		if got := strings.Count(svg[chart], "<circle "); chart != "spectrum" && got != len(series)*timelineLen {
			t.Errorf("%s: %d point markers, want %d", chart, got, len(series)*timelineLen)
		}
	}

	// The error bump of the stall is drawn higher (a smaller y) than the
	// quiet seconds around it.
	errs := cmdRe.FindAllStringSubmatch(pathRe.FindAllStringSubmatch(svg["throughput"], -1)[1][3], -1)
	if y0, y19 := errs[0][3], errs[19][3]; mustFloat(t, y19) >= mustFloat(t, y0) {
		t.Errorf("errors/s at 20s drawn at y %s, not above the y %s of 1s", y19, y0)
	}

	// Phases: one bar per phase present and percentile (p50, p90, p99),
	// its value the phase's percentile.
	rects := rectRe.FindAllStringSubmatch(svg["phases"], -1)
	if len(rects) != 3*len(rep.Phases) {
		t.Errorf("phases: %d bars, want 3 × %d phases", len(rects), len(rep.Phases))
	}
	seen := map[string]int{}
	for _, r := range rects {
		d, ok := rep.Phases[r[1]]
		if !ok {
			t.Errorf("phases: a bar for %q, which is not in the report", r[1])
			continue
		}
		want := []int64{d.P50, d.P90, d.P99}[seen[r[1]]]
		if r[2] != strconv.FormatInt(want, 10) || mustFloat(t, r[5]) <= 0 || mustFloat(t, r[6]) <= 0 {
			t.Errorf("phases: bar %q value %s width %s height %s, want value %d and a positive size", r[1], r[2], r[5], r[6], want)
		}
		seen[r[1]]++
	}

	// Status: a bar per code, the longest for 200.
	rects = rectRe.FindAllStringSubmatch(svg["status"], -1)
	if len(rects) != len(rep.Status) {
		t.Errorf("status: %d bars, want %d", len(rects), len(rep.Status))
	}
	for _, r := range rects {
		if r[2] != strconv.FormatInt(rep.Status[r[1]], 10) {
			t.Errorf("status %s: value %s, want %d", r[1], r[2], rep.Status[r[1]])
		}
		if r[1] != "200" && mustFloat(t, r[5]) >= mustFloat(t, rects[0][5]) {
			t.Errorf("status %s: bar %s wide, not shorter than 200's %s", r[1], r[5], rects[0][5])
		}
	}

	// Every chart has a legend or labels, and tick labels.
	for _, name := range want {
		if strings.Count(svg[name], "<text ") < 4 {
			t.Errorf("%s: fewer than 4 labels", name)
		}
	}
	for _, s := range []string{"login", "status 404, want [200]", "socks5://u:xxxxx@127.0.0.1:1080", "checks &gt; 99%", "shop.yaml", "browse", "buyers"} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	if strings.Contains(page, "<th>scenario</th><th>step</th>") {
		t.Error("the steps of one scenario are named with it")
	}
	rep.Steps[0].Scenario = "buyers"
	if page := renderHTML(t, rep); !strings.Contains(page, "<th>scenario</th><th>step</th>") || !strings.Contains(page, "<tr><td>buyers</td>") {
		t.Error("the steps of two scenarios are not named with them")
	}
}

func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Text from the run (a URL, a step's name, an error message, a finding)
// is escaped: none of it becomes markup.
func TestHTMLEscapes(t *testing.T) {
	const hostile = `<script>alert("x")</script>`
	rep := report.Build(richFixture())
	rep.Run.File = "shop.yaml" + hostile
	rep.Run.Scenarios[0].Name = hostile
	rep.Steps[1].Name = hostile
	rep.Steps[2].CheckFailure = hostile
	rep.Findings[0].Title, rep.Findings[0].Evidence, rep.Findings[0].Fix = hostile, hostile, hostile
	rep.Errors["refused"] = report.ErrorClass{Count: 1, Example: `dial "<img src=x onerror=alert(1)>"`}
	rep.Proxies[0].URL = "http://" + hostile
	rep.Thresholds[0].Threshold = hostile
	single := report.Build(fixture())
	single.Run.URL = "http://127.0.0.1/?q=" + hostile
	single.Run.Method = hostile
	for name, r := range map[string]*report.Report{"scenario": rep, "url": single} {
		page := renderHTML(t, r)
		low := strings.ToLower(page)
		for _, bad := range []string{"<script", "<img"} {
			if strings.Contains(low, bad) {
				i := strings.Index(low, bad)
				t.Errorf("%s: %q in the page: %s", name, bad, page[max(i-80, 0):min(i+80, len(page))])
			}
		}
		if !strings.Contains(page, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
			t.Errorf("%s: the escaped text is missing", name)
		}
	}
}

// The page loads nothing: no script, style sheet, image, frame or font
// from anywhere, and the only URLs in it are the run's own.
func TestHTMLSelfContained(t *testing.T) {
	for name, rep := range map[string]*report.Report{
		"url": report.Build(fixture()), "scenario": report.Build(scenarioFixture()),
		"rich": report.Build(richFixture()), "open": report.Build(openFixture()), "empty": report.Build(emptyRun()),
	} {
		page := renderHTML(t, rep)
		low := strings.ToLower(page)
		for _, bad := range []string{"<script", "<link", "<img", "<iframe", "<object", "<embed", "<image", "<use", "<base",
			" src=", " href=", "xlink:", "url(", "@import", "@font-face", "javascript:"} {
			if strings.Contains(low, bad) {
				t.Errorf("%s: %q in the page", name, bad)
			}
		}
		rest := strings.ReplaceAll(page, rep.Run.URL, "")
		for _, p := range rep.Run.Proxies {
			rest = strings.ReplaceAll(rest, p, "")
		}
		if rep.Run.URL != "" && !strings.Contains(page, rep.Run.URL) && rep.Run.File == "" {
			t.Errorf("%s: the run's URL %s is not in the page", name, rep.Run.URL)
		}
		if i := strings.Index(rest, "://"); i >= 0 {
			t.Errorf("%s: a URL other than the run's: %s", name, rest[max(i-40, 0):min(i+40, len(rest))])
		}
	}
}

// The open model's page has the schedule and its shortfall; a partial
// run says so.
func TestHTMLOpenModel(t *testing.T) {
	rep := report.Build(openFixture())
	rep.Partial = true
	page := renderHTML(t, rep)
	for _, want := range []string{
		`<h2 id="schedule">Schedule</h2>`, "Shortfall (vus)", "rate achieved", "1800.0/s", "target 2000.0/s",
		"open model: 2000/s for 1s, 10 VUs pre-allocated, at most 20", "Partial: the run was interrupted",
		"Open model: from the intended start",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(renderHTML(t, report.Build(fixture())), `id="schedule"`) {
		t.Error("a closed-model page has a schedule section")
	}
}

// A 90-minute timeline: the time axis counts in minutes and hours, and
// the lines go without point markers.
func TestHTMLLongTimeline(t *testing.T) {
	rep := report.Build(fixture())
	rep.Timeline = make([]report.Point, 5400)
	for i := range rep.Timeline {
		rep.Timeline[i] = report.Point{T: int64(i+1) * int64(time.Second), Requests: 1000, RPS: 1000, P50: 1e6, P99: 3e6, ConnsOpen: 4, ConnsActive: 3, ConnsIdle: 1}
	}
	page := renderHTML(t, rep)
	_, svg := htmlCharts(t, page)
	for _, name := range []string{"throughput", "latency", "dials", "connections"} {
		for _, tick := range []string{">15m<", ">45m<", ">1h<", ">1h15m<", ">1h30m<"} {
			if !strings.Contains(svg[name], tick) {
				t.Errorf("%s: no tick %s", name, tick)
			}
		}
		if strings.Contains(svg[name], "<circle") {
			t.Errorf("%s: point markers on 5400 points", name)
		}
		for _, p := range pathRe.FindAllStringSubmatch(svg[name], -1) {
			if p[2] != "5400" {
				t.Errorf("%s %s: data-points %s, want 5400", name, p[1], p[2])
			}
		}
	}
}

// A run without data renders, without charts.
func TestHTMLEmpty(t *testing.T) {
	page := renderHTML(t, report.Build(emptyRun()))
	if names, _ := htmlCharts(t, page); len(names) != 0 {
		t.Errorf("charts %v for an empty run", names)
	}
	if !strings.Contains(page, "No request completed.") {
		t.Error("the empty run's page does not say no request completed")
	}
}

// emptyRun is a run that recorded nothing.
func emptyRun() report.Run {
	return report.Run{Result: engine.Result{Total: metrics.NewRecorder(1).Flush(nil)}}
}

func TestLatencySpectrum(t *testing.T) {
	for name, run := range map[string]report.Run{"url": fixture(), "open": openFixture(), "scenario": scenarioFixture()} {
		rep := report.Build(run)
		sp := rep.LatencySpectrum
		if len(sp) != len(report.SpectrumPercentiles) {
			t.Fatalf("%s: %d points, want %d", name, len(sp), len(report.SpectrumPercentiles))
		}
		for i, p := range sp {
			if p.Percentile != report.SpectrumPercentiles[i] {
				t.Errorf("%s: point %d at percentile %v, want %v", name, i, p.Percentile, report.SpectrumPercentiles[i])
			}
			if i > 0 && p.Value < sp[i-1].Value {
				t.Errorf("%s: %v at p%v is below %v at p%v", name, p.Value, p.Percentile, sp[i-1].Value, sp[i-1].Percentile)
			}
		}
		at := map[float64]int64{}
		for _, p := range sp {
			at[p.Percentile] = p.Value
		}
		l := rep.Latency
		if sp[len(sp)-1].Value != l.Max || at[50] != l.P50 || at[90] != l.P90 || at[99] != l.P99 || at[99.9] != l.P999 {
			t.Errorf("%s: spectrum %v disagrees with the latency %+v", name, sp, l)
		}
		if sp[0].Value > l.Min || sp[0].Value < l.Min*999/1000 {
			t.Errorf("%s: p0 %d, want the minimum %d (within the histogram's precision)", name, sp[0].Value, l.Min)
		}
	}
	// fixture's latencies are 500µs to 1.5ms, one per µs, and a 1ms error:
	// p10 is about 600µs.
	sp := report.Build(fixture()).LatencySpectrum
	if v := sp[1].Value; v < 595_000 || v > 605_000 {
		t.Errorf("p10 = %d, want about 600µs", v)
	}

	empty := report.Build(emptyRun())
	if empty.LatencySpectrum == nil || len(empty.LatencySpectrum) != 0 {
		t.Errorf("empty run's spectrum %#v, want an empty slice", empty.LatencySpectrum)
	}
	var buf bytes.Buffer
	if err := report.JSON(&buf, empty); err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if string(doc["latency_spectrum"]) != "[]" {
		t.Errorf("latency_spectrum = %s, want []", doc["latency_spectrum"])
	}
}

// A run whose pool closed idle connections gets the idle chart: the idle
// connections and, per interval, those closed idle by IdleConnTimeout and
// by the server, each point at its count; a run without idle closes has
// no such chart (TestHTMLCharts).
func TestHTMLIdleChart(t *testing.T) {
	run := richFixture()
	for i := range run.Timeline {
		p := &run.Timeline[i]
		switch i {
		case 20:
			p.ServerIdleCloses = 6
		case 21:
			p.ServerIdleCloses, p.IdleTimeoutCloses = 2, 1
		}
	}
	rep := report.Build(run)
	names, svg := htmlCharts(t, renderHTML(t, rep))
	if !slices.Contains(names, "idle") {
		t.Fatalf("charts %v: no idle chart", names)
	}
	paths := pathRe.FindAllStringSubmatch(svg["idle"], -1)
	want := []string{"idle", "closed by IdleConnTimeout", "closed idle by the server"}
	if len(paths) != len(want) {
		t.Fatalf("idle chart: %d series, want %v", len(paths), want)
	}
	for i, p := range paths {
		if p[1] != want[i] {
			t.Errorf("idle chart: series %d is %q, want %q", i, p[1], want[i])
		}
	}
	// The server's line peaks at 6 (t=21s): its y is the highest on the
	// chart (smallest), above the 2 of the next second and the 0s.
	ys := cmdRe.FindAllStringSubmatch(paths[2][3], -1)
	y0, y20, y21 := mustFloat(t, ys[0][3]), mustFloat(t, ys[20][3]), mustFloat(t, ys[21][3])
	if !(y20 < y21 && y21 < y0) {
		t.Errorf("server idle closes drawn at y %v (0s), %v (6 closes), %v (2 closes): want 6 above 2 above 0", y0, y20, y21)
	}
	if rep.Timeline[20].ServerIdleCloses != 6 || rep.Timeline[21].IdleTimeoutCloses != 1 {
		t.Errorf("timeline points %+v %+v do not carry the closes", rep.Timeline[20], rep.Timeline[21])
	}
}
