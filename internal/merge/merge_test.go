package merge

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/runfile"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/report"
)

// sample is one synthetic request: its interval and latency.
type sample struct {
	k   int
	lat time.Duration
}

// partOf builds segment seg/n's saved run from its samples.
func partOf(seg, n int, start time.Time, samples []sample, intervals int) Part {
	r := &runfile.Run{Origin: runfile.Origin{Segment: segStr(seg, n), PlanHash: "h1", Agent: "agent-" + segStr(seg, n)}}
	total := &metrics.Snapshot{}
	var ivs []runfile.Interval
	for k := range intervals {
		iv := &metrics.Snapshot{}
		for _, s := range samples {
			if s.k == k {
				x := metrics.Sample{Status: 200, Latency: s.lat, ServiceTime: s.lat, First: true}
				iv.Add(&x)
			}
		}
		total.Merge(iv)
		p := metrics.PointOf(iv, time.Duration(k+1)*time.Second+time.Millisecond, time.Second)
		p.TimeWait = -1
		ivs = append(ivs, runfile.Interval{Point: p, HasPoint: true, Snapshot: iv})
		r.Intervals++
	}
	r.Run = report.Run{Result: engine.Result{Total: total, Duration: time.Duration(intervals) * time.Second, Start: start,
		Scheduling: time.Duration(intervals) * time.Second, CPU: time.Second, CPUs: 2}}
	return Part{Run: r, Intervals: ivs}
}

func segStr(i, n int) string { return strings.Join([]string{itoa(i), itoa(n)}, "/") }

func itoa(i int) string { return string(rune('0' + i)) }

// Merging the segments' runs gives exactly the histogram and the counts
// of one run of all their samples, interval by interval.
func TestMergeExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, intervals = 3, 4
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var all []sample
	parts := make([][]sample, n)
	for i := range 30000 {
		s := sample{k: rng.IntN(intervals), lat: time.Duration(rng.ExpFloat64() * float64(3*time.Millisecond))}
		all = append(all, s)
		parts[i%n] = append(parts[i%n], s)
	}
	var in []Part
	for i := range n {
		in = append(in, partOf(i, n, start, parts[i], intervals))
	}
	whole := partOf(0, 1, start, all, intervals)
	got, err := Runs(in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := whole.Run.Run
	if got.Total.Requests != 30000 || got.Interrupted {
		t.Fatalf("requests %d partial %v", got.Total.Requests, got.Interrupted)
	}
	if !got.Total.Hist(metrics.Latency).Equals(want.Total.Hist(metrics.Latency)) {
		t.Error("the merged latency histogram is not the one run's")
	}
	if len(got.Timeline) != intervals {
		t.Fatalf("%d points, want %d", len(got.Timeline), intervals)
	}
	for k, p := range got.Timeline {
		w := whole.Intervals[k].Point
		if p.Requests != w.Requests || p.P50 != w.P50 || p.P99 != w.P99 {
			t.Errorf("point %d: %d requests p50 %v p99 %v; one run: %d, %v, %v", k, p.Requests, p.P50, p.P99, w.Requests, w.P50, w.P99)
		}
	}
	if len(got.Agents) != n || got.Agents[1].Segment != "1/3" || got.Agents[1].State != report.AgentOK || got.Agents[1].Requests != 10000 {
		t.Errorf("agents %+v", got.Agents)
	}
	if got.CPUs != 6 || got.Agents[0].Busy != 0.125 {
		t.Errorf("CPUs %d, busy %v; want 6 and 1s/(4s x 2)", got.CPUs, got.Agents[0].Busy)
	}
	rep := report.Build(got)
	if rep.Latency.P99 != report.Build(want).Latency.P99 || len(rep.Agents) != n {
		t.Errorf("report p99 %d, one run's %d", rep.Latency.P99, report.Build(want).Latency.P99)
	}
}

// A segment that started a second later has its intervals one later.
func TestMergeAlignsByWallTime(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := partOf(0, 2, start, []sample{{0, time.Millisecond}, {1, time.Millisecond}}, 2)
	b := partOf(1, 2, start.Add(time.Second+3*time.Millisecond), []sample{{0, time.Millisecond}, {0, time.Millisecond}, {1, time.Millisecond}}, 2)
	got, err := Runs([]Part{a, b}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var reqs []int64
	for _, p := range got.Timeline {
		reqs = append(reqs, p.Requests)
	}
	if len(reqs) != 3 || reqs[0] != 1 || reqs[1] != 3 || reqs[2] != 1 {
		t.Errorf("requests per interval %v, want [1 3 1]", reqs)
	}
	if got.Duration != 3*time.Second+3*time.Millisecond {
		t.Errorf("duration %v", got.Duration)
	}
}

func TestMergeRefuses(t *testing.T) {
	start := time.Now()
	s := []sample{{0, time.Millisecond}}
	a, b := partOf(0, 2, start, s, 1), partOf(0, 2, start, s, 1)
	if _, err := Runs([]Part{a, b}, Options{Names: []string{"a.faya", "b.faya"}}); err == nil || !strings.Contains(err.Error(), "a.faya and b.faya both ran segment 0/2") {
		t.Errorf("duplicate: %v", err)
	}
	c := partOf(1, 3, start, s, 1)
	if _, err := Runs([]Part{a, c}, Options{}); err == nil || !strings.Contains(err.Error(), "segments") {
		t.Errorf("counts: %v", err)
	}
	d := partOf(1, 2, start, s, 1)
	d.Run.Origin.PlanHash = "other"
	if _, err := Runs([]Part{a, d}, Options{}); err == nil || !strings.Contains(err.Error(), "another plan") {
		t.Errorf("plans: %v", err)
	}
}

// A missing segment makes the merge partial and says how much of the
// plan did not run.
func TestMergeMissing(t *testing.T) {
	start := time.Now()
	s := []sample{{0, time.Millisecond}}
	got, err := Runs([]Part{partOf(0, 3, start, s, 1), partOf(2, 3, start, s, 1)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Interrupted || len(got.Agents) != 3 || got.Agents[1].State != report.AgentMissing {
		t.Fatalf("partial %v agents %+v", got.Interrupted, got.Agents)
	}
	if got.NotRun != "1 of 3 segments did not run to their end (1/3 missing)" {
		t.Errorf("not run: %q", got.NotRun)
	}
	var text strings.Builder
	if err := report.Text(&text, report.Build(got)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "PARTIAL: segment 1/3 (segment 1/3) missing") || !strings.Contains(text.String(), "Agents") {
		t.Errorf("text report:\n%s", text.String())
	}
}

// addrPart is segment seg/2's run: one connection from each source to
// each destination, reqs requests on each; its TIME_WAIT readings per
// source are tw.
func addrPart(seg int, srcs, dsts []string, reqs int, tw map[string]int) Part {
	rec := metrics.NewRecorder(1)
	for _, s := range srcs {
		for _, d := range dsts {
			slot := rec.ConnDialedAt(metrics.ProtoH1, netip.MustParseAddr(s), netip.MustParseAddrPort(d))
			for range reqs {
				x := metrics.Sample{Status: 200, Latency: time.Millisecond, First: true, Fresh: 1, Dest: slot}
				rec.Shard(0).Record(&x, nil)
			}
		}
	}
	total := rec.Flush(nil)
	r := &runfile.Run{Origin: runfile.Origin{Segment: segStr(seg, 2), PlanHash: "h1", Agent: "agent-" + segStr(seg, 2)}}
	so := diagnose.Sockets{Watched: true, PortLo: 32768, PortHi: 60999}
	for _, s := range srcs {
		so.Sources = append(so.Sources, diagnose.SourceSockets{Addr: netip.MustParseAddr(s), TimeWaitAfter: tw[s], TimeWaitPeak: tw[s]})
	}
	r.Run = report.Run{Result: engine.Result{Total: total, Duration: time.Second, Start: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Scheduling: time.Second}, Sockets: so}
	return Part{Run: r}
}

// The per-address accounts of two agents merge by address: counts add,
// TIME_WAIT per source address is the worst agent's (its own machine's).
func TestMergeAddresses(t *testing.T) {
	a := addrPart(0, []string{"10.0.0.2", "10.0.0.3"}, []string{"10.1.0.1:80", "10.1.0.2:80"}, 3, map[string]int{"10.0.0.2": 7, "10.0.0.3": 1})
	b := addrPart(1, []string{"10.0.0.3"}, []string{"10.1.0.2:80", "10.1.0.3:80"}, 5, map[string]int{"10.0.0.3": 4})
	got, err := Runs([]Part{a, b}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep := report.Build(got)
	if rep.Addresses == nil {
		t.Fatal("no per-address accounts")
	}
	src := map[string]report.SourceAddr{}
	for _, s := range rep.Addresses.Sources {
		src[s.Addr] = s
	}
	if s := src["10.0.0.2"]; s.Dialed != 2 || s.TimeWait == nil || *s.TimeWait != 7 {
		t.Errorf("10.0.0.2: %+v; want 2 connections, 7 in TIME_WAIT", s)
	}
	if s := src["10.0.0.3"]; s.Dialed != 4 || s.TimeWait == nil || *s.TimeWait != 4 {
		t.Errorf("10.0.0.3: %+v; want 4 connections, 4 in TIME_WAIT (the worst agent's)", s)
	}
	dst := map[string]report.DestAddr{}
	for _, d := range rep.Addresses.Destinations {
		dst[d.Addr] = d
	}
	for addr, want := range map[string][2]int64{"10.1.0.1:80": {2, 6}, "10.1.0.2:80": {3, 6 + 5}, "10.1.0.3:80": {1, 5}} {
		if d := dst[addr]; d.Dialed != want[0] || d.Requests != want[1] || d.Latency.Count != want[1] {
			t.Errorf("%s: %+v; want %d connections, %d requests and latencies", addr, d, want[0], want[1])
		}
	}
	if len(rep.Addresses.Destinations) != 3 || len(rep.Addresses.Sources) != 2 {
		t.Errorf("%d destinations, %d sources; want 3 and 2", len(rep.Addresses.Destinations), len(rep.Addresses.Sources))
	}
}
