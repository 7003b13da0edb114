// Package engine runs a [Plan]: it builds the connection pools, starts each
// scenario's executor, runs the VUs' iterations, and aggregates what every
// request measured into a [Result].
//
// The closed-model executor ("vus") runs a fixed number of VUs, each
// starting its next iteration when the last one ended. With Iterations
// set, exactly that many iterations run in total (shared among the VUs);
// with Duration set, no iteration starts after it, and those in flight
// finish.
//
// Requests go through net/http over a [github.com/faya-load/faya/transport]
// pool: one shared by all VUs or one per VU. Each request is traced, its
// body read to EOF (up to a cap) and closed, and its sample recorded into a
// per-CPU shard of a [github.com/faya-load/faya/metrics.Recorder]: no lock
// shared by all VUs, no channel, no log line per request.
package engine
