package engine_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
	"golang.org/x/net/http2"
)

// A server that takes the connection (its SETTINGS, the client's ACKed)
// and then answers nothing, PINGs included: with --h2-ping-timeout each
// request fails when its connection's PING goes unanswered, as a timeout
// on both engines, long before the request timeout, and each connection
// closes as h2_error.
func TestH2PingTimeout(t *testing.T) { forEachEngine(t, testH2PingTimeout) }

func testH2PingTimeout(t *testing.T, eng string) {
	url := testserver.Raw(t, func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		fr := http2.NewFramer(c, c)
		_ = fr.WriteSettings()
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			if s, ok := f.(*http2.SettingsFrame); ok && !s.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		}
	})
	url = strings.Replace(url, "https://", "http://", 1)
	const n = 2
	p := h2Plan(eng, url, transport.HTTP2, 1, n)
	p.Transport.H2PingTimeout = 100 * time.Millisecond
	p.Timeout = 30 * time.Second
	res := run(t, p)
	s := res.Total
	if s.Requests != n || s.ErrCount[metrics.ErrTimeout] != n {
		t.Fatalf("requests %d, errors %v (%v): want %d timeouts", s.Requests, s.ErrCount, s.ErrExample, n)
	}
	if res.Duration >= p.Timeout {
		t.Errorf("the run took %v: the requests waited for their own timeout (%v), not the PING's", res.Duration, p.Timeout)
	}
	if s.Dialed != n || s.Closed != n {
		t.Errorf("dialed %d, closed %d: want a connection per request", s.Dialed, s.Closed)
	}
	if s.CloseReasons[metrics.CloseH2Error] != n {
		t.Errorf("close reasons %v, want %d h2_error", s.CloseReasons, n)
	}
	// The same accounts on both engines: one PING unanswered per
	// connection, none answered (the default engine's first PING, its
	// round trip's measure, is not answered either).
	if h := s.H2; h.PingTimeouts != n || h.Pings != 0 || h.Settings != n {
		t.Errorf("PINGs answered %d, unanswered %d, SETTINGS %d: want 0, %d, %d", h.Pings, h.PingTimeouts, h.Settings, n, n)
	}
	if ex := s.ErrExample[metrics.ErrTimeout]; eng == engine.EngineH1 && !strings.Contains(ex, "no answer to a PING within 100ms (--h2-ping-timeout)") {
		t.Errorf("example %q", ex)
	}
}

// A server that answers PINGs and holds each answer 800 ms: with
// --h2-ping-timeout 100ms each engine's client PINGs the connection while
// it waits (Go's health check, the default engine's liveness check), and
// both count the round trips, each with its time, none unanswered; every
// request is answered. Over TLS (the frames read above it) and h2c.
func TestH2PingRTT(t *testing.T) {
	h2Engines(t, func(t *testing.T, eng string) {
		for _, mode := range []string{"tls-h2", "h2c"} {
			t.Run(mode, func(t *testing.T) { testH2PingRTT(t, eng, mode) })
		}
	})
}

func testH2PingRTT(t *testing.T, eng, mode string) {
	srv := startH2(t, mode, func(s *h2Server, _ *http.Server) { s.delay = 800 * time.Millisecond })
	const n = 2
	p := h2Plan(eng, srv.URL, transport.HTTP2, 1, n)
	p.Transport.H2PingTimeout = 100 * time.Millisecond
	p.Timeout = 30 * time.Second
	s := run(t, p).Total
	if s.Requests != n || s.OK != n {
		t.Fatalf("requests %d, ok %d; errors %v %q", s.Requests, s.OK, nonzero(s.ErrCount[:]), s.ErrExample)
	}
	h := s.H2
	d := metrics.DistOf(s.Hist(metrics.H2PingRTT))
	// At least one PING per answer held 800 ms (a check every
	// 100 ms); a round trip on loopback is under the request's time.
	if h.Pings < n || d.Count != h.Pings || h.PingTimeouts != 0 || d.Max <= 0 || d.Max > 800*time.Millisecond {
		t.Errorf("PINGs answered %d (%+v), unanswered %d: want %d or more, each timed", h.Pings, d, h.PingTimeouts, n)
	}
	if srv.conns.Load() != 1 || s.Dialed != 1 {
		t.Errorf("the server accepted %d connections, faya dialed %d: want 1 (PINGs answered keep it)", srv.conns.Load(), s.Dialed)
	}
	// Go's server says its limit, 250, in its first SETTINGS.
	if h.Settings < 1 || h.MaxStreamsMin != 250 || h.MaxStreamsMax != 250 || h.Unknown != 0 {
		t.Errorf("SETTINGS %d, MAX_CONCURRENT_STREAMS %d to %d, unknown %v", h.Settings, h.MaxStreamsMin, h.MaxStreamsMax, h.Unknown)
	}
	t.Logf("pings %d: %+v", h.Pings, d)
}
