package report_test

import (
	"context"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/report"
	"github.com/faya-load/faya/transport"
)

// Describe says what the engine will run, with the plan's defaults
// applied and the secrets redacted: the first scenario's request and
// executor, each scenario, the pool after its defaults, the proxies.
func TestDescribe(t *testing.T) {
	rate, err := engine.ParseRate("50/s")
	if err != nil {
		t.Fatal(err)
	}
	plan := engine.Plan{
		Engine: engine.EngineNetHTTP,
		Scenarios: []engine.Scenario{
			{Name: "browse", Executor: engine.Executor{Type: engine.VUs, VUs: 3, Iterations: 30},
				Setup: []engine.Step{{Name: "login", Method: http.MethodPost, URL: "http://127.0.0.1:1/login"}},
				Steps: []engine.Step{{URL: "http://user:secret@127.0.0.1:1/items"}, {URL: "http://127.0.0.1:1/me"}}},
			{Name: "buyers", Executor: engine.Executor{Type: engine.ConstantRate, Rate: rate, Duration: time.Minute, MaxVUs: 7, PreVUs: 2},
				Steps: []engine.Step{{URL: "http://127.0.0.1:1/buy"}}},
			{Name: "ramp", Executor: engine.Executor{Type: engine.RampingVUs, VUStages: []engine.VUStage{{Duration: 10 * time.Second, To: 5}}},
				Steps: []engine.Step{{URL: "http://127.0.0.1:1/"}}},
		},
		Transport: transport.Config{MaxIdleConns: -1, ResponseHeaderTimeout: time.Second},
		MaxBody:   -1,
		Proxy:     engine.ProxyPlan{URLs: []string{"http://127.0.0.1:3128", "socks5://u:pw@127.0.0.1:1080"}},
	}
	e, err := engine.New(plan)
	if err != nil {
		t.Fatal(err)
	}
	m := report.Describe(e)
	if !regexp.MustCompile(`^\S+$`).MatchString(m.Version) {
		t.Errorf("version %q: want faya's version, one word", m.Version)
	}
	want := report.Meta{
		Version: m.Version,
		URL:     "http://user:xxxxx@127.0.0.1:1/items", Method: http.MethodGet, Engine: string(engine.EngineNetHTTP),
		Executor: string(engine.VUs), VUs: 15, Requests: 30, ConnScope: string(engine.ScopeShared),
		Timeout: engine.DefaultTimeout,
		Pool: report.Pool(transport.Config{Concurrency: 15, MaxConnsPerHost: 15, MaxIdleConnsPerHost: 15, MaxIdleConns: -1,
			IdleConnTimeout: transport.DefaultIdleConnTimeout, DialTimeout: transport.DefaultDialTimeout,
			TLSHandshakeTimeout: transport.DefaultTLSHandshakeTimeout, ResponseHeaderTimeout: time.Second,
			MaxResponseHeaderBytes: transport.DefaultMaxResponseHeaderBytes, ExpectContinueTimeout: transport.DefaultExpectContinueTimeout}),
		MaxVUs:        15, // every scenario's VUs
		GracefulStop:  engine.DefaultGracefulStop,
		LateThreshold: engine.DefaultLateThreshold,
		MaxBody:       0, // no cap
		Scenarios: []report.ScenarioMeta{
			{Name: "browse", Executor: "vus", VUs: 3, Iterations: 30, SetupSteps: 1, Steps: 2},
			{Name: "buyers", Executor: "rate", Rate: "50", Duration: time.Minute, PreVUs: 2, MaxVUs: 7, Steps: 1},
			{Name: "ramp", Executor: "ramping-vus", VUs: 5, Duration: 10 * time.Second, Stages: "10s:0-5", Steps: 1},
		},
		Proxies:   []string{"http://127.0.0.1:3128", "socks5://u:xxxxx@127.0.0.1:1080"},
		ProxyMode: string(engine.ProxyPerVU),
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("Describe:\n%+v\nwant:\n%+v", m, want)
	}
}

// A scenario written in Go has no request to name: the report names the
// scenario, and says how it ran.
func TestDescribeFunc(t *testing.T) {
	e, err := engine.New(engine.Plan{Scenarios: []engine.Scenario{{
		Name:     "browse",
		Executor: engine.Executor{Type: engine.VUs, VUs: 2, Iterations: 4},
		Func:     &engine.Func{Iteration: func(context.Context, *engine.VU) error { return nil }},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := report.Text(&out, report.Build(report.Run{Meta: report.Describe(e), Result: *res})); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(out.String(), "\n", 3)
	if !regexp.MustCompile(`^faya \S+: scenario browse$`).MatchString(lines[0]) || lines[1] != "  closed model: 2 VUs, 4 requests, h1 engine, one shared pool" {
		t.Errorf("the report's header:\n%s\n%s\nwant: faya VERSION: scenario browse, then the model", lines[0], lines[1])
	}
}

// Several scenarios without a file: the header lists them, as for a
// scenario file.
func TestTextManyScenarios(t *testing.T) {
	run := scenarioFixture()
	run.Meta.File = ""
	var out strings.Builder
	if err := report.Text(&out, report.Build(run)); err != nil {
		t.Fatal(err)
	}
	want := "faya test: 2 scenarios\n  browse: closed model, 10 VUs, 100 iterations, 1 step of setup per VU; 2 steps\n"
	if got := out.String(); !strings.HasPrefix(got, want) {
		t.Errorf("header:\n%s\nwant it to start with:\n%s", got[:min(len(got), 200)], want)
	}
	page := renderHTML(t, report.Build(run))
	for _, want := range []string{"<title>faya report: 2 scenarios</title>", `<p class="target mono">2 scenarios</p>`, "<tr><td>buyers</td><td>open model, 50/s for 1m0s, at most 10 VUs</td><td>1 step</td></tr>"} {
		if !strings.Contains(page, want) {
			t.Errorf("the HTML page lacks %s", want)
		}
	}
}

// The findings get the plan's load over time from the stages Describe
// wrote (a saved run carries only those): ramping VUs, ramping rates
// (an exponent's dash is not the stages' dash), and none for a constant
// load, several scenarios or stages that do not read back.
func TestDiagnoseStages(t *testing.T) {
	small, err := engine.ParseRate("0.00001")
	if err != nil {
		t.Fatal(err)
	}
	big, err := engine.ParseRate("2000")
	if err != nil {
		t.Fatal(err)
	}
	one := func(ex engine.Executor) engine.Plan {
		return engine.Plan{Scenarios: []engine.Scenario{{Name: "s", Executor: ex, Steps: []engine.Step{{URL: "http://127.0.0.1:1/"}}}}}
	}
	s := time.Second
	for _, tc := range []struct {
		name string
		plan engine.Plan
		want []diagnose.Stage
		rate bool
	}{
		{"ramping VUs", one(engine.Executor{Type: engine.RampingVUs, VUStages: []engine.VUStage{{Duration: s, To: 200}, {Duration: 3 * s, From: 200, To: 200}, {Duration: s, From: 200, To: 20}, {Duration: 8 * s, From: 20, To: 20}}}),
			[]diagnose.Stage{{Duration: s, From: 0, To: 200}, {Duration: 3 * s, From: 200, To: 200}, {Duration: s, From: 200, To: 20}, {Duration: 8 * s, From: 20, To: 20}}, false},
		{"ramping rate", one(engine.Executor{Type: engine.RampingRate, MaxVUs: 10, Stages: []engine.RateStage{{Duration: 10 * s, From: small, To: big}, {Duration: time.Minute, From: big, To: small}}}),
			[]diagnose.Stage{{Duration: 10 * s, From: 0.00001, To: 2000}, {Duration: time.Minute, From: 2000, To: 0.00001}}, true},
		{"constant VUs", one(engine.Executor{Type: engine.VUs, VUs: 5, Duration: s}), nil, false},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			e, err := engine.New(tc.plan)
			if err != nil {
				t.Fatal(err)
			}
			cfg := report.Describe(e).DiagnoseConfig()
			if !reflect.DeepEqual(cfg.Stages, tc.want) || cfg.StagesRate != tc.rate {
				t.Errorf("stages %+v (rate %v), want %+v (rate %v)", cfg.Stages, cfg.StagesRate, tc.want, tc.rate)
			}
		})
	}
	m := report.Meta{Executor: string(engine.RampingVUs), Stages: "10s:0-200,junk"}
	if got := m.DiagnoseConfig().Stages; got != nil {
		t.Errorf("stages %+v from %q, want none", got, m.Stages)
	}
	m = report.Meta{Executor: string(engine.RampingVUs), Stages: "10s:0-200", Scenarios: []report.ScenarioMeta{{}, {}}}
	if got := m.DiagnoseConfig().Stages; got != nil {
		t.Errorf("stages %+v of several scenarios, want none", got)
	}
}
