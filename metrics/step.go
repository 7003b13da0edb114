package metrics

import (
	"math/bits"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// StepStats aggregates the requests of one step: counts, statuses, checks,
// a latency histogram, and the phases' sums (means, not percentiles: a
// histogram per phase per step would cost megabytes per step).
type StepStats struct {
	Requests   int64
	OK         int64
	HTTPErrors int64
	Errors     int64
	ErrCount   [NumErrClasses]int64
	// Status counts responses by code; codes outside [0, MaxStatus) are
	// counted under 0. Allocated on first use.
	Status       map[int]int64
	ChecksPassed int64
	ChecksFailed int64
	// CheckFailure is how a check of the step failed, the first seen, as
	// an [Example] (printable and bounded).
	CheckFailure string
	PhaseSum     [NumPhases]time.Duration
	PhaseCount   [NumPhases]int64
	latency      *hdrhistogram.Histogram

	// In a shard's snapshot: the latency recorded cheaply (foldInto moves
	// it into the flush's snapshot), and the last status with its count
	// not yet in Status (most answers of a step share one status: no map
	// update per request; settle adds it).
	rawLatency          *rawHist
	lastStatus, lastRun int64
}

// settle moves the last status's run, counted cheaply, into Status (the
// latency recorded cheaply goes to another snapshot's step: see
// [Snapshot.foldInto]).
func (t *StepStats) settle() {
	if t.lastRun > 0 {
		if t.Status == nil {
			t.Status = map[int]int64{}
		}
		t.Status[int(t.lastStatus)] += t.lastRun
		t.lastRun = 0
	}
}

// Latency returns the step's latency histogram, or nil.
func (t *StepStats) Latency() *hdrhistogram.Histogram { return t.latency }

// add counts x; fast (a shard's snapshot) records what settle and
// foldInto move.
func (t *StepStats) add(x *Sample, fast bool) {
	t.Requests++
	switch {
	case x.Err != ErrNone:
		t.Errors++
		t.ErrCount[x.Err]++
	case x.Status >= 400:
		t.HTTPErrors++
	default:
		t.OK++
	}
	if x.Err == ErrNone || x.Status != 0 {
		st := x.Status
		if st < 0 || st >= MaxStatus {
			st = 0
		}
		if fast && int64(st) == t.lastStatus && t.lastRun > 0 {
			t.lastRun++ // the usual case: the status of the answer before
		} else {
			t.addStatus(st, fast)
		}
	}
	t.ChecksPassed += int64(x.ChecksPassed)
	t.ChecksFailed += int64(x.ChecksFailed)
	if x.CheckFailure != "" && t.CheckFailure == "" {
		t.noteFailure(x.CheckFailure)
	}
	for set := x.PhaseSet & (1<<NumPhases - 1); set != 0; set &= set - 1 {
		i := bits.TrailingZeros16(set)
		t.PhaseSum[i] += x.Phases[i]
		t.PhaseCount[i]++
	}
	v := min(max(int64(x.Latency), 0), histHighest)
	if r := t.rawLatency; fast && r != nil {
		r.counts[rawIndex(v)]++
		r.any = true
		return
	}
	t.addLatency(v, fast)
}

// The rare parts of add, out of its line (see [Snapshot.addNotSent]).

// addStatus counts status st: in Status, or (fast) as the start of a new
// run of one status.
//
//go:noinline
func (t *StepStats) addStatus(st int, fast bool) {
	if t.Status == nil {
		t.Status = map[int]int64{}
	}
	if !fast {
		t.Status[st]++
		return
	}
	if t.lastRun > 0 {
		t.Status[int(t.lastStatus)] += t.lastRun
	}
	t.lastStatus, t.lastRun = int64(st), 1
}

//go:noinline
func (t *StepStats) noteFailure(why string) { t.CheckFailure = Example(why) }

// addLatency records latency v: (fast) in the raw counts, made on first
// use, or in the step's histogram.
//
//go:noinline
func (t *StepStats) addLatency(v int64, fast bool) {
	if fast {
		if t.rawLatency == nil {
			t.rawLatency = newRawHist()
		}
		t.rawLatency.record(v)
		return
	}
	if t.latency == nil {
		t.latency = newHist()
	}
	_ = t.latency.RecordValue(v)
}

// addChecks counts the checks of a sample that sent no request.
func (t *StepStats) addChecks(x *Sample) {
	t.ChecksPassed += int64(x.ChecksPassed)
	t.ChecksFailed += int64(x.ChecksFailed)
	if x.CheckFailure != "" && t.CheckFailure == "" {
		t.CheckFailure = Example(x.CheckFailure)
	}
}

func (t *StepStats) merge(o *StepStats) {
	t.Requests += o.Requests
	t.OK += o.OK
	t.HTTPErrors += o.HTTPErrors
	t.Errors += o.Errors
	for i, v := range o.ErrCount {
		t.ErrCount[i] += v
	}
	for code, n := range o.Status {
		if t.Status == nil {
			t.Status = map[int]int64{}
		}
		t.Status[code] += n
	}
	t.ChecksPassed += o.ChecksPassed
	t.ChecksFailed += o.ChecksFailed
	if t.CheckFailure == "" {
		t.CheckFailure = o.CheckFailure
	}
	for i := range t.PhaseSum {
		t.PhaseSum[i] += o.PhaseSum[i]
		t.PhaseCount[i] += o.PhaseCount[i]
	}
	t.latency = mergeHist(t.latency, o.latency)
}

func (t *StepStats) reset() {
	h, st, raw := t.latency, t.Status, t.rawLatency
	*t = StepStats{rawLatency: raw} // folded: raw is empty
	if h != nil && h.TotalCount() > 0 {
		h.Reset()
	}
	t.latency = h
	clear(st)
	t.Status = st
}

// stepStats returns the stats of step i, growing the list as needed.
func (s *Snapshot) stepStats(i int) *StepStats {
	if i < len(s.Steps) {
		return &s.Steps[i]
	}
	return s.growSteps(i)
}

// growSteps is stepStats' growth, out of its callers' line.
//
//go:noinline
func (s *Snapshot) growSteps(i int) *StepStats {
	for len(s.Steps) <= i {
		s.Steps = append(s.Steps, StepStats{})
	}
	return &s.Steps[i]
}
