package h2

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
	"golang.org/x/net/http2"
)

// A server that ACKs SETTINGS and then answers nothing, PINGs included:
// with --h2-ping-timeout the connection is ended after a PING went
// unanswered (at most twice the timeout after the last frame), long
// before the request's own timeout; the request fails as a timeout
// (PingTimeoutError) and the connection closes as h2_error.
func TestPingTimeout(t *testing.T) {
	url := rawServer(t, func(fr *http2.Framer, c net.Conn) {
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
	const ping = 100 * time.Millisecond
	p, o := newPool(t, transport.Config{Concurrency: 1, H2PingTimeout: ping}, 0)
	cl := NewClient(p)
	defer cl.Close()
	cl.Timeout = 30 * time.Second
	var res Result
	err := cl.Do(context.Background(), mustPrepare(t, "GET", url, nil), Call{}, &res)
	var pe *PingTimeoutError
	if !errors.As(err, &pe) || metrics.Classify(err) != metrics.ErrTimeout {
		t.Fatalf("err %v (class %v), want a PingTimeoutError classed timeout", err, metrics.Classify(err))
	}
	if took := res.End - res.Start; took >= cl.Timeout/2 {
		t.Errorf("failed after %v: the PING's timeout (%v) did not end it", took, ping)
	}
	waitClosed(t, o)
	if dialed, closed := o.counts(); dialed != 1 || closed[metrics.CloseH2Error] != 1 {
		t.Errorf("dialed %d, closes %v: want 1 connection closed as h2_error", dialed, closed)
	}
}

// Go's server answers PINGs: a request that takes several ping timeouts
// succeeds, and the liveness PINGs' round trips are counted beside the
// first one. Without --h2-ping-timeout only the first PING is sent.
func TestPingAnswered(t *testing.T) {
	const ping = 30 * time.Millisecond
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		min     int64
		max     int64
	}{
		{"ping timeout", ping, 2, 1 << 30},
		{"none", 0, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			s := startServer(t, false, nil, func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-release:
				case <-r.Context().Done():
				}
				_, _ = w.Write([]byte("ok"))
			})
			p, _ := newPool(t, transport.Config{Concurrency: 1, H2PingTimeout: tc.timeout}, 0)
			cl := NewClient(p)
			defer cl.Close()
			cl.Timeout = 30 * time.Second
			done := make(chan error, 1)
			var res Result
			go func() { done <- cl.Do(context.Background(), mustPrepare(t, "GET", s.URL+"/", nil), Call{}, &res) }()
			// Hold the answer until the client has sent two liveness
			// PINGs (bounded), or, without them, for 10 timeouts.
			deadline := time.Now().Add(10 * time.Second)
			if tc.timeout == 0 {
				deadline = time.Now().Add(10 * ping)
			}
			for time.Now().Before(deadline) && p.Stats().Pings.Load() < 3 {
				time.Sleep(ping / 4)
			}
			close(release)
			if err := <-done; err != nil || res.Status != 200 {
				t.Fatalf("status %d, err %v", res.Status, err)
			}
			if n := p.Stats().Pings.Load(); n < tc.min || n > tc.max {
				t.Errorf("%d PING round trips, want %d to %d", n, tc.min, tc.max)
			}
		})
	}
}
