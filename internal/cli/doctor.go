package cli

import (
	"fmt"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/doctor"
	"github.com/spf13/cobra"
)

func newDoctorCmd(e *env) *cobra.Command {
	var (
		headers  []string
		insecure bool
		asJSON   bool
		o        doctor.Options
	)
	cmd := &cobra.Command{
		Use:   "doctor [flags] URL",
		Short: "Probe URL with a few short runs and recommend a connection pool for it",
		Long: `Probe URL with a bounded sequence of short runs, stated before they start:
does the server keep connections alive (and over which HTTP version), how many
requests it allows per connection, after how long it closes an idle connection,
and up to what concurrency its throughput stays at its best (each step of the
ladder is run several times, and it stops only on errors or a drop beyond the
steps' own spread), and, when the server's idle timeout was seen, which side
closes a busy pool's idle connections in a quiet spell that follows (the
recommended idle timeout is lowered if the server closed them first). Over
HTTP/2 (h2 by ALPN on https, h2c by prior knowledge on http): the protocols the
server takes by ALPN, its SETTINGS, and after how many streams on one
connection it sends GOAWAY (at most --h2-streams streams or --h2-time), then
the recommended HTTP/2 pool run to check it. Then print the findings and a
recommended pool, as faya flags and as a Go http.Transport literal to paste
into a service (one for HTTP/1.1, and one for HTTP/2 when HTTP/2 was
measured). When the
target runs on faya's machine, or faya's CPU was busy, the recommendation is a
lower bound, and the report says so.`,
		Example: `  faya doctor http://127.0.0.1:8080/
  faya doctor --max-concurrency 64 --idle-wait 5s -H 'Authorization: Bearer ...' URL`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("doctor needs exactly one URL argument, got %d: faya doctor [flags] URL", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := engine.ValidateURL(args[0]); err != nil {
				return usagef("%v", err)
			}
			h, errs := parseHeaders(headers)
			if len(errs) > 0 {
				return errs[0]
			}
			if o.MaxConcurrency < 1 || o.MaxConcurrency > 4096 {
				return usagef("--max-concurrency %d: must be from 1 to 4096", o.MaxConcurrency)
			}
			if o.Repeats < 1 || o.Repeats > 20 {
				return usagef("--repeats %d: must be from 1 to 20", o.Repeats)
			}
			if o.H2Streams < 1 || o.H2Streams > 1_000_000 {
				return usagef("--h2-streams %d: must be from 1 to 1000000", o.H2Streams)
			}
			for name, d := range map[string]time.Duration{"--idle-wait": o.IdleWait, "--step-time": o.StepTime, "--timeout": o.Timeout, "--h2-time": o.H2Time} {
				if d <= 0 {
					return usagef("%s %v: must be positive", name, d)
				}
			}
			o.URL, o.Header, o.Insecure = args[0], h, insecure
			plan := e.stdout
			if asJSON {
				plan = e.stderr // stdout is the JSON alone
			}
			fmt.Fprintf(plan, "faya doctor: %s\n\n", o.Plan())
			r, err := doctor.Run(cmd.Context(), o)
			if err != nil {
				return fmt.Errorf("doctor: %w", err)
			}
			if asJSON {
				if err := r.JSON(e.stdout); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(e.stdout)
				if err := r.Text(e.stdout); err != nil {
					return err
				}
			}
			if cmd.Context().Err() != nil {
				return exitError{ExitInterrupted}
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVarP(&headers, "header", "H", nil, "request header 'Name: value' (repeatable)")
	fs.BoolVar(&insecure, "insecure", false, "do not verify the server's TLS certificate")
	fs.IntVar(&o.MaxConcurrency, "max-concurrency", 256, "the top of the saturation probe's doubling ladder")
	fs.DurationVar(&o.IdleWait, "idle-wait", 15*time.Second, "how long to hold an idle connection waiting for the server to close it")
	fs.DurationVar(&o.StepTime, "step-time", 500*time.Millisecond, "length of each run of a saturation step")
	fs.IntVar(&o.Repeats, "repeats", 3, "runs of each saturation step: the ladder stops only on a drop beyond the steps' own spread")
	fs.DurationVar(&o.Timeout, "timeout", 5*time.Second, "per-request timeout")
	fs.Int64Var(&o.H2Streams, "h2-streams", 10_000, "the HTTP/2 GOAWAY probe sends at most this many streams on one connection")
	fs.DurationVar(&o.H2Time, "h2-time", 3*time.Second, "and for at most this long")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON on stdout (the plan goes to stderr)")
	return cmd
}
