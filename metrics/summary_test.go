package metrics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// histMax and histMin are hdrhistogram's Max and Min on histograms of the metrics' layout:
// single values at the edges of its buckets, and random sets spread over
// the whole range.
func TestHistMax(t *testing.T) {
	h := newHist()
	check := func(what string) {
		t.Helper()
		if got, want := histMax(h), h.Max(); got != want {
			t.Fatalf("%s: histMax %d, Max %d", what, got, want)
		}
		if got, want := histMin(h), h.Min(); got != want {
			t.Fatalf("%s: histMin %d, Min %d", what, got, want)
		}
	}
	for _, v := range []int64{0, 1, 2, 1023, 1024, 2047, 2048, 2049, 4095, 4096, 1 << 20, 1<<20 + 1, 123456789, histHighest} {
		h.Reset()
		_ = h.RecordValue(v)
		check(fmt.Sprint(v))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		h.Reset()
		for range 1 + rng.IntN(50) {
			// Log-uniform over the range, so every bucket gets values.
			v := int64(math.Exp(rng.Float64() * math.Log(float64(histHighest))))
			_ = h.RecordValues(min(v, histHighest), 1+rng.Int64N(1000))
		}
		check(fmt.Sprint("set ", i))
	}
}

// latencies is a histogram of 100,000 latencies of about 3 ms, up to
// ~50 ms.
func latencies() *hdrhistogram.Histogram {
	h := newHist()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		_ = h.RecordValue(int64(200e3 + rng.ExpFloat64()*3e6))
	}
	return h
}

func BenchmarkDistOf(b *testing.B) {
	h := latencies()
	for b.Loop() {
		_ = DistOf(h)
	}
}

// BenchmarkHistMax: histMax against the iterator's Max, on the histogram of
// BenchmarkDistOf.
func BenchmarkHistMax(b *testing.B) {
	h := latencies()
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			_ = histMax(h)
		}
	})
	b.Run("iterator", func(b *testing.B) {
		for b.Loop() {
			_ = h.Max()
		}
	})
	b.Run("min-scan", func(b *testing.B) {
		for b.Loop() {
			_ = histMin(h)
		}
	})
	b.Run("min-iterator", func(b *testing.B) {
		for b.Loop() {
			_ = h.Min()
		}
	})
}
