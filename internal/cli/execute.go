package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/exporter"
	"github.com/faya-load/faya/internal/progress"
	"github.com/faya-load/faya/internal/runfile"
	"github.com/faya-load/faya/report"
	"github.com/faya-load/faya/threshold"
	"github.com/faya-load/faya/transport"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// outputs are where a run's results go besides the text report.
type outputs struct {
	json    string        // --json: a file, or "-" for stdout
	html    string        // --html
	out     string        // --out: the saved run
	quiet   bool          // --quiet: no live view
	metrics string        // --metrics-addr
	linger  time.Duration // --metrics-linger
	// inProcess says the target runs in faya's process (the demo): the
	// process's CPU is not the generator's alone, so it is not reported.
	inProcess bool
	// part is the segment run and its start (segment.go).
	part part
}

func (o *outputs) bind(fs *pflag.FlagSet) {
	fs.StringVar(&o.json, "json", "", "also write the report as JSON to this file ('-': stdout, and the text report goes to stderr)")
	fs.StringVar(&o.html, "html", "", "also write a self-contained HTML report (charts, no network needed) to this file")
	fs.StringVar(&o.out, "out", "", "save the whole run (every second's snapshot, the findings) to this file, for faya report")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no live view on stderr (the report is still printed)")
	fs.StringVar(&o.metrics, "metrics-addr", "", "serve Prometheus metrics (faya_*) at http://ADDR/metrics during the run; HOST:PORT, loopback when the host is left out (:9464)")
	fs.DurationVar(&o.linger, "metrics-linger", 0, "with --metrics-addr: keep serving the final metrics this long after the report (e.g. 30s, two scrape intervals), or until Ctrl-C")
}

// metricsAddr is the address to serve metrics on: loopback unless the
// address names a host.
func metricsAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", usagef("--metrics-addr %q: want HOST:PORT or :PORT, e.g. 127.0.0.1:9464", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// sinks are the opened outputs of a run.
type sinks struct {
	text, json     io.Writer
	textTo, jsonTo string // where they go, for messages
	files          []*reportFile
	jsonFile       *reportFile
	html           *reportFile
	saved          *runfile.Writer
	savedTo        string
}

// open creates the output files before any traffic, after every flag was
// checked, so that a path that cannot be written is a usage error (exit 2)
// and no usage error leaves a file changed. The reports are written to
// temporary files renamed into place by finish; --out is written in
// place, an interval at a time, so that a run killed midway reads back.
func (o *outputs) open(e *env, meta report.Meta, steps []engine.StepInfo) (*sinks, error) {
	s := &sinks{text: e.stdout, textTo: "stdout"}
	create := func(flag, path string) (*reportFile, error) {
		f, err := createReport(path)
		if err != nil {
			s.close()
			return nil, usagef("%s: %v", flag, err)
		}
		s.files = append(s.files, f)
		return f, nil
	}
	switch o.json {
	case "":
	case "-":
		s.json, s.jsonTo = e.stdout, "stdout"
		s.text, s.textTo = e.stderr, "stderr"
	default:
		f, err := create("--json", o.json)
		if err != nil {
			return nil, err
		}
		s.json, s.jsonTo, s.jsonFile = f, o.json, f
	}
	if o.html != "" {
		f, err := create("--html", o.html)
		if err != nil {
			return nil, err
		}
		s.html = f
	}
	if o.out != "" {
		w, err := runfile.CreateFrom(o.out, meta, steps, o.part.origin)
		if err != nil {
			s.close()
			return nil, usagef("--out: %v", err)
		}
		s.saved, s.savedTo = w, o.out
	}
	return s, nil
}

// close gives up the outputs (a run that did not start): the reports'
// temporary files are removed, the run file is closed without an end.
func (s *sinks) close() {
	for _, f := range s.files {
		f.abort()
	}
	if s.saved != nil {
		s.saved.Abort()
	}
}

// finish writes every report of a run and closes the files. A report that
// cannot be written (a closed pipe, a full disk) does not stop the others:
// each failure is returned, one per report, naming it.
func (s *sinks) finish(run report.Run, rep *report.Report) []error {
	var errs []error
	fail := func(what, to string, err error) {
		errs = append(errs, fmt.Errorf("write the %s to %s: %w", what, to, err))
	}
	if err := report.Text(s.text, rep); err != nil {
		fail("text report", s.textTo, err)
	}
	if s.json != nil {
		var err error
		if s.jsonFile != nil {
			err = s.jsonFile.write(func(w io.Writer) error { return report.JSON(w, rep) })
		} else {
			err = report.JSON(s.json, rep)
		}
		if err != nil {
			fail("JSON report", s.jsonTo, err)
		}
	}
	if s.html != nil {
		if err := s.html.write(func(w io.Writer) error { return report.HTML(w, rep) }); err != nil {
			fail("HTML report", s.html.path, err)
		}
	}
	if s.saved != nil {
		if err := s.saved.Close(run, rep.Findings); err != nil {
			errs = append(errs, fmt.Errorf("save the run to %s: %w", s.savedTo, err))
		}
	}
	return errs
}

// reportFailed prints each output that could not be written and returns
// the exit code for it.
func reportFailed(stderr io.Writer, errs []error) error {
	for _, err := range errs {
		fmt.Fprintf(stderr, "faya: %v\n", err)
	}
	return exitError{ExitFailed}
}

// stepNames names the plan's steps in the order the engine registers them
// for its per-step stats: each scenario's setup steps, then its steps, a
// name once.
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

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// execute runs plan and writes the reports. It returns an exitError for
// an interrupted run, a failed threshold or a report that could not be
// written.
func execute(ctx context.Context, e *env, plan engine.Plan, meta report.Meta, ths []threshold.Threshold, o outputs) error {
	// Every input is checked before any output is opened: a usage error
	// leaves the files as they were.
	if o.linger < 0 {
		return usagef("--metrics-linger %v: want a duration of 0 or more, e.g. 30s", o.linger)
	}
	if o.linger > 0 && o.metrics == "" {
		return usagef("--metrics-linger needs --metrics-addr: there is nothing to serve without it")
	}
	var addr string
	if o.metrics != "" {
		var err error
		if addr, err = metricsAddr(o.metrics); err != nil {
			return err
		}
	}
	var (
		view *progress.View
		exp  *exporter.Exporter
		out  *sinks
	)
	savedFailed := false
	onInterval := func(iv engine.Interval) {
		if exp != nil {
			exp.Update(iv.Total, iv.Point)
		}
		if out.saved != nil {
			out.saved.Interval(iv.Point, iv.HasPoint, iv.Snapshot)
			if err := out.saved.Err(); err != nil && !savedFailed {
				// Said now, not only at the end: the run goes on.
				savedFailed = true
				msg := fmt.Sprintf("cannot save the run to %s: %v; the run goes on", out.savedTo, err)
				if view != nil {
					view.Note(msg)
				} else {
					fmt.Fprintf(e.stderr, "faya: %s\n", msg)
				}
			}
		}
		if view != nil && iv.HasPoint {
			if !o.inProcess {
				view.Generator(iv.Busy, iv.CPUs)
			}
			view.Update(iv.Point, iv.Total)
		}
	}
	// The targets' addresses by the run's rules (--resolve, --ip-family,
	// --local-addr's families), from a lookup of the watch's own: the
	// run's first connections still measure theirs.
	watch := watchSockets(ctx, socketTargets(plan), plan.Transport, transport.NewResolver(plan.Transport, nil))
	opts := append([]engine.Option{engine.WithTimeWait(watch.count), engine.WithEnv(os.LookupEnv), engine.WithIntervals(onInterval)}, o.part.options()...)
	eng, err := engine.New(plan, opts...)
	if err != nil {
		return usageError{err}
	}
	if addr != "" {
		var stop func()
		if exp, stop, err = serveMetrics(ctx, e, addr, o); err != nil {
			return err
		}
		defer stop()
	}
	if out, err = o.open(e, meta, stepNames(eng.Plan())); err != nil {
		return err
	}
	checkFileLimit(e.stderr, plan.VUs())
	watch.preflight(e.stderr, plan)

	if !o.quiet {
		view = liveView(e, plan, meta, watch)
	}
	res, err := eng.Run(ctx)
	if view != nil {
		view.Close()
	}
	if err != nil && res == nil {
		out.close()
		return err
	}
	return finishRun(e, out, res, err, meta, ths, watch.result(), o.inProcess)
}

// finishRun writes the run's report (err is the engine's, with a result)
// and maps the outcome to the exit code.
func finishRun(e *env, out *sinks, res *engine.Result, err error, meta report.Meta, ths []threshold.Threshold, sockets diagnose.Sockets, inProcess bool) error {
	names := make([]string, len(res.Steps))
	for i, s := range res.Steps {
		names[i] = s.Name
	}
	var results []threshold.Result
	if len(ths) > 0 {
		results = threshold.Evaluate(ths, threshold.Input{Total: res.Total, StepNames: names, Scheduling: res.Scheduling})
	}
	if inProcess {
		res.CPU, res.RunDelay = 0, 0
	}
	run := report.Run{Meta: meta, Result: *res, Sockets: sockets, Thresholds: results}
	if errs := out.finish(run, report.Build(run)); len(errs) > 0 {
		return reportFailed(e.stderr, errs)
	}
	if err != nil {
		return err
	}
	if res.Interrupted {
		return exitError{ExitInterrupted}
	}
	if threshold.Failed(results) {
		return exitError{ExitThresholds}
	}
	return nil
}

// serveMetrics serves the engine's metrics on addr (--metrics-addr) from
// before the run. stop, deferred, lingers (--metrics-linger) once the
// report is out, then stops the server.
func serveMetrics(ctx context.Context, e *env, addr string, o outputs) (exp *exporter.Exporter, stop func(), err error) {
	exp = exporter.New()
	mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	bound, stopped, err := exp.Serve(mctx, addr)
	if err != nil {
		cancel()
		return nil, nil, usagef("--metrics-addr %s: %v", o.metrics, err)
	}
	fmt.Fprintf(e.stderr, "faya: Prometheus metrics on http://%s/metrics\n", bound)
	stop = func() {
		if o.linger > 0 && ctx.Err() == nil {
			// The report is out; let the scrapers take the final
			// figures.
			fmt.Fprintf(e.stderr, "faya: serving the final metrics on http://%s/metrics for %v (Ctrl-C ends it)\n", bound, o.linger)
			t := time.NewTimer(o.linger)
			select {
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
		cancel()
		<-stopped
	}
	return exp, stop, nil
}

// liveView starts the live view on stderr: a terminal's frames, or
// plain lines.
func liveView(e *env, plan engine.Plan, meta report.Meta, watch *socketWatch) *progress.View {
	po := progress.Options{Terminal: isTerminal(e.stderr), Config: meta.DiagnoseConfig()}
	for _, sc := range plan.Scenarios {
		po.Length = max(po.Length, sc.Executor.Length())
	}
	if len(plan.Scenarios) == 1 && po.Length == 0 {
		po.Requests = plan.Scenarios[0].Executor.Iterations
	}
	if lo, hi := watch.ports(); hi > 0 {
		po.PortLo, po.PortHi = lo, hi
	}
	if po.Terminal {
		fd := int(e.stderr.(*os.File).Fd())
		po.Size = func() (int, int) {
			w, h, err := term.GetSize(fd)
			if err != nil {
				return 0, 0
			}
			return w, h
		}
	}
	return progress.New(e.stderr, po)
}
