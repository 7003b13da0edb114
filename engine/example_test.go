package engine_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/faya-load/faya/engine"
)

// A closed-model run: 4 VUs share 100 requests to a test server, each VU
// on a kept-alive connection of its own. The report package turns the
// result into the text, JSON and HTML reports.
func ExampleEngine_Run() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer srv.Close()

	e, err := engine.New(engine.Plan{Scenarios: []engine.Scenario{{
		Name:     "home",
		Executor: engine.Executor{Type: engine.VUs, VUs: 4, Iterations: 100},
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
	s := res.Total
	fmt.Println("requests:", s.Requests, "ok:", s.OK, "status 200:", s.Status[200])
	fmt.Println("connections: at most one per VU:", s.Dialed >= 1 && s.Dialed <= 4, "fresh + reused = requests:", s.ConnFresh+s.ConnReused == s.Requests)
	fmt.Println("steps:", res.Steps[0].Name, s.Steps[0].Requests)
	// Output:
	// requests: 100 ok: 100 status 200: 100
	// connections: at most one per VU: true fresh + reused = requests: true
	// steps: GET / 100
}
