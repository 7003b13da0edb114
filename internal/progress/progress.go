package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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
	// Width and Height are the terminal's size (default 80x24); Size,
	// when set, is asked before each frame (the terminal may be resized)
	// and returns 0s when it cannot tell.
	Width, Height int
	Size          func() (width, height int)
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
	notes     []string // to print with the next frame
	busy      float64  // the generator's CPU share so far (0: unknown)
	cpus      int
	// Connections closed idle since the last plain line, by the client's
	// IdleConnTimeout and by the server.
	idleClosed, serverIdleClosed int64
}

// New returns a view writing to w.
func New(w io.Writer, o Options) *View {
	if o.Every <= 0 {
		o.Every = 5 * time.Second
	}
	if o.Width <= 0 {
		o.Width = 80
	}
	if o.Height <= 0 {
		o.Height = 24
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

// Note prints msg once, with the next frame (above it).
func (v *View) Note(msg string) {
	v.mu.Lock()
	v.notes = append(v.notes, msg)
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
	warnings := append(v.notes, v.findings(p, total)...)
	v.notes = nil
	if v.o.Terminal {
		v.clear()
		width, height := v.size()
		for _, w := range warnings {
			for _, l := range strings.Split("faya: "+w, "\n") {
				for _, l := range wrap(l, width-1) {
					fmt.Fprintln(v.w, l)
				}
			}
		}
		frame := v.frame(p, total, width, height)
		io.WriteString(v.w, frame)
		v.drawn = strings.Count(frame, "\n")
		return
	}
	for _, w := range warnings {
		fmt.Fprintf(v.w, "faya: %s\n", w)
	}
	v.idleClosed += p.IdleTimeoutCloses
	v.serverIdleClosed += p.ServerIdleCloses
	if p.T-v.lastPlain >= v.o.Every {
		fmt.Fprintln(v.w, v.plain(p, total))
		v.lastPlain = p.T
		v.idleClosed, v.serverIdleClosed = 0, 0
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

// size returns the terminal's size.
func (v *View) size() (width, height int) {
	if v.o.Size != nil {
		if w, h := v.o.Size(); w > 0 && h > 0 {
			return w, h
		}
	}
	return v.o.Width, v.o.Height
}

// frame is the terminal view. Every line fits the terminal (a line the
// terminal wrapped would leave a stale line at the next redraw, which
// moves up over the lines written): parts that do not fit go to the next
// line, a part longer than the width is cut, and the frame is at most the
// terminal's height less one line.
func (v *View) frame(p metrics.Point, total *metrics.Snapshot, width, height int) string {
	done, label := v.progress(p, total)
	// The bar takes what the line leaves, from 10 to 40 columns.
	rest := len("faya  [] 100%  ") + runes(strings.Join(label, "  "))
	barW := max(10, min(40, width-1-rest))
	fill := int(done * float64(barW))
	lines := [][]string{append([]string{fmt.Sprintf("faya  [%s%s] %3.0f%%", strings.Repeat("=", fill), strings.Repeat(" ", barW-fill), 100*done)}, label...)}
	errPct := 0.0
	if p.Requests > 0 {
		errPct = 100 * float64(p.Errors) / float64(p.Requests)
	}
	lines = append(lines, []string{
		"  " + count(int64(p.RPS+0.5)) + " req/s", fmt.Sprintf("errors %d (%.2f%%)", p.Errors, errPct),
		"p50 " + dur(p.P50), "p99 " + dur(p.P99), "(last second)",
	}, []string{
		fmt.Sprintf("  conns open %d (active %d, idle %d)", p.ConnsOpen, p.ConnsActive, p.ConnsOpen-p.ConnsActive),
		fmt.Sprintf("new %d/s", p.Dialed), fmt.Sprintf("VUs busy %d", p.VUsBusy),
		fmt.Sprintf("total %s requests, %s errors", count(total.Requests), count(total.Errors+total.HTTPErrors)),
	})
	if p.IdleTimeoutCloses > 0 || p.ServerIdleCloses > 0 {
		lines = append(lines, []string{fmt.Sprintf("  closed idle %d by IdleConnTimeout, %d by the server", p.IdleTimeoutCloses, p.ServerIdleCloses), "(last second)"})
	}
	if p.Intended > 0 || p.Dropped > 0 {
		lines = append(lines, []string{fmt.Sprintf("  schedule: %d intended, %d dropped", p.Intended, p.Dropped), "lag p99 " + dur(p.LagP99)})
	}
	if p.TimeWait >= 0 {
		lines = append(lines, []string{fmt.Sprintf("  TIME_WAIT to the target %d", p.TimeWait)})
	}
	out := fit(lines[0], "  ", width-1)
	for _, l := range lines[1:] {
		out = append(out, fit(l, "   ", width-1)...)
	}
	if len(out) > height-1 {
		out = out[:max(1, height-1)]
	}
	return strings.Join(out, "\n") + "\n"
}

// fit lays out a line's parts (the first carrying the line's indent) in
// lines of at most width columns: parts are joined by sep, a part that
// does not fit starts a new line, indented two columns more, and a part
// wider than a line is cut, its end marked with "~".
func fit(parts []string, sep string, width int) []string {
	width = max(width, 8)
	indent := "  " + strings.Repeat(" ", len(parts[0])-len(strings.TrimLeft(parts[0], " ")))
	var out []string
	cur := ""
	for i, part := range parts {
		switch {
		case i == 0:
			cur = part
		case runes(cur)+len(sep)+runes(part) <= width:
			cur += sep + part
		default:
			out = append(out, cut(cur, width))
			cur = indent + part
		}
	}
	return append(out, cut(cur, width))
}

// wrap breaks s at spaces into lines of at most width columns, each
// continuation indented as s is plus two columns; a word wider than a line
// is cut.
func wrap(s string, width int) []string {
	width = max(width, 8)
	indent := strings.Repeat(" ", len(s)-len(strings.TrimLeft(s, " "))+2)
	var out []string
	for runes(s) > width {
		r := []rune(s)
		i := strings.LastIndexByte(string(r[:width+1]), ' ')
		if i <= len(indent) {
			out = append(out, cut(s, width))
			s = ""
			break
		}
		out = append(out, strings.TrimRight(string(r[:width+1])[:i], " "))
		s = indent + strings.TrimLeft(string(r[:width+1])[i:]+string(r[width+1:]), " ")
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

// cut shortens s to width columns, marking the cut.
func cut(s string, width int) string {
	r := []rune(s)
	if len(r) <= width {
		return s
	}
	return string(r[:width-1]) + "~"
}

// runes is the width of s in columns (the frame's characters are one
// column each).
func runes(s string) int { return utf8.RuneCountInString(s) }

// plain is the line written where there is no terminal.
func (v *View) plain(p metrics.Point, total *metrics.Snapshot) string {
	_, label := v.progress(p, total)
	idle := ""
	if v.idleClosed > 0 || v.serverIdleClosed > 0 {
		idle = fmt.Sprintf(", closed idle since %s: %d by IdleConnTimeout, %d by the server", clock(v.lastPlain), v.idleClosed, v.serverIdleClosed)
	}
	return fmt.Sprintf("faya: %s  %s req/s, %d errors, p99 %s, conns %d open (%d idle), %d new/s%s; total %s requests",
		strings.Join(label, "  "), count(int64(p.RPS+0.5)), p.Errors, dur(p.P99), p.ConnsOpen, p.ConnsOpen-p.ConnsActive, p.Dialed, idle, count(total.Requests))
}

// progress is how much of the run is done (0-1) and its label's parts.
func (v *View) progress(p metrics.Point, total *metrics.Snapshot) (float64, []string) {
	if v.o.Length > 0 {
		done := min(1, float64(p.T)/float64(v.o.Length))
		return done, []string{clock(p.T) + " / " + clock(v.o.Length), "(remaining " + clock(max(0, v.o.Length-p.T)) + ")"}
	}
	if v.o.Requests > 0 {
		done := min(1, float64(total.Requests)/float64(v.o.Requests))
		return done, []string{count(total.Requests) + " / " + count(v.o.Requests) + " requests", "(" + clock(p.T) + ")"}
	}
	return 0, []string{clock(p.T)}
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
