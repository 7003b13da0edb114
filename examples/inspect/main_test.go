package main

import (
	"fmt"
	"strings"
)

// The findings of inspect on each version of the code (the warnings and
// errors, and the clean bill): trap 1 is a Transport per call (a new
// connection for every request), bodies closed unread and, with no cap,
// more connections than requests in flight; trap 2 is the idle pool of 2
// under 50 requests at once; the fixed code is clean. Every connection
// the client counted is one the server accepted.
func Example() {
	for _, p := range Phases {
		srv, err := start()
		if err != nil {
			fmt.Println(err)
			return
		}
		tr := p.Run(srv.URL)
		s := tr.Snapshot()
		fmt.Printf("%s: %d requests; dials counted = dials the server accepted: %v\n",
			p.Name, s.Requests, s.Dialed == srv.Target.Stats().ConnsNew)
		srv.Close()
		for _, f := range tr.Findings() {
			if f.Severity == "info" && f.ID != "clean" {
				continue // TIME_WAIT counts: the kernel's, not the same from run to run
			}
			line := fmt.Sprintf("  %s %s", f.Severity, f.ID)
			if f.ID == "transport-per-call" {
				line += ": " + f.Evidence[:strings.Index(f.Evidence, ";")]
			}
			if f.ID == "idle-pool-too-small" {
				line += ": fix " + f.Go
			}
			fmt.Println(line)
		}
	}
	// Output:
	// trap 1: a Transport per call, the body closed unread: 200 requests; dials counted = dials the server accepted: true
	//   error transport-per-call: 200 requests dialed 200 connections through 200 Transports (made by inspect.NewTransport)
	//   warning unbounded-connections
	//   warning body-not-drained
	// trap 2: one Transport, Go's idle pool of 2, 50 requests at once: 200 requests; dials counted = dials the server accepted: true
	//   error idle-pool-too-small: fix tr.MaxIdleConnsPerHost = 50
	//   warning unbounded-connections
	// fixed: one Transport sized for 50, the error checked, the body drained: 200 requests; dials counted = dials the server accepted: true
	//   info clean
}
