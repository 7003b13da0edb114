package exporter

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/faya-load/faya/metrics"
)

// The counts layout histOf assumes is hdrhistogram's: index for index, the
// lowest value and width agree with h.Distribution's bars, for the
// metrics package's histograms and for other parameters.
func TestLayout(t *testing.T) {
	rec := metrics.NewRecorder(1)
	rec.Shard(0).Record(&metrics.Sample{Latency: time.Hour, Status: 200}, nil) // the maximum: every index
	hists := map[string]*hdrhistogram.Histogram{"metrics": rec.Flush(nil).Hist(metrics.Latency)}
	for _, p := range []struct {
		lo, hi int64
		digits int
	}{{1, 1e9, 2}, {1000, 1e12, 3}, {3, 1e6, 1}, {1, 1e7, 4}} {
		h := hdrhistogram.New(p.lo, p.hi, p.digits)
		_ = h.RecordValue(p.hi)
		hists[time.Duration(p.lo).String()+"-"+time.Duration(p.hi).String()] = h
	}
	for name, h := range hists {
		l := layoutOf(h)
		counts := h.Export().Counts
		bars := h.Distribution()
		// The bars stop at the maximum (recorded near the top).
		if len(bars) > len(counts) || len(bars) < len(counts)*9/10 {
			t.Fatalf("%s: %d bars for %d counts", name, len(bars), len(counts))
		}
		for i, b := range bars {
			from, size := l.bucket(i)
			if from != b.From || from+size-1 != b.To || counts[i] != b.Count {
				t.Fatalf("%s: index %d: [%d, %d] count %d, hdrhistogram has [%d, %d] count %d",
					name, i, from, from+size-1, counts[i], b.From, b.To, b.Count)
			}
		}
	}
}

// histOf agrees with a reference built from h.Distribution and h.Mean.
func TestHistOf(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	rec := metrics.NewRecorder(1)
	sh := rec.Shard(0)
	// Values on every bound, just around them, spread over the whole
	// range, and the clamped maximum.
	var lats []time.Duration
	for _, b := range boundsNS {
		lats = append(lats, time.Duration(b), time.Duration(b-1), time.Duration(b+1), time.Duration(b+b/500))
	}
	for range 20_000 {
		lats = append(lats, time.Duration(float64(time.Microsecond)*math.Pow(10, 8*r.Float64())))
	}
	lats = append(lats, 2*time.Hour, 0)
	for _, d := range lats {
		sh.Record(&metrics.Sample{Latency: d, Status: 200}, nil)
	}
	h := rec.Flush(nil).Hist(metrics.Latency)

	got := histOf(h)
	want := make([]uint64, len(bounds))
	for _, b := range h.Distribution() {
		for i, bound := range boundsNS {
			if b.From <= bound {
				want[i] += uint64(b.Count)
			}
		}
	}
	if got.count != uint64(len(lats)) || got.count != uint64(h.TotalCount()) {
		t.Errorf("count = %d, want %d", got.count, len(lats))
	}
	for i, b := range bounds {
		if got.buckets[b] != want[i] {
			t.Errorf("le=%v: %d, want %d", b, got.buckets[b], want[i])
		}
	}
	if s := h.Mean() * float64(h.TotalCount()) / 1e9; math.Abs(got.sum-s) > s*1e-9 {
		t.Errorf("sum = %v, want the mean × count = %v", got.sum, s)
	}
	// Every value at or below a bound is counted under it.
	for i, b := range boundsNS {
		var n uint64
		for _, d := range lats {
			if int64(d) <= b {
				n++
			}
		}
		if got.buckets[bounds[i]] < n {
			t.Errorf("le=%v: %d, but %d values are at or below it", bounds[i], got.buckets[bounds[i]], n)
		}
	}

	if e := histOf(nil); e.count != 0 || e.sum != 0 || len(e.buckets) != len(bounds) {
		t.Errorf("histOf(nil) = %+v", e)
	}
}
