package report

import (
	"fmt"
	"math"
	"time"

	"github.com/faya-load/faya/metrics"
)

// H2Connections are the HTTP/2 connections' accounts (the report's
// connections.h2, absent when no request or connection was HTTP/2).
type H2Connections struct {
	// Connections counts the HTTP/2 connections closed; StreamsPerConn
	// is the streams (requests) each carried (counts, not durations).
	Connections    int64 `json:"connections"`
	StreamsPerConn Dist  `json:"streams_per_conn"`
	// ServerMaxStreams is the server's SETTINGS_MAX_CONCURRENT_STREAMS as
	// its SETTINGS frames said.
	//
	// It and the other pointer fields are nil (absent in JSON, "n/a" in
	// text) when the run could not measure them (metrics.H2Unknown): the
	// net/http engine through a proxy, where Go's Transport makes its own
	// HTTP/2 connections.
	ServerMaxStreams *H2MaxStreams `json:"server_max_concurrent_streams,omitempty"`
	// PeakStreams is the most streams open at once on one connection.
	PeakStreams int64 `json:"peak_concurrent_streams"`
	// GoAways are the GOAWAY frames received.
	GoAways H2GoAways `json:"goaways"`
	// RSTStreams counts the RST_STREAM frames the server sent, by error
	// code (the codes seen only); RefusedRetried those REFUSED_STREAM
	// whose request was sent again.
	RSTStreams     map[string]int64 `json:"rst_streams"`
	RefusedRetried *int64           `json:"refused_retried,omitempty"`
	// Ping is the PING round trips; PingTimeouts the PINGs not answered
	// in time.
	Ping         *Dist  `json:"ping_rtt_ns,omitempty"`
	PingTimeouts *int64 `json:"ping_timeouts,omitempty"`
	// FlowControlStalls counts the request bodies' waits for the
	// server's flow-control window, FlowControlStallTime their time
	// together; FlowControlConnStalls and FlowControlConnStallTime those
	// that waited for the connection's window (the stream's had room).
	FlowControlStalls        *int64 `json:"flow_control_stalls,omitempty"`
	FlowControlStallTime     *int64 `json:"flow_control_stall_ns,omitempty"`
	FlowControlConnStalls    *int64 `json:"flow_control_conn_stalls,omitempty"`
	FlowControlConnStallTime *int64 `json:"flow_control_conn_stall_ns,omitempty"`
	// ReadLoopBusy is how busy the connections' readers were; nil when
	// no reader was timed (the net/http engine: Go's HTTP/2 reader is
	// not faya's to time).
	ReadLoopBusy *H2ReadLoop `json:"read_loop_busy,omitempty"`
}

// H2ReadLoop is how busy the HTTP/2 connections' readers were: the one
// goroutine per connection that reads it, handles its frames and hands
// the answers to their requests is busy from a read's return to its next
// read call, and waits for the socket inside the read. P50, P99 and Max
// are the shares of each connection's time (from its reader's start to
// its close) its reader was busy, 0 to 1, over the Connections timed;
// BusiestNs is the busiest reader's busy time, BusiestSpanNs the time it
// was timed.
type H2ReadLoop struct {
	Connections   int64   `json:"connections"`
	P50           float64 `json:"p50"`
	P99           float64 `json:"p99"`
	Max           float64 `json:"max"`
	BusiestNs     int64   `json:"busiest_ns"`
	BusiestSpanNs int64   `json:"busiest_span_ns"`
}

// readLoop is the readers' busy time of s; nil when none was timed.
func readLoop(s *metrics.Snapshot) *H2ReadLoop {
	h := &s.H2
	if h.ReadLoops == 0 {
		return nil
	}
	d := metrics.DistOf(s.Hist(metrics.H2ReadBusy))
	share := func(v time.Duration) float64 {
		return math.Round(min(float64(v)/metrics.ReadBusyScale, 1)*1000) / 1000
	}
	return &H2ReadLoop{Connections: h.ReadLoops, P50: share(d.P50), P99: share(d.P99), Max: share(d.Max),
		BusiestNs: int64(h.ReadBusyMax), BusiestSpanNs: int64(h.ReadBusyMaxSpan)}
}

// H2MaxStreams is what the server's SETTINGS said of
// MAX_CONCURRENT_STREAMS: the frames with it, its smallest and largest
// values (0: none seen), and the connections whose first SETTINGS set no
// limit.
type H2MaxStreams struct {
	Seen      int64 `json:"seen"`
	Min       int64 `json:"min"`
	Max       int64 `json:"max"`
	Unlimited int64 `json:"unlimited"`
}

// H2GoAways are the GOAWAY frames received: their count, by error code
// (the codes seen only), and their last-stream-id (not durations: the
// server processed the streams up to it, client streams being odd, about
// (id+1)/2 requests on the connection).
type H2GoAways struct {
	Count        int64            `json:"count"`
	Codes        map[string]int64 `json:"codes"`
	LastStreamID Dist             `json:"last_stream_id"`
}

// usedH2 reports whether a request or a connection of s spoke HTTP/2.
func usedH2(s *metrics.Snapshot) bool {
	return s.Protocols[metrics.ProtoH2] > 0 || s.DialedProto[metrics.ProtoH2] > 0 || s.H2.Used()
}

// protocolCounts are counts by protocol name, every protocol listed.
func protocolCounts(n *[metrics.NumProtocols]int64) map[string]int64 {
	out := make(map[string]int64, metrics.NumProtocols)
	for p, v := range n {
		out[metrics.Protocol(p).String()] = v
	}
	return out
}

// byCode counts by HTTP/2 error code name, the codes seen only.
func byCode(n *[metrics.NumH2Codes]int64) map[string]int64 {
	out := map[string]int64{}
	for c, v := range n {
		if v > 0 {
			out[metrics.H2Code(c).String()] = v
		}
	}
	return out
}

// h2Connections are the HTTP/2 accounts of s; nil when it used no HTTP/2.
func h2Connections(s *metrics.Snapshot) *H2Connections {
	if !usedH2(s) {
		return nil
	}
	h := &s.H2
	out := &H2Connections{
		Connections:    h.Conns,
		StreamsPerConn: dist(s, metrics.H2Streams),
		PeakStreams:    h.PeakStreams,
		GoAways:        H2GoAways{Count: h.GoAways, Codes: byCode(&h.GoAwayCodes), LastStreamID: dist(s, metrics.H2GoAwayLastStream)},
		RSTStreams:     byCode(&h.RSTStreams),
		ReadLoopBusy:   readLoop(s),
	}
	out.measured(h, s)
	return out
}

// measured sets h's accounts that s measured (s.H2.Unknown says which
// not).
func (h *H2Connections) measured(m *metrics.H2Stats, s *metrics.Snapshot) {
	if !m.Unknown.Has(metrics.H2UnknownSettings) {
		h.ServerMaxStreams = &H2MaxStreams{Seen: m.MaxStreamsSeen, Min: m.MaxStreamsMin, Max: m.MaxStreamsMax, Unlimited: m.SettingsUnlimited}
	}
	if !m.Unknown.Has(metrics.H2UnknownRefused) {
		h.RefusedRetried = &m.Refused
	}
	if !m.Unknown.Has(metrics.H2UnknownPing) {
		d := dist(s, metrics.H2PingRTT)
		h.Ping, h.PingTimeouts = &d, &m.PingTimeouts
	}
	if !m.Unknown.Has(metrics.H2UnknownFlow) {
		t, ct := int64(m.FlowStallTime), int64(m.FlowStallConnTime)
		h.FlowControlStalls, h.FlowControlStallTime = &m.FlowStalls, &t
		h.FlowControlConnStalls, h.FlowControlConnStallTime = &m.FlowStallsConn, &ct
	}
}

// h2NA is what a report shows for an account not measured.
const h2NA = "n/a"

// count is *n, or h2NA when nil.
func count(n *int64) string {
	if n == nil {
		return h2NA
	}
	return fmt.Sprint(*n)
}

// maxStreamsNote is what the server's SETTINGS said of its stream limit,
// "" when they said nothing.
func (h *H2Connections) maxStreamsNote() string {
	switch m := h.ServerMaxStreams; {
	case m == nil:
		return "server MAX_CONCURRENT_STREAMS n/a (its SETTINGS not seen: Go's own connections through a proxy)"
	case m.Seen > 0 && m.Min == m.Max:
		return fmt.Sprintf("server MAX_CONCURRENT_STREAMS %d", m.Max)
	case m.Seen > 0:
		return fmt.Sprintf("server MAX_CONCURRENT_STREAMS %d to %d", m.Min, m.Max)
	case m.Unlimited > 0:
		return "server MAX_CONCURRENT_STREAMS not set (no limit)"
	}
	return ""
}

// pingNote is the PING round trips' line, "" when there were none.
func (h *H2Connections) pingNote(dur func(int64) string, sep string) string {
	d := h.Ping
	switch {
	case d == nil:
		return h2NA + " (not measured: Go's own connections through a proxy)"
	case d.Count == 0 && *h.PingTimeouts == 0:
		return ""
	}
	return fmt.Sprintf("%d%s p50 %s%s max %s%s unanswered %d", d.Count, sep, dur(d.P50), sep, dur(d.Max), sep, *h.PingTimeouts)
}

// stallNote is the flow-control stalls' line, "" when there were none.
func (h *H2Connections) stallNote(dur func(int64) string, sep string) string {
	switch {
	case h.FlowControlStalls == nil:
		return h2NA + " (not measured: Go's own connections through a proxy)"
	case *h.FlowControlStalls == 0:
		return ""
	}
	return fmt.Sprintf("%d for %s%s on the connection's window %d for %s", *h.FlowControlStalls, dur(*h.FlowControlStallTime), sep,
		*h.FlowControlConnStalls, dur(*h.FlowControlConnStallTime))
}

// readLoopRow says how busy the readers were: "p50 12% · max 97% (3
// connections; the busiest 1.93s of 2.00s)", or that they were not timed
// (the net/http engine) when HTTP/2 connections closed.
func readLoopRow(h *H2Connections) (string, bool) {
	b := h.ReadLoopBusy
	if b == nil {
		if h.Connections == 0 {
			return "", false
		}
		return "not measured (the net/http engine's HTTP/2 reader is Go's)", true
	}
	return fmt.Sprintf("p50 %.0f%% · p99 %.0f%% · max %.0f%% of their time (%d connections; the busiest %s of %s)",
		100*b.P50, 100*b.P99, 100*b.Max, b.Connections, Duration(b.BusiestNs), Duration(b.BusiestSpanNs)), true
}

// h2Rows are the HTML report's HTTP/2 rows; nil when the run neither used
// nor offered HTTP/2. They say what the text report's HTTP/2 section says.
func h2Rows(r *Report) []kv {
	h := r.Connections.H2
	if h == nil {
		return nil
	}
	q, c := r.Requests.Protocols, r.Connections.Protocols
	out := []kv{{"protocols", fmt.Sprintf("requests h1 %d · h2 %d; connections h1 %d · h2 %d", q["h1"], q["h2"], c["h1"], c["h2"])}}
	if d := h.StreamsPerConn; d.Count > 0 {
		out = append(out, kv{"streams per connection", fmt.Sprintf("p50 %d · p99 %d · max %d (%d connections closed)", d.P50, d.P99, d.Max, h.Connections)})
	}
	peak := fmt.Sprint(h.PeakStreams)
	if n := h.maxStreamsNote(); n != "" {
		peak += " (" + n + ")"
	}
	out = append(out, kv{"peak concurrent streams", peak})
	if g := h.GoAways; g.Count > 0 {
		out = append(out, kv{"GOAWAY received", fmt.Sprintf("%d (%s) · last-stream-id p50 %d · max %d", g.Count, codeList(g.Codes), g.LastStreamID.P50, g.LastStreamID.Max)})
	}
	if len(h.RSTStreams) > 0 || h.RefusedRetried == nil {
		out = append(out, kv{"RST_STREAM received", fmt.Sprintf("%s (REFUSED_STREAM retried %s)", codeList(h.RSTStreams), count(h.RefusedRetried))})
	}
	dur := func(ns int64) string { return Duration(ns) }
	if n := h.pingNote(dur, " ·"); n != "" {
		out = append(out, kv{"PING round trips", n})
	}
	if n := h.stallNote(dur, " ·"); n != "" {
		out = append(out, kv{"flow-control stalls", n})
	}
	if v, ok := readLoopRow(h); ok {
		out = append(out, kv{"read loop busy", v})
	}
	return out
}
