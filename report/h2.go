package report

import (
	"fmt"

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
	ServerMaxStreams H2MaxStreams `json:"server_max_concurrent_streams"`
	// PeakStreams is the most streams open at once on one connection.
	PeakStreams int64 `json:"peak_concurrent_streams"`
	// GoAways are the GOAWAY frames received.
	GoAways H2GoAways `json:"goaways"`
	// RSTStreams counts the RST_STREAM frames the server sent, by error
	// code (the codes seen only); RefusedRetried those REFUSED_STREAM
	// whose request was sent again.
	RSTStreams     map[string]int64 `json:"rst_streams"`
	RefusedRetried int64            `json:"refused_retried"`
	// Ping is the PING round trips; PingTimeouts the PINGs not answered
	// in time.
	Ping         Dist  `json:"ping_rtt_ns"`
	PingTimeouts int64 `json:"ping_timeouts"`
	// FlowControlStalls counts the request bodies' waits for the
	// server's flow-control window, FlowControlStallTime their time
	// together; FlowControlConnStalls and FlowControlConnStallTime those
	// that waited for the connection's window (the stream's had room).
	FlowControlStalls        int64 `json:"flow_control_stalls"`
	FlowControlStallTime     int64 `json:"flow_control_stall_ns"`
	FlowControlConnStalls    int64 `json:"flow_control_conn_stalls"`
	FlowControlConnStallTime int64 `json:"flow_control_conn_stall_ns"`
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
	return &H2Connections{
		Connections:    h.Conns,
		StreamsPerConn: dist(s, metrics.H2Streams),
		ServerMaxStreams: H2MaxStreams{Seen: h.MaxStreamsSeen, Min: h.MaxStreamsMin, Max: h.MaxStreamsMax,
			Unlimited: h.SettingsUnlimited},
		PeakStreams:              h.PeakStreams,
		GoAways:                  H2GoAways{Count: h.GoAways, Codes: byCode(&h.GoAwayCodes), LastStreamID: dist(s, metrics.H2GoAwayLastStream)},
		RSTStreams:               byCode(&h.RSTStreams),
		RefusedRetried:           h.Refused,
		Ping:                     dist(s, metrics.H2PingRTT),
		PingTimeouts:             h.PingTimeouts,
		FlowControlStalls:        h.FlowStalls,
		FlowControlStallTime:     int64(h.FlowStallTime),
		FlowControlConnStalls:    h.FlowStallsConn,
		FlowControlConnStallTime: int64(h.FlowStallConnTime),
	}
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
	switch m := h.ServerMaxStreams; {
	case m.Seen > 0 && m.Min == m.Max:
		peak += fmt.Sprintf(" (server MAX_CONCURRENT_STREAMS %d)", m.Max)
	case m.Seen > 0:
		peak += fmt.Sprintf(" (server MAX_CONCURRENT_STREAMS %d to %d)", m.Min, m.Max)
	case m.Unlimited > 0:
		peak += " (server MAX_CONCURRENT_STREAMS not set: no limit)"
	}
	out = append(out, kv{"peak concurrent streams", peak})
	if g := h.GoAways; g.Count > 0 {
		out = append(out, kv{"GOAWAY received", fmt.Sprintf("%d (%s) · last-stream-id p50 %d · max %d", g.Count, codeList(g.Codes), g.LastStreamID.P50, g.LastStreamID.Max)})
	}
	if len(h.RSTStreams) > 0 {
		out = append(out, kv{"RST_STREAM received", fmt.Sprintf("%s (REFUSED_STREAM retried %d)", codeList(h.RSTStreams), h.RefusedRetried)})
	}
	if d := h.Ping; d.Count > 0 || h.PingTimeouts > 0 {
		out = append(out, kv{"PING round trips", fmt.Sprintf("%d · p50 %s · max %s · unanswered %d", d.Count, Duration(d.P50), Duration(d.Max), h.PingTimeouts)})
	}
	if h.FlowControlStalls > 0 {
		out = append(out, kv{"flow-control stalls", fmt.Sprintf("%d for %s · on the connection's window %d for %s",
			h.FlowControlStalls, Duration(h.FlowControlStallTime), h.FlowControlConnStalls, Duration(h.FlowControlConnStallTime))})
	}
	return out
}
