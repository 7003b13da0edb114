package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/faya-load/faya/cluster/k8s"
	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/scenario"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
)

// newK8sCmd is faya k8s: its help text, flags and the manifests' apply
// (long for the flags' number).
func newK8sCmd(e *env) *cobra.Command {
	var (
		c        k8s.Config
		file     string
		allow    string
		apply    bool
		deadline time.Duration
	)
	cmd := &cobra.Command{
		Use:   "k8s --agents N -f plan.yaml [--image IMG] [--nats URL] [--apply] [-- faya run flags]",
		Short: "Print (or --apply) the Kubernetes objects of a distributed run: a ConfigMap with the plan, an Indexed Job of agents, a coordinator Job, NATS",
		Long: `Print the Kubernetes objects that run the scenario file on N agent pods as
one run: a ConfigMap with the file, an Indexed Job (completionMode Indexed,
completions and parallelism N, no retry of a failed index) whose pods run
faya agent, a coordinator Job that runs faya run --agents N and prints the one
report in its log, and, without --nats, a NATS Deployment and Service.
Flags after -- are passed to the coordinator's faya run (load, thresholds).

With --apply, the objects are created with the current kubeconfig's context
and the run is followed until the coordinator ends (exit 1 when it failed).`,
		Example: `  faya k8s --agents 5 -f shop.yaml > run.yaml && kubectl apply -f run.yaml
  faya k8s --agents 5 -f shop.yaml --image registry.local/faya:0.2 --nats nats://nats.infra:4222 -- -r 5000 -d 5m
  faya k8s --agents 3 -f shop.yaml --apply --namespace perf`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usagef("k8s needs -f FILE: the scenario file the agents run")
			}
			if c.Agents < 1 {
				return usagef("k8s needs --agents N (at least 1): the number of agent pods")
			}
			if cmd.ArgsLenAtDash() < 0 && len(args) > 0 {
				return usagef("k8s takes no arguments; flags for the coordinator's faya run go after --, e.g. -- -r 5000")
			}
			files := map[string][]byte{}
			dir := filepath.Dir(file)
			var ferrs []error
			read := func(path string) ([]byte, error) {
				b, err := os.ReadFile(path)
				if err == nil {
					rel, rerr := filepath.Rel(dir, path)
					if rerr != nil || strings.ContainsAny(rel, `/\`) {
						ferrs = append(ferrs, usagef("-f %s reads %s, which is not beside it: a ConfigMap holds files beside the plan; move the file next to %s", file, path, filepath.Base(file)))
					}
					files[rel] = b
				}
				return b, err
			}
			f, err := scenario.Load(file, scenario.Options{Env: os.LookupEnv, ReadFile: read})
			if err != nil {
				return usageError{err}
			}
			if len(ferrs) > 0 {
				return ferrs[0]
			}
			c.Files = files
			if err := checkPart(f.Plan, part{seg: engine.Segment{Index: 0, Count: c.Agents}}); err != nil {
				return err
			}
			data, err := os.ReadFile(file)
			if err != nil {
				return usagef("-f: %v", err)
			}
			c.PlanFile, c.PlanData, c.RunArgs = file, data, args
			if allow != "" {
				c.AgentArgs = []string{"--allow-targets", allow}
			}
			c.Deadline = deadline
			if !cmd.Flags().Changed("deadline") {
				var length time.Duration
				for _, sc := range f.Plan.Scenarios {
					length = max(length, sc.Executor.Length())
				}
				c.Deadline = length + 15*time.Minute
			}
			objs, err := k8s.Objects(c)
			if err != nil {
				return usagef("k8s: %v", err)
			}
			if !apply {
				return k8s.Write(e.stdout, objs)
			}
			rules := clientcmd.NewDefaultClientConfigLoadingRules()
			kc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
			if c.Namespace == "" {
				ns, _, err := kc.Namespace()
				if err != nil {
					return fmt.Errorf("kubeconfig: %w", err)
				}
				c.Namespace = ns
				if objs, err = k8s.Objects(c); err != nil {
					return err
				}
			}
			rc, err := kc.ClientConfig()
			if err != nil {
				return fmt.Errorf("kubeconfig (--apply needs a cluster: KUBECONFIG or ~/.kube/config): %w", err)
			}
			api, err := k8s.NewAPI(rc)
			if err != nil {
				return err
			}
			say := func(format string, a ...any) { fmt.Fprintf(e.stderr, "faya: "+format+"\n", a...) }
			return applyAndFollow(cmd, api, c, objs, say)
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&c.Agents, "agents", 0, "agent pods (the Indexed Job's completions and parallelism)")
	fs.StringVarP(&file, "file", "f", "", "the scenario file to run (it goes into a ConfigMap)")
	fs.StringVar(&c.Image, "image", k8s.DefaultImage, "the faya image of the pods")
	fs.StringVar(&c.NATS, "nats", "", "the NATS server the pods use (default: a NATS Deployment and Service are made)")
	fs.StringVar(&c.NATSImage, "nats-image", k8s.DefaultNATSImage, "the NATS image, without --nats")
	fs.StringVar(&c.Name, "name", "faya", "prefix of the objects' names")
	fs.StringVarP(&c.Namespace, "namespace", "n", "", "the namespace (default: the kubeconfig's)")
	fs.StringVar(&allow, "allow-targets", "", "the agents' --allow-targets: CIDR,...")
	fs.DurationVar(&deadline, "deadline", 0, "the Jobs' activeDeadlineSeconds (default: the plan's length + 15m)")
	fs.BoolVar(&apply, "apply", false, "create the objects with the current kubeconfig and follow the run")
	return cmd
}

// applyAndFollow creates the objects and follows the coordinator until
// it ends.
func applyAndFollow(cmd *cobra.Command, api k8s.API, c k8s.Config, objs []runtime.Object, say func(string, ...any)) error {
	ctx := cmd.Context()
	if err := k8s.Apply(ctx, api, objs, say); err != nil {
		return err
	}
	say("following job/%s-coordinator in %s (Ctrl-C stops following; the run goes on)", c.Name, c.Namespace)
	st, err := k8s.Follow(ctx, api, c.Namespace, c.Name, followPoll, say)
	if err != nil {
		if ctx.Err() != nil {
			return exitError{ExitInterrupted}
		}
		return err
	}
	if st.FailedIndexes != "" {
		say("agent indexes %s failed: the coordinator's report names them LOST", st.FailedIndexes)
	}
	return nil
}

// followPoll is how often --apply reads the Jobs' status.
var followPoll = 2 * time.Second
