package engine

import (
	"errors"
	"math"
	"math/big"
	"math/bits"
	"time"
)

// arrivals is the schedule of an arrival-rate executor: the intended start
// of every iteration, from the stages' rates. Iteration i starts at the
// first nanosecond t at which the number of arrivals so far, the integral
// of the rate from 0 to t, reaches i (so iteration 0 starts at 0), and the
// schedule holds the iterations that start before its end. The counts are
// exact: a 10 s ramp from 0 to 2000/s has exactly 10,000 iterations, 7/s
// over 3 s exactly 21.
type arrivals struct {
	stages []arrivalStage
	total  int64         // iterations in the schedule
	end    time.Duration // the schedule's length
}

type arrivalStage struct {
	start, end time.Duration
	first      int64 // index of the stage's first iteration
	// cum is the number of arrivals before the stage (may be fractional);
	// cumInt says whether it is an integer (then exact integer math is used
	// for a constant stage).
	cum    float64
	cumInt int64
	exact  bool
	rate   Rate    // constant stages
	a, s   float64 // rate at the stage start (per ns) and its slope (per ns²)
}

var errScheduleTooLong = errors.New("the schedule has more than 2^62 iterations")

func newArrivals(stages []RateStage) (*arrivals, error) {
	s := &arrivals{}
	cum := new(big.Rat)
	var start time.Duration
	for _, st := range stages {
		a, b := st.From.perNS(), st.To.perNS()
		// arrivals in the stage: duration * (a + b) / 2
		area := new(big.Rat).Add(a, b)
		area.Mul(area, big.NewRat(int64(st.Duration), 2))
		first := ceilRat(cum)
		as := arrivalStage{
			start: start,
			end:   start + st.Duration,
			first: first,
		}
		as.cum, _ = cum.Float64()
		if cum.IsInt() && cum.Num().IsInt64() {
			as.exact, as.cumInt = true, cum.Num().Int64()
		}
		if a.Cmp(b) == 0 {
			as.rate = st.From
			as.a, _ = a.Float64()
		} else {
			as.a, _ = a.Float64()
			slope := new(big.Rat).Sub(b, a)
			slope.Quo(slope, new(big.Rat).SetInt64(int64(st.Duration)))
			as.s, _ = slope.Float64()
			as.exact = false
		}
		s.stages = append(s.stages, as)
		cum.Add(cum, area)
		start += st.Duration
	}
	total := ceilRat(cum)
	if total < 0 || total > 1<<62 {
		return nil, errScheduleTooLong
	}
	s.total, s.end = total, start
	return s, nil
}

// ceilRat returns the smallest integer not below r (r >= 0, fits int64).
func ceilRat(r *big.Rat) int64 {
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if m.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return -1
	}
	return q.Int64()
}

// at returns the intended start of iteration i (0 <= i < total), from the
// start of the schedule.
func (s *arrivals) at(i int64) time.Duration {
	k := len(s.stages) - 1
	for k > 0 && s.stages[k].first > i {
		k--
	}
	st := &s.stages[k]
	var tau float64
	switch {
	case st.s == 0 && st.exact && st.rate.Count > 0:
		// Exact: (i - cum) * Per / Count in 128-bit integers.
		hi, lo := bits.Mul64(uint64(i-st.cumInt), uint64(st.rate.Per))
		if hi < uint64(st.rate.Count) {
			q, _ := bits.Div64(hi, lo, uint64(st.rate.Count))
			return clampStage(st, st.start+time.Duration(q))
		}
		tau = float64(i-st.cumInt) / st.a
	case st.s == 0:
		tau = (float64(i) - st.cum) / st.a
	default:
		// Solve a*t + s*t*t/2 = x for t, in the form that stays accurate
		// when s is small or negative.
		x := float64(i) - st.cum
		if x <= 0 {
			tau = 0
			break
		}
		disc := st.a*st.a + 2*st.s*x
		tau = 2 * x / (st.a + math.Sqrt(max(disc, 0)))
	}
	// A floating-point solution a hair below an exact integer nanosecond
	// would floor to the nanosecond before it.
	return clampStage(st, st.start+time.Duration(math.Floor(tau+1e-6)))
}

func clampStage(st *arrivalStage, t time.Duration) time.Duration {
	return min(max(t, st.start), st.end-1)
}

// vuChange is a change of the number of active VUs at a moment.
type vuChange struct {
	at  time.Duration
	vus int
}

// vuSchedule returns the moments the number of active VUs changes, from the
// stages: in a ramp from a to b over d, the count becomes k at
// (k-a)*d/(b-a) (rounded down to the nanosecond). The first change is at 0.
func vuSchedule(stages []VUStage) ([]vuChange, time.Duration) {
	var out []vuChange
	var start time.Duration
	cur := -1
	set := func(at time.Duration, n int) {
		if n == cur {
			return
		}
		if len(out) > 0 && out[len(out)-1].at == at {
			out[len(out)-1].vus = n
		} else {
			out = append(out, vuChange{at, n})
		}
		cur = n
	}
	for _, st := range stages {
		set(start, st.From)
		steps := st.To - st.From
		for j := 1; j <= abs(steps); j++ {
			at := start + time.Duration(int64(j)*int64(st.Duration)/int64(abs(steps)))
			n := st.From + j*sign(steps)
			if at >= start+st.Duration {
				at = start + st.Duration
			}
			set(at, n)
		}
		start += st.Duration
	}
	return out, start
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func sign(n int) int {
	if n < 0 {
		return -1
	}
	return 1
}
