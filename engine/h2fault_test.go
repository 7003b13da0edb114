package engine_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Fault is one way an HTTP/2 server misbehaves, and what every engine
// that speaks HTTP/2 makes of it: the same error class (the HTTP/1.1
// class where the fault is the same: a connection closed under a
// request is eof, a request not answered in time a timeout, a stream
// reset a reset), or every request answered.
type h2Fault struct {
	name string
	// start starts the server; served counts the requests it answered
	// (nil: not counted).
	start   func(t *testing.T) (url string, served *atomic.Int64)
	vus     int
	n       int64
	edit    func(*engine.Plan)
	want    metrics.ErrClass // ErrNone: every request answered 200
	example string           // a part of the class's example
	// check holds the run to more, per engine.
	check func(t *testing.T, eng string, s *metrics.Snapshot, served int64)
}

// rawH2 serves h2c written frame by frame: after the client's preface,
// serve gets a framer on the connection (its SETTINGS are its to send).
func rawH2(t *testing.T, serve func(fr *http2.Framer, c net.Conn)) string {
	t.Helper()
	return testserver.Raw(t, func(c net.Conn) {
		buf := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != http2.ClientPreface {
			return
		}
		serve(http2.NewFramer(c, c), c)
		_ = c.Close() // a server that gave up does not leave the client waiting
	})
}

// writeAnswer writes a 200 "ok" on stream id, with extra header fields.
func writeAnswer(fr *http2.Framer, id uint32, extra ...hpack.HeaderField) error {
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	_ = enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	for _, f := range extra {
		_ = enc.WriteField(f)
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: b.Bytes(), EndHeaders: true}); err != nil {
		return err
	}
	return fr.WriteData(id, true, []byte("ok"))
}

// eachStream reads the client's frames, ACKs its SETTINGS unless noAck,
// and calls onHeaders for each stream it opens (k counts them from 1 on
// this connection) until it returns false or the connection ends.
func eachStream(fr *http2.Framer, noAck bool, onHeaders func(id uint32, k int) bool) {
	for k := 0; ; {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() && !noAck {
				if fr.WriteSettingsAck() != nil {
					return
				}
			}
		case *http2.HeadersFrame:
			k++
			if !onHeaders(f.StreamID, k) {
				return
			}
		}
	}
}

// answering is a raw server that sends its SETTINGS and answers every
// stream but those refuse says no to (REFUSED_STREAM); noAck never ACKs
// the client's SETTINGS.
func answering(noAck bool, refuse func(k int) bool) func(t *testing.T) (string, *atomic.Int64) {
	return func(t *testing.T) (string, *atomic.Int64) {
		served := new(atomic.Int64)
		return rawH2(t, func(fr *http2.Framer, c net.Conn) {
			if fr.WriteSettings() != nil {
				return
			}
			eachStream(fr, noAck, func(id uint32, k int) bool {
				if refuse != nil && refuse(k) {
					return fr.WriteRSTStream(id, http2.ErrCodeRefusedStream) == nil
				}
				served.Add(1)
				return writeAnswer(fr, id) == nil
			})
		}), served
	}
}

// goServer is Go's h2c server with cfg running h, counting the requests
// it answered in full.
func goServer(cfg *http.HTTP2Config, h http.HandlerFunc) func(t *testing.T) (string, *atomic.Int64) {
	return func(t *testing.T) (string, *atomic.Int64) {
		served := new(atomic.Int64)
		srv := startH2(t, "h2c", func(_ *h2Server, hs *http.Server) {
			hs.HTTP2 = cfg
			hs.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h(w, r)
				served.Add(1)
			})
		})
		return srv.URL + "/", served
	}
}

// refusedOnly is RST_STREAM counts by code of n REFUSED_STREAMs alone.
func refusedOnly(n int64) (c [metrics.NumH2Codes]int64) {
	c[metrics.H2RefusedStream.Index()] = n
	return c
}

func plainTimeout(d time.Duration) func(*engine.Plan) {
	return func(p *engine.Plan) { p.Timeout = d }
}

var h2Faults = []h2Fault{
	// A handler that aborts: Go's server resets the stream (RST_STREAM
	// INTERNAL_ERROR); the request fails as a reset, as a reset TCP
	// connection does on HTTP/1.1, and the connection goes on.
	{name: "rst-stream", start: goServer(nil, func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }),
		vus: 1, n: 4, want: metrics.ErrReset, example: "INTERNAL_ERROR",
		check: func(t *testing.T, eng string, s *metrics.Snapshot, _ int64) {
			if got := s.H2.RSTStreams[metrics.H2Code(http2.ErrCodeInternal).Index()]; got != 4 {
				t.Errorf("RST_STREAM INTERNAL_ERROR counted %d, want 4 (by code %v)", got, nonzero(s.H2.RSTStreams[:]))
			}
			if s.Dialed != 1 {
				t.Errorf("dialed %d: a reset stream does not end its connection", s.Dialed)
			}
			// Go's server says its limit (250) in its SETTINGS.
			if s.H2.Settings < 1 || s.H2.MaxStreamsSeen < 1 || s.H2.MaxStreamsMin != 250 || s.H2.MaxStreamsMax != 250 {
				t.Errorf("SETTINGS %d, with MAX_CONCURRENT_STREAMS %d, %d to %d: want 250", s.H2.Settings, s.H2.MaxStreamsSeen, s.H2.MaxStreamsMin, s.H2.MaxStreamsMax)
			}
		}},
	// The first stream of each connection refused (REFUSED_STREAM: not
	// processed, safe to send again): it goes again and is answered.
	{name: "refused-stream", start: answering(false, func(k int) bool { return k == 1 }), vus: 1, n: 4,
		check: func(t *testing.T, eng string, s *metrics.Snapshot, served int64) {
			if served != 4 || s.Retries != 1 {
				t.Errorf("the server answered %d, faya counted %d retries: want 4 and the one refused stream", served, s.Retries)
			}
			if s.H2.Refused != 1 || s.H2.RSTStreams[metrics.H2RefusedStream.Index()] != 1 || s.H2.RSTStreams != refusedOnly(1) {
				t.Errorf("refused %d, RST_STREAMs by code %v: want the one refused stream", s.H2.Refused, nonzero(s.H2.RSTStreams[:]))
			}
			if s.H2.Settings != s.Dialed || s.H2.SettingsUnlimited != s.Dialed {
				t.Errorf("SETTINGS %d (without a limit %d) on %d connections: want one each", s.H2.Settings, s.H2.SettingsUnlimited, s.Dialed)
			}
		}},
	// GOAWAY mid-run: on its 10th stream a connection's server sends
	// GOAWAY(last stream 10th, NO_ERROR), then that stream's answer, stops
	// writing and answers no more; the streams sent after it were not
	// processed and go again on a new connection: every request answered,
	// each exactly once. The GOAWAY comes before the answer, so that the
	// client has read it when the run's last answer ends the run (after
	// the answer, the last connection's was read or not as the machine
	// scheduled the reader: 19 or 20 of 20 under -race).
	{name: "goaway-mid-run", start: func(t *testing.T) (string, *atomic.Int64) {
		served := new(atomic.Int64)
		return rawH2(t, func(fr *http2.Framer, c net.Conn) {
			if fr.WriteSettings() != nil {
				return
			}
			eachStream(fr, false, func(id uint32, k int) bool {
				if k == 10 && fr.WriteGoAway(id, http2.ErrCodeNo, nil) != nil {
					return false
				}
				if writeAnswer(fr, id) != nil {
					return false
				}
				served.Add(1)
				if k < 10 {
					return true
				}
				_ = c.(*net.TCPConn).CloseWrite()
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, _ = io.Copy(io.Discard, c) // until the client closes
				return false
			})
		}), served
	}, vus: 4, n: 200, edit: func(p *engine.Plan) { p.Transport.MaxConnsPerHost = 1 },
		check: func(t *testing.T, eng string, s *metrics.Snapshot, served int64) {
			if served != 200 {
				t.Errorf("the server answered %d, want each of the 200 once", served)
			}
			if s.Dialed < 20 {
				t.Errorf("dialed %d, want at least 20 (10 streams each)", s.Dialed)
			}
			if got := s.CloseReasons[metrics.CloseGoAway]; got != s.Dialed {
				t.Errorf("closed as goaway %d of %d (close reasons %v)", got, s.Dialed, reasons(s))
			}
			// One GOAWAY per connection, each on its 10th stream (ID
			// 19), the same count on both engines.
			if g := s.H2.GoAways; g != s.Dialed || s.H2.GoAwayCodes[metrics.H2NoError] != g {
				t.Errorf("GOAWAYs %d (NO_ERROR %d) on %d connections", g, s.H2.GoAwayCodes[metrics.H2NoError], s.Dialed)
			}
			if d := metrics.DistOf(s.Hist(metrics.H2GoAwayLastStream)); d.Count != s.H2.GoAways || d.Min != 19 || d.Max != 19 {
				t.Errorf("GOAWAY last-stream-ids %+v, want %d of 19", d, s.H2.GoAways)
			}
		}},
	// A server window of 1 KiB per stream (SETTINGS_INITIAL_WINDOW_SIZE)
	// given back DATA frame by DATA frame, and 64 KiB bodies: every body
	// goes through whole, within the window. (Go's own server with
	// MaxReceiveBufferPerStream 1024 resets, FLOW_CONTROL_ERROR, the
	// stream Go's client starts on a new connection before the server's
	// SETTINGS arrive, sent within the default 65535; this server takes
	// such frames.)
	{name: "tiny-window", start: func(t *testing.T) (string, *atomic.Int64) {
		served := new(atomic.Int64)
		return rawH2(t, func(fr *http2.Framer, c net.Conn) {
			if fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1024}) != nil {
				return
			}
			got := map[uint32]int{}
			for {
				f, err := fr.ReadFrame()
				if err != nil {
					return
				}
				switch f := f.(type) {
				case *http2.SettingsFrame:
					if !f.IsAck() && fr.WriteSettingsAck() != nil {
						return
					}
				case *http2.DataFrame:
					id, n := f.StreamID, len(f.Data())
					got[id] += n
					if f.StreamEnded() {
						if got[id] == 64<<10 {
							served.Add(1)
						}
						delete(got, id)
						if writeAnswer(fr, id) != nil {
							return
						}
					} else if n > 0 && (fr.WriteWindowUpdate(id, uint32(n)) != nil) {
						return
					}
					if n > 0 && fr.WriteWindowUpdate(0, uint32(n)) != nil {
						return
					}
				}
			}
		}), served
	}, vus: 2, n: 8, edit: func(p *engine.Plan) {
		p.Scenarios[0].Steps[0].Method = http.MethodPost
		p.Scenarios[0].Steps[0].Body = bytes.Repeat([]byte("x"), 64<<10)
	}, check: func(t *testing.T, eng string, s *metrics.Snapshot, served int64) {
		if served != 8 {
			t.Errorf("the server read %d whole bodies of 64 KiB, want 8", served)
		}
		// Each body waits for its stream's window, 1 KiB at a time (the
		// first one on a connection may go within the default window
		// before the server's SETTINGS): at most 64 stalls per body on
		// net/http, and not for the connection's window, which the
		// server gives back as fast, but once on net/http: its pool
		// opens the second VU's stream once Go's client has applied the
		// SETTINGS, and the first body, sent before them, may have taken
		// the connection's default window then (2 to 7 of 20 runs). The
		// default engine's writer counts a wait again when another
		// stream's WINDOW_UPDATE woke it (seen: 543 for 8 bodies), so up
		// to twice that.
		limit, connLimit := int64(8*64), int64(1)
		if eng == engine.EngineH1 {
			limit, connLimit = limit*2, 0
		}
		if s.H2.FlowStalls == 0 || s.H2.FlowStalls > limit || s.H2.FlowStallsConn > connLimit || s.H2.FlowStallTime <= 0 {
			t.Errorf("flow-control stalls %d for %v (on the connection's window %d): want 1 to %d, at most %d on the connection's",
				s.H2.FlowStalls, s.H2.FlowStallTime, s.H2.FlowStallsConn, limit, connLimit)
		}
	}},
	// A window that never opens (SETTINGS_INITIAL_WINDOW_SIZE 0, no
	// WINDOW_UPDATE): the body cannot go, the request ends at its timeout,
	// each a flow-control stall until then on both engines. (The body is
	// over the default window: Go's client sends 65535 bytes of it before
	// the server's SETTINGS come. The server ACKs PINGs: Go's client
	// holds a stream it reset until its PING is answered.)
	{name: "window-closed", start: func(t *testing.T) (string, *atomic.Int64) {
		return rawH2(t, func(fr *http2.Framer, c net.Conn) {
			if fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}) != nil {
				return
			}
			for {
				f, err := fr.ReadFrame()
				if err != nil {
					return
				}
				switch f := f.(type) {
				case *http2.SettingsFrame:
					if !f.IsAck() && fr.WriteSettingsAck() != nil {
						return
					}
				case *http2.PingFrame:
					if !f.IsAck() && fr.WritePing(true, f.Data) != nil {
						return
					}
				}
			}
		}), nil
	}, vus: 1, n: 2, want: metrics.ErrTimeout, example: "timeout", edit: func(p *engine.Plan) {
		p.Timeout = 300 * time.Millisecond
		p.Scenarios[0].Steps[0].Method = http.MethodPost
		p.Scenarios[0].Steps[0].Body = bytes.Repeat([]byte("a body the window never lets through "), 2000)
	}, check: func(t *testing.T, eng string, s *metrics.Snapshot, _ int64) {
		// A stall lasts from its request's start, or the SETTINGS, to
		// its timeout (300 ms): 100 ms is a floor a loaded machine keeps.
		if s.H2.FlowStalls != 2 || s.H2.FlowStallsConn != 0 || s.H2.FlowStallTime < 2*100*time.Millisecond {
			t.Errorf("flow-control stalls %d for %v (on the connection's window %d): want 2 of 100 ms or more, on the streams' windows",
				s.H2.FlowStalls, s.H2.FlowStallTime, s.H2.FlowStallsConn)
		}
	}},
	// A server that never sends its SETTINGS: the request ends at its
	// timeout.
	{name: "no-settings", start: func(t *testing.T) (string, *atomic.Int64) {
		return rawH2(t, func(fr *http2.Framer, c net.Conn) { _, _ = io.Copy(io.Discard, c) }), nil
	}, vus: 1, n: 2, want: metrics.ErrTimeout, example: "timeout", edit: plainTimeout(300 * time.Millisecond)},
	// A server that never ACKs the client's SETTINGS but answers: the
	// answers stand.
	{name: "no-settings-ack", start: answering(true, nil), vus: 2, n: 20,
		check: func(t *testing.T, eng string, s *metrics.Snapshot, served int64) {
			if served != 20 {
				t.Errorf("the server answered %d, want 20", served)
			}
		}},
	// A server that never ACKs the client's SETTINGS and never answers:
	// a timeout.
	{name: "no-settings-ack-silent", start: func(t *testing.T) (string, *atomic.Int64) {
		return rawH2(t, func(fr *http2.Framer, c net.Conn) {
			if fr.WriteSettings() != nil {
				return
			}
			eachStream(fr, true, func(uint32, int) bool { return true })
		}), nil
	}, vus: 1, n: 2, want: metrics.ErrTimeout, example: "timeout", edit: plainTimeout(300 * time.Millisecond)},
	// Response headers over the client's limit (40 KB against 16 KiB):
	// a protocol error, as on HTTP/1.1.
	{name: "headers-over-limit", start: goServer(nil, func(w http.ResponseWriter, r *http.Request) {
		for i := range 40 {
			w.Header().Set(fmt.Sprintf("X-Big-%d", i), strings.Repeat("v", 1000))
		}
	}), vus: 1, n: 2, want: metrics.ErrProtocol, edit: func(p *engine.Plan) { p.Transport.MaxResponseHeaderBytes = 16 << 10 }},
	// A HEADERS frame larger than the client's SETTINGS_MAX_FRAME_SIZE
	// (16384, the default): a connection error (FRAME_SIZE_ERROR).
	{name: "headers-frame-too-large", start: func(t *testing.T) (string, *atomic.Int64) {
		return rawH2(t, func(fr *http2.Framer, c net.Conn) {
			if fr.WriteSettings() != nil {
				return
			}
			eachStream(fr, false, func(id uint32, _ int) bool {
				return writeAnswer(fr, id, hpack.HeaderField{Name: "x-big", Value: strings.Repeat("v", 20000)}) == nil
			})
		}), nil
	}, vus: 1, n: 2, want: metrics.ErrProtocol, example: "frame"},
	// The connection closed under the request (the server read its
	// HEADERS and closed, FIN, then read what the client still sent so
	// that no reset follows): eof, as on HTTP/1.1.
	{name: "closed-under-request", start: func(t *testing.T) (string, *atomic.Int64) {
		return rawH2(t, func(fr *http2.Framer, c net.Conn) {
			if fr.WriteSettings() != nil {
				return
			}
			eachStream(fr, false, func(uint32, int) bool { return false })
			_ = c.(*net.TCPConn).CloseWrite()
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _ = io.Copy(io.Discard, c) // until the client closes
		}), nil
	}, vus: 1, n: 2, want: metrics.ErrEOF, example: "EOF"},
	// Streams opened and never answered: a timeout.
	{name: "silent", start: func(t *testing.T) (string, *atomic.Int64) {
		return rawH2(t, func(fr *http2.Framer, c net.Conn) {
			if fr.WriteSettings() != nil {
				return
			}
			eachStream(fr, false, func(uint32, int) bool { return true })
		}), nil
	}, vus: 1, n: 2, want: metrics.ErrTimeout, example: "timeout", edit: plainTimeout(300 * time.Millisecond)},
}

// Every engine that speaks HTTP/2 makes each fault of the table the same
// class, with a bounded, printable example, no status for a failed
// request and no connection closed for no reason; and answers every
// request where the fault is one HTTP/2 recovers from.
func TestH2Faults(t *testing.T) {
	h2Engines(t, func(t *testing.T, eng string) {
		for _, f := range h2Faults {
			t.Run(f.name, func(t *testing.T) {
				url, served := f.start(t)
				p := h2Plan(eng, strings.TrimSuffix(url, "/"), transport.HTTP2, f.vus, f.n)
				p.Timeout = 10 * time.Second // a row that fails, fails quickly
				if f.edit != nil {
					f.edit(&p)
				}
				res := run(t, p)
				s := res.Total
				var answered int64
				if served != nil {
					answered = served.Load()
				}
				if f.want == metrics.ErrNone {
					if s.Requests != f.n || s.OK != f.n || s.Status[200] != f.n {
						t.Fatalf("requests %d, ok %d, 200s %d; want %d answered; errors %v %q", s.Requests, s.OK, s.Status[200], f.n, nonzero(s.ErrCount[:]), s.ErrExample)
					}
				} else {
					checkAllFailed(t, s, f.want, f.n)
					ex := s.ErrExample[f.want]
					if !strings.Contains(ex, f.example) {
						t.Errorf("example %q does not mention %q", ex, f.example)
					}
					if len(ex) > metrics.MaxExample+len("… (1234567890 bytes)") || metrics.Printable(ex) != ex {
						t.Errorf("example of %d bytes, want at most %d, printable: %q", len(ex), metrics.MaxExample, ex)
					}
				}
				if other := s.CloseReasons[metrics.CloseOther]; other != 0 {
					t.Errorf("closed for reason other: %d (close reasons %v)", other, reasons(s))
				}
				// Go's HTTP/2 keeps a connection whose stream it gave up
				// (a timeout) until the server answers its RST_STREAM and
				// PING: a silent server's stays open past the run's end,
				// counted as open at the end.
				if open := res.OpenAtEnd; s.Closed+open != s.Dialed || eng == engine.EngineH1 && open != 0 {
					t.Errorf("closed %d, open at the end %d, of %d dialed", s.Closed, open, s.Dialed)
				}
				if s.H2.Unknown != 0 {
					t.Errorf("HTTP/2 accounts unknown: %v (both engines read the frames of their own connections)", s.H2.Unknown)
				}
				if f.check != nil {
					f.check(t, eng, s, answered)
				}
				t.Logf("errors %v %q; dialed %d, close reasons %v, retries %d, h2 %+v", nonzero(s.ErrCount[:]), s.ErrExample[f.want], s.Dialed, reasons(s), s.Retries, s.H2)
			})
		}
	})
}

// A stream that times out on a server that goes on answering: the
// request fails as a timeout, its stream is reset and its connection
// goes on carrying the others, on both engines. The server's own counts
// hold the engines to it: the connections it accepted are those faya
// dialed, each one closed or counted open at the end, and none is left
// open once the run has returned (net/http's client keeps a connection
// whose stream it gave up until the server answers the RST_STREAM's
// PING: Go's server does, at once).
func TestH2StreamTimeoutConnection(t *testing.T) {
	h2Engines(t, func(t *testing.T, eng string) {
		var open, seen atomic.Int64
		var reqs atomic.Int64
		srv := startH2(t, "h2c", func(s *h2Server, hs *http.Server) {
			count := hs.ConnState
			hs.ConnState = func(c net.Conn, st http.ConnState) {
				count(c, st)
				switch st {
				case http.StateNew:
					open.Add(1)
					seen.Add(1)
				case http.StateClosed, http.StateHijacked:
					open.Add(-1)
				}
			}
			hs.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if k := reqs.Add(1); k == 5 || k == 6 {
					// Not answered until the client resets the stream
					// (or 5s, far past the request's timeout).
					select {
					case <-r.Context().Done():
					case <-time.After(5 * time.Second):
					}
					return
				}
				s.ServeHTTP(w, r)
			})
		})
		const n = 40
		p := h2Plan(eng, srv.URL, transport.HTTP2, 2, n)
		p.Timeout = 300 * time.Millisecond
		res := run(t, p)
		s := res.Total
		if s.Requests != n || s.ErrCount[metrics.ErrTimeout] != 2 || s.OK != n-2 || s.Errors != 2 {
			t.Fatalf("requests %d, ok %d, errors %d by class %v (%q); want 2 timeouts and %d answered", s.Requests, s.OK, s.Errors, nonzero(s.ErrCount[:]), s.ErrExample, n-2)
		}
		if got := seen.Load(); got != s.Dialed || s.DialedProto[metrics.ProtoH2] != s.Dialed {
			t.Errorf("the server accepted %d connections, faya counted %d dialed (%d HTTP/2)", got, s.Dialed, s.DialedProto[metrics.ProtoH2])
		}
		// Two VUs, one connection of Go's 250 streams: the timeouts do
		// not make the engines dial more than one connection per VU.
		if s.Dialed < 1 || s.Dialed > 2 {
			t.Errorf("dialed %d connections for 2 VUs, want 1 or 2 (close reasons %v)", s.Dialed, reasons(s))
		}
		if s.Closed+res.OpenAtEnd != s.Dialed || s.CloseReasons[metrics.CloseOther] != 0 {
			t.Errorf("closed %d (reasons %v), open at the end %d, of %d dialed", s.Closed, reasons(s), res.OpenAtEnd, s.Dialed)
		}
		// Once the run has returned, the server sees every connection
		// closed (a bounded wait for its ConnState).
		for deadline := time.Now().Add(5 * time.Second); open.Load() != 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		if o := open.Load(); o != 0 {
			t.Errorf("%d connections still open on the server after the run (faya: closed %d, open at the end %d)", o, s.Closed, res.OpenAtEnd)
		}
		t.Logf("dialed %d, closed %d, open at end %d, reasons %v, rst %v", s.Dialed, s.Closed, res.OpenAtEnd, reasons(s), nonzero(s.H2.RSTStreams[:]))
	})
}

// h2Answered is an h2c server that reads each connection's frames until
// it has the client's first HEADERS and its ACK of the server's SETTINGS
// (so that the client has nothing left to write but what a request of
// its own makes), then calls answer with that stream and the connection.
func h2Answered(answer func(fr *http2.Framer, c net.Conn, id uint32)) func(t testing.TB) string {
	return func(t testing.TB) string {
		return rawH2(t.(*testing.T), func(fr *http2.Framer, c net.Conn) {
			_ = c.SetDeadline(time.Now().Add(30 * time.Second)) // bounded, whatever the client does
			if fr.WriteSettings() != nil {
				return
			}
			var id uint32
			for acked := false; id == 0 || !acked; {
				f, err := fr.ReadFrame()
				if err != nil {
					return
				}
				switch f := f.(type) {
				case *http2.SettingsFrame:
					if f.IsAck() {
						acked = true
					} else if fr.WriteSettingsAck() != nil {
						return
					}
				case *http2.HeadersFrame:
					if id == 0 {
						id = f.StreamID
					}
				}
			}
			answer(fr, c, id)
		})
	}
}

// h2Head writes the HEADERS of a 200 on stream id, with fields (name,
// value pairs), END_STREAM when end.
func h2Head(fr *http2.Framer, id uint32, end bool, fields ...string) error {
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	_ = enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	for i := 0; i+1 < len(fields); i += 2 {
		_ = enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: b.Bytes(), EndHeaders: true, EndStream: end})
}

// h2Cut writes the HEADERS of a 200 with a content-length of 1000 and
// 10 bytes of its body on stream id: an answer cut in the middle.
func h2Cut(fr *http2.Framer, id uint32) error {
	if err := h2Head(fr, id, false, "content-length", "1000"); err != nil {
		return err
	}
	return fr.WriteData(id, false, []byte("0123456789"))
}

// resetConn resets c (a TCP RST: SO_LINGER 0).
func resetConn(c net.Conn) {
	_ = c.(*net.TCPConn).SetLinger(0)
	_ = c.Close()
}

// finConn closes c's writing half (a FIN) and reads what the client
// still sends until it closes (bounded), so that no reset follows.
func finConn(c net.Conn) {
	_ = c.(*net.TCPConn).CloseWrite()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.Copy(io.Discard, c)
}

// h2TransportFaults are the transport faults of the HTTP/1.1 fault table
// (reset, eof, headers-cut, body-cut, body-reset) made by HTTP/2 servers
// that do one thing whatever the client sends: TestFaultsOverH2 holds
// both engines to the HTTP/1.1 class of each.
var h2TransportFaults = []fault{
	// reset: the connection reset once the request was read, before any
	// answer.
	{name: "h2-reset", url: h2Answered(func(_ *http2.Framer, c net.Conn, _ uint32) { resetConn(c) }), want: metrics.ErrReset},
	// eof: the connection closed (FIN) once the request was read.
	{name: "h2-eof", url: h2Answered(func(_ *http2.Framer, c net.Conn, _ uint32) { finConn(c) }), want: metrics.ErrEOF},
	// body-reset: reset mid-response, the HEADERS and 10 bytes of 1000
	// sent.
	{name: "h2-body-reset", url: h2Answered(func(fr *http2.Framer, c net.Conn, id uint32) {
		if h2Cut(fr, id) == nil {
			resetConn(c)
		}
	}), want: metrics.ErrReset},
	// body-cut: closed mid-response.
	{name: "h2-body-cut", url: h2Answered(func(fr *http2.Framer, c net.Conn, id uint32) {
		if h2Cut(fr, id) == nil {
			finConn(c)
		}
	}), want: metrics.ErrEOF},
	// headers-cut: closed in the middle of the HEADERS frame (its
	// header says 100 bytes, 5 come).
	{name: "h2-headers-cut", url: h2Answered(func(_ *http2.Framer, c net.Conn, id uint32) {
		hdr := []byte{0, 0, 100, 0x1, 0x4, 0, 0, 0, 0, 0x88, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(hdr[5:9], id)
		if _, err := c.Write(hdr); err == nil {
			finConn(c)
		}
	}), want: metrics.ErrEOF},
	// http2-preface: the HTTP/2-only server's SETTINGS then
	// GOAWAY(PROTOCOL_ERROR) on a new connection (testserver.HTTP2Settings),
	// after the client's preface, closed with a FIN and drained: a
	// protocol error, not sent again. (The HTTP/1.1 table's server for it
	// closes with the client's frames unread: a reset that a write of the
	// client's may see first.)
	{name: "h2-settings-goaway", url: func(t testing.TB) string {
		return rawH2(t.(*testing.T), func(_ *http2.Framer, c net.Conn) {
			if _, err := io.WriteString(c, testserver.HTTP2Settings); err == nil {
				finConn(c)
			}
		})
	}, want: metrics.ErrProtocol},
	// status-below-100: every stream answered with a :status that is no
	// status code, the connection kept.
	{name: "h2-status-bad", url: func(t testing.TB) string {
		return rawH2(t.(*testing.T), func(fr *http2.Framer, c net.Conn) {
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			if fr.WriteSettings() != nil {
				return
			}
			eachStream(fr, false, func(id uint32, _ int) bool {
				var b bytes.Buffer
				_ = hpack.NewEncoder(&b).WriteField(hpack.HeaderField{Name: ":status", Value: "abc"})
				return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: b.Bytes(), EndHeaders: true, EndStream: true}) == nil
			})
		})
	}, want: metrics.ErrProtocol},
}
