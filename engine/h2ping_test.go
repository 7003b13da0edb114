package engine_test

import (
	"io"
	"net"
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
	if ex := s.ErrExample[metrics.ErrTimeout]; eng == engine.EngineH1 && !strings.Contains(ex, "no answer to a PING within 100ms (--h2-ping-timeout)") {
		t.Errorf("example %q", ex)
	}
}
