package diagnose_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/enginetest"
	"github.com/faya-load/faya/internal/h2"
	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// tlsServer serves "ok" over TLS, HTTP/2 when h2 (else HTTP/1.1 only),
// answering a connection's perConn-th request with "Connection: close"
// when perConn > 0 (Go's h2 server turns it into a GOAWAY).
func tlsServer(t *testing.T, h2 bool, perConn int) string {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.RemoteAddr]++
		n := seen[r.RemoteAddr]
		mu.Unlock()
		if perConn > 0 && n >= perConn {
			w.Header().Set("Connection", "close")
		}
		_, _ = w.Write([]byte("ok"))
	}))
	srv.EnableHTTP2 = h2
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func h2Run(t *testing.T, url string, mode transport.HTTPVersion, vus int, n int64) []diagnose.Finding {
	return h2RunOn(t, engine.EngineNetHTTP, url, mode, vus, n)
}

func h2RunOn(t *testing.T, eng, url string, mode transport.HTTPVersion, vus int, n int64) []diagnose.Finding {
	p := closedPlan(url+"/", vus, n)
	p.Transport.HTTP = mode
	p.Transport.InsecureSkipVerify = true
	fs, s := diagnoseRun(t, eng, p)
	if s.OK != n {
		t.Fatalf("ok %d of %d: %v %v", s.OK, n, s.ErrCount, s.ErrExample)
	}
	return fs
}

func has(fs []diagnose.Finding, id string) bool {
	for _, f := range fs {
		if f.ID == id {
			return true
		}
	}
	return false
}

// A server whose HTTP/2 connections end after 10 streams: the finding
// names the count and the nginx setting; a server that keeps them does
// not get it.
func TestServerGoAway(t *testing.T) {
	fs := h2Run(t, tlsServer(t, true, 10), transport.HTTP2, 1, 100)
	f := find(t, fs, "server-goaway")
	mention(t, f, "after 10 streams", "keepalive_requests 10", "Go's client has no setting for it")
	if has(fs, "h2-not-negotiated") {
		t.Errorf("h2-not-negotiated on an h2 run: %s", dump(fs))
	}
	if fs := h2Run(t, tlsServer(t, true, 0), transport.HTTP2, 1, 100); has(fs, "server-goaway") {
		t.Errorf("server-goaway without a GOAWAY: %s", dump(fs))
	}
}

// --http auto against an HTTP/1.1-only https server: h2-not-negotiated,
// with both engines (each offers h2 on auto); --http 1.1 (asked for) and
// an h2 server do not get it.
func TestH2NotNegotiated(t *testing.T) { forEachEngine(t, testH2NotNegotiated) }

func testH2NotNegotiated(t *testing.T, eng string) {
	h1 := tlsServer(t, false, 0)
	f := find(t, h2RunOn(t, eng, h1, transport.HTTPAuto, 2, 20), "h2-not-negotiated")
	mention(t, f, "--http 2", "--http 1.1", "connections were HTTP/1.1")
	if fs := h2RunOn(t, eng, h1, transport.HTTP1, 2, 20); has(fs, "h2-not-negotiated") {
		t.Errorf("h2-not-negotiated with --http 1.1: %s", dump(fs))
	}
	if fs := h2RunOn(t, eng, tlsServer(t, true, 0), transport.HTTPAuto, 2, 20); has(fs, "h2-not-negotiated") {
		t.Errorf("h2-not-negotiated on an h2 server: %s", dump(fs))
	}
}

// stream-limit fires on the stream_wait an engine measured, with the
// connections the server's limit needs, only where the pool's streams
// could run out (its connections times their streams below the VUs); not
// when the wait is small, nor where another connection or stream was
// always there to open (the waits were for a dial: the first, or one
// replacing a connection ended by GOAWAY).
func TestStreamLimit(t *testing.T) {
	snap := func(wait time.Duration, server uint32) *metrics.Snapshot {
		rec := metrics.NewRecorder(1)
		rec.ConnDialedProto(metrics.ProtoH2)
		rec.H2Settings(server, server > 0, true)
		rec.H2Streams(4)
		sh := rec.Shard(0)
		for range 100 {
			var x metrics.Sample
			x.Latency, x.Status, x.Proto, x.Reused = 10*time.Millisecond, 200, metrics.ProtoH2, 1
			x.Phases[metrics.PhaseStreamWait], x.PhaseSet = wait, 1<<metrics.PhaseStreamWait
			sh.Record(&x, nil)
		}
		return rec.Flush(nil)
	}
	analyze := func(cfg diagnose.Config, wait time.Duration, server uint32) []diagnose.Finding {
		fs := diagnose.Analyze(diagnose.Input{Config: cfg, Total: snap(wait, server)})
		noHarm(t, fs)
		return fs
	}
	const long = 5 * time.Millisecond
	// A cap below what the server's 4 streams need for 16 VUs: raise it
	// to 4.
	cfg := diagnose.Config{Concurrency: 16, MaxConnsPerHost: 2}
	f := find(t, analyze(cfg, long, 4), "stream-limit")
	mention(t, f, "SETTINGS_MAX_CONCURRENT_STREAMS was 4", "--max-conns-per-host 4", "16 VUs shared 1 HTTP/2 connections open at once",
		"--max-conns-per-host 2 allowed 8 streams", "allow more streams per connection on the server")
	// --h2-strict-streams kept a cap of 16 to one connection: drop it;
	// the cap, above what is needed, is not lowered.
	strict := diagnose.Config{Concurrency: 16, MaxConnsPerHost: 16, H2StrictStreams: true}
	f = find(t, analyze(strict, long, 4), "stream-limit")
	if strings.Contains(f.Fix, "--max-conns-per-host 4") {
		t.Errorf("stream-limit lowers a cap of 16 to 4: %s", f.Fix)
	}
	mention(t, f, "drop --h2-strict-streams", "opens the 4 connections 16 VUs need")
	// Strict and a cap below the need: both.
	f = find(t, analyze(diagnose.Config{Concurrency: 16, MaxConnsPerHost: 2, H2StrictStreams: true}, long, 4), "stream-limit")
	mention(t, f, "drop --h2-strict-streams", "--max-conns-per-host 4")
	// The client's --h2-max-streams 2 below the server's 4, over 2
	// connections: 4 streams for 16 VUs.
	f = find(t, analyze(diagnose.Config{Concurrency: 16, MaxConnsPerHost: 2, H2MaxStreams: 2}, long, 4), "stream-limit")
	mention(t, f, "--h2-max-streams 2 capped", "--max-conns-per-host 8", "raise --h2-max-streams to 8")
	for _, tc := range []struct {
		name   string
		cfg    diagnose.Config
		wait   time.Duration
		server uint32
	}{
		{"a 1% wait", cfg, 100 * time.Microsecond, 4},
		// 16 connections of 4 streams hold 16 VUs: the waits were dials.
		{"cap holds the VUs", diagnose.Config{Concurrency: 16, MaxConnsPerHost: 16}, long, 4},
		{"exactly the VUs", diagnose.Config{Concurrency: 16, MaxConnsPerHost: 4}, long, 4},
		{"no cap of connections", diagnose.Config{Concurrency: 16}, long, 4},
		{"server sets no limit", diagnose.Config{Concurrency: 16, MaxConnsPerHost: 1}, long, 0},
		{"server's limit above the VUs", diagnose.Config{Concurrency: 16, MaxConnsPerHost: 1}, long, 250},
		{"client cap holds the VUs", diagnose.Config{Concurrency: 16, MaxConnsPerHost: 2, H2MaxStreams: 8}, long, 250},
		// A pool per VU carries its VU's one request.
		{"pool per VU", diagnose.Config{Concurrency: 16, MaxConnsPerHost: 1, PerVUPools: true}, long, 4},
	} {
		if fs := analyze(tc.cfg, tc.wait, tc.server); has(fs, "stream-limit") {
			t.Errorf("%s: stream-limit %s", tc.name, dump(fs))
		}
	}
}

// h2Server is Go's HTTP/2 server over TLS with the settings of cfg,
// answering after work (the server's own time per request) and reading
// request bodies to the end.
func h2Server(t *testing.T, cfg *http.HTTP2Config, work time.Duration) string {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if work > 0 {
			time.Sleep(work)
		}
		_, _ = w.Write([]byte("ok"))
	}))
	srv.Config.HTTP2 = cfg
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

// bottleneckRun runs vus VUs for d over --http 2 with at most conns
// connections, posting body when it is not nil. The finding judges runs
// of 200 requests or more: a machine too loaded (or -race) to send them
// in d runs again for twice as long, up to 8 times d.
func bottleneckRun(t *testing.T, eng, url string, vus, conns int, d time.Duration, body []byte) ([]diagnose.Finding, *metrics.Snapshot) {
	var fs []diagnose.Finding
	var s *metrics.Snapshot
	for run := d; ; run *= 2 {
		p := engine.Plan{Scenarios: []engine.Scenario{{
			Name:     "t",
			Executor: engine.Executor{Type: engine.VUs, VUs: vus, Iterations: 100_000, Duration: run},
			Steps:    []engine.Step{{URL: url + "/"}},
		}}}
		if body != nil {
			p.Scenarios[0].Steps[0].Method, p.Scenarios[0].Steps[0].Body, p.Scenarios[0].Steps[0].RawBody = http.MethodPost, body, true
		}
		p.Transport.HTTP, p.Transport.InsecureSkipVerify, p.Transport.MaxConnsPerHost = transport.HTTP2, true, conns
		fs, s = diagnoseRun(t, eng, p)
		if s.Requests >= 300 || run >= 8*d {
			break
		}
		t.Logf("%d requests in %v: too few to judge, running for %v", s.Requests, run, 2*run)
	}
	if s.Requests < 200 || s.Errors+s.HTTPErrors > 0 || s.Protocols[metrics.ProtoH2] != s.Requests {
		t.Fatalf("%d requests, %d errors (%v %v), protocols %v", s.Requests, s.Errors+s.HTTPErrors, s.ErrCount, s.ErrExample, s.Protocols)
	}
	return fs, s
}

// Real runs against Go's HTTP/2 server of 2 streams per connection: 16
// VUs kept to one connection wait for a stream slot most of their time,
// and the finding says so with the server's number and the connections
// the VUs need; allowed 16 connections, the pool opens 8 and nothing
// fires. Both engines measure the stream wait (net/http's on faya's own
// pool of Go's connections).
func TestSingleConnectionBottleneckRun(t *testing.T) {
	url := h2Server(t, &http.HTTP2Config{MaxConcurrentStreams: 2}, 2*time.Millisecond)
	forEachEngine(t, func(t *testing.T, eng string) {
		fs, s := bottleneckRun(t, eng, url, 16, 1, 1200*time.Millisecond, nil)
		f := find(t, fs, "single-connection-bottleneck")
		mention(t, f, "16 VUs sent", "over 1 HTTP/2 connection open at once", "every connection's 2 streams were in use (the server's SETTINGS_MAX_CONCURRENT_STREAMS)",
			"--max-conns-per-host 8 (in Go: http.Transport.MaxConnsPerHost = 8")
		if has(fs, "stream-limit") {
			t.Errorf("stream-limit beside it: %s", dump(fs))
		}
		t.Logf("fired: %d requests, max open %d: %s", s.Requests, s.MaxOpen, f.Evidence)

		// Allowed 16 connections, the VUs spread over 8 or more.
		fs, s = bottleneckRun(t, eng, url, 16, 16, 1200*time.Millisecond, nil)
		if has(fs, "single-connection-bottleneck") || s.MaxOpen < 8 {
			t.Errorf("16 connections allowed: max open %d (want 8 or more), findings %s", s.MaxOpen, dump(fs))
		}
	})
}

// A server's connection window of 64 KiB shared by 8 streams posting
// 256 KiB bodies on one connection: the bodies wait for the connection's
// window (the streams' own, 1 MiB, have room), and the finding asks for
// more connections, each with its own window.
func TestSingleConnectionFlowControlRun(t *testing.T) {
	url := h2Server(t, &http.HTTP2Config{MaxReceiveBufferPerConnection: 64 << 10, MaxReceiveBufferPerStream: 1 << 20}, 0)
	body := bytes.Repeat([]byte("x"), 256<<10)
	// 3 s: the finding is judged on 200 requests or more, and a loaded
	// machine under -race posted 194 of these in 1.2 s.
	fs, s := bottleneckRun(t, engine.EngineH1, url, 8, 1, 3*time.Second, body)
	t.Logf("%d requests, stalls %d for %v, on the connection's window %d for %v", s.Requests, s.H2.FlowStalls, s.H2.FlowStallTime, s.H2.FlowStallsConn, s.H2.FlowStallConnTime)
	if s.H2.FlowStallsConn == 0 || s.H2.FlowStallConnTime <= 0 || s.H2.FlowStallConnTime > s.H2.FlowStallTime || s.H2.FlowStallsConn > s.H2.FlowStalls {
		t.Fatalf("flow-control stalls %+v", s.H2)
	}
	f := find(t, fs, "single-connection-bottleneck")
	mention(t, f, "8 VUs sent", fmt.Sprintf("waited %d times for the connection's flow-control window", s.H2.FlowStallsConn), "--max-conns-per-host", "MaxReceiveBufferPerConnection")
	// Without request bodies nothing waits for a window, and the
	// server's 250 streams are far from in use: nothing fires.
	if fs, _ := bottleneckRun(t, engine.EngineH1, url, 8, 1, 1200*time.Millisecond, nil); has(fs, "single-connection-bottleneck") {
		t.Errorf("fired on GETs: %s", dump(fs))
	}
}

// Requests the HTTP/2 clients sent again were ones the server said it did
// not process (REFUSED_STREAM, above a GOAWAY's last stream): no
// silent-retries on an HTTP/2 run, as on an HTTP/1.1 one with the same
// count.
func TestNoSilentRetriesOnH2(t *testing.T) {
	for _, tc := range []struct {
		name string
		h1   int64
		want bool
	}{{"HTTP/2 only", 0, false}, {"HTTP/1.1 too", 10, true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := &metrics.Snapshot{Requests: 1000, OK: 1000, Retries: 40}
			s.Protocols[metrics.ProtoH2] = 1000 - tc.h1
			s.Protocols[metrics.ProtoH1] = tc.h1
			fs := diagnose.Analyze(diagnose.Input{Config: diagnose.Config{Concurrency: 4}, Total: s, Duration: 2 * time.Second})
			if got := has(fs, "silent-retries"); got != tc.want {
				t.Errorf("silent-retries %v, want %v: %s", got, tc.want, dump(fs))
			}
		})
	}
}

// One HTTP/2 connection whose reader is made slow (it waits 300 µs before
// each frame, SlowReaders) while the server answers at once: the reader
// is busy nearly all the run while 64 VUs' streams wait for their
// answers, and the finding names it with its numbers and asks for the
// connections that spread them. With the reader not slowed and the
// server answering 5 ms after each request, the reader waits for the
// socket: it is timed, and nothing fires. The net/http engine's reader
// is Go's, not timed: nothing is recorded of it and nothing fires on it.
func TestSingleConnectionReadLoopRun(t *testing.T) {
	fast, fst := testserver.H2FramesURL(t, 1, 0)
	slow, sst := testserver.H2FramesURL(t, 1, 5*time.Millisecond)
	share := func(s *metrics.Snapshot, d time.Duration) float64 { return float64(s.H2.ReadBusyMax) / float64(d) }

	restore := h2.SlowReaders(300 * time.Microsecond)
	fs, s, d := readLoopRun(t, engine.EngineH1, fast)
	restore()
	t.Logf("slowed reader: %d requests in %v, %d readers timed, busiest %v of %v (%.0f%% of the run)",
		s.Requests, d, s.H2.ReadLoops, s.H2.ReadBusyMax, s.H2.ReadBusyMaxSpan, 100*share(s, d))
	if s.H2.ReadLoops != 1 || fst.Conns.Load() != 1 || fst.Requests.Load() < s.Requests {
		t.Errorf("%d readers timed, the server saw %d connections and %d requests, want 1 and %d or more", s.H2.ReadLoops, fst.Conns.Load(), fst.Requests.Load(), s.Requests)
	}
	f := find(t, fs, "single-connection-bottleneck")
	mention(t, f, "One HTTP/2 connection was the limit: its reader was busy", "64 VUs sent", "over 1 HTTP/2 connection open at once",
		fmt.Sprintf("was busy %.2fs of the %.2fs run", s.H2.ReadBusyMax.Seconds(), d.Seconds()), "streams open at once on a connection queued behind it",
		"--max-conns-per-host 2 --h2-max-streams 32", "MaxConnsPerHost = 2")
	if share(s, d) < 0.9 || s.H2.PeakStreams < 2 {
		t.Errorf("fired with the reader busy %.0f%% of the run (below 90%%), %d streams at once", 100*share(s, d), s.H2.PeakStreams)
	}

	fs, s, d = readLoopRun(t, engine.EngineH1, slow)
	t.Logf("slow server: %d requests in %v, %d readers timed, busiest %v of %v (%.0f%% of the run)",
		s.Requests, d, s.H2.ReadLoops, s.H2.ReadBusyMax, s.H2.ReadBusyMaxSpan, 100*share(s, d))
	if s.H2.ReadLoops != 1 || sst.Conns.Load() != 1 {
		t.Errorf("%d readers timed, %d connections to the server, want 1", s.H2.ReadLoops, sst.Conns.Load())
	}
	// Waiting for the server: well below the 90% (a loaded -race run's
	// reader takes tens of µs for an answer, 64 of them every 5 ms).
	if share(s, d) > 0.6 || s.H2.ReadBusyMaxSpan < d/2 {
		t.Errorf("reader busy %v of %v (%.0f%% of the %v run) for answers 5 ms late", s.H2.ReadBusyMax, s.H2.ReadBusyMaxSpan, 100*share(s, d), d)
	}
	if has(fs, "single-connection-bottleneck") {
		t.Errorf("fired on a reader waiting for the server: %s", dump(fs))
	}

	fs, s, _ = readLoopRun(t, engine.EngineNetHTTP, fast)
	if s.H2.ReadLoops != 0 || s.H2.ReadBusyMax != 0 || s.Hist(metrics.H2ReadBusy) != nil {
		t.Errorf("net/http engine: %d readers timed, busiest %v", s.H2.ReadLoops, s.H2.ReadBusyMax)
	}
	if has(fs, "single-connection-bottleneck") {
		t.Errorf("fired on the net/http engine, whose reader is not timed: %s", dump(fs))
	}
}

// readLoopRun is 64 VUs for 2 s on one HTTP/2 connection (h2c) to url.
func readLoopRun(t *testing.T, eng, url string) ([]diagnose.Finding, *metrics.Snapshot, time.Duration) {
	t.Helper()
	p := engine.Plan{Scenarios: []engine.Scenario{{
		Name:     "t",
		Executor: engine.Executor{Type: engine.VUs, VUs: 64, Iterations: 1_000_000, Duration: 2 * time.Second},
		Steps:    []engine.Step{{URL: url + "/"}},
	}}}
	p.Transport.HTTP, p.Transport.MaxConnsPerHost = transport.HTTP2, 1
	fs, res := diagnoseResult(t, eng, p)
	s := res.Total
	if s.Requests < 200 || s.Errors+s.HTTPErrors > 0 || s.Protocols[metrics.ProtoH2] != s.Requests {
		t.Fatalf("%d requests, %d errors (%v %v), protocols %v", s.Requests, s.Errors+s.HTTPErrors, s.ErrCount, s.ErrExample, s.Protocols)
	}
	return fs, s, res.Duration
}

// A server that ends each HTTP/2 connection with a GOAWAY after 10
// streams, and a pool whose connections hold every VU's stream (Go's
// server allows 250): the requests that wait, wait for the replacement
// connection's dial, not for a stream slot. server-goaway names the
// cause; stream-limit, which would have the client open more connections
// or the server allow more streams, does not fire, on either engine.
func TestNoStreamLimitAfterGoAway(t *testing.T) {
	url := tlsServer(t, true, 10)
	for _, eng := range engine.Engines() {
		if !engine.SpeaksH2(eng) {
			continue
		}
		t.Run(enginetest.Name(eng), func(t *testing.T) {
			for _, conns := range []int{1, 2} {
				p := closedPlan(url+"/", 4, 400)
				p.Transport.HTTP = transport.HTTP2
				p.Transport.InsecureSkipVerify = true
				p.Transport.MaxConnsPerHost = conns
				fs, s := diagnoseRun(t, eng, p)
				if s.OK != 400 || s.H2.GoAways < 30 {
					t.Fatalf("ok %d of 400, %d GOAWAYs (want one per 10 streams): %v %q", s.OK, s.H2.GoAways, s.ErrCount, s.ErrExample)
				}
				find(t, fs, "server-goaway")
				wait := metrics.DistOf(s.Hist(metrics.StreamWait))
				t.Logf("conns %d: stream waits %d (mean %s), latency mean %s, peak streams %d, dialed %d", conns, wait.Count, wait.Mean, metrics.DistOf(s.Hist(metrics.Latency)).Mean, s.H2.PeakStreams, s.Dialed)
				noFinding(t, fs, "stream-limit", "single-connection-bottleneck")
			}
		})
	}
}

// Over HTTP/2 the queue is for stream slots: an open-model run whose VUs
// waited for them (stream_wait, 80% of the latency; 1 connection of 4
// streams for 16 VUs) is limited by the streams, with the connections
// 16 VUs need at 4 streams each; not by the VUs (whose fix, more of
// them, would queue more) nor by a wait for a connection. pool-wait
// does not take an HTTP/2 run's blocked (a wait for a connection being
// dialed) for VUs short of connections of their own.
func TestStreamShortfall(t *testing.T) {
	snap := func(stream, blocked time.Duration) *metrics.Snapshot {
		rec := metrics.NewRecorder(1)
		rec.ConnDialedProto(metrics.ProtoH2)
		rec.H2Settings(4, true, true)
		rec.H2Streams(4)
		sh := rec.Shard(0)
		for range 500 {
			var x metrics.Sample
			x.Latency, x.Status, x.Proto, x.Reused = 10*time.Millisecond, 200, metrics.ProtoH2, 1
			x.Phases[metrics.PhaseStreamWait], x.Phases[metrics.PhaseBlocked] = stream, blocked
			x.PhaseSet = 1<<metrics.PhaseStreamWait | 1<<metrics.PhaseBlocked
			sh.Record(&x, nil)
		}
		s := rec.Flush(nil)
		s.Intended, s.Sent, s.Dropped = 1000, 500, 500
		return s
	}
	in := diagnose.Input{Config: diagnose.Config{Open: true, Concurrency: 16, MaxConnsPerHost: 1}, Scheduling: time.Second, Total: snap(8*time.Millisecond, 0)}
	sf := diagnose.RateShortfall(in)
	if sf.LimitedBy != "streams" {
		t.Fatalf("limited by %q (%s; fix %s), want streams", sf.LimitedBy, sf.Reason, sf.Fix)
	}
	for _, want := range []string{"waiting for a free stream slot", "stream_wait mean 8.0ms", "1 connection (--max-conns-per-host 1) of 4 streams (the server's SETTINGS_MAX_CONCURRENT_STREAMS)", "below --max-vus 16"} {
		if !strings.Contains(sf.Reason, want) {
			t.Errorf("reason %q does not say %q", sf.Reason, want)
		}
	}
	if !strings.Contains(sf.Fix, "--max-conns-per-host 4") || strings.Contains(sf.Fix, "--max-vus 3") {
		t.Errorf("fix %q: want --max-conns-per-host 4, no more VUs", sf.Fix)
	}
	fs := diagnose.Analyze(in)
	noHarm(t, fs)
	mention(t, find(t, fs, "rate-shortfall"), "limited by the HTTP/2 stream slots")
	// --h2-max-streams 4 of the server's 250, strict: drop strict, or
	// raise the client's cap.
	in.Config.H2MaxStreams, in.Config.H2StrictStreams, in.Config.MaxConnsPerHost = 4, true, 0
	in.Total = snap(8*time.Millisecond, 0)
	in.Total.H2.MaxStreamsMin, in.Total.H2.MaxStreamsMax = 250, 250
	if sf := diagnose.RateShortfall(in); sf.LimitedBy != "streams" || !strings.Contains(sf.Reason, "1 connection (--h2-strict-streams) of 4 streams (--h2-max-streams)") ||
		!strings.Contains(sf.Fix, "drop --h2-strict-streams") || !strings.Contains(sf.Fix, "raise --h2-max-streams to 16") {
		t.Errorf("strict, client cap: limited by %q: %s; fix %s", sf.LimitedBy, sf.Reason, sf.Fix)
	}
	// Streams enough (4 connections of 4): not the streams.
	in = diagnose.Input{Config: diagnose.Config{Open: true, Concurrency: 16, MaxConnsPerHost: 4}, Scheduling: time.Second, Total: snap(8*time.Millisecond, 0)}
	if sf := diagnose.RateShortfall(in); sf.LimitedBy == "streams" {
		t.Errorf("4 connections of 4 streams for 16 VUs: limited by streams: %s", sf.Reason)
	}
	// A closed run over HTTP/2 with a cap below the VUs whose requests
	// were blocked half their latency: no pool-wait.
	closed := diagnose.Input{Config: diagnose.Config{Concurrency: 16, MaxConnsPerHost: 2}, Total: snap(0, 5*time.Millisecond)}
	if fs := diagnose.Analyze(closed); has(fs, "pool-wait") {
		t.Errorf("pool-wait over HTTP/2: %s", dump(fs))
	}
}
