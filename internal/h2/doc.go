// Package h2 is the default engine's HTTP/2 client, built for load: one
// reader goroutine per connection demultiplexing frames to streams
// (framing and HPACK from golang.org/x/net/http2 and its hpack package),
// the requests' frames written once per reader turn (by the reader
// before it next reads the socket, or by a request's goroutine while the
// reader waits), stream slots bounded by the server's
// MAX_CONCURRENT_STREAMS and a client cap with the wait for a slot
// measured (the stream wait), flow control both ways, GOAWAY, RST_STREAM
// and connection errors turned into counted outcomes, and a [Pool] of
// connections per destination (and proxy: CONNECT and SOCKS5 tunnels) over
// the same counting [github.com/faya-load/faya/transport.Dialer] as the
// HTTP/1.1 engine. With --h2-ping-timeout a connection that sent no frame
// for that long gets a PING, and is ended when it goes unanswered
// ([PingTimeoutError]). An auto pool ([Options].Auto) offers h2 and
// http/1.1 by ALPN and hands a connection whose server picked http/1.1
// back to the caller ([HTTP1Error]) for its HTTP/1.1 pool.
//
// Requests are encoded once ([Prepare]: the header block is HPACK without
// the dynamic table, so the same bytes fit every connection), and a warm
// connection serves a request without allocating on the client's side
// for the usual answers (see TestClientAllocs).
package h2
