// Package http1 is faya's own HTTP/1.1 client engine, built for load: a
// pool with the same knobs and accounts as net/http's (connections per
// host, the idle pool, the idle timeout, keep-alives) over the same
// counting [github.com/faya-load/faya/transport.Dialer]; requests
// serialized once into bytes; a [Reader] that parses status lines,
// headers, fixed, chunked and close-delimited bodies, 1xx answers and
// bodiless responses (HEAD, 204, 304) into one reused buffer, without
// allocating per response, accepting and refusing what net/http's reader
// does; and the same phases (blocked, DNS, connect,
// TLS, send, wait, receive), taken at its own dial, write and read points.
package http1
