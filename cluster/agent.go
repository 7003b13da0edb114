package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/runfile"
	"github.com/faya-load/faya/report"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Agent waits for a coordinator's work on a NATS connection and runs it:
// one segment of a plan, from the start the coordinator announces.
type Agent struct {
	// Conn is the agent's NATS connection.
	Conn *nats.Conn
	// Name names the agent in the coordinator's report.
	Name string
	// Allow, when set, are the networks the agent may send to: a plan
	// aimed elsewhere is refused (see CheckTargets).
	Allow []netip.Prefix
	// Once makes Serve return after one run; otherwise it waits for the
	// next coordinator.
	Once bool
	// Out, when set, is where each run of the agent's segment is saved
	// (faya report and faya merge read it).
	Out string
	// Options are added to every run's engine (the environment of
	// templates, for one).
	Options []engine.Option
	// Version is the agent's faya version (in the saved run).
	Version string
	// Log receives the agent's lifecycle events; nil discards.
	Log *slog.Logger

	skew time.Duration // tests: how far the agent's clock is off
}

// ErrLostCoordinator is returned by Serve (with Once) when the
// coordinator went silent during a run: the agent stopped its part.
var ErrLostCoordinator = errors.New("lost the coordinator: it was silent for the agent timeout, so this agent stopped its part of the run")

// Serve joins runs until ctx is done (or after one, with Once).
func (a *Agent) Serve(ctx context.Context) error {
	if a.Log == nil {
		a.Log = slog.New(slog.DiscardHandler)
	}
	for {
		err := a.serveOne(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if a.Once {
			return err
		}
		if err != nil {
			a.Log.Warn("run ended", "err", err)
		}
	}
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// serveOne joins one run and runs its segment.
func (a *Agent) serveOne(ctx context.Context) error {
	id := randomID()
	ctl := make(chan *nats.Msg, 16)
	sub, err := a.Conn.ChanSubscribe(agentSubject(id), ctl)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()

	join, err := a.join(ctx, id)
	if err != nil || ctx.Err() != nil {
		return err
	}
	a.Log.Info("joined a run", "run", join.Run)
	timeout := join.Timeout
	var heard atomic.Int64 // the coordinator's last heartbeat (unix ns)
	heard.Store(time.Now().UnixNano())
	hb, err := a.Conn.Subscribe(hbSubject(join.Run, coordinatorHB), func(*nats.Msg) { heard.Store(time.Now().UnixNano()) })
	if err != nil {
		return err
	}
	defer func() { _ = hb.Unsubscribe() }()
	beatCtx, stopBeats := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBeats()
	go beat(beatCtx, a.Conn, hbSubject(join.Run, id), timeout)

	js, err := jetstream.New(a.Conn)
	if err != nil {
		return err
	}
	var (
		assigned *control
		runDone  chan error
		lost     bool
	)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	watch := time.NewTicker(max(timeout/10, 10*time.Millisecond))
	defer watch.Stop()
	for {
		select {
		case <-ctx.Done():
			cancel()
			if runDone != nil {
				<-runDone
			}
			return nil
		case err := <-runDone:
			if lost {
				return ErrLostCoordinator
			}
			return err
		case <-watch.C:
			if time.Since(time.Unix(0, heard.Load())) > timeout && !lost {
				lost = true
				a.Log.Warn("lost the coordinator", "silent", time.Since(time.Unix(0, heard.Load())))
				if runDone == nil {
					return ErrLostCoordinator
				}
				cancel()
			}
		case m := <-ctl:
			var c control
			if err := json.Unmarshal(m.Data, &c); err != nil {
				reply(m, controlReply{Err: "bad control message: " + err.Error()})
				continue
			}
			switch c.Op {
			case opPing:
				reply(m, controlReply{OK: true, Now: time.Now().Add(a.skew)})
			case opPlan:
				if err := a.accept(ctx, &c); err != nil {
					a.Log.Warn("refused the plan", "err", err)
					reply(m, controlReply{Err: err.Error()})
					// A refused plan ends this run for the agent.
					return fmt.Errorf("refused the coordinator's plan: %w", err)
				}
				assigned = &c
				reply(m, controlReply{OK: true})
			case opStart:
				if assigned == nil || runDone != nil {
					reply(m, controlReply{Err: "no plan to start, or started already"})
					continue
				}
				reply(m, controlReply{OK: true})
				runDone = make(chan error, 1)
				go func(c control, start time.Time) {
					runDone <- a.run(runCtx, js, id, join.Run, c, start, timeout)
				}(*assigned, c.Start)
			case opStop:
				reply(m, controlReply{OK: true})
				cancel()
				if runDone == nil {
					return nil
				}
			default:
				reply(m, controlReply{Err: "unknown operation " + c.Op})
			}
		}
	}
}

// join asks to join a run until a coordinator accepts.
func (a *Agent) join(ctx context.Context, id string) (joinReply, error) {
	req, _ := json.Marshal(joinRequest{ID: id, Name: a.Name, Version: a.Version})
	for {
		m, err := a.Conn.RequestWithContext(withTimeout(ctx, 2*time.Second), subjectJoin, req)
		if err == nil {
			var r joinReply
			if json.Unmarshal(m.Data, &r) == nil && r.OK && r.Timeout > 0 {
				return r, nil
			}
		}
		select {
		case <-ctx.Done():
			return joinReply{}, nil
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func withTimeout(ctx context.Context, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(ctx, d)
	context.AfterFunc(c, cancel)
	return c
}

// accept checks a coordinator's plan before any traffic: only plans of
// steps, aimed at allowed targets, valid for the segment.
func (a *Agent) accept(ctx context.Context, c *control) error {
	if c.Plan == nil {
		return errors.New("no plan")
	}
	if err := CheckTargets(ctx, *c.Plan, a.Allow, nil); err != nil {
		return err
	}
	if _, err := engine.New(*c.Plan, append(a.Options, engine.WithSegment(c.Segment))...); err != nil {
		return err
	}
	return nil
}

// run runs the agent's segment from start (its clock) and publishes the
// intervals and, acknowledged, the result.
func (a *Agent) run(ctx context.Context, js jetstream.JetStream, id, run string, c control, start time.Time, timeout time.Duration) error {
	var saved *runfile.Writer
	var meta report.Meta
	if c.Meta != nil {
		meta = *c.Meta
		meta.Version = a.Version
		meta.Segment = c.Segment.String()
	}
	if a.Out != "" {
		origin := runfile.Origin{Segment: c.Segment.String(), Agent: a.Name}
		if c.Origin != nil {
			origin.Plan, origin.PlanHash = c.Origin.Plan, c.Origin.PlanHash
		}
		w, err := runfile.CreateFrom(a.Out, meta, stepNames(*c.Plan), origin)
		if err != nil {
			a.Log.Warn("cannot save the run", "out", a.Out, "err", err)
		} else {
			saved = w
		}
	}
	var intervals int
	var mu sync.Mutex
	subj := ivSubject(run, id)
	onInterval := func(iv engine.Interval) {
		b, err := json.Marshal(runfile.Interval{Point: iv.Point, HasPoint: iv.HasPoint, Snapshot: iv.Snapshot})
		if err == nil {
			if _, err := js.PublishAsync(subj, b); err != nil {
				a.Log.Warn("publish interval", "err", err)
			}
		}
		mu.Lock()
		intervals++
		mu.Unlock()
		if saved != nil {
			saved.Interval(iv.Point, iv.HasPoint, iv.Snapshot)
		}
	}
	opts := append(append([]engine.Option(nil), a.Options...), engine.WithSegment(c.Segment), engine.WithStart(start), engine.WithIntervals(onInterval))
	out := final{}
	eng, err := engine.New(*c.Plan, opts...)
	var res *engine.Result
	if err == nil {
		a.Log.Info("run starts", "segment", c.Segment.String(), "at", start)
		res, err = eng.Run(ctx)
	}
	if err != nil {
		out.Err = err.Error()
	}
	if res != nil {
		out = final{Err: out.Err, Total: res.Total, Duration: res.Duration, Partial: res.Interrupted, OpenAtEnd: res.OpenAtEnd,
			Scheduling: res.Scheduling, CPU: res.CPU, CPUs: res.CPUs, RunDelay: res.RunDelay, Start: res.Start}
		out.Steps = append(out.Steps, res.Steps...)
	}
	mu.Lock()
	out.Intervals = intervals
	mu.Unlock()
	if saved != nil {
		r := report.Run{Meta: meta, Result: engine.Result{Steps: out.Steps, Total: out.Total, Duration: out.Duration, Interrupted: out.Partial,
			OpenAtEnd: out.OpenAtEnd, Scheduling: out.Scheduling, CPU: out.CPU, CPUs: out.CPUs, RunDelay: out.RunDelay, Start: out.Start}}
		if res != nil {
			r.Timeline = res.Timeline
		}
		var findings = report.Build(r).Findings
		if err := saved.Close(r, findings); err != nil {
			a.Log.Warn("save the run", "err", err)
		}
	}
	// The result is acknowledged by the stream before the agent goes on.
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(timeout):
	}
	b, merr := json.Marshal(out)
	if merr != nil {
		return merr
	}
	deadline := time.Now().Add(timeout)
	for {
		pctx, cancel := context.WithTimeout(context.Background(), timeout/2)
		_, perr := js.Publish(pctx, endSubject(run, id), b)
		cancel()
		if perr == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the run's result was not acknowledged: %w", perr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out.Total != nil {
		a.Log.Info("run ended", "requests", out.Total.Requests)
	}
	return err
}

// beat publishes a heartbeat every timeout/5 until ctx is done.
func beat(ctx context.Context, nc *nats.Conn, subject string, timeout time.Duration) {
	t := time.NewTicker(max(timeout/5, 10*time.Millisecond))
	defer t.Stop()
	_ = nc.Publish(subject, nil)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = nc.Publish(subject, nil)
		}
	}
}

func reply(m *nats.Msg, r controlReply) {
	if r.Now.IsZero() {
		r.Now = time.Now()
	}
	b, _ := json.Marshal(r)
	_ = m.Respond(b)
}

// stepNames names the plan's steps in the order the engine registers
// them (as faya run does for its saved run).
func stepNames(p engine.Plan) []engine.StepInfo {
	var out []engine.StepInfo
	seen := map[string]bool{}
	for _, sc := range p.Scenarios {
		for i, st := range append(append([]engine.Step(nil), sc.Setup...), sc.Steps...) {
			setup := i < len(sc.Setup)
			key := sc.Name + "\x00" + st.Label()
			if setup {
				key = sc.Name + "\x00setup\x00" + st.Label()
			}
			if !seen[key] {
				seen[key] = true
				out = append(out, engine.StepInfo{Scenario: sc.Name, Name: st.Label(), Setup: setup})
			}
		}
	}
	return out
}
