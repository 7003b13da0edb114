// Package faya is an HTTP load generator and Go library that shows what the
// connection pool does.
//
// The vocabulary, used the same way in code, flags and reports: a plan is
// everything a run will do; a scenario is one named workload in it; an
// executor schedules a scenario's iterations (vus: the closed model); a VU
// (virtual user) is one session; an iteration is one pass through a
// scenario's steps; a step is one HTTP request; a sample is what one request
// measured; a snapshot is a mergeable aggregate of samples; a report is what
// is derived from a snapshot for people and programs, with its findings.
//
// The data flow:
//
//	flags or a scenario file --(internal/cli, scenario)--> engine.Plan
//	engine.New: the plan validated, its steps compiled once
//	engine.Run: per pool a transport.Dialer (counts, times and labels every
//	  connection), under the plan's engine:
//	    h1 (the default): internal/http1.Pool and Client, faya's own HTTP/1.1 client
//	    net/http: transport.Pool, a tuned *http.Transport, traced by transport.Tracer
//	  VU: request -> one engine's exchange -> metrics.Sample
//	      -> metrics.Shard (per CPU, no channel hop)
//	  every interval: metrics.Recorder.Flush -> time series
//	end: engine.Result -> report.Build (report.Describe, diagnose.Analyze)
//	     -> report.Text / report.JSON / report.HTML
//
// Packages: [github.com/faya-load/faya/engine] runs plans,
// [github.com/faya-load/faya/transport] dials, counts and times the
// connections both engines use (and adapts net/http),
// [github.com/faya-load/faya/metrics] aggregates,
// [github.com/faya-load/faya/diagnose] finds what went wrong, with its
// evidence and fix, [github.com/faya-load/faya/report] renders,
// [github.com/faya-load/faya/scenario] reads scenario files,
// [github.com/faya-load/faya/inspect] explains a live program's client, and
// [github.com/faya-load/faya/target] is the built-in target server.
package faya
