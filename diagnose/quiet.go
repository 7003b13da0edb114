package diagnose

import (
	"fmt"
	"math"
	"time"

	"github.com/faya-load/faya/metrics"
)

// Stage is one stage of a ramping plan: the load goes linearly from From
// to To over Duration (VUs, or arrivals per second with
// [Config.StagesRate]).
type Stage struct {
	Duration time.Duration
	From, To float64
}

// MinQuietStage is the shortest quiet stage the idle-in-quiet-hours
// finding judges: in a shorter one a pool's idle connections are a
// moment's, not an hour's.
const MinQuietStage = 3 * time.Second

// quietShare is how far below the busy peak before it a stretch of the
// plan must be to count as quiet: at most this share of the peak.
const quietShare = 0.5

// quiet is the quiet stretch of a ramping plan: from start to end of the
// run, the load at most level there, after a peak of peak before it.
type quiet struct {
	start, end  time.Duration
	level, peak float64
}

func (q quiet) length() time.Duration { return q.end - q.start }

// quietStretch finds the longest run of consecutive stages whose planned
// load stays at most quietShare of the highest load planned before them
// (the busy stage): a ramp down's hold. A ramp's stage that crosses that
// line is neither busy nor quiet. ok is false when the plan never comes
// down to a quiet stage.
func quietStretch(stages []Stage) (q quiet, ok bool) {
	var cur quiet
	in := false
	peak := 0.0
	t := time.Duration(0)
	for _, st := range stages {
		if st.Duration <= 0 {
			continue
		}
		hi := math.Max(st.From, st.To)
		switch {
		case peak > 0 && hi <= quietShare*peak && in:
			cur.end, cur.level = t+st.Duration, math.Max(cur.level, hi)
		case peak > 0 && hi <= quietShare*peak:
			cur, in = quiet{start: t, end: t + st.Duration, level: hi, peak: peak}, true
		default:
			in = false
		}
		if in && (!ok || cur.length() > q.length()) {
			q, ok = cur, true
		}
		peak = math.Max(peak, hi)
		t += st.Duration
	}
	return q, ok
}

// quietCount is what the time series says about a quiet stretch.
type quietCount struct {
	points                 int
	open, idle             int64 // the most connections open, and idle, in it (and just before it)
	busy                   int64 // the most requests in flight in it (VUs busy, connections active)
	serverIdle, clientIdle int64 // closed while idle in it, by the server and by IdleConnTimeout
}

// countQuiet sums the points whose interval falls in q (by its middle).
func countQuiet(tl []metrics.Point, q quiet) quietCount {
	var c quietCount
	prev := time.Duration(0)
	var firstBusy int64
	for _, p := range tl {
		mid := prev + (p.T-prev)/2
		start := prev
		prev = p.T
		switch {
		case mid >= q.start && mid <= q.end:
		case p.T >= q.start-time.Second && start < q.start:
			c.open = max(c.open, p.ConnsOpen) // the pool the busy stage left
			continue
		default:
			continue
		}
		c.points++
		c.open = max(c.open, p.ConnsOpen)
		c.idle = max(c.idle, p.ConnsOpen-p.ConnsActive)
		if c.points == 1 {
			// The first interval's busy VUs may be the busy stage's
			// last: counted only when no other interval is.
			firstBusy = max(p.VUsBusy, p.ConnsActive)
		} else {
			c.busy = max(c.busy, p.VUsBusy, p.ConnsActive)
		}
		c.serverIdle += p.ServerIdleCloses
		c.clientIdle += p.IdleTimeoutCloses
	}
	if c.points == 1 {
		c.busy = firstBusy
	}
	return c
}

// roundUpPool rounds a pool size up to a number a person would set: as is
// to 10, then to a multiple of 5 to 100, of 10 to 1000, of 100 above;
// never below MinPool.
func roundUpPool(n int64) int64 {
	up := func(step int64) int64 { return (n + step - 1) / step * step }
	switch {
	case n <= MinPool:
		return MinPool
	case n <= 10:
		return n
	case n <= 100:
		return up(5)
	case n <= 1000:
		return up(10)
	}
	return up(100)
}

// idleInQuietHours reports a ramping run whose quiet stage left the busy
// stage's connections idle until the server closed them: judged only on a
// plan that comes down to a quiet stretch of MinQuietStage or more (and
// not shorter than the server's timeout), with at least
// MinIdleObservations idle closes by the server in it, a server timeout
// that the closes agree on, and a client that did not close first.
func (a *analysis) idleInQuietHours() {
	if a.Config.DisableKeepAlives || len(a.Timeline) == 0 || a.oneRequestEach() {
		return
	}
	q, ok := quietStretch(a.Config.Stages)
	if !ok || q.length() < MinQuietStage {
		return
	}
	server, enough := a.serverTimeout()
	idle := metrics.DistOf(a.s.Hist(metrics.ServerIdleClose))
	if !enough || idle.P90 > 2*idle.Min+time.Second || q.length() < server {
		return // no keep-alive timeout to name, or a stage too short to meet it
	}
	c := countQuiet(a.Timeline, q)
	if c.points < 2 || c.serverIdle < MinIdleObservations || c.clientIdle >= c.serverIdle {
		return
	}
	if a.Config.IdleConnTimeout > 0 && a.Config.IdleConnTimeout <= server {
		return // the client closes first
	}
	unit := "VUs"
	switch {
	case a.Config.StagesRate:
		unit = "requests/s"
	case q.level == 1:
		unit = "VU"
	}
	when := fmt.Sprintf("%s-%s of the run", clockOf(q.start), clockOf(q.end))
	if !a.Start.IsZero() {
		when += fmt.Sprintf(", %s-%s UTC", a.Start.Add(q.start).UTC().Format("15:04:05"), a.Start.Add(q.end).UTC().Format("15:04:05"))
	}
	client := "no IdleConnTimeout"
	if a.Config.IdleConnTimeout > 0 {
		client = fmt.Sprintf("an IdleConnTimeout of %s", a.Config.IdleConnTimeout)
	}
	ev := fmt.Sprintf("In the quiet stage (%s: at most %g %s, after %g) up to %d of %d connections sat idle in the pool. The server closed %d of them while idle, after %s idle at the least (p50 %s over the run's %d idle closes): its keep-alive timeout. The client, with %s, closed %d.",
		when, q.level, unit, q.peak, c.idle, c.open, c.serverIdle, dur(server), dur(idle.P50), idle.Count, client, c.clientIdle)
	if a.s.Retries > 0 {
		ev += fmt.Sprintf(" %d requests were sent on a connection the server had closed and re-sent.", a.s.Retries)
	}
	fix := idleFix(server)
	if fix == "" {
		fix = fmt.Sprintf("raise the server's keep-alive timeout (e.g. nginx keepalive_timeout) well above %s; a client timeout below it would close connections as often", dur(server))
	} else {
		fix += fmt.Sprintf(", below the server's %s, so the client closes the busy stage's idle connections first", dur(server))
	}
	quietConns := c.busy
	if !a.Config.StagesRate {
		quietConns = max(quietConns, int64(math.Ceil(q.level)))
	}
	if n := roundUpPool(quietConns); quietConns > 0 && !a.Config.PerVUPools && (a.Config.MaxIdleConnsPerHost == 0 || n < int64(a.Config.MaxIdleConnsPerHost)) && n < c.open {
		fix += fmt.Sprintf("; or --max-idle-conns-per-host %d (in Go: http.Transport.MaxIdleConnsPerHost = %d), the quiet stage's concurrency (~%d), which keeps fewer idle but closes the busy stage's connections beyond %d after each request (dialed again while it is busy)",
			n, n, quietConns, n)
	}
	a.add(Finding{
		ID:       "idle-in-quiet-hours",
		Severity: Warning,
		Title:    fmt.Sprintf("In the quiet stage %d of %d connections sat idle, and the server closed %d of them after about %s", c.idle, c.open, c.serverIdle, dur(server)),
		Evidence: ev,
		Fix:      fix,
	})
}

// clockOf writes an offset into the run as m:ss (h:mm:ss past an hour),
// with tenths when it is not a whole second.
func clockOf(d time.Duration) string {
	frac := ""
	if r := d % time.Second; r != 0 {
		frac = fmt.Sprintf(".%d", r/(100*time.Millisecond))
	}
	s := int64(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d%s", s/3600, s/60%60, s%60, frac)
	}
	return fmt.Sprintf("%d:%02d%s", s/60, s%60, frac)
}
