package cli

import (
	"errors"
	"os"

	"github.com/faya-load/faya/internal/merge"
	"github.com/faya-load/faya/internal/runfile"
	"github.com/faya-load/faya/report"
	"github.com/faya-load/faya/threshold"
	"github.com/spf13/cobra"
)

func newMergeCmd(e *env) *cobra.Command {
	var o outputs
	cmd := &cobra.Command{
		Use:   "merge FILE... [--json F] [--html F]",
		Short: "Merge the saved runs of a plan's segments (faya run --segment I/N --out) into one report",
		Long: `Merge the runs saved by the segments of one plan (faya run --segment I/N
--out FILE, one file per segment) into the report one process running the
whole plan would have printed: counters add, HDR histograms merge exactly,
the per-second intervals are aligned by wall time, the findings and the
thresholds are computed again on the merged numbers, and a table shows
each segment (agent).

The files must be segments of one plan (the same plan, the same N), each
segment once. A segment that is missing, or a run that was cut short, makes
the report PARTIAL and faya merge exit 1.`,
		Example: `  faya merge seg0.faya seg1.faya seg2.faya
  faya merge seg*.faya --html report.html --json merged.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("merge needs the saved runs to merge: faya merge FILE...")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			files := []namedFile{{"--json", o.json}, {"--html", o.html}}
			for _, a := range args {
				files = append(files, namedFile{"the saved run " + a, a})
			}
			if err := distinctOutputs(files); err != nil {
				return err
			}
			var parts []merge.Part
			for _, path := range args {
				r, err := runfile.Read(path)
				if err != nil {
					var pe *os.PathError
					if errors.As(err, &pe) {
						return usagef("%s: %v", path, pe.Err)
					}
					return usagef("%s: %v", path, err)
				}
				ivs, err := runfile.Intervals(path)
				if err != nil {
					return usagef("%s: %v", path, err)
				}
				parts = append(parts, merge.Part{Run: r, Intervals: ivs})
			}
			run, err := merge.Runs(parts, merge.Options{Names: args})
			if err != nil {
				return usageError{err}
			}
			run.Meta.Version = Version
			out, err := o.open(e, run.Meta, run.Steps)
			if err != nil {
				return err
			}
			if errs := out.finish(run, report.Build(run)); len(errs) > 0 {
				return reportFailed(e.stderr, errs)
			}
			switch {
			case run.Interrupted:
				return exitError{ExitFailed}
			case threshold.Failed(run.Thresholds):
				return exitError{ExitThresholds}
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.json, "json", "", "also write the merged JSON report to this file ('-': stdout, and the text report goes to stderr)")
	fs.StringVar(&o.html, "html", "", "also write the merged HTML report to this file")
	return cmd
}

// distinctOutputs refuses outputs that name one of the inputs or each
// other.
func distinctOutputs(files []namedFile) error {
	return distinctFiles(files...)
}
