package report_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/report"
)

// The text report shows the minimum latency and the success ratio, and
// says "1 VU", "1 request", never "1 VUs".
func TestTextMinSuccessAndGrammar(t *testing.T) {
	rec := metrics.NewRecorder(1)
	for i, lat := range []time.Duration{3 * time.Millisecond, 1200 * time.Microsecond, 7 * time.Millisecond, 2 * time.Millisecond} {
		s := &metrics.Sample{Latency: lat, ServiceTime: lat, Status: 200, First: true, Fresh: 1}
		if i == 3 {
			s.Status = 503
		}
		rec.Shard(0).Record(s, nil)
	}
	total := rec.Flush(nil)
	text := func(m report.Meta) string {
		var b bytes.Buffer
		run := report.Run{Meta: m, Result: engine.Result{Total: total, Duration: time.Second, Scheduling: time.Second}}
		if err := report.Text(&b, report.Build(run)); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	out := text(report.Meta{Version: "test", URL: "http://127.0.0.1:1/", Method: "GET", Engine: "h1", Executor: "vus", VUs: 1, Requests: 1, ConnScope: "shared"})
	for _, want := range []string{
		"closed model: 1 VU, 1 request, h1 engine",
		"  success     75.00%  (ok: a response with a status below 400)\n",
		"min     p50",
		"latency       1.20ms ", // the minimum, first
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
	for _, m := range []report.Meta{
		{Executor: "rate", Rate: "10", Duration: time.Second, PreVUs: 1, MaxVUs: 1, Open: true},
		{File: "f.yaml", Scenarios: []report.ScenarioMeta{
			{Name: "a", Executor: "vus", VUs: 1, Iterations: 1, Steps: 1, SetupSteps: 1},
			{Name: "b", Executor: "rate", Rate: "1", Duration: time.Second, MaxVUs: 1, Steps: 1},
		}},
		{Executor: "vus", VUs: 1, Requests: 1, Pipeline: 1},
	} {
		out := text(m)
		for _, bad := range []string{" 1 VUs", " 1 requests", " 1 iterations", " 1 steps", " 1 checks"} {
			if strings.Contains(out, bad) {
				t.Errorf("%q in:\n%s", bad, out)
			}
		}
	}
}
