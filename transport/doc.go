// Package transport builds the connection pool faya sends requests through
// and measures what happens on its connections.
//
// [New] turns a [Config] into a [Pool]: a *http.Transport whose pool limits
// are sized for a load generator (derived from the concurrency, not Go's
// MaxIdleConnsPerHost of 2) and whose dialer counts, times and labels every
// connection ([Conn]): DNS, connect and TLS times, wire bytes, requests
// carried and why it closed ([metrics.CloseReason]). An [Observer] receives the
// connection events.
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
// transport knows nothing of the metrics package: it returns values.
package transport
