package report

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/faya-load/faya/metrics"
)

// The HTML report's charts: each is laid out here, in Go, as lines, paths,
// bars and labels on an SVG view box, and html.tmpl only writes the
// elements. The layout is deterministic: the same report gives the same
// bytes.

// phaseColors are the phases' colors in the charts, by name.
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

// idleChart shows what the pool did with idle connections: the idle
// ones at the end of each interval, and those closed in it while idle, by
// the client's IdleConnTimeout and by the server. Nil when no connection
// was closed idle: then the connections chart says it all.
func idleChart(r *Report) *chart {
	any := false
	for _, p := range r.Timeline {
		any = any || p.IdleTimeoutCloses > 0 || p.ServerIdleCloses > 0
	}
	if !any {
		return nil
	}
	return lineChart("idle", "Idle connections and idle closes",
		"Idle: in the pool at the end of each interval. Closed: in the interval, while idle, by the client (IdleConnTimeout) or by the server (its keep-alive timeout). A quiet stage after a busy one leaves the busy stage's connections idle; the side whose timeout is shorter closes them.",
		timeline(r), partialLast(r), []lineSeries{
			{Name: "idle", Color: colorGray, Ys: perPoint(r, func(p Point, _ float64) float64 { return float64(p.ConnsIdle) }), Dash: true},
			{Name: "closed by IdleConnTimeout", Color: colorTeal, Ys: perPoint(r, func(p Point, _ float64) float64 { return float64(p.IdleTimeoutCloses) })},
			{Name: "closed idle by the server", Color: colorRed, Ys: perPoint(r, func(p Point, _ float64) float64 { return float64(p.ServerIdleCloses) })},
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
