package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/report"
	"github.com/faya-load/faya/transport"
)

// h2Run is a run of 30 requests over HTTP/2: three connections of ten
// streams each, the server ending each with a GOAWAY after stream 19.
func h2Run() report.Run {
	rec := metrics.NewRecorder(1)
	sh := rec.Shard(0)
	for range 3 {
		rec.ConnDialedProto(metrics.ProtoH2)
		rec.H2Settings(128, true, true)
		rec.H2GoAway(19, metrics.H2NoError)
	}
	for i := range 30 {
		sh.Record(&metrics.Sample{Latency: time.Millisecond, Status: 200, Proto: metrics.ProtoH2, Fresh: b2i(i%10 == 0), Reused: b2i(i%10 != 0)}, nil)
	}
	for range 3 {
		rec.ConnClosed(metrics.ClosedConn{Reason: metrics.CloseGoAway, Requests: 10, Proto: metrics.ProtoH2, PeakStreams: 4})
	}
	rec.H2RSTStream(metrics.H2RefusedStream, true)
	total := rec.Flush(nil)
	return report.Run{
		Meta:   report.Meta{URL: "https://127.0.0.1/", Engine: "net/http", Pool: report.Pool(transport.Config{HTTP: transport.HTTP2})},
		Result: engine.Result{Total: total, Duration: time.Second},
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestH2Sections(t *testing.T) {
	r := report.Build(h2Run())
	if got := r.Requests.Protocols; got["h1"] != 0 || got["h2"] != 30 {
		t.Errorf("requests.protocols %v, want h1 0, h2 30", got)
	}
	c := r.Connections
	if c.Protocols["h2"] != 3 || c.CloseReasons["goaway"] != 3 || c.H2 == nil {
		t.Fatalf("connections.protocols %v, close reasons %v, h2 %v", c.Protocols, c.CloseReasons, c.H2)
	}
	h := c.H2
	if h.Connections != 3 || h.StreamsPerConn.P50 != 10 || h.StreamsPerConn.Max != 10 || h.PeakStreams != 4 ||
		h.ServerMaxStreams == nil || *h.ServerMaxStreams != (report.H2MaxStreams{Seen: 3, Min: 128, Max: 128}) ||
		h.GoAways.Count != 3 || h.GoAways.Codes["NO_ERROR"] != 3 || h.GoAways.LastStreamID.Max != 19 ||
		h.RSTStreams["REFUSED_STREAM"] != 1 || h.RefusedRetried == nil || *h.RefusedRetried != 1 ||
		h.Ping == nil || h.PingTimeouts == nil || h.FlowControlStalls == nil {
		t.Errorf("connections.h2 %+v", h)
	}
	var js bytes.Buffer
	if err := report.JSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Requests struct {
			Protocols map[string]int64 `json:"protocols"`
		} `json:"requests"`
		Connections struct {
			H2 map[string]json.RawMessage `json:"h2"`
		} `json:"connections"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Requests.Protocols["h2"] != 30 || string(doc.Connections.H2["peak_concurrent_streams"]) != "4" {
		t.Errorf("JSON requests.protocols %v, connections.h2 %v", doc.Requests.Protocols, doc.Connections.H2)
	}
	var txt bytes.Buffer
	if err := report.Text(&txt, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"HTTP/2\n",
		"requests h1 0, h2 30; connections h1 0, h2 3",
		"streams per connection   p50 10, p99 10, max 10 (3 connections closed)",
		"peak concurrent streams  4; server MAX_CONCURRENT_STREAMS 128",
		"GOAWAY received          3 (NO_ERROR 3), last-stream-id p50 19, max 19",
		"RST_STREAM received      REFUSED_STREAM 1 (REFUSED_STREAM retried 1)",
		"goaway 3",
	} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, txt.String())
		}
	}
}

// Accounts a run could not measure (the net/http engine's HTTP/2 through
// a proxy) are unknown, not 0: absent in JSON, "n/a" in the text and
// HTML reports; those it measured stay, 0 included.
func TestH2Unknown(t *testing.T) {
	run := h2Run()
	run.Result.Total.H2.Unknown = metrics.H2UnknownFrames
	r := report.Build(run)
	h := r.Connections.H2
	if h.ServerMaxStreams != nil || h.RefusedRetried != nil || h.Ping != nil || h.PingTimeouts != nil ||
		h.FlowControlStalls != nil || h.FlowControlStallTime != nil || h.FlowControlConnStalls != nil || h.FlowControlConnStallTime != nil {
		t.Errorf("connections.h2 %+v: the unknown accounts set", h)
	}
	var js bytes.Buffer
	if err := report.JSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Connections struct {
			H2 map[string]json.RawMessage `json:"h2"`
		} `json:"connections"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"server_max_concurrent_streams", "refused_retried", "ping_rtt_ns", "ping_timeouts",
		"flow_control_stalls", "flow_control_stall_ns", "flow_control_conn_stalls", "flow_control_conn_stall_ns"} {
		if v, ok := doc.Connections.H2[k]; ok {
			t.Errorf("JSON connections.h2.%s = %s, want it absent", k, v)
		}
	}
	for _, k := range []string{"goaways", "rst_streams", "peak_concurrent_streams", "streams_per_conn"} {
		if _, ok := doc.Connections.H2[k]; !ok {
			t.Errorf("JSON connections.h2 lacks %s", k)
		}
	}
	var txt bytes.Buffer
	if err := report.Text(&txt, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"peak concurrent streams  4; server MAX_CONCURRENT_STREAMS n/a",
		"RST_STREAM received      REFUSED_STREAM 1 (REFUSED_STREAM retried n/a)",
		"PING round trips         n/a",
		"flow-control stalls      n/a",
	} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, txt.String())
		}
	}
	var html bytes.Buffer
	if err := report.HTML(&html, r); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(html.String(), "n/a"); n < 4 {
		t.Errorf("HTML says n/a %d times, want at least 4", n)
	}
	// Measured, the same accounts are there with their zeros.
	r = report.Build(h2Run())
	js.Reset()
	if err := report.JSON(&js, r); err != nil {
		t.Fatal(err)
	}
	doc.Connections.H2 = nil
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if string(doc.Connections.H2["flow_control_stalls"]) != "0" || string(doc.Connections.H2["ping_timeouts"]) != "0" {
		t.Errorf("measured: connections.h2 %v", doc.Connections.H2)
	}
}

// The HTML report has the HTTP/2 card for an h2 run, not for an h1 run.
func TestH2HTML(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  report.Run
		want bool
	}{{"h2", h2Run(), true}, {"h1", fixture(), false}} {
		var b bytes.Buffer
		if err := report.HTML(&b, report.Build(tc.run)); err != nil {
			t.Fatal(err)
		}
		html := b.String()
		got := strings.Contains(html, "<h3>HTTP/2</h3>")
		if got != tc.want {
			t.Errorf("%s: HTTP/2 card %v, want %v", tc.name, got, tc.want)
		}
		if tc.want && (!strings.Contains(html, "GOAWAY received") || !strings.Contains(html, "3 (NO_ERROR 3)")) {
			t.Errorf("%s: the card lacks the GOAWAYs", tc.name)
		}
	}
}

// An HTTP/1.x run that did not ask for HTTP/2 has none of it.
func TestH1HasNoH2Sections(t *testing.T) {
	r := report.Build(fixture())
	if r.Requests.Protocols != nil || r.Connections.Protocols != nil || r.Connections.H2 != nil {
		t.Errorf("protocols %v / %v, h2 %v in an h1 run", r.Requests.Protocols, r.Connections.Protocols, r.Connections.H2)
	}
	if _, ok := r.Connections.CloseReasons["goaway"]; ok {
		t.Error("close reason goaway listed in an h1 run")
	}
	var txt bytes.Buffer
	if err := report.Text(&txt, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(txt.String(), "HTTP/2") {
		t.Errorf("text of an h1 run mentions HTTP/2:\n%s", txt.String())
	}
}

// The readers' busy time: connections.h2.read_loop_busy with the shares
// per connection and the busiest reader's time, and a text row, when the
// readers were timed (the default engine); absent from the JSON, and
// "not measured" in the text, when they were not (the net/http engine).
func TestH2ReadLoopBusy(t *testing.T) {
	timed := func() report.Run {
		rec := metrics.NewRecorder(1)
		sh := rec.Shard(0)
		for range 3 {
			rec.ConnDialedProto(metrics.ProtoH2)
		}
		for range 30 {
			sh.Record(&metrics.Sample{Latency: time.Millisecond, Status: 200, Proto: metrics.ProtoH2, Reused: 1}, nil)
		}
		for _, busy := range []time.Duration{100 * time.Millisecond, 250 * time.Millisecond, 1900 * time.Millisecond} {
			rec.ConnClosed(metrics.ClosedConn{Reason: metrics.CloseRunEnd, Requests: 10, Proto: metrics.ProtoH2,
				ReadTimed: true, ReadBusy: busy, ReadSpan: 2 * time.Second})
		}
		return report.Run{
			Meta:   report.Meta{URL: "http://127.0.0.1/", Engine: "h1", Pool: report.Pool(transport.Config{HTTP: transport.HTTP2})},
			Result: engine.Result{Total: rec.Flush(nil), Duration: 2 * time.Second},
		}
	}
	for _, tc := range []struct {
		name string
		run  report.Run
		json string // connections.h2.read_loop_busy ("": absent)
		text string
	}{
		{"timed", timed(), `{"connections":3,"p50":0.125,"p99":0.95,"max":0.95,"busiest_ns":1900000000,"busiest_span_ns":2000000000}`,
			"read loop busy           p50 12%, p99 95%, max 95% of their time (3 connections; the busiest 1.90s of 2.00s)"},
		{"not timed", h2Run(), "", "read loop busy           not measured (the net/http engine's HTTP/2 reader is Go's)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := report.Build(tc.run)
			var js bytes.Buffer
			if err := report.JSON(&js, r); err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Connections struct {
					H2 map[string]json.RawMessage `json:"h2"`
				} `json:"connections"`
			}
			if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			raw, ok := doc.Connections.H2["read_loop_busy"]
			var got bytes.Buffer
			if ok {
				if err := json.Compact(&got, raw); err != nil {
					t.Fatal(err)
				}
			}
			if tc.json == "" && ok || tc.json != "" && got.String() != tc.json {
				t.Errorf("connections.h2.read_loop_busy %s (present %v), want %s", got.String(), ok, tc.json)
			}
			var txt bytes.Buffer
			if err := report.Text(&txt, r); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(txt.String(), tc.text) {
				t.Errorf("text lacks %q:\n%s", tc.text, txt.String())
			}
		})
	}
}
