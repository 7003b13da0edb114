// Package merge merges the runs of the segments of one plan (saved with
// faya run --segment --out, or streamed by agents to a coordinator) into
// the one run they make: counters add, HDR histograms merge exactly,
// intervals are aligned by wall time, and thresholds are evaluated again
// on the merged numbers (report.Build recomputes the findings). The
// result is what one process running the whole plan would have reported,
// plus a table of the agents.
package merge

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/runfile"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/report"
	"github.com/faya-load/faya/threshold"
)

// Part is one segment's run.
type Part struct {
	// Run is the segment's saved run (or what an agent streamed, in the
	// same form). Nil for a segment that never reported: give Origin.
	Run *runfile.Run
	// Intervals are the run's intervals, with their snapshots, in order
	// (runfile.Intervals reads them from a file).
	Intervals []runfile.Interval
	// Origin names the plan and segment when Run is nil.
	Origin runfile.Origin
	// Name names the agent; empty: Run.Origin.Agent, else "segment I/N".
	Name string
	// State overrides the agent's state (report.AgentLost, ...); empty:
	// ok, or interrupted for a partial run, or missing without a Run.
	State, Reason string
	// ClockOffset is the agent's clock minus the coordinator's, when
	// ClockKnown.
	ClockOffset time.Duration
	ClockKnown  bool
}

// PlanHash identifies a plan: the SHA-256 of its redacted JSON.
func PlanHash(p engine.Plan) string {
	b, err := json.Marshal(p.Redacted())
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// Options of a merge.
type Options struct {
	// Interval is the length of the runs' intervals (default 1s).
	Interval time.Duration
	// Names label the parts in errors (file names); optional.
	Names []string
}

// Runs merges the parts, the segments of one plan. It refuses parts of
// different plans, of different segment counts, or two of one segment; a
// segment none of the parts ran is listed as missing and the run is
// partial.
func Runs(parts []Part, o Options) (report.Run, error) {
	if len(parts) == 0 {
		return report.Run{}, errors.New("nothing to merge")
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	label := func(i int) string {
		if i < len(o.Names) && o.Names[i] != "" {
			return o.Names[i]
		}
		return parts[i].name()
	}
	set, err := segmentsOf(parts, label)
	if err != nil {
		return report.Run{}, err
	}
	base := parts[set.first].Run
	meta := base.Run.Meta
	meta.Segment = ""
	m := &merger{interval: o.Interval, out: report.Run{Meta: meta}}
	m.out.Steps, m.out.Total = base.Run.Steps, &metrics.Snapshot{}
	// The earliest start is the merged run's.
	for _, p := range parts {
		if p.Run != nil && !p.Run.Run.Start.IsZero() && (m.out.Start.IsZero() || p.Run.Run.Start.Before(m.out.Start)) {
			m.out.Start = p.Run.Run.Start
		}
	}
	var missing []string
	for seg := range set.count {
		i, ok := set.owner[seg]
		if !ok {
			name := fmt.Sprintf("%d/%d", seg, set.count)
			missing = append(missing, name)
			m.out.Agents = append(m.out.Agents, report.Agent{Name: "segment " + name, Segment: name, State: report.AgentMissing})
			continue
		}
		p := &parts[i]
		agent := p.agent(set.count)
		m.out.Agents = append(m.out.Agents, agent)
		if p.Run == nil {
			missing = append(missing, agent.Segment)
			continue
		}
		if !sameSteps(p.Run.Run.Steps, m.out.Steps) {
			return report.Run{}, fmt.Errorf("%s has other steps than %s: merge the segments of one run", label(i), label(set.first))
		}
		if agent.State != report.AgentOK {
			m.out.Interrupted = true
		}
		m.add(p, i == set.first)
	}
	m.timeline()
	out := m.out
	if len(missing) > 0 {
		out.Interrupted = true
	}
	out.NotRun = notRun(out, set.count, base.Origin.Plan)
	out.Thresholds = reevaluate(base.Run.Thresholds, out)
	return out, nil
}

// segments is which part ran which segment of how many.
type segments struct {
	count int         // segments in the plan
	owner map[int]int // segment index -> part
	first int         // the first part with a run
}

// segmentsOf checks that the parts are distinct segments of one plan.
func segmentsOf(parts []Part, label func(int) string) (segments, error) {
	var (
		hash   string
		hashOf int
		set    = segments{count: -1, owner: map[int]int{}, first: -1}
	)
	for i := range parts {
		org := parts[i].origin()
		seg, err := parseSegment(org.Segment)
		if err != nil {
			return set, fmt.Errorf("%s: %w", label(i), err)
		}
		if set.first < 0 && parts[i].Run != nil {
			set.first = i
		}
		if org.PlanHash != "" {
			if hash != "" && org.PlanHash != hash {
				return set, fmt.Errorf("%s ran another plan than %s: merge the segments of one run", label(i), label(hashOf))
			}
			if hash == "" {
				hash, hashOf = org.PlanHash, i
			}
		}
		n := max(seg.Count, 1)
		if set.count >= 0 && n != set.count {
			return set, fmt.Errorf("%s is segment %s, but %s is of %d segments: merge the segments of one run", label(i), org.Segment, label(0), set.count)
		}
		set.count = n
		if j, dup := set.owner[seg.Index]; dup {
			return set, fmt.Errorf("%s and %s both ran segment %d/%d: each segment must be merged once", label(j), label(i), seg.Index, n)
		}
		set.owner[seg.Index] = i
	}
	if set.first < 0 {
		return set, errors.New("no part has a run to merge")
	}
	return set, nil
}

// merger adds the segments' runs into one, interval by interval.
type merger struct {
	interval time.Duration
	out      report.Run
	buckets  []*bucket
}

// bucket is one interval of the merged timeline.
type bucket struct {
	snap     *metrics.Snapshot
	t        time.Duration
	open     int64
	active   int64
	timeWait int64
	points   int
}

func (m *merger) at(k int) *bucket {
	for len(m.buckets) <= k {
		m.buckets = append(m.buckets, &bucket{snap: &metrics.Snapshot{}})
	}
	return m.buckets[k]
}

// add adds one segment's run: its totals, its intervals shifted by its
// start's offset from the merged run's, and its sockets.
func (m *merger) add(p *Part, first bool) {
	r, out := &p.Run.Run, &m.out
	if len(r.Steps) > len(out.Steps) {
		out.Steps = r.Steps
	}
	var offset time.Duration
	if !r.Start.IsZero() && !out.Start.IsZero() {
		offset = r.Start.Sub(out.Start)
	}
	shift := int((offset + m.interval/2) / m.interval)
	if r.Total != nil {
		AddSideBySide(out.Total, r.Total)
	}
	k := -1
	for _, iv := range p.Intervals {
		if !iv.HasPoint {
			AddSideBySide(m.at(max(k, 0)+shift).snap, iv.Snapshot)
			continue
		}
		k++
		b := m.at(k + shift)
		AddSideBySide(b.snap, iv.Snapshot)
		b.t = max(b.t, offset+iv.Point.T)
		b.open += iv.Point.ConnsOpen
		b.active += iv.Point.ConnsActive
		if b.points == 0 || b.timeWait >= 0 {
			if iv.Point.TimeWait < 0 {
				b.timeWait = -1
			} else {
				b.timeWait += iv.Point.TimeWait
			}
		}
		b.points++
	}
	out.Duration = max(out.Duration, offset+r.Duration)
	out.Scheduling = max(out.Scheduling, offset+r.Scheduling)
	out.OpenAtEnd += r.OpenAtEnd
	out.CPU += r.CPU
	out.CPUs += r.CPUs
	out.RunDelay += r.RunDelay
	out.Interrupted = out.Interrupted || r.Interrupted
	out.Sockets.Watched = r.Sockets.Watched && (first || out.Sockets.Watched)
	addSockets(&out.Sockets, &r.Sockets)
}

// addSockets adds an agent's socket counts. Each agent's sockets are its
// own machine's: the worst one stands for the run (a sum would count
// several machines' ports against one range), and per source address
// (--local-addr) the worst of each.
func addSockets(dst, src *diagnose.Sockets) {
	dst.TimeWaitBefore = max(dst.TimeWaitBefore, src.TimeWaitBefore)
	dst.TimeWaitAfter = max(dst.TimeWaitAfter, src.TimeWaitAfter)
	dst.TimeWaitPeak = max(dst.TimeWaitPeak, src.TimeWaitPeak)
	dst.HostPeak = max(dst.HostPeak, src.HostPeak)
	if src.PortHi > 0 {
		dst.PortLo, dst.PortHi = src.PortLo, src.PortHi
	}
	for _, s := range src.Sources {
		j := 0
		for j < len(dst.Sources) && dst.Sources[j].Addr != s.Addr {
			j++
		}
		switch {
		case j < len(dst.Sources):
			d := &dst.Sources[j]
			d.TimeWaitBefore = max(d.TimeWaitBefore, s.TimeWaitBefore)
			d.TimeWaitAfter = max(d.TimeWaitAfter, s.TimeWaitAfter)
			d.TimeWaitPeak = max(d.TimeWaitPeak, s.TimeWaitPeak)
		case j < metrics.MaxSourceAddrs:
			dst.Sources = append(dst.Sources, s)
		}
	}
}

// timeline turns the buckets into the merged run's points.
func (m *merger) timeline() {
	var last time.Duration
	for _, b := range m.buckets {
		if b.points == 0 {
			// Only a final flush without a point: fold it into the
			// previous point.
			if n := len(m.out.Timeline); n > 0 {
				continue
			}
		}
		if b.t <= last {
			b.t = last + m.interval
		}
		p := metrics.PointOf(b.snap, b.t, b.t-last)
		p.ConnsOpen, p.ConnsActive, p.TimeWait = b.open, b.active, b.timeWait
		if b.points == 0 {
			p.TimeWait = -1
		}
		m.out.Timeline = append(m.out.Timeline, p)
		last = b.t
	}
}

// AddSideBySide adds an agent's snapshot to the run's: counters and
// histograms as Merge does, and the maxima (VUs busy and allocated,
// connections open at once) summed, since the agents ran side by side.
func AddSideBySide(dst, src *metrics.Snapshot) {
	busy, alloc, open := dst.VUsBusyMax+src.VUsBusyMax, dst.VUsAllocated+src.VUsAllocated, dst.MaxOpen+src.MaxOpen
	dst.Merge(src)
	dst.VUsBusyMax, dst.VUsAllocated, dst.MaxOpen = busy, alloc, open
}

// reevaluate evaluates the runs' thresholds again on the merged run.
func reevaluate(results []threshold.Result, r report.Run) []threshold.Result {
	if len(results) == 0 {
		return nil
	}
	var ths []threshold.Threshold
	for _, res := range results {
		t, err := threshold.Parse(res.Threshold, res.Step)
		if err != nil {
			continue
		}
		ths = append(ths, t)
	}
	names := make([]string, len(r.Steps))
	for i, s := range r.Steps {
		names[i] = s.Name
	}
	return threshold.Evaluate(ths, threshold.Input{Total: r.Total, StepNames: names, Scheduling: r.Scheduling})
}

func sameSteps(a, b []engine.StepInfo) bool {
	n := min(len(a), len(b))
	return slices.Equal(a[:n], b[:n])
}

func parseSegment(s string) (engine.Segment, error) {
	if s == "" {
		return engine.Segment{Index: 0, Count: 1}, nil
	}
	return engine.ParseSegment(s)
}

func (p *Part) origin() runfile.Origin {
	if p.Run != nil {
		return p.Run.Origin
	}
	return p.Origin
}

func (p *Part) name() string {
	if p.Name != "" {
		return p.Name
	}
	org := p.origin()
	if org.Agent != "" {
		return org.Agent
	}
	return "segment " + cmp.Or(org.Segment, "0/1")
}

// agent is the part's row of the agents' table.
func (p *Part) agent(count int) report.Agent {
	org := p.origin()
	a := report.Agent{Name: p.name(), Segment: cmp.Or(org.Segment, fmt.Sprintf("0/%d", count)),
		ClockOffset: int64(p.ClockOffset), ClockKnown: p.ClockKnown, State: p.State, Reason: p.Reason}
	if p.Run == nil {
		a.State = cmp.Or(a.State, report.AgentMissing)
		return a
	}
	r := &p.Run.Run
	if a.State == "" {
		a.State = report.AgentOK
		if r.Interrupted {
			a.State = report.AgentInterrupted
		}
	}
	if s := r.Total; s != nil {
		a.Requests, a.Errors = s.Requests, s.Errors+s.HTTPErrors
		if h := s.Hist(metrics.Latency); h != nil {
			a.P99 = metrics.Quantile(h, 0.99)
		}
	}
	if r.Duration > 0 {
		a.Rate = float64(a.Requests) / r.Duration.Seconds()
		if r.CPU > 0 && r.CPUs > 0 {
			a.Busy = r.CPU.Seconds() / (r.Duration.Seconds() * float64(r.CPUs))
		}
	}
	return a
}

// notRun says how much of the plan the merged run did not run: the
// segments that did not run to their end and, when the plan fixes its
// iterations (an arrival schedule, -n), how many of them are missing.
func notRun(r report.Run, count int, plan *engine.Plan) string {
	var names []string
	for _, a := range r.Agents {
		if a.State != report.AgentOK {
			names = append(names, fmt.Sprintf("%s %s", a.Segment, a.State))
		}
	}
	if len(names) == 0 {
		return ""
	}
	s := fmt.Sprintf("%d of %d segments did not run to their end (%s)", len(names), count, strings.Join(names, ", "))
	if plan == nil {
		return s
	}
	planned, ok := plan.Iterations()
	if !ok || planned <= 0 {
		return s + "; the plan is bounded by time, so what did not run is the time after the stop"
	}
	ran := r.Total.Intended
	if !r.Meta.Open {
		ran = r.Total.Iterations
	}
	missing := max(planned-ran, 0)
	return s + fmt.Sprintf("; %d of the plan's %d iterations did not run (%.1f%%)", missing, planned, 100*float64(missing)/float64(planned))
}
