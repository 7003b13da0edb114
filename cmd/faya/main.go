// Command faya is an HTTP load generator that shows what the connection
// pool does. See the README or run faya --help.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/faya-load/faya/internal/cli"
)

func main() {
	// A closed stdout or stderr (faya run ... | head) must not kill the
	// run: writes to it fail with EPIPE instead, the reports that can be
	// written are, and faya exits 1 naming the one that could not.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default handling: a second
	// Ctrl-C ends the process at once.
	go func() { <-ctx.Done(); stop() }()
	os.Exit(cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
