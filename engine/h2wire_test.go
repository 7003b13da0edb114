package engine

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/faya-load/faya/metrics"
	"golang.org/x/net/http2"
)

// wireLog is an h2Sink that writes down what it is told.
type wireLog struct{ ev []string }

func (l *wireLog) H2Settings(m uint32, has, first bool) {
	l.ev = append(l.ev, fmt.Sprintf("settings %d %v %v", m, has, first))
}
func (l *wireLog) H2GoAway(last uint32, code metrics.H2Code) {
	l.ev = append(l.ev, fmt.Sprintf("goaway %d %s", last, code))
}
func (l *wireLog) H2RSTStream(code metrics.H2Code, retried bool) {
	l.ev = append(l.ev, fmt.Sprintf("rst %s %v", code, retried))
}
func (l *wireLog) H2Ping(rtt time.Duration) { l.ev = append(l.ev, fmt.Sprintf("ping %v", rtt)) }
func (l *wireLog) H2FlowStall(d time.Duration, conn bool) {
	l.ev = append(l.ev, fmt.Sprintf("stall %v %v", d, conn))
}

// nullConn takes writes and closes; it is never read.
type nullConn struct{ net.Conn }

func (nullConn) Write(b []byte) (int, error) { return len(b), nil }
func (nullConn) Close() error                { return nil }

// frames returns the bytes a framer writes in f.
func frames(t testing.TB, f func(fr *http2.Framer)) []byte {
	t.Helper()
	var b bytes.Buffer
	f(http2.NewFramer(&b, nil))
	return b.Bytes()
}

// wireStep is bytes that pass one way at a time on the test's clock.
type wireStep struct {
	at    time.Duration
	write bool // the client's (else the server's)
	b     []byte
}

// feed passes steps through a fresh h2Wire in chunks of size, and
// closes it at end (0: not closed); closing says the pool closes it.
func feed(steps []wireStep, size int, end time.Duration, closing bool) []string {
	log := &wireLog{}
	var now time.Duration
	w := newH2Wire(nullConn{}, log, func() time.Duration { return now }, 100*time.Millisecond)
	for _, s := range steps {
		now = s.at
		for b := s.b; len(b) > 0; {
			n := min(size, len(b))
			if s.write {
				w.scanWrite(b[:n])
			} else {
				w.scanRead(b[:n])
			}
			b = b[n:]
		}
	}
	if end > 0 {
		now = end
		w.closing.Store(closing)
		_ = w.Close()
	}
	return log.ev
}

// checkFeed holds every chunking of steps to want.
func checkFeed(t *testing.T, steps []wireStep, end time.Duration, closing bool, want ...string) {
	t.Helper()
	for size := 1; size <= 64; size++ {
		if got := feed(steps, size, end, closing); !slices.Equal(got, want) {
			t.Fatalf("in chunks of %d bytes:\n got  %q\n want %q", size, got, want)
		}
	}
	if got := feed(steps, 1<<20, end, closing); !slices.Equal(got, want) {
		t.Fatalf("whole:\n got  %q\n want %q", got, want)
	}
}

var preface = []byte(http2.ClientPreface)

// The server's frames: SETTINGS (first, later, ACK), RST_STREAM, GOAWAY,
// and the ACK of the client's PING, whatever the chunks they come in;
// the payloads of HEADERS and DATA pass unread.
func TestH2WireServerFrames(t *testing.T) {
	ping := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	steps := []wireStep{
		{at: 0, write: true, b: append(slices.Clip(preface), frames(t, func(fr *http2.Framer) {
			_ = fr.WriteSettings()
			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte("hdrs"), EndStream: true, EndHeaders: true})
			_ = fr.WritePing(false, ping)
		})...)},
		{at: 5 * time.Millisecond, b: frames(t, func(fr *http2.Framer) {
			_ = fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 7},
				http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1024}, http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 20})
			_ = fr.WriteSettingsAck()
			_ = fr.WritePing(true, [8]byte{9}) // not ours
			_ = fr.WritePing(false, ping)      // the server's own
			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: bytes.Repeat([]byte{0x88}, 300), EndHeaders: true})
			_ = fr.WriteData(1, true, bytes.Repeat([]byte("d"), 5000))
		})},
		{at: 12 * time.Millisecond, b: frames(t, func(fr *http2.Framer) {
			_ = fr.WritePing(true, ping)
			_ = fr.WriteRSTStream(3, http2.ErrCodeRefusedStream)
			_ = fr.WriteSettings() // empty: no limit said
			_ = fr.WriteRSTStream(5, http2.ErrCode(0x77))
			_ = fr.WriteGoAway(9, http2.ErrCodeNo, []byte("bye"))
			_ = fr.WriteWindowUpdate(0, 1000)
		})},
	}
	checkFeed(t, steps, 0, false,
		"settings 7 true true", "ping 12ms", "rst REFUSED_STREAM false", "settings 0 false false",
		"rst UNKNOWN false", "goaway 9 NO_ERROR")
}

// An h2c server that answers in HTTP/1.1: nothing is read as a frame.
func TestH2WireNotH2(t *testing.T) {
	steps := []wireStep{
		{write: true, b: append(slices.Clip(preface), frames(t, func(fr *http2.Framer) { _ = fr.WriteSettings() })...)},
		{b: []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" +
			"\x00\x00\x08\x07\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x01")},
	}
	checkFeed(t, steps, time.Second, false)
	// A client that does not start with the preface is not read either.
	checkFeed(t, []wireStep{{write: true, b: []byte("GET / HTTP/1.1\r\n\r\n\x00\x00\x00\x06\x00\x00\x00\x00\x00")}}, time.Second, false)
}

// Flow-control stalls, on the test's clock: a request body that used up
// its stream's window waits for the WINDOW_UPDATE (a stall of the
// stream's window); one that used up the connection's, with room on its
// stream's, a stall of the connection's; a body that ends in an empty
// DATA after its window reached exactly 0 had nothing left (no stall); a
// stall the stream's reset, the server's whole answer or the close ends
// is counted up to then.
func TestH2WireFlowStalls(t *testing.T) {
	settings := func(win uint32) wireStep {
		return wireStep{b: frames(t, func(fr *http2.Framer) {
			_ = fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: win})
		})}
	}
	open := func(at time.Duration, id uint32, body int, end bool) wireStep {
		return wireStep{at: at, write: true, b: frames(t, func(fr *http2.Framer) {
			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: []byte("h"), EndHeaders: true})
			for body > 0 {
				n := min(body, 16384)
				body -= n
				_ = fr.WriteData(id, end && body == 0, make([]byte, n))
			}
		})}
	}
	update := func(at time.Duration, id, inc uint32) wireStep {
		return wireStep{at: at, b: frames(t, func(fr *http2.Framer) { _ = fr.WriteWindowUpdate(id, inc) })}
	}
	write := func(at time.Duration, f func(fr *http2.Framer)) wireStep {
		return wireStep{at: at, write: true, b: frames(t, f)}
	}
	read := func(at time.Duration, f func(fr *http2.Framer)) wireStep {
		return wireStep{at: at, b: frames(t, f)}
	}
	pre := wireStep{write: true, b: preface}

	t.Run("stream", func(t *testing.T) {
		checkFeed(t, []wireStep{pre, settings(1024), open(10*time.Millisecond, 1, 1024, false),
			update(25*time.Millisecond, 1, 1024), // 15 ms
			write(26*time.Millisecond, func(fr *http2.Framer) { _ = fr.WriteData(1, true, make([]byte, 1000)) }),
		}, time.Second, false, "settings 0 false true", "stall 15ms false")
	})
	t.Run("connection", func(t *testing.T) {
		checkFeed(t, []wireStep{pre, settings(1 << 20), open(10*time.Millisecond, 1, 65535, false),
			open(11*time.Millisecond, 3, 0, false), // stalled at its start, on the connection's window
			update(14*time.Millisecond, 1, 5000),   // the stream's window: still stalled
			update(30*time.Millisecond, 0, 100),
		}, time.Second, false, "settings 0 false true", "stall 20ms true", "stall 19ms true")
	})
	t.Run("settings-shrink", func(t *testing.T) {
		// The server's SETTINGS come after the body took the default window.
		checkFeed(t, []wireStep{pre, open(10*time.Millisecond, 1, 2000, false),
			read(12*time.Millisecond, func(fr *http2.Framer) {
				_ = fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1000})
			}),
			update(20*time.Millisecond, 1, 999), // -1000+999: still out
			read(31*time.Millisecond, func(fr *http2.Framer) {
				_ = fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 3000})
			}),
		}, time.Second, false, "settings 0 false true", "stall 19ms false", "settings 0 false false")
	})
	t.Run("nothing-left", func(t *testing.T) {
		checkFeed(t, []wireStep{pre, settings(1024), open(10*time.Millisecond, 1, 1024, false),
			write(11*time.Millisecond, func(fr *http2.Framer) { _ = fr.WriteData(1, true, nil) }),
			open(12*time.Millisecond, 3, 1024, true), // ends with its window
			update(30*time.Millisecond, 1, 1024),
		}, time.Second, false, "settings 0 false true")
	})
	t.Run("ended", func(t *testing.T) {
		checkFeed(t, []wireStep{pre, settings(100),
			open(10*time.Millisecond, 1, 100, false), open(10*time.Millisecond, 3, 100, false),
			open(10*time.Millisecond, 5, 100, false), open(10*time.Millisecond, 7, 100, false),
			open(10*time.Millisecond, 9, 100, false),
			write(20*time.Millisecond, func(fr *http2.Framer) { _ = fr.WriteRSTStream(1, http2.ErrCodeCancel) }),
			read(30*time.Millisecond, func(fr *http2.Framer) { _ = fr.WriteRSTStream(3, http2.ErrCodeInternal) }),
			read(40*time.Millisecond, func(fr *http2.Framer) {
				_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, BlockFragment: []byte("h"), EndHeaders: true, EndStream: true})
			}),
			read(50*time.Millisecond, func(fr *http2.Framer) { _ = fr.WriteGoAway(7, http2.ErrCodeNo, nil) }),
		}, 70*time.Millisecond, false, "settings 0 false true", "stall 10ms false", "rst INTERNAL_ERROR false", "stall 20ms false",
			"stall 30ms false", "goaway 7 NO_ERROR", "stall 40ms false", "stall 60ms false")
	})
	t.Run("no-body", func(t *testing.T) {
		checkFeed(t, []wireStep{pre, settings(0), write(10*time.Millisecond, func(fr *http2.Framer) {
			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte("h"), EndHeaders: true, EndStream: true})
		})}, time.Second, false, "settings 0 false true")
	})
}

// The client's PINGs: each ACK gives its round trip; a health-check PING
// still out when Go closes the connection (not the pool, no read error)
// after half the ping timeout or more is one not answered; the PING Go
// sends after a RST_STREAM of its own is not a health check.
func TestH2WirePings(t *testing.T) {
	ping := func(at time.Duration, after func(fr *http2.Framer), data ...byte) wireStep {
		return wireStep{at: at, write: true, b: frames(t, func(fr *http2.Framer) {
			if after != nil {
				after(fr)
			}
			_ = fr.WritePing(false, [8]byte(append(data, make([]byte, 8-len(data))...)))
		})}
	}
	ack := func(at time.Duration, data ...byte) wireStep {
		return wireStep{at: at, b: frames(t, func(fr *http2.Framer) {
			_ = fr.WritePing(true, [8]byte(append(data, make([]byte, 8-len(data))...)))
		})}
	}
	settings := wireStep{b: frames(t, func(fr *http2.Framer) { _ = fr.WriteSettings() })}
	pre := wireStep{write: true, b: preface}
	rst := func(fr *http2.Framer) { _ = fr.WriteRSTStream(1, http2.ErrCodeCancel) }
	steps := []wireStep{pre, settings, ping(10*time.Millisecond, nil, 1), ping(11*time.Millisecond, nil, 2),
		ack(13*time.Millisecond, 2), ack(14*time.Millisecond, 2), ack(20*time.Millisecond, 1),
		ping(100*time.Millisecond, nil, 3)}
	checkFeed(t, steps, 149*time.Millisecond, false, "settings 0 false true", "ping 2ms", "ping 10ms")
	checkFeed(t, steps, 150*time.Millisecond, false, "settings 0 false true", "ping 2ms", "ping 10ms", "ping -1ns")
	checkFeed(t, steps, 300*time.Millisecond, true, "settings 0 false true", "ping 2ms", "ping 10ms")
	checkFeed(t, []wireStep{pre, settings, ping(10*time.Millisecond, rst, 4)}, time.Second, false, "settings 0 false true")
	// Five out at once: the oldest gives way.
	checkFeed(t, []wireStep{pre, settings, ping(1, nil, 1), ping(2, nil, 2), ping(3, nil, 3), ping(4, nil, 4), ping(5, nil, 5),
		ack(10, 1), ack(10, 5)}, 0, false, "settings 0 false true", "ping 5ns")
}

// The frames' reading allocates nothing and costs little: a connection's
// answers (HEADERS and a DATA each) read in 16 KiB chunks, and its
// requests (HEADERS) written.
func BenchmarkH2WireRead(b *testing.B) {
	const answers = 100
	in := frames(b, func(fr *http2.Framer) {
		for i := range uint32(answers) {
			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 2*i + 1, BlockFragment: bytes.Repeat([]byte{0x88}, 30), EndHeaders: true})
			_ = fr.WriteData(2*i+1, true, make([]byte, 100))
		}
	})
	w := newH2Wire(nullConn{}, nopH2Sink{}, func() time.Duration { return 0 }, 0)
	w.rdFirst = true
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for p := in; len(p) > 0; {
			n := min(16<<10, len(p))
			w.scanRead(p[:n])
			p = p[n:]
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*answers*2), "ns/frame")
}

func BenchmarkH2WireWrite(b *testing.B) {
	const requests = 100
	out := frames(b, func(fr *http2.Framer) {
		for i := range uint32(requests) {
			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 2*i + 1, BlockFragment: bytes.Repeat([]byte{0xbe}, 20), EndHeaders: true, EndStream: true})
		}
	})
	w := newH2Wire(nullConn{}, nopH2Sink{}, func() time.Duration { return 0 }, 0)
	w.preface = len(h2Preface)
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		_, _ = w.Write(out)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*requests), "ns/frame")
}
