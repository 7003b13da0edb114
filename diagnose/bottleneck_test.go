package diagnose_test

import (
	"testing"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/metrics"
)

// evidence is a synthetic run for single-connection-bottleneck: n
// requests of 10ms each over conns connections open at once (h2 or not),
// waits of wait for a stream slot, a server limit of maxStreams with
// peak streams open at once, and stall of waits for the connection's
// flow-control window (stallStream for the streams' own); readConns
// closed connections whose reader was timed, the busiest one busy
// readBusy of readSpan; the generator's CPU use and CPUs.
type evidence struct {
	n                     int
	h1                    bool
	conns                 int
	wait                  time.Duration
	maxStreams, peak      uint32
	stall, stallStream    time.Duration
	stalls                int
	vus, capConns         int
	duration              time.Duration
	readConns             int
	readBusy, readSpan    time.Duration
	generatorBusy         float64
	cpus                  int
	want, wantStreamLimit bool
	mentions              []string
}

func (e evidence) input() diagnose.Input {
	rec := metrics.NewRecorder(1)
	proto := metrics.ProtoH2
	if e.h1 {
		proto = metrics.ProtoH1
	}
	for range e.conns {
		rec.ConnDialedProto(proto)
	}
	if !e.h1 {
		if e.maxStreams > 0 {
			rec.H2Settings(e.maxStreams, true, true)
		}
		rec.H2Streams(int(e.peak))
		for i := range e.readConns {
			busy := e.readBusy
			if i > 0 {
				busy /= 2 // the others less busy
			}
			rec.ConnClosed(metrics.ClosedConn{Proto: metrics.ProtoH2, Requests: int64(e.n / e.readConns), Lifetime: e.readSpan,
				ReadTimed: true, ReadBusy: busy, ReadSpan: e.readSpan})
		}
		for i := range e.stalls {
			rec.H2FlowStall(e.stall/time.Duration(e.stalls), true)
			if i == 0 && e.stallStream > 0 {
				rec.H2FlowStall(e.stallStream, false)
			}
		}
	}
	sh := rec.Shard(0)
	for range e.n {
		var x metrics.Sample
		x.Latency, x.Status, x.Proto, x.Reused = 10*time.Millisecond, 200, proto, 1
		if e.wait > 0 {
			x.Phases[metrics.PhaseStreamWait], x.PhaseSet = e.wait, 1<<metrics.PhaseStreamWait
		}
		sh.Record(&x, nil)
	}
	return diagnose.Input{Config: diagnose.Config{Concurrency: e.vus, MaxConnsPerHost: e.capConns, HTTP: "2", H2Offered: true},
		Total: rec.Flush(nil), Duration: e.duration, GeneratorBusy: e.generatorBusy, CPUs: e.cpus}
}

// single-connection-bottleneck fires on a run's own evidence of one
// connection being the limit (its streams all in use with requests
// waiting, or its flow-control window holding bodies back), with the
// numbers and a fix that raises the connections to what the VUs need;
// never on a run where it cannot be judged.
func TestSingleConnectionBottleneck(t *testing.T) {
	// 1000 requests of 10ms: 10s of requests' time together.
	streams := evidence{n: 1000, conns: 1, wait: 5 * time.Millisecond, maxStreams: 8, peak: 8, vus: 64, capConns: 1, duration: 2 * time.Second, want: true}
	flow := evidence{n: 1000, conns: 1, maxStreams: 100, peak: 16, stall: 5 * time.Second, stalls: 500, vus: 16, capConns: 1, duration: 2 * time.Second, want: true}
	// One connection of 100 streams, 16 open at once, its reader busy
	// 95% of the 2 s run: the answers waited for it.
	read := evidence{n: 1000, conns: 1, maxStreams: 100, peak: 16, vus: 16, capConns: 1, duration: 2 * time.Second,
		readConns: 1, readBusy: 1900 * time.Millisecond, readSpan: 2 * time.Second, generatorBusy: 0.6, cpus: 2, want: true}
	with := func(e evidence, f func(*evidence)) evidence { f(&e); return e }
	for name, e := range map[string]evidence{
		"streams at the limit, capped at 1 connection": with(streams, func(e *evidence) {
			e.mentions = []string{"64 VUs sent 1000 requests over 1 HTTP/2 connection open at once", "every connection's 8 streams were in use (the server's SETTINGS_MAX_CONCURRENT_STREAMS)",
				"stream_wait p50 5.0ms", "50% of the requests' time", "--max-conns-per-host 8 (in Go: http.Transport.MaxConnsPerHost = 8", "http2_max_concurrent_streams"}
		}),
		"streams at the limit, no cap (strict)": with(streams, func(e *evidence) {
			e.capConns, e.mentions = 0, []string{"drop --h2-strict-streams", "the 8 connections 64 VUs need at 8 streams each"}
		}),
		"streams, limit unseen (net/http)": with(streams, func(e *evidence) {
			e.maxStreams, e.mentions = 0, []string{"8 streams were in use (the most seen open at once)", "--max-conns-per-host 8"}
		}),
		"VUs one above the streams": with(streams, func(e *evidence) {
			e.vus, e.mentions = 9, []string{"9 VUs sent 1000 requests", "--max-conns-per-host 2 (in Go: http.Transport.MaxConnsPerHost = 2"}
		}),
		"two connections": with(streams, func(e *evidence) {
			e.conns, e.capConns, e.mentions = 2, 2, []string{"over 2 HTTP/2 connections open at once", "2 HTTP/2 connections were the limit", "--max-conns-per-host 8"}
		}),
		"connection window": with(flow, func(e *evidence) {
			e.mentions = []string{"waited 500 times for the connection's flow-control window", "for 5.00s together, 50% of the requests' time",
				"--max-conns-per-host 2 --h2-max-streams 8", "MaxReceiveBufferPerConnection"}
		}),
		"connection window, 90% stalled": with(flow, func(e *evidence) {
			e.stall, e.mentions = 9*time.Second, []string{"90% of the requests' time", "--max-conns-per-host 10 --h2-max-streams 2"}
		}),
		"connection window, fewer VUs than the connections it asks": with(flow, func(e *evidence) {
			e.stall, e.vus, e.mentions = 9*time.Second, 4, []string{"--max-conns-per-host 4 --h2-max-streams 1"}
		}),

		"reader busy": with(read, func(e *evidence) {
			e.mentions = []string{"One HTTP/2 connection was the limit: its reader was busy 95% of the run", "16 VUs sent 1000 requests over 1 HTTP/2 connection open at once",
				"reader (its one goroutine reading frames and handing the answers to their requests) was busy 1.90s of the 2.00s run (95%)",
				"the answers of up to 16 streams open at once on a connection queued behind it.", "--max-conns-per-host 2 --h2-max-streams 8", "MaxConnsPerHost = 2"}
		}),
		"reader busy, 8 CPUs": with(read, func(e *evidence) {
			e.cpus, e.mentions = 8, []string{"--max-conns-per-host 8 --h2-max-streams 2", "so that 8 readers share the answers"}
		}),
		"reader busy, unknown CPU use": with(read, func(e *evidence) {
			e.generatorBusy, e.cpus, e.mentions = 0, 0, []string{"--max-conns-per-host 2 --h2-max-streams 8"}
		}),
		"reader busy, requests waited for a stream": with(read, func(e *evidence) {
			e.peak, e.wait, e.maxStreams, e.mentions = 1, 100*time.Microsecond, 1, []string{"up to 1 streams open at once on a connection queued behind it, and 1000 requests waited for a stream slot"}
		}),
		"readers busy, two connections": with(read, func(e *evidence) {
			e.conns, e.readConns, e.capConns = 2, 2, 2
			e.mentions = []string{"2 HTTP/2 connections were the limit: their busiest reader was busy 95% of the run",
				"(2 connections' readers timed: p50 48% busy, max 95%)", "--max-conns-per-host 4 --h2-max-streams 4"}
		}),
		"reader busy 90%": with(read, func(e *evidence) { e.readBusy, e.mentions = 1800*time.Millisecond, []string{"(90%)"} }),

		// Cannot be judged, or nothing waited.
		"reader busy 80%":              with(read, func(e *evidence) { e.readBusy, e.want = 1600*time.Millisecond, false }),
		"reader not timed (net/http)":  with(read, func(e *evidence) { e.readConns, e.want = 0, false }),
		"reader, one stream at a time": with(read, func(e *evidence) { e.peak, e.want = 1, false }),
		"reader, generator CPU-bound":  with(read, func(e *evidence) { e.generatorBusy, e.want = 0.95, false }),
		"reader, short run": with(read, func(e *evidence) {
			e.duration, e.readBusy, e.readSpan, e.want = 900*time.Millisecond, 890*time.Millisecond, 900*time.Millisecond, false
		}),
		"reader, too few requests":      with(read, func(e *evidence) { e.n, e.want = 150, false }),
		"reader, three connections":     with(read, func(e *evidence) { e.conns, e.readConns, e.capConns, e.want = 3, 3, 3, false }),
		"reader, one VU":                with(read, func(e *evidence) { e.vus, e.peak, e.want = 1, 1, false }),
		"reader, no duration (inspect)": with(read, func(e *evidence) { e.duration, e.want = 0, false }),
		// (stream-limit judges a stream_wait where the pool's streams
		// could run out: not with no HTTP/2 limit seen, nor when the VUs
		// fit in the connections' streams.)
		"HTTP/1.1 run":              with(streams, func(e *evidence) { e.h1, e.want, e.wantStreamLimit = true, false, false }),
		"many connections":          with(streams, func(e *evidence) { e.conns, e.capConns, e.want, e.wantStreamLimit = 3, 3, false, true }),
		"short run":                 with(streams, func(e *evidence) { e.duration, e.want, e.wantStreamLimit = 900*time.Millisecond, false, true }),
		"too few requests":          with(streams, func(e *evidence) { e.n, e.want, e.wantStreamLimit = 150, false, true }),
		"no wait, no stall":         with(streams, func(e *evidence) { e.wait, e.want = 0, false }),
		"small wait":                with(streams, func(e *evidence) { e.wait, e.want = 500*time.Microsecond, false }),
		"streams below the limit":   with(streams, func(e *evidence) { e.peak, e.want, e.wantStreamLimit = 5, false, true }),
		"VUs within the streams":    with(streams, func(e *evidence) { e.vus, e.want, e.wantStreamLimit = 8, false, false }),
		"one VU per connection":     with(streams, func(e *evidence) { e.vus, e.conns, e.want, e.wantStreamLimit = 1, 1, false, false }),
		"small connection stall":    with(flow, func(e *evidence) { e.stall, e.want = 500*time.Millisecond, false }),
		"stream window stalls only": with(flow, func(e *evidence) { e.stall, e.stallStream, e.want = 0, 8*time.Second, false }),
		"no duration (inspect)":     with(flow, func(e *evidence) { e.duration, e.want = 0, false }),
	} {
		t.Run(name, func(t *testing.T) {
			fs := diagnose.Analyze(e.input())
			if !e.want {
				if has(fs, "single-connection-bottleneck") {
					t.Errorf("fired on %s: %s", name, dump(fs))
				}
				if has(fs, "stream-limit") != e.wantStreamLimit {
					t.Errorf("stream-limit %v, want %v: %s", has(fs, "stream-limit"), e.wantStreamLimit, dump(fs))
				}
				return
			}
			f := find(t, fs, "single-connection-bottleneck")
			mention(t, f, e.mentions...)
			if e.wait > 0 && has(fs, "stream-limit") {
				t.Errorf("stream-limit beside single-connection-bottleneck, whose evidence it repeats: %s", dump(fs))
			}
		})
	}
}
