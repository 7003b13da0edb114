package report_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/report"
	"github.com/faya-load/faya/target"
	"github.com/faya-load/faya/transport"
)

// A run from its plan to its report: the engine runs the plan, Describe
// says what ran, Build derives the report from that and the engine's
// result.
func Example() {
	srv := httptest.NewServer(target.New())
	defer srv.Close()

	e, err := engine.New(engine.Plan{Scenarios: []engine.Scenario{{
		Name:     "home",
		Executor: engine.Executor{Type: engine.VUs, VUs: 4, Iterations: 200},
		Steps:    []engine.Step{{URL: srv.URL + "/"}},
	}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := e.Run(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	rep := report.Build(report.Run{Meta: report.Describe(e), Result: *res})
	fmt.Println("requests:", rep.Requests.Total, "ok:", rep.Requests.OK, "status:", rep.Status)
	fmt.Println("connections: at most one per VU:", rep.Connections.Dialed >= 1 && rep.Connections.Dialed <= 4)
	fmt.Println("steps:", rep.Steps[0].Name, rep.Steps[0].Requests)
	// Output:
	// requests: 200 ok: 200 status: map[200:200]
	// connections: at most one per VU: true
	// steps: GET / 200
}

// Describe says what a run will do, with the plan's defaults applied and
// the password in the URL redacted. The pool's JSON is the report's: 0
// for no limit.
func ExampleDescribe() {
	e, err := engine.New(engine.Plan{
		Scenarios: []engine.Scenario{{
			Name:     "api",
			Executor: engine.Executor{Type: engine.VUs, VUs: 20, Duration: 30 * time.Second},
			Steps:    []engine.Step{{URL: "http://user:secret@127.0.0.1:8080/items"}},
		}},
		Transport: transport.Config{MaxIdleConnsPerHost: 4, MaxIdleConns: -1},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	m := report.Describe(e)
	fmt.Println(m.Method, m.URL)
	fmt.Println(m.Executor, m.VUs, m.Duration, m.Engine, m.ConnScope, m.Timeout)
	pool, _ := json.Marshal(m.Pool)
	fmt.Println(string(pool))
	// Output:
	// GET http://user:xxxxx@127.0.0.1:8080/items
	// vus 20 30s h1 shared 30s
	// {"max_conns_per_host":20,"max_idle_conns_per_host":4,"max_idle_conns":0,"idle_conn_timeout_ns":90000000000,"disable_keepalives":false,"dial_timeout_ns":10000000000,"tls_handshake_timeout_ns":10000000000,"response_header_timeout_ns":0,"insecure":false}
}

// Build derives a report from any snapshot: here 100 requests recorded by
// hand, 1 ms to 100 ms, and one refused connection.
func ExampleBuild() {
	rec := metrics.NewRecorder(1)
	sh := rec.Shard(0)
	for i := range 100 {
		sh.Record(&metrics.Sample{Status: 200, Latency: time.Duration(i+1) * time.Millisecond, First: true}, nil)
	}
	sh.Record(&metrics.Sample{Latency: time.Millisecond, Err: metrics.ErrRefused, First: true}, refused{})
	rep := report.Build(report.Run{
		Meta:   report.Meta{Version: "example", Method: "GET", URL: "http://127.0.0.1:8080/", Executor: "vus", VUs: 1},
		Result: engine.Result{Total: rec.Flush(nil), Duration: 2 * time.Second},
	})
	fmt.Println("requests:", rep.Requests.Total, "ok:", rep.Requests.OK, "errors:", rep.Requests.Errors, "throughput:", rep.Throughput)
	fmt.Println("latency p50:", report.Duration(rep.Latency.P50), "p99:", report.Duration(rep.Latency.P99), "max:", report.Duration(rep.Latency.Max))
	fmt.Println("refused:", rep.Errors["refused"].Count, rep.Errors["refused"].Example)
	// Output:
	// requests: 101 ok: 100 errors: 1 throughput: 50.5
	// latency p50: 50.0ms p99: 99.0ms max: 100ms
	// refused: 1 dial tcp 127.0.0.1:8080: connect: connection refused
}

type refused struct{}

func (refused) Error() string { return "dial tcp 127.0.0.1:8080: connect: connection refused" }
