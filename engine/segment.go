package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Segment is one of Count equal parts of a plan: segment Index (from 0)
// of Count. The Count segments of a plan run together are exactly the
// plan run by one process:
//
//   - VU k of a scenario (0-based, the run's numbering) belongs to segment
//     k mod Count, whatever the executor: a closed scenario's VUs, a
//     ramping one's (VU k is active while the stages' count is above k,
//     on whichever segment runs it), an open scenario's VU bounds (PreVUs
//     and MaxVUs). A VU keeps its number, so {{ .vu }} and per-vu data
//     rows name the same user on whichever segment runs it.
//   - Iteration i of an open-model schedule (constant or ramping rate)
//     belongs to segment i mod Count and keeps its intended start: the
//     union of the segments' schedules is the plan's, to the nanosecond.
//   - A closed scenario's iteration count (-n) is split as if iteration i
//     were run by VU i mod VUs: no remainder is lost.
//   - Sequential data rows: the run's take g of a source belongs to the
//     segment of VU g mod VUs (the plan's VUs), so the segments' takes
//     are the run's in proportion to their VUs and no two segments take
//     a row before the rows wrap around, as one process would not.
//   - Explicit pool limits are split the same way (at least 1 each).
//
// The zero Segment (and any with Count 1) is the whole plan.
type Segment struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// MaxSegments bounds a Segment's Count.
const MaxSegments = 10000

// ParseSegment parses I/N (0 <= I < N), e.g. "0/3", the form
// Kubernetes' JOB_COMPLETION_INDEX gives: $(JOB_COMPLETION_INDEX)/3.
func ParseSegment(s string) (Segment, error) {
	is, ns, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Segment{}, fmt.Errorf("segment %q: want I/N, e.g. 0/3 (segment 0 of 3; I counts from 0)", s)
	}
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if err1 != nil || err2 != nil {
		return Segment{}, fmt.Errorf("segment %q: I and N must be whole numbers, e.g. 0/3", s)
	}
	seg := Segment{Index: i, Count: n}
	if err := seg.Validate(); err != nil {
		return Segment{}, err
	}
	return seg, nil
}

// Validate checks that the segment is one of its count.
func (s Segment) Validate() error {
	switch {
	case s.Count == 0 && s.Index == 0:
		return nil
	case s.Count < 1 || s.Count > MaxSegments:
		return fmt.Errorf("segment %d/%d: N must be from 1 to %d", s.Index, s.Count, MaxSegments)
	case s.Index < 0 || s.Index >= s.Count:
		return fmt.Errorf("segment %d/%d: I counts from 0 and must be below N (0 to %d)", s.Index, s.Count, s.Count-1)
	}
	return nil
}

// Whole reports whether the segment is the whole plan.
func (s Segment) Whole() bool { return s.Count <= 1 }

// String formats the segment as I/N ("" for the whole plan).
func (s Segment) String() string {
	if s.Whole() {
		return ""
	}
	return strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Count)
}

// n is the number of segments (1 for the whole plan).
func (s Segment) n() int64 { return int64(max(s.Count, 1)) }

// Share is how many of the indices 0..total-1 the segment owns: those
// congruent to Index modulo Count. The shares of all segments add up to
// total.
func (s Segment) Share(total int64) int64 {
	if s.Whole() {
		return total
	}
	if total <= int64(s.Index) {
		return 0
	}
	return (total-int64(s.Index)-1)/s.n() + 1
}

// Global is the run's index of the segment's j-th index.
func (s Segment) Global(j int64) int64 {
	if s.Whole() {
		return j
	}
	return int64(s.Index) + j*s.n()
}

// Owns reports whether the run's index k belongs to the segment.
func (s Segment) Owns(k int64) bool { return s.Whole() || k%s.n() == int64(s.Index) }

// Iterations is the segment's share of a closed scenario's iterations n
// run by vus VUs: iteration i is counted for VU i mod vus, and the
// segment owns the iterations of its VUs.
func (s Segment) Iterations(n int64, vus int) int64 {
	if s.Whole() || n <= 0 || vus <= 0 {
		return n
	}
	v := int64(vus)
	per, rest := n/v, n%v
	return s.Share(v)*per + s.Share(rest)
}

// take is the run's index of the segment's take t of a sequential data
// source, when the run has vus VUs: the segment's takes are those of its
// VUs' stripe (take g belongs to the segment of VU g mod vus).
func (s Segment) take(t, vus int64) int64 {
	if s.Whole() || vus <= 0 {
		return t
	}
	vs := s.Share(vus)
	if vs == 0 {
		return s.Global(t)
	}
	return t/vs*vus + s.Global(t%vs)
}

// limit splits a pool limit: 0 (derived) and negative (none) stay, a
// positive one is split with at least 1 per segment.
func (s Segment) limit(v int) int {
	if v <= 0 || s.Whole() {
		return v
	}
	return int(max(s.Share(int64(v)), 1))
}

// scenario returns the segment's part of a scenario's executor, and
// whether the segment has any of the scenario to run.
func (s Segment) scenario(sc Scenario) (Scenario, bool) {
	if s.Whole() {
		return sc, true
	}
	ex := &sc.Executor
	switch ex.Type {
	case VUs:
		n := s.Iterations(ex.Iterations, ex.VUs)
		vus := int(s.Share(int64(ex.VUs)))
		if vus == 0 || (ex.Iterations > 0 && n == 0) {
			return sc, false
		}
		ex.VUs, ex.Iterations = vus, n
	case RampingVUs:
		// The stages stay the run's: the segment runs its VUs' ids.
		if s.Share(int64(ex.PeakVUs())) == 0 {
			return sc, false
		}
	case ConstantRate, RampingRate:
		ex.PreVUs = int(s.Share(int64(ex.PreVUs)))
		ex.MaxVUs = int(s.Share(int64(ex.MaxVUs)))
	}
	return sc, true
}

// CheckSegments reports a plan the segments of count cannot split: an open
// scenario with fewer VUs (MaxVUs) than segments would leave a segment
// with arrivals and no VU to run them.
func (p Plan) CheckSegments(count int) error {
	if count <= 1 {
		return nil
	}
	for i, sc := range p.Scenarios {
		name := sc.Name
		if name == "" {
			name = strconv.Itoa(i)
		}
		if ex := sc.Executor; ex.Open() && ex.MaxVUs < count {
			return fmt.Errorf("scenario %s: max VUs %d split over %d segments leaves segment %d with none to run its arrivals: give at least %d (--max-vus)", name, ex.MaxVUs, count, ex.MaxVUs, count)
		}
	}
	return nil
}

// segmentVUs is the most VUs the segment runs at once.
func (s Segment) segmentVUs(p *Plan) int {
	n := 0
	for _, sc := range p.Scenarios {
		n += int(s.Share(int64(sc.Executor.PeakVUs())))
	}
	return n
}

// segmentTransport sizes the segment's pool: a derived concurrency from
// the segment's VUs, explicit limits split.
func (s Segment) segmentTransport(p *Plan) {
	if s.Whole() {
		return
	}
	t := &p.Transport
	if t.Concurrency == 0 && p.ConnScope != ScopeVU {
		t.Concurrency = max(s.segmentVUs(p), 1)
	} else if p.ConnScope != ScopeVU {
		t.Concurrency = s.limit(t.Concurrency)
	}
	if p.ConnScope != ScopeVU {
		t.MaxConnsPerHost = s.limit(t.MaxConnsPerHost)
		t.MaxIdleConnsPerHost = s.limit(t.MaxIdleConnsPerHost)
		t.MaxIdleConns = s.limit(t.MaxIdleConns)
	}
}

// WithSegment runs segment seg of the plan (see [Segment]); the Engine's
// Plan stays the whole run's.
func WithSegment(seg Segment) Option { return func(e *Engine) { e.seg = seg } }

// Segment is the segment of the plan the engine runs (the zero Segment
// for the whole plan).
func (e *Engine) Segment() Segment { return e.seg }

// vuID is the run's id of the segment's j-th VU of the runner's scenario.
func (r *runner) vuID(j int) int { return r.firstVU + int(r.seg.Global(int64(j))) }

// newCursor is the runner's open-model cursor over its segment of the
// schedule.
func (r *runner) newCursor(sched *arrivals) *cursor {
	return &cursor{sched: sched, seg: r.seg, total: r.seg.Share(sched.total)}
}

// WithStart starts the run at t (wall time) instead of at once: Run
// waits until then and counts the run's clock from t, so that processes
// started apart run one schedule. A run that reaches Run more than
// MissedStart after t fails instead of starting late.
func WithStart(t time.Time) Option { return func(e *Engine) { e.start = t } }

// MissedStart is how late after its WithStart time a run may still start.
const MissedStart = time.Second

// waitStart waits until the engine's start time, or until ctx is done.
func (e *Engine) waitStart(ctx context.Context) error {
	d := time.Until(e.start)
	if d < -MissedStart {
		return fmt.Errorf("missed the start: it was at %s, %v ago (more than %v): start again with a later time", e.start.Format(time.RFC3339Nano), (-d).Round(time.Millisecond), MissedStart)
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return nil
}

// Iterations is the number of iterations the plan runs when it fixes it
// (every scenario an arrival schedule, or closed with an iteration
// count), and false when time bounds some scenario.
func (p Plan) Iterations() (int64, bool) {
	var n int64
	for _, sc := range p.Scenarios {
		ex := sc.Executor
		switch {
		case ex.Open():
			a, err := newArrivals(ex.rateStages())
			if err != nil {
				return 0, false
			}
			n += a.total
		case ex.Type == VUs && ex.Iterations > 0:
			n += ex.Iterations
		default:
			return 0, false
		}
	}
	return n, true
}
