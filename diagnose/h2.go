package diagnose

import (
	"fmt"

	"github.com/faya-load/faya/metrics"
)

// h2NotNegotiated: the run offered h2 by ALPN (--http auto with an engine
// that speaks HTTP/2, on https) and every connection was HTTP/1.1: the
// server picked http/1.1. Judged only when connections were made and the
// mode was auto (with --http 2 such a server fails as
// protocol_negotiation instead).
func (a *analysis) h2NotNegotiated() {
	s := a.s
	h1 := s.DialedProto[metrics.ProtoH1]
	if !a.Config.H2Offered || a.Config.HTTP != "" || h1 == 0 || s.DialedProto[metrics.ProtoH2] > 0 {
		return
	}
	a.add(Finding{
		ID:       "h2-not-negotiated",
		Severity: Info,
		Title:    "The server picked HTTP/1.1: HTTP/2 was offered and not taken",
		Evidence: fmt.Sprintf("h2 and http/1.1 were offered by ALPN (--http auto); all %d connections were HTTP/1.1, so the run measured HTTP/1.1 (%d requests).", h1, s.Requests),
		Fix:      "to measure HTTP/2, enable it on the server (nginx: listen 443 ssl; http2 on;) and run with --http 2, which fails rather than falls back; to measure HTTP/1.1 on purpose, say so with --http 1.1 (in Go: http.Transport.Protocols with only HTTP1 set)",
	})
}

// serverGoAway: the server ended HTTP/2 connections with a GOAWAY,
// after the same number of streams each when it has a per-connection
// request limit. The count per connection is the streams each
// goaway-closed connection carried (ServerCloseRequests holds them when no
// connection closed otherwise by the server).
func (a *analysis) serverGoAway() {
	s := a.s
	n := a.reason(metrics.CloseGoAway)
	if n == 0 {
		return
	}
	h2 := max(s.DialedProto[metrics.ProtoH2], n)
	evidence := fmt.Sprintf("%d of %d HTTP/2 connections were ended by the server's GOAWAY, for %d requests", n, h2, s.Requests)
	if g := s.H2.GoAways; g > 0 {
		evidence += fmt.Sprintf(" (%d GOAWAY frames seen, last-stream-id up to %d)", g, metrics.DistOf(s.Hist(metrics.H2GoAwayLastStream)).Max)
	}
	evidence += "; each one costs a new TCP and TLS handshake."
	title := fmt.Sprintf("The server ends HTTP/2 connections with GOAWAY (%d)", n)
	fix := "raise the server's per-connection request limit (nginx: keepalive_requests, http2_max_requests before nginx 1.19.7); Go's client has no setting for it"
	per := metrics.DistOf(s.Hist(metrics.ServerCloseRequests))
	if a.reason(metrics.CloseServer) == 0 && per.Count >= 2 && per.P50 > 1 && per.P50 == per.Max && per.Min == per.Max {
		k := int64(per.P50)
		title = fmt.Sprintf("The server ends each HTTP/2 connection after %d streams (GOAWAY)", k)
		evidence += fmt.Sprintf(" The %d connections it ended carried %d streams each: a per-connection request limit.", per.Count, k)
		fix = fmt.Sprintf("raise the server's per-connection request limit, now %d (nginx: keepalive_requests %d; http2_max_requests before nginx 1.19.7); Go's client has no setting for it", k, k)
	}
	sev := Warning
	if s.Dialed > 0 && s.Requests > 0 && float64(s.Dialed) < 0.01*float64(s.Requests) {
		sev = Info
	}
	a.add(Finding{ID: "server-goaway", Severity: sev, Title: title, Evidence: evidence, Fix: fix})
}

// streamLimit: requests waited for a free stream slot on their HTTP/2
// connection (the stream_wait phase) for a tenth of their latency or
// more: the server's MAX_CONCURRENT_STREAMS times the connections is below
// the concurrency. Judged only when the engine measured the wait.
func (a *analysis) streamLimit() {
	s := a.s
	wait := metrics.DistOf(s.Hist(metrics.StreamWait))
	lat := metrics.DistOf(s.Hist(metrics.Latency))
	if wait.Count == 0 || lat.Mean <= 0 || float64(wait.Mean) < 0.1*float64(lat.Mean) {
		return
	}
	c := a.concurrency()
	conns := max(s.DialedProto[metrics.ProtoH2], 1)
	evidence := fmt.Sprintf("%d of %d requests waited for a free stream slot on their HTTP/2 connection (stream_wait p50 %s, p99 %s, of a mean latency of %s); %d VUs shared %d HTTP/2 connections, with at most %d streams open at once on one",
		wait.Count, s.Requests, dur(wait.P50), dur(wait.P99), dur(lat.Mean), c, conns, s.H2.PeakStreams)
	fix := "let the client open more HTTP/2 connections when streams run out (drop --h2-strict-streams; in Go: HTTP2Config.StrictMaxConcurrentRequests = false, and http.Transport.MaxConnsPerHost no lower than the VUs divided by the server's streams), or allow more streams per connection on the server (nginx: http2_max_concurrent_streams; Go: http.HTTP2Config.MaxConcurrentStreams)"
	if m := s.H2.MaxStreamsMax; m > 0 {
		evidence += fmt.Sprintf("; the server's SETTINGS_MAX_CONCURRENT_STREAMS was %d", m)
		if need := (int64(c) + m - 1) / m; need > int64(conns) && a.Config.MaxConnsPerHost > 0 && int64(a.Config.MaxConnsPerHost) < need {
			fix = fmt.Sprintf("--max-conns-per-host %d (%d VUs / %d streams per connection; in Go: http.Transport.MaxConnsPerHost = %d, without HTTP2Config.StrictMaxConcurrentRequests), or more streams per connection on the server (nginx: http2_max_concurrent_streams; Go: http.HTTP2Config.MaxConcurrentStreams)", need, c, m, need)
		}
	}
	a.add(Finding{
		ID:       "stream-limit",
		Severity: Warning,
		Title:    fmt.Sprintf("Requests wait for an HTTP/2 stream: %.0f%% of the latency is the wait for a stream slot", 100*float64(wait.Mean)/float64(lat.Mean)),
		Evidence: evidence + ".",
		Fix:      fix,
	})
}
