package cli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/faya-load/faya/internal/runfile"
	"github.com/faya-load/faya/report"
	"github.com/spf13/cobra"
)

func newReportCmd(e *env) *cobra.Command {
	var o outputs
	cmd := &cobra.Command{
		Use:   "report FILE",
		Short: "Print the reports of a run saved with faya run --out (text, and --json, --html)",
		Long: `Read a run saved with faya run --out and print its text report, the same
as the run printed; --json and --html write those reports too.`,
		Example: `  faya report run.faya
  faya report run.faya --html report.html
  faya report run.faya --json - > run.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("report needs exactly one saved run, got %d arguments: faya report FILE", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := distinctFiles(namedFile{"the saved run", args[0]}, namedFile{"--json", o.json}, namedFile{"--html", o.html}); err != nil {
				return err
			}
			r, err := runfile.Read(args[0])
			if err != nil {
				var pe *os.PathError
				if errors.As(err, &pe) {
					return usagef("%s: %v", args[0], pe.Err)
				}
				return usagef("%s: %v", args[0], err)
			}
			out, err := o.open(e, r.Run.Meta, nil)
			if err != nil {
				return err
			}
			if r.Cut != "" {
				n := fmt.Sprintf("%d intervals", r.Intervals)
				if r.Intervals == 1 {
					n = "1 interval"
				}
				fmt.Fprintf(e.stderr, "faya: %s was cut after %s (%v of the run): %s; the reports cover what it holds and are marked PARTIAL\n",
					args[0], n, r.Run.Duration.Round(100*time.Millisecond), r.Cut)
			}
			if errs := out.finish(r.Run, report.Build(r.Run)); len(errs) > 0 {
				return reportFailed(e.stderr, errs)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.json, "json", "", "also write the JSON report to this file ('-': stdout, and the text report goes to stderr)")
	fs.StringVar(&o.html, "html", "", "also write the HTML report to this file")
	return cmd
}
