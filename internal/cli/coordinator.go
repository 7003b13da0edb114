package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/faya-load/faya/cluster"
	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/exporter"
	"github.com/faya-load/faya/internal/merge"
	"github.com/faya-load/faya/internal/progress"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/report"
	"github.com/faya-load/faya/threshold"
	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// natsOpts say how to reach a NATS server.
type natsOpts struct {
	url   string
	creds string
	tlsCA string
}

func (n *natsOpts) bind(fs *pflag.FlagSet, what string) {
	fs.StringVar(&n.url, "nats", "", what)
	fs.StringVar(&n.creds, "creds", "", "NATS credentials file (a user JWT and its seed, as nsc writes them)")
	fs.StringVar(&n.tlsCA, "tls-ca", "", "PEM file of the CA the NATS server's TLS certificate must chain to")
}

// connect connects to the server at url (n.url when empty).
func (n *natsOpts) connect(name, url string) (*nats.Conn, error) {
	if url == "" {
		url = n.url
	}
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond), nats.Timeout(5 * time.Second)}
	if n.creds != "" {
		if _, err := os.Stat(n.creds); err != nil {
			return nil, usagef("--creds: %v", err)
		}
		opts = append(opts, nats.UserCredentials(n.creds))
	}
	if n.tlsCA != "" {
		if _, err := os.Stat(n.tlsCA); err != nil {
			return nil, usagef("--tls-ca: %v", err)
		}
		opts = append(opts, nats.RootCAs(n.tlsCA))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", url, err)
	}
	return nc, nil
}

// defaultNATSListen is where a coordinator without --nats serves NATS.
const defaultNATSListen = "127.0.0.1:4222"

func (d *distOpts) bindCoordinator(fs *pflag.FlagSet) {
	fs.IntVar(&d.agents, "agents", 0, "coordinate a run on N agents (faya agent), one segment each: one live view, one report")
	d.nats.bind(fs, "with --agents: the NATS server (nats://HOST:4222) the agents use; without it the coordinator embeds one on --nats-listen")
	fs.StringVar(&d.natsListen, "nats-listen", defaultNATSListen, "with --agents and no --nats: where the embedded NATS server listens (loopback unless a wider address is given, e.g. 0.0.0.0:4222)")
	fs.DurationVar(&d.joinTimeout, "join-timeout", 60*time.Second, "with --agents: how long to wait for the agents to join")
	fs.DurationVar(&d.agentTimeout, "agent-timeout", 5*time.Second, "with --agents: an agent silent this long is LOST (the run stops, the report is PARTIAL, exit 1); agents stop when the coordinator is silent this long")
	fs.DurationVar(&d.maxSkew, "max-clock-skew", time.Second, "with --agents: refuse to start when an agent's clock is further than this from the coordinator's")
	fs.IntVar(&d.tolerateLost, "tolerate-lost", 0, "with --agents: go on when up to this many agents are lost (the report says how much of the plan did not run)")
}

// checkCoordinator refuses coordinator flags that do not go together.
func (d *distOpts) checkCoordinator(fs *pflag.FlagSet) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, usagef(format, a...)) }
	if d.agents < 1 {
		bad("--agents %d: want at least 1 agent", d.agents)
	}
	if d.agents > engine.MaxSegments {
		bad("--agents %d: at most %d", d.agents, engine.MaxSegments)
	}
	for _, f := range []string{"segment", "start-at", "agent-name"} {
		if fs.Changed(f) {
			bad("--%s with --agents: the coordinator gives each agent its segment and the start; drop --%s", f, f)
		}
	}
	if d.nats.url != "" && fs.Changed("nats-listen") {
		bad("--nats-listen is for the embedded NATS server; with --nats %s the agents use that server: drop one", d.nats.url)
	}
	if _, _, err := net.SplitHostPort(d.natsListen); err != nil {
		bad("--nats-listen %q: want HOST:PORT, e.g. 127.0.0.1:4222", d.natsListen)
	}
	if d.agentTimeout <= 0 || d.joinTimeout <= 0 || d.maxSkew <= 0 {
		bad("--agent-timeout, --join-timeout and --max-clock-skew must be positive")
	}
	if d.tolerateLost < 0 || (d.agents > 0 && d.tolerateLost >= d.agents) {
		bad("--tolerate-lost %d: want 0 to %d (fewer than --agents)", d.tolerateLost, max(d.agents-1, 0))
	}
	if !fs.Changed("nats") && !fs.Changed("nats-listen") && fs.Changed("creds") {
		bad("--creds is for a NATS server given with --nats")
	}
	return errors.Join(errs...)
}

// coordinate runs the plan on --agents agents and prints one report.
func (o *runOpts) coordinate(cmd *cobra.Command, e *env, plan engine.Plan, meta report.Meta, ths []threshold.Threshold, pt part) error {
	ctx := cmd.Context()
	d := &o.dist
	if err := d.checkCoordinator(cmd.Flags()); err != nil {
		return err
	}
	if err := checkPart(plan, part{seg: engine.Segment{Index: 0, Count: d.agents}}); err != nil {
		return usagef("--agents %d: %v", d.agents, errors.Unwrap(err))
	}
	url := d.nats.url
	if url == "" {
		srv, err := cluster.StartServer(d.natsListen)
		if err != nil {
			return usagef("--nats-listen %s: %v", d.natsListen, err)
		}
		defer srv.Shutdown()
		url = srv.URL()
		fmt.Fprintf(e.stderr, "faya: NATS (embedded) on %s; start the agents with: faya agent --nats %s\n", url, url)
	}
	nc, err := d.nats.connect("faya coordinator", url)
	if err != nil {
		return err
	}
	defer nc.Close()

	o.outputs.part = part{origin: originOf(plan, part{}, "")}
	out, err := o.outputs.open(e, meta, stepNames(plan))
	if err != nil {
		return err
	}
	var view *progress.View
	if !o.outputs.quiet {
		po := progress.Options{Terminal: isTerminal(e.stderr), Config: meta.DiagnoseConfig()}
		for _, sc := range plan.Scenarios {
			po.Length = max(po.Length, sc.Executor.Length())
		}
		view = progress.New(e.stderr, po)
	}
	var exp *exporter.Exporter
	if o.outputs.metrics != "" {
		addr, err := metricsAddr(o.outputs.metrics)
		if err != nil {
			out.close()
			return err
		}
		exp = exporter.New()
		mctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		bound, stopped, err := exp.Serve(mctx, addr)
		if err != nil {
			stop()
			out.close()
			return usagef("--metrics-addr %s: %v", o.outputs.metrics, err)
		}
		defer func() { stop(); <-stopped }()
		fmt.Fprintf(e.stderr, "faya: Prometheus metrics on http://%s/metrics\n", bound)
	}
	c := &cluster.Coordinator{
		Conn: nc, Plan: plan, Meta: meta, Agents: d.agents,
		JoinTimeout: d.joinTimeout, AgentTimeout: d.agentTimeout, MaxClockSkew: d.maxSkew, TolerateLost: d.tolerateLost,
		OnInterval: func(iv *metrics.Snapshot, p metrics.Point, total *metrics.Snapshot) {
			if exp != nil {
				exp.Update(total, p)
			}
			if view != nil {
				view.Update(p, total)
			}
			if out.saved != nil {
				out.saved.Interval(p, true, iv)
			}
		},
		Say: func(format string, a ...any) { fmt.Fprintf(e.stderr, "faya: "+format+"\n", a...) },
	}
	fmt.Fprintf(e.stderr, "faya: waiting for %d agents (--join-timeout %v)\n", d.agents, d.joinTimeout)
	res, err := c.Run(ctx)
	if view != nil {
		view.Close()
	}
	if err != nil {
		out.close()
		return err
	}
	return finishCoordinated(e, out, res, meta, ths)
}

// finishCoordinated merges the agents' parts into the run's report,
// writes it, and maps the outcome to the exit code.
func finishCoordinated(e *env, out *sinks, res *cluster.Outcome, meta report.Meta, ths []threshold.Threshold) error {
	if len(res.Parts) == 0 {
		out.close()
		return exitError{ExitInterrupted}
	}
	run, err := merge.Runs(res.Parts, merge.Options{})
	if err != nil {
		out.close()
		return err
	}
	run.Meta = meta
	if len(ths) > 0 {
		names := make([]string, len(run.Steps))
		for i, s := range run.Steps {
			names[i] = s.Name
		}
		run.Thresholds = threshold.Evaluate(ths, threshold.Input{Total: run.Total, StepNames: names, Scheduling: run.Scheduling})
	}
	if errs := out.finish(run, report.Build(run)); len(errs) > 0 {
		return reportFailed(e.stderr, errs)
	}
	switch {
	case res.Lost > 0:
		return exitError{ExitFailed}
	case res.Interrupted:
		return exitError{ExitInterrupted}
	case run.Interrupted:
		return exitError{ExitFailed}
	case threshold.Failed(run.Thresholds):
		return exitError{ExitThresholds}
	}
	return nil
}
