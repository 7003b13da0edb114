package cli

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"

	"github.com/faya-load/faya/cluster"
	"github.com/faya-load/faya/engine"
	"github.com/spf13/cobra"
)

func newAgentCmd(e *env) *cobra.Command {
	var (
		n     natsOpts
		name  string
		allow string
		once  bool
		out   string
	)
	cmd := &cobra.Command{
		Use:   "agent --nats nats://HOST:4222 [--name NAME] [--allow-targets CIDR,...]",
		Short: "Wait for a coordinator's work (faya run --agents N) and run its segment of the plan",
		Long: `Connect to a NATS server and wait for a coordinator (faya run --agents N):
it gives this agent a segment of its plan and a start time, and this agent
runs that segment, streaming each second's numbers to the coordinator.

An agent runs nothing but a faya plan. With --allow-targets it refuses a plan
whose targets (and proxies) are outside the given networks, so that a shared
NATS is not a way to aim load anywhere. An agent that hears nothing from its
coordinator for the coordinator's --agent-timeout stops its part of the run.`,
		Example: `  faya agent --nats nats://127.0.0.1:4222
  faya agent --nats nats://nats.internal:4222 --name gen-1 --allow-targets 10.20.0.0/16
  faya agent --nats tls://nats.internal:4222 --creds agent.creds --tls-ca ca.pem --once`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n.url == "" {
				return usagef("agent needs --nats nats://HOST:PORT: the NATS server of the coordinator (faya run --agents N prints it)")
			}
			var prefixes []netip.Prefix
			if cmd.Flags().Changed("allow-targets") {
				p, err := cluster.ParseAllow(allow)
				if err != nil {
					return usagef("--allow-targets: %v", err)
				}
				prefixes = p
			}
			if name == "" {
				host, _ := os.Hostname()
				name = fmt.Sprintf("%s-%d", host, os.Getpid())
			}
			nc, err := n.connect("faya agent "+name, "")
			if err != nil {
				return err
			}
			defer nc.Close()
			log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			a := &cluster.Agent{Conn: nc, Name: name, Allow: prefixes, Once: once, Out: out, Version: Version,
				Options: []engine.Option{engine.WithEnv(os.LookupEnv)}, Log: log}
			fmt.Fprintf(e.stderr, "faya: agent %s waiting for work on %s\n", name, n.url)
			if err := a.Serve(cmd.Context()); err != nil {
				return err
			}
			return nil
		},
	}
	fs := cmd.Flags()
	n.bind(fs, "the NATS server to wait on (nats://HOST:4222; tls://... with TLS)")
	fs.StringVar(&name, "name", "", "the agent's name in the report (default: host-pid)")
	fs.StringVar(&allow, "allow-targets", "", "refuse plans whose targets or proxies are outside these networks: CIDR,... (e.g. 10.20.0.0/16,127.0.0.1)")
	fs.BoolVar(&once, "once", false, "exit after one run (Kubernetes Jobs): exit code 0 when the run ended, 1 when it was refused or lost its coordinator")
	fs.StringVar(&out, "out", "", "also save this agent's segment of each run to this file (faya report, faya merge)")
	return cmd
}
