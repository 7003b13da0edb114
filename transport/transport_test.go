package transport_test

import (
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

type recorder struct {
	mu      sync.Mutex
	dialed  int
	closed  map[metrics.CloseReason]int
	putIdle map[metrics.CloseReason]int
	rx, tx  int64
}

func newRecorder() *recorder {
	return &recorder{closed: map[metrics.CloseReason]int{}, putIdle: map[metrics.CloseReason]int{}}
}

func (r *recorder) ConnDialed(*transport.Conn) { r.mu.Lock(); r.dialed++; r.mu.Unlock() }
func (r *recorder) ConnClosed(_ *transport.Conn, why metrics.CloseReason, rx, tx int64) {
	r.mu.Lock()
	r.closed[why]++
	r.rx += rx
	r.tx += tx
	r.mu.Unlock()
}
func (r *recorder) PutIdleFailed(why metrics.CloseReason) {
	r.mu.Lock()
	r.putIdle[why]++
	r.mu.Unlock()
}

func TestConfigDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   transport.Config
		// want http.Transport fields
		maxConns, maxIdlePerHost, maxIdle int
	}{
		{"derived", transport.Config{Concurrency: 50}, 50, 50, 50},
		{"zero concurrency", transport.Config{}, 1, 1, 1},
		{"explicit", transport.Config{Concurrency: 50, MaxConnsPerHost: 10, MaxIdleConnsPerHost: 2, MaxIdleConns: 7}, 10, 2, 7},
		{"unlimited", transport.Config{Concurrency: 50, MaxConnsPerHost: -1, MaxIdleConnsPerHost: -1, MaxIdleConns: -1}, 0, math.MaxInt, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := transport.New(tc.in, newRecorder())
			if err != nil {
				t.Fatal(err)
			}
			h := p.HTTP()
			if h.MaxConnsPerHost != tc.maxConns || h.MaxIdleConnsPerHost != tc.maxIdlePerHost || h.MaxIdleConns != tc.maxIdle {
				t.Errorf("MaxConnsPerHost %d MaxIdleConnsPerHost %d MaxIdleConns %d, want %d %d %d",
					h.MaxConnsPerHost, h.MaxIdleConnsPerHost, h.MaxIdleConns, tc.maxConns, tc.maxIdlePerHost, tc.maxIdle)
			}
			if h.IdleConnTimeout != 90*time.Second || h.TLSHandshakeTimeout != 10*time.Second || !h.DisableCompression {
				t.Errorf("IdleConnTimeout %v TLSHandshakeTimeout %v DisableCompression %v", h.IdleConnTimeout, h.TLSHandshakeTimeout, h.DisableCompression)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	err := transport.Config{Concurrency: -1, DialTimeout: -time.Second, IdleConnTimeout: -1, MaxResponseHeaderBytes: 100}.Validate()
	for _, want := range []string{"concurrency", "dial timeout", "idle conn timeout", "max response header bytes 100: want at least 4096"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
	if _, err := transport.New(transport.Config{}, nil); err == nil {
		t.Error("New with a nil Observer succeeded")
	}
}

func TestPutIdleReason(t *testing.T) {
	for msg, want := range map[string]metrics.CloseReason{
		"http: putIdleConn: too many idle connections for host": metrics.CloseTooManyIdleForHost,
		"http: putIdleConn: too many idle connections":          metrics.CloseTooManyIdle,
		"http: putIdleConn: keep alives disabled":               metrics.CloseKeepAlivesDisabled,
		"http: putIdleConn: connection is in bad state":         metrics.CloseBroken,
		"http: putIdleConn: CloseIdleConnections was called":    metrics.CloseClosedIdle,
		"something else": metrics.CloseOther,
	} {
		if got := transport.PutIdleReason(errors.New(msg)); got != want {
			t.Errorf("PutIdleReason(%q) = %s, want %s", msg, got, want)
		}
	}
	for r := range metrics.NumCloseReasons {
		if metrics.CloseReason(r).String() == "" {
			t.Errorf("reason %d has no name", r)
		}
	}
}

// get sends one traced request through p and reads the body to EOF.
func get(t *testing.T, p *transport.Pool, tr *transport.Tracer, url string) *transport.Timings {
	t.Helper()
	tr.Start()
	req, _ := http.NewRequestWithContext(tr.Context(t.Context()), http.MethodGet, url, nil)
	resp, err := p.HTTP().RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	now := p.Now()
	tm := tr.Finish(now)
	for _, c := range []*transport.Conn{tr.Conn()} {
		c.Release(now) // not tr.Release: the test takes the bytes itself
	}
	return tm
}

func TestTracerPhases(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello") }))
	defer srv.Close()
	obs := newRecorder()
	p, err := transport.New(transport.Config{Concurrency: 1}, obs)
	if err != nil {
		t.Fatal(err)
	}
	tr := transport.NewTracer(p)

	// localhost resolves through /etc/hosts: the first request dials.
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/"
	first := get(t, p, tr, url)
	for _, ph := range []metrics.Phase{metrics.PhaseBlocked, metrics.PhaseDNS, metrics.PhaseConnect, metrics.PhaseSend, metrics.PhaseWait, metrics.PhaseReceive} {
		if _, ok := first.Get(ph); !ok {
			t.Errorf("first request: %s absent", ph)
		}
	}
	if _, ok := first.Get(metrics.PhaseTLS); ok {
		t.Error("first request: TLS present over plain HTTP")
	}
	if f, r := tr.Uses(); f != 1 || r != 0 {
		t.Errorf("first request uses fresh %d reused %d", f, r)
	}
	if !tr.Reusable() {
		t.Error("a clean request's tracer is not reusable")
	}

	second := get(t, p, tr, url)
	for _, ph := range []metrics.Phase{metrics.PhaseDNS, metrics.PhaseConnect, metrics.PhaseTLS} {
		if _, ok := second.Get(ph); ok {
			t.Errorf("second request (reused connection): %s present", ph)
		}
	}
	if f, r := tr.Uses(); f != 0 || r != 1 {
		t.Errorf("second request uses fresh %d reused %d", f, r)
	}
	if idle, d := tr.Idle(); !idle || d <= 0 {
		t.Errorf("second request: idle %v for %v, want a connection from the idle pool", idle, d)
	}
	// Two exchanges' wire bytes, then none until the next exchange.
	rx, tx := tr.Conn().TakeBytes()
	if rx < 2*int64(len("hello")) || tx < 2*int64(len("GET / HTTP/1.1\r\n")) {
		t.Errorf("bytes read %d written %d: want two requests and responses", rx, tx)
	}
	if rx, tx := tr.Conn().TakeBytes(); rx != 0 || tx != 0 {
		t.Errorf("bytes taken twice: %d %d", rx, tx)
	}

	p.Close()
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.dialed != 1 || obs.closed[metrics.CloseRunEnd] != 1 {
		t.Errorf("dialed %d, closed %v; want one connection closed at run end", obs.dialed, obs.closed)
	}
	if obs.rx != 0 || obs.tx != 0 {
		t.Errorf("bytes left at close rx %d tx %d, want 0: all were taken", obs.rx, obs.tx)
	}
}
