package cli

import (
	"fmt"
	"net"
	"net/http"

	"github.com/faya-load/faya/target"
	"github.com/spf13/cobra"
)

func newTargetCmd(e *env) *cobra.Command {
	var addr, adminAddr string
	cmd := &cobra.Command{
		Use:   "target",
		Short: "Serve the built-in target (for demos, tests and benchmarks)",
		Long: `Serve the built-in target until interrupted.

Endpoints:
  GET /            a small fixed body
  GET /bytes?n=N   N bytes (default 1024, at most 64 MiB)
  GET /slow?ms=N   the fixed body after N milliseconds (default 100, at most 60000)
  GET /status?code=N  status N (200-599)
  GET /close       the fixed body with "Connection: close"
  POST /login      form or JSON user and password: sets the faya_session cookie ("wrong" is refused)
  GET /me          the session's user (401 without a session)
  GET /items       20 items, JSON (401 without a session)
  GET /items/{id}  one item, JSON (401 without a session)
  GET /stats       JSON counters: conns_new, conns_closed, conns_active, conns_max, requests,
                   logins, unauthorized, sessions (requests per user), peers (requests per client IP)
  GET /reset       zero the counters`,
		Example: `  faya target --addr 127.0.0.1:8080`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return usagef("--addr %q: %v", addr, err)
			}
			tg := target.New()
			if adminAddr != "" {
				al, err := net.Listen("tcp", adminAddr)
				if err != nil {
					_ = l.Close()
					return usagef("--admin-addr %q: %v", adminAddr, err)
				}
				fmt.Fprintf(e.stderr, "faya target: /stats and /reset also on http://%s/ (not counted)\n", al.Addr())
				go func() { _ = http.Serve(al, tg.Admin()) }()
				defer al.Close()
			}
			fmt.Fprintf(e.stderr, "faya target: listening on http://%s/ (Ctrl-C to stop)\n", l.Addr())
			return tg.Serve(cmd.Context(), l)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().StringVar(&adminAddr, "admin-addr", "", "also serve /stats and /reset here, on connections that are not counted (for benchmarks)")
	return cmd
}
