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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default handling: a second
	// Ctrl-C ends the process at once.
	go func() { <-ctx.Done(); stop() }()
	os.Exit(cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
