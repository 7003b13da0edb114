package cluster_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/faya-load/faya/internal/realproxy"
	"github.com/faya-load/faya/internal/testserver"
)

// Process tests: the coordinator and the agents are faya processes on
// loopback, as a user runs them. FAYA_DIST_LONG=1 runs the full
// 3 x 1,000/s for 10 s; the default suite runs the same assertions for 2 s.

var (
	buildOnce sync.Once
	fayaBin   string
	buildErr  error
)

func fayaBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "faya-bin-")
		if err != nil {
			buildErr = err
			return
		}
		fayaBin = filepath.Join(dir, "faya")
		if out, err := exec.Command("go", "build", "-o", fayaBin, "../cmd/faya").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return fayaBin
}

// proc is a faya process whose stderr lines are watched.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdout bytes.Buffer
	mu     sync.Mutex
	lines  []string
	at     []time.Time
	seen   chan struct{} // a new line
	done   chan struct{}
	code   int
}

func start(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, seen: make(chan struct{}, 1), done: make(chan struct{})}
	p.cmd = exec.Command(fayaBinary(t), args...)
	p.cmd.Stdout = &p.stdout
	errPipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.at = append(p.at, time.Now())
			p.mu.Unlock()
			select {
			case p.seen <- struct{}{}:
			default:
			}
		}
		_, _ = io.Copy(io.Discard, errPipe)
		err := p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		_ = err
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitLine waits for a stderr line containing s and returns it and when
// it came.
func (p *proc) waitLine(t *testing.T, s string, within time.Duration) (string, time.Time) {
	t.Helper()
	deadline := time.After(within)
	for i := 0; ; {
		p.mu.Lock()
		for ; i < len(p.lines); i++ {
			if strings.Contains(p.lines[i], s) {
				l, at := p.lines[i], p.at[i]
				p.mu.Unlock()
				return l, at
			}
		}
		p.mu.Unlock()
		select {
		case <-p.seen:
		case <-p.done:
			p.mu.Lock()
			n := len(p.lines)
			p.mu.Unlock()
			if i == n {
				t.Fatalf("%s exited (%d) without a line with %q:\n%s", p.name, p.code, s, p.stderr())
			}
		case <-deadline:
			t.Fatalf("%s: no line with %q within %v:\n%s", p.name, s, within, p.stderr())
		}
	}
}

func (p *proc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

func (p *proc) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(within):
		t.Fatalf("%s still runs after %v:\n%s", p.name, within, p.stderr())
		return -1
	}
}

// coordinator starts faya run --agents with the embedded NATS on a free
// loopback port and returns it and the agents' NATS URL.
func coordinator(t *testing.T, args ...string) (*proc, string) {
	t.Helper()
	c := start(t, "coordinator", append([]string{"run", "--nats-listen", "127.0.0.1:0", "-q"}, args...)...)
	line, _ := c.waitLine(t, "faya agent --nats ", 30*time.Second)
	return c, line[strings.LastIndex(line, " ")+1:]
}

type report struct {
	Partial  bool `json:"partial"`
	Requests struct {
		Total, OK int64
	} `json:"requests"`
	Schedule struct {
		Intended, Sent, Dropped int64
	} `json:"schedule"`
	Latency struct {
		Count, P50, P99 int64
	} `json:"latency_ns"`
	Agents []struct {
		Name, Segment, State string
		Requests             int64
		ClockKnown           bool `json:"clock_offset_known"`
	} `json:"agents"`
}

func readReport(t *testing.T, path string) report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r
}

// Three agent processes at 1,000/s each run one plan of 3,000/s: the
// schedule exactly (intended = 3,000/s x the duration, sent + dropped =
// intended), the target's count equal to the requests sent, and the
// coordinator's p50 and p99 equal to a merge of the agents' own saved
// runs. A single process running the same plan has the same schedule.
func TestProcessThreeAgents(t *testing.T) {
	secs := 2
	if os.Getenv("FAYA_DIST_LONG") != "" {
		secs = 10
	}
	srv := testserver.Start(t)
	dir := t.TempDir()
	d := fmt.Sprint(secs, "s")
	c, url := coordinator(t, "--agents", "3", "-r", "3000", "-d", d, "--max-vus", "600",
		"--json", filepath.Join(dir, "coord.json"), "--out", filepath.Join(dir, "coord.faya"), srv.URL+"/")
	var agents []*proc
	for i := range 3 {
		agents = append(agents, start(t, fmt.Sprint("agent ", i), "agent", "--nats", url, "--once", "--name", fmt.Sprint("a", i),
			"--allow-targets", "127.0.0.0/8", "--out", filepath.Join(dir, fmt.Sprint("a", i, ".faya"))))
	}
	if code := c.wait(t, time.Duration(secs)*time.Second+60*time.Second); code != 0 {
		t.Fatalf("coordinator exit %d:\n%s\n%s", code, c.stderr(), c.stdout.String())
	}
	for _, a := range agents {
		if code := a.wait(t, 20*time.Second); code != 0 {
			t.Errorf("%s exit %d:\n%s", a.name, code, a.stderr())
		}
	}
	got := readReport(t, filepath.Join(dir, "coord.json"))
	want := int64(3000 * secs)
	s := got.Schedule
	if s.Intended != want || s.Sent+s.Dropped != s.Intended || got.Partial {
		t.Errorf("intended %d sent %d dropped %d partial %v; want %d intended = sent + dropped", s.Intended, s.Sent, s.Dropped, got.Partial, want)
	}
	if n := srv.Stats().Requests; n != s.Sent || got.Requests.Total != s.Sent {
		t.Errorf("the target counted %d requests, the coordinator %d of %d sent", n, got.Requests.Total, s.Sent)
	}
	if len(got.Agents) != 3 {
		t.Fatalf("agents %+v", got.Agents)
	}
	for _, a := range got.Agents {
		if a.State != "ok" || !a.ClockKnown || a.Requests < want/3-int64(s.Dropped) {
			t.Errorf("agent %+v", a)
		}
	}
	t.Logf("intended %d sent %d dropped %d; the target %d; p50 %v p99 %v", s.Intended, s.Sent, s.Dropped, srv.Stats().Requests,
		time.Duration(got.Latency.P50), time.Duration(got.Latency.P99))
	merged := filepath.Join(dir, "merged.json")
	m := start(t, "merge", "merge", "--json", merged, filepath.Join(dir, "a0.faya"), filepath.Join(dir, "a1.faya"), filepath.Join(dir, "a2.faya"))
	if code := m.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("merge exit %d:\n%s", code, m.stderr())
	}
	mr := readReport(t, merged)
	if mr.Latency != got.Latency || mr.Schedule != got.Schedule {
		t.Errorf("the agents' saved runs merge to latency %+v schedule %+v; the coordinator reported %+v %+v", mr.Latency, mr.Schedule, got.Latency, got.Schedule)
	}
	// The coordinator's one saved run reads back to the same report.
	rp := start(t, "report", "report", "--json", filepath.Join(dir, "again.json"), filepath.Join(dir, "coord.faya"))
	if code := rp.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("report exit %d:\n%s", code, rp.stderr())
	}
	if again := readReport(t, filepath.Join(dir, "again.json")); again.Latency != got.Latency || len(again.Agents) != 3 {
		t.Errorf("faya report of the coordinator's --out: latency %+v agents %d", again.Latency, len(again.Agents))
	}
	one := start(t, "single", "run", "-q", "-r", "3000", "-d", d, "--max-vus", "600", "--json", filepath.Join(dir, "one.json"), srv.URL+"/")
	if code := one.wait(t, time.Duration(secs)*time.Second+30*time.Second); code != 0 {
		t.Fatalf("single run exit %d:\n%s", code, one.stderr())
	}
	if o := readReport(t, filepath.Join(dir, "one.json")); o.Schedule.Intended != s.Intended || o.Schedule.Sent+o.Schedule.Dropped != s.Intended {
		t.Errorf("a single process: schedule %+v, the agents' %+v", o.Schedule, s)
	}
}

// A SIGKILLed agent is reported LOST within twice --agent-timeout, and
// the coordinator exits 1 with a PARTIAL report naming it.
func TestProcessKilledAgent(t *testing.T) {
	srv := testserver.Start(t)
	c, url := coordinator(t, "--agents", "2", "--agent-timeout", "1s", "-r", "100", "-d", "30s", "--graceful-stop", "1s", srv.URL+"/")
	a0 := start(t, "agent 0", "agent", "--nats", url, "--once", "--name", "a0")
	a1 := start(t, "agent 1", "agent", "--nats", url, "--once", "--name", "a1")
	c.waitLine(t, "agents start at", 30*time.Second)
	time.Sleep(2500 * time.Millisecond) // the run is on
	killed := time.Now()
	if err := a1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	line, at := c.waitLine(t, "LOST", 30*time.Second)
	t.Logf("LOST %v after the SIGKILL", at.Sub(killed))
	if d := at.Sub(killed); d > 2*time.Second {
		t.Errorf("LOST %v after the kill, more than 2 x --agent-timeout 1s: %s", d, line)
	}
	if !strings.Contains(line, "a1") {
		t.Errorf("the LOST line names another agent: %s", line)
	}
	if code := c.wait(t, 30*time.Second); code != 1 {
		t.Errorf("coordinator exit %d, want 1", code)
	}
	out := c.stdout.String()
	if !strings.Contains(out, "PARTIAL: a1 (segment") || !strings.Contains(out, "lost") {
		t.Errorf("the report is not PARTIAL naming a1:\n%s", out)
	}
	if code := a0.wait(t, 30*time.Second); code != 0 {
		t.Errorf("the agent left exited %d:\n%s", code, a0.stderr())
	}
}

// A SIGKILLed coordinator (and its embedded NATS with it) stops its
// agents within twice --agent-timeout: the target sees no request after.
func TestProcessKilledCoordinator(t *testing.T) {
	var last atomic.Int64
	srv := testserver.StartWrapped(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			last.Store(time.Now().UnixNano())
			h.ServeHTTP(w, r)
		})
	})
	c, url := coordinator(t, "--agents", "2", "--agent-timeout", "1s", "-r", "100", "-d", "30s", srv.URL+"/")
	var agents []*proc
	for i := range 2 {
		agents = append(agents, start(t, fmt.Sprint("agent ", i), "agent", "--nats", url, "--once", "--name", fmt.Sprint("a", i)))
	}
	c.waitLine(t, "agents start at", 30*time.Second)
	time.Sleep(2500 * time.Millisecond)
	killed := time.Now()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for _, a := range agents {
		if code := a.wait(t, 20*time.Second); code != 1 {
			t.Errorf("%s exit %d, want 1:\n%s", a.name, code, a.stderr())
		}
		if !strings.Contains(a.stderr(), "lost the coordinator") {
			t.Errorf("%s does not say it lost the coordinator:\n%s", a.name, a.stderr())
		}
	}
	// A request started before the stop may still be answered: allow the
	// target's fast answer on top of the bound.
	t.Logf("the last request came %v after the coordinator's SIGKILL", time.Unix(0, last.Load()).Sub(killed))
	if d := time.Unix(0, last.Load()).Sub(killed); d > 2*time.Second+100*time.Millisecond {
		t.Errorf("the agents sent %v after the coordinator was killed, more than 2 x --agent-timeout 1s", d)
	}
}

// The same coordinator and agents over an external nats-server process
// (built from the module the embedded one comes from).
func TestProcessExternalNATS(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "nats-server")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/nats-io/nats-server/v2").CombinedOutput(); err != nil {
		t.Fatalf("build nats-server: %v\n%s", err, out)
	}
	// A port from below the ephemeral range, and a readiness wait that a
	// self-connect does not fool (a port from 127.0.0.1:0, closed, then
	// dialed until it answered, could be the dial's own source port: it
	// "connected" and nats-server could not bind it), retried on another
	// port if nats-server exits.
	addr := realproxy.Serve(t, "nats-server", filepath.Join(dir, "nats.log"), 1, func(ports []int) *exec.Cmd {
		return exec.Command(bin, "-a", "127.0.0.1", "-p", fmt.Sprint(ports[0]), "-js", "-sd", filepath.Join(dir, "js"))
	})[0]
	url := "nats://" + addr
	srv := testserver.Start(t)
	c := start(t, "coordinator", "run", "--agents", "2", "--nats", url, "-q", "-r", "301", "-d", "1s", "--json", filepath.Join(dir, "c.json"), srv.URL+"/")
	for i := range 2 {
		start(t, fmt.Sprint("agent ", i), "agent", "--nats", url, "--once")
	}
	if code := c.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("coordinator exit %d:\n%s\n%s", code, c.stderr(), c.stdout.String())
	}
	r := readReport(t, filepath.Join(dir, "c.json"))
	if r.Schedule.Intended != 301 || r.Schedule.Sent+r.Schedule.Dropped != 301 || srv.Stats().Requests != r.Requests.Total || len(r.Agents) != 2 {
		t.Errorf("schedule %+v, requests %d (the target: %d), agents %d", r.Schedule, r.Requests.Total, srv.Stats().Requests, len(r.Agents))
	}
}
