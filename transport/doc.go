// Package transport dials and measures the connections of both of faya's
// HTTP engines, and adapts net/http to them.
//
// A [Dialer] (from [NewDialer] and a [Config]) counts, times and labels
// every connection ([Conn]): DNS, connect and TLS times, a proxy's
// handshake, wire bytes, requests carried and why it closed
// ([metrics.CloseReason]). An [Observer] receives the connection events.
// Its lookups go through a [Resolver] that the dialers of a run share
// ([WithResolver]): a name's answer kept for the run or Config.DNSTTL,
// ordered for Config.DNSMode, of Config.IPFamily's records only.
// The h1 engine (faya's own HTTP/1.1 client, internal/http1, the default)
// pools connections from a Dialer itself; for the net/http engine [New]
// turns a Config into a [Pool]: a *http.Transport over a Dialer whose pool
// limits are sized for a load generator (derived from the concurrency, not
// Go's MaxIdleConnsPerHost of 2).
//
// The rules every engine applies to a hop live here, where both reach
// them: [FillTimes] (a sample's latency, service time, lag and phases),
// [RedirectOf] and [CrossHostHeader] (which redirects are followed, with
// what method, body and headers), [AnswerCloseReason] and [FailedReason]
// (why a connection closes, from its answer or its request's error).
//
// A [Tracer] measures requests through net/http/httptrace: the wait for a
// connection (blocked), send, wait for the first byte, receive, and which
// connection the request got (first use or reuse, idle time), plus
// net/http's silent retries and the idle-put refusals (PutIdleConn errors).
//
// [Conn.Exchange] writes a request and reads the first bytes of its answer
// in one wait of Go's network poller, without the read that would find the
// socket empty: the h1 engine's one read per request.
//
// Of faya's packages transport imports only metrics, for the categories
// it counts by ([metrics.Phase], [metrics.CloseReason], [metrics.ErrClass]).
package transport
