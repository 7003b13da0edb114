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

	var mu sync.Mutex
	var agents []*agentState
	byID := map[string]*agentState{}
	full := make(chan struct{})
	joinSub, err := c.Conn.Subscribe(subjectJoin, func(m *nats.Msg) {
		var req joinRequest
		if err := json.Unmarshal(m.Data, &req); err != nil || req.ID == "" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if _, dup := byID[req.ID]; dup || len(agents) >= c.Agents {
			r, _ := json.Marshal(joinReply{Reason: "the run is full"})
			_ = m.Respond(r)
			return
		}
		name := req.Name
		if name == "" {
			name = "agent-" + req.ID[:6]
		}
		for _, a := range agents {
			if a.name == name {
				name += "-" + req.ID[:6]
				break
			}
		}
		a := &agentState{id: req.ID, name: name, lastSeen: time.Now()}
		r, _ := json.Marshal(joinReply{OK: true, Run: run, Timeout: c.AgentTimeout})
		if m.Respond(r) != nil {
			return
		}
		agents = append(agents, a)
		byID[req.ID] = a
		c.Say("agent %s joined (%d of %d)", name, len(agents), c.Agents)
		if len(agents) == c.Agents {
			close(full)
		}
	})
	if err != nil {
		return nil, err
	}
	hbSub, err := c.Conn.Subscribe(hbSubject(run, "*"), func(m *nats.Msg) {
		id := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
		mu.Lock()
		if a := byID[id]; a != nil {
			a.lastSeen = time.Now()
		}
		mu.Unlock()
	})
	if err != nil {
		_ = joinSub.Unsubscribe()
		return nil, err
	}
	defer func() { _ = hbSub.Unsubscribe() }()

	select {
	case <-full:
	case <-time.After(c.JoinTimeout):
	case <-ctx.Done():
	}
	_ = joinSub.Unsubscribe()
	mu.Lock()
	joined := len(agents)
	mu.Unlock()
	stopAll := func() {
		mu.Lock()
		list := append([]*agentState(nil), agents...)
		mu.Unlock()
		for _, a := range list {
			_, _ = c.request(a, control{Op: opStop, Run: run}, time.Second)
		}
	}
	if ctx.Err() != nil {
		stopAll()
		return &Outcome{Interrupted: true, Stopped: true}, nil
	}
	if joined < c.Agents {
		stopAll()
		return nil, fmt.Errorf("%w: %d of %d within --join-timeout %v: start more agents (faya agent --nats URL) or lower --agents", ErrNotEnoughAgents, joined, c.Agents, c.JoinTimeout)
	}

	// Clocks: the least round trip of a few pings gives each offset.
	for _, a := range agents {
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
			stopAll()
			return nil, fmt.Errorf("agent %s does not answer", a.name)
		}
		a.rtt = best
		if a.offset > c.MaxClockSkew || -a.offset > c.MaxClockSkew {
			stopAll()
			return nil, fmt.Errorf("agent %s's clock is %v off this coordinator's, beyond --max-clock-skew %v: sync the machines' clocks (NTP, chrony) or raise --max-clock-skew", a.name, a.offset.Round(time.Millisecond), c.MaxClockSkew)
		}
	}
	plan := c.Plan
	meta := c.Meta
	origin := runfile.Origin{Plan: ptr(plan.Redacted()), PlanHash: merge.PlanHash(plan)}
	for i, a := range agents {
		a.seg = engine.Segment{Index: i, Count: c.Agents}
		r, err := c.request(a, control{Op: opPlan, Run: run, Plan: &plan, Segment: a.seg, Meta: &meta, Origin: &origin}, 30*time.Second)
		if err == nil && !r.OK {
			err = errors.New(r.Err)
		}
		if err != nil {
			stopAll()
			return nil, fmt.Errorf("agent %s refused segment %s: %w", a.name, a.seg, err)
		}
	}
	lead := c.Lead
	for _, a := range agents {
		lead = max(lead, 10*a.rtt)
	}
	start := time.Now().Add(lead)
	for _, a := range agents {
		r, err := c.request(a, control{Op: opStart, Run: run, Start: start.Add(a.offset), Offset: a.offset}, 5*time.Second)
		if err == nil && !r.OK {
			err = errors.New(r.Err)
		}
		if err != nil {
			stopAll()
			return nil, fmt.Errorf("agent %s did not start: %w", a.name, err)
		}
		mu.Lock()
		a.lastSeen = time.Now()
		mu.Unlock()
	}
	c.Say("%d agents start at %s (offsets measured: %s)", c.Agents, start.Format("15:04:05.000"), offsets(agents))

	return c.gather(ctx, js, run, agents, &mu, stopAll)
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
func (c *Coordinator) gather(ctx context.Context, js jetstream.JetStream, run string, agents []*agentState, mu *sync.Mutex, stopAll func()) (*Outcome, error) {
	cons, err := js.OrderedConsumer(context.Background(), streamName(run), jetstream.OrderedConsumerConfig{})
	if err != nil {
		stopAll()
		return nil, fmt.Errorf("consume the run's stream: %w", err)
	}
	msgs := make(chan jetstream.Msg, 256)
	cc, err := cons.Consume(func(m jetstream.Msg) { msgs <- m })
	if err != nil {
		stopAll()
		return nil, fmt.Errorf("consume the run's stream: %w", err)
	}
	defer cc.Stop()
	byID := map[string]*agentState{}
	for _, a := range agents {
		byID[a.id] = a
	}
	out := &Outcome{}
	total := &metrics.Snapshot{}
	emitted := 0
	emit := func(force bool) {
		// Interval k is merged once every agent still running sent it.
		for {
			ready := true
			any := false
			for _, a := range agents {
				if a.points > emitted {
					any = true
				} else if a.state == "" && a.end == nil {
					ready = false
				}
			}
			if !any || (!ready && !force) {
				return
			}
			iv := &metrics.Snapshot{}
			var p metrics.Point
			var open, active, tw int64
			twKnown := true
			for _, a := range agents {
				k := 0
				for _, x := range a.intervals {
					if !x.HasPoint {
						continue
					}
					if k == emitted {
						addSide(iv, x.Snapshot)
						p.T = max(p.T, x.Point.T)
						open += x.Point.ConnsOpen
						active += x.Point.ConnsActive
						if x.Point.TimeWait < 0 {
							twKnown = false
						} else {
							tw += x.Point.TimeWait
						}
						break
					}
					k++
				}
			}
			addSide(total, iv)
			pt := metrics.PointOf(iv, p.T, c.Interval)
			pt.ConnsOpen, pt.ConnsActive, pt.TimeWait = open, active, tw
			if !twKnown {
				pt.TimeWait = -1
			}
			emitted++
			if c.OnInterval != nil {
				c.OnInterval(iv, pt, total)
			}
		}
	}
	tick := time.NewTicker(max(c.AgentTimeout/10, 10*time.Millisecond))
	defer tick.Stop()
	var stopDeadline time.Time
	graceful := c.Plan.GracefulStop
	if graceful == 0 {
		graceful = engine.DefaultGracefulStop
	}
	stop := func(why string) {
		if !out.Stopped {
			out.Stopped = true
			c.Say("stopping every agent: %s", why)
			go stopAll()
			stopDeadline = time.Now().Add(max(graceful, 0) + c.AgentTimeout + 2*time.Second)
		}
	}
	done := func() bool {
		for _, a := range agents {
			if a.end == nil && a.state == "" {
				return false
			}
		}
		return true
	}
	ctxDone := ctx.Done()
	for !done() {
		select {
		case <-ctxDone:
			ctxDone = nil
			out.Interrupted = true
			stop("interrupted")
		case m := <-msgs:
			_ = m.Ack()
			subj := m.Subject()
			id := subj[strings.LastIndexByte(subj, '.')+1:]
			a := byID[id]
			if a == nil {
				continue
			}
			mu.Lock()
			a.lastSeen = time.Now()
			mu.Unlock()
			switch {
			case strings.HasPrefix(subj, subjectRun+run+".data.iv."):
				var iv runfile.Interval
				if err := json.Unmarshal(m.Data(), &iv); err != nil || iv.Snapshot == nil {
					c.Log.Warn("bad interval", "agent", a.name, "err", err)
					continue
				}
				a.intervals = append(a.intervals, iv)
				if iv.HasPoint {
					a.points++
				}
			case strings.HasPrefix(subj, subjectRun+run+".data.end."):
				var f final
				if err := json.Unmarshal(m.Data(), &f); err != nil {
					c.Log.Warn("bad result", "agent", a.name, "err", err)
					continue
				}
				if a.state == report.AgentLost {
					continue // lost is lost: its late result is not counted
				}
				a.end = &f
				if f.Err != "" {
					a.state, a.reason = report.AgentFailed, f.Err
					c.Say("agent %s failed: %s", a.name, f.Err)
				}
			}
			emit(false)
		case <-tick.C:
			now := time.Now()
			lostNow := false
			mu.Lock()
			for _, a := range agents {
				if a.end == nil && a.state == "" && now.Sub(a.lastSeen) > c.AgentTimeout {
					a.state = report.AgentLost
					a.reason = fmt.Sprintf("silent for %v (--agent-timeout %v) after %d intervals", now.Sub(a.lastSeen).Round(time.Millisecond), c.AgentTimeout, a.points)
					out.Lost++
					lostNow = true
					c.Say("agent %s (segment %s) LOST: %s", a.name, a.seg, a.reason)
				}
			}
			mu.Unlock()
			if lostNow && out.Lost > c.TolerateLost {
				stop(fmt.Sprintf("%d agents lost (--tolerate-lost %d)", out.Lost, c.TolerateLost))
			}
			emit(false)
			if out.Stopped && now.After(stopDeadline) {
				for _, a := range agents {
					if a.end == nil && a.state == "" {
						a.state, a.reason = report.AgentLost, "no result after the stop"
						out.Lost++
					}
				}
			}
		}
	}
	emit(true)
	for _, a := range agents {
		out.Parts = append(out.Parts, c.part(a))
	}
	return out, nil
}

// addSide adds an agent's snapshot: maxima of agents side by side add.
func addSide(dst, src *metrics.Snapshot) {
	busy, alloc, open := dst.VUsBusyMax+src.VUsBusyMax, dst.VUsAllocated+src.VUsAllocated, dst.MaxOpen+src.MaxOpen
	dst.Merge(src)
	dst.VUsBusyMax, dst.VUsAllocated, dst.MaxOpen = busy, alloc, open
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
