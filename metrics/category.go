package metrics

// The categories of a measurement, in one place: the phases of a request
// (with [Metric] for their distributions), why connections close, and
// request failures ([ErrClass]). Both engines and every report use them.

// Phase names one part of a request's time.
type Phase uint8

// The phases of a request, in the order they happen. PhaseBlocked is the
// wait for a connection from the pool (excluding a dial made for the
// request); PhaseDNS, PhaseConnect, PhaseProxy and PhaseTLS are a
// connection's dial, charged to its first request (PhaseProxy: the
// proxy's own handshake, TLS to an HTTPS proxy, the CONNECT round trip or
// the SOCKS5 negotiation); PhaseSend is from having the connection to the
// request written; PhaseWait is to the first response byte; PhaseReceive
// is to the end of the body. PhaseStreamWait, on an HTTP/2 connection, is
// the wait for a free stream slot once the request had its connection (the
// server's MAX_CONCURRENT_STREAMS, or --h2-max-streams, were in use): a
// client-side queue like PhaseBlocked, which it follows in time; it is
// last in the numbering only so that saved runs keep their indices.
const (
	PhaseBlocked Phase = iota
	PhaseDNS
	PhaseConnect
	PhaseProxy
	PhaseTLS
	PhaseSend
	PhaseWait
	PhaseReceive
	PhaseStreamWait

	numPhases
)

// NumPhases is the number of request phases.
const NumPhases = int(numPhases)

// Metric is the phase's distribution.
func (p Phase) Metric() Metric { return Blocked + Metric(p) }

// String returns the phase's stable name, used in reports and JSON.
func (p Phase) String() string { return p.Metric().String() }

// CloseReason says why a connection was closed. The reasons a connection
// could not go back to the idle pool (net/http's PutIdleConn errors) are
// among them, so that "why was this connection not reused" has one answer
// per connection.
type CloseReason uint8

// Close reasons, in the order reports list them.
const (
	// CloseRunEnd: closed when the run ended (idle connections are closed
	// then), or the connection was in use when the process stopped it.
	CloseRunEnd CloseReason = iota
	// CloseServer: the server closed it during or right after a request
	// (EOF or reset while reading), or asked for it with "Connection:
	// close" or an HTTP/1.0 answer without keep-alive.
	CloseServer
	// CloseServerIdle: the server closed it while it sat idle in the pool
	// (its keep-alive timeout is shorter than the client's).
	CloseServerIdle
	// CloseTooManyIdleForHost: returned to a full per-host idle list
	// (MaxIdleConnsPerHost).
	CloseTooManyIdleForHost
	// CloseTooManyIdle: returned to a full idle list (MaxIdleConns).
	CloseTooManyIdle
	// CloseKeepAlivesDisabled: keep-alives are off, so the connection
	// carried one request.
	CloseKeepAlivesDisabled
	// CloseBroken: net/http found the connection in a bad state (an error
	// or an unread body on it).
	CloseBroken
	// CloseClosedIdle: returned while CloseIdleConnections was running.
	CloseClosedIdle
	// CloseIdleTimeout: idle for IdleConnTimeout.
	CloseIdleTimeout
	// CloseCanceled: its request was canceled or timed out while the
	// connection was in use.
	CloseCanceled
	// CloseBodyNotDrained: a response body was not read to its end (cut at
	// the body cap, or discarded early), so the connection could not be
	// reused.
	CloseBodyNotDrained
	// CloseUnused: dialed for a request that got another connection
	// meanwhile (net/http's dial race), then not kept: it never carried a
	// request.
	CloseUnused
	// CloseOther: any other reason (a write error, net/http's internal
	// errors).
	CloseOther
	// CloseWriteLate: net/http closed it after a request whose answer was
	// read whole, because its writer goroutine had not reported the
	// request written within 50 ms of the answer (its
	// maxWriteWaitBeforeConnReuse, golang/go#7569). Either the server
	// answered before it read the whole request, or the generator's
	// goroutines were starved of CPU. Only the net/http engine has it: h1
	// finishes its write before it reads.
	CloseWriteLate
	// CloseHandshakeFailed: the TLS handshake, or a proxy's (CONNECT,
	// SOCKS5, TLS to an HTTPS proxy), failed after the TCP connect; the
	// request failed with that error's class.
	CloseHandshakeFailed
	// CloseGoAway: an HTTP/2 connection the server ended with a GOAWAY
	// frame (a graceful one, NO_ERROR: its per-connection request limit,
	// a reload, a shutdown), closed once its streams were done.
	CloseGoAway
	// CloseH2Error: an HTTP/2 connection closed on a connection error (a
	// GOAWAY with an error code, a protocol or flow-control violation, a
	// PING not answered in time).
	CloseH2Error
	// CloseMaxRequests: it carried MaxRequestsPerConn requests
	// (--max-requests-per-conn); the last asked the server to close.
	CloseMaxRequests
	// CloseLifetime: it was older than MaxConnLifetime
	// (--max-conn-lifetime), and closed after its request in flight, or
	// while idle.
	CloseLifetime

	numCloseReasons
)

// NumCloseReasons is the number of CloseReason values.
const NumCloseReasons = int(numCloseReasons)

var closeReasonNames = [...]string{
	CloseRunEnd:             "run_end",
	CloseServer:             "server",
	CloseServerIdle:         "server_idle",
	CloseTooManyIdleForHost: "too_many_idle_for_host",
	CloseTooManyIdle:        "too_many_idle",
	CloseKeepAlivesDisabled: "keepalives_disabled",
	CloseBroken:             "broken",
	CloseClosedIdle:         "closed_idle",
	CloseIdleTimeout:        "idle_timeout",
	CloseCanceled:           "canceled",
	CloseBodyNotDrained:     "body_not_drained",
	CloseUnused:             "unused",
	CloseOther:              "other",
	CloseWriteLate:          "write_late",
	CloseHandshakeFailed:    "handshake_failed",
	CloseGoAway:             "goaway",
	CloseH2Error:            "h2_error",
	CloseMaxRequests:        "max_requests",
	CloseLifetime:           "lifetime",
}

// String returns the reason's stable name, used as a JSON key.
func (r CloseReason) String() string {
	if int(r) < len(closeReasonNames) {
		return closeReasonNames[r]
	}
	return "other"
}
