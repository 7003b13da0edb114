package metrics_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/faya-load/faya/metrics"
)

// The HTTP/2 accounts: what the recording methods count, how flushes and
// merges combine them (counters add, the limits take min and max), and
// that they survive a saved run's encoding.
func TestH2Accounts(t *testing.T) {
	r := metrics.NewRecorder(2)
	r.ConnDialedProto(metrics.ProtoH2)
	r.ConnDialedProto(metrics.ProtoH2)
	r.ConnDialed()
	r.H2Settings(100, true, true)
	r.H2Settings(0, false, true)  // a first SETTINGS without the limit
	r.H2Settings(0, false, false) // a later one without it changes nothing
	r.H2GoAway(199, metrics.H2NoError)
	r.H2GoAway(7, metrics.H2Code(0x77)) // an undefined code
	r.H2RSTStream(metrics.H2RefusedStream, true)
	r.H2RSTStream(metrics.H2Cancel, false)
	r.H2Ping(3 * time.Millisecond)
	r.H2Ping(-1)
	r.H2FlowStall(3*time.Millisecond, true)
	r.H2FlowStall(time.Millisecond, false)
	r.H2Streams(5)
	r.ConnClosed(metrics.ClosedConn{Reason: metrics.CloseGoAway, Requests: 100, Proto: metrics.ProtoH2, PeakStreams: 9,
		ReadTimed: true, ReadBusy: 900 * time.Millisecond, ReadSpan: time.Second})
	r.ConnClosed(metrics.ClosedConn{Reason: metrics.CloseServer, Requests: 3})
	sh := r.Shard(0)
	sh.Record(&metrics.Sample{Proto: metrics.ProtoH2, Status: 200}, nil)
	sh.Record(&metrics.Sample{Proto: metrics.ProtoH2, Status: 200, PhaseSet: 1 << metrics.PhaseStreamWait,
		Phases: [metrics.NumPhases]time.Duration{metrics.PhaseStreamWait: time.Millisecond}}, nil)
	sh.Record(&metrics.Sample{Status: 200}, nil)
	// A request that got no connection spoke no protocol.
	sh.Record(&metrics.Sample{Err: metrics.ErrProtocolNegotiation}, nil)
	a := r.Flush(nil)

	r.H2Settings(250, true, true)
	r.ConnClosed(metrics.ClosedConn{Reason: metrics.CloseH2Error, Requests: 1, Proto: metrics.ProtoH2, PeakStreams: 1,
		ReadTimed: true, ReadBusy: 100 * time.Millisecond, ReadSpan: 400 * time.Millisecond})
	// An HTTP/2 connection whose reader was not timed (net/http's).
	r.ConnClosed(metrics.ClosedConn{Reason: metrics.CloseRunEnd, Requests: 1, Proto: metrics.ProtoH2})
	b := r.Flush(nil)

	if a.DialedProto != [metrics.NumProtocols]int64{1, 2} || a.Protocols != [metrics.NumProtocols]int64{1, 2} {
		t.Errorf("connections by protocol %v, requests by protocol %v, want [1 2] both", a.DialedProto, a.Protocols)
	}
	h := a.H2
	if h.Settings != 3 || h.MaxStreamsSeen != 1 || h.MaxStreamsMin != 100 || h.MaxStreamsMax != 100 || h.SettingsUnlimited != 1 {
		t.Errorf("settings %+v", h)
	}
	if h.GoAways != 2 || h.GoAwayCodes[metrics.H2NoError] != 1 || h.GoAwayCodes[metrics.H2CodeUnknown] != 1 {
		t.Errorf("goaways %d by code %v", h.GoAways, h.GoAwayCodes)
	}
	if h.RSTStreams[metrics.H2RefusedStream] != 1 || h.RSTStreams[metrics.H2Cancel] != 1 || h.Refused != 1 {
		t.Errorf("rst streams %v, refused retried %d", h.RSTStreams, h.Refused)
	}
	if h.Pings != 1 || h.PingTimeouts != 1 || h.FlowStalls != 2 || h.PeakStreams != 9 || h.Conns != 1 {
		t.Errorf("pings %d, timeouts %d, stalls %d, peak %d, conns %d", h.Pings, h.PingTimeouts, h.FlowStalls, h.PeakStreams, h.Conns)
	}
	if h.FlowStallTime != 4*time.Millisecond || h.FlowStallsConn != 1 || h.FlowStallConnTime != 3*time.Millisecond {
		t.Errorf("stall time %v, on the connection's window %d for %v; want 4ms, 1 for 3ms", h.FlowStallTime, h.FlowStallsConn, h.FlowStallConnTime)
	}
	if a.CloseReasons[metrics.CloseGoAway] != 1 || a.CloseReasons[metrics.CloseServer] != 1 {
		t.Errorf("close reasons %v", a.CloseReasons)
	}
	if d := metrics.DistOf(a.Hist(metrics.H2Streams)); d.Count != 1 || d.Max != 100 {
		t.Errorf("streams per h2 connection %+v, want one of 100 (the h1 connection is not in it)", d)
	}
	if d := metrics.DistOf(a.Hist(metrics.H2GoAwayLastStream)); d.Count != 2 || d.Max != 199 {
		t.Errorf("goaway last stream ids %+v", d)
	}
	if d := metrics.DistOf(a.Hist(metrics.StreamWait)); d.Count != 1 || d.Max < 999*time.Microsecond || d.Max > 1001*time.Microsecond {
		t.Errorf("stream_wait %+v", d)
	}

	if h.ReadLoops != 1 || h.ReadBusyMax != 900*time.Millisecond || h.ReadBusyMaxSpan != time.Second {
		t.Errorf("readers timed %d, busiest %v of %v; want 1, 900ms of 1s", h.ReadLoops, h.ReadBusyMax, h.ReadBusyMaxSpan)
	}
	if d := metrics.DistOf(a.Hist(metrics.H2ReadBusy)); d.Count != 1 || d.Max != 900 {
		t.Errorf("readers' busy shares %+v, want one of 900 (90%% of %d)", d, metrics.ReadBusyScale)
	}

	a.Merge(b)
	if a.H2.MaxStreamsMin != 100 || a.H2.MaxStreamsMax != 250 || a.H2.PeakStreams != 9 || a.H2.Conns != 3 || a.CloseReasons[metrics.CloseH2Error] != 1 {
		t.Errorf("merged: %+v, close reasons %v", a.H2, a.CloseReasons)
	}
	// The busiest reader stays, with its span; the shares are 90% and 25%.
	if a.H2.ReadLoops != 2 || a.H2.ReadBusyMax != 900*time.Millisecond || a.H2.ReadBusyMaxSpan != time.Second {
		t.Errorf("merged: readers timed %d, busiest %v of %v", a.H2.ReadLoops, a.H2.ReadBusyMax, a.H2.ReadBusyMaxSpan)
	}
	if d := metrics.DistOf(a.Hist(metrics.H2ReadBusy)); d.Count != 2 || d.Min != 250 || d.Max != 900 {
		t.Errorf("merged: readers' busy shares %+v, want 250 and 900", d)
	}
	enc, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var back metrics.Snapshot
	if err := json.Unmarshal(enc, &back); err != nil {
		t.Fatal(err)
	}
	if back.H2 != a.H2 || back.Protocols != a.Protocols || back.DialedProto != a.DialedProto ||
		metrics.DistOf(back.Hist(metrics.H2Streams)) != metrics.DistOf(a.Hist(metrics.H2Streams)) ||
		metrics.DistOf(back.Hist(metrics.H2ReadBusy)) != metrics.DistOf(a.Hist(metrics.H2ReadBusy)) {
		t.Errorf("decoded %+v, want %+v", back.H2, a.H2)
	}
}

// Accounts not measured: every flush after H2NotMeasured says so, a merge
// keeps the union, the encoding keeps it, and it is not a use of HTTP/2.
// H2Refused counts a retried refusal apart from its frame.
func TestH2Unknown(t *testing.T) {
	r := metrics.NewRecorder(1)
	if s := r.Flush(nil); s.H2.Unknown != 0 || s.H2.Used() {
		t.Fatalf("a fresh recorder: %+v", s.H2)
	}
	r.H2NotMeasured(metrics.H2UnknownPing)
	r.H2NotMeasured(metrics.H2UnknownPing) // once is enough
	a := r.Flush(nil)
	b := r.Flush(nil)
	if a.H2.Unknown != metrics.H2UnknownPing || b.H2.Unknown != metrics.H2UnknownPing || a.H2.Used() {
		t.Errorf("flushes: %v then %v (used %v)", a.H2.Unknown, b.H2.Unknown, a.H2.Used())
	}
	var c metrics.Snapshot
	c.H2.Unknown = metrics.H2UnknownFlow
	c.Merge(a)
	if !c.H2.Unknown.Has(metrics.H2UnknownFlow|metrics.H2UnknownPing) || c.H2.Unknown.Has(metrics.H2UnknownRefused) {
		t.Errorf("merged: %v", c.H2.Unknown)
	}
	enc, err := json.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	var back metrics.Snapshot
	if err := json.Unmarshal(enc, &back); err != nil {
		t.Fatal(err)
	}
	if back.H2.Unknown != c.H2.Unknown {
		t.Errorf("decoded %v, want %v", back.H2.Unknown, c.H2.Unknown)
	}
	r.H2Refused()
	if s := r.Flush(nil); s.H2.Refused != 1 || s.H2.RSTStreams != [metrics.NumH2Codes]int64{} || !s.H2.Used() {
		t.Errorf("H2Refused: %+v", s.H2)
	}
}

func TestH2Names(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{metrics.ProtoH1.String(), "h1"},
		{metrics.ProtoH2.String(), "h2"},
		{metrics.H2RefusedStream.String(), "REFUSED_STREAM"},
		{metrics.H2HTTP11Required.String(), "HTTP_1_1_REQUIRED"},
		{metrics.H2Code(0xff).String(), "UNKNOWN"},
		{metrics.CloseGoAway.String(), "goaway"},
		{metrics.CloseH2Error.String(), "h2_error"},
		{metrics.ErrProtocolNegotiation.String(), "protocol_negotiation"},
		{metrics.StreamWait.String(), "stream_wait"},
		{metrics.PhaseStreamWait.String(), "stream_wait"},
		{metrics.H2ReadBusy.String(), "h2_read_busy"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if c, ok := metrics.ParseErrClass("protocol_negotiation"); !ok || c != metrics.ErrProtocolNegotiation {
		t.Errorf("ParseErrClass(protocol_negotiation) = %v, %v", c, ok)
	}
}
