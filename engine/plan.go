package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/faya-load/faya/internal/session"
	"github.com/faya-load/faya/transport"
	"golang.org/x/net/http/httpguts"
)

// Plan is everything a run will do. It is plain data: it can be built from
// flags or a scenario file, validated, saved and sent to an agent.
type Plan struct {
	// Scenarios run concurrently over the same connection pool.
	Scenarios []Scenario `json:"scenarios"`

	// Data are the data sources the steps' templates read.
	Data []DataSource `json:"data,omitempty"`

	// Engine is the HTTP client engine: EngineH1 (the default, faya's own
	// HTTP/1.1 engine) or EngineNetHTTP (Go's net/http, what Go services
	// use). Both measure the same things.
	Engine string `json:"engine,omitempty"`

	// Transport configures the connection pool. A zero Concurrency is set
	// to the plan's VUs (per VU with ConnScope "vu": 1).
	Transport transport.Config `json:"transport"`

	// ConnScope says whether all VUs share one pool ("shared", the
	// default) or each VU has its own ("vu"), as browsers and Locust users
	// do. With "vu", the pool limits apply to each VU's pool.
	ConnScope ConnScope `json:"conn_scope,omitempty"`

	// Timeout bounds each request, body included. 0 means 30s.
	Timeout time.Duration `json:"timeout,omitempty"`

	// MaxBody caps the response bytes read per request; a longer body is
	// cut there and its connection closed. 0 means DefaultMaxBody;
	// negative means no cap.
	MaxBody int64 `json:"max_body,omitempty"`

	// MaxRedirects is how many redirects a request follows. 0 means
	// DefaultMaxRedirects; negative means none (the 3xx is the answer).
	MaxRedirects int `json:"max_redirects,omitempty"`

	// GracefulStop is how long iterations in flight may run on once the
	// run stops (its end, or the first Ctrl-C); then their requests are
	// canceled and counted as interrupted. 0 means DefaultGracefulStop;
	// negative means cancel at once.
	GracefulStop time.Duration `json:"graceful_stop,omitempty"`

	// LateThreshold is the schedule lag above which an open-model
	// iteration counts as late. 0 means DefaultLateThreshold.
	LateThreshold time.Duration `json:"late_threshold,omitempty"`

	// Proxy says which proxies requests go through (none by default).
	Proxy ProxyPlan `json:"proxy,omitzero"`

	// Pipeline, above 1, is HTTP/1.1 pipelining: each VU writes that many
	// requests on its connection before it reads their answers, in order.
	// Only for the h1 engine, a closed-model scenario of one static GET or
	// HEAD step, direct connections with keep-alives. 0 and 1 mean off.
	Pipeline int `json:"pipeline,omitempty"`
}

// MaxPipeline bounds Plan.Pipeline.
const MaxPipeline = 1024

// Plan defaults.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMaxBody      = 64 << 20
	DefaultMaxRedirects = 10

	DefaultGracefulStop  = 10 * time.Second
	DefaultLateThreshold = 10 * time.Millisecond
)

// The open model's default VU bounds, in one place for the command line
// and scenario files.
const (
	// MinDefaultMaxVUs is the least DefaultMaxVUs gives.
	MinDefaultMaxVUs = 10
	// DefaultVUMemory bounds the memory DefaultMaxVUs lets the VUs take,
	// at VUMemory each.
	DefaultVUMemory = 256 << 20
)

// DefaultMaxVUs is the open model's bound on VUs when none is given: the
// peak rate times the request timeout (0: DefaultTimeout), rounded up.
// That is what the rate needs when every request takes the whole timeout,
// so a first run against a slow target keeps its schedule instead of
// dropping arrivals; VUs start only as they are needed, and an arrival
// that finds them all busy is still dropped and counted. It is at least
// MinDefaultMaxVUs, and at most DefaultVUMemory / VUMemory(engine).
func DefaultMaxVUs(peak Rate, timeout time.Duration, engine string) int {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return int(max(min(arrivalsIn(peak, timeout), int64(MaxDefaultVUs(engine))), MinDefaultMaxVUs))
}

// arrivalsIn is the arrivals at rate r in d, rounded up, exactly (at most
// math.MaxInt64).
func arrivalsIn(r Rate, d time.Duration) int64 {
	if r.Count <= 0 || r.Per <= 0 || d <= 0 {
		return 0
	}
	q, rem := new(big.Int).QuoRem(new(big.Int).Mul(big.NewInt(r.Count), big.NewInt(int64(d))), big.NewInt(int64(r.Per)), new(big.Int))
	if rem.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return math.MaxInt64
	}
	return q.Int64()
}

// FitPerVU lowers the MaxVUs of the open-model scenarios that derived
// names (their bound is a default, not the user's), so that the plan's
// VUs fit the rows of its smallest per-vu data source, which gives every
// VU a row of its own; never below 1. It returns that source and its rows
// ("", 0 when the plan has none).
func (p *Plan) FitPerVU(derived map[string]bool) (string, int) {
	source, rows := "", 0
	for _, ds := range p.Data {
		if ds.Mode == DataPerVU && len(ds.Rows) > 0 && (rows == 0 || len(ds.Rows) < rows) {
			source, rows = ds.Name, len(ds.Rows)
		}
	}
	if rows == 0 {
		return "", 0
	}
	over := p.VUs() - rows
	for i := range p.Scenarios {
		ex := &p.Scenarios[i].Executor
		if over <= 0 {
			break
		}
		if !derived[p.Scenarios[i].Name] || !ex.Open() {
			continue
		}
		cut := min(over, ex.MaxVUs-1)
		ex.MaxVUs -= cut
		ex.PreVUs = min(ex.PreVUs, ex.MaxVUs)
		over -= cut
	}
	return source, rows
}

// DeriveVUs sets the open model's VU bounds the user did not give, in
// one way for the command line and scenario files: MaxVUs to
// DefaultMaxVUs of the peak rate, the request timeout (0:
// DefaultTimeout) and the engine, unless maxGiven; PreVUs to
// DefaultPreVUs of the peak rate and MaxVUs, unless preGiven.
func (e *Executor) DeriveVUs(timeout time.Duration, engine string, maxGiven, preGiven bool) {
	if !maxGiven {
		e.MaxVUs = DefaultMaxVUs(e.PeakRate(), timeout, engine)
	}
	if !preGiven {
		e.PreVUs = DefaultPreVUs(e.PeakRate(), e.MaxVUs)
	}
}

// MaxDefaultVUs is the most VUs DefaultMaxVUs gives for an engine.
func MaxDefaultVUs(engine string) int { return int(DefaultVUMemory / VUMemory(engine)) }

// DefaultPreVUs is the open model's VUs allocated before the start when
// none are given: the peak rate times 2ms, rounded up, at least 1, at most
// maxVUs.
func DefaultPreVUs(peak Rate, maxVUs int) int {
	return int(min(int64(maxVUs), max(1, arrivalsIn(peak, 2*time.Millisecond))))
}

// VUMemory estimates the memory one busy VU takes with its connection, by
// engine: a goroutine, its buffers, the connection's (measured at 10,000
// VUs against nginx: about 18 KiB on h1, 56 KiB on net/http, with its two
// goroutines and bufio buffers per connection; docs/performance.md).
func VUMemory(engine string) int64 {
	if engine == EngineNetHTTP {
		return 64 << 10
	}
	return 20 << 10
}

// Engines.
const (
	EngineH1      = "h1"
	EngineNetHTTP = "net/http"
)

// Engines returns the HTTP engines a Plan may name, the default first.
// The behavioural tests run against each (internal/enginetest).
func Engines() []string { return []string{EngineH1, EngineNetHTTP} }

// SpeaksH2 reports whether the engine named speaks HTTP/2 when --http 2
// asks for it: both do (net/http: Go's own HTTP/2; the default engine:
// internal/h2, directly or through a proxy's tunnel).
func SpeaksH2(name string) bool { return name == EngineNetHTTP || name == EngineH1 }

// AutoH2 reports whether the engine named offers h2 by ALPN with --http
// auto, as Go's http.Transport does: both do (the default engine hands
// each connection to its HTTP/2 or HTTP/1.1 pool by the server's pick,
// and remembers the pick per destination).
func AutoH2(name string) bool { return name == EngineNetHTTP || name == EngineH1 }

// OffersH2 reports whether the plan offers HTTP/2: --http 2, or auto
// with an engine that speaks it and a step whose URL is https (with the
// default engine, not when it pipelines: pipelining is HTTP/1.1's).
func (p Plan) OffersH2() bool {
	switch p.Transport.HTTP {
	case transport.HTTP2:
		return true
	case transport.HTTPAuto:
		eng := p.withDefaults().Engine
		if !AutoH2(eng) || eng == EngineH1 && p.Pipeline > 1 {
			return false
		}
		for _, sc := range p.Scenarios {
			for _, st := range append(append([]Step(nil), sc.Setup...), sc.Steps...) {
				if len(st.URL) >= 8 && strings.EqualFold(st.URL[:8], "https://") {
					return true
				}
			}
		}
	}
	return false
}

// ConnScope is the reach of a connection pool.
type ConnScope string

// Connection scopes.
const (
	ScopeShared ConnScope = "shared"
	ScopeVU     ConnScope = "vu"
)

// Scenario is one named workload: an executor, the steps each VU runs once
// before its first iteration (Setup: the login), and the steps of each
// iteration. A scenario written in Go sets Func instead of steps.
type Scenario struct {
	Name     string   `json:"name"`
	Executor Executor `json:"executor"`
	Setup    []Step   `json:"setup,omitempty"`
	Steps    []Step   `json:"steps"`
	// ResetCookies empties each VU's cookie jar before every iteration;
	// by default the jar lives as long as the VU, as a browser's does.
	ResetCookies bool `json:"reset_cookies,omitempty"`
	// Func, when set, runs the scenario as Go code (Steps must be empty).
	Func *Func `json:"-"`
}

// Func is a scenario written in Go. Every request made through the VU's
// Client is traced and measured like a file-driven step.
type Func struct {
	// Setup runs once per VU: as it starts in the closed model, before
	// its first iteration in the open model. Its requests are measured
	// apart from the iterations'. A returned error is a failed check of
	// a step named "setup" and stops the VU (a user who cannot log in
	// does not browse).
	Setup func(ctx context.Context, vu *VU) error
	// Iteration runs each iteration. A returned error counts as a failed
	// check of a step named "iteration"; the VU goes on.
	Iteration func(ctx context.Context, vu *VU) error
}

// ExecutorType names how a scenario schedules iterations.
type ExecutorType string

// Executor types.
const (
	// VUs is the closed model: a fixed number of VUs, each starting its
	// next iteration when the last one ended.
	VUs ExecutorType = "vus"
	// ConstantRate is the open model: iterations start at a constant
	// arrival rate, whether or not earlier ones have finished.
	ConstantRate ExecutorType = "rate"
	// RampingVUs is the closed model with the number of VUs following
	// stages.
	RampingVUs ExecutorType = "ramping-vus"
	// RampingRate is the open model with the arrival rate following
	// stages.
	RampingRate ExecutorType = "ramping-rate"
)

// Executor says how a scenario schedules iterations. Which fields apply
// depends on Type.
type Executor struct {
	Type ExecutorType `json:"type"`
	// VUs is the number of virtual users (vus).
	VUs int `json:"vus,omitempty"`
	// Iterations, when positive, is the exact number of iterations run
	// in total, split evenly among the VUs (vus): VU i runs
	// Iterations/VUs, one more while i < Iterations mod VUs.
	Iterations int64 `json:"iterations,omitempty"`
	// Duration, when positive, stops new iterations after this long (vus);
	// the length of the schedule (rate).
	Duration time.Duration `json:"duration,omitempty"`
	// Rate is the arrival rate (rate).
	Rate Rate `json:"rate,omitzero"`
	// Stages are the arrival rate's stages (ramping-rate).
	Stages []RateStage `json:"stages,omitempty"`
	// VUStages are the active VUs' stages (ramping-vus).
	VUStages []VUStage `json:"vu_stages,omitempty"`
	// PreVUs are allocated before the start; MaxVUs bounds the VUs (and,
	// by default, the connections) an open-model executor may use. When
	// all MaxVUs are busy, an iteration is dropped (rate, ramping-rate).
	PreVUs int `json:"pre_vus,omitempty"`
	MaxVUs int `json:"max_vus,omitempty"`
}

// Length is how long the executor schedules iterations; 0 when only an
// iteration count bounds it.
func (e Executor) Length() time.Duration {
	switch e.Type {
	case RampingRate:
		var d time.Duration
		for _, st := range e.Stages {
			d += st.Duration
		}
		return d
	case RampingVUs:
		var d time.Duration
		for _, st := range e.VUStages {
			d += st.Duration
		}
		return d
	}
	return e.Duration
}

// rateStages returns the arrival rate's stages.
func (e Executor) rateStages() []RateStage {
	if e.Type == ConstantRate {
		return []RateStage{{Duration: e.Duration, From: e.Rate, To: e.Rate}}
	}
	return e.Stages
}

// PeakVUs is the most VUs the executor can run at once.
func (e Executor) PeakVUs() int {
	switch e.Type {
	case ConstantRate, RampingRate:
		return e.MaxVUs
	case RampingVUs:
		n := 0
		for _, st := range e.VUStages {
			n = max(n, st.From, st.To)
		}
		return n
	}
	return e.VUs
}

// PeakRate is the highest arrival rate of an open-model executor.
func (e Executor) PeakRate() Rate {
	peak := Rate{}
	for _, st := range e.rateStages() {
		for _, r := range []Rate{st.From, st.To} {
			if r.perNS().Cmp(peak.perNS()) > 0 {
				peak = r
			}
		}
	}
	return peak
}

// Open reports whether the executor is an open model.
func (e Executor) Open() bool { return e.Type == ConstantRate || e.Type == RampingRate }

// Step is one HTTP request, with what to do with its response. URL,
// header values, Body (unless RawBody) and the expected values of JSON
// checks may be templates (see internal/session): {{ .vars.NAME }}, {{ .data.SOURCE.COL }},
// {{ .vu }}, {{ .iter }}, {{ env "NAME" }}, {{ randInt 1 9 }}, {{ uuid }}.
type Step struct {
	// Name labels the step's own metrics; empty: "METHOD path".
	Name   string      `json:"name,omitempty"`
	Method string      `json:"method"`
	URL    string      `json:"url"`
	Header http.Header `json:"header,omitempty"`
	Body   []byte      `json:"body,omitempty"`
	// RawBody sends Body as given, not as a template: the command line's
	// body, a binary upload.
	RawBody bool `json:"raw_body,omitempty"`
	// JSON, in place of Body, is a JSON body given as a value of maps,
	// lists, strings, numbers, booleans and nulls (as encoding/json takes
	// them; Content-Type application/json unless the step sets one). A
	// string in it may be a template: its rendered text is sent as a
	// JSON string, escaped.
	JSON any `json:"json,omitempty"`
	// Query parameters are added to the URL; Form parameters are the body
	// (application/x-www-form-urlencoded, in place of Body). Values may be
	// templates; they are encoded after rendering.
	Query []Param `json:"query,omitempty"`
	Form  []Param `json:"form,omitempty"`
	// Think is the pause after the step: Min, or a uniform pick in
	// [Min, Max].
	Think Think `json:"think,omitzero"`
	// Extract reads values of the response into the VU's variables.
	Extract []Extract `json:"extract,omitempty"`
	// Check asserts on the response; failed checks are counted per step.
	Check Check `json:"check,omitzero"`
}

// Param is a query or form parameter.
type Param struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Think is a pause.
type Think struct {
	Min time.Duration `json:"min,omitempty"`
	Max time.Duration `json:"max,omitempty"`
}

// Extract reads one value of a response into a variable: exactly one of
// JSON (a path: items.0.id, or $.items[0].id), Regex (its first group, or
// the match, in the body), Header, Cookie (a cookie in the jar after the
// response).
type Extract struct {
	Var    string `json:"var"`
	JSON   string `json:"json,omitempty"`
	Regex  string `json:"regex,omitempty"`
	Header string `json:"header,omitempty"`
	Cookie string `json:"cookie,omitempty"`
}

// Check asserts on a response.
type Check struct {
	Status       []int             `json:"status,omitempty"`
	BodyContains []string          `json:"body_contains,omitempty"`
	JSON         map[string]string `json:"json,omitempty"` // path -> expected value (a template)
	// OnFailure: "continue" (the default: count it and go on),
	// "abort-iteration" (skip the iteration's remaining steps), or
	// "stop-vu" (the VU runs no more iterations).
	OnFailure string `json:"on_failure,omitempty"`
}

// Has reports whether the check asserts anything (a status, a body
// substring or a JSON value).
func (c Check) Has() bool { return len(c.Status)+len(c.BodyContains)+len(c.JSON) > 0 }

// OnFailure values.
const (
	FailContinue       = "continue"
	FailAbortIteration = "abort-iteration"
	FailStopVU         = "stop-vu"
)

// DataSource is a table of rows VUs take values from, as
// {{ .data.NAME.COLUMN }}.
type DataSource struct {
	Name    string     `json:"name"`
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
	// Mode says how VUs take rows: "per-vu" (each VU keeps its own row,
	// rows split across VUs: there must be a row per VU), "sequential"
	// (each iteration takes the next row, round robin), "random" (a
	// random row each iteration).
	Mode string `json:"mode"`
}

// Data source modes.
const (
	DataPerVU      = "per-vu"
	DataSequential = "sequential"
	DataRandom     = "random"
)

// withDefaults returns p with zero values replaced by their defaults.
func (p Plan) withDefaults() Plan {
	if p.ConnScope == "" {
		p.ConnScope = ScopeShared
	}
	if p.Engine == "" {
		p.Engine = EngineH1
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultTimeout
	}
	if p.MaxBody == 0 {
		p.MaxBody = DefaultMaxBody
	}
	if p.MaxRedirects == 0 {
		p.MaxRedirects = DefaultMaxRedirects
	}
	if p.GracefulStop == 0 {
		p.GracefulStop = DefaultGracefulStop
	}
	if p.GracefulStop < 0 {
		p.GracefulStop = 0
	}
	if p.LateThreshold == 0 {
		p.LateThreshold = DefaultLateThreshold
	}
	if p.Transport.Concurrency == 0 {
		if p.ConnScope == ScopeVU {
			p.Transport.Concurrency = 1
		} else {
			p.Transport.Concurrency = p.VUs()
		}
	}
	if p.Transport.UserAgent == "" {
		// CONNECT requests carry the run's User-Agent: the first step's.
		for _, sc := range p.Scenarios {
			for _, st := range slices.Concat(sc.Setup, sc.Steps) {
				if ua := st.Header.Get("User-Agent"); ua != "" && !strings.Contains(ua, "{{") {
					p.Transport.UserAgent = ua
					break
				}
			}
			if p.Transport.UserAgent != "" {
				break
			}
		}
	}
	p.Scenarios = slices.Clone(p.Scenarios)
	for i := range p.Scenarios {
		sc := &p.Scenarios[i]
		sc.Steps = slices.Clone(sc.Steps)
		sc.Setup = slices.Clone(sc.Setup)
		for _, list := range [][]Step{sc.Steps, sc.Setup} {
			for j := range list {
				if list[j].Method == "" {
					list[j].Method = http.MethodGet
				}
			}
		}
	}
	p.Data = slices.Clone(p.Data)
	for i := range p.Data {
		if p.Data[i].Mode == "" {
			p.Data[i].Mode = DataSequential
		}
	}
	return p
}

// VUs is the number of VUs the plan can run at once: the sum over its
// scenarios of their VUs (closed model) or MaxVUs (open model).
func (p Plan) VUs() int {
	n := 0
	for _, s := range p.Scenarios {
		n += s.Executor.PeakVUs()
	}
	return n
}

// Validate reports every problem with p, joined. Each names the field and
// what would fix it.
func (p Plan) Validate() error {
	errs := p.fieldErrors()
	if len(errs) == 0 {
		q := p.withDefaults()
		if _, err := q.compileSteps(nil); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// fieldErrors are the plan's problems outside its steps (which compile
// finds).
func (p Plan) fieldErrors() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if len(p.Scenarios) == 0 {
		add("plan has no scenarios")
	}
	switch p.Engine {
	case "", EngineH1, EngineNetHTTP:
	default:
		add("engine %q: want %q or %q", p.Engine, EngineH1, EngineNetHTTP)
	}
	switch p.ConnScope {
	case "", ScopeShared, ScopeVU:
	default:
		add("conn scope %q: want %q or %q", p.ConnScope, ScopeShared, ScopeVU)
	}
	if p.Timeout < 0 {
		add("timeout %v: must not be negative", p.Timeout)
	}
	if p.LateThreshold < 0 {
		add("late threshold %v: must not be negative", p.LateThreshold)
	}
	if err := p.Transport.Validate(); err != nil {
		errs = append(errs, err)
	}
	if !p.Proxy.FromEnv {
		if _, err := newProxySet(p.Proxy, func(string) string { return "" }); err != nil {
			errs = append(errs, err)
		}
	} else if len(p.Proxy.URLs) > 0 {
		add("proxies from the environment and proxy URLs both given: use one")
	}
	for i, s := range p.Scenarios {
		name := s.Name
		if name == "" {
			name = fmt.Sprint(i)
		}
		if u, ok := s.validate().(interface{ Unwrap() []error }); ok {
			for _, err := range u.Unwrap() {
				errs = append(errs, fmt.Errorf("scenario %s: %w", name, err))
			}
		}
	}
	seen := map[string]bool{}
	for _, ds := range p.Data {
		switch {
		case ds.Name == "":
			add("a data source needs a name")
		case seen[ds.Name]:
			add("data source %q is defined twice", ds.Name)
		}
		seen[ds.Name] = true
		if len(ds.Columns) == 0 {
			add("data source %q has no columns", ds.Name)
		}
		if len(ds.Rows) == 0 {
			add("data source %q has no rows", ds.Name)
		}
		switch ds.Mode {
		case "", DataPerVU, DataSequential, DataRandom:
		default:
			add("data source %q: mode %q: want %s, %s or %s", ds.Name, ds.Mode, DataPerVU, DataSequential, DataRandom)
		}
		if ds.Mode == DataPerVU && len(ds.Rows) > 0 && len(ds.Rows) < p.VUs() {
			add("data source %q has %d rows for %d VUs: mode %s gives each VU a row of its own; add rows or use mode %s", ds.Name, len(ds.Rows), p.VUs(), DataPerVU, DataSequential)
		}
	}
	if p.Transport.HTTP == transport.HTTP2 && p.withDefaults().Engine == EngineH1 {
		if px, u := p.forwardedH2C(); px != "" {
			add("--http 2 (a scenario file's http: 2) with the http:// URL %s through the HTTP proxy %s: an HTTP proxy forwards HTTP/1.1 requests, so HTTP/2 without TLS (h2c) cannot go through it: use an https:// URL (HTTP/2 by ALPN through a CONNECT tunnel), a socks5:// proxy (a tunnel), or --http 1.1", u, px)
		}
	}
	if t := p.Transport; (t.H2StrictStreams || t.H2MaxStreams > 0) && p.withDefaults().Engine == EngineNetHTTP && (len(p.Proxy.URLs) > 0 || p.Proxy.FromEnv) {
		add("--h2-max-streams, --h2-strict-streams (transport.h2_*) with --engine net/http apply to direct connections only: through a proxy Go's own HTTP/2 pool runs, which has neither; drop them or the proxy")
	}
	if t := p.Transport; t.H2MaxStreams != 0 || t.H2StrictStreams || t.H2PingTimeout != 0 {
		switch {
		case t.HTTP == transport.HTTP1:
			add("--h2-max-streams, --h2-strict-streams, --h2-ping-timeout (transport.h2_*) do nothing with --http 1.1: drop them, or use --http auto or 2")
		}
	}
	if p.Pipeline > 1 && p.Transport.HTTP == transport.HTTP2 {
		add("pipeline %d: HTTP/2 does not pipeline (its streams are concurrent): drop --pipeline or use --http 1.1", p.Pipeline)
	}
	if p.Pipeline < 0 || p.Pipeline > MaxPipeline {
		add("pipeline %d: want 1 (off) to %d requests in flight per connection", p.Pipeline, MaxPipeline)
	}
	return errs
}

// forwardedH2C returns the first HTTP proxy of the plan's list (redacted)
// that would forward a step's http:// URL (and that URL), "" when none:
// with --http 2 the default engine cannot send h2c through it. Proxies
// from the environment are judged per request (ForwardedH2CError).
func (p *Plan) forwardedH2C() (proxy, rawURL string) {
	var fwd string
	for _, raw := range p.Proxy.URLs {
		if px, err := transport.ParseProxy(raw, nil); err == nil && px.Forwards(false) {
			fwd = px.String()
			break
		}
	}
	if fwd == "" {
		return "", ""
	}
	for _, sc := range p.Scenarios {
		for _, st := range append(append([]Step(nil), sc.Setup...), sc.Steps...) {
			if hasPrefixFold(st.URL, "http://") {
				host := st.URL
				if u, err := url.Parse(st.URL); err == nil {
					host = "http://" + u.Host + "/" // the path and query may hold what the report never shows
				}
				return fwd, host
			}
		}
	}
	return "", ""
}

// compileSteps compiles the steps of p (its defaults applied): env, when
// not nil, is where {{ env }} looks. It returns the steps' problems and
// why the plan cannot pipeline, if it cannot.
func (p *Plan) compileSteps(env session.Env) ([]*cscenario, error) {
	cs, err := compile(p, env)
	if err != nil {
		return nil, err
	}
	if p.Pipeline > 1 {
		if errs := p.pipelineErrors(cs); len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
	}
	return cs, nil
}

// pipelineErrors says why the plan cannot pipeline, if it cannot.
func (p Plan) pipelineErrors(cs []*cscenario) []error {
	var errs []error
	add := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("pipeline %d: "+format, append([]any{p.Pipeline}, a...)...))
	}
	if p.Engine == EngineNetHTTP {
		add("net/http does not pipeline; use the h1 engine")
	}
	if len(p.Proxy.URLs) > 0 || p.Proxy.FromEnv {
		add("not through proxies")
	}
	if p.Transport.DisableKeepAlives {
		add("needs keep-alives")
	}
	if p.Transport.MaxRequestsPerConn > 0 || p.Transport.MaxConnLifetime > 0 {
		add("a pipelined connection is not rotated; drop --max-requests-per-conn and --max-conn-lifetime, or the pipelining")
	}
	if p.Transport.ResponseHeaderTimeout > 0 {
		add("a response-header timeout does not apply to pipelined answers; drop it (the whole-request timeout applies)")
	}
	for i, c := range cs {
		name := c.sc.Name
		if name == "" {
			name = fmt.Sprint(i)
		}
		if c.sc.Executor.Type != VUs {
			add("scenario %s: only the closed model with a fixed number of VUs (-c), not %q", name, c.sc.Executor.Type)
		}
		if !c.plain(&p) {
			add("scenario %s: only one static step without setup, data, extraction, checks or think time", name)
			continue
		}
		switch m := c.steps[0].Method; m {
		case "", http.MethodGet, http.MethodHead:
		default:
			add("scenario %s: only GET and HEAD (idempotent, no body) are pipelined, not %s", name, m)
		}
		if len(c.steps[0].Body) > 0 || c.steps[0].JSON != nil {
			add("scenario %s: a request with a body is not pipelined", name)
		}
	}
	return errs
}

func (s Scenario) validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	e := s.Executor
	switch e.Type {
	case VUs:
		if e.VUs <= 0 {
			add("vus %d: must be at least 1", e.VUs)
		}
		if e.Iterations < 0 {
			add("iterations %d: must not be negative", e.Iterations)
		}
		if e.Duration < 0 {
			add("duration %v: must not be negative", e.Duration)
		}
		if e.Iterations == 0 && e.Duration == 0 {
			add("executor %q needs iterations or a duration", e.Type)
		}
	case ConstantRate:
		if e.Duration <= 0 {
			add("executor %q needs a positive duration", e.Type)
		}
		if e.Rate.Count <= 0 || e.Rate.Per <= 0 {
			add("executor %q needs a positive rate", e.Type)
		}
		validateVUBounds(e, add)
	case RampingRate:
		if len(e.Stages) == 0 {
			add("executor %q needs stages", e.Type)
		}
		for i, st := range e.Stages {
			if st.Duration <= 0 {
				add("stage %d: duration %v must be positive", i+1, st.Duration)
			}
			if st.From.Count < 0 || st.To.Count < 0 || (st.From.Count > 0 && st.From.Per <= 0) || (st.To.Count > 0 && st.To.Per <= 0) {
				add("stage %d: rates must not be negative", i+1)
			}
		}
		if e.PeakRate().IsZero() {
			add("executor %q: every stage has rate 0, so nothing would be sent", e.Type)
		}
		validateVUBounds(e, add)
	case RampingVUs:
		if len(e.VUStages) == 0 {
			add("executor %q needs stages", e.Type)
		}
		for i, st := range e.VUStages {
			if st.Duration <= 0 {
				add("stage %d: duration %v must be positive", i+1, st.Duration)
			}
			if st.From < 0 || st.To < 0 {
				add("stage %d: VUs must not be negative", i+1)
			}
		}
		if e.PeakVUs() == 0 && len(e.VUStages) > 0 {
			add("executor %q: every stage has 0 VUs, so nothing would be sent", e.Type)
		}
	default:
		add("executor type %q: want one of %q, %q, %q, %q", e.Type, VUs, ConstantRate, RampingVUs, RampingRate)
	}
	if e.Length() > maxRunLength {
		add("the executor runs %v, longer than the %v faya supports", e.Length(), maxRunLength)
	}
	switch {
	case s.Func != nil && (len(s.Steps) > 0 || len(s.Setup) > 0):
		add("a scenario written in Go (Func) has no steps")
	case s.Func != nil && s.Func.Iteration == nil:
		add("Func.Iteration is nil")
	case s.Func == nil && len(s.Steps) == 0:
		add("no steps")
	}
	return errors.Join(errs...)
}

// maxRunLength bounds an executor's length (a year), far inside what the
// schedule arithmetic handles.
const maxRunLength = 365 * 24 * time.Hour

func validateVUBounds(e Executor, add func(string, ...any)) {
	if e.MaxVUs <= 0 {
		add("max VUs %d: must be at least 1", e.MaxVUs)
	}
	if e.PreVUs < 0 {
		add("pre-allocated VUs %d: must not be negative", e.PreVUs)
	}
	if e.PreVUs > e.MaxVUs && e.MaxVUs > 0 {
		add("pre-allocated VUs %d: more than max VUs %d", e.PreVUs, e.MaxVUs)
	}
}

// Validate checks the step's method, URL and headers.
func (st Step) Validate() error {
	var errs []error
	if st.Method != "" && !httpguts.ValidHeaderFieldName(st.Method) {
		errs = append(errs, fmt.Errorf("method %q is not a valid HTTP token", st.Method))
	}
	if err := ValidateURL(st.URL); err != nil {
		errs = append(errs, err)
	}
	for name, vals := range st.Header {
		if !httpguts.ValidHeaderFieldName(name) {
			errs = append(errs, fmt.Errorf("header name %q is not a valid HTTP token", name))
		}
		for _, v := range vals {
			if !httpguts.ValidHeaderFieldValue(v) {
				errs = append(errs, fmt.Errorf("header %s: value %q has characters not allowed in a header", name, v))
			}
		}
	}
	return errors.Join(errs...)
}

// ValidateURL checks that raw is an absolute http or https URL with a host.
func ValidateURL(raw string) error {
	if raw == "" {
		return errors.New("URL is empty: give one like http://127.0.0.1:8080/")
	}
	if !strings.Contains(raw, "://") {
		return fmt.Errorf("URL %q has no scheme: write it as http://%s or https://%s", raw, raw, raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("URL %q: %w", raw, unwrapURLError(err))
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	case "":
		return fmt.Errorf("URL %q has no scheme: write it as http://%s or https://%s", raw, raw, raw)
	default:
		return fmt.Errorf("URL %q: scheme %q is not supported: use http or https", raw, u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("URL %q has no host: write it as %s://HOST[:PORT]/PATH", raw, u.Scheme)
	}
	if p := u.Port(); p != "" {
		var n int
		if _, err := fmt.Sscan(p, &n); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("URL %q: port %q must be a number from 1 to 65535", raw, p)
		}
	}
	return nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
