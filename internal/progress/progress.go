package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/metrics"
)

// Options configure a View.
type Options struct {
	// Terminal selects the refreshing view; otherwise plain lines.
	Terminal bool
	// Every is how often a plain line is written (default 5s).
	Every time.Duration
	// Length is the run's planned length (0: bounded by Requests).
	Length time.Duration
	// Requests is the run's planned number of requests (0: bounded by
	// Length).
	Requests int64
	// Config describes the run for the live findings.
	Config diagnose.Config
	// Width is the terminal's width (default 80).
	Width int
	// PortLo and PortHi bound the ephemeral port range, for the TIME_WAIT
	// finding (0: unknown).
	PortLo, PortHi int
}

// View writes the live view. Update is called from one goroutine (the
// engine's collector); Close from another once the run is over.
type View struct {
	w         io.Writer
	o         Options
	mu        sync.Mutex
	drawn     int // lines of the last frame, to rewrite them
	lastPlain time.Duration
	warned    map[string]bool
	timeline  []metrics.Point // recent points, for the findings' time series
	twPeak    int64
	closed    bool
	busy      float64 // the generator's CPU share so far (0: unknown)
	cpus      int
}

// New returns a view writing to w.
func New(w io.Writer, o Options) *View {
	if o.Every <= 0 {
		o.Every = 5 * time.Second
	}
	if o.Width <= 0 {
		o.Width = 80
	}
	return &View{w: w, o: o, warned: map[string]bool{}}
}

// Generator sets how busy the generator's CPUs (cpus of them) have been
// so far, as a share, for the live findings; call it before Update. 0
// means unknown.
func (v *View) Generator(busy float64, cpus int) {
	v.mu.Lock()
	v.busy, v.cpus = busy, cpus
	v.mu.Unlock()
}

// Update shows one interval: p summarises it; total is the run so far.
// Both are read during the call only.
func (v *View) Update(p metrics.Point, total *metrics.Snapshot) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}
	v.timeline = append(v.timeline, p)
	if len(v.timeline) > 600 {
		v.timeline = v.timeline[len(v.timeline)-300:] // bounded memory
	}
	warnings := v.findings(p, total)
	if v.o.Terminal {
		v.clear()
		for _, w := range warnings {
			fmt.Fprintf(v.w, "faya: %s\n", w)
		}
		frame := v.frame(p, total)
		io.WriteString(v.w, frame)
		v.drawn = strings.Count(frame, "\n")
		return
	}
	for _, w := range warnings {
		fmt.Fprintf(v.w, "faya: %s\n", w)
	}
	if p.T-v.lastPlain >= v.o.Every {
		v.lastPlain = p.T
		fmt.Fprintln(v.w, v.plain(p, total))
	}
}

// Close removes the live view (the final report follows).
func (v *View) Close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.o.Terminal {
		v.clear()
	}
	v.closed = true
}

// clear moves the cursor up over the last frame and erases it.
func (v *View) clear() {
	if v.drawn > 0 {
		fmt.Fprintf(v.w, "\x1b[%dA\x1b[J", v.drawn)
		v.drawn = 0
	}
}

// findings returns the warnings that became true with this interval: a
// finding of warning or error severity not shown before. The first two
// seconds are left out (a pool is warming up then).
func (v *View) findings(p metrics.Point, total *metrics.Snapshot) []string {
	if p.T < 2*time.Second {
		return nil
	}
	in := diagnose.Input{Config: v.o.Config, Total: total, Timeline: v.timeline, Duration: p.T, Scheduling: p.T,
		GeneratorBusy: v.busy, CPUs: v.cpus}
	if p.TimeWait >= 0 && v.o.PortHi > v.o.PortLo {
		v.twPeak = max(v.twPeak, p.TimeWait)
		in.Sockets = diagnose.Sockets{Watched: true, TimeWaitAfter: int(p.TimeWait), TimeWaitPeak: int(v.twPeak), PortLo: v.o.PortLo, PortHi: v.o.PortHi}
	}
	var out []string
	for _, f := range diagnose.Analyze(in) {
		if f.Severity == diagnose.Info || v.warned[f.ID] {
			continue
		}
		if f.ID == "rate-shortfall" && p.Dropped == 0 {
			continue // judged at the end; live, only when iterations drop now
		}
		v.warned[f.ID] = true
		out = append(out, warning(f, p.T))
	}
	return out
}

// warning is a finding as the live view shows it. Its text is escaped: a
// finding may quote what a server sent (an error's example), and the view
// is a terminal.
func warning(f diagnose.Finding, at time.Duration) string {
	msg := fmt.Sprintf("[%s at %s] %s", f.Severity, clock(at), metrics.Printable(f.Title))
	if f.Fix != "" {
		msg += "\n      fix: " + metrics.Printable(f.Fix)
	}
	return msg
}

// frame is the terminal view.
func (v *View) frame(p metrics.Point, total *metrics.Snapshot) string {
	var b strings.Builder
	done, label := v.progress(p, total)
	barW := max(10, min(40, v.o.Width-40))
	fill := int(done * float64(barW))
	fmt.Fprintf(&b, "faya  [%s%s] %3.0f%%  %s\n", strings.Repeat("=", fill), strings.Repeat(" ", barW-fill), 100*done, label)
	errPct := 0.0
	if p.Requests > 0 {
		errPct = 100 * float64(p.Errors) / float64(p.Requests)
	}
	fmt.Fprintf(&b, "  %s req/s   errors %d (%.2f%%)   p50 %s   p99 %s   (last second)\n",
		count(int64(p.RPS+0.5)), p.Errors, errPct, dur(p.P50), dur(p.P99))
	fmt.Fprintf(&b, "  conns open %d (active %d, idle %d)   new %d/s   VUs busy %d   total %s requests, %s errors\n",
		p.ConnsOpen, p.ConnsActive, p.ConnsOpen-p.ConnsActive, p.Dialed, p.VUsBusy, count(total.Requests), count(total.Errors+total.HTTPErrors))
	if p.Intended > 0 || p.Dropped > 0 {
		fmt.Fprintf(&b, "  schedule: %d intended, %d dropped, lag p99 %s\n", p.Intended, p.Dropped, dur(p.LagP99))
	}
	if p.TimeWait >= 0 {
		fmt.Fprintf(&b, "  TIME_WAIT to the target %d\n", p.TimeWait)
	}
	return b.String()
}

// plain is the line written where there is no terminal.
func (v *View) plain(p metrics.Point, total *metrics.Snapshot) string {
	_, label := v.progress(p, total)
	return fmt.Sprintf("faya: %s  %s req/s, %d errors, p99 %s, conns %d open, %d new/s; total %s requests",
		label, count(int64(p.RPS+0.5)), p.Errors, dur(p.P99), p.ConnsOpen, p.Dialed, count(total.Requests))
}

// progress is how much of the run is done (0-1) and its label.
func (v *View) progress(p metrics.Point, total *metrics.Snapshot) (float64, string) {
	if v.o.Length > 0 {
		done := min(1, float64(p.T)/float64(v.o.Length))
		return done, fmt.Sprintf("%s / %s  (remaining %s)", clock(p.T), clock(v.o.Length), clock(max(0, v.o.Length-p.T)))
	}
	if v.o.Requests > 0 {
		done := min(1, float64(total.Requests)/float64(v.o.Requests))
		return done, fmt.Sprintf("%s / %s requests  (%s)", count(total.Requests), count(v.o.Requests), clock(p.T))
	}
	return 0, clock(p.T)
}

func clock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// dur writes a latency with three significant digits.
func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d)
	case d < time.Millisecond:
		return fmt.Sprintf("%.3gµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.3gms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.3gs", d.Seconds())
}

// count writes n with thousands separators.
func count(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}
