package metrics

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Dist summarises one histogram. Its zero value (Count 0) means nothing was
// recorded: the metric did not happen.
type Dist struct {
	Count                    int64
	Min, Mean, Max           time.Duration
	P50, P90, P95, P99, P999 time.Duration
}

// Quantile returns the value at quantile q (a fraction: 0.99 is p99) of h.
// It hides hdrhistogram's ValueAtQuantile, which takes a percent.
func Quantile(h *hdrhistogram.Histogram, q float64) int64 {
	if h == nil || h.TotalCount() == 0 {
		return 0
	}
	return h.ValueAtQuantile(q * 100)
}

// histMax is h.Max() (h not empty) by the flat scan of ValueAtQuantile
// (100%: the highest value equivalent to the last index counted), not
// hdrhistogram's iterator, which works out each index's values on the
// way: a report's DistOf calls walked every histogram to its end twice
// (Mean, Max), 30 or more of them. TestHistMax holds it to h.Max(), and histMin to h.Min().
func histMax(h *hdrhistogram.Histogram) int64 { return h.ValueAtQuantile(100) }

// histMin is h.Min() (h not empty) likewise: ValueAtQuantile(0) is the
// lowest value equivalent to the first index counted.
func histMin(h *hdrhistogram.Histogram) int64 { return h.ValueAtQuantile(0) }

// DistOf summarises h; nil or empty gives the zero Dist.
func DistOf(h *hdrhistogram.Histogram) Dist {
	if h == nil || h.TotalCount() == 0 {
		return Dist{}
	}
	d := func(v int64) time.Duration { return time.Duration(v) }
	return Dist{
		Count: h.TotalCount(),
		Min:   d(histMin(h)),
		Mean:  time.Duration(h.Mean()),
		Max:   d(histMax(h)),
		P50:   d(Quantile(h, 0.50)),
		P90:   d(Quantile(h, 0.90)),
		P95:   d(Quantile(h, 0.95)),
		P99:   d(Quantile(h, 0.99)),
		P999:  d(Quantile(h, 0.999)),
	}
}

// Point is one interval of a run's time series.
type Point struct {
	// T is the end of the interval, from the start of the run.
	T        time.Duration
	Requests int64
	Errors   int64 // Errors + HTTPErrors
	Dialed   int64
	RPS      float64
	P50, P99 time.Duration
	// Open model: iterations intended and dropped in the interval, and the
	// p99 of the schedule lag.
	Intended, Dropped int64
	LagP99            time.Duration
	// VUsBusy is the most VUs busy at once in the interval; VUsAllocated
	// the VUs allocated at its end.
	VUsBusy, VUsAllocated int64
	// Connections at the end of the interval: open, and of those, active
	// (carrying a request); the rest are idle. TimeWait counts the local
	// sockets to the target in TIME_WAIT (-1: not watched).
	ConnsOpen, ConnsActive int64
	TimeWait               int64
	// IdleTimeoutCloses counts the connections the client closed in the
	// interval because they sat idle for IdleConnTimeout, and
	// ServerIdleCloses those the server closed while they sat idle in the
	// pool (its keep-alive timeout): what a pool sized for a busy stage
	// does in a quiet one.
	IdleTimeoutCloses, ServerIdleCloses int64
}

// PointOf summarises the interval snapshot s, which ended at t and lasted d.
func PointOf(s *Snapshot, t, d time.Duration) Point {
	p := Point{
		T:        t,
		Requests: s.Requests,
		Errors:   s.Errors + s.HTTPErrors,
		Dialed:   s.Dialed,
		Intended: s.Intended,
		Dropped:  s.Dropped,

		VUsBusy:      s.VUsBusyMax,
		VUsAllocated: s.VUsAllocated,

		IdleTimeoutCloses: s.CloseReasons[CloseIdleTimeout],
		ServerIdleCloses:  s.CloseReasons[CloseServerIdle],
	}
	if h := s.Hist(ScheduleLag); h != nil {
		p.LagP99 = time.Duration(Quantile(h, 0.99))
	}
	if d > 0 {
		p.RPS = float64(s.Requests) / d.Seconds()
	}
	if h := s.Hist(Latency); h != nil {
		p.P50 = time.Duration(Quantile(h, 0.5))
		p.P99 = time.Duration(Quantile(h, 0.99))
	}
	return p
}
