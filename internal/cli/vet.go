package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/faya-load/faya/vet"
	"github.com/spf13/cobra"
)

func newVetCmd(e *env) *cobra.Command {
	var (
		asJSON  bool
		fix     bool
		checks  []string
		noTests bool
	)
	cmd := &cobra.Command{
		Use:   "vet [PACKAGES]",
		Short: "Find the net/http client mistakes that cost connections, in Go code (static checks)",
		Long: `Check Go packages (as go vet names them: ./..., an import path, a directory)
for the net/http client mistakes that make a program dial a connection per
request, drop its connections, panic on the first network error or wait
forever:

  transport-per-call      an http.Transport built per request and not kept
  body-not-drained        a response body closed without being read
  resp-before-err         a response used before the error is checked
  idle-pool-small         a Transport's idle pool smaller than its goroutines need
  default-client-timeout  http.DefaultClient in a loop or a handler: no timeout

A "// faya:ignore CHECK" comment exempts its line and the next. -fix applies
the mechanical fixes. The exit code is 0 when nothing was found, 1 when
something was, 2 when the packages cannot be loaded or do not compile.
The same checks run under go vet: go vet -vettool=$(which faya-vet) ./...
See docs/vet.md.`,
		Example: `  faya vet ./...
  faya vet -json ./... > findings.json
  faya vet --checks body-not-drained,resp-before-err -fix ./internal/...`,
		// go vet's users write -json and -fix: the flags are parsed here,
		// with a single dash taken as two.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			for i, a := range args {
				if a == "--" {
					break
				}
				if len(a) > 2 && a[0] == '-' && a[1] != '-' {
					args[i] = "-" + a
				}
			}
			if err := cmd.Flags().Parse(args); err != nil {
				return usageError{err}
			}
			if help, _ := cmd.Flags().GetBool("help"); help {
				return cmd.Help()
			}
			args = cmd.Flags().Args()
			if _, err := vet.ByName(checks); err != nil {
				return usagef("--checks: %v", err)
			}
			res, err := vet.Check(args, vet.Options{Checks: checks, Fix: fix, NoTests: noTests})
			var le *vet.LoadError
			if errors.As(err, &le) {
				return usagef("vet: the packages cannot be checked until they load and compile:\n%s", strings.Join(le.Problems, "\n"))
			}
			if err != nil {
				return fmt.Errorf("vet: %w", err)
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				if res.Diagnostics == nil {
					res.Diagnostics = []vet.Diagnostic{}
				}
				if err := enc.Encode(res); err != nil {
					return err
				}
			} else {
				for _, d := range res.Diagnostics {
					line := d.String()
					if d.Fixed {
						line += " (fixed)"
					}
					fmt.Fprintln(e.stdout, line)
				}
				for _, f := range res.Fixed {
					fmt.Fprintf(e.stderr, "faya vet: rewrote %s\n", f)
				}
			}
			unfixed := 0
			for _, d := range res.Diagnostics {
				if !d.Fixed {
					unfixed++
				}
			}
			if unfixed > 0 {
				return exitError{ExitFailed}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the findings as JSON ({\"diagnostics\": [{check, file, line, column, message, fix}]})")
	cmd.Flags().BoolVar(&fix, "fix", false, "apply the suggested fixes (where a mechanical fix exists) to the files")
	cmd.Flags().StringSliceVar(&checks, "checks", nil, "run only these checks (comma-separated names; default: all)")
	cmd.Flags().BoolP("help", "h", false, "help for vet")
	cmd.Flags().BoolVar(&noTests, "no-tests", false, "leave out the packages' _test.go files (included by default, as go vet does)")
	return cmd
}
