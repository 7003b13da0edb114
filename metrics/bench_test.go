package metrics_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/faya-load/faya/metrics"
)

// BenchmarkShardRecord is the recording cost of one request on the hot
// path: a kept-alive GET with four phases, a status and a step.
func BenchmarkShardRecord(b *testing.B) { benchShardRecord(b, false) }

// BenchmarkShardRecordDest is BenchmarkShardRecord with the request's
// destination address known (every engine's request on a connection it
// dialed): its accounts and latency per address too.
func BenchmarkShardRecordDest(b *testing.B) { benchShardRecord(b, true) }

func benchShardRecord(b *testing.B, dest bool) {
	rec := metrics.NewRecorder(1)
	step := rec.StepIndex("GET /") + 1
	var slot int32
	if dest {
		slot = rec.ConnDialedAt(metrics.ProtoH1, netip.Addr{}, netip.MustParseAddrPort("127.0.0.1:80"))
	}
	sh := rec.Shard(0)
	var x metrics.Sample
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		d := time.Duration(200_000 + i%50_000)
		x = metrics.Sample{Latency: d, ServiceTime: d - 80, End: d, First: true, Step: step, Status: 200, BytesSent: 60, BytesReceived: 300, Dest: slot}
		setPhases(&x, d)
		sh.Record(&x, nil)
	}
}

// BenchmarkFlush is a second's flush at two shards: 2,000 requests of a
// step, with four phases, spread over a few hundred buckets, folded into
// the interval's snapshot.
func BenchmarkFlush(b *testing.B) {
	rec := metrics.NewRecorder(2)
	step := rec.StepIndex("GET /") + 1
	var iv metrics.Snapshot
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for i := range 2000 {
			d := time.Duration(200_000 + i*i%500_000)
			x := metrics.Sample{Latency: d, ServiceTime: d - 80, First: true, Step: step, Status: 200, WasIdle: true, IdleTime: d / 3}
			setPhases(&x, d)
			rec.Shard(i).Record(&x, nil)
		}
		b.StartTimer()
		rec.Flush(&iv)
	}
}

// setPhases sets a kept-alive request's four phases for a latency d.
func setPhases(x *metrics.Sample, d time.Duration) {
	for _, ph := range []struct {
		m metrics.Metric
		v time.Duration
	}{{metrics.Blocked, 80}, {metrics.Send, 6_000}, {metrics.Wait, d - 7_000}, {metrics.Receive, 300}} {
		i := ph.m - metrics.Blocked
		x.Phases[i] = ph.v
		x.PhaseSet |= 1 << i
	}
}
