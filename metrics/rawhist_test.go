package metrics

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// rawLen is the length of the library's counts for newHist's layout, and
// histHighest needs every bucket.
func TestRawLayout(t *testing.T) {
	if n := len(newHist().Export().Counts); n != rawLen {
		t.Fatalf("rawLen %d, the library's counts %d", rawLen, n)
	}
	if rawIndex(histHighest) >= rawLen || rawIndex(histHighest) < rawLen-subBucketHalfCount {
		t.Fatalf("histHighest lands at %d of %d", rawIndex(histHighest), rawLen)
	}
}

// Values recorded cheaply and folded land in exactly the buckets
// hdrhistogram-go puts them in: the same counts, total, min and max.
func TestRawHistExact(t *testing.T) {
	vals := []int64{0, 1, 2, 1023, 1024, 2047, 2048, 2049, 4095, 4096, 1e6, 1e9, histHighest - 1, histHighest}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		vals = append(vals, rng.Int64N(histHighest+1)>>rng.IntN(40))
	}
	raw, want := newRawHist(), newHist()
	for _, v := range vals {
		raw.record(v)
		if err := want.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	got := raw.fold(nil)
	if !got.Equals(want) || !slices.Equal(got.Export().Counts, want.Export().Counts) {
		t.Fatalf("folded: total %d, min %d, max %d; recorded: total %d, min %d, max %d", got.TotalCount(), got.Min(), got.Max(), want.TotalCount(), want.Min(), want.Max())
	}
	if raw.any || slices.ContainsFunc(raw.counts, func(c int64) bool { return c != 0 }) {
		t.Error("fold left counts behind")
	}
	for i := range rawLen {
		if rawIndex(rawValue(i)) != i {
			t.Fatalf("index %d: value %d lands at %d", i, rawValue(i), rawIndex(rawValue(i)))
		}
	}
}

// A shard's snapshot, flushed, is the snapshot of its samples.
func TestFlushFoldsRawValues(t *testing.T) {
	rec := NewRecorder(2)
	direct := &Snapshot{}
	for i := range 1000 {
		x := Sample{Latency: 1000 + time3(i), ServiceTime: 900 + time3(i), Status: 200, First: true}
		rec.Shard(i).Record(&x, nil)
		direct.Add(&x)
	}
	for range 2 { // twice: the shards' snapshots are reused
		got := rec.Flush(nil)
		if got.Requests != 1000 || !got.Hist(Latency).Equals(direct.Hist(Latency)) || !got.Hist(ServiceTime).Equals(direct.Hist(ServiceTime)) {
			t.Fatalf("flushed %d requests, latency total %d (direct %d)", got.Requests, got.Hist(Latency).TotalCount(), direct.Hist(Latency).TotalCount())
		}
		for i := range 1000 {
			x := Sample{Latency: 1000 + time3(i), ServiceTime: 900 + time3(i), Status: 200, First: true}
			rec.Shard(i).Record(&x, nil)
		}
	}
}

func time3(i int) time.Duration { return time.Duration(i * i * 37) }

// A step's stats, recorded in a shard and flushed, are those of its
// samples: statuses (however they alternate) and latencies.
func TestFlushFoldsSteps(t *testing.T) {
	rec := NewRecorder(1)
	step := rec.StepIndex("s") + 1
	direct := &Snapshot{}
	for i := range 500 {
		st := 200
		if i%7 == 0 || i%7 == 1 {
			st = 404
		}
		x := Sample{Latency: time3(i), Status: st, Step: step}
		rec.Shard(0).Record(&x, nil)
		direct.Add(&x)
	}
	got := rec.Flush(nil)
	g, d := &got.Steps[0], &direct.Steps[0]
	if g.Status[200] != d.Status[200] || g.Status[404] != d.Status[404] || len(g.Status) != 2 || !g.Latency().Equals(d.Latency()) {
		t.Errorf("flushed step: status %v, latency count %d; direct: status %v, latency count %d", g.Status, g.Latency().TotalCount(), d.Status, d.Latency().TotalCount())
	}
}

// A shard records as Snapshot.Add does at the edges too: negative values
// (counted as 0), values above the histograms' range (clamped, and
// counted as such), every phase set or none, idle times, steps.
func TestShardRecordsLikeAdd(t *testing.T) {
	rec := NewRecorder(1)
	step := rec.StepIndex("GET /") + 1
	direct := &Snapshot{}
	vals := []time.Duration{-5, 0, 1, 2047, 2048, time.Millisecond, time.Duration(histHighest), time.Duration(histHighest) + 1, 3 * time.Hour}
	n := 0
	for i, v := range vals {
		for set := range uint16(1 << NumPhases) {
			x := Sample{Latency: v, ServiceTime: v - 3, Status: 200, First: true, Step: step, WasIdle: set&1 == 0, IdleTime: v, PhaseSet: set}
			for p := range NumPhases {
				x.Phases[p] = v + time.Duration(p*i)
			}
			rec.Shard(0).Record(&x, nil)
			direct.Add(&x)
			n++
		}
	}
	got := rec.Flush(nil)
	if got.Requests != int64(n) || got.Clamped != direct.Clamped || direct.Clamped == 0 {
		t.Fatalf("requests %d (want %d), clamped %d (direct %d)", got.Requests, n, got.Clamped, direct.Clamped)
	}
	for m := range numMetrics {
		g, w := got.Hist(m), direct.Hist(m)
		if (g == nil) != (w == nil) || g != nil && !g.Equals(w) {
			t.Errorf("metric %v: the shard's histogram differs from Add's", m)
		}
	}
	// Each phase is set in half of the samples.
	for p := range NumPhases {
		if c := got.Hist(Blocked + Metric(p)).TotalCount(); c != int64(n/2) {
			t.Errorf("phase %d: %d values, want %d", p, c, n/2)
		}
		if c := got.Steps[step-1].PhaseCount[p]; c != int64(n/2) {
			t.Errorf("step phase %d: counted %d, want %d", p, c, n/2)
		}
	}
	gs, ws := got.Steps[step-1], direct.Steps[step-1]
	if gs.PhaseSum != ws.PhaseSum || gs.PhaseCount != ws.PhaseCount || !gs.Latency().Equals(ws.Latency()) {
		t.Errorf("step: phases %v %v, latency total %d; Add: %v %v, %d", gs.PhaseSum, gs.PhaseCount, gs.Latency().TotalCount(), ws.PhaseSum, ws.PhaseCount, ws.Latency().TotalCount())
	}
}

// A shard's snapshots (current and spare) keep no histograms: their values
// go, as raw counts, straight into the flush's snapshot. Each histogram is
// a quarter of a megabyte, cleared once a second; a shard holding its own,
// as before, made 4 per metric at two shards.
func TestShardsHoldNoHistograms(t *testing.T) {
	rec := NewRecorder(2)
	step := rec.StepIndex("s") + 1
	for range 3 {
		for i := range 100 {
			x := Sample{Latency: time3(i) + 1, ServiceTime: time3(i), Status: 200, Step: step, WasIdle: true, IdleTime: 5, PhaseSet: 1 << (Wait - Blocked)}
			x.Phases[Wait-Blocked] = 7
			rec.Shard(i).Record(&x, nil)
		}
		if got := rec.Flush(nil); got.Hist(Latency).TotalCount() != 100 || got.Hist(Wait).TotalCount() != 100 || got.Steps[0].Latency().TotalCount() != 100 {
			t.Fatalf("flushed latency %d, wait %d, step latency %d values; want 100 each", got.Hist(Latency).TotalCount(), got.Hist(Wait).TotalCount(), got.Steps[0].Latency().TotalCount())
		}
	}
	for i := range rec.shards {
		for _, s := range []*Snapshot{rec.shards[i].cur, rec.shards[i].spare} {
			for m, h := range s.hist {
				if h != nil {
					t.Errorf("shard %d: a histogram of %v", i, Metric(m))
				}
			}
			for _, st := range s.Steps {
				if st.latency != nil {
					t.Errorf("shard %d: a step latency histogram", i)
				}
			}
		}
	}
}
