// Package engine runs a [Plan]: it builds the connection pools, starts each
// scenario's executor, runs the VUs' iterations, and aggregates what every
// request measured into a [Result].
//
// Executors:
//   - "vus" (closed model): a fixed number of VUs, each starting its next
//     iteration when the last one ended; Iterations in total (split evenly:
//     each VU runs its share, as hey's workers do) or for Duration.
//   - "ramping-vus": the closed model with the number of active VUs
//     following VUStages.
//   - "rate" (open model): iterations start at a constant arrival [Rate]
//     whether or not earlier ones have finished.
//   - "ramping-rate": the open model with the rate following [RateStage]s.
//
// In the open model one scheduler owns time: it computes each iteration's
// intended start exactly and hands it to a free VU; VUs are pre-allocated
// and grow up to MaxVUs, and an iteration no VU is free for is dropped and
// counted, never delayed. Latency is measured from the intended start (no
// coordinated omission); service time and schedule lag are recorded beside
// it. At the end, iterations in flight get Plan.GracefulStop, then their
// requests are canceled.
//
// Requests go through the plan's engine ([Plan.Engine], [Engines]): h1, the
// default, is faya's own HTTP/1.1 client (internal/http1); net/http is Go's
// *http.Transport, traced, the client Go services use. Both dial through a
// [github.com/faya-load/faya/transport.Dialer], which counts, times and
// labels every connection, over pools shared by all VUs or one per VU.
// Both sit behind one seam (client.go): a VU asks its client to send a
// request, and the accounting every engine shares (the per-step request
// cache, the capture limit, proxies, the Go scenarios' RoundTripper) and
// the rules each hop applies (transport's FillTimes, RedirectOf,
// AnswerCloseReason) are written once; a new engine sends requests and
// reports their facts. Each request's body is read to its end (up to a
// cap), and its sample recorded into a per-CPU shard of a
// [github.com/faya-load/faya/metrics.Recorder]: no lock shared by all VUs,
// no channel, no log line per request.
package engine
