package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/merge"
	"github.com/faya-load/faya/internal/runfile"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/report"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Coordinator runs a plan on Agents agents as one run.
type Coordinator struct {
	Conn *nats.Conn
	// Plan is the whole run's plan; Meta describes it for the reports.
	Plan engine.Plan
	Meta report.Meta
	// Agents is how many agents run the plan, one segment each.
	Agents int
	// JoinTimeout bounds the wait for the agents to join (default 60s).
	JoinTimeout time.Duration
	// AgentTimeout is the silence after which an agent is lost, and
	// after which the agents give the coordinator up (default 5s).
	AgentTimeout time.Duration
	// MaxClockSkew refuses to start when an agent's clock is further
	// than this from the coordinator's (default 1s).
	MaxClockSkew time.Duration
	// TolerateLost is how many lost agents the run goes on without; one
	// more stops it.
	TolerateLost int
	// Lead is how long after the announcement the run starts (default
	// 1.5s, more when the round trips are long).
	Lead time.Duration
	// Interval is the engine's interval (default 1s).
	Interval time.Duration
	// OnInterval receives the merged live view of each interval, once
	// every agent still running has sent it: the interval's snapshot, its
	// point, and the run's total so far. It runs on one goroutine.
	OnInterval func(iv *metrics.Snapshot, p metrics.Point, total *metrics.Snapshot)
	// Say prints a line for the user (agents joining, lost, ...).
	Say func(format string, a ...any)
	// Log receives lifecycle events; nil discards.
	Log *slog.Logger
}

// Outcome is what a coordinated run did.
type Outcome struct {
	// Parts are the agents' runs, by segment, for merge.Runs.
	Parts []merge.Part
	// Lost counts the agents lost; Stopped is set when the run was
	// stopped before its end (Ctrl-C, or too many lost).
	Lost        int
	Stopped     bool
	Interrupted bool
}

// agentState is what the coordinator knows of one agent.
type agentState struct {
	id, name  string
	seg       engine.Segment
	offset    time.Duration
	rtt       time.Duration
	lastSeen  time.Time
	intervals []runfile.Interval
	points    int
	end       *final
	state     string
	reason    string
}

// ErrNotEnoughAgents is wrapped by Run when too few agents joined.
var ErrNotEnoughAgents = errors.New("not enough agents joined")

func (c *Coordinator) defaults() {
	if c.JoinTimeout <= 0 {
		c.JoinTimeout = 60 * time.Second
	}
	if c.AgentTimeout <= 0 {
		c.AgentTimeout = 5 * time.Second
	}
	if c.MaxClockSkew <= 0 {
		c.MaxClockSkew = time.Second
	}
	if c.Lead <= 0 {
		c.Lead = 1500 * time.Millisecond
	}
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.Say == nil {
		c.Say = func(string, ...any) {}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Run runs the plan on the agents. Canceling ctx stops every agent
// gracefully; the outcome then holds what they ran. An error means the
// run could not start (too few agents, a refused plan, clocks too far
// apart) or its results could not be gathered.
func (c *Coordinator) Run(ctx context.Context) (*Outcome, error) {
	c.defaults()
	if c.Agents < 1 {
		return nil, errors.New("no agents asked for")
	}
	run := randomID()
	js, err := jetstream.New(c.Conn)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = js.CreateOrUpdateStream(sctx, jetstream.StreamConfig{
		Name: streamName(run), Subjects: []string{dataSubjects(run)},
		Storage: jetstream.FileStorage, MaxAge: 24 * time.Hour,
	})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("create the run's JetStream stream (does the NATS server have JetStream enabled?): %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = js.DeleteStream(dctx, streamName(run))
		cancel()
	}()

	beatCtx, stopBeats := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBeats()
	go beat(beatCtx, c.Conn, hbSubject(run, coordinatorHB), c.AgentTimeout)

	r := &roster{c: c, run: run, byID: map[string]*agentState{}, full: make(chan struct{})}
	joinSub, err := c.Conn.Subscribe(subjectJoin, r.join)
	if err != nil {
		return nil, err
	}
	hbSub, err := c.Conn.Subscribe(hbSubject(run, "*"), r.heartbeat)
	if err != nil {
		_ = joinSub.Unsubscribe()
		return nil, err
	}
	defer func() { _ = hbSub.Unsubscribe() }()

	select {
	case <-r.full:
	case <-time.After(c.JoinTimeout):
	case <-ctx.Done():
	}
	_ = joinSub.Unsubscribe()
	joined := len(r.list())
	if ctx.Err() != nil {
		r.stopAll()
		return &Outcome{Interrupted: true, Stopped: true}, nil
	}
	if joined < c.Agents {
		r.stopAll()
		return nil, fmt.Errorf("%w: %d of %d within --join-timeout %v: start more agents (faya agent --nats URL) or lower --agents", ErrNotEnoughAgents, joined, c.Agents, c.JoinTimeout)
	}
	if err := c.start(r); err != nil {
		r.stopAll()
		return nil, err
	}
	return c.gather(ctx, js, r)
}

// roster is the agents that joined a run. Its lock covers the list and
// each agent's lastSeen, which the NATS callbacks write.
type roster struct {
	c      *Coordinator
	run    string
	mu     sync.Mutex
	agents []*agentState
	byID   map[string]*agentState
	full   chan struct{} // closed when Agents joined
}

// join answers an agent's request to join, while there is room.
func (r *roster) join(m *nats.Msg) {
	var req joinRequest
	if err := json.Unmarshal(m.Data, &req); err != nil || req.ID == "" {
		return
	}
	c := r.c
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.byID[req.ID]; dup || len(r.agents) >= c.Agents {
		b, _ := json.Marshal(joinReply{Reason: "the run is full"})
		_ = m.Respond(b)
		return
	}
	name := req.Name
	if name == "" {
		name = "agent-" + req.ID[:6]
	}
	for _, a := range r.agents {
		if a.name == name {
			name += "-" + req.ID[:6]
			break
		}
	}
	a := &agentState{id: req.ID, name: name, lastSeen: time.Now()}
	b, _ := json.Marshal(joinReply{OK: true, Run: r.run, Timeout: c.AgentTimeout})
	if m.Respond(b) != nil {
		return
	}
	r.agents = append(r.agents, a)
	r.byID[req.ID] = a
	c.Say("agent %s joined (%d of %d)", name, len(r.agents), c.Agents)
	if len(r.agents) == c.Agents {
		close(r.full)
	}
}

// heartbeat notes that an agent is alive.
func (r *roster) heartbeat(m *nats.Msg) {
	r.seen(m.Subject[strings.LastIndexByte(m.Subject, '.')+1:])
}

// seen notes that the agent id was heard from now; it returns the agent,
// nil for an id that did not join.
func (r *roster) seen(id string) *agentState {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.byID[id]
	if a != nil {
		a.lastSeen = time.Now()
	}
	return a
}

func (r *roster) list() []*agentState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*agentState(nil), r.agents...)
}

// stopAll asks every agent that joined to stop.
func (r *roster) stopAll() {
	for _, a := range r.list() {
		_, _ = r.c.request(a, control{Op: opStop, Run: r.run}, time.Second)
	}
}

// start measures each agent's clock, gives each its segment of the plan
// and announces the start.
func (c *Coordinator) start(r *roster) error {
	agents := r.list()
	for _, a := range agents {
		if err := c.clock(a, r.run); err != nil {
			return err
		}
	}
	plan := c.Plan
	meta := c.Meta
	origin := runfile.Origin{Plan: ptr(plan.Redacted()), PlanHash: merge.PlanHash(plan)}
	for i, a := range agents {
		a.seg = engine.Segment{Index: i, Count: c.Agents}
		rep, err := c.request(a, control{Op: opPlan, Run: r.run, Plan: &plan, Segment: a.seg, Meta: &meta, Origin: &origin}, 30*time.Second)
		if err == nil && !rep.OK {
			err = errors.New(rep.Err)
		}
		if err != nil {
			return fmt.Errorf("agent %s refused segment %s: %w", a.name, a.seg, err)
		}
	}
	lead := c.Lead
	for _, a := range agents {
		lead = max(lead, 10*a.rtt)
	}
	start := time.Now().Add(lead)
	for _, a := range agents {
		rep, err := c.request(a, control{Op: opStart, Run: r.run, Start: start.Add(a.offset), Offset: a.offset}, 5*time.Second)
		if err == nil && !rep.OK {
			err = errors.New(rep.Err)
		}
		if err != nil {
			return fmt.Errorf("agent %s did not start: %w", a.name, err)
		}
		r.seen(a.id)
	}
	c.Say("%d agents start at %s (offsets measured: %s)", c.Agents, start.Format("15:04:05.000"), offsets(agents))
	return nil
}

// clock measures an agent's clock offset: the least round trip of a few
// pings gives it.
func (c *Coordinator) clock(a *agentState, run string) error {
	best := time.Duration(math.MaxInt64)
	for range 5 {
		t0 := time.Now()
		r, err := c.request(a, control{Op: opPing, Run: run}, 2*time.Second)
		t1 := time.Now()
		if err != nil {
			continue
		}
		if rtt := t1.Sub(t0); rtt < best {
			best = rtt
			a.offset = r.Now.Sub(t0.Add(rtt / 2))
		}
	}
	if best == math.MaxInt64 {
		return fmt.Errorf("agent %s does not answer", a.name)
	}
	a.rtt = best
	if a.offset > c.MaxClockSkew || -a.offset > c.MaxClockSkew {
		return fmt.Errorf("agent %s's clock is %v off this coordinator's, beyond --max-clock-skew %v: sync the machines' clocks (NTP, chrony) or raise --max-clock-skew", a.name, a.offset.Round(time.Millisecond), c.MaxClockSkew)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

func offsets(agents []*agentState) string {
	var s []string
	for _, a := range agents {
		s = append(s, fmt.Sprintf("%s %+v", a.name, a.offset.Round(time.Microsecond)))
	}
	return strings.Join(s, ", ")
}

// request sends a control message to an agent and waits for its reply.
func (c *Coordinator) request(a *agentState, m control, timeout time.Duration) (controlReply, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return controlReply{}, err
	}
	msg, err := c.Conn.Request(agentSubject(a.id), b, timeout)
	if err != nil {
		return controlReply{}, err
	}
	var r controlReply
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		return controlReply{}, err
	}
	return r, nil
}

// gather consumes the agents' stream until every agent has sent its
// result or is lost, watching their heartbeats and merging the intervals
// for the live view.
func (c *Coordinator) gather(ctx context.Context, js jetstream.JetStream, r *roster) (*Outcome, error) {
	cons, err := js.OrderedConsumer(context.Background(), streamName(r.run), jetstream.OrderedConsumerConfig{})
	if err != nil {
		r.stopAll()
		return nil, fmt.Errorf("consume the run's stream: %w", err)
	}
	msgs := make(chan jetstream.Msg, 256)
	cc, err := cons.Consume(func(m jetstream.Msg) { msgs <- m })
	if err != nil {
		r.stopAll()
		return nil, fmt.Errorf("consume the run's stream: %w", err)
	}
	defer cc.Stop()
	g := &gathering{c: c, r: r, agents: r.list(), out: &Outcome{}, total: &metrics.Snapshot{}, graceful: c.Plan.GracefulStop}
	if g.graceful == 0 {
		g.graceful = engine.DefaultGracefulStop
	}
	tick := time.NewTicker(max(c.AgentTimeout/10, 10*time.Millisecond))
	defer tick.Stop()
	ctxDone := ctx.Done()
	for !g.done() {
		select {
		case <-ctxDone:
			ctxDone = nil
			g.out.Interrupted = true
			g.stop("interrupted")
		case m := <-msgs:
			_ = m.Ack()
			g.receive(m)
			g.emit(false)
		case <-tick.C:
			g.watch(time.Now())
			g.emit(false)
		}
	}
	g.emit(true)
	for _, a := range g.agents {
		g.out.Parts = append(g.out.Parts, c.part(a))
	}
	return g.out, nil
}

// gathering is gather's state; only gather's goroutine uses it (the
// agents' lastSeen under the roster's lock).
type gathering struct {
	c            *Coordinator
	r            *roster
	agents       []*agentState
	out          *Outcome
	total        *metrics.Snapshot
	emitted      int // intervals passed to OnInterval
	graceful     time.Duration
	stopDeadline time.Time
}

// running reports whether the agent has neither ended nor been lost.
func (a *agentState) running() bool { return a.end == nil && a.state == "" }

func (g *gathering) done() bool {
	for _, a := range g.agents {
		if a.running() {
			return false
		}
	}
	return true
}

// stop stops every agent, once, and bounds the wait for their results.
func (g *gathering) stop(why string) {
	if g.out.Stopped {
		return
	}
	g.out.Stopped = true
	g.c.Say("stopping every agent: %s", why)
	go g.r.stopAll()
	g.stopDeadline = time.Now().Add(max(g.graceful, 0) + g.c.AgentTimeout + 2*time.Second)
}

// receive takes one message of the run's stream: an agent's interval or
// its result.
func (g *gathering) receive(m jetstream.Msg) {
	subj := m.Subject()
	a := g.r.seen(subj[strings.LastIndexByte(subj, '.')+1:])
	if a == nil {
		return
	}
	c, run := g.c, g.r.run
	switch {
	case strings.HasPrefix(subj, subjectRun+run+".data.iv."):
		var iv runfile.Interval
		if err := json.Unmarshal(m.Data(), &iv); err != nil || iv.Snapshot == nil {
			c.Log.Warn("bad interval", "agent", a.name, "err", err)
			return
		}
		a.intervals = append(a.intervals, iv)
		if iv.HasPoint {
			a.points++
		}
	case strings.HasPrefix(subj, subjectRun+run+".data.end."):
		var f final
		if err := json.Unmarshal(m.Data(), &f); err != nil {
			c.Log.Warn("bad result", "agent", a.name, "err", err)
			return
		}
		if a.state == report.AgentLost {
			return // lost is lost: its late result is not counted
		}
		a.end = &f
		if f.Err != "" {
			a.state, a.reason = report.AgentFailed, f.Err
			c.Say("agent %s failed: %s", a.name, f.Err)
		}
	}
}

// watch marks the agents silent for longer than AgentTimeout lost, stops
// the run when more are lost than tolerated, and gives up on the results
// the stop did not bring.
func (g *gathering) watch(now time.Time) {
	c, out := g.c, g.out
	lostNow := false
	g.r.mu.Lock()
	for _, a := range g.agents {
		if a.running() && now.Sub(a.lastSeen) > c.AgentTimeout {
			a.state = report.AgentLost
			a.reason = fmt.Sprintf("silent for %v (--agent-timeout %v) after %d intervals", now.Sub(a.lastSeen).Round(time.Millisecond), c.AgentTimeout, a.points)
			out.Lost++
			lostNow = true
			c.Say("agent %s (segment %s) LOST: %s", a.name, a.seg, a.reason)
		}
	}
	g.r.mu.Unlock()
	if lostNow && out.Lost > c.TolerateLost {
		g.stop(fmt.Sprintf("%d agents lost (--tolerate-lost %d)", out.Lost, c.TolerateLost))
	}
	if out.Stopped && now.After(g.stopDeadline) {
		for _, a := range g.agents {
			if a.running() {
				a.state, a.reason = report.AgentLost, "no result after the stop"
				out.Lost++
			}
		}
	}
}

// emit passes each interval to OnInterval once every agent still
// running sent it (force: once any agent sent it).
func (g *gathering) emit(force bool) {
	for {
		ready, any := true, false
		for _, a := range g.agents {
			if a.points > g.emitted {
				any = true
			} else if a.running() {
				ready = false
			}
		}
		if !any || (!ready && !force) {
			return
		}
		iv, pt := g.interval(g.emitted)
		merge.AddSideBySide(g.total, iv)
		g.emitted++
		if g.c.OnInterval != nil {
			g.c.OnInterval(iv, pt, g.total)
		}
	}
}

// interval merges the agents' k-th intervals that have a point.
func (g *gathering) interval(k int) (*metrics.Snapshot, metrics.Point) {
	iv := &metrics.Snapshot{}
	var t time.Duration
	var open, active, tw int64
	twKnown := true
	for _, a := range g.agents {
		n := 0
		for _, x := range a.intervals {
			if !x.HasPoint {
				continue
			}
			if n == k {
				merge.AddSideBySide(iv, x.Snapshot)
				t = max(t, x.Point.T)
				open += x.Point.ConnsOpen
				active += x.Point.ConnsActive
				if x.Point.TimeWait < 0 {
					twKnown = false
				} else {
					tw += x.Point.TimeWait
				}
				break
			}
			n++
		}
	}
	pt := metrics.PointOf(iv, t, g.c.Interval)
	pt.ConnsOpen, pt.ConnsActive, pt.TimeWait = open, active, tw
	if !twKnown {
		pt.TimeWait = -1
	}
	return iv, pt
}

// part is an agent's run as merge.Runs takes it. A lost agent's run is
// what it sent before it went silent.
func (c *Coordinator) part(a *agentState) merge.Part {
	org := runfile.Origin{Segment: a.seg.String(), Agent: a.name, PlanHash: merge.PlanHash(c.Plan), Plan: ptr(c.Plan.Redacted())}
	p := merge.Part{Origin: org, Name: a.name, State: a.state, Reason: a.reason, ClockOffset: a.offset, ClockKnown: true}
	r := &runfile.Run{Origin: org, Intervals: len(a.intervals)}
	r.Run.Meta = c.Meta
	if f := a.end; f != nil {
		r.Run.Total, r.Run.Duration, r.Run.Interrupted, r.Run.OpenAtEnd = f.Total, f.Duration, f.Partial, f.OpenAtEnd
		r.Run.Scheduling, r.Run.CPU, r.Run.CPUs, r.Run.RunDelay = f.Scheduling, f.CPU, f.CPUs, f.RunDelay
		r.Run.Sockets, r.Run.Steps = f.Sockets, f.Steps
		if !f.Start.IsZero() {
			r.Run.Start = f.Start.Add(-a.offset)
		}
	}
	if r.Run.Total == nil {
		if len(a.intervals) == 0 {
			return p
		}
		// Lost: its total is the sum of the intervals it sent.
		r.Run.Total = &metrics.Snapshot{}
		for _, iv := range a.intervals {
			r.Run.Total.Merge(iv.Snapshot)
			if iv.HasPoint {
				r.Run.Duration = max(r.Run.Duration, iv.Point.T)
			}
		}
		r.Run.Interrupted = true
	}
	p.Run, p.Intervals = r, a.intervals
	return p
}
