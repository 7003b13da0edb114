package cli

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/faya-load/faya/target"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newDemoCmd(e *env) *cobra.Command {
	var (
		concurrency int
		duration    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run load against the built-in target, in-process, and print the full report",
		Long: `Start the built-in target on a free loopback port inside this process, send
load to it for a few seconds, and print the report, followed by what the
target itself counted (so you can check faya's connection count against the
server's).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if concurrency < 1 {
				return usagef("-c/--concurrency %d: must be at least 1", concurrency)
			}
			if duration <= 0 {
				return usagef("-d/--duration %v: must be positive", duration)
			}
			return demo(cmd.Context(), e, concurrency, duration)
		},
	}
	cmd.Flags().IntVarP(&concurrency, "concurrency", "c", 50, "number of VUs")
	cmd.Flags().DurationVarP(&duration, "duration", "d", 3*time.Second, "how long to send load")
	return cmd
}

func demo(ctx context.Context, e *env, concurrency int, duration time.Duration) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: start the built-in target: %w", err)
	}
	tg := target.New()
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- tg.Serve(sctx, l) }()
	defer func() {
		stop()
		<-served
	}()

	url := "http://" + l.Addr().String() + "/"
	fmt.Fprintf(e.stdout, "faya demo: the built-in target listens on %s; %d VUs for %v\n\n", url, concurrency, duration)
	o := &runOpts{}
	fs := pflag.NewFlagSet("demo", pflag.ContinueOnError)
	o.bind(fs) // the defaults of faya run
	o.concurrency, o.duration = concurrency, duration
	plan, meta, err := o.plan(fs, url)
	if err != nil {
		return err
	}
	runErr := execute(ctx, e, plan, meta, nil, outputs{inProcess: true})
	st := tg.Stats()
	fmt.Fprintf(e.stdout, "The target counted %d connections and %d requests (compare: connections dialed, requests total).\n",
		st.ConnsNew, st.Requests)
	return runErr
}
