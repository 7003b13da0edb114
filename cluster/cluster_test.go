package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/merge"
	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/report"
	"github.com/nats-io/nats.go"
)

func startNATS(t *testing.T) *Server {
	t.Helper()
	s, err := StartServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func openPlan(url string, rate int64, d time.Duration) engine.Plan {
	return engine.Plan{Scenarios: []engine.Scenario{{
		Name:     "open",
		Executor: engine.Executor{Type: engine.ConstantRate, Rate: engine.RatePerSecond(rate), Duration: d, PreVUs: 6, MaxVUs: 60},
		Steps:    []engine.Step{{URL: url}},
	}}, GracefulStop: 2 * time.Second}
}

// agents starts n in-process agents on url, each with its own connection.
func agents(t *testing.T, ctx context.Context, url string, n int, allow []netip.Prefix) (*sync.WaitGroup, []*nats.Conn, []error) {
	t.Helper()
	var wg sync.WaitGroup
	conns := make([]*nats.Conn, n)
	errs := make([]error, n)
	for i := range n {
		conns[i] = connect(t, url)
		a := &Agent{Conn: conns[i], Name: fmt.Sprint("agent-", i), Once: true, Allow: allow}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = a.Serve(ctx)
		}()
	}
	return &wg, conns, errs
}

// Three agents over the embedded NATS run one open-model plan: the
// schedule's iterations exactly once, the target's count equal to the
// requests sent, the live intervals adding up to the merged total.
func TestCoordinatorThreeAgents(t *testing.T) {
	ns := startNATS(t)
	srv := testserver.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	wg, _, errs := agents(t, ctx, ns.URL(), 3, nil)
	var live metrics.Snapshot
	var lines []string
	var mu sync.Mutex
	c := &Coordinator{Conn: connect(t, ns.URL()), Plan: openPlan(srv.URL+"/", 301, 2*time.Second), Agents: 3,
		// No agent is lost here: a timeout far above the 4.5 s a healthy
		// agent was seen silent under -race on a loaded 2-core machine.
		JoinTimeout: 20 * time.Second, AgentTimeout: 15 * time.Second,
		OnInterval: func(iv *metrics.Snapshot, _ metrics.Point, _ *metrics.Snapshot) { live.Merge(iv) },
		Say: func(f string, a ...any) {
			mu.Lock()
			lines = append(lines, fmt.Sprintf(f, a...))
			mu.Unlock()
		}}
	out, err := c.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("agent %d: %v", i, err)
		}
	}
	run, err := merge.Runs(out.Parts, merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := run.Total
	if s.Intended != 602 || s.Sent+s.Dropped != s.Intended || run.Interrupted || out.Lost != 0 {
		t.Errorf("intended %d sent %d dropped %d partial %v lost %d; want 602 = sent + dropped", s.Intended, s.Sent, s.Dropped, run.Interrupted, out.Lost)
	}
	if got := srv.Stats().Requests; got != s.Requests || s.Requests != s.Sent {
		t.Errorf("the target counted %d requests, the agents %d requests of %d sent", got, s.Requests, s.Sent)
	}
	if live.Requests != s.Requests || live.Intended != s.Intended {
		t.Errorf("the live intervals add up to %d requests (%d intended), the results to %d (%d)", live.Requests, live.Intended, s.Requests, s.Intended)
	}
	segs := map[string]bool{}
	for _, a := range run.Agents {
		segs[a.Segment] = true
		if a.State != report.AgentOK || !a.ClockKnown || a.Requests == 0 {
			t.Errorf("agent %+v", a)
		}
	}
	if len(segs) != 3 {
		t.Errorf("segments %v, want 0/3, 1/3, 2/3", segs)
	}
}

// An agent refuses a plan aimed outside --allow-targets, before any
// traffic.
func TestAgentAllowTargets(t *testing.T) {
	ns := startNATS(t)
	srv := testserver.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	allow, err := ParseAllow("10.0.0.0/8, 192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	wg, _, errs := agents(t, ctx, ns.URL(), 1, allow)
	c := &Coordinator{Conn: connect(t, ns.URL()), Plan: openPlan(srv.URL+"/", 100, time.Second), Agents: 1, JoinTimeout: 20 * time.Second}
	_, err = c.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), "outside --allow-targets 10.0.0.0/8,192.0.2.1/32") {
		t.Errorf("coordinator: %v", err)
	}
	wg.Wait()
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "refused") {
		t.Errorf("agent: %v", errs[0])
	}
	if n := srv.Stats().Requests; n != 0 {
		t.Errorf("the target got %d requests from a refused plan", n)
	}
}

// Too few agents: the coordinator says how many joined.
func TestCoordinatorJoinTimeout(t *testing.T) {
	ns := startNATS(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	wg, _, _ := agents(t, ctx, ns.URL(), 1, nil)
	c := &Coordinator{Conn: connect(t, ns.URL()), Plan: openPlan("http://127.0.0.1:1/", 100, time.Second), Agents: 2, JoinTimeout: time.Second}
	_, err := c.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 within --join-timeout 1s") {
		t.Errorf("err = %v", err)
	}
	cancel()
	wg.Wait()
}

// An agent that goes silent (its connection closed mid-run) is lost: the
// run stops, and the merged run is partial with that agent named.
func TestCoordinatorLostAgent(t *testing.T) {
	ns := startNATS(t)
	srv := testserver.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	wg, conns, _ := agents(t, ctx, ns.URL(), 2, nil)
	started := make(chan struct{})
	var once sync.Once
	// AgentTimeout 6s: a busy machine (-race, both cores taken) can delay
	// the other agent's heartbeats, and it was lost too (1 run in 3 at
	// load 15 with 1s; a healthy agent silent 4.5s at load 19 with 3s).
	// The plan lasts 30s, so a run that did not stop for the lost agent
	// takes more than the 25s below.
	c := &Coordinator{Conn: connect(t, ns.URL()), Plan: openPlan(srv.URL+"/", 50, 30*time.Second), Agents: 2,
		JoinTimeout: 20 * time.Second, AgentTimeout: 6 * time.Second,
		OnInterval: func(*metrics.Snapshot, metrics.Point, *metrics.Snapshot) { once.Do(func() { close(started) }) }}
	go func() {
		<-started
		conns[1].Close()
	}()
	t0 := time.Now()
	out, err := c.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if out.Lost != 1 || !out.Stopped {
		t.Fatalf("lost %d stopped %v", out.Lost, out.Stopped)
	}
	if d := time.Since(t0); d > 25*time.Second {
		t.Errorf("the run took %v: it did not stop for the lost agent", d)
	}
	run, err := merge.Runs(out.Parts, merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !run.Interrupted || len(report.Incomplete(run.Agents)) != 1 || !strings.Contains(run.NotRun, "2 of 2 segments did not run to their end (0/2 lost, 1/2 interrupted)") && !strings.Contains(run.NotRun, "(0/2 interrupted, 1/2 lost)") || !strings.Contains(run.NotRun, "of the plan's 1500 iterations did not run") {
		t.Errorf("partial %v agents %+v not run %q", run.Interrupted, run.Agents, run.NotRun)
	}
	cancel()
	wg.Wait()
}

// An agent whose clock is off by more than --max-clock-skew: the
// coordinator refuses to start and prints the bound.
func TestCoordinatorClockSkew(t *testing.T) {
	ns := startNATS(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	a := &Agent{Conn: connect(t, ns.URL()), Name: "late", Once: true, skew: 3 * time.Second}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()
	c := &Coordinator{Conn: connect(t, ns.URL()), Plan: openPlan("http://127.0.0.1:1/", 10, time.Second), Agents: 1,
		JoinTimeout: 20 * time.Second, MaxClockSkew: time.Second}
	_, err := c.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "agent late's clock is 3s off") || !strings.Contains(err.Error(), "beyond --max-clock-skew 1s") {
		t.Errorf("err = %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("the agent, stopped before its run: %v", err)
	}
}

// Ctrl-C on the coordinator (its context canceled) stops every agent
// gracefully: their results come back, the outcome is interrupted.
func TestCoordinatorInterrupt(t *testing.T) {
	ns := startNATS(t)
	srv := testserver.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	wg, _, errs := agents(t, ctx, ns.URL(), 2, nil)
	cctx, stop := context.WithCancel(ctx)
	var once sync.Once
	c := &Coordinator{Conn: connect(t, ns.URL()), Plan: openPlan(srv.URL+"/", 50, 30*time.Second), Agents: 2, JoinTimeout: 20 * time.Second,
		OnInterval: func(*metrics.Snapshot, metrics.Point, *metrics.Snapshot) { once.Do(stop) }}
	t0 := time.Now()
	out, err := c.Run(cctx)
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if !out.Interrupted || out.Lost != 0 || time.Since(t0) > 20*time.Second {
		t.Errorf("interrupted %v lost %d after %v", out.Interrupted, out.Lost, time.Since(t0))
	}
	run, err := merge.Runs(out.Parts, merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range run.Agents {
		if a.State != report.AgentInterrupted {
			t.Errorf("agent %+v, want interrupted", a)
		}
	}
	if run.Total.Requests != srv.Stats().Requests || run.Total.Requests == 0 {
		t.Errorf("%d requests, the target %d", run.Total.Requests, srv.Stats().Requests)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("agent %d: %v", i, err)
		}
	}
}

// --tolerate-lost 1: the run goes on without the lost agent, to its end,
// and says how much of the plan did not run. The agents' timeout is 6 s,
// the run 12 s: with 2 s of 5 a healthy agent under -race on a loaded
// 2-core machine was silent 4.5 s, long enough to be lost too.
func TestCoordinatorTolerateLost(t *testing.T) {
	ns := startNATS(t)
	srv := testserver.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	wg, conns, _ := agents(t, ctx, ns.URL(), 3, nil)
	var once sync.Once
	c := &Coordinator{Conn: connect(t, ns.URL()), Plan: openPlan(srv.URL+"/", 25, 12*time.Second), Agents: 3, TolerateLost: 1,
		JoinTimeout: 20 * time.Second, AgentTimeout: 6 * time.Second,
		OnInterval: func(*metrics.Snapshot, metrics.Point, *metrics.Snapshot) { once.Do(func() { conns[2].Close() }) }}
	out, err := c.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if out.Lost != 1 || out.Stopped {
		t.Errorf("lost %d stopped %v; want 1 lost and the run to its end", out.Lost, out.Stopped)
	}
	run, err := merge.Runs(out.Parts, merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	for _, a := range run.Agents {
		if a.State == report.AgentOK {
			ok++
		}
	}
	if ok != 2 || !run.Interrupted || !strings.Contains(run.NotRun, "1 of 3 segments did not run to their end") || !strings.Contains(run.NotRun, "of the plan's 300 iterations did not run") {
		t.Errorf("ok agents %d partial %v not run %q", ok, run.Interrupted, run.NotRun)
	}
	cancel()
	wg.Wait()
}
