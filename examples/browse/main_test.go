package main

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/target"
)

// The browse scenario against the built-in target: 10 users log in once
// each and browse 100 times with their sessions.
func Example() {
	tg := target.New()
	srv := httptest.NewServer(tg)
	defer srv.Close()

	res, err := browseRun(context.Background(), srv.URL, engine.Executor{Type: engine.VUs, VUs: 10, Iterations: 100})
	if err != nil {
		fmt.Println(err)
		return
	}
	st := tg.Stats()
	s := res.Total
	fmt.Printf("faya: %d requests, %d ok, %d login requests, %d checks failed\n", s.Requests, s.OK, s.Setup, s.ChecksFailed)
	fmt.Printf("target: %d logins, %d sessions, %d refused\n", st.Logins, len(st.Sessions), st.Unauthorized)
	for i, step := range res.Steps {
		fmt.Printf("step %s: %d requests\n", step.Name, s.Steps[i].Requests)
	}
	// Output:
	// faya: 200 requests, 200 ok, 10 login requests, 0 checks failed
	// target: 10 logins, 10 sessions, 0 refused
	// step login: 10 requests
	// step list: 100 requests
	// step item: 100 requests
}
