package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newValidateCmd(e *env) *cobra.Command {
	var baseURL string
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a scenario file: every problem at once, with file:line, without sending anything",
		Long: `Check a scenario file as faya run -f would, without sending any request:
its keys, values, durations, templates and the variables they use, data files,
executors and thresholds. Every problem is printed with its file:line and a
hint; the exit code is 2 if there is any, 0 if the file is good.`,
		Example: `  faya validate shop.yaml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("validate needs exactly one scenario file, got %d arguments: faya validate FILE", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := loadFile(args[0], baseURL, nil)
			if err != nil {
				return err
			}
			steps := 0
			for _, sc := range f.Plan.Scenarios {
				steps += len(sc.Setup) + len(sc.Steps)
			}
			fmt.Fprintf(e.stdout, "%s: ok (%s, %s, %s, %s)\n", f.Path,
				count(len(f.Plan.Scenarios), "scenario"), count(steps, "step"),
				count(len(f.Plan.Data), "data source"), count(len(f.Thresholds), "threshold"))
			return nil
		},
	}
	cmd.Flags().StringVar(&baseURL, "base-url", "", "replace the file's base_url, as faya run -f FILE --base-url does")
	return cmd
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
