package diagnose_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/transport"
)

// tlsServer serves "ok" over TLS, HTTP/2 when h2 (else HTTP/1.1 only),
// answering a connection's perConn-th request with "Connection: close"
// when perConn > 0 (Go's h2 server turns it into a GOAWAY).
func tlsServer(t *testing.T, h2 bool, perConn int) string {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.RemoteAddr]++
		n := seen[r.RemoteAddr]
		mu.Unlock()
		if perConn > 0 && n >= perConn {
			w.Header().Set("Connection", "close")
		}
		_, _ = w.Write([]byte("ok"))
	}))
	srv.EnableHTTP2 = h2
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func h2Run(t *testing.T, url string, mode transport.HTTPVersion, vus int, n int64) []diagnose.Finding {
	p := closedPlan(url+"/", vus, n)
	p.Transport.HTTP = mode
	p.Transport.InsecureSkipVerify = true
	fs, s := diagnoseRun(t, engine.EngineNetHTTP, p)
	if s.OK != n {
		t.Fatalf("ok %d of %d: %v %v", s.OK, n, s.ErrCount, s.ErrExample)
	}
	return fs
}

func has(fs []diagnose.Finding, id string) bool {
	for _, f := range fs {
		if f.ID == id {
			return true
		}
	}
	return false
}

// A server whose HTTP/2 connections end after 10 streams: the finding
// names the count and the nginx setting; a server that keeps them does
// not get it.
func TestServerGoAway(t *testing.T) {
	fs := h2Run(t, tlsServer(t, true, 10), transport.HTTP2, 1, 100)
	f := find(t, fs, "server-goaway")
	mention(t, f, "after 10 streams", "keepalive_requests 10", "Go's client has no setting for it")
	if has(fs, "h2-not-negotiated") {
		t.Errorf("h2-not-negotiated on an h2 run: %s", dump(fs))
	}
	if fs := h2Run(t, tlsServer(t, true, 0), transport.HTTP2, 1, 100); has(fs, "server-goaway") {
		t.Errorf("server-goaway without a GOAWAY: %s", dump(fs))
	}
}

// --http auto against an HTTP/1.1-only https server: h2-not-negotiated;
// --http 1.1 (asked for) and an h2 server do not get it.
func TestH2NotNegotiated(t *testing.T) {
	h1 := tlsServer(t, false, 0)
	f := find(t, h2Run(t, h1, transport.HTTPAuto, 2, 20), "h2-not-negotiated")
	mention(t, f, "--http 2", "--http 1.1")
	if fs := h2Run(t, h1, transport.HTTP1, 2, 20); has(fs, "h2-not-negotiated") {
		t.Errorf("h2-not-negotiated with --http 1.1: %s", dump(fs))
	}
	if fs := h2Run(t, tlsServer(t, true, 0), transport.HTTPAuto, 2, 20); has(fs, "h2-not-negotiated") {
		t.Errorf("h2-not-negotiated on an h2 server: %s", dump(fs))
	}
}
