package diagnose

import (
	"fmt"
	"math"
	"strings"
	"time"

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
// more, and the pool's streams could run out: the connections it may
// open (MaxConnsPerHost, one with --h2-strict-streams) times the streams
// each may carry (the server's MAX_CONCURRENT_STREAMS, the client's
// --h2-max-streams) is below the concurrency. Where they are not, a
// request that waited for a slot waited for a connection being dialed
// (the first, or the one replacing a connection the server ended with a
// GOAWAY), and more connections or streams would not have spared it: no
// finding (server-goaway says what made the dials). Judged only when the
// engine measured the wait.
func (a *analysis) streamLimit() {
	s := a.s
	wait := metrics.DistOf(s.Hist(metrics.StreamWait))
	lat := metrics.DistOf(s.Hist(metrics.Latency))
	if wait.Count == 0 || lat.Mean <= 0 || float64(wait.Mean) < 0.1*float64(lat.Mean) {
		return
	}
	c := int64(a.concurrency())
	per, client, conns, ok := a.streamCapacity(c)
	if !ok {
		return
	}
	evidence := fmt.Sprintf("%d of %d requests waited for a free stream slot on their HTTP/2 connection (stream_wait p50 %s, p99 %s, of a mean latency of %s); %d VUs shared %d HTTP/2 connections open at once (%d dialed), with at most %d streams open at once on one",
		wait.Count, s.Requests, dur(wait.P50), dur(wait.P99), dur(lat.Mean), c, max(s.MaxOpen, 1), s.DialedProto[metrics.ProtoH2], s.H2.PeakStreams)
	if m := s.H2.MaxStreamsMax; m > 0 {
		evidence += fmt.Sprintf("; the server's SETTINGS_MAX_CONCURRENT_STREAMS was %d", m)
	}
	if a.Config.H2StrictStreams {
		evidence += "; --h2-strict-streams kept the pool to one connection at a time"
	} else {
		evidence += fmt.Sprintf("; --max-conns-per-host %d allowed %d streams at most", conns, conns*per)
	}
	if client {
		evidence += fmt.Sprintf("; --h2-max-streams %d capped the streams per connection", per)
	}
	a.add(Finding{
		ID:       "stream-limit",
		Severity: Warning,
		Title:    fmt.Sprintf("Requests wait for an HTTP/2 stream: %.0f%% of the latency is the wait for a stream slot", 100*float64(wait.Mean)/float64(lat.Mean)),
		Evidence: evidence + ".",
		Fix:      a.streamFix(c, per, conns, client),
	})
}

// streamFix is the fix for c requests in flight that queued for stream
// slots on conns connections of per streams each (streamCapacity's):
// the connections they need (or no --h2-strict-streams), and more
// streams per connection, from the client (client: --h2-max-streams was
// the cap) or the server.
func (a *analysis) streamFix(c, per, conns int64, client bool) string {
	need := (c + per - 1) / per // the connections c streams need at per each
	var fixes []string
	if a.Config.H2StrictStreams {
		f := fmt.Sprintf("drop --h2-strict-streams (in Go: HTTP2Config.StrictMaxConcurrentRequests = false), so that the pool opens the %d connections %d VUs need at %d streams each", need, c, per)
		if m := int64(a.Config.MaxConnsPerHost); m > 0 && m < need {
			f += fmt.Sprintf(", with --max-conns-per-host %d (in Go: http.Transport.MaxConnsPerHost = %d)", need, need)
		}
		fixes = append(fixes, f)
	} else {
		fixes = append(fixes, fmt.Sprintf("--max-conns-per-host %d (%d VUs / %d streams per connection; in Go: http.Transport.MaxConnsPerHost = %d, without HTTP2Config.StrictMaxConcurrentRequests)", need, c, per, need))
	}
	if client {
		fixes = append(fixes, fmt.Sprintf("or raise --h2-max-streams to %d (%d VUs / %d connections), within the server's MAX_CONCURRENT_STREAMS", (c+conns-1)/conns, c, conns))
	} else {
		fixes = append(fixes, "or allow more streams per connection on the server (nginx: http2_max_concurrent_streams; Go: http.HTTP2Config.MaxConcurrentStreams)")
	}
	return strings.Join(fixes, ", ")
}

// streamCapacity is what bounded the streams the pool could have open at
// once for c requests in flight: per streams per connection (the
// server's MAX_CONCURRENT_STREAMS, the most seen open at once where the
// engine could not read the server's SETTINGS or saw none, or the client's
// --h2-max-streams when lower, then client is set) over conns
// connections (MaxConnsPerHost, or one with --h2-strict-streams); ok only
// when per times conns is below c, the one case where a request can find
// every connection's streams taken with no connection left to open. With
// a pool per VU each pool carries its VU's one request at a time.
func (a *analysis) streamCapacity(c int64) (per int64, client bool, conns int64, ok bool) {
	s := a.s
	if a.Config.PerVUPools {
		c = 1
	}
	switch {
	case s.H2.Unknown.Has(metrics.H2UnknownSettings) || s.H2.Settings == 0:
		per = s.H2.PeakStreams
	case s.H2.MaxStreamsMin > 0:
		per = s.H2.MaxStreamsMin
	}
	if m := int64(a.Config.H2MaxStreams); m > 0 && (per == 0 || m < per) {
		per, client = m, true
	}
	conns = int64(a.Config.MaxConnsPerHost)
	if a.Config.H2StrictStreams {
		conns = 1
	}
	if per <= 0 || conns <= 0 {
		return 0, false, 0, false // no limit on one side: another connection, or another stream, was always there
	}
	return per, client, conns, per*conns < c
}

// The bounds of single-connection-bottleneck: a run shorter or smaller
// than these cannot show one connection's limit; a connection's waits
// below waitShare of the requests' time did not cap anything.
const (
	bottleneckMinRun      = time.Second
	bottleneckMinRequests = 200
	bottleneckMaxConns    = 2
	waitShare             = 0.10
	// readBusyShare is the share of the run's time a connection's reader
	// must have been busy (handling what it read, not waiting for the
	// socket) to have been the limit.
	readBusyShare = 0.90
)

// singleConnBottleneck: one HTTP/2 connection (or two) carried the run's
// streams and was its limit, by one of three pieces of the run's own
// evidence: its streams were all in use (at the server's
// MAX_CONCURRENT_STREAMS, or the most seen) while requests waited for a
// slot for a tenth of their time or more; or request bodies waited for
// the connection's flow-control window (shared by its streams; another
// connection has its own) for a tenth of the requests' time or more; or
// its reader (the one goroutine that reads the connection, handles its
// frames and hands the answers out) was busy for 90% of the run or more,
// with requests waiting on it (several streams open at once, or a wait
// for a stream slot). The reader is judged only where it was timed (the
// default engine; not the net/http engine, whose reader is Go's), and
// not when the generator's CPUs were 90% busy or more: a reader's busy
// time then includes its waits for a CPU, and more connections would
// not get one.
// Judged only on HTTP/2 runs (90% of the requests or more) of a second
// and 200 requests at least, with at most 2 connections open at once and
// more requests in flight than connections. It replaces stream-limit,
// whose evidence it carries, when it fires on the streams.
// Long: its guards (each a case the finding cannot judge) and its three
// kinds of evidence (stream-slot waits, flow-control stalls, the reader's
// busy time) read in order, as the finding's text explains them.
func (a *analysis) singleConnBottleneck() {
	s := a.s
	h2 := s.Protocols[metrics.ProtoH2]
	open := max(s.MaxOpen, 1)
	c := int64(a.concurrency())
	if h2 == 0 || float64(h2) < 0.9*float64(s.Requests) || s.Requests < bottleneckMinRequests ||
		a.Duration < bottleneckMinRun || open > bottleneckMaxConns || c <= open {
		return
	}
	lat := metrics.DistOf(s.Hist(metrics.Latency))
	total := float64(lat.Mean) * float64(lat.Count) // the requests' time together
	if total <= 0 {
		return
	}
	conns := fmt.Sprintf("%d HTTP/2 connection", open)
	if open > 1 {
		conns += "s"
	}
	// The streams: all of a connection's in use, requests waiting.
	wait := metrics.DistOf(s.Hist(metrics.StreamWait))
	limit, peak := s.H2.MaxStreamsMin, s.H2.PeakStreams
	if limit <= 0 {
		limit = peak // the server's limit unseen (net/http through a proxy): the most open at once
	}
	streams := wait.Count > 0 && limit > 0 && peak >= limit && open*limit < c &&
		float64(wait.Mean)*float64(wait.Count) >= waitShare*total
	// The connection's flow-control window.
	stall := s.H2.FlowStallConnTime
	flow := float64(stall) >= waitShare*total
	// The connection's reader.
	busy := s.H2.ReadBusyMax
	read := s.H2.ReadLoops > 0 && float64(busy) >= readBusyShare*float64(a.Duration) &&
		(wait.Count > 0 || peak >= 2) && (a.GeneratorBusy <= 0 || a.GeneratorBusy < GeneratorBusy)
	if !streams && !flow && !read {
		return
	}
	var ev []string
	ev = append(ev, fmt.Sprintf("%d VUs sent %d requests over %s open at once (%d dialed) in %s", c, s.Requests, conns, s.DialedProto[metrics.ProtoH2], dur(a.Duration)))
	var fixes []string
	need := open
	if streams {
		share := float64(wait.Mean) * float64(wait.Count) / total
		src := "the server's SETTINGS_MAX_CONCURRENT_STREAMS"
		if s.H2.MaxStreamsMin <= 0 {
			src = "the most seen open at once"
		}
		ev = append(ev, fmt.Sprintf("every connection's %d streams were in use (%s), and %d requests waited for a stream slot: stream_wait p50 %s, p99 %s, %.0f%% of the requests' time",
			limit, src, wait.Count, dur(wait.P50), dur(wait.P99), 100*share))
		need = max(need, (c+limit-1)/limit)
		if m := a.Config.MaxConnsPerHost; m == 0 || int64(m) >= need {
			// The cap allowed them: the pool kept to its connections
			// because of --h2-strict-streams.
			fixes = append(fixes, fmt.Sprintf("drop --h2-strict-streams (in Go: HTTP2Config.StrictMaxConcurrentRequests = false), so that the pool opens the %d connections %d VUs need at %d streams each", need, c, limit))
		} else {
			fixes = append(fixes, fmt.Sprintf("--max-conns-per-host %d (in Go: http.Transport.MaxConnsPerHost = %d, with HTTP2Config.StrictMaxConcurrentRequests false): %d VUs at %d streams per connection", need, need, c, limit))
		}
		fixes = append(fixes, "or allow more streams per connection on the server (nginx: http2_max_concurrent_streams; Go: http.HTTP2Config.MaxConcurrentStreams)")
	}
	if flow {
		share := float64(stall) / total
		ev = append(ev, fmt.Sprintf("request bodies waited %d times for the connection's flow-control window (the streams' own had room) for %s together, %.0f%% of the requests' time",
			s.H2.FlowStallsConn, dur(stall), 100*share))
		// Each connection brings its own window: enough of them that the
		// waits' share would vanish (at least twice as many), within the
		// VUs; the streams spread over them by a cap per connection (the
		// pool opens another connection only when streams run out).
		// (Less 0.05: the latencies' histogram rounds.)
		n := max(need, min(c, max(2*open, int64(math.Ceil(float64(open)/(1-min(share, 0.9))-0.05)))))
		per := (c + n - 1) / n
		fixes = append(fixes, fmt.Sprintf("--max-conns-per-host %d --h2-max-streams %d (each connection has its own window; Go's client has no cap of streams per connection, so there: more than one http.Transport)", n, per),
			"or a larger connection window on the server (Go: http.HTTP2Config.MaxReceiveBufferPerConnection, x/net's http2.Server.MaxUploadBufferPerConnection)")
	}
	if read {
		rb := metrics.DistOf(s.Hist(metrics.H2ReadBusy))
		e := fmt.Sprintf("the busiest connection's reader (its one goroutine reading frames and handing the answers to their requests) was busy %s of the %s run (%.0f%%), not waiting for the socket: the answers of up to %d streams open at once on a connection queued behind it",
			dur(busy), dur(a.Duration), 100*min(float64(busy)/float64(a.Duration), 1), peak)
		if wait.Count > 0 {
			e += fmt.Sprintf(", and %d requests waited for a stream slot", wait.Count)
		}
		if s.H2.ReadLoops > 1 {
			e += fmt.Sprintf(" (%d connections' readers timed: p50 %.0f%% busy, max %.0f%%)", s.H2.ReadLoops,
				100*float64(rb.P50)/metrics.ReadBusyScale, 100*min(float64(rb.Max)/metrics.ReadBusyScale, 1))
		}
		ev = append(ev, e)
		// Each connection has its own reader: as many as the CPUs can
		// run at once (twice the connections at least), within the VUs,
		// the streams spread over them by a cap per connection (the
		// pool opens another connection only when streams run out).
		n := max(need, min(c, max(2*open, int64(a.CPUs))))
		per := (c + n - 1) / n
		fixes = append(fixes, fmt.Sprintf("--max-conns-per-host %d --h2-max-streams %d, so that %d readers share the answers (in Go: http.Transport.MaxConnsPerHost = %d; Go's client opens another connection only when one's streams run out and has no cap of streams per connection, so there: more than one http.Transport)", n, per, n, n))
	}
	title := "One HTTP/2 connection was the limit: its streams were all in use"
	switch {
	case streams:
	case flow:
		title = "One HTTP/2 connection was the limit: its flow-control window held the request bodies back"
	default:
		title = fmt.Sprintf("One HTTP/2 connection was the limit: its reader was busy %.0f%% of the run", 100*min(float64(busy)/float64(a.Duration), 1))
	}
	if open > 1 {
		title = strings.Replace(title, "One HTTP/2 connection was", fmt.Sprintf("%d HTTP/2 connections were", open), 1)
		title = strings.Replace(title, "its ", "their ", 1)
		title = strings.Replace(title, "their reader was", "their busiest reader was", 1)
	}
	a.add(Finding{ID: "single-connection-bottleneck", Severity: Warning, Title: title,
		Evidence: strings.Join(ev, "; ") + ".", Fix: strings.Join(fixes, ", ")})
	if streams {
		a.drop("stream-limit")
	}
}

// drop takes the findings with id out.
func (a *analysis) drop(id string) {
	out := a.out[:0]
	for _, f := range a.out {
		if f.ID != id {
			out = append(out, f)
		}
	}
	a.out = out
}
