// Package inspect explains a live Go program's HTTP client the way faya
// explains its own runs: wrap the program's *http.Transport and read
// the findings.
//
//	tr := inspect.Wrap(&http.Transport{MaxIdleConnsPerHost: 2}, inspect.Options{})
//	client := &http.Client{Transport: tr}
//	// ... the program sends its requests ...
//	tr.Report(os.Stderr) // or tr.Findings(), or serve tr.Handler()
//
// A [Transport] counts what the pool does with the same accounting as
// faya's net/http engine (the transport and diagnose packages): dials at
// the dialer, first use and reuse per connection, idle-put refusals by
// reason (too_many_idle_for_host), why each connection closed, the
// phases of each request, bodies closed before their end, the requests
// in flight at once. [Transport.Findings] are faya's findings on those
// numbers (idle pool too small, unbounded connections, server closes,
// bodies not drained, silent retries, TIME_WAIT to each host), each
// with its fix as Go code; an slog record reports each one as it becomes
// true ([Options.Logger]).
//
// A Transport built per request cannot be wrapped once; [NewTransport]
// is a drop-in constructor whose Transports all report into the
// program's accounts, [Install] puts one in http.DefaultTransport's
// place, and [Context] traces requests through any Transport. When the
// connections dialed are about the requests sent, [ProcessFindings]
// says so ("a new connection for every request: is a Transport created
// per call?") and names the call site, from stacks sampled at dial time.
//
// The cost when nothing is read: a tracer and a few atomic counters per
// request, a lock per request on one of a few shards; call stacks only
// for sampled dials.
package inspect
