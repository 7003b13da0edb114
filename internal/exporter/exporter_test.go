package exporter_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/exporter"
	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/metrics"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type families map[string]*dto.MetricFamily

func parse(t *testing.T, r io.Reader) families {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("parse the exposition: %v", err)
	}
	return fams
}

// scrape gets h's exposition in the text format.
func scrape(t *testing.T, h http.Handler) families {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("scrape: status %d: %s", w.Code, w.Body)
	}
	return parse(t, w.Body)
}

// metric returns the series of name whose labels are labels (name, value
// pairs), or nil.
func (f families) metric(name string, labels ...string) *dto.Metric {
	fam := f[name]
	if fam == nil {
		return nil
	}
	for _, m := range fam.GetMetric() {
		if len(m.GetLabel())*2 != len(labels) {
			continue
		}
		ok := true
		for i, l := range m.GetLabel() {
			if l.GetName() != labels[2*i] || l.GetValue() != labels[2*i+1] {
				ok = false
				break
			}
		}
		if ok {
			return m
		}
	}
	return nil
}

// value returns a counter's or a gauge's value, failing when the series is
// missing.
func (f families) value(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	m := f.metric(name, labels...)
	if m == nil {
		t.Fatalf("no series %s%v", name, labels)
	}
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	}
	t.Fatalf("%s%v is neither a counter nor a gauge", name, labels)
	return 0
}

// sum adds the values of every series of name.
func (f families) sum(name string) float64 {
	var s float64
	for _, m := range f[name].GetMetric() {
		s += m.GetCounter().GetValue()
	}
	return s
}

func (f families) histogram(t *testing.T, name string, labels ...string) *dto.Histogram {
	t.Helper()
	m := f.metric(name, labels...)
	if m == nil || m.Histogram == nil {
		t.Fatalf("no histogram %s%v", name, labels)
	}
	return m.GetHistogram()
}

// bucket returns the cumulative count of h's bucket le.
func bucket(t *testing.T, h *dto.Histogram, le float64) uint64 {
	t.Helper()
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() == le {
			return b.GetCumulativeCount()
		}
	}
	t.Fatalf("no bucket le=%v", le)
	return 0
}

func wantValue(t *testing.T, f families, want float64, name string, labels ...string) {
	t.Helper()
	if got := f.value(t, name, labels...); got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// Before the first Update, the exporter serves an empty run.
func TestBeforeUpdate(t *testing.T) {
	f := scrape(t, exporter.New().Handler())
	if _, ok := f["faya_requests_total"]; ok {
		t.Error("faya_requests_total has series before any response")
	}
	for _, name := range []string{"faya_connections_dialed_total", "faya_connection_reuses_total", "faya_connections_open",
		"faya_vus_busy", "faya_iterations_total", "faya_setup_requests_total"} {
		wantValue(t, f, 0, name)
	}
	wantValue(t, f, 0, "faya_request_errors_total", "class", "refused")
	wantValue(t, f, 0, "faya_connections_closed_total", "reason", "run_end")
	wantValue(t, f, 0, "faya_checks_total", "result", "failed")
	if h := f.histogram(t, "faya_request_duration_seconds"); h.GetSampleCount() != 0 || len(h.GetBucket()) == 0 {
		t.Errorf("latency histogram before any request: count %d, %d buckets", h.GetSampleCount(), len(h.GetBucket()))
	}
	if f["go_goroutines"] == nil || f["process_cpu_seconds_total"] == nil {
		t.Error("the Go and process collectors are missing")
	}
}

func ok200(lat time.Duration, reused bool) *metrics.Sample {
	s := &metrics.Sample{Latency: lat, Status: 200, First: true, ChecksPassed: 1}
	if reused {
		s.Reused = 1
	} else {
		s.Fresh = 1
	}
	return s
}

func withPhase(s *metrics.Sample, m metrics.Metric, d time.Duration) *metrics.Sample {
	i := int(m - metrics.Blocked)
	s.Phases[i] = d
	s.PhaseSet |= 1 << i
	return s
}

func TestUpdate(t *testing.T) {
	rec := metrics.NewRecorder(1)
	sh := rec.Shard(0)
	rec.VUs.Allocated(4)
	rec.ConnDialed()
	rec.ConnDialed()
	// Three 200s at exactly 1 ms (on the bound: counted under le=0.001),
	// one fresh and two reused; a 404 at 3 ms; a refused connection at
	// 700 µs and a timeout at 40 ms.
	sh.Record(withPhase(ok200(time.Millisecond, false), metrics.Connect, 250*time.Microsecond), nil)
	sh.Record(ok200(time.Millisecond, true), nil)
	sh.Record(ok200(time.Millisecond, true), nil)
	sh.Record(&metrics.Sample{Latency: 3 * time.Millisecond, Status: 404, Reused: 1, ChecksFailed: 1}, nil)
	sh.Record(&metrics.Sample{Latency: 700 * time.Microsecond, Err: metrics.ErrRefused}, errors.New("connect: connection refused"))
	sh.Record(&metrics.Sample{Latency: 40 * time.Millisecond, Err: metrics.ErrTimeout}, errors.New("timeout"))
	// A setup request is counted apart.
	sh.Record(&metrics.Sample{Latency: time.Millisecond, Status: 200, Setup: true, Fresh: 1}, nil)
	rec.ConnClosed(metrics.ClosedConn{Reason: metrics.CloseServer, Requests: 3})
	rec.PutIdleFailed(metrics.CloseTooManyIdleForHost)
	total := rec.Flush(nil)
	kept := total.Clone()

	x := exporter.New()
	x.Update(total, metrics.Point{T: time.Second, ConnsOpen: 1, ConnsActive: 1, VUsBusy: 3, VUsAllocated: 4})
	total.Reset() // the caller reuses its snapshot: the exporter copied it
	f := scrape(t, x.Handler())

	wantValue(t, f, 3, "faya_requests_total", "status", "200")
	wantValue(t, f, 1, "faya_requests_total", "status", "404")
	if n := len(f["faya_requests_total"].GetMetric()); n != 2 {
		t.Errorf("faya_requests_total has %d series, want 2 (200, 404)", n)
	}
	wantValue(t, f, 1, "faya_request_errors_total", "class", "refused")
	wantValue(t, f, 1, "faya_request_errors_total", "class", "timeout")
	wantValue(t, f, 0, "faya_request_errors_total", "class", "dns")
	if n := len(f["faya_request_errors_total"].GetMetric()); n != metrics.NumErrClasses-1 {
		t.Errorf("faya_request_errors_total has %d series, want %d (every class but none)", n, metrics.NumErrClasses-1)
	}

	h := f.histogram(t, "faya_request_duration_seconds")
	if h.GetSampleCount() != 6 {
		t.Errorf("latency count = %d, want 6", h.GetSampleCount())
	}
	const wantSum = 0.0467 // 0.7 + 3×1 + 3 + 40 ms
	if s := h.GetSampleSum(); math.Abs(s-wantSum) > wantSum*1e-3 {
		t.Errorf("latency sum = %v, want %v within 0.1%%", s, wantSum)
	}
	for _, c := range []struct {
		le   float64
		want uint64
	}{{0.0005, 0}, {0.001, 4}, {0.002, 4}, {0.005, 5}, {0.02, 5}, {0.05, 6}, {60, 6}} {
		if got := bucket(t, h, c.le); got != c.want {
			t.Errorf("latency bucket le=%v = %d, want %d", c.le, got, c.want)
		}
	}
	ph := f.histogram(t, "faya_request_phase_seconds", "phase", "connect")
	if ph.GetSampleCount() != 1 || bucket(t, ph, 0.0002) != 0 || bucket(t, ph, 0.0005) != 1 {
		t.Errorf("connect phase: count %d, le=0.0002 %d, le=0.0005 %d; want 1, 0, 1",
			ph.GetSampleCount(), bucket(t, ph, 0.0002), bucket(t, ph, 0.0005))
	}
	if n := f.histogram(t, "faya_request_phase_seconds", "phase", "tls").GetSampleCount(); n != 0 {
		t.Errorf("tls phase count = %d, want 0", n)
	}
	if n := len(f["faya_request_phase_seconds"].GetMetric()); n != metrics.NumPhases {
		t.Errorf("faya_request_phase_seconds has %d series, want %d", n, metrics.NumPhases)
	}

	wantValue(t, f, 2, "faya_connections_dialed_total")
	wantValue(t, f, 3, "faya_connection_reuses_total")
	wantValue(t, f, 1, "faya_connections_closed_total", "reason", "server")
	wantValue(t, f, 0, "faya_connections_closed_total", "reason", "run_end")
	if n := len(f["faya_connections_closed_total"].GetMetric()); n != metrics.NumCloseReasons {
		t.Errorf("faya_connections_closed_total has %d series, want %d", n, metrics.NumCloseReasons)
	}
	wantValue(t, f, 1, "faya_idle_put_errors_total", "reason", "too_many_idle_for_host")
	wantValue(t, f, 0, "faya_idle_put_errors_total", "reason", "idle_timeout")
	if n := len(f["faya_idle_put_errors_total"].GetMetric()); n != 7 {
		t.Errorf("faya_idle_put_errors_total has %d series, want 7", n)
	}
	wantValue(t, f, 1, "faya_connections_open")
	wantValue(t, f, 1, "faya_connections_active")
	wantValue(t, f, 3, "faya_vus_busy")
	wantValue(t, f, 4, "faya_vus_allocated")
	wantValue(t, f, 3, "faya_iterations_total")
	wantValue(t, f, 3, "faya_checks_total", "result", "passed")
	wantValue(t, f, 1, "faya_checks_total", "result", "failed")
	wantValue(t, f, 1, "faya_setup_requests_total")

	// A second update with a larger total and no point (as the engine's
	// final flush right after a tick): the counters grow and the gauges
	// stay.
	sh.Record(ok200(2*time.Millisecond, true), nil)
	rec.ConnDialed()
	kept.Merge(rec.Flush(nil))
	x.Update(kept, metrics.Point{})
	f = scrape(t, x.Handler())
	wantValue(t, f, 4, "faya_requests_total", "status", "200")
	wantValue(t, f, 3, "faya_connections_dialed_total")
	wantValue(t, f, 4, "faya_connection_reuses_total")
	wantValue(t, f, 1, "faya_connections_open")
	wantValue(t, f, 3, "faya_vus_busy")
	h = f.histogram(t, "faya_request_duration_seconds")
	if h.GetSampleCount() != 7 || bucket(t, h, 0.001) != 4 || bucket(t, h, 0.002) != 5 {
		t.Errorf("latency after the second update: count %d, le=0.001 %d, le=0.002 %d; want 7, 4, 5",
			h.GetSampleCount(), bucket(t, h, 0.001), bucket(t, h, 0.002))
	}
	if want := kept.Hist(metrics.Latency).Mean() * 7 / 1e9; math.Abs(h.GetSampleSum()-want) > want*1e-9 {
		t.Errorf("latency sum = %v, want the HDR mean × count = %v", h.GetSampleSum(), want)
	}
}

// A run against the built-in target: scrapes over HTTP during the run see
// its counts so far, and the final scrape sees the run's totals.
func TestRun(t *testing.T) {
	srv := testserver.Start(t)
	x := exporter.New()

	ctx, cancel := context.WithCancel(t.Context())
	addr, stopped, err := x.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	url := fmt.Sprintf("http://%s/metrics", addr)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	get := func() families {
		t.Helper()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("scrape: %v", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("scrape: %s", resp.Status)
		}
		return parse(t, resp.Body)
	}

	plan := engine.Plan{Scenarios: []engine.Scenario{{
		Name:     "run",
		Executor: engine.Executor{Type: engine.VUs, VUs: 20, Duration: 1500 * time.Millisecond},
		Steps:    []engine.Step{{URL: srv.URL + "/"}},
	}}}
	e, err := engine.New(plan,
		engine.WithIntervals(func(iv engine.Interval) { x.Update(iv.Total, iv.Point) }),
		engine.WithInterval(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopRun := context.WithTimeout(t.Context(), 20*time.Second)
	defer stopRun()
	type outcome struct {
		res *engine.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := e.Run(runCtx)
		done <- outcome{res, err}
	}()

	// Scrape during the run until requests show up.
	var mid families
	for deadline := time.Now().Add(10 * time.Second); ; {
		f := get()
		if f.sum("faya_requests_total") > 0 {
			mid = f
			break
		}
		select {
		case o := <-done:
			done <- o
			t.Fatal("the run ended before a scrape saw a request")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no request in the metrics after 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("the run ended before the mid-run scrape was taken; it did not happen during the run")
	default:
	}
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	total := o.res.Total
	if total.Requests == 0 {
		t.Fatal("the run sent no request")
	}
	final := get()

	var statuses float64
	for code, n := range total.Status {
		if n == 0 {
			continue
		}
		statuses += float64(n)
		wantValue(t, final, float64(n), "faya_requests_total", "status", strconv.Itoa(code))
	}
	if got := final.sum("faya_requests_total"); got != statuses {
		t.Errorf("faya_requests_total sums to %v, the run counted %v responses", got, statuses)
	}
	wantValue(t, final, float64(total.Dialed), "faya_connections_dialed_total")
	wantValue(t, final, float64(total.ConnReused), "faya_connection_reuses_total")
	wantValue(t, final, float64(total.Iterations), "faya_iterations_total")
	wantValue(t, final, float64(total.CloseReasons[metrics.CloseRunEnd]), "faya_connections_closed_total", "reason", "run_end")
	if n := final.histogram(t, "faya_request_duration_seconds").GetSampleCount(); n != uint64(total.Requests) {
		t.Errorf("latency count = %d, the run made %d requests", n, total.Requests)
	}
	wantValue(t, final, 20, "faya_vus_allocated")

	for _, name := range []string{"faya_connections_dialed_total", "faya_connection_reuses_total", "faya_iterations_total"} {
		if m, f := mid.value(t, name), final.value(t, name); m > f {
			t.Errorf("%s: mid-run %v > final %v", name, m, f)
		}
	}
	if m, f := mid.sum("faya_requests_total"), final.sum("faya_requests_total"); m > f {
		t.Errorf("faya_requests_total: mid-run %v > final %v", m, f)
	}
	if m, f := mid.histogram(t, "faya_request_duration_seconds").GetSampleCount(), final.histogram(t, "faya_request_duration_seconds").GetSampleCount(); m > f {
		t.Errorf("latency count: mid-run %d > final %d", m, f)
	}
}

// Serve reports a listen error at once.
func TestServeListenError(t *testing.T) {
	x := exporter.New()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	addr, stopped, err := x.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := x.Serve(ctx, addr.String()); err == nil {
		t.Error("Serve on a port in use succeeded")
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Errorf("serve: %v", err)
	}
	if _, ok := <-stopped; ok {
		t.Error("the stopped channel is not closed")
	}
}

// The protocols and GOAWAYs of an HTTP/2 run are exported; an HTTP/1.x
// run exports zeros under h2.
func TestUpdateH2(t *testing.T) {
	rec := metrics.NewRecorder(1)
	sh := rec.Shard(0)
	rec.ConnDialedProto(metrics.ProtoH2)
	rec.ConnDialed()
	rec.H2GoAway(19, metrics.H2NoError)
	for range 3 {
		sh.Record(&metrics.Sample{Latency: time.Millisecond, Status: 200, Proto: metrics.ProtoH2}, nil)
	}
	sh.Record(withPhase(ok200(time.Millisecond, false), metrics.StreamWait, time.Millisecond), nil)
	rec.ConnClosed(metrics.ClosedConn{Reason: metrics.CloseGoAway, Requests: 3, Proto: metrics.ProtoH2})
	x := exporter.New()
	x.Update(rec.Flush(nil), metrics.Point{T: time.Second})
	f := scrape(t, x.Handler())
	wantValue(t, f, 3, "faya_requests_by_protocol_total", "protocol", "h2")
	wantValue(t, f, 1, "faya_requests_by_protocol_total", "protocol", "h1")
	wantValue(t, f, 1, "faya_connections_dialed_by_protocol_total", "protocol", "h2")
	wantValue(t, f, 1, "faya_connections_dialed_by_protocol_total", "protocol", "h1")
	wantValue(t, f, 1, "faya_h2_goaways_total")
	wantValue(t, f, 1, "faya_connections_closed_total", "reason", "goaway")
	if h := f.histogram(t, "faya_request_phase_seconds", "phase", "stream_wait"); h.GetSampleCount() != 1 {
		t.Errorf("stream_wait phase count %d, want 1", h.GetSampleCount())
	}
}
