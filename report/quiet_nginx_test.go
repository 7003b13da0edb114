package report_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/enginetest"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/report"
)

// nginxKeepAlive starts Debian's nginx on a loopback port, plain HTTP,
// with keepalive_timeout at timeout (and no practical request limit per
// connection), and returns its URL. Skipped when nginx is absent unless
// FAYA_CI=1 (.ci/run installs it).
func nginxKeepAlive(t *testing.T, timeout time.Duration) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, e := os.Stat("/usr/sbin/nginx"); e == nil {
			bin = "/usr/sbin/nginx"
		} else if os.Getenv("FAYA_CI") == "1" {
			t.Fatal("nginx is not installed (FAYA_CI=1: .ci/run installs it)")
		} else {
			t.Skip("nginx is not installed")
		}
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	user := ""
	if os.Getuid() == 0 {
		user = "user root;"
	}
	conf := fmt.Sprintf(`%s
daemon off;
master_process off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path %[2]s; proxy_temp_path %[2]s; fastcgi_temp_path %[2]s; uwsgi_temp_path %[2]s; scgi_temp_path %[2]s;
	keepalive_timeout %[3]ds;
	keepalive_requests 1000000;
	server {
		listen %[4]s;
		location / { return 200 "ok"; }
	}
}
`, user, dir, int(timeout/time.Second), addr)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; ; i++ { // bounded: 10 s
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			break
		}
		if i == 100 {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not listen on %s: %v\n%s", addr, err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
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
