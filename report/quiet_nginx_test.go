package report_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/enginetest"
	"github.com/faya-load/faya/internal/realproxy"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/report"
)

// nginxKeepAlive starts Debian's nginx on a loopback port, plain HTTP,
// with keepalive_timeout at timeout (and no practical request limit per
// connection), and returns its URL. Skipped when nginx is absent unless
// FAYA_CI=1 (.ci/run installs it).
func nginxKeepAlive(t *testing.T, timeout time.Duration) string {
	t.Helper()
	addr := realproxy.FreeAddrs(t, 1)[0]
	realproxy.Nginx(t, []string{addr}, func(string) string {
		return fmt.Sprintf(`	access_log off;
	keepalive_timeout %[1]ds;
	keepalive_requests 1000000;
	server {
		listen %[2]s;
		location / { return 200 "ok"; }
	}`, int(timeout/time.Second), addr)
	})
	return "http://" + addr + "/"
}

// A ramp from 200 VUs down to 20 against nginx with keepalive_timeout 5s
// and the client's default IdleConnTimeout (90 s): the quiet stage's 180
// or so idle connections are closed by nginx after 5 s, which the
// timeline shows second by second and the finding names, with the
// server's 5 s and the settings that fix it.
func TestIdleInQuietHoursNginx(t *testing.T) {
	url := nginxKeepAlive(t, 5*time.Second)
	enginetest.ForEach(t, func(t *testing.T, eng string) {
		e, err := engine.New(engine.Plan{
			Engine: eng,
			Scenarios: []engine.Scenario{{Name: "ramp", Steps: []engine.Step{{URL: url}},
				Executor: engine.Executor{Type: engine.RampingVUs, VUStages: []engine.VUStage{
					{Duration: 3 * time.Second, From: 200, To: 200}, {Duration: 8 * time.Second, From: 20, To: 20}}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		rep := report.Build(report.Run{Meta: report.Describe(e), Result: *res})
		s := res.Total

		// The timeline: the pool the busy stage left, idle in the quiet
		// one, and the server's idle closes second by second, adding up
		// to the run's.
		var open, idle, byServer, byClient int64
		for _, p := range rep.Timeline {
			open, idle = max(open, p.ConnsOpen), max(idle, p.ConnsIdle)
			byServer += p.ServerIdleCloses
			byClient += p.IdleTimeoutCloses
		}
		t.Logf("dialed %d, open at most %d, idle at most %d; closed idle by the server %d, by IdleConnTimeout %d; close reasons %v; requests %d, errors %d",
			s.Dialed, open, idle, byServer, byClient, s.CloseReasons, s.Requests, s.Errors+s.HTTPErrors)
		if s.Errors+s.HTTPErrors != 0 {
			t.Errorf("%d errors (%v, e.g. %q)", s.Errors+s.HTTPErrors, s.ErrCount, s.ErrExample)
		}
		if byServer != s.CloseReasons[metrics.CloseServerIdle] || byClient != 0 {
			t.Errorf("the timeline's idle closes (server %d, client %d) are not the run's (server_idle %d, idle_timeout 0)", byServer, byClient, s.CloseReasons[metrics.CloseServerIdle])
		}
		// 200 VUs kept at least 50 connections busy; the 20 of the
		// quiet stage reuse at most 30 of them (LIFO: the last
		// returned), and nginx closed the others idle.
		if open < 50 || open > 200 || byServer < open-30 || byServer > open {
			t.Errorf("open at most %d, closed idle by the server %d: want 50-200 open and all but at most 30 closed by nginx", open, byServer)
		}

		t.Cleanup(func() {
			if t.Failed() { // the timeline, to see what the finding read
				d := metrics.DistOf(s.Hist(metrics.ServerIdleClose))
				t.Logf("idle before the server's closes: %d, min %v p50 %v p90 %v max %v", d.Count, d.Min, d.P50, d.P90, d.Max)
				for _, p := range rep.Timeline {
					t.Logf("t=%v requests %d dialed %d open %d active %d busy VUs %d, idle closes by the server %d", p.T, p.Requests, p.Dialed, p.ConnsOpen, p.ConnsActive, p.VUsBusy, p.ServerIdleCloses)
				}
			}
		})
		var f diagnose.Finding
		for _, x := range rep.Findings {
			if x.ID == "idle-in-quiet-hours" {
				f = x
			}
		}
		if f.ID == "" {
			t.Fatalf("no idle-in-quiet-hours finding: %+v", rep.Findings)
		}
		t.Logf("%s\n  evidence: %s\n  fix: %s", f.Title, f.Evidence, f.Fix)
		all := f.Title + " | " + f.Evidence + " | " + f.Fix
		for _, want := range []string{"In the quiet stage (0:03-0:11 of the run", "at most 20 VUs, after 200", "closed 0.",
			"--max-idle-conns-per-host 20 (in Go: http.Transport.MaxIdleConnsPerHost = 20)"} {
			if !strings.Contains(all, want) {
				t.Errorf("the finding does not say %q", want)
			}
		}
		// nginx's 5 s, as the client saw it: from the moment it had the
		// answer (a little after nginx's timer started, more so on a busy
		// machine) to the moment it saw the close (at most a sweep later
		// on h1).
		m := regexp.MustCompile(`after about ([\d.]+)s`).FindStringSubmatch(f.Title)
		server := 0.0
		if m != nil {
			server, _ = strconv.ParseFloat(m[1], 64)
		}
		if server < 4.5 || server > 6 {
			t.Errorf("the server's timeout %q, want about 5s", f.Title)
		}
		// And an idle timeout below it: 80% of it, rounded.
		m = regexp.MustCompile(`--idle-conn-timeout ([0-9.]+)s `).FindStringSubmatch(f.Fix)
		rec := 0.0
		if m != nil {
			rec, _ = strconv.ParseFloat(m[1], 64)
		}
		if rec < 3.5 || rec > 0.85*server {
			t.Errorf("recommended --idle-conn-timeout %q, want about 4s, below the server's %gs", f.Fix, server)
		}
		if f.Severity != diagnose.Warning {
			t.Errorf("severity %s, want warning", f.Severity)
		}
	})
}
