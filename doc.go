// Package faya is an HTTP load generator and Go library that shows what the
// connection pool does.
//
// The vocabulary, used the same way in code, flags and reports: a plan is
// everything a run will do; a scenario is one named workload in it; an
// executor schedules a scenario's iterations (vus: the closed model); a VU
// (virtual user) is one session; an iteration is one pass through a
// scenario's steps; a step is one HTTP request; a sample is what one request
// measured; a snapshot is a mergeable aggregate of samples; a summary or
// report is what is derived from a snapshot for people.
//
// The data flow:
//
//	flags --(internal/cli)--> engine.Plan
//	engine.Run: transport.New -> one tuned *http.Transport (or one per VU)
//	  VU: request -> transport.Tracer hooks -> body read to EOF
//	      -> metrics.Sample -> metrics.Shard (per CPU, no channel hop)
//	  every second: metrics.Recorder.Flush -> time series
//	end: metrics.Snapshot -> report.Build -> report.Text / report.JSON
//
// Packages: [github.com/faya-load/faya/engine] runs plans,
// [github.com/faya-load/faya/transport] builds the pool and measures it,
// [github.com/faya-load/faya/metrics] aggregates,
// [github.com/faya-load/faya/report] renders, and
// [github.com/faya-load/faya/target] is the built-in target server.
package faya
