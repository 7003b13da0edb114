package report_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/report"
	"github.com/faya-load/faya/threshold"
	"github.com/faya-load/faya/transport"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fixture is a small run with every section of the report filled.
func fixture() report.Run {
	rec := metrics.NewRecorder(1)
	sh := rec.Shard(0)
	for i := range 1000 {
		s := &metrics.Sample{
			Latency:       time.Duration(500+i) * time.Microsecond,
			Status:        200,
			BytesSent:     80,
			BytesReceived: 140,
			BodyBytes:     16,
			Reused:        1,
			WasIdle:       true,
			IdleTime:      time.Duration(i) * time.Microsecond,
		}
		ph := func(m metrics.Metric) int { return int(m - metrics.Blocked) }
		s.Phases[ph(metrics.Blocked)], s.Phases[ph(metrics.Send)], s.Phases[ph(metrics.Wait)], s.Phases[ph(metrics.Receive)] = time.Microsecond, 3*time.Microsecond, time.Duration(480+i)*time.Microsecond, 5*time.Microsecond
		s.ServiceTime = s.Latency - s.Phases[0]
		s.First = true
		s.PhaseSet = 1 | 1<<ph(metrics.Send) | 1<<ph(metrics.Wait) | 1<<ph(metrics.Receive)
		if i < 4 {
			s.Reused, s.Fresh, s.WasIdle = 0, 1, false
			s.Phases[ph(metrics.Connect)] = 200 * time.Microsecond
			s.PhaseSet |= 1 << ph(metrics.Connect)
		}
		if i%100 == 0 {
			s.Status = 503
		}
		sh.Record(s, nil)
	}
	sh.Record(&metrics.Sample{Latency: time.Millisecond, Err: metrics.ErrRefused}, errExample("dial tcp 127.0.0.1:1: connect: connection refused"))
	for range 5 {
		rec.ConnDialed()
	}
	rec.PutIdleFailed(metrics.CloseTooManyIdleForHost)
	rec.ConnClosed(metrics.ClosedConn{Reason: metrics.CloseTooManyIdleForHost, Requests: 1, Lifetime: time.Millisecond})
	for range 4 {
		rec.ConnClosed(metrics.ClosedConn{Reason: metrics.CloseRunEnd, Requests: 250, Lifetime: time.Second})
	}
	total := rec.Flush(nil)
	return report.Run{
		Meta: report.Meta{
			Version: "test", URL: "http://127.0.0.1:8080/", Method: "GET", Engine: "net/http",
			Executor: "vus", VUs: 4, Requests: 1001, ConnScope: "shared", Timeout: 30 * time.Second,
			Pool: report.Pool{MaxConnsPerHost: 4, MaxIdleConnsPerHost: 4, MaxIdleConns: 4, IdleConnTimeout: 90 * time.Second,
				DialTimeout: 10 * time.Second, TLSHandshakeTimeout: 10 * time.Second},
		},
		Result: engine.Result{
			Total:      total,
			Timeline:   []metrics.Point{metrics.PointOf(total, time.Second, time.Second)},
			Duration:   time.Second,
			Scheduling: time.Second,
		},
	}
}

// openFixture is an open-model run that dropped iterations for want of VUs.
func openFixture() report.Run {
	rec := metrics.NewRecorder(1)
	sh := rec.Shard(0)
	rec.VUs.Allocated(20)
	for range 20 {
		rec.VUs.Begin()
	}
	for i := range 1800 {
		rec.Sched.Sent()
		lag := time.Duration(i%100) * time.Microsecond
		s := &metrics.Sample{
			Latency: 10*time.Millisecond + lag, ServiceTime: 10 * time.Millisecond,
			Scheduled: true, Lag: lag, First: true, Status: 200, Reused: 1,
		}
		s.Phases[0], s.PhaseSet = time.Microsecond, 1
		sh.Record(s, nil)
	}
	for range 200 {
		rec.Sched.Dropped()
	}
	total := rec.Flush(nil)
	run := fixture()
	run.Meta.Executor, run.Meta.Open = "rate", true
	run.Meta.Rate, run.Meta.Duration, run.Meta.PreVUs, run.Meta.MaxVUs, run.Meta.VUs = "2000", time.Second, 10, 20, 20
	run.Meta.Requests = 0
	run.Meta.LateThreshold, run.Meta.GracefulStop = 10*time.Millisecond, 10*time.Second
	run.Meta.Pool.MaxConnsPerHost, run.Meta.Pool.MaxIdleConnsPerHost, run.Meta.Pool.MaxIdleConns = 20, 20, 20
	run.Total = total
	run.Timeline = []metrics.Point{metrics.PointOf(total, time.Second, time.Second)}
	return run
}

func TestOpenModelGolden(t *testing.T) {
	var buf bytes.Buffer
	rep := report.Build(openFixture())
	if err := report.Text(&buf, rep); err != nil {
		t.Fatal(err)
	}
	golden(t, "report-open.txt.golden", buf.Bytes())
	s := rep.Schedule
	if s.Intended != 2000 || s.Sent != 1800 || s.Dropped != 200 || s.LimitedBy != "vus" {
		t.Errorf("schedule %+v, want 2000 = 1800 sent + 200 dropped, limited by vus", s)
	}
	if s.TargetRPS != 2000 || s.AchievedRPS != 1800 || s.VUsBusyMax != 20 || s.VUsAlloc != 20 {
		t.Errorf("schedule %+v", s)
	}
	if rep.Lag.Count != 1800 || rep.ServiceTime.P99 >= rep.Latency.P99 {
		t.Errorf("lag %+v, service %+v, latency %+v", rep.Lag, rep.ServiceTime, rep.Latency)
	}
}

// scenarioFixture is a scenario file's run: a login per VU, two steps,
// checks that fail, thresholds.
func scenarioFixture() report.Run {
	rec := metrics.NewRecorder(1)
	sh := rec.Shard(0)
	login, list, item := rec.StepIndex("browse\x00setup\x00login")+1, rec.StepIndex("browse\x00list")+1, rec.StepIndex("browse\x00item")+1
	for range 10 {
		sh.Record(&metrics.Sample{Step: login, Setup: true, Status: 200, Latency: 2 * time.Millisecond, ChecksPassed: 1, First: true}, nil)
	}
	for i := range 100 {
		sh.Record(&metrics.Sample{Step: list, Status: 200, Latency: time.Duration(300+i) * time.Microsecond, ChecksPassed: 1, First: true}, nil)
		s := &metrics.Sample{Step: item, Status: 200, Latency: time.Duration(200+i) * time.Microsecond, ChecksPassed: 1}
		if i%20 == 0 {
			s.Status, s.ChecksPassed, s.ChecksFailed, s.CheckFailure = 404, 0, 1, "status 404, want [200]"
		}
		sh.Record(s, nil)
	}
	total := rec.Flush(nil)
	run := fixture()
	run.Meta.File = "shop.yaml"
	run.Meta.Scenarios = []report.ScenarioMeta{
		{Name: "browse", Executor: "vus", VUs: 10, Iterations: 100, SetupSteps: 1, Steps: 2},
		{Name: "buyers", Executor: "rate", Rate: "50", Duration: time.Minute, PreVUs: 2, MaxVUs: 10, Steps: 1},
	}
	run.Total = total
	run.Timeline = []metrics.Point{metrics.PointOf(total, time.Second, time.Second)}
	run.Steps = []engine.StepInfo{{Scenario: "browse", Name: "login", Setup: true}, {Scenario: "browse", Name: "list"}, {Scenario: "browse", Name: "item"}}
	var ths []threshold.Threshold
	for _, src := range [][2]string{{"checks > 99%", ""}, {"p99(latency) < 300ms", ""}, {"p95(latency) < 1ms", "item"}} {
		th, err := threshold.Parse(src[0], src[1])
		if err != nil {
			panic(err)
		}
		ths = append(ths, th)
	}
	run.Thresholds = threshold.Evaluate(ths, threshold.Input{Total: total, StepNames: []string{"login", "list", "item"}, Scheduling: time.Second})
	return run
}

func TestScenarioGolden(t *testing.T) {
	var buf bytes.Buffer
	rep := report.Build(scenarioFixture())
	if err := report.Text(&buf, rep); err != nil {
		t.Fatal(err)
	}
	golden(t, "report-scenario.txt.golden", buf.Bytes())
	if rep.Requests.Total != 200 || rep.Requests.Setup != 10 || rep.Checks.Failed != 5 || rep.Steps[2].CheckFailure != "status 404, want [200]" {
		t.Errorf("requests %+v, checks %+v, steps %+v", rep.Requests, rep.Checks, rep.Steps)
	}
	if len(rep.Thresholds) != 3 || rep.Thresholds[0].Pass || !rep.Thresholds[1].Pass || !rep.Thresholds[2].Pass {
		t.Errorf("thresholds %+v: want checks > 99%% to fail (95%%), the others to pass", rep.Thresholds)
	}
}

// A run through two proxies: the header names them (passwords
// redacted), the Proxies section has each one's accounts.
func TestProxyGolden(t *testing.T) {
	rec := metrics.NewRecorder(1)
	sh := rec.Shard(0)
	hs := int(metrics.Proxy - metrics.Blocked)
	for i := range 100 {
		s := &metrics.Sample{Status: 200, Latency: time.Millisecond, Proxy: 1 + i%2, Reused: 1}
		if i < 4 {
			s.Reused, s.Fresh = 0, 1
			s.Phases[hs], s.PhaseSet = time.Duration(300+i%2*100)*time.Microsecond, 1<<hs
		}
		sh.Record(s, nil)
	}
	sh.Record(&metrics.Sample{Latency: time.Millisecond, Proxy: 2, Err: metrics.ErrProxyAuth}, errExample("proxy socks5://u:xxxxx@127.0.0.1:1080: SOCKS5 authentication failed: the proxy refused the user and password"))
	rec.ProxyDialed(0)
	rec.ProxyDialed(0)
	rec.ProxyDialed(1)
	rec.ProxyDialed(1)
	run := fixture()
	run.Total = rec.Flush(nil)
	run.Meta.Proxies = []string{"http://127.0.0.1:3128", "socks5://u:xxxxx@127.0.0.1:1080"}
	run.Meta.ProxyMode = "round-robin"
	rep := report.Build(run)
	var buf bytes.Buffer
	if err := report.Text(&buf, rep); err != nil {
		t.Fatal(err)
	}
	golden(t, "report-proxy.txt.golden", buf.Bytes())
	if len(rep.Proxies) != 2 || rep.Proxies[0].Requests != 50 || rep.Proxies[1].Requests != 51 || rep.Proxies[1].Errors != 1 ||
		rep.Proxies[0].Dialed != 2 || rep.Proxies[0].HandshakeMean != 300_000 || rep.Proxies[1].HandshakeMean != 400_000 {
		t.Errorf("proxies %+v", rep.Proxies)
	}
	if rep.Errors["proxy_auth"].Count != 1 {
		t.Errorf("errors %+v, want one proxy_auth", rep.Errors)
	}
}

type errExample string

func (e errExample) Error() string { return string(e) }

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./report -update rewrites it):\n%s", name, got)
	}
}

// The JSON schema is a contract: the golden file pins every field name.
func TestJSONGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := report.JSON(&buf, report.Build(fixture())); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.json.golden", buf.Bytes())
}

func TestTextGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := report.Text(&buf, report.Build(fixture())); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.txt.golden", buf.Bytes())
}

func TestBuildNumbers(t *testing.T) {
	r := report.Build(fixture())
	if r.Requests.Total != 1001 || r.Requests.OK != 990 || r.Requests.HTTPErrors != 10 || r.Requests.Errors != 1 {
		t.Errorf("requests %+v", r.Requests)
	}
	c := r.Connections
	if c.Dialed != 5 || c.Fresh != 4 || c.Reused != 996 || c.Unused != 1 || c.Closed != 5 {
		t.Errorf("connections %+v", c)
	}
	if c.PutIdleErrors["too_many_idle_for_host"] != 1 || c.CloseReasons["run_end"] != 4 {
		t.Errorf("put idle %v close reasons %v", c.PutIdleErrors, c.CloseReasons)
	}
	if _, ok := r.Phases["dns"]; ok {
		t.Error("dns is in phases_ns though it never happened")
	}
	if r.Phases["connect"].Count != 4 {
		t.Errorf("connect count %d, want 4", r.Phases["connect"].Count)
	}
	if r.Errors["refused"].Count != 1 || r.Status["503"] != 10 {
		t.Errorf("errors %v status %v", r.Errors, r.Status)
	}
	if r.Throughput != 1001 {
		t.Errorf("throughput %v", r.Throughput)
	}
}

func TestFormat(t *testing.T) {
	for ns, want := range map[int64]string{
		0: "0ns", 999: "999ns", 1500: "1.50µs", 15_000: "15.0µs", 150_000: "150µs",
		1_500_000: "1.50ms", 2_500_000_000: "2.50s", 999_600: "1.00ms", 999_400: "999µs", 99_960: "100µs",
		3_600_000_000_000: "3600s",
	} {
		if got := report.Duration(ns); got != want {
			t.Errorf("Duration(%d) = %q, want %q", ns, got, want)
		}
	}
	for n, want := range map[int64]string{12: "12 B", 1500: "1.50 kB", 2_000_000: "2.00 MB"} {
		if got := report.ByteSize(n); got != want {
			t.Errorf("ByteSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestShortfallAttribution(t *testing.T) {
	build := func(blocked, lag time.Duration, late, dropped, pool, vus int, busy float64) report.Schedule {
		rec := metrics.NewRecorder(1)
		for i := range 1000 {
			rec.Sched.Sent()
			s := &metrics.Sample{Latency: 10*time.Millisecond + blocked, ServiceTime: 10 * time.Millisecond,
				Scheduled: true, Lag: lag, Late: i < late, First: true, Status: 200}
			s.Phases[0], s.PhaseSet = blocked, 1
			rec.Shard(0).Record(s, nil)
		}
		for range dropped {
			rec.Sched.Dropped()
		}
		run := openFixture()
		run.Total = rec.Flush(nil)
		run.Meta.Pool.MaxConnsPerHost = pool
		if vus > 0 {
			run.Meta.VUs = vus
		}
		if busy > 0 {
			run.Duration, run.CPUs = time.Second, 1
			run.CPU = time.Duration(busy * float64(time.Second))
		}
		return report.Build(run).Schedule
	}
	for _, tc := range []struct {
		name                string
		blocked, lag        time.Duration
		late, dropped, pool int
		vus                 int     // --max-vus (0: the fixture's 20)
		busy                float64 // the generator's CPU share (0: unknown)
		want, says          string
	}{
		{"on schedule", time.Microsecond, 50 * time.Microsecond, 0, 0, 20, 0, 0, "", ""},
		{"vus", time.Microsecond, 50 * time.Microsecond, 0, 100, 20, 0, 0, "vus", ""},
		{"pool", 20 * time.Millisecond, 50 * time.Microsecond, 0, 100, 5, 0, 0, "pool", ""},
		{"pool at max-vus is the VUs", 20 * time.Millisecond, 50 * time.Microsecond, 0, 100, 20, 0, 0, "vus", ""},
		{"generator", time.Microsecond, 30 * time.Millisecond, 200, 0, 20, 0, 0, "generator", ""},
		{"generator, busy", time.Microsecond, 30 * time.Millisecond, 200, 0, 20, 0, 0.97, "generator", "busy (it used 97% of its 1 CPU)"},
		// Drops with VUs to spare at the mean latency (20 needed, 200
		// allowed): the busy generator, not the VUs.
		{"drops, generator busy", time.Microsecond, 2 * time.Millisecond, 0, 100, 200, 200, 0.97, "generator", "the generator used 97% of its 1 CPU"},
		{"drops, generator not busy", time.Microsecond, 2 * time.Millisecond, 0, 100, 200, 200, 0.4, "vus", "all 200 VUs"},
		{"drops, busy, VUs short", time.Microsecond, 2 * time.Millisecond, 0, 100, 20, 0, 0.97, "vus", "all 20 VUs"},
		// Late by 400 ms with the CPU 10% busy: the machine kept the
		// generator from running; neither its CPU nor the VUs.
		{"late, starved", time.Microsecond, 400 * time.Millisecond, 200, 0, 20, 0, 0.1, "starved", "was not busy (it used 10% of its 1 CPU), yet its schedule ran up to 400"},
		{"drops, starved", time.Microsecond, 400 * time.Millisecond, 0, 100, 20, 0, 0.1, "starved", "100 iterations dropped: the generator was not busy"},
		// Starved too, but 10 VUs for the 20 the median answer needs:
		// the VUs ran out whatever the machine did.
		{"drops, starved, VUs short", time.Microsecond, 400 * time.Millisecond, 0, 100, 20, 10, 0.1, "vus", "all 10 VUs (--max-vus) were busy; at the peak rate 2000/s"},
		{"drops, starved, VUs less than a quarter short", time.Microsecond, 400 * time.Millisecond, 0, 100, 20, 17, 0.1, "starved", "the generator was not busy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := build(tc.blocked, tc.lag, tc.late, tc.dropped, tc.pool, tc.vus, tc.busy)
			if s.LimitedBy != tc.want || !strings.Contains(s.Reason, tc.says) {
				t.Errorf("limited_by = %q (%s), want %q saying %q", s.LimitedBy, s.Reason, tc.want, tc.says)
			}
			if tc.want != "" && s.Reason == "" {
				t.Error("no reason given")
			}
		})
	}
}

// A run without a snapshot (nothing ran) still builds and prints.
func TestBuildEmpty(t *testing.T) {
	rep := report.Build(report.Run{Meta: report.Meta{URL: "http://127.0.0.1:1/", Method: "GET"}})
	var buf bytes.Buffer
	if err := report.Text(&buf, rep); err != nil || rep.Requests.Total != 0 || len(rep.LatencySpectrum) != 0 {
		t.Errorf("empty run: %v, requests %d", err, rep.Requests.Total)
	}
}

// The generator's CPU is reported when the run measured it: in the JSON
// and in the summary, as a share of its CPUs.
func TestGeneratorCPU(t *testing.T) {
	run := fixture()
	if rep := report.Build(run); rep.Generator != nil {
		t.Fatalf("generator %+v without a measurement", rep.Generator)
	}
	run.Duration, run.CPU, run.CPUs = time.Second, 500*time.Millisecond, 2
	rep := report.Build(run)
	if g := rep.Generator; g == nil || g.CPU != int64(500*time.Millisecond) || g.CPUs != 2 || g.Busy != 0.25 {
		t.Fatalf("generator %+v, want 500ms of 2 CPUs over 1s: 0.25 busy", g)
	}
	var buf bytes.Buffer
	if err := report.Text(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if want := "  generator   CPU 500ms on 2 CPUs: 25% busy\n"; !strings.Contains(buf.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, buf.String())
	}
	buf.Reset()
	if err := report.HTML(&buf, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"generator busy", "25%", "CPU 500ms on 2 CPUs"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

// A run's pool is its transport.Config after defaults, where a negative
// limit lifts it; the report's JSON writes that as 0, and a saved run
// read back means the same.
func TestPoolJSON(t *testing.T) {
	cfg := transport.Config{Concurrency: 8, MaxConnsPerHost: -1, MaxIdleConns: 3, InsecureSkipVerify: true,
		ResponseHeaderTimeout: time.Second, UserAgent: "faya/test", RootCAsPEM: []byte("not in the report")}.WithDefaults()
	p := report.Pool(cfg)
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"max_conns_per_host":0,"max_idle_conns_per_host":8,"max_idle_conns":3,"idle_conn_timeout_ns":90000000000,` +
		`"disable_keepalives":false,"dial_timeout_ns":10000000000,"tls_handshake_timeout_ns":10000000000,"response_header_timeout_ns":1000000000,"insecure":true}`
	if string(b) != want {
		t.Errorf("pool JSON\n%s\nwant\n%s", b, want)
	}
	var back report.Pool
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.MaxConnsPerHost != -1 || back.MaxIdleConnsPerHost != 8 || back.MaxIdleConns != 3 || !back.InsecureSkipVerify || back.DialTimeout != 10*time.Second {
		t.Errorf("read back %+v", back)
	}
	if again, _ := json.Marshal(back); string(again) != want {
		t.Errorf("written again\n%s\nwant\n%s", again, want)
	}
	dc := report.Meta{Pool: back}.DiagnoseConfig()
	if dc.MaxConnsPerHost != 0 || dc.MaxIdleConnsPerHost != 8 || dc.MaxIdleConns != 3 || dc.IdleConnTimeout != 90*time.Second {
		t.Errorf("diagnose config %+v: want 0 (no limit), 8, 3, 90s", dc)
	}
}

// The per-address tables: 2 source addresses (--local-addr) with their
// TIME_WAIT readings, 2 destinations with their requests and latency;
// text (golden), JSON and HTML agree.
func TestAddressesGolden(t *testing.T) {
	rec := metrics.NewRecorder(1)
	srcs := []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")}
	dsts := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:8080"), netip.MustParseAddrPort("127.0.0.2:8080")}
	rec.RegisterAddrs(srcs, dsts)
	for c := range 6 {
		slot := rec.ConnDialedAt(metrics.ProtoH1, srcs[c%2], dsts[c/3])
		for r := range 10 {
			s := &metrics.Sample{Status: 200, Latency: time.Duration(1+c/3) * time.Millisecond, Dest: slot, Reused: 1}
			if r == 9 && c == 5 {
				s.Status, s.Err = 0, metrics.ErrReset
			}
			rec.Shard(0).Record(s, nil)
		}
	}
	run := fixture()
	run.Total = rec.Flush(nil)
	run.Sockets = diagnose.Sockets{Watched: true, TimeWaitAfter: 9, TimeWaitPeak: 12, PortLo: 32768, PortHi: 60999,
		Sources: []diagnose.SourceSockets{{Addr: srcs[0], TimeWaitAfter: 5, TimeWaitPeak: 7}, {Addr: srcs[1], TimeWaitAfter: 4, TimeWaitPeak: 5}}}
	rep := report.Build(run)
	var buf bytes.Buffer
	if err := report.Text(&buf, rep); err != nil {
		t.Fatal(err)
	}
	golden(t, "report-addresses.txt.golden", buf.Bytes())
	a := rep.Addresses
	if a == nil || len(a.Sources) != 2 || len(a.Destinations) != 2 {
		t.Fatalf("addresses %+v; want 2 sources and 2 destinations", a)
	}
	if s := a.Sources[0]; s.Addr != "127.0.0.2" || s.Dialed != 3 || *s.TimeWait != 5 || *s.TimeWaitPeak != 7 {
		t.Errorf("source %+v; want 127.0.0.2: 3 connections, 5 in TIME_WAIT, at most 7", s)
	}
	if d := a.Destinations[1]; d.Addr != "127.0.0.2:8080" || d.Dialed != 3 || d.Requests != 30 || d.Errors != 1 ||
		d.Latency.P50 < 1_980_000 || d.Latency.P50 > 2_020_000 {
		t.Errorf("destination %+v; want 127.0.0.2:8080: 3 connections, 30 requests, 1 error, p50 2ms", d)
	}
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"addresses":{"sources":[{"addr":"127.0.0.2","dialed":3,"time_wait":5,"time_wait_peak":7}`, `{"addr":"127.0.0.2:8080","dialed":3,"requests":30,"errors":1,"latency_ns":{"count":30`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("JSON lacks %s", want)
		}
	}
	buf.Reset()
	if err := report.HTML(&buf, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<h2 id="sources">`, `<td class="mono">127.0.0.3</td><td class="num">3</td><td class="num">4</td><td class="num">5</td>`,
		`<h2 id="destinations">`, `<td class="mono">127.0.0.1:8080</td><td class="num">3</td><td class="num">30</td><td class="num">0</td><td class="num">1.00ms</td>`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("HTML lacks %s", want)
		}
	}
	// One destination and no --local-addr: no tables.
	plain := fixture()
	if r := report.Build(plain); r.Addresses != nil {
		t.Errorf("a run to one address: addresses %+v; want none", r.Addresses)
	}
}
