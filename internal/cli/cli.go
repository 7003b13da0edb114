package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	ExitOK          = 0   // the run completed
	ExitFailed      = 1   // the run could not proceed
	ExitUsage       = 2   // bad input, found before any traffic
	ExitThresholds  = 99  // the run completed, and a threshold failed
	ExitInterrupted = 130 // stopped by the first Ctrl-C; the report is partial
)

// Version is faya's version, overridden by the module version when built
// with go install module@version.
var Version = "0.1.0-dev"

func init() {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		Version = strings.TrimPrefix(bi.Main.Version, "v")
	}
}

// usageError is bad input: exit code 2, with the message naming the input
// and the fix.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// exitError carries an exit code chosen by a command.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// env is what a command may touch of the outside world.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// Main runs the faya command line with args (without the program name) and
// returns the process exit code. Canceling ctx is the first Ctrl-C: a run
// stops sending, lets requests in flight finish and prints a partial
// report.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRoot(e)
	// faya vet takes go vet's single-dash flags (-json, -fix) as go vet's
	// users write them.
	if cmd, rest, err := root.Find(args); err == nil && cmd != root && cmd.Name() != "vet" {
		if err := singleDash(cmd, rest); err != nil {
			return usage(stderr, err)
		}
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return usage(stderr, err)
	}
	fmt.Fprintf(stderr, "faya: %v\n", err)
	return ExitFailed
}

// usage prints a usage error, a line at a time, and returns ExitUsage.
func usage(stderr io.Writer, err error) int {
	for line := range strings.SplitSeq(err.Error(), "\n") {
		if line != "" {
			fmt.Fprintf(stderr, "faya: %s\n", line)
		}
	}
	fmt.Fprintf(stderr, "Run 'faya --help' or 'faya COMMAND --help' for usage.\n")
	return ExitUsage
}

// isCobraUsage recognises the argument errors cobra makes itself.
func isCobraUsage(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command") ||
		strings.HasPrefix(msg, "accepts ") ||
		strings.HasPrefix(msg, "requires ") ||
		strings.Contains(msg, "unknown flag") ||
		strings.Contains(msg, "unknown shorthand flag")
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "faya",
		Short: "faya: an HTTP load generator that shows what the connection pool does",
		Long: `faya is an HTTP load generator and Go library. It sends as much load as
one machine can over one correctly tuned connection pool, measures every phase
of every request, and reports what the pool did: connections dialed, reused,
and why a connection was not reused.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(newRunCmd(e), newValidateCmd(e), newReportCmd(e), newDoctorCmd(e), newDemoCmd(e), newTargetCmd(e))
	root.AddCommand(newVetCmd(e))
	root.AddCommand(newMergeCmd(e), newAgentCmd(e), newK8sCmd(e))
	root.CompletionOptions.DisableDefaultCmd = true
	return root
}
