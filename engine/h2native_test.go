package engine_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// h2cServer is Go's HTTP/2 server with prior knowledge (h2c), counting
// per connection the requests and the most streams in flight at once.
type h2cServer struct {
	URL      string
	mu       sync.Mutex
	inflight map[string]int
	peak     map[string]int
	requests int
	notH2    int
}

func startH2C(t *testing.T) *h2cServer {
	s := &h2cServer{inflight: map[string]int{}, peak: map[string]int{}}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests++
		if r.ProtoMajor != 2 {
			s.notH2++
		}
		s.inflight[r.RemoteAddr]++
		s.peak[r.RemoteAddr] = max(s.peak[r.RemoteAddr], s.inflight[r.RemoteAddr])
		s.mu.Unlock()
		_, _ = io.WriteString(w, "hello h2\n")
		s.mu.Lock()
		s.inflight[r.RemoteAddr]--
		s.mu.Unlock()
	}))
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	ts.Config.Protocols = &p
	ts.Start()
	t.Cleanup(ts.Close)
	s.URL = ts.URL
	return s
}

// The h1 engine with HTTP/2: every request over h2, the VUs spread over
// the connections the pool allows (20 VUs, 4 connections: at most 5
// streams each), the connections counted as the server saw them.
func TestHTTP2Run(t *testing.T) {
	s := startH2C(t)
	p := closed(s.URL+"/x", 20, 400)
	p.Transport.HTTP = transport.HTTP2
	p.Transport.MaxConnsPerHost = 4
	res := run(t, p)
	tot := res.Total
	if tot.Requests != 400 || tot.Errors != 0 || tot.Status[200] != 400 {
		t.Fatalf("requests %d, errors %d, 200s %d", tot.Requests, tot.Errors, tot.Status[200])
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.requests != 400 || s.notH2 != 0 {
		t.Errorf("server saw %d requests, %d not over HTTP/2", s.requests, s.notH2)
	}
	conns := int64(len(s.peak))
	if conns < 1 || conns > 4 || tot.Dialed != conns {
		t.Errorf("server saw %d connections, faya dialed %d, want the same, at most 4", conns, tot.Dialed)
	}
	for addr, n := range s.peak {
		if n > 5 {
			t.Errorf("connection %s carried %d streams at once, want at most 5", addr, n)
		}
	}
	if tot.BodyBytes != 400*int64(len("hello h2\n")) {
		t.Errorf("body bytes %d", tot.BodyBytes)
	}
	if tot.Protocols[metrics.ProtoH2] != 400 {
		t.Errorf("requests by protocol %v, want 400 over h2", tot.Protocols)
	}
	if h := tot.H2; h.PeakStreams < 1 || h.PeakStreams > 5 || h.Settings < conns || h.Pings < 1 {
		t.Errorf("h2 stats %+v: want a peak of 1 to 5 streams, a SETTINGS and a PING per connection", h)
	}
	if tot.CloseReasons[metrics.CloseRunEnd] != conns {
		t.Errorf("closes %v, want %d at the run's end", tot.CloseReasons, conns)
	}
}

// HTTP/2 is refused where it cannot apply, before any traffic.
func TestHTTP2Validate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*engine.Plan)
	}{
		{"pipeline", func(p *engine.Plan) { p.Pipeline = 4 }},
		{"proxy", func(p *engine.Plan) { p.Proxy.URLs = []string{"http://127.0.0.1:3128"} }},
	} {
		p := closed("http://127.0.0.1:1/", 1, 1)
		p.Transport.HTTP = transport.HTTP2
		tc.mod(&p)
		if err := p.Validate(); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}
