// Package diagnose explains a run's connections: why connections were not
// reused, what went wrong in the pool, and the settings that fix it, each
// as a [Finding] with the evidence from the run (numbers) and a concrete
// fix (a flag and the matching http.Transport field).
//
// [Analyze] reads the run's configuration, its metrics snapshot and the
// kernel's socket readings; it does no I/O. The findings: an idle pool
// smaller than the concurrency (too_many_idle_for_host), unbounded
// connections, the wait for a capped pool, keep-alives disabled, the server
// closing connections (Connection: close, HTTP/1.0, a per-connection
// request limit), the server's idle timeout shorter than the client's,
// net/http's silent retries, bodies not drained, TIME_WAIT sockets against
// the ephemeral port range, generator resource errors, and an open-model
// rate shortfall ([RateShortfall]). A clean run gets one info finding.
package diagnose
