package cli

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/report"
	"github.com/faya-load/faya/threshold"
	"github.com/faya-load/faya/transport"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/net/http/httpguts"
)

// runOpts are the flags of faya run.
type runOpts struct {
	// load
	concurrency   int
	requests      int64
	duration      time.Duration
	rate          string
	stages        string
	vuStages      string
	maxVUs        int
	preVUs        int
	gracefulStop  time.Duration
	lateThreshold time.Duration

	// request
	method    string
	headers   []string
	body      string
	bodyFile  string
	timeout   time.Duration
	insecure  bool
	cacert    string
	userAgent string
	maxBody   int64
	redirects int
	pipeline  int
	template  bool

	// pool
	maxIdleConns          int
	maxIdleConnsPerHost   int
	maxConnsPerHost       int
	idleConnTimeout       time.Duration
	disableKeepAlives     bool
	dialTimeout           time.Duration
	tlsHandshakeTimeout   time.Duration
	responseHeaderTimeout time.Duration
	maxHeaderBytes        int64
	expectContinue        time.Duration
	connScope             string
	httpVersion           string
	h2MaxStreams          int
	h2StrictStreams       bool
	h2PingTimeout         time.Duration
	maxRequestsPerConn    int64
	maxConnLifetime       string
	localAddrs            []string
	resolve               []string
	dnsTTL                string
	dnsMode               string
	ipFamily              string

	engine string

	proxy proxyOpts

	// scenario file and pass/fail
	file       string
	baseURL    string
	thresholds []string

	// output
	outputs    outputs
	cpuProfile string

	// distributed runs (segment.go, coordinator.go)
	dist distOpts

	// notes are said once on stderr before the run: what faya made of an
	// input that meant something else to another tool.
	notes []string
}

// defaultDuration is how long a run lasts when neither -n nor -d is given.
const defaultDuration = 10 * time.Second

// newRunCmd is faya run: its help text and flags (long for their number;
// the work is in runOpts).
func newRunCmd(e *env) *cobra.Command {
	o := &runOpts{}
	cmd := &cobra.Command{
		Use:   "run [flags] URL | run -f FILE [flags]",
		Short: "Send load to URL and report latency, phases and what the connection pool did",
		Long: `Send load to URL.

Closed model (the default): -c VUs, each sending its next request when the
last one ended, for -n requests in total or for -d; --vu-stages ramps the
number of VUs.

Open model: -r starts requests at a fixed arrival rate whether or not earlier
ones have finished (--stages ramps it). Latency is measured from each
request's intended start, so a stall on the server shows in full. VUs are
pre-allocated (--pre-vus) and grow up to --max-vus; when none is free the
iteration is dropped and counted, never delayed.

Every response body is read to the end and every connection comes from one pool
sized for the concurrency (or one pool per VU with --conn-scope vu), so
connections are reused as they should be. The report counts them.

With -f FILE, runs a scenario file (docs/scenarios.md): VUs that log in
once, keep their cookies and walk steps, several scenarios at once. Flags
given on the command line override the file: the load flags change every
scenario's executor (-r or --vu-stages replace its model; -c, -n, -d,
--max-vus change its parameters; -n counts iterations), the pool and request
flags replace the file's transport and defaults, -H adds a header to every
step.

--threshold (repeatable) and the file's thresholds are checked after the
run; if one fails, faya exits with code 99.`,
		Example: `  faya run -c 50 -n 100000 http://127.0.0.1:8080/
  faya run -c 200 -d 30s --max-conns-per-host 100 -H 'Accept: application/json' URL
  faya run -c 50 -n 20000 --json out.json URL
  faya run -r 5000 -d 30s --max-vus 400 URL
  faya run --stages 10s:0-2000,30s:2000,10s:2000-0 URL
  faya run --vu-stages 30s:200,60s:200 URL
  faya run -f shop.yaml
  faya run -f shop.yaml -r 800 -d 1m
  faya run -c 50 -d 30s --threshold 'p99(latency) < 300ms' --threshold 'error_rate < 1%' URL`,
		SuggestFor: []string{"attack", "load", "bench", "hit"},
		Args: func(cmd *cobra.Command, args []string) error {
			if err := quietRate(cmd.Flags(), args); err != nil {
				return err
			}
			switch {
			case o.file != "" && len(args) > 0:
				return usagef("run -f %s takes no URL argument (got %q): the steps of the file name their URLs", o.file, args[0])
			case o.file == "" && len(args) != 1:
				return usagef("run needs exactly one URL argument, got %d: faya run [flags] URL, or faya run -f FILE", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var (
				plan engine.Plan
				meta report.Meta
				ths  []threshold.Threshold
				err  error
			)
			if o.file != "" {
				f, ferr := loadFile(o.file, o.baseURL, o.adjustFile(cmd.Flags()))
				if ferr != nil {
					return ferr
				}
				plan, meta, ths, err = o.filePlan(cmd.Flags(), f)
			} else {
				plan, meta, err = o.plan(cmd.Flags(), args[0])
				if err == nil {
					var terrs []error
					ths, terrs = parseThresholds(o.thresholds)
					terrs = append(terrs, uncheckable(ths, plan)...)
					if len(terrs) > 0 {
						err = usageError{errors.Join(terrs...)}
					}
				}
			}
			if err != nil {
				return err
			}
			if err := o.sameFiles(); err != nil {
				return err
			}
			pt, perrs := o.dist.part(cmd.Flags())
			if len(perrs) > 0 {
				return usageError{errors.Join(perrs...)}
			}
			if err := checkPart(plan, pt); err != nil {
				return err
			}
			if o.dist.agents > 0 || cmd.Flags().Changed("agents") {
				return o.coordinate(cmd, e, plan, meta, ths, pt)
			}
			pt.origin = originOf(plan, pt, o.dist.agent)
			meta.Segment = pt.seg.String()
			o.outputs.part = pt
			for _, n := range o.notes {
				fmt.Fprintf(e.stderr, "faya: %s\n", n)
			}
			if o.cpuProfile != "" {
				f, err := os.Create(o.cpuProfile)
				if err != nil {
					return usagef("--cpuprofile: %v", err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("cpu profile: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			return execute(cmd.Context(), e, plan, meta, ths, o.outputs)
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	o.bind(fs)
	cmd.SetUsageFunc(groupedUsage(runFlagGroups))
	return cmd
}

// flagGroup is a titled group of flags in a command's help.
type flagGroup struct {
	title string
	flags []string
}

// runFlagGroups are faya run's flags as the README's tables group them.
var runFlagGroups = []flagGroup{
	{"Load flags", []string{"concurrency", "requests", "duration", "rate", "stages", "vu-stages", "max-vus", "pre-vus", "graceful-stop", "late-threshold"}},
	{"Request flags", []string{"method", "header", "body", "body-file", "template", "timeout", "insecure", "cacert", "user-agent", "max-body", "max-redirects", "pipeline", "engine", "http"}},
	{"Pool flags (each sets the http.Transport field of the same name)", []string{"max-conns-per-host", "max-idle-conns-per-host", "max-idle-conns", "idle-conn-timeout",
		"disable-keepalives", "dial-timeout", "tls-handshake-timeout", "response-header-timeout", "expect-continue-timeout", "conn-scope",
		"h2-max-streams", "h2-strict-streams", "h2-ping-timeout"}},
	{"Connection rotation flags", []string{"max-requests-per-conn", "max-conn-lifetime"}},
	{"Address flags", []string{"local-addr", "resolve", "dns-ttl", "dns-mode", "ip-family"}},
	{"Proxy flags", []string{"proxy", "proxy-file", "proxy-mode", "proxy-ca", "proxy-from-env"}},
	{"Scenario file and pass/fail flags", []string{"file", "base-url", "threshold"}},
	{"Output flags", []string{"json", "html", "out", "metrics-addr", "metrics-linger", "quiet"}},
	{"Distributed flags (docs/distributed.md)", []string{"segment", "start-at", "agent-name", "agents", "nats", "nats-listen", "creds", "tls-ca",
		"join-timeout", "agent-timeout", "max-clock-skew", "tolerate-lost"}},
}

// groupedUsage writes a command's usage with its flags in groups; flags in
// no group (--help) come last.
func groupedUsage(groups []flagGroup) func(*cobra.Command) error {
	return func(c *cobra.Command) error {
		w := c.OutOrStderr()
		fmt.Fprintf(w, "Usage:\n  %s\n", c.UseLine())
		if c.HasExample() {
			fmt.Fprintf(w, "\nExamples:\n%s\n", c.Example)
		}
		seen := map[string]bool{}
		section := func(title string, flags []*pflag.Flag) {
			fs := pflag.NewFlagSet(title, pflag.ContinueOnError)
			fs.SortFlags = false
			for _, f := range flags {
				fs.AddFlag(f)
				seen[f.Name] = true
			}
			if fs.HasAvailableFlags() {
				fmt.Fprintf(w, "\n%s:\n%s", title, fs.FlagUsagesWrapped(110))
			}
		}
		for _, g := range groups {
			var flags []*pflag.Flag
			for _, name := range g.flags {
				if f := c.Flags().Lookup(name); f != nil {
					flags = append(flags, f)
				}
			}
			section(g.title, flags)
		}
		var rest []*pflag.Flag
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if !seen[f.Name] {
				rest = append(rest, f)
			}
		})
		section("Other flags", rest)
		return nil
	}
}

func (o *runOpts) bind(fs *pflag.FlagSet) {
	// load
	fs.IntVarP(&o.concurrency, "concurrency", "c", 50, "number of VUs sending requests at once (closed model)")
	fs.Int64VarP(&o.requests, "requests", "n", 0, "send exactly this many requests in total, split evenly among the VUs (default: bounded by --duration)")
	fs.DurationVarP(&o.duration, "duration", "d", 0, "stop sending new requests after this long; in-flight requests finish (default: 10s when -n is not given)")
	fs.StringVarP(&o.rate, "rate", "r", "", "open model: start requests at this arrival rate, per second (5000, 0.5) or COUNT/DURATION (30/1m)")
	fs.StringVar(&o.stages, "stages", "", "open model, ramping rate: DURATION:FROM-TO[,DURATION:TARGET...], rates per second, e.g. 10s:0-2000,30s:2000,10s:2000-0; a TARGET ramps from the previous stage's end (0 at the start)")
	fs.StringVar(&o.vuStages, "vu-stages", "", "closed model, ramping VUs: DURATION:FROM-TO[,DURATION:TARGET...], e.g. 30s:200,60s:200 (0 to 200, then 200: a TARGET ramps from the previous stage's end, as k6's --stage)")
	fs.IntVar(&o.maxVUs, "max-vus", 0, "open model: most VUs (requests in flight) at once; also the default pool limits (default: the peak rate x --timeout, at least 10, at most 256 MiB of VUs; printed before the run)")
	fs.IntVar(&o.preVUs, "pre-vus", 0, "open model: VUs allocated before the start (default: the peak rate x 2ms, at least 1, at most --max-vus)")
	fs.DurationVar(&o.gracefulStop, "graceful-stop", engine.DefaultGracefulStop, "at the end (or the first Ctrl-C), requests in flight get this long, then are canceled and counted as interrupted")
	fs.DurationVar(&o.lateThreshold, "late-threshold", engine.DefaultLateThreshold, "open model: an iteration that starts more than this after its intended start counts as late")

	// request
	fs.StringVarP(&o.method, "method", "m", http.MethodGet, "HTTP method")
	fs.StringArrayVarP(&o.headers, "header", "H", nil, "request header 'Name: value' (repeatable; 'Host: name' sets the Host)")
	fs.StringVar(&o.body, "body", "", "request body, sent as given (a template with --template)")
	fs.StringVar(&o.bodyFile, "body-file", "", "read the request body from this file, sent as given: a binary upload works (a template with --template)")
	fs.DurationVar(&o.timeout, "timeout", engine.DefaultTimeout, "whole-request timeout, body included")
	fs.BoolVar(&o.insecure, "insecure", false, "do not verify the server's TLS certificate")
	fs.StringVar(&o.cacert, "cacert", "", "PEM file of the CA certificates the server's certificate must chain to (instead of the system's)")
	fs.StringVar(&o.userAgent, "user-agent", "faya/"+Version, "User-Agent header")
	fs.Int64Var(&o.maxBody, "max-body", engine.DefaultMaxBody, "read at most this many bytes of each response body; a longer body is cut and its connection closed (0: no cap)")
	fs.IntVar(&o.redirects, "max-redirects", engine.DefaultMaxRedirects, "redirects to follow per request (0: none, the 3xx is the answer)")
	fs.BoolVar(&o.template, "template", false, "render the URL, the -H values and the body as templates ({{ randInt 1 20 }}, {{ uuid }}, {{ env \"NAME\" }}, {{ .vu }}, {{ .iter }}); without it they are sent as written")
	fs.IntVar(&o.pipeline, "pipeline", 1, "HTTP/1.1 pipelining: requests each VU writes on its connection before it reads their answers (h1 engine, -c with one GET or HEAD URL; 1: off)")

	// pool
	fs.IntVar(&o.maxIdleConns, "max-idle-conns", 0, "idle connections kept across all hosts: http.Transport.MaxIdleConns (default: the concurrency; 0: no limit)")
	fs.IntVar(&o.maxIdleConnsPerHost, "max-idle-conns-per-host", 0, "idle connections kept per host: http.Transport.MaxIdleConnsPerHost (default: the concurrency, not Go's 2; 0: no limit)")
	fs.IntVar(&o.maxConnsPerHost, "max-conns-per-host", 0, "connections per host, dialing+active+idle: http.Transport.MaxConnsPerHost (default: the concurrency, so c VUs never hold more than c connections; 0: no limit)")
	fs.DurationVar(&o.idleConnTimeout, "idle-conn-timeout", transport.DefaultIdleConnTimeout, "close connections idle this long: http.Transport.IdleConnTimeout")
	fs.BoolVar(&o.disableKeepAlives, "disable-keepalives", false, "a new connection for every request: http.Transport.DisableKeepAlives")
	fs.DurationVar(&o.dialTimeout, "dial-timeout", transport.DefaultDialTimeout, "DNS lookup plus TCP connect timeout")
	fs.DurationVar(&o.tlsHandshakeTimeout, "tls-handshake-timeout", transport.DefaultTLSHandshakeTimeout, "TLS handshake timeout: http.Transport.TLSHandshakeTimeout")
	fs.DurationVar(&o.responseHeaderTimeout, "response-header-timeout", 0, "wait for response headers after writing the request: http.Transport.ResponseHeaderTimeout (default: none beyond --timeout)")
	fs.Int64Var(&o.maxHeaderBytes, "max-header-bytes", transport.DefaultMaxResponseHeaderBytes, "bound a response's status lines and headers, 1xx answers included; past it the request fails as protocol (both engines; http.Transport.MaxResponseHeaderBytes)")
	fs.DurationVar(&o.expectContinue, "expect-continue-timeout", transport.DefaultExpectContinueTimeout, "a request sent with 'Expect: 100-continue' waits this long for the server's 100 Continue before it sends its body: http.Transport.ExpectContinueTimeout (negative: send it at once)")
	fs.StringVar(&o.engine, "engine", engine.EngineH1, "HTTP engine: h1 (faya's own HTTP/1.1 engine, the fastest) or net/http (Go's client, as Go services use it); both measure the same")
	fs.StringVar(&o.httpVersion, "http", "auto", "HTTP version: auto (h2,http/1.1 offered by ALPN on https and what the server picks spoken, remembered per destination; HTTP/1.1 on http), 1.1 (HTTP/1.1 only) or 2 (HTTP/2 required: ALPN h2 on https, prior-knowledge h2c on http); HTTP/2 is faya's own client on the default engine, Go's on net/http")
	fs.IntVar(&o.h2MaxStreams, "h2-max-streams", 0, "HTTP/2: streams the client opens at once per connection, at most (default: what the server's SETTINGS_MAX_CONCURRENT_STREAMS allows)")
	fs.BoolVar(&o.h2StrictStreams, "h2-strict-streams", false, "HTTP/2: never open another connection while every connection's streams are in use; requests wait for a stream slot (http.HTTP2Config.StrictMaxConcurrentRequests)")
	fs.DurationVar(&o.h2PingTimeout, "h2-ping-timeout", 0, "HTTP/2: send a PING after this long without a frame and close the connection when it is not answered within it (http.HTTP2Config.SendPingTimeout and PingTimeout; default: none on the default engine, Go's 15s PingTimeout on net/http)")
	fs.Int64Var(&o.maxRequestsPerConn, "max-requests-per-conn", 0, "close a connection after this many requests, the last sent with 'Connection: close' (HTTP/2: no stream after the Nth, closed once they end; close reason max_requests; 0: no limit)")
	fs.StringVar(&o.maxConnLifetime, "max-conn-lifetime", "", "retire a connection once this old: its next request is its last (close reason lifetime); an optional jitter spreads them, e.g. 30s±5s or 30s+-5s (default: no limit)")
	fs.StringArrayVar(&o.localAddrs, "local-addr", nil, "source addresses new connections bind in turn: ADDR[,ADDR...] (IPv4, IPv6, or a CIDR such as 127.0.0.0/29 for each of its addresses, at most 1024); each must be an address of this machine (repeatable)")
	fs.StringArrayVar(&o.resolve, "resolve", nil, "HOST:PORT:ADDR[,ADDR...]: dial HOST:PORT at these addresses, in turn per new connection, without DNS (curl's --resolve; the Host header and TLS server name stay HOST; repeatable)")
	fs.StringVar(&o.dnsTTL, "dns-ttl", "", "keep a host name's addresses this long once looked up: a duration (0: look up on every new connection) (default: for the whole run, one lookup per name)")
	fs.StringVar(&o.dnsMode, "dns-mode", "first", "which of a name's addresses a new connection dials: first (the resolver's order), round-robin (each in turn), random")
	fs.StringVar(&o.ipFamily, "ip-family", "any", "look up and dial IPv4 (4) or IPv6 (6) addresses only, or both (any)")
	fs.StringVar(&o.connScope, "conn-scope", string(engine.ScopeShared), "shared: one pool for all VUs; vu: one pool per VU, as browsers and Locust users behave (pool limits then apply per VU)")

	// proxies
	o.proxy.bind(fs)

	// scenario file and pass/fail
	fs.StringVarP(&o.file, "file", "f", "", "run this scenario file (YAML, see docs/scenarios.md) instead of one URL; flags given override it")
	fs.StringVar(&o.baseURL, "base-url", "", "with -f: replace the file's base_url (the start of its relative URLs), as Locust's --host")
	fs.StringArrayVar(&o.thresholds, "threshold", nil, "pass/fail condition checked after the run, e.g. 'p99(latency) < 300ms', 'error_rate < 1%' (repeatable; a failure exits with code 99)")

	// output
	o.outputs.bind(fs)
	o.dist.bind(fs)
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a Go CPU profile of the run to this file (for developers)")
	_ = fs.MarkHidden("cpuprofile")
}

// plan turns the flags into a validated Plan and the report's Meta, or a
// usage error naming the input and the fix.
func (o *runOpts) plan(fs *pflag.FlagSet, rawURL string) (engine.Plan, report.Meta, error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, usagef(format, a...)) }

	if err := o.checkURL(rawURL); err != nil {
		errs = append(errs, err)
	} else if !strings.Contains(rawURL, "{{") { // a template is checked as one by the engine
		if err := engine.ValidateURL(rawURL); err != nil {
			bad("%v", err)
		}
	}
	if fs.Changed("base-url") {
		bad("--base-url is for a scenario file (-f): it replaces the file's base_url; a single URL is given whole")
	}
	errs = append(errs, o.checkLoad(fs)...)
	exec, eerrs := o.executor(fs, o.timeout, o.engine)
	errs = append(errs, eerrs...)
	if !httpguts.ValidHeaderFieldName(o.method) {
		bad("-m/--method %q: not a valid HTTP method token, e.g. GET or POST", o.method)
	} else if m := strings.ToUpper(o.method); m != o.method && standardMethods[m] {
		o.notes = append(o.notes, fmt.Sprintf("-m %s: sending %s (HTTP methods are case-sensitive; the standard ones are upper case)", o.method, m))
		o.method = m
	}
	for name, d := range map[string]time.Duration{
		"--idle-conn-timeout": o.idleConnTimeout, "--dial-timeout": o.dialTimeout,
		"--tls-handshake-timeout": o.tlsHandshakeTimeout, "--response-header-timeout": o.responseHeaderTimeout,
	} {
		if d < 0 {
			bad("%s %v: must not be negative", name, d)
		}
	}
	header, herrs := parseHeaders(o.headers)
	errs = append(errs, herrs...)
	if !o.template {
		for _, h := range o.headers {
			if strings.Contains(h, "{{") {
				bad("-H %q has a template ({{ ... }}): add --template to render it; without it a header is sent as written", h)
			}
		}
	}
	if header.Get("User-Agent") == "" && o.userAgent != "" {
		header.Set("User-Agent", o.userAgent)
	}
	body, err := o.readBody()
	if err != nil {
		errs = append(errs, err)
	}
	pool, perrs := o.pool(fs)
	errs = append(errs, perrs...)
	if err := transport.FamilyConflict(pool, "--ip-family", "--local-addr", "--resolve"); err != nil {
		errs = append(errs, usagef("%v", err))
	}
	proxies, perrs2 := o.proxy.plan(fs)
	errs = append(errs, perrs2...)
	plan := engine.Plan{
		Proxy: proxies,
		Scenarios: []engine.Scenario{{
			Name:     "default",
			Executor: exec,
			Steps:    []engine.Step{{Method: o.method, URL: rawURL, Header: header, Body: body, RawBody: !o.template}},
		}},
		Transport: pool,
	}
	errs = append(errs, o.applyRun(&plan, func(string) bool { return true })...)
	if len(errs) > 0 {
		return engine.Plan{}, report.Meta{}, usageError{errors.Join(errs...)}
	}
	if err := plan.Validate(); err != nil {
		return engine.Plan{}, report.Meta{}, usageError{err}
	}
	eng, err := engine.New(plan, engine.WithEnv(os.LookupEnv))
	if err != nil {
		return engine.Plan{}, report.Meta{}, usageError{err}
	}
	meta := report.Describe(eng)
	meta.Version = Version
	meta.Scenarios = nil   // one URL: the fields above describe its one scenario
	meta.Stages = o.stages // as given
	if o.vuStages != "" {
		meta.Stages = o.vuStages
	}
	return plan, meta, nil
}

// applyRun checks the request and run settings of the flags and sets on
// plan those that apply says to: every one for a single URL, the ones given
// for a scenario file (which keeps its own values for the rest). The
// engine's "none" is negative where the flags' is 0.
func (o *runOpts) applyRun(plan *engine.Plan, apply func(flag string) bool) []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, usagef(format, a...)) }
	none := func(v int64) int64 {
		if v == 0 {
			return -1
		}
		return v
	}
	if apply("timeout") {
		switch {
		case o.timeout < 0:
			bad("--timeout %v: must not be negative", o.timeout)
		case o.timeout == 0:
			bad("--timeout 0: a request needs a timeout; give one, e.g. --timeout 30s")
		}
		plan.Timeout = o.timeout
	}
	if apply("max-body") {
		if o.maxBody < 0 {
			bad("--max-body %d: must not be negative (0: no cap)", o.maxBody)
		}
		plan.MaxBody = none(o.maxBody)
	}
	if apply("max-redirects") {
		if o.redirects < 0 {
			bad("--max-redirects %d: must not be negative (0: do not follow)", o.redirects)
		}
		plan.MaxRedirects = int(none(int64(o.redirects)))
	}
	if apply("graceful-stop") {
		if o.gracefulStop < 0 {
			bad("--graceful-stop %v: must not be negative (0: cancel at once)", o.gracefulStop)
		}
		plan.GracefulStop = time.Duration(none(int64(o.gracefulStop)))
	}
	if apply("late-threshold") {
		if o.lateThreshold <= 0 {
			bad("--late-threshold %v: must be positive", o.lateThreshold)
		}
		plan.LateThreshold = o.lateThreshold
	}
	if apply("pipeline") {
		if o.pipeline < 1 {
			bad("--pipeline %d: want 1 (off) or more requests in flight per connection", o.pipeline)
		}
		plan.Pipeline = o.pipeline
	}
	if apply("engine") {
		if o.engine != engine.EngineH1 && o.engine != engine.EngineNetHTTP {
			bad("--engine %q: want h1 or net/http", o.engine)
		}
		plan.Engine = o.engine
	}
	if apply("conn-scope") {
		plan.ConnScope = engine.ConnScope(o.connScope)
		if plan.ConnScope != engine.ScopeShared && plan.ConnScope != engine.ScopeVU {
			bad("--conn-scope %q: want shared or vu", o.connScope)
		}
	}
	return errs
}

// executor maps the load flags to an executor: closed (-c, -n, -d), ramping
// VUs (--vu-stages), constant rate (-r) or ramping rate (--stages), and
// rejects combinations that mean nothing. The open model's default
// --max-vus follows the request timeout and the engine.
func (o *runOpts) executor(fs *pflag.FlagSet, timeout time.Duration, eng string) (engine.Executor, []error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, usagef(format, a...)) }
	set := fs.Changed
	if o.concurrency < 1 {
		bad("-c/--concurrency %d: must be at least 1", o.concurrency)
	}
	if o.requests < 0 {
		bad("-n/--requests %d: must not be negative (0: bounded by --duration)", o.requests)
	}
	if o.duration < 0 {
		bad("-d/--duration %v: must not be negative", o.duration)
	}
	models := 0
	for _, f := range []string{"rate", "stages", "vu-stages"} {
		if set(f) {
			models++
		}
	}
	if models > 1 {
		bad("-r/--rate, --stages and --vu-stages each choose how load is scheduled: give one")
		return engine.Executor{}, errs
	}
	open := set("rate") || set("stages")
	if !open {
		for _, f := range []string{"max-vus", "pre-vus"} {
			if set(f) {
				bad("--%s is for the open model: use it with -r/--rate or --stages (the closed model has -c VUs)", f)
			}
		}
	}

	switch {
	case set("vu-stages"):
		for _, f := range []string{"concurrency", "requests", "duration"} {
			if set(f) {
				bad("--%s with --vu-stages: the stages set the VUs and the length; drop --%s", f, f)
			}
		}
		st, err := engine.ParseVUStages(o.vuStages)
		if err != nil {
			bad("--vu-stages %q: %v", o.vuStages, err)
		}
		return engine.Executor{Type: engine.RampingVUs, VUStages: st}, errs

	case open:
		ex, more := o.openExecutor(fs, timeout, eng)
		return ex, append(errs, more...)
	}

	duration := o.duration
	if o.requests == 0 && duration == 0 {
		duration = defaultDuration
	}
	vus := o.concurrency
	if o.requests > 0 && int64(vus) > o.requests {
		// As many VUs as requests: the others would have nothing to send.
		vus = int(o.requests)
		if set("concurrency") {
			o.note("-c %d is more than -n %d: running %d VUs, one request each", o.concurrency, o.requests, vus)
		}
	}
	return engine.Executor{Type: engine.VUs, VUs: vus, Iterations: o.requests, Duration: duration}, errs
}

// openExecutor maps the open model's flags (-r or --stages, --max-vus,
// --pre-vus) to a constant or ramping rate.
func (o *runOpts) openExecutor(fs *pflag.FlagSet, timeout time.Duration, eng string) (engine.Executor, []error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, usagef(format, a...)) }
	set := fs.Changed
	if set("concurrency") {
		bad("-c/--concurrency is for the closed model: with -r/--stages, bound the VUs with --max-vus")
	}
	if set("requests") {
		bad("-n/--requests with -r/--stages: the number of requests is the rate over the duration; drop -n")
	}
	ex := engine.Executor{Type: engine.ConstantRate}
	if set("rate") {
		r, err := engine.ParseRate(o.rate)
		switch {
		case err != nil:
			bad("-r/--rate: %v", err)
		case r.IsZero():
			bad("-r/--rate %q: must be positive", o.rate)
		}
		ex.Rate, ex.Duration = r, o.duration
		if ex.Duration == 0 {
			ex.Duration = defaultDuration
		}
	} else {
		if set("duration") {
			bad("-d/--duration with --stages: the stages set the length; drop -d")
		}
		st, err := engine.ParseRateStages(o.stages)
		if err != nil {
			bad("--stages %q: %v", o.stages, err)
		}
		ex.Type, ex.Stages = engine.RampingRate, st
	}
	ex.MaxVUs, ex.PreVUs = o.maxVUs, o.preVUs
	ex.DeriveVUs(timeout, eng, set("max-vus"), set("pre-vus"))
	if !set("max-vus") {
		if o.file == "" {
			o.note("--max-vus %s", maxVUsNote(ex, timeout, eng, ""))
		}
	} else if o.maxVUs < 1 {
		bad("--max-vus %d: must be at least 1", o.maxVUs)
	}
	if set("pre-vus") && (o.preVUs < 0 || o.preVUs > ex.MaxVUs) {
		bad("--pre-vus %d: must be from 0 to --max-vus (%d)", o.preVUs, ex.MaxVUs)
	}
	return ex, errs
}

// maxVUsNote says how the open model's default VU bound was derived (fit:
// what lowered it below the engine's default, if anything), and the
// memory the VUs may take.
func maxVUsNote(ex engine.Executor, timeout time.Duration, eng, fit string) string {
	if timeout <= 0 {
		timeout = engine.DefaultTimeout
	}
	why := fmt.Sprintf("the peak rate %s/s x the %v timeout", ex.PeakRate(), timeout)
	switch {
	case fit != "":
		why += ", bounded by " + fit
	case ex.MaxVUs == engine.MaxDefaultVUs(eng):
		why += fmt.Sprintf(", bounded at %d MiB of VUs", engine.DefaultVUMemory>>20)
	case ex.MaxVUs == engine.MinDefaultMaxVUs:
		why += fmt.Sprintf(", at least %d", engine.MinDefaultMaxVUs)
	}
	mem := int64(ex.MaxVUs) * engine.VUMemory(eng)
	size := fmt.Sprintf("%d MiB", (mem+1<<19)>>20)
	if mem < 1<<20 {
		size = fmt.Sprintf("%d KiB", (mem+1<<9)>>10)
	}
	return fmt.Sprintf("%d (the default: %s); %d busy VUs with their connections take about %s", ex.MaxVUs, why, ex.MaxVUs, size)
}

// note adds a note said once before the run (the same note once).
func (o *runOpts) note(format string, a ...any) {
	n := fmt.Sprintf(format, a...)
	if !slices.Contains(o.notes, n) {
		o.notes = append(o.notes, n)
	}
}

// checkLoad refuses load flags given a value that would mean "unbounded"
// or "nothing": -n 0 and -d 0.
func (o *runOpts) checkLoad(fs *pflag.FlagSet) []error {
	var errs []error
	if fs.Changed("requests") && o.requests == 0 {
		errs = append(errs, usagef("-n/--requests 0: give a positive number of requests, or leave -n out to run for -d/--duration"))
	}
	if fs.Changed("duration") && o.duration == 0 {
		errs = append(errs, usagef("-d/--duration 0s: give a positive duration, e.g. -d 30s, or leave -d out (%v, or until -n requests)", defaultDuration))
	}
	return errs
}

// standardMethods are the methods of RFC 9110 and PATCH, which servers
// match in upper case.
var standardMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true,
	http.MethodDelete: true, http.MethodConnect: true, http.MethodOptions: true, http.MethodTrace: true,
}

// checkURL refuses what a single URL cannot mean as written: a template
// without --template (it would be sent literally, URL-encoded), a space
// (not allowed in a URL).
func (o *runOpts) checkURL(raw string) error {
	literal := raw
	if o.template {
		literal = templateActions().ReplaceAllString(raw, "")
	} else if strings.Contains(raw, "{{") {
		return usagef("URL %q has a template ({{ ... }}): add --template to render it; without it the URL is sent as written", raw)
	}
	if strings.ContainsAny(literal, " \t") {
		return usagef("URL %q has a space: write it as %%20 (%s)", raw, strings.NewReplacer(" ", "%20", "\t", "%09").Replace(raw))
	}
	return nil
}

// templateActions are the {{ ... }} of a template (compiled when first
// needed, not at start).
var templateActions = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`{{.*?}}`) })

// sameFiles refuses two outputs naming one file: one would overwrite the
// other.
func (o *runOpts) sameFiles() error {
	return distinctFiles(namedFile{"--json", o.outputs.json}, namedFile{"--html", o.outputs.html},
		namedFile{"--out", o.outputs.out}, namedFile{"--cpuprofile", o.cpuProfile})
}

// namedFile is a path and the flag (or argument) that gave it.
type namedFile struct{ flag, path string }

// distinctFiles refuses two of files naming one file ("" and "-", stdout,
// are none).
func distinctFiles(files ...namedFile) error {
	var outs []namedFile
	for _, x := range files {
		if x.path != "" && x.path != "-" {
			outs = append(outs, x)
		}
	}
	for i, a := range outs {
		for _, b := range outs[i+1:] {
			if samePath(a.path, b.path) {
				p, _ := filepath.Abs(a.path)
				return usagef("%s and %s both name %s: give each its own file (one would overwrite the other)", a.flag, b.flag, p)
			}
		}
	}
	return nil
}

// samePath reports whether two paths name one file: the same path once
// cleaned and made absolute, or (for files that exist) the same file. A
// device (/dev/null, /dev/full) is not a file one output overwrites.
func samePath(a, b string) bool {
	if st, err := os.Stat(a); err == nil && st.Mode()&os.ModeDevice != 0 {
		return false
	}
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	if err1 == nil && err2 == nil && aa == bb {
		return true
	}
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// uncheckable refuses thresholds on checks when the plan has none to
// count: such a threshold could only fail with "no data", after the run.
func uncheckable(ths []threshold.Threshold, plan engine.Plan) []error {
	has, steps := checked(plan)
	var errs []error
	for _, t := range ths {
		if t.Metric() != "checks" {
			continue
		}
		switch {
		case t.Step == "" && !has:
			if len(plan.Scenarios) == 1 && len(plan.Scenarios[0].Steps) == 1 && len(plan.Scenarios[0].Setup) == 0 {
				errs = append(errs, usagef("--threshold %q: this run has no checks (a single URL has none; checks are set on a scenario file's steps, see docs/scenarios.md): drop it, or use e.g. 'error_rate < 1%%'", t.Source))
			} else {
				errs = append(errs, usagef("--threshold %q: this run has no checks (no step has check:): add check: to a step, or drop it", t.Source))
			}
		case t.Step != "" && !steps[t.Step]:
			errs = append(errs, usagef("--threshold %q on step %s: the step has no checks: add check: to it, or drop it", t.Source, t.Step))
		}
	}
	return errs
}

// checked reports whether any step of the plan has checks, and which
// steps (by label) do. A scenario written in Go counts its errors as
// failed checks.
func checked(plan engine.Plan) (bool, map[string]bool) {
	has, steps := false, map[string]bool{}
	for _, sc := range plan.Scenarios {
		has = has || sc.Func != nil
		for _, list := range [][]engine.Step{sc.Setup, sc.Steps} {
			for _, st := range list {
				if st.Check.Has() {
					has = true
					steps[st.Label()] = true
				}
			}
		}
	}
	return has, steps
}

// pool maps the pool flags to a transport.Config. A limit flag left unset
// is derived from the concurrency; set to 0 it lifts the limit.
func (o *runOpts) pool(fs *pflag.FlagSet) (transport.Config, []error) {
	var errs []error
	lim := func(name string, v int) int {
		if !fs.Changed(name) {
			return 0
		}
		if v < 0 {
			errs = append(errs, usagef("--%s %d: must not be negative (0: no limit)", name, v))
			return 0
		}
		if v == 0 {
			return -1
		}
		return v
	}
	httpVersion, err := transport.ParseHTTPVersion(o.httpVersion)
	if err != nil {
		errs = append(errs, usagef("--http %v", err))
	}
	if fs.Changed("h2-max-streams") && o.h2MaxStreams < 1 {
		errs = append(errs, usagef("--h2-max-streams %d: want at least 1 (leave it out for what the server's SETTINGS allow)", o.h2MaxStreams))
	}
	if o.h2PingTimeout < 0 {
		errs = append(errs, usagef("--h2-ping-timeout %v: must not be negative", o.h2PingTimeout))
	}
	if o.maxHeaderBytes < transport.MinResponseHeaderBytes {
		errs = append(errs, usagef("--max-header-bytes %d: want at least %d (the default is %d, 1 MiB)", o.maxHeaderBytes, transport.MinResponseHeaderBytes, transport.DefaultMaxResponseHeaderBytes))
	}
	if o.maxRequestsPerConn < 0 {
		errs = append(errs, usagef("--max-requests-per-conn %d: must not be negative (0: no limit)", o.maxRequestsPerConn))
	}
	var life, jitter time.Duration
	if o.maxConnLifetime != "" {
		var err error
		if life, jitter, err = transport.ParseLifetime(o.maxConnLifetime); err != nil {
			errs = append(errs, usagef("--max-conn-lifetime %v", err))
		}
	}
	var local []netip.Addr
	if len(o.localAddrs) > 0 {
		var err error
		if local, err = transport.ParseLocalAddrs(o.localAddrs); err != nil {
			errs = append(errs, usagef("--local-addr %v", err))
		} else if err := transport.CheckLocal(local); err != nil {
			errs = append(errs, usagef("--local-addr %v", err))
		}
	}
	resolve, err := transport.ParseResolve(o.resolve)
	if err != nil {
		errs = append(errs, usagef("--resolve %v", err))
	}
	var dnsTTL time.Duration
	if fs.Changed("dns-ttl") {
		if dnsTTL, err = transport.ParseDNSTTL(o.dnsTTL); err != nil {
			errs = append(errs, usagef("--dns-ttl %v", err))
		}
	}
	dnsMode, err := transport.ParseDNSMode(o.dnsMode)
	if err != nil {
		errs = append(errs, usagef("--dns-mode %v", err))
	}
	family, err := transport.ParseIPFamily(o.ipFamily)
	if err != nil {
		errs = append(errs, usagef("--ip-family %v", err))
	}
	return transport.Config{
		DNSTTL:                 dnsTTL,
		DNSMode:                dnsMode,
		IPFamily:               family,
		LocalAddrs:             local,
		Resolve:                resolve,
		MaxRequestsPerConn:     max(o.maxRequestsPerConn, 0),
		MaxConnLifetime:        life,
		MaxConnLifetimeJitter:  jitter,
		MaxIdleConns:           lim("max-idle-conns", o.maxIdleConns),
		MaxIdleConnsPerHost:    lim("max-idle-conns-per-host", o.maxIdleConnsPerHost),
		MaxConnsPerHost:        lim("max-conns-per-host", o.maxConnsPerHost),
		IdleConnTimeout:        o.idleConnTimeout,
		DisableKeepAlives:      o.disableKeepAlives,
		DialTimeout:            o.dialTimeout,
		TLSHandshakeTimeout:    o.tlsHandshakeTimeout,
		ResponseHeaderTimeout:  o.responseHeaderTimeout,
		InsecureSkipVerify:     o.insecure,
		RootCAsPEM:             o.rootCAs(&errs),
		MaxResponseHeaderBytes: o.maxHeaderBytes,
		ExpectContinueTimeout:  o.expectContinue,
		HTTP:                   httpVersion,
		H2MaxStreams:           max(o.h2MaxStreams, 0),
		H2StrictStreams:        o.h2StrictStreams,
		H2PingTimeout:          max(o.h2PingTimeout, 0),
	}, errs
}

// rootCAs reads --cacert, adding a usage error to errs when it is not a
// readable PEM file of certificates.
func (o *runOpts) rootCAs(errs *[]error) []byte {
	if o.cacert == "" {
		return nil
	}
	b, err := os.ReadFile(o.cacert)
	if err != nil {
		*errs = append(*errs, usagef("--cacert: %v", err))
		return nil
	}
	if _, err := transport.CAPool(b); err != nil {
		*errs = append(*errs, usagef("--cacert %s: %v", o.cacert, err))
		return nil
	}
	return b
}

func (o *runOpts) readBody() ([]byte, error) {
	switch {
	case o.body != "" && o.bodyFile != "":
		return nil, usagef("--body and --body-file both given: use one")
	case o.bodyFile != "":
		return readBodyFile(o.bodyFile)
	case o.body != "":
		return []byte(o.body), nil
	}
	return nil, nil
}

// parseHeaders parses 'Name: value' flags.
func parseHeaders(raw []string) (http.Header, []error) {
	h := http.Header{}
	var errs []error
	for _, r := range raw {
		name, value, ok := strings.Cut(r, ":")
		name = strings.TrimSpace(name)
		value = strings.TrimSpace(value)
		switch {
		case !ok:
			errs = append(errs, usagef("-H %q: want 'Name: value', e.g. -H 'Accept: application/json'", r))
		case !httpguts.ValidHeaderFieldName(name):
			errs = append(errs, usagef("-H %q: %q is not a valid header name (letters, digits and !#$%%&'*+-.^_`|~ only)", r, name))
		case !httpguts.ValidHeaderFieldValue(value):
			errs = append(errs, usagef("-H %q: the value has characters not allowed in a header (control characters)", r))
		default:
			h.Add(name, value)
		}
	}
	return h, errs
}
