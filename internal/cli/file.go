package cli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/report"
	"github.com/faya-load/faya/scenario"
	"github.com/faya-load/faya/threshold"
	"github.com/faya-load/faya/transport"
	"github.com/spf13/pflag"
)

// loadFile reads and validates a scenario file, every problem as a usage
// error (exit 2) with its file:line. adjust, if not nil, applies the
// command line's flags to the plan before it is validated.
func loadFile(path, baseURL string, adjust func(*engine.Plan)) (*scenario.File, error) {
	if baseURL != "" {
		if err := engine.ValidateURL(baseURL); err != nil {
			return nil, usagef("--base-url %q: %v", baseURL, err)
		}
	}
	f, err := scenario.Load(path, scenario.Options{Env: os.LookupEnv, BaseURL: baseURL, Adjust: adjust})
	if err != nil {
		return nil, usageError{err}
	}
	return f, nil
}

// adjustFile returns what loadFile applies to a scenario file's plan
// before validating it: the load flags' executor overrides, so that -c
// can lower a file's VUs to its data rows and -n can give a closed
// model its missing iteration count. Their errors are reported by
// filePlan, which applies them again.
func (o *runOpts) adjustFile(fs *pflag.FlagSet) func(*engine.Plan) {
	return func(p *engine.Plan) {
		if len(o.checkLoad(fs)) > 0 {
			return // filePlan refuses the flags themselves
		}
		timeout, engineName := p.Timeout, p.Engine
		if fs.Changed("timeout") {
			timeout = o.timeout
		}
		if fs.Changed("engine") {
			engineName = o.engine
		}
		p.Scenarios = append([]engine.Scenario(nil), p.Scenarios...)
		for i := range p.Scenarios {
			sc := &p.Scenarios[i]
			if ex, errs := o.overrideExecutor(fs, sc.Name, sc.Executor, timeout, engineName); len(errs) == 0 {
				sc.Executor = ex
			}
		}
	}
}

// singleURLFlags apply to the one request of faya run URL and mean nothing
// for a scenario file, whose steps say their own.
var singleURLFlags = map[string]string{
	"method":    "method",
	"body":      "body (or json, form)",
	"body-file": "body_file (or body_file_raw, sent as given)",
}

// filePlan is faya run -f FILE: the file's plan, with the flags given on
// the command line overriding it.
func (o *runOpts) filePlan(fs *pflag.FlagSet, f *scenario.File) (engine.Plan, report.Meta, []threshold.Threshold, error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, usagef(format, a...)) }
	set := fs.Changed
	plan := f.Plan

	for flag, key := range singleURLFlags {
		if set(flag) {
			bad("--%s is for a single URL: with -f, set %s on the steps of %s", flag, key, f.Path)
		}
	}
	if set("template") {
		bad("--template is for a single URL: the steps of %s are templates already (body_file_raw sends a file as given)", f.Path)
	}
	errs = append(errs, o.checkLoad(fs)...)
	header, herrs := parseHeaders(o.headers)
	errs = append(errs, herrs...)
	ua := f.UserAgent
	if set("user-agent") || ua == "" {
		ua = o.userAgent
	}

	// Load flags override every scenario's executor. The open model's
	// default VU bound follows the timeout and the engine the run will
	// have.
	timeout, engineName := plan.Timeout, plan.Engine
	if set("timeout") {
		timeout = o.timeout
	}
	if set("engine") {
		engineName = o.engine
	}
	errs = append(errs, o.overrideScenarios(fs, f, &plan, header, ua, timeout, engineName)...)

	// Request and pool flags override the file's defaults and transport.
	errs = append(errs, o.applyRun(&plan, func(flag string) bool {
		return set(flag) || flag == "engine" && plan.Engine == ""
	})...)
	errs = append(errs, o.overridePool(fs, &plan)...)
	ths, terrs := parseThresholds(o.thresholds)
	errs = append(errs, terrs...)
	errs = append(errs, uncheckable(ths, plan)...)
	if len(errs) > 0 {
		return engine.Plan{}, report.Meta{}, nil, usageError{errors.Join(errs...)}
	}
	if err := plan.Validate(); err != nil {
		return engine.Plan{}, report.Meta{}, nil, usageError{fmt.Errorf("%s with the flags given: %w", f.Path, err)}
	}
	eng, err := engine.New(plan, engine.WithEnv(os.LookupEnv))
	if err != nil {
		return engine.Plan{}, report.Meta{}, nil, usageError{err}
	}
	meta := report.Describe(eng)
	meta.Version, meta.File = Version, f.Path
	meta.Stages = "" // a file's stages are its scenarios'
	return plan, meta, append(append([]threshold.Threshold(nil), f.Thresholds...), ths...), nil
}

// overrideScenarios applies the load flags to every scenario's executor
// (the open model's derived VU bound following the timeout and the engine
// the run will have, then fitted to per-vu data), and -H and the
// User-Agent to their steps.
func (o *runOpts) overrideScenarios(fs *pflag.FlagSet, f *scenario.File, plan *engine.Plan, header map[string][]string, ua string, timeout time.Duration, engineName string) []error {
	var errs []error
	set := fs.Changed
	plan.Scenarios = append([]engine.Scenario(nil), plan.Scenarios...)
	derived := map[string]bool{}
	for i := range plan.Scenarios {
		sc := &plan.Scenarios[i]
		ex, eerrs := o.overrideExecutor(fs, sc.Name, sc.Executor, timeout, engineName)
		if ex.Open() && !set("max-vus") && (f.DerivedMaxVUs[sc.Name] || set("rate") || set("stages")) {
			ex.DeriveVUs(timeout, engineName, false, !set("rate") && !set("stages"))
			ex.PreVUs = min(ex.PreVUs, ex.MaxVUs)
			derived[sc.Name] = true
		}
		errs = append(errs, eerrs...)
		sc.Executor = ex
		sc.Setup = withHeaders(sc.Setup, header, ua)
		sc.Steps = withHeaders(sc.Steps, header, ua)
	}
	source, rows := plan.FitPerVU(derived)
	for _, sc := range plan.Scenarios {
		if derived[sc.Name] {
			fit := ""
			if sc.Executor.MaxVUs < engine.DefaultMaxVUs(sc.Executor.PeakRate(), timeout, engineName) {
				fit = fmt.Sprintf("the %d rows of per-vu data source %s", rows, source)
			}
			o.note("scenario %s: max_vus %s", sc.Name, maxVUsNote(sc.Executor, timeout, engineName, fit))
		}
	}
	return errs
}

// overridePool applies the pool and proxy flags given over the file's
// transport and proxy.
func (o *runOpts) overridePool(fs *pflag.FlagSet, plan *engine.Plan) []error {
	set := fs.Changed
	pool, errs := o.pool(fs)
	t := &plan.Transport
	for flag, apply := range map[string]func(){
		"max-idle-conns":          func() { t.MaxIdleConns = pool.MaxIdleConns },
		"max-idle-conns-per-host": func() { t.MaxIdleConnsPerHost = pool.MaxIdleConnsPerHost },
		"max-conns-per-host":      func() { t.MaxConnsPerHost = pool.MaxConnsPerHost },
		"idle-conn-timeout":       func() { t.IdleConnTimeout = pool.IdleConnTimeout },
		"disable-keepalives":      func() { t.DisableKeepAlives = pool.DisableKeepAlives },
		"dial-timeout":            func() { t.DialTimeout = pool.DialTimeout },
		"tls-handshake-timeout":   func() { t.TLSHandshakeTimeout = pool.TLSHandshakeTimeout },
		"response-header-timeout": func() { t.ResponseHeaderTimeout = pool.ResponseHeaderTimeout },
		"max-header-bytes":        func() { t.MaxResponseHeaderBytes = pool.MaxResponseHeaderBytes },
		"expect-continue-timeout": func() { t.ExpectContinueTimeout = pool.ExpectContinueTimeout },
		"insecure":                func() { t.InsecureSkipVerify = pool.InsecureSkipVerify },
		"cacert":                  func() { t.RootCAsPEM = pool.RootCAsPEM },
		"http":                    func() { t.HTTP = pool.HTTP },
		"h2-max-streams":          func() { t.H2MaxStreams = pool.H2MaxStreams },
		"h2-strict-streams":       func() { t.H2StrictStreams = pool.H2StrictStreams },
		"h2-ping-timeout":         func() { t.H2PingTimeout = pool.H2PingTimeout },
		"max-requests-per-conn":   func() { t.MaxRequestsPerConn = pool.MaxRequestsPerConn },
		"max-conn-lifetime":       func() { t.MaxConnLifetime, t.MaxConnLifetimeJitter = pool.MaxConnLifetime, pool.MaxConnLifetimeJitter },
		"local-addr":              func() { t.LocalAddrs = pool.LocalAddrs },
		"resolve":                 func() { t.Resolve = pool.Resolve },
		"dns-ttl":                 func() { t.DNSTTL = pool.DNSTTL },
		"dns-mode":                func() { t.DNSMode = pool.DNSMode },
		"ip-family":               func() { t.IPFamily = pool.IPFamily },
	} {
		if set(flag) {
			apply()
		}
	}
	// The family and the addresses may come from the file or the flags:
	// each is named as it was given.
	name := func(flag, key string) string {
		if set(flag) {
			return "--" + flag
		}
		return "transport." + key
	}
	if err := transport.FamilyConflict(*t, name("ip-family", "ip_family"), name("local-addr", "local_addr"), name("resolve", "resolve")); err != nil {
		errs = append(errs, usagef("%v", err))
	}
	for _, flag := range []string{"proxy", "proxy-file", "proxy-mode", "proxy-ca", "proxy-from-env"} {
		if set(flag) {
			px, perrs := o.proxy.plan(fs)
			errs = append(errs, perrs...)
			plan.Proxy = px // the flags replace the file's proxy
			break
		}
	}
	return errs
}

// withHeaders adds the -H headers (replacing the file's of the same name)
// and the User-Agent to steps.
func withHeaders(steps []engine.Step, h map[string][]string, ua string) []engine.Step {
	if len(h) == 0 && ua == "" {
		return steps
	}
	out := make([]engine.Step, len(steps))
	for i, st := range steps {
		st.Header = st.Header.Clone()
		if st.Header == nil {
			st.Header = map[string][]string{}
		}
		for k, v := range h {
			st.Header[k] = v
		}
		if st.Header.Get("User-Agent") == "" && ua != "" {
			st.Header.Set("User-Agent", ua)
		}
		out[i] = st
	}
	return out
}

// overrideExecutor applies the load flags to a scenario's executor: -r,
// --stages or --vu-stages replace its model; -c, -n, -d, --max-vus and
// --pre-vus change the parameters that its model has.
func (o *runOpts) overrideExecutor(fs *pflag.FlagSet, name string, ex engine.Executor, timeout time.Duration, eng string) (engine.Executor, []error) {
	set := fs.Changed
	if set("rate") || set("stages") || set("vu-stages") {
		nex, errs := o.executor(fs, timeout, eng)
		if set("rate") && !set("duration") && ex.Duration > 0 {
			nex.Duration = ex.Duration // -r 800 keeps the file's duration
		}
		return nex, errs
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, usagef(format, a...)) }
	closed, open := ex.Type == engine.VUs, ex.Type == engine.ConstantRate
	if set("concurrency") {
		if closed {
			ex.VUs = o.concurrency
		} else {
			bad("-c/--concurrency: scenario %s has executor %s, which has no fixed VUs (use --max-vus for the open model, --vu-stages to ramp)", name, ex.Type)
		}
	}
	if set("requests") {
		if closed {
			ex.Iterations = o.requests
			if !set("duration") {
				ex.Duration = 0 // exactly -n iterations, however long
			}
		} else {
			bad("-n/--requests: scenario %s has executor %s; its length is its duration or stages", name, ex.Type)
		}
	}
	if set("duration") {
		if closed || open {
			ex.Duration = o.duration
			if closed && !set("requests") {
				ex.Iterations = 0
			}
		} else {
			bad("-d/--duration: scenario %s has executor %s, whose stages set its length", name, ex.Type)
		}
	}
	if closed && ex.Iterations > 0 && int64(ex.VUs) > ex.Iterations && (set("concurrency") || set("requests")) {
		o.note("scenario %s: %d VUs is more than its %d iterations: running %d VUs, one iteration each", name, ex.VUs, ex.Iterations, ex.Iterations)
		ex.VUs = int(ex.Iterations)
	}
	for _, flag := range []string{"max-vus", "pre-vus"} {
		if set(flag) && !ex.Open() {
			bad("--%s: scenario %s has executor %s (closed model)", flag, name, ex.Type)
		}
	}
	if set("max-vus") && ex.Open() {
		ex.MaxVUs = o.maxVUs
		ex.PreVUs = min(ex.PreVUs, ex.MaxVUs)
	}
	if set("pre-vus") && ex.Open() {
		ex.PreVUs = o.preVUs
	}
	return ex, errs
}

// parseThresholds parses the --threshold flags.
func parseThresholds(raw []string) ([]threshold.Threshold, []error) {
	var out []threshold.Threshold
	var errs []error
	for _, r := range raw {
		t, err := threshold.Parse(r, "")
		if err != nil {
			errs = append(errs, usagef("--threshold %q: %v", r, err))
			continue
		}
		out = append(out, t)
	}
	return out, errs
}
