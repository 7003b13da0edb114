package exporter_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/faya-load/faya/internal/exporter"
	"github.com/faya-load/faya/metrics"
)

// BenchmarkUpdate measures one Update (the engine's collector goroutine
// pays it once per interval) with every exported histogram filled with
// latencies spread from 50 µs to 2 s.
func BenchmarkUpdate(b *testing.B) {
	rec := metrics.NewRecorder(1)
	sh := rec.Shard(0)
	r := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		d := time.Duration(50e3 * float64(int64(1)<<r.IntN(16)) * (1 + r.Float64()))
		s := &metrics.Sample{Latency: d, ServiceTime: d, Status: 200, Scheduled: true, Lag: d / 10}
		for i := range metrics.NumPhases {
			s.Phases[i] = d / 8
			s.PhaseSet |= 1 << i
		}
		sh.Record(s, nil)
	}
	a := rec.Flush(nil)
	// Two totals with different counts, so that no histogram is skipped
	// as unchanged.
	c := a.Clone()
	sh.Record(&metrics.Sample{Latency: time.Millisecond, ServiceTime: time.Millisecond, Status: 200,
		Scheduled: true, Lag: time.Millisecond, Phases: [metrics.NumPhases]time.Duration{1, 1, 1, 1, 1, 1, 1, 1}, PhaseSet: 1<<metrics.NumPhases - 1}, nil)
	c.Merge(rec.Flush(nil))
	x := exporter.New()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		total := a
		if i++; i%2 == 0 {
			total = c
		}
		x.Update(total, metrics.Point{T: time.Second})
	}
}
