// Command library is faya used as a library: it serves the built-in
// target on 127.0.0.1:8080, sends it 10,000 requests from 50 VUs and
// prints the report.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/report"
	"github.com/faya-load/faya/target"
)

func main() {
	if err := run(context.Background(), "127.0.0.1:8080", os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "library:", err)
		os.Exit(1)
	}
}

// run serves the built-in target on addr, runs the plan against it and
// writes the report to out.
func run(ctx context.Context, addr string, out io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: target.New()}
	go srv.Serve(ln)
	defer srv.Close()

	e, err := engine.New(engine.Plan{Scenarios: []engine.Scenario{{
		Name:     "home",
		Executor: engine.Executor{Type: engine.VUs, VUs: 50, Iterations: 10_000},
		Steps:    []engine.Step{{URL: "http://" + ln.Addr().String() + "/"}},
	}}})
	if err != nil {
		return err
	}
	res, err := e.Run(ctx)
	if err != nil {
		return err
	}
	res.CPU = 0 // the target ran in this process: the CPU was not all the generator's
	rep := report.Build(report.Run{Meta: report.Describe(e), Result: *res})
	return report.Text(out, rep)
}
