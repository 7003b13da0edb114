package report

import (
	"fmt"
	"net/url"
	"runtime/debug"
	"strings"

	"github.com/faya-load/faya/engine"
)

// Describe describes the run e will make, for its report: the plan with
// its defaults applied (e.Plan), the proxies it may use, and the version
// of faya. Secrets are redacted: a password in a URL, the proxies'
// passwords. URL, Method and the executor fields are the first
// scenario's; Scenarios describes each one. A scenario written in Go
// ([engine.Func]) has no URL or method to name.
func Describe(e *engine.Engine) Meta {
	p := e.Plan()
	var sc engine.Scenario
	if len(p.Scenarios) > 0 { // always, for a plan engine.New took
		sc = p.Scenarios[0]
	}
	ex := sc.Executor
	m := Meta{
		Version:       version(),
		Engine:        string(p.Engine),
		Pipeline:      p.Pipeline,
		Executor:      string(ex.Type),
		VUs:           p.VUs(),
		Requests:      ex.Iterations,
		Duration:      ex.Duration,
		ConnScope:     string(p.ConnScope),
		Timeout:       p.Timeout,
		Pool:          Pool(p.Transport.WithDefaults()),
		Open:          ex.Open(),
		PreVUs:        ex.PreVUs,
		MaxVUs:        ex.MaxVUs,
		GracefulStop:  p.GracefulStop,
		LateThreshold: p.LateThreshold,
		MaxBody:       max(p.MaxBody, 0),
		Scenarios:     scenarios(p),
		Proxies:       e.Proxies(),
		ProxyFromEnv:  p.Proxy.FromEnv,
		H2Offered:     p.OffersH2(),
	}
	if len(sc.Steps) > 0 {
		m.URL, m.Method = redactURL(sc.Steps[0].URL), sc.Steps[0].Method
	}
	m.Rate, m.Stages = rateOf(ex)
	if len(p.Scenarios) > 1 {
		m.MaxVUs = p.VUs() // every scenario's VUs, for "allocated N of M"
	}
	if len(m.Proxies) > 1 {
		m.ProxyMode = string(p.Proxy.Mode)
		if m.ProxyMode == "" {
			m.ProxyMode = string(engine.ProxyPerVU)
		}
	}
	return m
}

// scenarios describes each of the plan's scenarios.
func scenarios(p engine.Plan) []ScenarioMeta {
	out := make([]ScenarioMeta, 0, len(p.Scenarios))
	for _, sc := range p.Scenarios {
		ex := sc.Executor
		m := ScenarioMeta{
			Name: sc.Name, Executor: string(ex.Type), VUs: ex.VUs, Iterations: ex.Iterations, Duration: ex.Duration,
			PreVUs: ex.PreVUs, MaxVUs: ex.MaxVUs, SetupSteps: len(sc.Setup), Steps: len(sc.Steps),
		}
		m.Rate, m.Stages = rateOf(ex)
		switch ex.Type {
		case engine.RampingRate:
			m.Duration = ex.Length()
		case engine.RampingVUs:
			m.Duration, m.VUs = ex.Length(), ex.PeakVUs()
		}
		out = append(out, m)
	}
	return out
}

// rateOf is an executor's rate (constant rate) or its stages (ramping),
// written as the flags take them.
func rateOf(ex engine.Executor) (rate, stages string) {
	switch ex.Type {
	case engine.ConstantRate:
		return ex.Rate.String(), ""
	case engine.RampingRate:
		return "", joinStages(ex.Stages, func(x engine.RateStage) string {
			return fmt.Sprintf("%v:%g-%g", x.Duration, x.From.PerSecond(), x.To.PerSecond())
		})
	case engine.RampingVUs:
		return "", joinStages(ex.VUStages, func(x engine.VUStage) string { return fmt.Sprintf("%v:%d-%d", x.Duration, x.From, x.To) })
	}
	return "", ""
}

// joinStages writes stages comma-separated.
func joinStages[S any](st []S, one func(S) string) string {
	parts := make([]string, len(st))
	for i, x := range st {
		parts[i] = one(x)
	}
	return strings.Join(parts, ",")
}

// redactURL hides a password in the URL's user info.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}

// modulePath is faya's module.
const modulePath = "github.com/faya-load/faya"

// version is faya's version as the build knows it: the module's version
// when faya is the program's module or one of its dependencies (go
// build stamps a checkout's commit), else "devel".
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := ""
	if bi.Main.Path == modulePath {
		v = bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == modulePath {
			v = d.Version
			if d.Replace != nil {
				v = d.Replace.Version
			}
		}
	}
	if v == "" || v == "(devel)" {
		return "devel"
	}
	return strings.TrimPrefix(v, "v")
}
